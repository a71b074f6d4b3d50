//! Routes (main table unless a table is named).

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteMetric,
    RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::address::Family;
use crate::error::{Error, Result};
use crate::handle::Handle;

/// The kernel's main routing table.
pub const TABLE_MAIN: u32 = 254;
/// Pass as the `table` of [`Handle::routes`] to list every table.
pub const TABLE_ALL: u32 = 0;
/// `RT_SCOPE_LINK`: destinations directly on the link.
pub const SCOPE_LINK: u8 = 253;
/// `RT_SCOPE_UNIVERSE`: destinations reached through a gateway.
pub const SCOPE_UNIVERSE: u8 = 0;
/// `RTPROT_BOOT`: the protocol routes are added with unless one is named.
pub const PROTOCOL_BOOT: u8 = 3;

/// A unicast route. Listings fill every field the kernel reports, so compare
/// only the fields you set when matching desired against actual routes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Route {
    /// `None` is the default route; its family then comes from `gateway`
    /// (or `src`). Use `0.0.0.0/0` / `::/0` for a gateway-less default route.
    pub dst: Option<IpNet>,
    pub gateway: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    /// `None` is the main table.
    pub table: Option<u32>,
    /// `None` picks like iproute2: link scope without a gateway, universe
    /// with one (and any scope when deleting).
    pub scope: Option<u8>,
    /// Metric.
    pub priority: Option<u32>,
    pub mtu: Option<u32>,
    pub advmss: Option<u32>,
    /// Preferred source address.
    pub src: Option<IpAddr>,
    /// Gateway is on the link even if no address says so (`onlink`).
    pub onlink: bool,
    /// Who installed the route (`RTPROT_*`). `None` adds with
    /// [`PROTOCOL_BOOT`] and deletes whatever the protocol; a component that
    /// must find its own routes again among others adds them with a number
    /// of its own.
    pub protocol: Option<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteChange {
    Add,
    Delete,
}

impl Handle {
    /// Adds a route; an identical one already present is [`Error::Exists`].
    pub fn add_route(&mut self, route: &Route) -> Result<()> {
        self.change_route(route, RouteChange::Add, NLM_F_CREATE | NLM_F_EXCL, "add")
    }

    /// Adds the route or replaces the one with the same destination, table,
    /// metric and type.
    pub fn replace_route(&mut self, route: &Route) -> Result<()> {
        self.change_route(
            route,
            RouteChange::Add,
            NLM_F_CREATE | NLM_F_REPLACE,
            "replace",
        )
    }

    /// Deletes the first route matching the given fields; fields left `None`
    /// match anything. No match is [`Error::NotFound`].
    pub fn del_route(&mut self, route: &Route) -> Result<()> {
        self.change_route(route, RouteChange::Delete, 0, "delete")
    }

    /// Unicast routes of one family in `table` (`None`: main table,
    /// `Some(TABLE_ALL)`: every table). Routes this type cannot describe
    /// (local, broadcast, blackhole, multipath, `via` another family) are not
    /// listed.
    pub fn routes(&mut self, family: Family, table: Option<u32>) -> Result<Vec<Route>> {
        let table = table.unwrap_or(TABLE_MAIN);
        let mut request = RouteMessage::default();
        request.header.address_family = family.address_family();
        if table != TABLE_ALL {
            request.header.table = table_header_byte(table);
            request.attributes.push(RouteAttribute::Table(table));
        }
        let answers = match self.dump(RouteNetlinkMessage::GetRoute(request), || {
            format!("{family:?} routes of table {table}")
        }) {
            Ok(answers) => answers,
            // A table nobody has put a route in does not exist yet.
            Err(err) if err.is_not_found() && table != TABLE_ALL => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        Ok(answers
            .iter()
            .filter_map(|answer| match answer {
                RouteNetlinkMessage::NewRoute(message) => route_from_message(message),
                _ => None,
            })
            // The kernel already filters; this covers kernels that do not.
            .filter(|route| table == TABLE_ALL || route.table == Some(table))
            .filter(|route| route_family(route) == Some(family))
            .collect())
    }

    fn change_route(
        &mut self,
        route: &Route,
        change: RouteChange,
        flags: u16,
        verb: &str,
    ) -> Result<()> {
        let message = route_message(route, change)?;
        let request = match change {
            RouteChange::Add => RouteNetlinkMessage::NewRoute(message),
            RouteChange::Delete => RouteNetlinkMessage::DelRoute(message),
        };
        self.request(request, flags, verb, || describe_route(route))?;
        Ok(())
    }
}

/// Routes above 255 live only in `RTA_TABLE`; the header says "unspec".
fn table_header_byte(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC)
}

