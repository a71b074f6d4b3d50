//! Which node holds which pod CIDR: one subnet of each cluster CIDR per node,
//! rebuilt from the Nodes themselves, so a restarted controller keeps every
//! assignment.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use podnet_model::alloc::BitmapAllocator;
use podnet_model::cidr;

/// A cluster CIDR may be split into at most 2^16 node CIDRs, as in Kubernetes.
pub const MAX_NODE_CIDR_BITS: u8 = 16;

/// Why a pod CIDR could not be given, kept, or the allocator not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("no cluster CIDR is configured")]
    NoClusterCidr,
    #[error("cluster CIDRs {0:?}: at most one IPv4 and one IPv6 cluster CIDR")]
    Families(Vec<IpNet>),
    #[error("the node CIDR mask /{mask} is shorter than the cluster CIDR {cluster}")]
    MaskTooShort { cluster: IpNet, mask: u8 },
    #[error("the node CIDR mask /{mask} is longer than an address of {cluster}")]
    MaskTooLong { cluster: IpNet, mask: u8 },
    #[error(
        "cluster CIDR {cluster} holds 2^{bits} node CIDRs of /{mask}, more than the 2^{MAX_NODE_CIDR_BITS} allowed"
    )]
    TooManyNodeCidrs { cluster: IpNet, mask: u8, bits: u8 },
    #[error(
        "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range {cluster}"
    )]
    Exhausted { cluster: IpNet },
    #[error("node {node}: {value:?} is not a CIDR")]
    Unparsable { node: String, value: String },
    #[error("node {node}: pod CIDR {cidr} overlaps {other}, held by node {holder}")]
    Conflict {
        node: String,
        cidr: IpNet,
        other: IpNet,
        holder: String,
    },
    #[error("node {node}: pod CIDR {cidr} is outside every cluster CIDR; kept as it is")]
    OutsideCluster { node: String, cidr: IpNet },
}

/// The node CIDRs of one cluster CIDR and which of them are taken.
#[derive(Debug, Clone)]
struct CidrSet {
    cluster: IpNet,
    node_prefix: u8,
    taken: BitmapAllocator,
}

impl CidrSet {
    fn new(cluster: IpNet, node_prefix: u8) -> Result<CidrSet, IpamError> {
        let cluster = cluster.trunc();
        if node_prefix < cluster.prefix_len() {
            return Err(IpamError::MaskTooShort {
                cluster,
                mask: node_prefix,
            });
        }
        if node_prefix > cluster.max_prefix_len() {
            return Err(IpamError::MaskTooLong {
                cluster,
                mask: node_prefix,
            });
        }
        let bits = node_prefix - cluster.prefix_len();
        if bits > MAX_NODE_CIDR_BITS {
            return Err(IpamError::TooManyNodeCidrs {
                cluster,
                mask: node_prefix,
                bits,
            });
        }
        Ok(CidrSet {
            cluster,
            node_prefix,
            taken: BitmapAllocator::new(1u64 << bits),
        })
    }

    fn host_bits(&self) -> u32 {
        u32::from(self.cluster.max_prefix_len() - self.node_prefix)
    }

    /// The node CIDR with index `index`.
    fn node_cidr(&self, index: u64) -> IpNet {
        let first = cidr::nth(&self.cluster, u128::from(index) << self.host_bits())
            .expect("indexes come from a bitmap sized to the cluster CIDR");
        IpNet::new(first, self.node_prefix).expect("the node prefix fits the family")
    }

    fn index_of(&self, ip: IpAddr) -> Option<u64> {
        let offset = cidr::offset(&self.cluster, ip)?;
        u64::try_from(offset >> self.host_bits()).ok()
    }

