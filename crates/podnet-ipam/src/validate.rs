//! Validation of [`IpamConfig`] into a [`ValidatedConfig`] with host-local's defaults.

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use podnet_model::cidr;

use crate::config::{IpamConfig, Range, RouteConfig};

/// host-local's default parent of the per-network state directories.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

/// A config error, naming the offending field by its JSON path
/// (e.g. `ipam.ranges[0][1].rangeStart`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Neither `ranges` nor the legacy `subnet` gives a range.
    #[error("{field}: no range set given (set ipam.ranges or ipam.subnet)")]
    NoRanges { field: String },
    /// A range set with no range in it.
    #[error("{field}: range set is empty")]
    EmptyRangeSet { field: String },
    /// A legacy range field without the legacy `subnet` it belongs to.
    #[error("{field}: set without ipam.subnet")]
    LegacyFieldWithoutSubnet { field: String },
    /// The subnet is written as an address with host bits set.
    #[error("{field}: {subnet} has host bits set; the network is {network}")]
    SubnetHostBits {
        field: String,
        subnet: IpNet,
        network: IpNet,
    },
    /// The subnet has fewer than the 4 addresses needed for a network address,
    /// a gateway and a host (host-local refuses /31, /32, /127, /128 alike).
    #[error("{field}: {subnet} is too small to allocate from (at most /{max_prefix})")]
    SubnetTooSmall {
        field: String,
        subnet: IpNet,
        max_prefix: u8,
    },
    /// An address that must lie inside the subnet does not (or is of the other family).
    #[error("{field}: {ip} is outside subnet {subnet}")]
    OutsideSubnet {
        field: String,
        ip: IpAddr,
        subnet: IpNet,
    },
    /// `rangeStart` comes after `rangeEnd`.
    #[error("{field}: {start} is after rangeEnd {end}")]
    StartAfterEnd {
        field: String,
        start: IpAddr,
        end: IpAddr,
    },
    /// Every address of the range is the network, broadcast or gateway address.
    #[error("{field}: {start}-{end} holds no address to hand out (network, broadcast and gateway are never handed out)")]
    NoAllocatableAddress {
        field: String,
        start: IpAddr,
        end: IpAddr,
    },
    /// A range set mixes IPv4 and IPv6 ranges.
    #[error("{field}: {subnet} is not of the address family of {first_field} ({first_subnet}); a range set holds one family")]
    MixedFamilies {
        field: String,
        subnet: IpNet,
        first_field: String,
        first_subnet: IpNet,
    },
    /// Two ranges (in one set or in two sets) share addresses.
    #[error("{field}: {start}-{end} overlaps {other_field} ({other_start}-{other_end})")]
    Overlap {
        field: String,
        start: IpAddr,
        end: IpAddr,
        other_field: String,
        other_start: IpAddr,
        other_end: IpAddr,
    },
    /// A range set counts more addresses than fit in 128 bits (only possible
    /// with ranges spanning the whole IPv6 space).
    #[error("{field}: range set holds more addresses than can be counted")]
    RangeSetTooLarge { field: String },
    /// A route's gateway is of another family than its destination.
    #[error("{field}: gateway {gw} is not of the address family of dst {dst}")]
    RouteGatewayFamily {
        field: String,
        gw: IpAddr,
        dst: IpNet,
    },
}

impl ConfigError {
    /// JSON path of the offending field.
    pub fn field(&self) -> &str {
        match self {
            ConfigError::NoRanges { field }
            | ConfigError::EmptyRangeSet { field }
            | ConfigError::LegacyFieldWithoutSubnet { field }
            | ConfigError::SubnetHostBits { field, .. }
            | ConfigError::SubnetTooSmall { field, .. }
            | ConfigError::OutsideSubnet { field, .. }
            | ConfigError::StartAfterEnd { field, .. }
            | ConfigError::NoAllocatableAddress { field, .. }
            | ConfigError::MixedFamilies { field, .. }
            | ConfigError::Overlap { field, .. }
            | ConfigError::RangeSetTooLarge { field }
            | ConfigError::RouteGatewayFamily { field, .. } => field,
        }
    }
}

/// A range with defaults filled in. Only [`IpamConfig::validate`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatedRange {
    /// The subnet in network form.
    pub subnet: IpNet,
    pub range_start: IpAddr,
    pub range_end: IpAddr,
    pub gateway: IpAddr,
}

/// The ranges of one set, in config order.
pub type ValidatedRangeSet = Vec<ValidatedRange>;

/// A checked config with host-local's defaults applied. Only
/// [`IpamConfig::validate`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidatedConfig {
    /// Range sets in allocation order: the legacy single range (if any) first,
    /// then `ranges`. `Allocation::range_set` and `last_reserved_ip.<i>` index this.
    pub ranges: Vec<ValidatedRangeSet>,
    pub routes: Vec<RouteConfig>,
    /// Parent of the per-network directory ([`DEFAULT_DATA_DIR`] unless configured).
    pub data_dir: PathBuf,
}