fn route_family(route: &Route) -> Option<Family> {
    route
        .dst
        .map(|dst| Family::of(&dst.addr()))
        .or(route.gateway.as_ref().map(Family::of))
        .or(route.src.as_ref().map(Family::of))
}

pub(crate) fn describe_route(route: &Route) -> String {
    let mut text = match route.dst {
        Some(dst) => format!("route {dst}"),
        None => "default route".to_string(),
    };
    if let Some(gateway) = route.gateway {
        let _ = write!(text, " via {gateway}");
    }
    if let Some(oif) = route.oif {
        let _ = write!(text, " dev {oif}");
    }
    if let Some(table) = route.table {
        let _ = write!(text, " table {table}");
    }
    if let Some(priority) = route.priority {
        let _ = write!(text, " metric {priority}");
    }
    text
}

pub(crate) fn route_message(route: &Route, change: RouteChange) -> Result<RouteMessage> {
    let family = route_family(route).ok_or_else(|| {
        Error::invalid(
            describe_route(route),
            "a default route without gateway or src has no family; use dst 0.0.0.0/0 or ::/0",
        )
    })?;
    for (field, ip) in [("gateway", route.gateway), ("src", route.src)] {
        if let Some(ip) = ip {
            if Family::of(&ip) != family {
                return Err(Error::invalid(
                    format!("{field} of {}", describe_route(route)),
                    format!("{ip} is not of the destination's family"),
                ));
            }
        }
    }

    let mut message = RouteMessage::default();
    let table = route.table.unwrap_or(TABLE_MAIN);
    message.header.address_family = family.address_family();
    message.header.table = table_header_byte(table);
    message.attributes.push(RouteAttribute::Table(table));

    if let Some(dst) = route.dst.filter(|dst| dst.prefix_len() > 0) {
        message.header.destination_prefix_length = dst.prefix_len();
        message
            .attributes
            .push(RouteAttribute::Destination(RouteAddress::from(dst.addr())));
    }

    match change {
        RouteChange::Add => {
            message.header.protocol = RouteProtocol::from(route.protocol.unwrap_or(PROTOCOL_BOOT));
            message.header.kind = RouteType::Unicast;
            let default_scope = if route.gateway.is_some() {
                SCOPE_UNIVERSE
            } else {
                SCOPE_LINK
            };
            message.header.scope = RouteScope::from(route.scope.unwrap_or(default_scope));
        }
        RouteChange::Delete => {
            // Unspec protocol/type and "nowhere" scope are the kernel's
            // wildcards when matching the route to delete.
            message.header.scope = route.scope.map_or(RouteScope::NoWhere, RouteScope::from);
            if let Some(protocol) = route.protocol {
                message.header.protocol = RouteProtocol::from(protocol);
            }
        }
    }
    if route.onlink {
        message.header.flags |= RouteFlags::Onlink;
    }

    if let Some(gateway) = route.gateway {
        message
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
    }
    if let Some(oif) = route.oif {
        message.attributes.push(RouteAttribute::Oif(oif));
    }
    if let Some(priority) = route.priority {
        message.attributes.push(RouteAttribute::Priority(priority));
    }
    if let Some(src) = route.src {
        message
            .attributes
            .push(RouteAttribute::PrefSource(RouteAddress::from(src)));
    }
    let mut metrics = Vec::new();
    if let Some(mtu) = route.mtu {
        metrics.push(RouteMetric::Mtu(mtu));
    }
    if let Some(advmss) = route.advmss {
        metrics.push(RouteMetric::Advmss(advmss));
    }
    if !metrics.is_empty() {
        message.attributes.push(RouteAttribute::Metrics(metrics));
    }
    Ok(message)
}

