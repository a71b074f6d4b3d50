//! The ruleset model: one nftables table as plain data.
//!
//! Rule statements, set keys and element texts are nft syntax strings on purpose: the
//! model only structures what the render and diff stages need to reason about (which
//! objects exist, their definitions, their members), and leaves expressions to nft.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Address family of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ip,
    Ip6,
    Inet,
    Arp,
    Bridge,
    Netdev,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
            Family::Inet => "inet",
            Family::Arp => "arp",
            Family::Bridge => "bridge",
            Family::Netdev => "netdev",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Type of a base chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChainType {
    Filter,
    Nat,
    Route,
}

impl ChainType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
            ChainType::Route => "route",
        }
    }
}

impl fmt::Display for ChainType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Netfilter hook a base chain is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
    Ingress,
}

impl Hook {
    pub fn as_str(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
            Hook::Ingress => "ingress",
        }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Verdict of a base chain for packets that fall off its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    Accept,
    Drop,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "accept",
            Policy::Drop => "drop",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What makes a chain a base chain: where it hooks into the packet path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseChain {
    pub kind: ChainType,
    pub hook: Hook,
    pub priority: i32,
    pub policy: Policy,
}

impl BaseChain {
    /// Same hook point, type and priority: the parts the kernel cannot change in place
    /// (the policy it can).
    pub(crate) fn same_attachment(&self, other: &BaseChain) -> bool {
        self.kind == other.kind && self.hook == other.hook && self.priority == other.priority
    }
}

/// A chain: a base chain when `base` is set, a regular (jump/goto target) chain otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Chain {
    pub name: String,
    pub base: Option<BaseChain>,
    /// One nft rule statement per entry, e.g. `ip daddr @svc-ips counter jump services`.
    pub rules: Vec<String>,
    pub comment: Option<String>,
}

impl Chain {
    /// A regular chain with no rules.
    pub fn new(name: impl Into<String>) -> Chain {
        Chain {
            name: name.into(),
            ..Chain::default()
        }
    }

    /// A base chain with no rules.
    pub fn base(
        name: impl Into<String>,
        kind: ChainType,
        hook: Hook,
        priority: i32,
        policy: Policy,
    ) -> Chain {
        Chain {
            name: name.into(),
            base: Some(BaseChain {
                kind,
                hook,
                priority,
                policy,
            }),
            ..Chain::default()
        }
    }

    pub fn with_comment(mut self, comment: impl Into<String>) -> Chain {
        self.comment = Some(comment.into());
        self
    }

    pub fn with_rule(mut self, rule: impl Into<String>) -> Chain {
        self.rules.push(rule.into());
        self
    }

    pub fn push_rule(&mut self, rule: impl Into<String>) -> &mut Chain {
        self.rules.push(rule.into());
        self
    }
}

/// Flags of a named set or map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SetFlag {
    Interval,
    Timeout,
    Dynamic,
    Constant,
}

impl SetFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            SetFlag::Interval => "interval",
            SetFlag::Timeout => "timeout",
            SetFlag::Dynamic => "dynamic",
            SetFlag::Constant => "constant",
        }
    }
}

impl fmt::Display for SetFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named set, or a map when `value` is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    pub name: String,
    /// nft type expression, e.g. `ipv4_addr . inet_proto . inet_service`.
    pub key: String,
    /// `Some(..)` makes it a map: `verdict`, `ipv4_addr . inet_service`, ...
    pub value: Option<String>,
    pub flags: Vec<SetFlag>,
    pub timeout: Option<Duration>,
    /// Element key text -> value text (maps only), e.g.
    /// `"10.0.0.5 . tcp . 80"` -> `Some("goto svc-abc")`.
    pub elements: BTreeMap<String, Option<String>>,
    pub comment: Option<String>,
}

impl Set {
    /// An empty set of the given key type.
    pub fn new(name: impl Into<String>, key: impl Into<String>) -> Set {
        Set {
            name: name.into(),
            key: key.into(),
            value: None,
            flags: Vec::new(),
            timeout: None,
            elements: BTreeMap::new(),
            comment: None,
        }
    }

    /// An empty map from `key` to `value` types.
    pub fn map(name: impl Into<String>, key: impl Into<String>, value: impl Into<String>) -> Set {
        Set {
            value: Some(value.into()),
            ..Set::new(name, key)
        }
    }

    pub fn is_map(&self) -> bool {
        self.value.is_some()
    }

