//! Checks that a table only holds what nft can read back exactly as meant.
//!
//! Rendering cannot fail and writes text as given; a table that fails these checks would
//! make nft reject the whole script (nothing applied) or, for element and rule text with
//! separators in it, mean something else than intended. Components call
//! [`Table::validate`] on the tables they compute (in tests at least).

use crate::error::Error;
use crate::model::{Chain, Family, Hook, Set, Table};
use crate::render::Target;

/// Longest table, chain or set name the kernel accepts (NFT_NAME_MAXLEN less the NUL).
pub const MAX_NAME_LEN: usize = 255;

/// Longest comment nft accepts.
pub const MAX_COMMENT_LEN: usize = 128;

/// Words nft 1.0.6 reads as keywords where a table, chain or set name is expected,
/// found by trying each of its grammar's keywords as a name. `destroy` and `last` are
/// keywords of later releases.
const RESERVED: &[&str] = &[
    "add",
    "ah",
    "all",
    "arp",
    "accept",
    "auto-merge",
    "bridge",
    "chain",
    "comment",
    "comp",
    "constant",
    "continue",
    "counter",
    "cgroup",
    "cpu",
    "create",
    "ct",
    "day",
    "dccp",
    "define",
    "delete",
    "describe",
    "destroy",
    "device",
    "devices",
    "dnat",
    "drop",
    "dst",
    "dup",
    "dynamic",
    "ecn",
    "element",
    "elements",
    "esp",
    "ether",
    "exists",
    "expires",
    "export",
    "exthdr",
    "fib",
    "flags",
    "flow",
    "flowtable",
    "flush",
    "frag",
    "fwd",
    "get",
    "gc-interval",
    "goto",
    "handle",
    "hbh",
    "hook",
    "hour",
    "ibriport",
    "ibrname",
    "icmp",
    "icmpv6",
    "iif",
    "iifgroup",
    "iifname",
    "iiftype",
    "igmp",
    "import",
    "include",
    "index",
    "inet",
    "insert",
    "interval",
    "ip",
    "ip6",
    "ipsec",
    "jhash",
    "jump",
    "last",
    "limit",
    "list",
    "ll",
    "log",
    "map",
    "mark",
    "masquerade",
    "meta",
    "meter",
    "mh",
    "missing",
    "monitor",
    "netdev",
    "nftrace",
    "nh",
    "notrack",
    "numgen",
    "obriport",
    "obrname",
    "offload",
    "oif",
    "oifgroup",
    "oifname",
    "oiftype",
    "osf",
    "pkttype",
    "policy",
    "position",
    "priority",
    "queue",
    "quota",
    "random",
    "redefine",
    "redirect",
    "reject",
    "rename",
    "replace",
    "reset",
    "return",
    "rt",
    "rt0",
    "rt2",
    "rtclassid",
    "rule",
    "ruleset",
    "sctp",
    "secmark",
    "set",
    "size",
    "skgid",
    "skuid",
    "snat",
    "socket",
    "srh",
    "symhash",
    "synproxy",
    "table",
    "tcp",
    "th",
    "time",
    "timeout",
    "tproxy",
    "type",
    "typeof",
    "udp",
    "udplite",
    "undefine",
    "update",
    "vlan",
    "vmap",
    "xt",
];

fn invalid(
    object: impl Into<String>,
    field: impl Into<String>,
    reason: impl Into<String>,
) -> Error {
    Error::Invalid {
        object: object.into(),
        field: field.into(),
        reason: reason.into(),
    }
}

/// Checks that `name` can be written bare where nft expects a table, chain or set name.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err("is empty".into());
    };
    if name.len() > MAX_NAME_LEN {
        return Err(format!("is longer than {MAX_NAME_LEN} bytes"));
    }
    if !(first.is_ascii_alphabetic() || first == '_' || first == '.') {
        return Err(format!(
            "{name:?} must start with an ASCII letter, '_' or '.'"
        ));
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || "_./-".contains(*c))) {
        return Err(format!(
            "{name:?} contains {bad:?}; nft names may only hold letters, digits and _ . / -"
        ));
    }
    if RESERVED.contains(&name) {
        return Err(format!("{name:?} is an nft keyword"));
    }
    Ok(())
}

