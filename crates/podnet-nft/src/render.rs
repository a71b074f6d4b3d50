//! Rendering a table into nft scripts: replace, ensure, remove elements, delete.
//!
//! Names are written bare: nft 1.0.6 reads table, chain and set names only as unquoted
//! identifiers (letters, digits, `_ . / -`) and rejects quoted ones, so there is nothing
//! to quote; `validate` rejects names nft could not read. Comments are always quoted.

use std::collections::BTreeSet;
use std::fmt::{self, Write};
use std::time::Duration;

use crate::model::{BaseChain, Chain, Family, Set, Table};
use crate::script::{write_comment, write_element, write_element_list, Script};

/// Elements to remove from one set: `(set name, [(element key, value for maps)])`.
pub type Removal = (String, Vec<(String, Option<String>)>);

/// `family name`, the way every command addresses the table.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    pub family: Family,
    pub name: &'a str,
}

impl<'a> Target<'a> {
    pub fn of(table: &'a Table) -> Target<'a> {
        Target {
            family: table.family,
            name: &table.name,
        }
    }
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.family, self.name)
    }
}

/// nft time spec: whole seconds when exact (`10800s`), milliseconds otherwise.
pub(crate) fn time_spec(duration: Duration) -> String {
    let millis = duration.as_millis();
    match (millis / 1000, millis % 1000) {
        (seconds, 0) => format!("{seconds}s"),
        _ => format!("{millis}ms"),
    }
}

fn write_base_spec(out: &mut String, base: &BaseChain) {
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "type {} hook {} priority {}; policy {};",
        base.kind, base.hook, base.priority, base.policy
    );
}

/// The declaration lines of a set (`type`, `flags`, `timeout`, `comment`), without
/// elements, each passed to `line`.
fn set_declaration_lines(set: &Set, mut line: impl FnMut(&str)) {
    let mut text = String::new();
    text.push_str("type ");
    text.push_str(&set.key);
    if let Some(value) = &set.value {
        text.push_str(" : ");
        text.push_str(value);
    }
    line(&text);
    let flags = set.canonical_flags();
    if !flags.is_empty() {
        text.clear();
        text.push_str("flags ");
        for (i, flag) in flags.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(flag.as_str());
        }
        line(&text);
    }
    if let Some(timeout) = set.timeout {
        line(&format!("timeout {}", time_spec(timeout)));
    }
    if let Some(comment) = &set.comment {
        text.clear();
        write_comment(&mut text, comment);
        line(&text);
    }
}

fn set_keyword(set: &Set) -> &'static str {
    if set.is_map() {
        "map"
    } else {
        "set"
    }
}

pub(crate) fn add_table(script: &mut Script, target: Target<'_>) {
    script.command(format_args!("add table {target}"));
}

pub(crate) fn delete_table(script: &mut Script, target: Target<'_>) {
    script.command(format_args!("delete table {target}"));
}

/// `add chain`: creates the chain or, if it exists, leaves it (and updates a base chain's
/// policy). The kernel refuses other changes to a base chain and keeps an existing
/// chain's comment.
pub(crate) fn add_chain(script: &mut Script, target: Target<'_>, name: &str, chain: &Chain) {
    let out = script.begin();
    let _ = write!(out, "add chain {target} {name}");
    if chain.base.is_some() || chain.comment.is_some() {
        out.push_str(" { ");
        if let Some(base) = &chain.base {
            write_base_spec(out, base);
            out.push(' ');
        }
        if let Some(comment) = &chain.comment {
            write_comment(out, comment);
            out.push_str("; ");
        }
        out.push('}');
    }
    script.end();
}

pub(crate) fn flush_chain(script: &mut Script, target: Target<'_>, name: &str) {
    script.command(format_args!("flush chain {target} {name}"));
}

pub(crate) fn delete_chain(script: &mut Script, target: Target<'_>, name: &str) {
    script.command(format_args!("delete chain {target} {name}"));
}

pub(crate) fn add_rules(script: &mut Script, target: Target<'_>, name: &str, chain: &Chain) {
    for rule in &chain.rules {
        script.command(format_args!("add rule {target} {name} {rule}"));
    }
}

