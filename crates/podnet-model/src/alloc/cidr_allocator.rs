//! Address allocation over a CIDR, on top of [`BitmapAllocator`].

use std::net::IpAddr;

use ipnet::IpNet;

use super::BitmapAllocator;
use crate::cidr;

/// Largest number of host addresses a [`CidrAllocator`] manages (a 2 MiB bitmap).
/// Bigger nets (an IPv6 /64) need a sparse allocator, not a bitmap.
pub const MAX_CIDR_ALLOCATOR_ADDRESSES: u64 = 1 << 24;

/// Why an address could not be allocated or an allocator not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// The net holds more host addresses than a bitmap allocator manages.
    #[error("{net} holds {addresses} host addresses, more than the {max} an allocator manages")]
    TooLarge {
        net: IpNet,
        addresses: u128,
        max: u64,
    },
    /// The address is not one of the net's host addresses.
    #[error("{ip} is not a host address of {net}")]
    OutsideNet { net: IpNet, ip: IpAddr },
    /// The address was reserved when the allocator was built (e.g. the gateway).
    #[error("{ip} is reserved in {net}")]
    Reserved { net: IpNet, ip: IpAddr },
    /// The address is already allocated.
    #[error("{ip} is already allocated in {net}")]
    Taken { net: IpNet, ip: IpAddr },
}

/// Allocates the host addresses of a CIDR (first_host..=last_host: the IPv4
/// network and broadcast addresses and the IPv6 network address are never
/// handed out), minus caller-reserved addresses such as a gateway. Round-robin
/// like [`BitmapAllocator::allocate_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrAllocator {
    net: IpNet,
    first: IpAddr,
    bitmap: BitmapAllocator,
    /// Bitmap indexes of the reserved addresses, sorted and distinct.
    reserved: Vec<u64>,
}

impl CidrAllocator {
    /// An allocator over the host addresses of `net` (host bits of `net` are
    /// ignored). `reserved` addresses are never handed out; each must lie inside
    /// `net`. Reserving the network or broadcast address is accepted and changes nothing.
    pub fn new(net: IpNet, reserved: &[IpAddr]) -> Result<Self, AllocError> {
        let net = net.trunc();
        let first = cidr::first_host(&net);
        let last = cidr::last_host(&net);
        let host_count = cidr::to_bits(last) - cidr::to_bits(first) + 1;
        let size = u64::try_from(host_count)
            .ok()
            .filter(|size| *size <= MAX_CIDR_ALLOCATOR_ADDRESSES)
            .ok_or(AllocError::TooLarge {
                net,
                addresses: host_count,
                max: MAX_CIDR_ALLOCATOR_ADDRESSES,
            })?;
        let mut allocator = CidrAllocator {
            net,
            first,
            bitmap: BitmapAllocator::new(size),
            reserved: Vec::new(),
        };
        for &ip in reserved {
            if !net.contains(&ip) {
                return Err(AllocError::OutsideNet { net, ip });
            }
            if let Some(index) = allocator.index_of(ip) {
                if allocator.bitmap.allocate(index) {
                    allocator.reserved.push(index);
                }
            }
        }
        allocator.reserved.sort_unstable();
        Ok(allocator)
    }

    /// The managed net (network address form).
    pub fn net(&self) -> IpNet {
        self.net
    }

    /// Takes the next free address in round-robin order; `None` when none is left.
    pub fn allocate_next(&mut self) -> Option<IpAddr> {
        let index = self.bitmap.allocate_next()?;
        Some(self.address_of(index))
    }

    /// Takes `ip`, naming why when it cannot.
    pub fn allocate(&mut self, ip: IpAddr) -> Result<(), AllocError> {
        let net = self.net;
        let index = self
            .index_of(ip)
            .ok_or(AllocError::OutsideNet { net, ip })?;
        if self.is_reserved_index(index) {
            return Err(AllocError::Reserved { net, ip });
        }
        if !self.bitmap.allocate(index) {
            return Err(AllocError::Taken { net, ip });
        }
        Ok(())
    }

    /// Frees `ip`; false when it was not allocated, is reserved or is outside the net.
    pub fn release(&mut self, ip: IpAddr) -> bool {
        match self.index_of(ip) {
            Some(index) if !self.is_reserved_index(index) => self.bitmap.release(index),
            _ => false,
        }
    }