fn route_address(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

pub(crate) fn route_from_message(message: &RouteMessage) -> Option<Route> {
    let header = &message.header;
    if header.kind != RouteType::Unicast {
        return None;
    }
    if header.address_family != AddressFamily::Inet && header.address_family != AddressFamily::Inet6
    {
        return None;
    }
    let mut route = Route {
        table: Some(u32::from(header.table)),
        scope: Some(u8::from(header.scope)),
        onlink: header.flags.contains(RouteFlags::Onlink),
        protocol: Some(u8::from(header.protocol)),
        ..Route::default()
    };
    let mut destination = None;
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Destination(address) => destination = route_address(address),
            RouteAttribute::Gateway(address) => route.gateway = route_address(address),
            RouteAttribute::PrefSource(address) => route.src = route_address(address),
            RouteAttribute::Oif(oif) => route.oif = Some(*oif),
            RouteAttribute::Table(table) => route.table = Some(*table),
            RouteAttribute::Priority(priority) => route.priority = Some(*priority),
            RouteAttribute::Metrics(metrics) => {
                for metric in metrics {
                    match metric {
                        RouteMetric::Mtu(mtu) => route.mtu = Some(*mtu),
                        RouteMetric::Advmss(advmss) => route.advmss = Some(*advmss),
                        _ => {}
                    }
                }
            }
            RouteAttribute::MultiPath(_) | RouteAttribute::Via(_) => return None,
            _ => {}
        }
    }
    if header.destination_prefix_length > 0 {
        let destination = destination?;
        route.dst = Some(IpNet::new(destination, header.destination_prefix_length).ok()?);
    } else if route.gateway.is_none() && route.src.is_none() {
        // A gateway-less default route: keep its family in the prefix.
        let any: IpAddr = match header.address_family {
            AddressFamily::Inet6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            _ => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        };
        route.dst = Some(IpNet::new(any, 0).ok()?);
    }
    Some(route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Parseable};

    fn round_trip(message: &RouteMessage) -> RouteMessage {
        let mut bytes = vec![0u8; message.buffer_len()];
        message.emit(&mut bytes);
        RouteMessage::parse(bytes.as_slice()).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn default_route_takes_its_family_from_the_gateway() {
        let route = Route {
            gateway: Some(ip("fd00::1")),
            ..Route::default()
        };
        let message = round_trip(&route_message(&route, RouteChange::Add).unwrap());
        assert_eq!(message.header.address_family, AddressFamily::Inet6);
        assert_eq!(message.header.destination_prefix_length, 0);
        assert!(!message
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Destination(_))));
        assert_eq!(message.header.scope, RouteScope::Universe);
        assert_eq!(message.header.table, 254);
        assert!(message.attributes.contains(&RouteAttribute::Table(254)));
    }

    #[test]
    fn default_route_without_gateway_or_source_is_rejected() {
        let route = Route {
            oif: Some(3),
            ..Route::default()
        };
        let err = route_message(&route, RouteChange::Add).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    }

    #[test]
    fn mixed_families_are_rejected_naming_the_field() {
        let route = Route {
            dst: Some("10.0.0.0/8".parse().unwrap()),
            gateway: Some(ip("fd00::1")),
            ..Route::default()
        };
        let err = route_message(&route, RouteChange::Add).unwrap_err();
        assert!(err.to_string().contains("gateway"), "{err}");
    }

    #[test]
    fn add_without_gateway_is_link_scoped_and_carries_every_field() {
        let route = Route {
            dst: Some("10.244.1.0/24".parse().unwrap()),
            oif: Some(4),
            table: Some(1000),
            priority: Some(100),
            mtu: Some(1450),
            advmss: Some(1410),
            src: Some(ip("10.244.1.1")),
            onlink: true,
            ..Route::default()
        };
        let message = round_trip(&route_message(&route, RouteChange::Add).unwrap());
        assert_eq!(message.header.scope, RouteScope::Link);
        assert_eq!(message.header.kind, RouteType::Unicast);
        assert_eq!(message.header.protocol, RouteProtocol::Boot);
        // Tables above 255 exist only in RTA_TABLE.
        assert_eq!(message.header.table, 0);
        assert!(message.header.flags.contains(RouteFlags::Onlink));
        let parsed = route_from_message(&message).unwrap();
        assert_eq!(
            parsed,
            Route {
                scope: Some(SCOPE_LINK),
                protocol: Some(PROTOCOL_BOOT),
                ..route.clone()
            }
        );
    }

    #[test]
    fn a_named_protocol_is_added_listed_and_matched_on_delete() {
        let route = Route {
            dst: Some("10.244.2.0/24".parse().unwrap()),
            gateway: Some(ip("172.30.0.12")),
            protocol: Some(113),
            ..Route::default()
        };
        let added = round_trip(&route_message(&route, RouteChange::Add).unwrap());
        assert_eq!(u8::from(added.header.protocol), 113);
        assert_eq!(route_from_message(&added).unwrap().protocol, Some(113));
        let deleted = route_message(&route, RouteChange::Delete).unwrap();
        assert_eq!(u8::from(deleted.header.protocol), 113);
    }

    #[test]
    fn delete_uses_wildcards_for_unset_fields() {
        let route = Route {
            dst: Some("10.244.1.0/24".parse().unwrap()),
            ..Route::default()
        };
        let message = route_message(&route, RouteChange::Delete).unwrap();
        assert_eq!(message.header.scope, RouteScope::NoWhere);
        assert_eq!(message.header.protocol, RouteProtocol::Unspec);
        assert_eq!(message.header.kind, RouteType::Unspec);
    }

    #[test]
    fn listed_default_route_with_gateway_has_no_dst() {
        let route = Route {
            gateway: Some(ip("10.0.0.1")),
            ..Route::default()
        };
        let parsed = route_from_message(&round_trip(
            &route_message(&route, RouteChange::Add).unwrap(),
        ))
        .unwrap();
        assert_eq!(parsed.dst, None);
        assert_eq!(parsed.gateway, route.gateway);
        assert_eq!(parsed.table, Some(TABLE_MAIN));
    }

    #[test]
    fn listed_default_route_without_gateway_keeps_its_family() {
        let mut message = RouteMessage::default();
        message.header.address_family = AddressFamily::Inet6;
        message.header.kind = RouteType::Unicast;
        message.header.table = 254;
        message.attributes.push(RouteAttribute::Oif(2));
        let parsed = route_from_message(&message).unwrap();
        assert_eq!(parsed.dst, Some("::/0".parse().unwrap()));
    }

    #[test]
    fn non_unicast_routes_are_not_listed() {
        let mut message = RouteMessage::default();
        message.header.address_family = AddressFamily::Inet;
        message.header.kind = RouteType::Local;
        message.header.destination_prefix_length = 32;
        message
            .attributes
            .push(RouteAttribute::Destination(RouteAddress::Inet(
                "127.0.0.1".parse().unwrap(),
            )));
        assert_eq!(route_from_message(&message), None);
    }

    #[test]
    fn description_names_destination_gateway_and_table() {
        let route = Route {
            dst: Some("10.1.0.0/16".parse().unwrap()),
            gateway: Some(ip("10.0.0.1")),
            oif: Some(2),
            table: Some(7),
            ..Route::default()
        };
        assert_eq!(
            describe_route(&route),
            "route 10.1.0.0/16 via 10.0.0.1 dev 2 table 7"
        );
        assert_eq!(describe_route(&Route::default()), "default route");
    }
}