impl ValidatedRange {
    /// Whether `ip` lies in `range_start..=range_end`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        same_family(ip, self.range_start) && self.range_start <= ip && ip <= self.range_end
    }

    /// Whether `ip` is never handed out: the network address, the IPv4
    /// broadcast address or the gateway.
    pub fn is_reserved(&self, ip: IpAddr) -> bool {
        ip == self.gateway
            || ip == self.subnet.network()
            || (matches!(self.subnet, IpNet::V4(_)) && ip == self.subnet.broadcast())
    }

    /// Number of addresses in `range_start..=range_end` (validation guarantees it fits).
    pub fn address_count(&self) -> u128 {
        address_count(self.range_start, self.range_end)
            .expect("validation rejects ranges too large to count")
    }

    /// Number of addresses of the range that may be handed out.
    pub fn allocatable_count(&self) -> u128 {
        let mut reserved = vec![self.gateway, self.subnet.network()];
        if matches!(self.subnet, IpNet::V4(_)) {
            reserved.push(self.subnet.broadcast());
        }
        reserved.sort_unstable();
        reserved.dedup();
        let reserved_inside = reserved.iter().filter(|ip| self.contains(**ip)).count();
        self.address_count() - reserved_inside as u128
    }

    /// `start-end`, as host-local prints a range.
    pub fn describe(&self) -> String {
        format!("{}-{}", self.range_start, self.range_end)
    }
}

impl ValidatedConfig {
    /// Index of the range set and the range within it that contain `ip`.
    pub fn range_for(&self, ip: IpAddr) -> Option<(usize, &ValidatedRange)> {
        self.ranges.iter().enumerate().find_map(|(set_index, set)| {
            set.iter()
                .find(|range| range.contains(ip))
                .map(|range| (set_index, range))
        })
    }

    /// The ranges of set `set_index` as host-local prints them (`a-b,c-d`).
    pub fn describe_set(&self, set_index: usize) -> String {
        self.ranges[set_index]
            .iter()
            .map(ValidatedRange::describe)
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

/// Addresses in `start..=end` (same family, start <= end); `None` when the
/// count exceeds `u128` (a range over the whole IPv6 space).
fn address_count(start: IpAddr, end: IpAddr) -> Option<u128> {
    (ip_bits(end) - ip_bits(start)).checked_add(1)
}

pub(crate) fn ip_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// A range from the config together with the JSON path it came from.
struct SourcedRange<'a> {
    range: &'a Range,
    /// JSON path of the range object (`ipam.ranges[0][1]`), or `ipam` for the legacy fields.
    path: String,
    legacy: bool,
}

impl SourcedRange<'_> {
    fn field(&self, name: &str) -> String {
        format!("{}.{}", self.path, name)
    }
}