    /// Whether `ip` is allocated (reserved addresses are not allocations).
    pub fn is_allocated(&self, ip: IpAddr) -> bool {
        self.index_of(ip)
            .is_some_and(|index| !self.is_reserved_index(index) && self.bitmap.is_allocated(index))
    }

    /// Whether `ip` was reserved when the allocator was built.
    pub fn is_reserved(&self, ip: IpAddr) -> bool {
        self.index_of(ip)
            .is_some_and(|index| self.is_reserved_index(index))
    }

    /// Number of allocated addresses (reserved ones not counted).
    pub fn used(&self) -> u64 {
        self.bitmap.used() - self.reserved.len() as u64
    }

    /// Number of addresses still available.
    pub fn free(&self) -> u64 {
        self.bitmap.free()
    }

    /// Number of addresses this allocator can ever hand out.
    pub fn capacity(&self) -> u64 {
        self.bitmap.size() - self.reserved.len() as u64
    }

    fn is_reserved_index(&self, index: u64) -> bool {
        self.reserved.binary_search(&index).is_ok()
    }

    /// Bitmap index of `ip`, `None` unless it is a host address of the net.
    fn index_of(&self, ip: IpAddr) -> Option<u64> {
        if !self.net.contains(&ip) {
            return None;
        }
        let index = cidr::to_bits(ip).checked_sub(cidr::to_bits(self.first))?;
        u64::try_from(index)
            .ok()
            .filter(|index| *index < self.bitmap.size())
    }

