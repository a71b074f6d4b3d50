//! Element-level diff from the last applied table to the desired one, as one transaction.

use std::cmp::Ordering;
use std::collections::btree_map;
use std::collections::{BTreeMap, BTreeSet};
use std::iter::Peekable;

use crate::model::{Chain, Set, Table};
use crate::render::{self, Target};
use crate::script::Script;

/// One key of two sorted maps, with what each side holds for it.
enum Joined<'a, K, V> {
    Old(&'a K, &'a V),
    New(&'a K, &'a V),
    Both(&'a K, &'a V, &'a V),
}

/// Walks two BTreeMaps side by side in key order: linear, no lookups.
struct MergeJoin<'a, K, V> {
    old: Peekable<btree_map::Iter<'a, K, V>>,
    new: Peekable<btree_map::Iter<'a, K, V>>,
}

fn merge_join<'a, K: Ord, V>(
    old: &'a BTreeMap<K, V>,
    new: &'a BTreeMap<K, V>,
) -> MergeJoin<'a, K, V> {
    MergeJoin {
        old: old.iter().peekable(),
        new: new.iter().peekable(),
    }
}

impl<'a, K: Ord, V> Iterator for MergeJoin<'a, K, V> {
    type Item = Joined<'a, K, V>;

    fn next(&mut self) -> Option<Self::Item> {
        let order = match (self.old.peek(), self.new.peek()) {
            (None, None) => return None,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((old_key, _)), Some((new_key, _))) => old_key.cmp(new_key),
        };
        Some(match order {
            Ordering::Less => {
                let (key, value) = self.old.next()?;
                Joined::Old(key, value)
            }
            Ordering::Greater => {
                let (key, value) = self.new.next()?;
                Joined::New(key, value)
            }
            Ordering::Equal => {
                let (key, old) = self.old.next()?;
                let (_, new) = self.new.next()?;
                Joined::Both(key, old, new)
            }
        })
    }
}

/// Set names a rule refers to as `@name`. Over-approximates (an `@` inside a quoted
/// string, raw payload bases like `@th,16,16`), which only costs a needless refill.
fn set_references(rule: &str) -> impl Iterator<Item = &str> {
    rule.split('@').skip(1).filter_map(|after| {
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c)))
            .unwrap_or(after.len());
        (end > 0).then(|| &after[..end])
    })
}

fn refers_to_any(chain: &Chain, sets: &BTreeSet<&str>) -> bool {
    !sets.is_empty()
        && chain
            .rules
            .iter()
            .flat_map(|rule| set_references(rule))
            .any(|name| sets.contains(name))
}

/// A chain the kernel cannot turn into its new form in place: type, hook or priority
/// changed, base became regular or the other way round, or the comment changed (the
/// kernel silently keeps an existing chain's comment).
fn needs_recreation(old: &Chain, new: &Chain) -> bool {
    let reattached = match (&old.base, &new.base) {
        (None, None) => false,
        (Some(old), Some(new)) => !old.same_attachment(new),
        _ => true,
    };
    reattached || old.comment != new.comment
}

fn elements_of(set: &Set) -> impl Iterator<Item = (&str, Option<&str>)> {
    set.elements
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_deref()))
}