/// `add set`/`add map` with the definition and no elements.
pub(crate) fn add_set(script: &mut Script, target: Target<'_>, name: &str, set: &Set) {
    let out = script.begin();
    let _ = write!(out, "add {} {target} {name} {{ ", set_keyword(set));
    set_declaration_lines(set, |line| {
        out.push_str(line);
        out.push_str("; ");
    });
    out.push('}');
    script.end();
}

pub(crate) fn delete_set(script: &mut Script, target: Target<'_>, name: &str, set: &Set) {
    script.command(format_args!("delete {} {target} {name}", set_keyword(set)));
}

/// One `add element` command for all given elements; nothing when there are none.
pub(crate) fn add_elements<'a, I>(script: &mut Script, target: Target<'_>, name: &str, elements: I)
where
    I: IntoIterator<Item = (&'a str, Option<&'a str>)>,
{
    let mut elements = elements.into_iter().peekable();
    if elements.peek().is_none() {
        return;
    }
    let out = script.begin();
    let _ = write!(out, "add element {target} {name} ");
    write_element_list(out, elements);
    script.end();
}

/// One `delete element` command for the given keys; nothing when there are none. Keys
/// alone are enough: the kernel finds map elements by key.
pub(crate) fn delete_elements<'a, I>(script: &mut Script, target: Target<'_>, name: &str, keys: I)
where
    I: IntoIterator<Item = &'a str>,
{
    let mut keys = keys.into_iter().peekable();
    if keys.peek().is_none() {
        return;
    }
    let out = script.begin();
    let _ = write!(out, "delete element {target} {name} ");
    write_element_list(out, keys.map(|key| (key, None)));
    script.end();
}

fn elements_of(set: &Set) -> impl Iterator<Item = (&str, Option<&str>)> {
    set.elements
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_deref()))
}

/// The whole table as one `table F N { ... }` block.
fn write_table_block(script: &mut Script, table: &Table) {
    let out = script.begin();
    let _ = writeln!(out, "table {} {{", Target::of(table));
    for (name, set) in &table.sets {
        let _ = writeln!(out, "\t{} {name} {{", set_keyword(set));
        set_declaration_lines(set, |line| {
            out.push_str("\t\t");
            out.push_str(line);
            out.push('\n');
        });
        if !set.elements.is_empty() {
            out.push_str("\t\telements = {\n");
            for (key, value) in elements_of(set) {
                out.push_str("\t\t\t");
                write_element(out, key, value);
                out.push_str(",\n");
            }
            out.push_str("\t\t}\n");
        }
        out.push_str("\t}\n");
    }
    for (name, chain) in &table.chains {
        let _ = writeln!(out, "\tchain {name} {{");
        if let Some(comment) = &chain.comment {
            out.push_str("\t\t");
            write_comment(out, comment);
            out.push('\n');
        }
        if let Some(base) = &chain.base {
            out.push_str("\t\t");
            write_base_spec(out, base);
            out.push('\n');
        }
        for rule in &chain.rules {
            out.push_str("\t\t");
            out.push_str(rule);
            out.push('\n');
        }
        out.push_str("\t}\n");
    }
    out.push('}');
    script.end();
}

/// See [`Table::render_replace`].
pub(crate) fn replace(table: &Table) -> Script {
    let target = Target::of(table);
    let mut script = Script::new();
    // `add` first so that `delete` cannot fail on a table that does not exist yet.
    add_table(&mut script, target);
    delete_table(&mut script, target);
    write_table_block(&mut script, table);
    script
}

/// See [`Table::render_ensure`].
pub(crate) fn ensure(table: &Table) -> Script {
    refresh(table, |_| true)
}