fn check_comment(object: &str, comment: &str) -> Result<(), Error> {
    if comment.len() > MAX_COMMENT_LEN {
        return Err(invalid(
            object,
            "comment",
            format!("is longer than {MAX_COMMENT_LEN} bytes"),
        ));
    }
    // nft strings end at the next double quote and have no escapes.
    if let Some(bad) = comment.chars().find(|c| matches!(c, '"' | '\n' | '\r')) {
        return Err(invalid(object, "comment", format!("contains {bad:?}")));
    }
    Ok(())
}

/// Text that goes between other syntax on one line (rules, types, element texts).
fn check_text(object: &str, field: &str, text: &str, forbidden: &[char]) -> Result<(), Error> {
    if text.trim().is_empty() {
        return Err(invalid(object, field, "is empty"));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| *c == '\n' || *c == '\r' || forbidden.contains(c))
    {
        return Err(invalid(object, field, format!("{text:?} contains {bad:?}")));
    }
    Ok(())
}

fn check_chain(table: &str, family: Family, key: &str, chain: &Chain) -> Result<(), Error> {
    let object = format!("chain {key} of {table}");
    check_name(key).map_err(|reason| invalid(&object, "name", reason))?;
    if chain.name != key {
        return Err(invalid(
            &object,
            "name",
            format!("{:?} differs from its key in Table::chains", chain.name),
        ));
    }
    if let Some(base) = &chain.base {
        // Ingress chains (and every netdev base chain) hook a device, which BaseChain
        // does not name.
        if base.hook == Hook::Ingress || family == Family::Netdev {
            return Err(invalid(
                &object,
                "hook",
                format!(
                    "{} in family {family} needs a device, which this model does not carry",
                    base.hook
                ),
            ));
        }
    }
    if let Some(comment) = &chain.comment {
        check_comment(&object, comment)?;
    }
    for (i, rule) in chain.rules.iter().enumerate() {
        check_text(&object, &format!("rule {i}"), rule, &[])?;
    }
    Ok(())
}

fn check_set(table: &str, key: &str, set: &Set) -> Result<(), Error> {
    let object = format!("set {key} of {table}");
    check_name(key).map_err(|reason| invalid(&object, "name", reason))?;
    if set.name != key {
        return Err(invalid(
            &object,
            "name",
            format!("{:?} differs from its key in Table::sets", set.name),
        ));
    }
    // These would end the declaration early in `add set ... { type K; ... }`.
    let type_forbidden = [';', '{', '}', ':'];
    check_text(&object, "key type", &set.key, &type_forbidden)?;
    if let Some(value) = &set.value {
        check_text(&object, "value type", value, &type_forbidden)?;
    }
    if let Some(timeout) = set.timeout {
        if timeout.is_zero() || timeout.subsec_nanos() % 1_000_000 != 0 {
            return Err(invalid(
                &object,
                "timeout",
                format!("{timeout:?} is not a positive whole number of milliseconds"),
            ));
        }
    }
    if let Some(comment) = &set.comment {
        check_comment(&object, comment)?;
    }
    // These would split or end an element list.
    let element_forbidden = [',', '{', '}', ';'];
    for (element, value) in &set.elements {
        let field = format!("element {element:?}");
        check_text(&object, &field, element, &element_forbidden)?;
        match (set.is_map(), value) {
            (true, Some(value)) => check_text(&object, &field, value, &element_forbidden)?,
            (true, None) => return Err(invalid(&object, field, "has no value but this is a map")),
            (false, Some(_)) => {
                return Err(invalid(&object, field, "has a value but this is not a map"))
            }
            (false, None) => {}
        }
    }
    Ok(())
}

