//! Netlink messages for the southbound entries, built with `netlink-packet-route`: routes with
//! multipath and on-link next hops, neighbor entries, and VXLAN forwarding database entries
//! (remote MACs and all-zero-MAC flood entries). Every entry carries the plane's mark: routes
//! the plane's protocol number, neighbor and FDB entries `NTF_EXT_LEARNED` (`extern_learn`).

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteNextHop,
    RouteNextHopFlags, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::socket::Request;
use crate::model::MacAddr;

/// A next hop in kernel terms: an optional gateway on an interface index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct KernelNextHop {
    pub gateway: Option<IpAddr>,
    pub interface: u32,
    pub onlink: bool,
}

/// The protocol number, metric and table of the plane's routes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RouteMark {
    pub protocol: u8,
    pub metric: u32,
    pub table: u32,
}

fn family(address: IpAddr) -> AddressFamily {
    match address {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn route_header(prefix: IpNet, mark: RouteMark) -> RouteMessage {
    let mut message = RouteMessage::default();
    message.header.address_family = family(prefix.addr());
    message.header.destination_prefix_length = prefix.prefix_len();
    message.header.table = if mark.table < 256 {
        mark.table as u8
    } else {
        RouteHeader::RT_TABLE_UNSPEC
    };
    message.header.protocol = RouteProtocol::from(mark.protocol);
    message.header.kind = RouteType::Unicast;
    message
        .attributes
        .push(RouteAttribute::Destination(RouteAddress::from(
            prefix.addr(),
        )));
    message
        .attributes
        .push(RouteAttribute::Priority(mark.metric));
    if mark.table >= 256 {
        message.attributes.push(RouteAttribute::Table(mark.table));
    }
    message
}

/// `ip route replace PREFIX proto P metric M table T nexthop ... nexthop ...`.
pub(crate) fn route_replace(
    prefix: IpNet,
    next_hops: &[KernelNextHop],
    mark: RouteMark,
) -> Request {
    let mut message = route_header(prefix, mark);
    // A route with only directly connected next hops has link scope, as the kernel's own
    // routes for a subnet do.
    message.header.scope = if next_hops.iter().all(|next_hop| next_hop.gateway.is_none()) {
        RouteScope::Link
    } else {
        RouteScope::Universe
    };
    match next_hops {
        [single] => {
            if let Some(gateway) = single.gateway {
                message
                    .attributes
                    .push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
            }
            message
                .attributes
                .push(RouteAttribute::Oif(single.interface));
            if single.onlink {
                message.header.flags |= RouteFlags::Onlink;
            }
        }
        many => {
            let hops = many
                .iter()
                .map(|next_hop| {
                    let mut hop = RouteNextHop::default();
                    hop.interface_index = next_hop.interface;
                    if next_hop.onlink {
                        hop.flags |= RouteNextHopFlags::Onlink;
                    }
                    if let Some(gateway) = next_hop.gateway {
                        hop.attributes
                            .push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
                    }
                    hop
                })
                .collect();
            message.attributes.push(RouteAttribute::MultiPath(hops));
        }
    }
    Request {
        message: RouteNetlinkMessage::NewRoute(message),
        flags: NLM_F_CREATE | NLM_F_REPLACE,
    }
}

/// `ip route del PREFIX proto P metric M table T`: the kernel deletes the route only when its
/// protocol matches, so a route of another protocol with the same prefix is never touched.
pub(crate) fn route_delete(prefix: IpNet, mark: RouteMark) -> Request {
    let mut message = route_header(prefix, mark);
    message.header.scope = RouteScope::NoWhere;
    Request {
        message: RouteNetlinkMessage::DelRoute(message),
        flags: 0,
    }
}

fn neighbour_address(address: IpAddr) -> NeighbourAddress {
    match address {
        IpAddr::V4(v4) => NeighbourAddress::Inet(v4),
        IpAddr::V6(v6) => NeighbourAddress::Inet6(v6),
    }
}

/// `ip neigh replace IP lladdr MAC dev IFINDEX nud noarp extern_learn`.
pub(crate) fn neighbor_replace(interface: u32, ip: IpAddr, mac: MacAddr) -> Request {
    let mut message = NeighbourMessage::default();
    message.header.family = family(ip);
    message.header.ifindex = interface;
    message.header.state = NeighbourState::Noarp;
    message.header.flags = NeighbourFlags::ExtLearned;
    message
        .attributes
        .push(NeighbourAttribute::Destination(neighbour_address(ip)));
    message
        .attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec()));
    Request {
        message: RouteNetlinkMessage::NewNeighbour(message),
        flags: NLM_F_CREATE | NLM_F_REPLACE,
    }
}