/// See [`Table::render_refresh`].
pub(crate) fn refresh(table: &Table, keep_elements: impl Fn(&Set) -> bool) -> Script {
    let target = Target::of(table);
    let mut script = Script::new();
    add_table(&mut script, target);
    // As in `ensure`: declarations first; sets are emptied before their elements come
    // back, chains before their rules do.
    for (name, chain) in &table.chains {
        add_chain(&mut script, target, name, chain);
    }
    for (name, set) in &table.sets {
        add_set(&mut script, target, name, set);
    }
    for (name, set) in &table.sets {
        if !keep_elements(set) {
            script.command(format_args!("flush {} {target} {name}", set_keyword(set)));
        }
        add_elements(&mut script, target, name, elements_of(set));
    }
    for (name, chain) in &table.chains {
        flush_chain(&mut script, target, name);
        add_rules(&mut script, target, name, chain);
    }
    script
}

/// Chains named as `jump X` / `goto X` in a verdict.
pub(crate) fn verdict_targets(verdict: &str) -> impl Iterator<Item = &str> {
    let mut words = verdict.split_whitespace();
    std::iter::from_fn(move || loop {
        let word = words.next()?;
        if word == "jump" || word == "goto" {
            if let Some(chain) = words.next() {
                return Some(chain);
            }
        }
    })
}

/// See [`Table::render_remove_elements`].
pub(crate) fn remove_elements(table: &Table, removals: &[Removal]) -> Script {
    let target = Target::of(table);
    let mut script = Script::new();
    let removals: Vec<_> = removals
        .iter()
        .filter(|(_, elements)| !elements.is_empty())
        .collect();
    if removals.is_empty() {
        return script;
    }
    add_table(&mut script, target);

    // Verdict map elements can only be added while their target chain exists. Only
    // regular chains are declared: an empty regular chain is inert, while a base chain
    // declared without its rules would start filtering packets.
    let mut targets = BTreeSet::new();
    for (_, elements) in &removals {
        for value in elements.iter().filter_map(|(_, value)| value.as_deref()) {
            targets.extend(verdict_targets(value));
        }
    }
    for name in targets {
        if let Some(chain) = table.chains.get(name).filter(|c| c.base.is_none()) {
            add_chain(&mut script, target, name, chain);
        }
    }

    let mut declared = BTreeSet::new();
    for (name, _) in &removals {
        if let Some(set) = table.sets.get(name) {
            if declared.insert(name.as_str()) {
                add_set(&mut script, target, name, set);
            }
        }
    }
    // Adding first makes every element present, so the delete cannot fail on an
    // element the kernel does not have.
    for (name, elements) in &removals {
        add_elements(
            &mut script,
            target,
            name,
            elements.iter().map(|(k, v)| (k.as_str(), v.as_deref())),
        );
    }
    for (name, elements) in &removals {
        delete_elements(
            &mut script,
            target,
            name,
            elements.iter().map(|(k, _)| k.as_str()),
        );
    }
    script
}

/// See [`Table::render_delete`].
pub(crate) fn delete(family: Family, name: &str) -> Script {
    let target = Target { family, name };
    let mut script = Script::new();
    add_table(&mut script, target);
    delete_table(&mut script, target);
    script
}

impl Table {
    /// Script that atomically replaces the table with exactly this content:
    /// `add table` + `delete table` + the full definition, sets before chains, elements
    /// inside. Counters, set elements added by the packet path and anything else in the
    /// old table are gone afterwards.
    pub fn render_replace(&self) -> String {
        replace(self).into_string()
    }

    /// Script that merges this content into the kernel: declares the table, chains (base
    /// chains with type, hook, priority and policy) and sets/maps (without elements)
    /// idempotently, adds every element listed, flushes every declared chain and re-adds
    /// its rules. Kernel objects and elements not listed here are kept. Running it twice
    /// leaves the same kernel state.
    ///
    /// It cannot change what the kernel refuses to change in place: a set's type, flags
    /// or timeout, a base chain's type, hook or priority, or the value of a map element
    /// already present with another value (nft then rejects the whole script). Comments
    /// of existing objects are kept as they are. Use [`Table::render_replace`] or
    /// [`crate::diff`] for those.
    pub fn render_ensure(&self) -> String {
        ensure(self).into_string()
    }

