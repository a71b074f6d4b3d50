//! The lab's nftables table in the host namespace: the lab never forwards to the
//! uplink.

use podnet_nft::{Chain, ChainType, Family, Hook, Policy, Table};

use crate::plan::LabScope;

/// The one chain of the table.
pub const FORWARD_CHAIN: &str = "forward";

/// The table's family: `inet` covers IPv4 and IPv6 with one rule.
pub const FAMILY: Family = Family::Inet;

/// The table `inet {prefix}-lab` with one forward base chain that drops whatever
/// arrives from the lab bridge and would leave through any other interface.
///
/// Traffic between lab members is bridged, never routed by the host, so it does not
/// meet this chain; with `br_netfilter` loaded it does, but then the kernel reports
/// the bridge as both input and output interface, and the rule lets it pass. Traffic
/// to the host itself (the API server) is input, not forward. Names rather than
/// indexes are matched so that the table stays valid while the bridge is recreated.
/// A drop in any base chain is final, so another table's accept cannot undo it; the
/// chain's own policy is accept so that it changes nothing else on the host.
pub fn table(scope: &LabScope) -> Table {
    let bridge = scope.bridge();
    let mut table = Table::new(FAMILY, scope.table());
    table.add_chain(
        Chain::base(
            FORWARD_CHAIN,
            ChainType::Filter,
            Hook::Forward,
            0,
            Policy::Accept,
        )
        .with_comment("lab traffic never leaves through another interface")
        .with_rule(format!(
            "iifname \"{bridge}\" oifname != \"{bridge}\" counter drop"
        )),
    );
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_drops_forwarding_from_the_bridge_to_anything_else() {
        let table = table(&LabScope::default());
        table.validate().unwrap();
        assert_eq!(
            table.render_replace(),
            "add table inet podnet-lab\n\
             delete table inet podnet-lab\n\
             table inet podnet-lab {\n\
             \tchain forward {\n\
             \t\tcomment \"lab traffic never leaves through another interface\"\n\
             \t\ttype filter hook forward priority 0; policy accept;\n\
             \t\tiifname \"podnet-lab0\" oifname != \"podnet-lab0\" counter drop\n\
             \t}\n\
             }\n"
        );
    }

    #[test]
    fn a_prefixed_lab_has_its_own_table_for_its_own_bridge() {
        let table = table(&LabScope::new("pnt-1"));
        assert_eq!(table.name, "pnt-1-lab");
        assert_eq!(
            table.chain(FORWARD_CHAIN).unwrap().rules,
            ["iifname \"pnt-1-lab0\" oifname != \"pnt-1-lab0\" counter drop"]
        );
    }
}