/// Script taking the kernel from `old` (what was last applied) to `new`, as one
/// transaction:
///
/// - new chains and sets are declared, removed ones deleted once nothing refers to them;
/// - elements of sets whose definition is unchanged are added and deleted one by one (a
///   map element whose value changed is deleted and added again);
/// - chains whose rules changed are flushed and refilled;
/// - a set whose definition (key, value, flags, timeout, comment) changed is deleted and
///   created again, after flushing every chain whose rules refer to it (those chains are
///   refilled afterwards);
/// - a chain whose type, hook, priority, base-ness or comment changed cannot be changed in
///   place, so the whole script is then `render_replace(new)`. A policy change alone is
///   done in place.
///
/// If family or name differ, the old table is deleted and the new one created. The
/// script is empty when nothing changed. Cost is linear in the size of both tables.
pub fn diff(old: &Table, new: &Table) -> Script {
    if old.family != new.family || old.name != new.name {
        let mut script = render::delete(old.family, &old.name);
        script.append(render::replace(new));
        return script;
    }
    let recreate_chain = merge_join(&old.chains, &new.chains).any(|joined| match joined {
        Joined::Both(_, old, new) => needs_recreation(old, new),
        _ => false,
    });
    if recreate_chain {
        return render::replace(new);
    }

    let target = Target::of(new);

    let mut removed_sets = Vec::new();
    let mut added_sets = Vec::new();
    let mut kept_sets = Vec::new();
    // Old sets that will not exist under their old definition any more.
    let mut gone_sets = BTreeSet::new();
    for joined in merge_join(&old.sets, &new.sets) {
        match joined {
            Joined::Old(name, set) => {
                removed_sets.push((name, set));
                gone_sets.insert(name.as_str());
            }
            Joined::New(name, set) => added_sets.push((name, set)),
            Joined::Both(name, old_set, new_set) if old_set.same_definition(new_set) => {
                kept_sets.push((name, old_set, new_set));
            }
            Joined::Both(name, old_set, new_set) => {
                removed_sets.push((name, old_set));
                added_sets.push((name, new_set));
                gone_sets.insert(name.as_str());
            }
        }
    }

    let mut removed_chains = Vec::new();
    let mut added_chains = Vec::new();
    let mut refilled_chains = Vec::new();
    let mut repolicied_chains = Vec::new();
    for joined in merge_join(&old.chains, &new.chains) {
        match joined {
            Joined::Old(name, chain) => removed_chains.push((name, chain)),
            Joined::New(name, chain) => added_chains.push((name, chain)),
            Joined::Both(name, old_chain, new_chain) => {
                if old_chain.rules != new_chain.rules || refers_to_any(old_chain, &gone_sets) {
                    refilled_chains.push((name, new_chain));
                }
                if old_chain.base != new_chain.base {
                    repolicied_chains.push((name, new_chain));
                }
            }
        }
    }

    let mut body = Script::new();
    // Declarations first: new elements and rules may refer to new chains and sets.
    for (name, chain) in &added_chains {
        render::add_chain(&mut body, target, name, chain);
    }
    for (name, chain) in &repolicied_chains {
        render::add_chain(&mut body, target, name, chain);
    }
    // Emptying chains drops their references to sets about to be deleted.
    for (name, _) in &refilled_chains {
        render::flush_chain(&mut body, target, name);
    }
    for (name, _) in &removed_chains {
        render::flush_chain(&mut body, target, name);
    }
    for (name, set) in &removed_sets {
        render::delete_set(&mut body, target, name, set);
    }
    for (name, set) in &added_sets {
        render::add_set(&mut body, target, name, set);
        render::add_elements(&mut body, target, name, elements_of(set));
    }
    // Deletes before adds, so that a map element whose value changed is replaced.
    for (name, old_set, new_set) in &kept_sets {
        let gone =
            merge_join(&old_set.elements, &new_set.elements).filter_map(|joined| match joined {
                Joined::Old(key, _) => Some(key.as_str()),
                Joined::Both(key, old, new) if old != new => Some(key.as_str()),
                _ => None,
            });
        render::delete_elements(&mut body, target, name, gone);
    }
    for (name, old_set, new_set) in &kept_sets {
        let came =
            merge_join(&old_set.elements, &new_set.elements).filter_map(|joined| match joined {
                Joined::New(key, value) => Some((key.as_str(), value.as_deref())),
                Joined::Both(key, old, new) if old != new => Some((key.as_str(), new.as_deref())),
                _ => None,
            });
        render::add_elements(&mut body, target, name, came);
    }
    for (name, chain) in refilled_chains.iter().chain(&added_chains) {
        render::add_rules(&mut body, target, name, chain);
    }
    // Last, when no rule or verdict map element refers to them any more.
    for (name, _) in &removed_chains {
        render::delete_chain(&mut body, target, name);
    }

    if body.is_empty() {
        return body;
    }
    // Makes a diff from an empty table work on a kernel that never had the table.
    let mut script = Script::new();
    render::add_table(&mut script, target);
    script.append(body);
    script
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChainType, Family, Hook, Policy, SetFlag};

    fn proxy_table() -> Table {
        let mut table = Table::new(Family::Inet, "podnet-proxy");
        let vmap = table.add_set(Set::map(
            "services",
            "ipv4_addr . inet_proto . inet_service",
            "verdict",
        ));
        vmap.insert_mapping("10.96.0.10 . udp . 53", "goto svc-dns");
        table
            .add_set(Set::new("local-ips", "ipv4_addr"))
            .insert("172.30.0.11");
        table.add_chain(
            Chain::base(
                "pre",
                ChainType::Nat,
                Hook::Prerouting,
                -100,
                Policy::Accept,
            )
            .with_rule("ip daddr . meta l4proto . th dport vmap @services"),
        );
        table.add_chain(Chain::new("svc-dns").with_rule("dnat ip to 10.0.0.7"));
        table
    }

    fn lines(script: &Script) -> Vec<&str> {
        script.as_str().lines().collect()
    }

    #[test]
    fn no_change_gives_an_empty_script() {
        let script = diff(&proxy_table(), &proxy_table());
        assert!(script.is_empty());
        assert_eq!(script.as_str(), "");
        assert_eq!(script.commands(), 0);
    }

    #[test]
    fn flag_order_alone_is_no_change() {
        let mut old = proxy_table();
        old.add_set(
            Set::new("aff", "ipv4_addr")
                .with_flag(SetFlag::Timeout)
                .with_flag(SetFlag::Dynamic),
        );
        let mut new = old.clone();
        new.set_mut("aff").unwrap().flags.reverse();
        assert!(diff(&old, &new).is_empty());
    }

    #[test]
    fn adding_and_removing_elements_touches_only_those_elements() {
        let old = proxy_table();
        let mut new = proxy_table();
        let ips = new.set_mut("local-ips").unwrap();
        ips.elements.clear();
        ips.insert("172.30.0.12").insert("172.30.0.13");
        let script = diff(&old, &new);
        assert_eq!(
            lines(&script),
            [
                "add table inet podnet-proxy",
                "delete element inet podnet-proxy local-ips { 172.30.0.11 }",
                "add element inet podnet-proxy local-ips { 172.30.0.12, 172.30.0.13 }",
            ]
        );
        assert_eq!(script.commands(), 3);
    }

    #[test]
    fn a_changed_map_value_is_deleted_then_added_again() {
        let old = proxy_table();
        let mut new = proxy_table();
        new.set_mut("services")
            .unwrap()
            .insert_mapping("10.96.0.10 . udp . 53", "goto svc-dns2");
        new.add_chain(Chain::new("svc-dns2"));
        new.chains.remove("svc-dns");
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "add table inet podnet-proxy",
                "add chain inet podnet-proxy svc-dns2",
                "flush chain inet podnet-proxy svc-dns",
                "delete element inet podnet-proxy services { 10.96.0.10 . udp . 53 }",
                "add element inet podnet-proxy services { 10.96.0.10 . udp . 53 : goto svc-dns2 }",
                "delete chain inet podnet-proxy svc-dns",
            ]
        );
    }

    #[test]
    fn changed_rules_flush_and_refill_only_that_chain() {
        let old = proxy_table();
        let mut new = proxy_table();
        new.chain_mut("svc-dns").unwrap().rules =
            vec!["counter".into(), "dnat ip to 10.0.0.8".into()];
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "add table inet podnet-proxy",
                "flush chain inet podnet-proxy svc-dns",
                "add rule inet podnet-proxy svc-dns counter",
                "add rule inet podnet-proxy svc-dns dnat ip to 10.0.0.8",
            ]
        );
    }

    #[test]
    fn an_added_chain_is_declared_before_the_elements_that_jump_to_it() {
        let old = proxy_table();
        let mut new = proxy_table();
        new.add_chain(Chain::new("svc-web").with_rule("dnat ip to 10.0.0.9"));
        new.set_mut("services")
            .unwrap()
            .insert_mapping("10.96.0.20 . tcp . 80", "goto svc-web");
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "add table inet podnet-proxy",
                "add chain inet podnet-proxy svc-web",
                "add element inet podnet-proxy services { 10.96.0.20 . tcp . 80 : goto svc-web }",
                "add rule inet podnet-proxy svc-web dnat ip to 10.0.0.9",
            ]
        );
    }

    #[test]
    fn a_removed_chain_is_deleted_after_the_elements_that_jump_to_it() {
        let old = proxy_table();
        let mut new = proxy_table();
        new.chains.remove("svc-dns");
        new.set_mut("services").unwrap().elements.clear();
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "add table inet podnet-proxy",
                "flush chain inet podnet-proxy svc-dns",
                "delete element inet podnet-proxy services { 10.96.0.10 . udp . 53 }",
                "delete chain inet podnet-proxy svc-dns",
            ]
        );
    }

    #[test]
    fn a_changed_set_definition_recreates_the_set_around_its_referring_chains() {
        let mut old = proxy_table();
        old.chain_mut("pre")
            .unwrap()
            .push_rule("ip saddr @local-ips accept");
        let mut new = old.clone();
        new.set_mut("local-ips")
            .unwrap()
            .flags
            .push(SetFlag::Interval);
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "add table inet podnet-proxy",
                "flush chain inet podnet-proxy pre",
                "delete set inet podnet-proxy local-ips",
                "add set inet podnet-proxy local-ips { type ipv4_addr; flags interval; }",
                "add element inet podnet-proxy local-ips { 172.30.0.11 }",
                "add rule inet podnet-proxy pre ip daddr . meta l4proto . th dport vmap @services",
                "add rule inet podnet-proxy pre ip saddr @local-ips accept",
            ]
        );
    }

    #[test]
    fn added_and_removed_sets_are_created_with_elements_and_deleted_after_flushes() {
        let old = proxy_table();
        let mut new = proxy_table();
        new.sets.remove("local-ips");
        new.add_set(Set::new("node-ips", "ipv4_addr"))
            .insert("172.30.0.11");
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "add table inet podnet-proxy",
                "delete set inet podnet-proxy local-ips",
                "add set inet podnet-proxy node-ips { type ipv4_addr; }",
                "add element inet podnet-proxy node-ips { 172.30.0.11 }",
            ]
        );
    }

    #[test]
    fn a_policy_change_alone_updates_the_chain_in_place() {
        let old = proxy_table();
        let mut new = proxy_table();
        new.chain_mut("pre").unwrap().base.as_mut().unwrap().policy = Policy::Drop;
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "add table inet podnet-proxy",
                "add chain inet podnet-proxy pre { type nat hook prerouting priority -100; policy drop; }",
            ]
        );
    }

    #[test]
    fn a_changed_priority_or_chain_comment_replaces_the_whole_table() {
        let old = proxy_table();
        let mut new = proxy_table();
        new.chain_mut("pre")
            .unwrap()
            .base
            .as_mut()
            .unwrap()
            .priority = -99;
        assert_eq!(diff(&old, &new).as_str(), new.render_replace());
        let mut new = proxy_table();
        new.chain_mut("svc-dns").unwrap().comment = Some("dns".into());
        assert_eq!(diff(&old, &new).as_str(), new.render_replace());
    }

    #[test]
    fn a_renamed_table_deletes_the_old_and_creates_the_new() {
        let old = proxy_table();
        let mut new = proxy_table();
        new.name = "podnet-proxy2".into();
        let script = diff(&old, &new);
        let text = script.as_str();
        assert!(text.starts_with(
            "add table inet podnet-proxy\ndelete table inet podnet-proxy\nadd table inet podnet-proxy2\n"
        ));
        assert!(text.ends_with(&new.render_replace()));
    }

    #[test]
    fn a_diff_from_an_empty_table_builds_everything_in_dependency_order() {
        let old = Table::new(Family::Inet, "podnet-proxy");
        let new = proxy_table();
        assert_eq!(
            lines(&diff(&old, &new)),
            [
                "add table inet podnet-proxy",
                "add chain inet podnet-proxy pre { type nat hook prerouting priority -100; policy accept; }",
                "add chain inet podnet-proxy svc-dns",
                "add set inet podnet-proxy local-ips { type ipv4_addr; }",
                "add element inet podnet-proxy local-ips { 172.30.0.11 }",
                "add map inet podnet-proxy services { type ipv4_addr . inet_proto . inet_service : verdict; }",
                "add element inet podnet-proxy services { 10.96.0.10 . udp . 53 : goto svc-dns }",
                "add rule inet podnet-proxy pre ip daddr . meta l4proto . th dport vmap @services",
                "add rule inet podnet-proxy svc-dns dnat ip to 10.0.0.7",
            ]
        );
    }

    #[test]
    fn set_references_are_found_after_at_signs() {
        let found: Vec<&str> =
            set_references("ip daddr . th dport vmap @svc/a-b counter ip saddr @x").collect();
        assert_eq!(found, ["svc/a-b", "x"]);
        assert_eq!(set_references("no sets here").count(), 0);
        assert_eq!(set_references("trailing @").count(), 0);
    }

    #[test]
    fn a_large_element_change_is_one_add_and_one_delete_command() {
        let mut old = Table::new(Family::Inet, "t");
        let set = old.add_set(Set::new("ips", "ipv4_addr"));
        for i in 0..10_000u32 {
            set.insert(format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255));
        }
        let mut new = old.clone();
        let set = new.set_mut("ips").unwrap();
        for i in 0..5_000u32 {
            set.elements
                .remove(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255));
            set.insert(format!("11.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255));
        }
        let script = diff(&old, &new);
        assert_eq!(script.commands(), 3);
        for verb in ["add", "delete"] {
            let line = script
                .as_str()
                .lines()
                .find(|line| line.starts_with(&format!("{verb} element")))
                .unwrap();
            assert_eq!(line.matches(", ").count() + 1, 5_000, "{verb}");
        }
    }
}