    /// Indexes of the node CIDRs that share addresses with `net`.
    fn indexes_overlapping(&self, net: &IpNet) -> std::ops::RangeInclusive<u64> {
        let net = net.trunc();
        if !cidr::overlaps(&self.cluster, &net) {
            #[allow(clippy::reversed_empty_ranges)]
            return 1..=0;
        }
        let start = net.network().max(self.cluster.network());
        let end = net.broadcast().min(self.cluster.broadcast());
        match (self.index_of(start), self.index_of(end)) {
            (Some(first), Some(last)) => first..=last,
            #[allow(clippy::reversed_empty_ranges)]
            _ => 1..=0,
        }
    }

    fn allocate_next(&mut self) -> Option<IpNet> {
        let index = self.taken.allocate_next()?;
        Some(self.node_cidr(index))
    }

    fn occupy(&mut self, net: &IpNet) {
        for index in self.indexes_overlapping(net) {
            self.taken.allocate(index);
        }
    }

    fn release(&mut self, net: &IpNet) {
        for index in self.indexes_overlapping(net) {
            self.taken.release(index);
        }
    }
}

/// What node IPAM hands out: the cluster CIDRs, the node CIDR sizes, and
/// ranges never to hand out (service CIDRs overlapping the cluster CIDR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrPlan {
    pub cluster_cidrs: Vec<IpNet>,
    pub node_mask_ipv4: u8,
    pub node_mask_ipv6: u8,
    pub reserved: Vec<IpNet>,
}

/// Pod CIDRs by node. Each node gets one node CIDR from each cluster CIDR,
/// in the order the cluster CIDRs are configured (that order is the order of
/// `spec.podCIDRs`).
#[derive(Debug, Clone)]
pub struct PodCidrAllocator {
    sets: Vec<CidrSet>,
    reserved: Vec<IpNet>,
    by_node: HashMap<String, Vec<IpNet>>,
}

impl PodCidrAllocator {
    pub fn new(plan: &CidrPlan) -> Result<PodCidrAllocator, IpamError> {
        if plan.cluster_cidrs.is_empty() {
            return Err(IpamError::NoClusterCidr);
        }
        let v4 = plan
            .cluster_cidrs
            .iter()
            .filter(|c| matches!(c, IpNet::V4(_)))
            .count();
        let v6 = plan.cluster_cidrs.len() - v4;
        if v4 > 1 || v6 > 1 {
            return Err(IpamError::Families(plan.cluster_cidrs.clone()));
        }
        let mut sets = plan
            .cluster_cidrs
            .iter()
            .map(|cluster| {
                let mask = match cluster {
                    IpNet::V4(_) => plan.node_mask_ipv4,
                    IpNet::V6(_) => plan.node_mask_ipv6,
                };
                CidrSet::new(*cluster, mask)
            })
            .collect::<Result<Vec<_>, _>>()?;
        for reserved in &plan.reserved {
            for set in &mut sets {
                set.occupy(reserved);
            }
        }
        Ok(PodCidrAllocator {
            sets,
            reserved: plan.reserved.clone(),
            by_node: HashMap::new(),
        })
    }