impl Table {
    /// Checks that every name, comment and text of the table can be rendered so that nft
    /// reads it back as meant. Returns the first problem found.
    pub fn validate(&self) -> Result<(), Error> {
        let target = Target::of(self).to_string();
        check_name(&self.name)
            .map_err(|reason| invalid(format!("table {target}"), "name", reason))?;
        for (key, set) in &self.sets {
            check_set(&target, key, set)?;
        }
        for (key, chain) in &self.chains {
            check_chain(&target, self.family, key, chain)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChainType, Policy};
    use std::time::Duration;

    fn valid_table() -> Table {
        let mut table = Table::new(Family::Inet, "podnet-proxy");
        table
            .add_set(Set::map(
                "service-ips",
                "ipv4_addr . inet_proto . inet_service",
                "verdict",
            ))
            .insert_mapping(
                "10.96.0.10 . udp . 53",
                "goto service-ULMVA6XW-ns1/svc1/udp/p53",
            );
        table.add_chain(
            Chain::base(
                "services",
                ChainType::Nat,
                Hook::Prerouting,
                -100,
                Policy::Accept,
            )
            .with_comment("dispatch")
            .with_rule("ip daddr . meta l4proto . th dport vmap @service-ips"),
        );
        table.add_chain(Chain::new("service-ULMVA6XW-ns1/svc1/udp/p53"));
        table
    }

    fn error_text(table: &Table) -> String {
        table.validate().unwrap_err().to_string()
    }

    #[test]
    fn a_table_with_kube_proxy_style_names_is_valid() {
        valid_table().validate().unwrap();
    }

    #[test]
    fn names_follow_the_nft_identifier_grammar() {
        assert!(check_name("service-ULMVA6XW-ns1/svc1/tcp/p80").is_ok());
        assert!(check_name("_x.y").is_ok());
        assert!(check_name("input").is_ok(), "hook names are not reserved");
        assert!(check_name("").is_err());
        assert!(check_name("1abc").unwrap_err().contains("must start"));
        assert!(check_name("a b").unwrap_err().contains("' '"));
        assert!(check_name("\"quoted\"").is_err());
        assert!(check_name("tcp").unwrap_err().contains("keyword"));
        assert!(check_name(&"a".repeat(MAX_NAME_LEN)).is_ok());
        assert!(check_name(&"a".repeat(MAX_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn a_keyword_chain_name_is_reported_with_its_table() {
        let mut table = valid_table();
        table.add_chain(Chain::new("accept"));
        assert_eq!(
            error_text(&table),
            "chain accept of inet podnet-proxy: name \"accept\" is an nft keyword"
        );
    }

    #[test]
    fn map_keys_must_match_the_object_names() {
        let mut table = valid_table();
        table.chains.insert("other".into(), Chain::new("services"));
        assert!(error_text(&table).contains("differs from its key"));
    }

    #[test]
    fn comments_with_quotes_or_too_long_are_rejected() {
        let mut table = valid_table();
        table.chain_mut("services").unwrap().comment = Some("say \"hi\"".into());
        assert!(error_text(&table).contains("comment contains '\"'"));
        table.chain_mut("services").unwrap().comment = Some("x".repeat(MAX_COMMENT_LEN + 1));
        assert!(error_text(&table).contains("longer than 128"));
    }

    #[test]
    fn rules_must_be_single_lines() {
        let mut table = valid_table();
        table
            .chain_mut("services")
            .unwrap()
            .push_rule("accept\nflush ruleset");
        assert!(error_text(&table).contains("rule 1"));
    }

    #[test]
    fn map_elements_need_values_and_set_elements_must_not_have_them() {
        let mut table = valid_table();
        table
            .set_mut("service-ips")
            .unwrap()
            .insert("10.96.0.1 . tcp . 443");
        assert!(error_text(&table).contains("has no value but this is a map"));
        let mut table = valid_table();
        table
            .add_set(Set::new("ips", "ipv4_addr"))
            .insert_mapping("10.0.0.1", "accept");
        assert!(error_text(&table).contains("has a value but this is not a map"));
    }

    #[test]
    fn element_text_cannot_split_the_element_list() {
        let mut table = valid_table();
        table
            .add_set(Set::new("ips", "ipv4_addr"))
            .insert("10.0.0.1, 10.0.0.2");
        assert!(error_text(&table).contains("contains ','"));
    }

    #[test]
    fn timeouts_must_be_whole_milliseconds() {
        let mut table = valid_table();
        table.add_set(Set::new("aff", "ipv4_addr").with_timeout(Duration::from_micros(1500)));
        assert!(error_text(&table).contains("timeout"));
        table.set_mut("aff").unwrap().timeout = Some(Duration::ZERO);
        assert!(error_text(&table).contains("timeout"));
    }

    #[test]
    fn ingress_chains_are_refused_because_the_model_has_no_device() {
        let mut table = valid_table();
        table.add_chain(Chain::base(
            "in",
            ChainType::Filter,
            Hook::Ingress,
            0,
            Policy::Accept,
        ));
        assert!(error_text(&table).contains("needs a device"));
    }
}
