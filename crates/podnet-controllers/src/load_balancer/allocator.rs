//! The books of LoadBalancer IPs: which pool address belongs to which
//! Service. Pure data, no API access.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

/// A Service by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    pub namespace: String,
    pub name: String,
}

impl ServiceKey {
    pub fn new(namespace: &str, name: &str) -> ServiceKey {
        ServiceKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The pools cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("no load-balancer pool given")]
    Empty,
    #[error("load-balancer pool {0} is not IPv4; only IPv4 pools are supported")]
    NotIpv4(IpNet),
    #[error("load-balancer pools {0} and {1} overlap")]
    Overlap(Ipv4Net, Ipv4Net),
}

/// Why a Service got no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    /// `spec.loadBalancerIP` is not an IPv4 address.
    #[error("spec.loadBalancerIP {requested:?} is not a valid IPv4 address")]
    NotIpv4 { requested: String },
    /// The requested address is outside every pool (or is a pool's network
    /// or broadcast address).
    #[error("spec.loadBalancerIP {ip} is not an assignable address of the load-balancer pools ({pools})")]
    NotInPool { ip: Ipv4Addr, pools: String },
    /// The requested address is held by another Service.
    #[error("spec.loadBalancerIP {ip} is already assigned to service {owner}")]
    InUse { ip: Ipv4Addr, owner: ServiceKey },
    /// Every address of every pool is taken.
    #[error("no available IP in the load-balancer pools ({pools})")]
    Exhausted { pools: String },
}

/// Which Service holds which pool address.
#[derive(Debug, Clone)]
pub struct LoadBalancerAllocator {
    pools: Vec<Ipv4Net>,
    owners: BTreeMap<Ipv4Addr, ServiceKey>,
    assigned: BTreeMap<ServiceKey, Ipv4Addr>,
}

impl LoadBalancerAllocator {
    /// Empty books over `pools`: IPv4 only, not overlapping, at least one.
    pub fn new(pools: &[IpNet]) -> Result<LoadBalancerAllocator, PoolError> {
        let mut v4 = Vec::with_capacity(pools.len());
        for pool in pools {
            match pool {
                IpNet::V4(net) => v4.push(net.trunc()),
                IpNet::V6(_) => return Err(PoolError::NotIpv4(*pool)),
            }
        }
        if v4.is_empty() {
            return Err(PoolError::Empty);
        }
        for (i, a) in v4.iter().enumerate() {
            if let Some(b) = v4[i + 1..].iter().find(|b| a.contains(*b) || b.contains(a)) {
                return Err(PoolError::Overlap(*a, *b));
            }
        }
        Ok(LoadBalancerAllocator {
            pools: v4,
            owners: BTreeMap::new(),
            assigned: BTreeMap::new(),
        })
    }

    pub fn pools(&self) -> &[Ipv4Net] {
        &self.pools
    }

    /// Whether `ip` is an address this controller hands out: inside a pool,
    /// and not the network or broadcast address of a pool shorter than /31.
    pub fn is_assignable(&self, ip: Ipv4Addr) -> bool {
        self.pools.iter().any(|pool| {
            pool.contains(&ip)
                && (pool.prefix_len() >= 31 || (ip != pool.network() && ip != pool.broadcast()))
        })
    }

    /// The address `service` holds.
    pub fn ip_of(&self, service: &ServiceKey) -> Option<Ipv4Addr> {
        self.assigned.get(service).copied()
    }

    /// The Service holding `ip`.
    pub fn owner_of(&self, ip: Ipv4Addr) -> Option<&ServiceKey> {
        self.owners.get(&ip)
    }

    /// How many addresses are still free.
    pub fn free(&self) -> u64 {
        let total: u64 = self.pools.iter().map(assignable_count).sum();
        total - self.owners.len() as u64
    }

    /// Gives `service` exactly `ip`. Holding it already is fine; any other
    /// address `service` held is released.
    pub fn assign(&mut self, service: &ServiceKey, ip: Ipv4Addr) -> Result<(), AllocationError> {
        if !self.is_assignable(ip) {
            return Err(AllocationError::NotInPool {
                ip,
                pools: self.pool_list(),
            });
        }
        match self.owners.get(&ip) {
            Some(owner) if owner == service => return Ok(()),
            Some(owner) => {
                return Err(AllocationError::InUse {
                    ip,
                    owner: owner.clone(),
                })
            }
            None => {}
        }
        self.release(service);
        self.owners.insert(ip, service.clone());
        self.assigned.insert(service.clone(), ip);
        Ok(())
    }

    /// Gives `service` the first free address, pools in the order given;
    /// returns what it already holds, if anything.
    pub fn allocate(&mut self, service: &ServiceKey) -> Result<Ipv4Addr, AllocationError> {
        if let Some(ip) = self.ip_of(service) {
            return Ok(ip);
        }
        let free = self
            .pools
            .iter()
            .flat_map(|pool| pool.hosts())
            .find(|ip| !self.owners.contains_key(ip));
        match free {
            Some(ip) => {
                self.owners.insert(ip, service.clone());
                self.assigned.insert(service.clone(), ip);
                Ok(ip)
            }
            None => Err(AllocationError::Exhausted {
                pools: self.pool_list(),
            }),
        }
    }