/// `ip neigh del IP dev IFINDEX`.
pub(crate) fn neighbor_delete(interface: u32, ip: IpAddr) -> Request {
    let mut message = NeighbourMessage::default();
    message.header.family = family(ip);
    message.header.ifindex = interface;
    message
        .attributes
        .push(NeighbourAttribute::Destination(neighbour_address(ip)));
    Request {
        message: RouteNetlinkMessage::DelNeighbour(message),
        flags: 0,
    }
}

fn fdb_message(vxlan: u32, mac: MacAddr, flags: NeighbourFlags) -> NeighbourMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = AddressFamily::Bridge;
    message.header.ifindex = vxlan;
    message.header.flags = flags;
    message
        .attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.octets().to_vec()));
    message
}

/// `bridge fdb replace MAC dev VXLAN dst VTEP self [master] permanent extern_learn`.
///
/// With `bridged` (the VXLAN device is a bridge port), the one request also adds the entry
/// of the bridge, so that the bridge forwards frames for `mac` to the VXLAN port instead of
/// flooding them to every port.
pub(crate) fn fdb_replace(vxlan: u32, mac: MacAddr, vtep: IpAddr, bridged: bool) -> Request {
    let mut flags = NeighbourFlags::Own | NeighbourFlags::ExtLearned;
    if bridged {
        flags |= NeighbourFlags::Controller;
    }
    let mut message = fdb_message(vxlan, mac, flags);
    // The VXLAN driver accepts only permanent or reachable entries; reachable ones would age.
    message.header.state = NeighbourState::Permanent;
    message
        .attributes
        .push(NeighbourAttribute::Destination(neighbour_address(vtep)));
    Request {
        message: RouteNetlinkMessage::NewNeighbour(message),
        flags: NLM_F_CREATE | NLM_F_REPLACE,
    }
}

/// `bridge fdb del MAC dev VXLAN self [master]`.
pub(crate) fn fdb_delete(vxlan: u32, mac: MacAddr, bridged: bool) -> Request {
    let mut flags = NeighbourFlags::Own;
    if bridged {
        flags |= NeighbourFlags::Controller;
    }
    Request {
        message: RouteNetlinkMessage::DelNeighbour(fdb_message(vxlan, mac, flags)),
        flags: 0,
    }
}

/// `bridge fdb append 00:00:00:00:00:00 dev VXLAN dst VTEP self permanent extern_learn`.
pub(crate) fn flood_append(vxlan: u32, vtep: IpAddr) -> Request {
    let mut message = fdb_message(
        vxlan,
        MacAddr::ZERO,
        NeighbourFlags::Own | NeighbourFlags::ExtLearned,
    );
    message.header.state = NeighbourState::Permanent;
    message
        .attributes
        .push(NeighbourAttribute::Destination(neighbour_address(vtep)));
    Request {
        message: RouteNetlinkMessage::NewNeighbour(message),
        flags: NLM_F_CREATE | NLM_F_APPEND,
    }
}

/// `bridge fdb del 00:00:00:00:00:00 dev VXLAN dst VTEP self`: removes this VTEP only.
pub(crate) fn flood_delete(vxlan: u32, vtep: IpAddr) -> Request {
    let mut message = fdb_message(vxlan, MacAddr::ZERO, NeighbourFlags::Own);
    message
        .attributes
        .push(NeighbourAttribute::Destination(neighbour_address(vtep)));
    Request {
        message: RouteNetlinkMessage::DelNeighbour(message),
        flags: 0,
    }
}

/// Builds a dump request of all routes.
pub(crate) fn route_dump() -> RouteNetlinkMessage {
    RouteNetlinkMessage::GetRoute(RouteMessage::default())
}

/// Builds a dump request of all neighbors (`family` Inet, Inet6 or Unspec) or bridge FDB entries
/// (`family` Bridge).
pub(crate) fn neighbour_dump(family: AddressFamily) -> RouteNetlinkMessage {
    let mut message = NeighbourMessage::default();
    message.header.family = family;
    RouteNetlinkMessage::GetNeighbour(message)
}