    /// Script that makes the kernel's copy of every chain and set of this table hold
    /// exactly what this table lists, in one transaction, without deleting the table:
    /// like [`Table::render_ensure`], and every set for which `keep_elements` is false is
    /// flushed before its elements are added again. Sets for which it is true keep what
    /// the kernel holds besides the listed elements (elements the packet path added, such
    /// as dynamic sets with timeouts). Chains and sets the table does not list are left
    /// alone. The same limits as `render_ensure` apply to definitions.
    pub fn render_refresh(&self, keep_elements: impl Fn(&Set) -> bool) -> String {
        refresh(self, keep_elements).into_string()
    }

    /// Script that removes the given elements (`(set name, [(key, value)])`, values for
    /// maps) idempotently: elements absent from the kernel and a table that does not exist
    /// yet are fine. It declares the table and the named sets (definitions taken from
    /// `self`), adds the elements and deletes them in the same transaction. Regular chains
    /// named by removed verdicts (`goto X`) are declared too, since the kernel checks
    /// them on add. A set that `self` does not define cannot be declared, so it must
    /// already exist in the kernel. Returns an empty string when there is nothing to
    /// remove.
    ///
    /// A map element must be given with the value the kernel has for it (if it has one):
    /// adding a key that exists with another value is an error in the kernel.
    pub fn render_remove_elements(&self, removals: &[Removal]) -> String {
        remove_elements(self, removals).into_string()
    }

    /// Script deleting the table if it exists (`add table` + `delete table`).
    pub fn render_delete(family: Family, name: &str) -> String {
        delete(family, name).into_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChainType, Hook, Policy, SetFlag};

    fn small_table() -> Table {
        let mut table = Table::new(Family::Inet, "podnet-cni");
        table
            .add_set(Set::map(
                "hostports",
                "inet_proto . inet_service",
                "ipv4_addr . inet_service",
            ))
            .insert_mapping("tcp . 8080", "10.0.0.5 . 80");
        table.add_chain(
            Chain::base(
                "pre",
                ChainType::Nat,
                Hook::Prerouting,
                -100,
                Policy::Accept,
            )
            .with_rule("dnat ip to meta l4proto . th dport map @hostports"),
        );
        table.add_chain(Chain::new("svc/a-b").with_comment("pod a"));
        table
    }

    #[test]
    fn replace_deletes_the_table_then_defines_sets_before_chains() {
        let expected = "\
add table inet podnet-cni
delete table inet podnet-cni
table inet podnet-cni {
\tmap hostports {
\t\ttype inet_proto . inet_service : ipv4_addr . inet_service
\t\telements = {
\t\t\ttcp . 8080 : 10.0.0.5 . 80,
\t\t}
\t}
\tchain pre {
\t\ttype nat hook prerouting priority -100; policy accept;
\t\tdnat ip to meta l4proto . th dport map @hostports
\t}
\tchain svc/a-b {
\t\tcomment \"pod a\"
\t}
}
";
        assert_eq!(small_table().render_replace(), expected);
        assert_eq!(replace(&small_table()).commands(), 3);
    }

    #[test]
    fn ensure_declares_chains_then_sets_then_elements_then_refills_every_chain() {
        let expected = "\
add table inet podnet-cni
add chain inet podnet-cni pre { type nat hook prerouting priority -100; policy accept; }
add chain inet podnet-cni svc/a-b { comment \"pod a\"; }
add map inet podnet-cni hostports { type inet_proto . inet_service : ipv4_addr . inet_service; }
add element inet podnet-cni hostports { tcp . 8080 : 10.0.0.5 . 80 }
flush chain inet podnet-cni pre
add rule inet podnet-cni pre dnat ip to meta l4proto . th dport map @hostports
flush chain inet podnet-cni svc/a-b
";
        assert_eq!(small_table().render_ensure(), expected);
    }

    #[test]
    fn ensure_flushes_each_chain_exactly_once_before_its_rules_so_reruns_do_not_duplicate() {
        let mut table = small_table();
        table
            .chain_mut("svc/a-b")
            .unwrap()
            .push_rule("counter")
            .push_rule("accept");
        let script = table.render_ensure();
        let lines: Vec<&str> = script.lines().collect();
        for name in ["pre", "svc/a-b"] {
            let flush = format!("flush chain inet podnet-cni {name}");
            let rule_prefix = format!("add rule inet podnet-cni {name} ");
            let flushes: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == flush).collect();
            assert_eq!(flushes.len(), 1, "{name} flushed once");
            let rules: Vec<usize> = (0..lines.len())
                .filter(|&i| lines[i].starts_with(&rule_prefix))
                .collect();
            assert_eq!(rules.len(), table.chains[name].rules.len());
            assert!(
                rules.iter().all(|&i| i > flushes[0]),
                "{name} rules after flush"
            );
        }
        // Declarations are `add`, never `create`, so an existing object is not an error.
        assert!(!script.contains("create "));
    }