    /// Frees what `service` held.
    pub fn release(&mut self, service: &ServiceKey) -> Option<Ipv4Addr> {
        let ip = self.assigned.remove(service)?;
        self.owners.remove(&ip);
        Some(ip)
    }

    fn pool_list(&self) -> String {
        self.pools
            .iter()
            .map(Ipv4Net::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Addresses of `pool` that can be handed out (`hosts()` without walking it).
fn assignable_count(pool: &Ipv4Net) -> u64 {
    let size = 1u64 << (32 - u32::from(pool.prefix_len()));
    if pool.prefix_len() >= 31 {
        size
    } else {
        size - 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn books(pools: &[&str]) -> LoadBalancerAllocator {
        let pools: Vec<IpNet> = pools.iter().map(|p| p.parse().unwrap()).collect();
        LoadBalancerAllocator::new(&pools).unwrap()
    }

    fn ip(text: &str) -> Ipv4Addr {
        text.parse().unwrap()
    }

    fn svc(name: &str) -> ServiceKey {
        ServiceKey::new("default", name)
    }

    #[test]
    fn addresses_come_in_order_skipping_network_and_broadcast() {
        let mut books = books(&["172.30.0.64/30"]);
        assert_eq!(books.free(), 2);
        assert_eq!(books.allocate(&svc("a")), Ok(ip("172.30.0.65")));
        assert_eq!(books.allocate(&svc("b")), Ok(ip("172.30.0.66")));
        assert_eq!(
            books.allocate(&svc("c")),
            Err(AllocationError::Exhausted {
                pools: "172.30.0.64/30".into()
            })
        );
        assert!(!books.is_assignable(ip("172.30.0.64")));
        assert!(!books.is_assignable(ip("172.30.0.67")));
    }

    #[test]
    fn tiny_pools_hand_out_every_address() {
        let mut books = books(&["10.0.0.0/31", "10.0.1.7/32"]);
        assert_eq!(books.free(), 3);
        assert_eq!(books.allocate(&svc("a")), Ok(ip("10.0.0.0")));
        assert_eq!(books.allocate(&svc("b")), Ok(ip("10.0.0.1")));
        assert_eq!(books.allocate(&svc("c")), Ok(ip("10.0.1.7")));
        assert_eq!(books.free(), 0);
    }

    #[test]
    fn a_service_keeps_its_address_and_a_release_frees_it_for_the_next() {
        let mut books = books(&["172.30.0.64/30"]);
        let first = books.allocate(&svc("a")).unwrap();
        assert_eq!(books.allocate(&svc("a")), Ok(first));
        books.allocate(&svc("b")).unwrap();
        assert_eq!(books.release(&svc("a")), Some(first));
        assert_eq!(books.release(&svc("a")), None);
        assert_eq!(books.allocate(&svc("c")), Ok(first));
        assert_eq!(books.owner_of(first), Some(&svc("c")));
    }

    #[test]
    fn a_requested_address_must_be_in_a_pool_and_free() {
        let mut books = books(&["172.30.0.64/27"]);
        assert_eq!(books.assign(&svc("a"), ip("172.30.0.70")), Ok(()));
        assert_eq!(books.assign(&svc("a"), ip("172.30.0.70")), Ok(()));
        assert_eq!(
            books.assign(&svc("b"), ip("172.30.0.70")),
            Err(AllocationError::InUse {
                ip: ip("172.30.0.70"),
                owner: svc("a")
            })
        );
        let outside = books.assign(&svc("b"), ip("10.1.2.3")).unwrap_err();
        assert_eq!(
            outside.to_string(),
            "spec.loadBalancerIP 10.1.2.3 is not an assignable address of the load-balancer pools (172.30.0.64/27)"
        );
        assert!(matches!(
            books.assign(&svc("b"), ip("172.30.0.95")),
            Err(AllocationError::NotInPool { .. })
        ));
        // Allocation steps around requested addresses.
        assert_eq!(books.allocate(&svc("c")), Ok(ip("172.30.0.65")));
    }

    #[test]
    fn assigning_another_address_moves_the_service() {
        let mut books = books(&["172.30.0.64/27"]);
        books.assign(&svc("a"), ip("172.30.0.70")).unwrap();
        books.assign(&svc("a"), ip("172.30.0.71")).unwrap();
        assert_eq!(books.owner_of(ip("172.30.0.70")), None);
        assert_eq!(books.ip_of(&svc("a")), Some(ip("172.30.0.71")));
    }

    #[test]
    fn bad_pools_are_refused() {
        let v6: Vec<IpNet> = vec!["fd00::/120".parse().unwrap()];
        assert!(matches!(
            LoadBalancerAllocator::new(&v6),
            Err(PoolError::NotIpv4(_))
        ));
        assert_eq!(
            LoadBalancerAllocator::new(&[]).unwrap_err(),
            PoolError::Empty
        );
        let overlapping: Vec<IpNet> = vec![
            "172.30.0.64/27".parse().unwrap(),
            "172.30.0.80/28".parse().unwrap(),
        ];
        assert!(matches!(
            LoadBalancerAllocator::new(&overlapping),
            Err(PoolError::Overlap(..))
        ));
    }
}