    pub fn with_flag(mut self, flag: SetFlag) -> Set {
        self.flags.push(flag);
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Set {
        self.timeout = Some(timeout);
        self
    }

    pub fn with_comment(mut self, comment: impl Into<String>) -> Set {
        self.comment = Some(comment.into());
        self
    }

    /// Adds a set element (no value).
    pub fn insert(&mut self, key: impl Into<String>) -> &mut Set {
        self.elements.insert(key.into(), None);
        self
    }

    /// Adds or replaces a map element.
    pub fn insert_mapping(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Set {
        self.elements.insert(key.into(), Some(value.into()));
        self
    }

    /// Flags sorted and without repeats, so that flag order never counts as a change.
    pub(crate) fn canonical_flags(&self) -> Vec<SetFlag> {
        let mut flags = self.flags.clone();
        flags.sort();
        flags.dedup();
        flags
    }

    /// Everything about the set except its elements. Two sets with the same definition
    /// can be updated element by element; otherwise the set must be recreated, because the
    /// kernel refuses to change a set's type or flags and silently keeps an old comment.
    pub(crate) fn same_definition(&self, other: &Set) -> bool {
        self.key == other.key
            && self.value == other.value
            && self.timeout == other.timeout
            && self.comment == other.comment
            && self.canonical_flags() == other.canonical_flags()
    }
}

/// One nftables table with everything in it. Each podnet component owns exactly one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub family: Family,
    pub name: String,
    /// Keyed by chain name; the key is what gets rendered and must equal `Chain::name`.
    pub chains: BTreeMap<String, Chain>,
    /// Keyed by set name; the key is what gets rendered and must equal `Set::name`.
    pub sets: BTreeMap<String, Set>,
}

impl Table {
    pub fn new(family: Family, name: impl Into<String>) -> Table {
        Table {
            family,
            name: name.into(),
            chains: BTreeMap::new(),
            sets: BTreeMap::new(),
        }
    }

    /// Inserts the chain, replacing any chain of the same name, and returns it for
    /// further editing.
    pub fn add_chain(&mut self, chain: Chain) -> &mut Chain {
        let name = chain.name.clone();
        self.chains.insert(name.clone(), chain);
        self.chains.get_mut(&name).expect("chain was just inserted")
    }

    /// Inserts the set or map, replacing any of the same name, and returns it for
    /// further editing.
    pub fn add_set(&mut self, set: Set) -> &mut Set {
        let name = set.name.clone();
        self.sets.insert(name.clone(), set);
        self.sets.get_mut(&name).expect("set was just inserted")
    }

    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.get(name)
    }

    pub fn chain_mut(&mut self, name: &str) -> Option<&mut Chain> {
        self.chains.get_mut(name)
    }

    pub fn set(&self, name: &str) -> Option<&Set> {
        self.sets.get(name)
    }

    pub fn set_mut(&mut self, name: &str) -> Option<&mut Set> {
        self.sets.get_mut(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_and_chain_attributes_display_as_nft_keywords() {
        let families = [
            Family::Ip,
            Family::Ip6,
            Family::Inet,
            Family::Arp,
            Family::Bridge,
            Family::Netdev,
        ];
        let shown: Vec<String> = families.iter().map(|f| f.to_string()).collect();
        assert_eq!(shown, ["ip", "ip6", "inet", "arp", "bridge", "netdev"]);
        assert_eq!(ChainType::Nat.to_string(), "nat");
        assert_eq!(Hook::Postrouting.to_string(), "postrouting");
        assert_eq!(Policy::Drop.to_string(), "drop");
        assert_eq!(SetFlag::Interval.to_string(), "interval");
    }

    #[test]
    fn set_definitions_ignore_flag_order_and_repeats_but_not_comments() {
        let a = Set::new("s", "ipv4_addr")
            .with_flag(SetFlag::Timeout)
            .with_flag(SetFlag::Interval);
        let b = Set::new("s", "ipv4_addr")
            .with_flag(SetFlag::Interval)
            .with_flag(SetFlag::Timeout)
            .with_flag(SetFlag::Interval);
        assert!(a.same_definition(&b));
        assert!(!a.same_definition(&b.clone().with_comment("c")));
        assert!(!a.same_definition(&Set::new("s", "ipv6_addr")));
    }

    #[test]
    fn table_helpers_key_chains_and_sets_by_their_names() {
        let mut table = Table::new(Family::Inet, "podnet-cni");
        table.add_chain(Chain::new("masq")).push_rule("masquerade");
        table
            .add_set(Set::new("pods", "ipv4_addr"))
            .insert("10.0.0.5");
        assert_eq!(table.chain("masq").unwrap().rules, ["masquerade"]);
        assert!(table.set("pods").unwrap().elements.contains_key("10.0.0.5"));
        table.chain_mut("masq").unwrap().rules.clear();
        assert!(table.chain("masq").unwrap().rules.is_empty());
        assert!(table.set_mut("absent").is_none());
    }
}