    fn address_of(&self, index: u64) -> IpAddr {
        cidr::add(self.first, u128::from(index)).expect("bitmap indexes stay inside the net")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn v4_allocation_skips_network_broadcast_and_reserved_gateway() {
        let mut a = CidrAllocator::new(net("10.0.0.0/29"), &[ip("10.0.0.1")]).unwrap();
        assert_eq!(a.capacity(), 5);
        let got: Vec<IpAddr> = std::iter::from_fn(|| a.allocate_next()).collect();
        assert_eq!(
            got,
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
                .map(ip)
                .to_vec()
        );
        assert_eq!(a.used(), 5);
        assert_eq!(a.free(), 0);
    }

    #[test]
    fn a_released_address_comes_back_only_after_the_rotation_wraps() {
        let mut a = CidrAllocator::new(net("10.96.0.0/29"), &[]).unwrap();
        assert_eq!(a.allocate_next(), Some(ip("10.96.0.1")));
        assert_eq!(a.allocate_next(), Some(ip("10.96.0.2")));
        assert!(a.release(ip("10.96.0.1")));
        assert_eq!(a.allocate_next(), Some(ip("10.96.0.3")));
        for expected in ["10.96.0.4", "10.96.0.5", "10.96.0.6", "10.96.0.1"] {
            assert_eq!(a.allocate_next(), Some(ip(expected)));
        }
        assert_eq!(a.allocate_next(), None);
    }

    #[test]
    fn explicit_allocation_names_why_it_fails() {
        let n = net("10.96.0.0/24");
        let mut a = CidrAllocator::new(n, &[ip("10.96.0.10")]).unwrap();
        assert_eq!(a.allocate(ip("10.96.0.20")), Ok(()));
        assert_eq!(
            a.allocate(ip("10.96.0.20")),
            Err(AllocError::Taken {
                net: n,
                ip: ip("10.96.0.20")
            })
        );
        assert_eq!(
            a.allocate(ip("10.96.0.10")),
            Err(AllocError::Reserved {
                net: n,
                ip: ip("10.96.0.10")
            })
        );
        assert_eq!(
            a.allocate(ip("10.96.1.1")),
            Err(AllocError::OutsideNet {
                net: n,
                ip: ip("10.96.1.1")
            })
        );
        assert_eq!(
            a.allocate(ip("10.96.0.0")),
            Err(AllocError::OutsideNet {
                net: n,
                ip: ip("10.96.0.0")
            })
        );
        assert_eq!(
            a.allocate(ip("10.96.0.255")),
            Err(AllocError::OutsideNet {
                net: n,
                ip: ip("10.96.0.255")
            })
        );
        assert_eq!(
            a.allocate(ip("fd00::1")),
            Err(AllocError::OutsideNet {
                net: n,
                ip: ip("fd00::1")
            })
        );
        assert!(a.is_allocated(ip("10.96.0.20")));
        assert!(!a.is_allocated(ip("10.96.0.10")));
        assert!(a.is_reserved(ip("10.96.0.10")));
        assert_eq!(a.used(), 1);
    }

    #[test]
    fn reserved_addresses_cannot_be_released() {
        let mut a = CidrAllocator::new(net("10.0.0.0/30"), &[ip("10.0.0.1")]).unwrap();
        assert!(!a.release(ip("10.0.0.1")));
        assert_eq!(a.allocate_next(), Some(ip("10.0.0.2")));
        assert_eq!(a.allocate_next(), None);
        assert!(!a.release(ip("10.0.0.3")));
        assert!(!a.release(ip("192.168.0.1")));
    }

    #[test]
    fn reserved_addresses_outside_the_net_are_rejected() {
        assert_eq!(
            CidrAllocator::new(net("10.0.0.0/24"), &[ip("10.0.1.1")]),
            Err(AllocError::OutsideNet {
                net: net("10.0.0.0/24"),
                ip: ip("10.0.1.1")
            })
        );
    }

    #[test]
    fn reserving_network_broadcast_or_duplicates_changes_nothing() {
        let a = CidrAllocator::new(
            net("10.0.0.0/29"),
            &[
                ip("10.0.0.0"),
                ip("10.0.0.7"),
                ip("10.0.0.1"),
                ip("10.0.0.1"),
            ],
        )
        .unwrap();
        assert_eq!(a.capacity(), 5);
        assert_eq!(a.used(), 0);
    }

    #[test]
    fn point_to_point_and_single_address_nets_use_every_address() {
        let mut a = CidrAllocator::new(net("10.0.0.6/31"), &[]).unwrap();
        assert_eq!(a.allocate_next(), Some(ip("10.0.0.6")));
        assert_eq!(a.allocate_next(), Some(ip("10.0.0.7")));
        assert_eq!(a.allocate_next(), None);
        let mut a = CidrAllocator::new(net("10.0.0.9/32"), &[]).unwrap();
        assert_eq!(a.allocate_next(), Some(ip("10.0.0.9")));
        assert_eq!(a.allocate_next(), None);
    }

    #[test]
    fn v6_allocation_skips_only_the_network_address() {
        let mut a = CidrAllocator::new(net("fd00::/126"), &[]).unwrap();
        let got: Vec<IpAddr> = std::iter::from_fn(|| a.allocate_next()).collect();
        assert_eq!(got, ["fd00::1", "fd00::2", "fd00::3"].map(ip).to_vec());
    }

    #[test]
    fn allocation_at_the_end_of_the_address_space_does_not_overflow() {
        let mut a = CidrAllocator::new(net("255.255.255.248/29"), &[]).unwrap();
        let got: Vec<IpAddr> = std::iter::from_fn(|| a.allocate_next()).collect();
        assert_eq!(got.len(), 6);
        assert_eq!(got[5], ip("255.255.255.254"));
        let mut a =
            CidrAllocator::new(net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124"), &[]).unwrap();
        let got: Vec<IpAddr> = std::iter::from_fn(|| a.allocate_next()).collect();
        assert_eq!(got.len(), 15);
        assert_eq!(got[14], ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    }

    #[test]
    fn host_bits_in_the_net_are_ignored() {
        let a = CidrAllocator::new(net("10.0.0.77/24"), &[]).unwrap();
        assert_eq!(a.net(), net("10.0.0.0/24"));
        assert_eq!(a.capacity(), 254);
    }

    #[test]
    fn nets_too_large_for_a_bitmap_are_refused() {
        let err = CidrAllocator::new(net("fd00::/64"), &[]).unwrap_err();
        assert!(
            matches!(err, AllocError::TooLarge { addresses, .. } if addresses == (1 << 64) - 1)
        );
        assert!(CidrAllocator::new(net("10.0.0.0/8"), &[]).is_ok());
        assert!(matches!(
            CidrAllocator::new(net("10.0.0.0/7"), &[]),
            Err(AllocError::TooLarge { .. })
        ));
    }
}
