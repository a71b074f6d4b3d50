//! The node's nftables table `inet podnet-node`: island masquerade.

use ipnet::Ipv4Net;
use podnet_nft::{Chain, ChainType, Family, Hook, Policy, Table};

use crate::config::NODE_TABLE;

/// The table's one chain.
pub const POSTROUTING_CHAIN: &str = "postrouting";
/// nft's `srcnat` priority.
const SRCNAT_PRIORITY: i32 = 100;

/// What the table depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasqueradeInputs<'a> {
    pub enabled: bool,
    /// The node's pod CIDR; nothing is masqueraded before it is known.
    pub pod_cidr: Option<Ipv4Net>,
    pub cluster_cidr: Ipv4Net,
    pub underlay_interface: &'a str,
}

/// The desired table. With masquerade on, traffic from the node's pods to
/// anything outside the cluster CIDR (and not multicast) that leaves through
/// the underlay takes the node's address. Pod to pod stays untouched because
/// its destination is in the cluster CIDR; node to pod because its source is
/// not a pod. Traffic to Services was DNATed to a pod before this hook.
/// With masquerade off the chain exists and holds no rule, so the table
/// always shows who owns it.
pub fn table(inputs: &MasqueradeInputs) -> Table {
    let mut chain = Chain::base(
        POSTROUTING_CHAIN,
        ChainType::Nat,
        Hook::Postrouting,
        SRCNAT_PRIORITY,
        Policy::Accept,
    );
    match (inputs.enabled, inputs.pod_cidr) {
        (true, Some(pod_cidr)) => {
            chain = chain
                .with_comment("pods reach outside the cluster as the node (island)")
                .with_rule(format!(
                    "ip saddr {pod_cidr} ip daddr != {{ {}, 224.0.0.0/4 }} oifname \"{}\" counter masquerade",
                    inputs.cluster_cidr, inputs.underlay_interface
                ));
        }
        (true, None) => {
            chain = chain.with_comment("island: waiting for the node's pod CIDR");
        }
        (false, _) => {
            chain = chain.with_comment("flat: pods are routed with their own addresses");
        }
    }
    let mut table = Table::new(Family::Inet, NODE_TABLE);
    table.add_chain(chain);
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(enabled: bool) -> MasqueradeInputs<'static> {
        MasqueradeInputs {
            enabled,
            pod_cidr: Some("10.244.1.0/24".parse().unwrap()),
            cluster_cidr: "10.244.0.0/16".parse().unwrap(),
            underlay_interface: "eth0",
        }
    }

    #[test]
    fn island_masquerades_pod_traffic_leaving_the_cluster_through_the_underlay() {
        let table = table(&inputs(true));
        table.validate().unwrap();
        assert_eq!(
            table.render_replace(),
            "add table inet podnet-node\n\
             delete table inet podnet-node\n\
             table inet podnet-node {\n\
             \tchain postrouting {\n\
             \t\tcomment \"pods reach outside the cluster as the node (island)\"\n\
             \t\ttype nat hook postrouting priority 100; policy accept;\n\
             \t\tip saddr 10.244.1.0/24 ip daddr != { 10.244.0.0/16, 224.0.0.0/4 } oifname \"eth0\" counter masquerade\n\
             \t}\n\
             }\n"
        );
    }

    #[test]
    fn flat_holds_no_masquerade_rule() {
        let table = table(&inputs(false));
        table.validate().unwrap();
        let chain = table.chain(POSTROUTING_CHAIN).unwrap();
        assert!(chain.rules.is_empty(), "{:?}", chain.rules);
        assert!(!table.render_replace().contains("masquerade"));
    }

    #[test]
    fn nothing_is_masqueraded_before_the_pod_cidr_is_known() {
        let mut inputs = inputs(true);
        inputs.pod_cidr = None;
        assert!(table(&inputs)
            .chain(POSTROUTING_CHAIN)
            .unwrap()
            .rules
            .is_empty());
    }
}
