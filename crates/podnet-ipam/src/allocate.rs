//! Allocation: one address per range set, round-robin, crash-safe.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use podnet_model::cidr;

use crate::error::IpamError;
use crate::store::{check_ifname, checked_container_id, owner_content, Locked};
use crate::validate::{ip_bits, ValidatedConfig, ValidatedRange};

/// Failed link() attempts before allocation lists the directory instead of
/// probing further: with many taken addresses in a row, one listing is cheaper
/// than one failed link() per address, and it tells exhaustion apart.
const PROBES_BEFORE_LISTING: u32 = 16;

/// An address handed to an attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// Index of the range set (into [`ValidatedConfig::ranges`]).
    pub range_set: usize,
    /// The address with its subnet's prefix length, e.g. 10.1.0.5/24.
    pub address: IpNet,
    /// The gateway of the range the address came from.
    pub gateway: Option<IpAddr>,
}

/// The ranges of one set laid end to end in config order, so the
/// round-robin is arithmetic on a single position.
struct SetWalk<'a> {
    ranges: &'a [ValidatedRange],
    total: u128,
}

impl<'a> SetWalk<'a> {
    fn new(ranges: &'a [ValidatedRange]) -> Self {
        // Validation checked that the sum fits.
        let total = ranges.iter().map(ValidatedRange::address_count).sum();
        SetWalk { ranges, total }
    }

    fn position_of(&self, ip: IpAddr) -> Option<u128> {
        let mut before = 0;
        for range in self.ranges {
            if range.contains(ip) {
                return Some(before + (ip_bits(ip) - ip_bits(range.range_start)));
            }
            before += range.address_count();
        }
        None
    }

    fn at(&self, mut position: u128) -> (IpAddr, &'a ValidatedRange) {
        for range in self.ranges {
            if position < range.address_count() {
                let ip = cidr::add(range.range_start, position)
                    .expect("a position inside a range is an address of the range");
                return (ip, range);
            }
            position -= range.address_count();
        }
        unreachable!("positions are below the set's total")
    }

    /// Position `start + step` modulo the total, without overflowing.
    fn wrap(&self, start: u128, step: u128) -> u128 {
        let until_end = self.total - start;
        if step < until_end {
            start + step
        } else {
            step - until_end
        }
    }
}

/// How one range set's address was obtained.
struct SetOutcome {
    ip: IpAddr,
    /// False when the attachment already held the address (nothing to undo).
    made_now: bool,
}