    #[test]
    fn set_declarations_carry_flags_in_canonical_order_timeout_and_comment() {
        let mut table = Table::new(Family::Ip, "t");
        table.add_set(
            Set::new("aff", "ipv4_addr . inet_service")
                .with_flag(SetFlag::Timeout)
                .with_flag(SetFlag::Interval)
                .with_flag(SetFlag::Timeout)
                .with_timeout(Duration::from_secs(10800))
                .with_comment("affinity"),
        );
        table.add_set(Set::new("short", "ipv4_addr").with_timeout(Duration::from_millis(1500)));
        let script = table.render_ensure();
        assert!(script.contains(
            "add set ip t aff { type ipv4_addr . inet_service; flags interval,timeout; \
             timeout 10800s; comment \"affinity\"; }\n"
        ));
        assert!(script.contains("add set ip t short { type ipv4_addr; timeout 1500ms; }\n"));
    }

    #[test]
    fn remove_elements_adds_then_deletes_and_declares_only_what_the_elements_need() {
        let mut table = small_table();
        table.add_set(Set::map("svc", "ipv4_addr", "verdict"));
        table.add_chain(Chain::new("svc-x"));
        let removals = vec![
            (
                "svc".to_string(),
                vec![("10.96.0.1".to_string(), Some("goto svc-x".to_string()))],
            ),
            ("hostports".to_string(), Vec::new()),
        ];
        let expected = "\
add table inet podnet-cni
add chain inet podnet-cni svc-x
add map inet podnet-cni svc { type ipv4_addr : verdict; }
add element inet podnet-cni svc { 10.96.0.1 : goto svc-x }
delete element inet podnet-cni svc { 10.96.0.1 }
";
        assert_eq!(table.render_remove_elements(&removals), expected);
    }

    #[test]
    fn remove_elements_with_nothing_to_remove_is_an_empty_script() {
        assert_eq!(small_table().render_remove_elements(&[]), "");
        let nothing = [("hostports".to_string(), Vec::new())];
        assert_eq!(small_table().render_remove_elements(&nothing), "");
    }

    #[test]
    fn remove_elements_never_declares_base_chains_even_when_a_verdict_names_one() {
        let table = small_table();
        let removals = [(
            "hostports".to_string(),
            vec![("tcp . 1".to_string(), Some("jump pre".to_string()))],
        )];
        assert!(!table
            .render_remove_elements(&removals)
            .contains("add chain"));
    }

    #[test]
    fn delete_adds_the_table_first_so_a_missing_table_is_not_an_error() {
        assert_eq!(
            Table::render_delete(Family::Ip6, "podnet-proxy"),
            "add table ip6 podnet-proxy\ndelete table ip6 podnet-proxy\n"
        );
    }

    #[test]
    fn verdict_targets_finds_jump_and_goto_chains_only() {
        let found: Vec<&str> = verdict_targets("goto svc-a").collect();
        assert_eq!(found, ["svc-a"]);
        let found: Vec<&str> = verdict_targets("counter jump x/y").collect();
        assert_eq!(found, ["x/y"]);
        assert_eq!(verdict_targets("accept").count(), 0);
        assert_eq!(verdict_targets("jump").count(), 0);
    }

    #[test]
    fn time_specs_use_seconds_when_exact_and_milliseconds_otherwise() {
        assert_eq!(time_spec(Duration::from_secs(10800)), "10800s");
        assert_eq!(time_spec(Duration::from_millis(250)), "250ms");
    }
}
