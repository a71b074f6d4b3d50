//! Release, garbage collection and inspection of allocations.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::error::IpamError;
use crate::store::{checked_container_id, Locked};
use crate::validate::{ValidatedConfig, ValidatedRange};

impl Locked<'_> {
    /// Frees every address held by the attachment, including old-format files
    /// that record only `container_id`. Idempotent: when nothing is held the
    /// answer is an empty list. Reads every allocation file, as host-local does:
    /// files written by host-local or by an older version are found too.
    pub fn release(&self, container_id: &str, ifname: &str) -> Result<Vec<IpAddr>, IpamError> {
        let container_id = checked_container_id(container_id)?;
        let mut released = Vec::new();
        for (ip, name) in self.list()?.addresses {
            let Some(owner) = self.read_owner(&name)? else {
                continue;
            };
            if owner.belongs_to(container_id, ifname) && self.remove(&name)? {
                released.push(ip);
            }
        }
        let index = Self::owner_index_name(container_id, ifname);
        self.remove(index.as_ref())?;
        released.sort_unstable();
        Ok(released)
    }

    /// Every allocation as (address, container id, interface name), sorted by
    /// address. Old-format files report an empty interface name.
    pub fn allocations(&self) -> Result<Vec<(IpAddr, String, String)>, IpamError> {
        let mut allocations = Vec::new();
        for (ip, name) in self.list()?.addresses {
            if let Some(owner) = self.read_owner(&name)? {
                let ifname = owner.ifname_or_empty().to_string();
                allocations.push((ip, owner.container_id, ifname));
            }
        }
        allocations.sort();
        Ok(allocations)
    }

    /// Frees every allocation whose (container id, interface name) is not in
    /// `valid` (CNI GC's `cni.dev/valid-attachments`). An old-format file is
    /// kept when its container has any valid attachment, since it cannot say
    /// which interface it belongs to. Returns the freed addresses, sorted.
    pub fn gc(&self, valid: &[(String, String)]) -> Result<Vec<IpAddr>, IpamError> {
        let valid_attachments: HashSet<(&str, &str)> = valid
            .iter()
            .map(|(id, ifname)| (id.trim(), ifname.as_str()))
            .collect();
        let valid_containers: HashSet<&str> = valid_attachments.iter().map(|(id, _)| *id).collect();

        let listing = self.list()?;
        let mut freed = Vec::new();
        let mut live_indexes = HashSet::new();
        for (ip, name) in &listing.addresses {
            let Some(owner) = self.read_owner(name)? else {
                continue;
            };
            let keep = match &owner.ifname {
                Some(ifname) => {
                    valid_attachments.contains(&(owner.container_id.as_str(), ifname.as_str()))
                }
                None => valid_containers.contains(owner.container_id.as_str()),
            };
            if keep {
                if let Some(ifname) = &owner.ifname {
                    live_indexes.insert(Self::owner_index_name(&owner.container_id, ifname));
                }
            } else if self.remove(name)? {
                freed.push(*ip);
            }
        }
        for index in &listing.owner_indexes {
            let live = index
                .to_str()
                .is_some_and(|name| live_indexes.contains(name));
            if !live {
                self.remove(index)?;
            }
        }
        // A scratch file outside a locked operation is a crash leftover.
        self.remove_temp()?;
        freed.sort_unstable();
        Ok(freed)
    }

    /// True when every range set has at least one free address (CNI STATUS).
    /// Lists the directory once; file contents are not read.
    pub fn has_free(&self, cfg: &ValidatedConfig) -> Result<bool, IpamError> {
        let taken: HashSet<IpAddr> = self
            .list()?
            .addresses
            .into_iter()
            .map(|(ip, _)| ip)
            .collect();
        for set in &cfg.ranges {
            let allocatable: u128 = set.iter().map(ValidatedRange::allocatable_count).sum();
            let taken_in_set = taken
                .iter()
                .filter(|ip| {
                    set.iter()
                        .any(|range| range.contains(**ip) && !range.is_reserved(**ip))
                })
                .count();
            if taken_in_set as u128 >= allocatable {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