    /// An allocator that knows every node's current pod CIDRs, and the
    /// problems found on the way (conflicts, unparsable values).
    pub fn rebuild<'a>(
        plan: &CidrPlan,
        nodes: impl IntoIterator<Item = (&'a str, &'a [String])>,
    ) -> Result<(PodCidrAllocator, Vec<IpamError>), IpamError> {
        let mut allocator = PodCidrAllocator::new(plan)?;
        let mut problems = Vec::new();
        for (node, cidrs) in nodes {
            if !cidrs.is_empty() {
                problems.extend(allocator.observe(node, cidrs));
            }
        }
        Ok((allocator, problems))
    }

    /// Records the pod CIDRs a node already has. Each one is kept for the
    /// node unless another node holds an overlapping one; what cannot be
    /// recorded comes back as problems. The node keeps what it has either way:
    /// node IPAM never takes a CIDR away.
    pub fn observe(&mut self, node: &str, pod_cidrs: &[String]) -> Vec<IpamError> {
        let mut problems = Vec::new();
        let mut parsed = Vec::new();
        for value in pod_cidrs {
            match value.parse::<IpNet>() {
                Ok(net) => parsed.push(net.trunc()),
                Err(_) => problems.push(IpamError::Unparsable {
                    node: node.to_string(),
                    value: value.clone(),
                }),
            }
        }
        if self.by_node.get(node) == Some(&parsed) {
            return problems;
        }
        self.release(node);
        let mut held = Vec::new();
        for net in parsed {
            if let Some((holder, other)) = self.holder_of_overlap(&net, node) {
                problems.push(IpamError::Conflict {
                    node: node.to_string(),
                    cidr: net,
                    other,
                    holder,
                });
                continue;
            }
            if !self
                .sets
                .iter()
                .any(|set| cidr::overlaps(&set.cluster, &net))
            {
                problems.push(IpamError::OutsideCluster {
                    node: node.to_string(),
                    cidr: net,
                });
            }
            for set in &mut self.sets {
                set.occupy(&net);
            }
            held.push(net);
        }
        self.by_node.insert(node.to_string(), held);
        problems
    }

    /// Gives `node` one node CIDR from each cluster CIDR. All or nothing: when
    /// one cluster CIDR is exhausted, nothing is taken from the others.
    pub fn allocate(&mut self, node: &str) -> Result<Vec<IpNet>, IpamError> {
        if let Some(held) = self.by_node.get(node).filter(|held| !held.is_empty()) {
            return Ok(held.clone());
        }
        let mut taken = Vec::with_capacity(self.sets.len());
        for i in 0..self.sets.len() {
            match self.sets[i].allocate_next() {
                Some(net) => taken.push(net),
                None => {
                    let cluster = self.sets[i].cluster;
                    for (set, net) in self.sets.iter_mut().zip(&taken) {
                        set.release(net);
                    }
                    return Err(IpamError::Exhausted { cluster });
                }
            }
        }
        self.by_node.insert(node.to_string(), taken.clone());
        Ok(taken)
    }

    /// Gives back what `node` holds; returns it.
    pub fn release(&mut self, node: &str) -> Vec<IpNet> {
        let held = self.by_node.remove(node).unwrap_or_default();
        for net in &held {
            for set in &mut self.sets {
                set.release(net);
            }
        }
        // A node CIDR freed here may still hold a reserved range or part of
        // another node's pod CIDR (one smaller than a node CIDR): take those
        // again. Occupying is idempotent, and releases are rare.
        for net in self.reserved.iter().chain(self.by_node.values().flatten()) {
            for set in &mut self.sets {
                set.occupy(net);
            }
        }
        held
    }

    /// What `node` holds, as recorded.
    pub fn assigned(&self, node: &str) -> Option<&[IpNet]> {
        self.by_node.get(node).map(Vec::as_slice)
    }

    /// Node CIDRs still free in each cluster CIDR, in configuration order.
    pub fn free(&self) -> Vec<(IpNet, u64)> {
        self.sets
            .iter()
            .map(|set| (set.cluster, set.taken.free()))
            .collect()
    }

    fn holder_of_overlap(&self, net: &IpNet, except: &str) -> Option<(String, IpNet)> {
        self.by_node
            .iter()
            .filter(|(holder, _)| holder.as_str() != except)
            .find_map(|(holder, held)| {
                held.iter()
                    .find(|other| cidr::overlaps(other, net))
                    .map(|other| (holder.clone(), *other))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test CIDR")
    }

    fn plan(cluster: &[&str]) -> CidrPlan {
        CidrPlan {
            cluster_cidrs: cluster.iter().map(|c| net(c)).collect(),
            node_mask_ipv4: 24,
            node_mask_ipv6: 64,
            reserved: Vec::new(),
        }
    }

    fn strings(cidrs: &[&str]) -> Vec<String> {
        cidrs.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn nodes_get_distinct_node_cidrs_in_address_order() {
        let mut a = PodCidrAllocator::new(&plan(&["10.244.0.0/16"])).expect("allocator");
        assert_eq!(a.allocate("node-1"), Ok(vec![net("10.244.0.0/24")]));
        assert_eq!(a.allocate("node-2"), Ok(vec![net("10.244.1.0/24")]));
        assert_eq!(a.allocate("node-3"), Ok(vec![net("10.244.2.0/24")]));
        assert_eq!(a.assigned("node-2"), Some(&[net("10.244.1.0/24")][..]));
    }

    #[test]
    fn allocating_again_for_a_node_returns_what_it_holds() {
        let mut a = PodCidrAllocator::new(&plan(&["10.244.0.0/16"])).expect("allocator");
        let first = a.allocate("node-1").expect("cidr");
        assert_eq!(a.allocate("node-1"), Ok(first));
        assert_eq!(a.free(), vec![(net("10.244.0.0/16"), 255)]);
    }

    #[test]
    fn a_rebuilt_allocator_keeps_existing_assignments_and_skips_them() {
        let node_a = strings(&["10.244.0.0/24"]);
        let node_b = strings(&["10.244.2.0/24"]);
        let (mut a, problems) = PodCidrAllocator::rebuild(
            &plan(&["10.244.0.0/16"]),
            [("a", node_a.as_slice()), ("b", node_b.as_slice())],
        )
        .expect("allocator");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(a.allocate("c"), Ok(vec![net("10.244.1.0/24")]));
        assert_eq!(a.allocate("d"), Ok(vec![net("10.244.3.0/24")]));
    }

    #[test]
    fn a_released_cidr_is_handed_out_again_after_the_rest() {
        let mut small = plan(&["10.0.0.0/30"]);
        small.node_mask_ipv4 = 31;
        let mut a = PodCidrAllocator::new(&small).expect("allocator");
        assert_eq!(a.allocate("x"), Ok(vec![net("10.0.0.0/31")]));
        assert_eq!(a.release("x"), vec![net("10.0.0.0/31")]);
        assert_eq!(a.allocate("y"), Ok(vec![net("10.0.0.2/31")]));
        assert_eq!(a.allocate("z"), Ok(vec![net("10.0.0.0/31")]));
    }

    #[test]
    fn releasing_one_of_two_small_cidrs_in_a_node_cidr_keeps_it_taken() {
        let mut a = PodCidrAllocator::new(&plan(&["10.0.0.0/23"])).expect("allocator");
        assert!(a.observe("a", &strings(&["10.0.0.0/25"])).is_empty());
        assert!(a.observe("b", &strings(&["10.0.0.128/25"])).is_empty());
        a.release("a");
        assert_eq!(a.allocate("c"), Ok(vec![net("10.0.1.0/24")]));
        assert!(a.allocate("d").is_err());
    }

    #[test]
    fn an_exhausted_range_says_so_and_takes_nothing() {
        let mut tiny = plan(&["10.0.0.0/23", "fd00::/63"]);
        tiny.node_mask_ipv6 = 64;
        let mut a = PodCidrAllocator::new(&tiny).expect("allocator");
        assert_eq!(
            a.allocate("n1"),
            Ok(vec![net("10.0.0.0/24"), net("fd00::/64")])
        );
        assert_eq!(
            a.allocate("n2"),
            Ok(vec![net("10.0.1.0/24"), net("fd00:0:0:1::/64")])
        );
        let error = a.allocate("n3").expect_err("exhausted");
        assert_eq!(
            error,
            IpamError::Exhausted {
                cluster: net("10.0.0.0/23")
            }
        );
        assert!(error
            .to_string()
            .contains("there are no remaining CIDRs left to allocate"));
        assert_eq!(a.assigned("n3"), None);
        a.release("n1");
        assert_eq!(
            a.allocate("n3"),
            Ok(vec![net("10.0.0.0/24"), net("fd00::/64")])
        );
    }

    #[test]
    fn reserved_ranges_are_never_handed_out() {
        let mut p = plan(&["10.0.0.0/22"]);
        p.reserved = vec![net("10.0.1.0/24"), net("192.168.0.0/16")];
        let mut a = PodCidrAllocator::new(&p).expect("allocator");
        assert_eq!(a.allocate("a"), Ok(vec![net("10.0.0.0/24")]));
        assert_eq!(a.allocate("b"), Ok(vec![net("10.0.2.0/24")]));
        assert_eq!(a.allocate("c"), Ok(vec![net("10.0.3.0/24")]));
        assert!(a.allocate("d").is_err());
        a.release("a");
        assert_eq!(a.allocate("d"), Ok(vec![net("10.0.0.0/24")]));
    }

    #[test]
    fn a_reserved_range_smaller_than_a_node_cidr_blocks_that_node_cidr() {
        let mut p = plan(&["10.0.0.0/23"]);
        p.reserved = vec![net("10.0.0.128/25")];
        let mut a = PodCidrAllocator::new(&p).expect("allocator");
        assert_eq!(a.allocate("a"), Ok(vec![net("10.0.1.0/24")]));
        assert!(a.allocate("b").is_err());
    }

    #[test]
    fn two_nodes_claiming_one_cidr_is_a_conflict_and_the_first_keeps_it() {
        let mut a = PodCidrAllocator::new(&plan(&["10.244.0.0/16"])).expect("allocator");
        assert!(a.observe("a", &strings(&["10.244.5.0/24"])).is_empty());
        let problems = a.observe("b", &strings(&["10.244.5.0/24"]));
        assert!(matches!(
            problems.as_slice(),
            [IpamError::Conflict { holder, .. }] if holder == "a"
        ));
        assert_eq!(a.assigned("a"), Some(&[net("10.244.5.0/24")][..]));
        assert_eq!(a.assigned("b"), Some(&[][..]));
    }

    #[test]
    fn foreign_and_garbage_cidrs_are_reported() {
        let mut a = PodCidrAllocator::new(&plan(&["10.244.0.0/16"])).expect("allocator");
        let problems = a.observe("a", &strings(&["192.168.7.0/24", "bogus"]));
        assert_eq!(problems.len(), 2);
        assert!(problems
            .iter()
            .any(|p| matches!(p, IpamError::Unparsable { value, .. } if value == "bogus")));
        assert!(problems
            .iter()
            .any(|p| matches!(p, IpamError::OutsideCluster { .. })));
        assert_eq!(a.assigned("a"), Some(&[net("192.168.7.0/24")][..]));
    }

    #[test]
    fn observing_changed_cidrs_frees_the_old_ones() {
        let mut a = PodCidrAllocator::new(&plan(&["10.244.0.0/16"])).expect("allocator");
        a.observe("a", &strings(&["10.244.0.0/24"]));
        a.observe("a", &strings(&["10.244.9.0/24"]));
        assert_eq!(a.allocate("b"), Ok(vec![net("10.244.0.0/24")]));
    }

    #[test]
    fn configurations_kubernetes_refuses_are_refused() {
        assert_eq!(
            PodCidrAllocator::new(&plan(&[])).err(),
            Some(IpamError::NoClusterCidr)
        );
        assert!(matches!(
            PodCidrAllocator::new(&plan(&["10.0.0.0/16", "10.1.0.0/16"])),
            Err(IpamError::Families(_))
        ));
        assert!(matches!(
            PodCidrAllocator::new(&plan(&["10.0.0.0/25"])),
            Err(IpamError::MaskTooShort { .. })
        ));
        let mut wide = plan(&["10.0.0.0/8"]);
        wide.node_mask_ipv4 = 25;
        assert!(matches!(
            PodCidrAllocator::new(&wide),
            Err(IpamError::TooManyNodeCidrs { bits: 17, .. })
        ));
        let mut long = plan(&["10.0.0.0/8"]);
        long.node_mask_ipv4 = 33;
        assert!(matches!(
            PodCidrAllocator::new(&long),
            Err(IpamError::MaskTooLong { .. })
        ));
    }
}