impl IpamConfig {
    /// Checks the config and fills in host-local's defaults: rangeStart =
    /// network + 1, rangeEnd = last host address (IPv4 broadcast - 1), gateway =
    /// network + 1. Errors name the field by its JSON path.
    ///
    /// A subnet written with host bits set ("10.0.0.1/24") is rejected, as
    /// host-local rejects it: the same config must mean the same thing to both
    /// plugins, and host-local does not canonicalise.
    pub fn validate(&self) -> Result<ValidatedConfig, ConfigError> {
        let legacy_range;
        let mut sets: Vec<Vec<SourcedRange<'_>>> = Vec::new();
        match self.subnet {
            Some(subnet) => {
                legacy_range = Range {
                    subnet,
                    range_start: self.range_start,
                    range_end: self.range_end,
                    gateway: self.gateway,
                };
                sets.push(vec![SourcedRange {
                    range: &legacy_range,
                    path: "ipam".to_string(),
                    legacy: true,
                }]);
            }
            None => {
                let stray = [
                    ("rangeStart", self.range_start.is_some()),
                    ("rangeEnd", self.range_end.is_some()),
                    ("gateway", self.gateway.is_some()),
                ];
                if let Some((name, _)) = stray.iter().find(|(_, set)| *set) {
                    return Err(ConfigError::LegacyFieldWithoutSubnet {
                        field: format!("ipam.{name}"),
                    });
                }
            }
        }
        for (set_index, set) in self.ranges.iter().enumerate() {
            if set.is_empty() {
                return Err(ConfigError::EmptyRangeSet {
                    field: format!("ipam.ranges[{set_index}]"),
                });
            }
            sets.push(
                set.iter()
                    .enumerate()
                    .map(|(range_index, range)| SourcedRange {
                        range,
                        path: format!("ipam.ranges[{set_index}][{range_index}]"),
                        legacy: false,
                    })
                    .collect(),
            );
        }
        if sets.is_empty() {
            return Err(ConfigError::NoRanges {
                field: "ipam.ranges".to_string(),
            });
        }

        let mut validated_sets: Vec<Vec<(ValidatedRange, &SourcedRange<'_>)>> = Vec::new();
        for set in &sets {
            let mut validated_set = Vec::with_capacity(set.len());
            for sourced in set {
                validated_set.push((validate_range(sourced)?, sourced));
            }
            check_set(&validated_set)?;
            validated_sets.push(validated_set);
        }
        check_no_overlap_between_sets(&validated_sets)?;

        for (index, route) in self.routes.iter().enumerate() {
            if let Some(gw) = route.gw {
                if !same_family(gw, route.dst.addr()) {
                    return Err(ConfigError::RouteGatewayFamily {
                        field: format!("ipam.routes[{index}].gw"),
                        gw,
                        dst: route.dst,
                    });
                }
            }
        }

        Ok(ValidatedConfig {
            ranges: validated_sets
                .into_iter()
                .map(|set| set.into_iter().map(|(range, _)| range).collect())
                .collect(),
            routes: self.routes.clone(),
            data_dir: self
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        })
    }
}

fn validate_range(sourced: &SourcedRange<'_>) -> Result<ValidatedRange, ConfigError> {
    let range = sourced.range;
    let subnet = range.subnet;
    let subnet_field = if sourced.legacy {
        "ipam.subnet".to_string()
    } else {
        sourced.field("subnet")
    };
    if subnet.addr() != subnet.network() {
        return Err(ConfigError::SubnetHostBits {
            field: subnet_field,
            subnet,
            network: subnet.trunc(),
        });
    }
    // A network address, a gateway and at least one host need a /30 (IPv4) or /126 (IPv6).
    let max_prefix = subnet.max_prefix_len() - 2;
    if subnet.prefix_len() > max_prefix {
        return Err(ConfigError::SubnetTooSmall {
            field: subnet_field,
            subnet,
            max_prefix,
        });
    }
    let first = cidr::add(subnet.network(), 1).expect("a /30 or larger holds network + 1");
    let inside = |name: &str, ip: Option<IpAddr>, default: IpAddr| match ip {
        None => Ok(default),
        Some(ip) if subnet.contains(&ip) => Ok(ip),
        Some(ip) => Err(ConfigError::OutsideSubnet {
            field: sourced.field(name),
            ip,
            subnet,
        }),
    };
    let range_start = inside("rangeStart", range.range_start, first)?;
    let range_end = inside("rangeEnd", range.range_end, cidr::last_host(&subnet))?;
    let gateway = inside("gateway", range.gateway, first)?;
    if range_start > range_end {
        return Err(ConfigError::StartAfterEnd {
            field: sourced.field("rangeStart"),
            start: range_start,
            end: range_end,
        });
    }
    if address_count(range_start, range_end).is_none() {
        return Err(ConfigError::RangeSetTooLarge {
            field: sourced.path.clone(),
        });
    }
    let validated = ValidatedRange {
        subnet,
        range_start,
        range_end,
        gateway,
    };
    if validated.allocatable_count() == 0 {
        return Err(ConfigError::NoAllocatableAddress {
            field: sourced.path.clone(),
            start: range_start,
            end: range_end,
        });
    }
    Ok(validated)
}

/// One family per set, no overlapping ranges, a countable total.
fn check_set(set: &[(ValidatedRange, &SourcedRange<'_>)]) -> Result<(), ConfigError> {
    let (first, first_source) = &set[0];
    for (range, source) in &set[1..] {
        if !same_family(range.range_start, first.range_start) {
            return Err(ConfigError::MixedFamilies {
                field: source.field("subnet"),
                subnet: range.subnet,
                first_field: first_source.field("subnet"),
                first_subnet: first.subnet,
            });
        }
    }
    for (index, (a, a_source)) in set.iter().enumerate() {
        for (b, b_source) in &set[index + 1..] {
            check_disjoint(b, b_source, a, a_source)?;
        }
    }
    let total = set.iter().try_fold(0u128, |total, (range, _)| {
        total.checked_add(range.address_count())
    });
    if total.is_none() {
        return Err(ConfigError::RangeSetTooLarge {
            field: set[0].1.path.clone(),
        });
    }
    Ok(())
}

/// Range sets may not share addresses either: an address would then belong to
/// two sets' round-robins at once.
fn check_no_overlap_between_sets(
    sets: &[Vec<(ValidatedRange, &SourcedRange<'_>)>],
) -> Result<(), ConfigError> {
    for (set_index, set) in sets.iter().enumerate() {
        for later_set in &sets[set_index + 1..] {
            for (a, a_source) in set {
                for (b, b_source) in later_set {
                    check_disjoint(b, b_source, a, a_source)?;
                }
            }
        }
    }
    Ok(())
}

fn check_disjoint(
    range: &ValidatedRange,
    source: &SourcedRange<'_>,
    other: &ValidatedRange,
    other_source: &SourcedRange<'_>,
) -> Result<(), ConfigError> {
    let overlap = same_family(range.range_start, other.range_start)
        && range.range_start <= other.range_end
        && other.range_start <= range.range_end;
    if overlap {
        return Err(ConfigError::Overlap {
            field: source.path.clone(),
            start: range.range_start,
            end: range.range_end,
            other_field: other_source.path.clone(),
            other_start: other.range_start,
            other_end: other.range_end,
        });
    }
    Ok(())
}