impl Locked<'_> {
    /// Allocates one address per range set to the attachment
    /// (`container_id`, `ifname`) and returns them in set order.
    ///
    /// `requested[i]` (from the CNI `ips` capability or `IP=` argument) pins
    /// set `i`'s address: it must lie inside one of the set's ranges, not be a
    /// gateway, network or broadcast address, and be free. If the attachment
    /// already holds an address in a set, that address is returned (idempotent
    /// retry). Otherwise the set is walked round-robin from the address after
    /// `last_reserved_ip.<i>`, wrapping, skipping taken and reserved addresses.
    /// When set `k` fails, the addresses this call took in sets before `k` are
    /// released again.
    ///
    /// Cost: a constant number of file operations while the next candidate is
    /// free; the directory is listed only after several taken candidates in a row.
    pub fn allocate(
        &self,
        cfg: &ValidatedConfig,
        container_id: &str,
        ifname: &str,
        requested: &[Option<IpAddr>],
    ) -> Result<Vec<Allocation>, IpamError> {
        let container_id = checked_container_id(container_id)?;
        check_ifname(ifname)?;
        if requested.len() > cfg.ranges.len() {
            return Err(IpamError::TooManyRequested {
                requested: requested.len(),
                range_sets: cfg.ranges.len(),
            });
        }
        let indexed = self.read_owner_index(container_id, ifname)?;
        let held = self.held_addresses(cfg, container_id, ifname, &indexed)?;
        let content = owner_content(container_id, ifname);

        let mut made_now = Vec::new();
        let mut allocations = Vec::with_capacity(cfg.ranges.len());
        for (set, &held_in_set) in held.iter().enumerate() {
            let wanted = requested.get(set).copied().flatten();
            match self.allocate_in_set(
                cfg,
                set,
                container_id,
                ifname,
                &content,
                held_in_set,
                wanted,
            ) {
                Ok(outcome) => {
                    if outcome.made_now {
                        made_now.push(outcome.ip);
                    }
                    allocations.push(allocation(cfg, set, outcome.ip));
                }
                Err(error) => return Err(self.undo(&made_now, error)),
            }
        }
        let ips: Vec<IpAddr> = allocations.iter().map(|a| a.address.addr()).collect();
        if ips != indexed {
            if let Err(error) = self.write_owner_index(container_id, ifname, &ips) {
                return Err(self.undo(&made_now, error));
            }
        }
        Ok(allocations)
    }

    /// Per set, the address the attachment already holds according to its
    /// owner index (`indexed`), each confirmed by the address's own file.
    fn held_addresses(
        &self,
        cfg: &ValidatedConfig,
        container_id: &str,
        ifname: &str,
        indexed: &[IpAddr],
    ) -> Result<Vec<Option<IpAddr>>, IpamError> {
        let mut held = vec![None; cfg.ranges.len()];
        for &ip in indexed {
            let Some((set, _)) = cfg.range_for(ip) else {
                continue;
            };
            if held[set].is_some() {
                continue;
            }
            let name = ip.to_string();
            if let Some(owner) = self.read_owner(OsStr::new(&name))? {
                if owner.is(container_id, ifname) {
                    held[set] = Some(ip);
                }
            }
        }
        Ok(held)
    }

    #[allow(clippy::too_many_arguments)]
    fn allocate_in_set(
        &self,
        cfg: &ValidatedConfig,
        set: usize,
        container_id: &str,
        ifname: &str,
        content: &str,
        held: Option<IpAddr>,
        wanted: Option<IpAddr>,
    ) -> Result<SetOutcome, IpamError> {
        match (held, wanted) {
            (Some(held), Some(requested)) if held != requested => {
                Err(IpamError::HeldDifferentAddress {
                    range_set: set,
                    container_id: container_id.to_string(),
                    ifname: ifname.to_string(),
                    held,
                    requested,
                })
            }
            (Some(held), _) => Ok(SetOutcome {
                ip: held,
                made_now: false,
            }),
            (None, Some(requested)) => {
                self.claim_requested(cfg, set, container_id, ifname, content, requested)
            }
            (None, None) => self.claim_round_robin(cfg, set, content),
        }
    }

    fn claim_requested(
        &self,
        cfg: &ValidatedConfig,
        set: usize,
        container_id: &str,
        ifname: &str,
        content: &str,
        ip: IpAddr,
    ) -> Result<SetOutcome, IpamError> {
        let Some(range) = cfg.ranges[set].iter().find(|range| range.contains(ip)) else {
            return Err(IpamError::RequestedOutsideRanges {
                range_set: set,
                ip,
                ranges: cfg.describe_set(set),
            });
        };
        if range.is_reserved(ip) {
            return Err(IpamError::RequestedReserved { range_set: set, ip });
        }
        let name = ip.to_string();
        // Two rounds: a file seen taken but then unreadable was removed by
        // someone ignoring the lock, so the address may be free after all.
        for _ in 0..2 {
            if self.with_temp(content, || self.link_temp_to(ip))? {
                self.set_last_reserved(set, ip)?;
                return Ok(SetOutcome { ip, made_now: true });
            }
            match self.read_owner(OsStr::new(&name))? {
                Some(owner) if owner.is(container_id, ifname) => {
                    return Ok(SetOutcome {
                        ip,
                        made_now: false,
                    })
                }
                Some(owner) => {
                    return Err(IpamError::RequestedTaken {
                        range_set: set,
                        ip,
                        ifname: owner.ifname_or_empty().to_string(),
                        container_id: owner.container_id,
                    })
                }
                None => continue,
            }
        }
        Err(IpamError::io(
            "link allocation",
            self.path(&name),
            io::Error::other("the file keeps appearing and vanishing although the lock is held"),
        ))
    }

    fn claim_round_robin(
        &self,
        cfg: &ValidatedConfig,
        set: usize,
        content: &str,
    ) -> Result<SetOutcome, IpamError> {
        let walk = SetWalk::new(&cfg.ranges[set]);
        // As host-local: after the last reserved address if it is in this set,
        // otherwise from the set's first address.
        let start = self
            .last_reserved(set)?
            .and_then(|ip| walk.position_of(ip))
            .map_or(0, |position| walk.wrap(position, 1));

        let claimed = self.with_temp(content, || {
            let mut taken: Option<HashSet<IpAddr>> = None;
            let mut failed_probes = 0;
            for step in 0..walk.total {
                let (ip, range) = walk.at(walk.wrap(start, step));
                if range.is_reserved(ip) || taken.as_ref().is_some_and(|t| t.contains(&ip)) {
                    continue;
                }
                if self.link_temp_to(ip)? {
                    return Ok(Some(ip));
                }
                failed_probes += 1;
                if failed_probes == PROBES_BEFORE_LISTING {
                    let taken_now = self.taken_in_set(&cfg.ranges[set])?;
                    let allocatable: u128 = cfg.ranges[set]
                        .iter()
                        .map(ValidatedRange::allocatable_count)
                        .sum();
                    if taken_now.len() as u128 >= allocatable {
                        return Ok(None);
                    }
                    taken = Some(taken_now);
                }
            }
            Ok(None)
        })?;
        match claimed {
            Some(ip) => {
                self.set_last_reserved(set, ip)?;
                Ok(SetOutcome { ip, made_now: true })
            }
            None => Err(IpamError::Exhausted {
                range_set: set,
                ranges: cfg.describe_set(set),
            }),
        }
    }

    /// Allocatable addresses of the set that have an allocation file.
    pub(crate) fn taken_in_set(
        &self,
        ranges: &[ValidatedRange],
    ) -> Result<HashSet<IpAddr>, IpamError> {
        Ok(self
            .list()?
            .addresses
            .into_iter()
            .map(|(ip, _)| ip)
            .filter(|ip| {
                ranges
                    .iter()
                    .any(|range| range.contains(*ip) && !range.is_reserved(*ip))
            })
            .collect())
    }

    /// Runs `claim` with the scratch file holding `content`, removing the
    /// scratch file afterwards whatever happened.
    fn with_temp<T>(
        &self,
        content: &str,
        claim: impl FnOnce() -> Result<T, IpamError>,
    ) -> Result<T, IpamError> {
        self.write_temp(content.as_bytes())?;
        let outcome = claim();
        let removed = self.remove_temp();
        let value = outcome?;
        removed?;
        Ok(value)
    }

    /// Removes the allocation files this call created, then returns `error`.
    fn undo(&self, made_now: &[IpAddr], error: IpamError) -> IpamError {
        for ip in made_now {
            if let Err(rollback_error) = self.remove(OsStr::new(&ip.to_string())) {
                return IpamError::RollbackFailed {
                    error: Box::new(error),
                    rollback_error: Box::new(rollback_error),
                };
            }
        }
        error
    }
}

fn allocation(cfg: &ValidatedConfig, set: usize, ip: IpAddr) -> Allocation {
    let range = cfg.ranges[set]
        .iter()
        .find(|range| range.contains(ip))
        .expect("allocated addresses lie inside a range of their set");
    Allocation {
        range_set: set,
        address: IpNet::new(ip, range.subnet.prefix_len())
            .expect("a subnet's prefix length is valid for its addresses"),
        gateway: Some(range.gateway),
    }
}
