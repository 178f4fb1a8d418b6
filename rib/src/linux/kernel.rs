//! Reading the kernel's links, routes, neighbors and forwarding database entries out of
//! `netlink-packet-route` messages.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoVxlan, LinkAttribute, LinkFlags,
    LinkInfo, LinkMessage,
};
use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteNextHopFlags,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::messages::KernelNextHop;
use super::socket::RouteSocket;
use crate::model::MacAddr;
use crate::southbound::PlaneError;

/// The attributes of one link that the plane uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Link {
    pub index: u32,
    pub name: String,
    /// Index of the bridge (or other master) the link is enslaved to.
    pub master: Option<u32>,
    /// VNI of a VXLAN device.
    pub vni: Option<u32>,
    pub kind: Option<InfoKind>,
    pub mac: Option<MacAddr>,
    pub mtu: Option<u32>,
    /// `IFLA_IFALIAS`, which marks the links the plane and the daemon created.
    pub alias: Option<String>,
    /// Local address of a VXLAN device.
    pub vxlan_local: Option<IpAddr>,
    /// Destination UDP port of a VXLAN device.
    pub vxlan_port: Option<u16>,
    /// Whether a VXLAN device learns remote MACs from received packets.
    pub vxlan_learning: Option<bool>,
    /// Whether the bridge learns source MACs on this link, when it is a bridge port.
    pub port_learning: Option<bool>,
    /// Administratively up (`IFF_UP`).
    pub admin_up: bool,
    /// Operationally up: `IFF_UP` and `IFF_LOWER_UP`.
    pub oper_up: bool,
}

/// The links of one namespace by name and by index.
#[derive(Debug, Default)]
pub(crate) struct LinkTable {
    by_name: HashMap<String, Link>,
    names: HashMap<u32, String>,
}

impl LinkTable {
    /// Reads every link of the socket's namespace.
    pub fn load(socket: &mut RouteSocket) -> Result<LinkTable, PlaneError> {
        let mut table = LinkTable::default();
        for message in socket.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))? {
            if let RouteNetlinkMessage::NewLink(link) = message {
                table.insert(parse_link(&link));
            }
        }
        Ok(table)
    }

    pub fn insert(&mut self, link: Link) {
        if let Some(old) = self.names.insert(link.index, link.name.clone())
            && old != link.name
        {
            self.by_name.remove(&old);
        }
        self.by_name.insert(link.name.clone(), link);
    }

    pub fn remove(&mut self, index: u32) -> Option<Link> {
        let name = self.names.remove(&index)?;
        self.by_name.remove(&name)
    }

    pub fn get(&self, name: &str) -> Option<&Link> {
        self.by_name.get(name)
    }

    pub fn by_index(&self, index: u32) -> Option<&Link> {
        self.by_name.get(self.names.get(&index)?)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Link> {
        self.by_name.values()
    }

    pub fn name(&self, index: u32) -> Option<&str> {
        self.names.get(&index).map(String::as_str)
    }

    /// Returns the VXLAN device enslaved to bridge `bridge`, if there is one.
    pub fn vxlan_member(&self, bridge: u32) -> Option<&Link> {
        self.by_name
            .values()
            .find(|link| link.master == Some(bridge) && link.vni.is_some())
    }
}

pub(crate) fn parse_link(message: &LinkMessage) -> Link {
    let mut link = Link {
        index: message.header.index,
        admin_up: message.header.flags.contains(LinkFlags::Up),
        oper_up: message.header.flags.contains(LinkFlags::Up)
            && message.header.flags.contains(LinkFlags::LowerUp),
        ..Link::default()
    };
    for attribute in &message.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name = name.clone(),
            LinkAttribute::Controller(master) => link.master = Some(*master),
            LinkAttribute::Address(bytes) => link.mac = mac_from_bytes(bytes),
            LinkAttribute::Mtu(mtu) => link.mtu = Some(*mtu),
            LinkAttribute::IfAlias(alias) => link.alias = Some(alias.clone()),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    match info {
                        LinkInfo::Kind(kind) => link.kind = Some(kind.clone()),
                        LinkInfo::Data(InfoData::Vxlan(data)) => {
                            for item in data {
                                match item {
                                    InfoVxlan::Id(vni) => link.vni = Some(*vni),
                                    InfoVxlan::Local(local) => {
                                        link.vxlan_local = Some(IpAddr::V4(*local))
                                    }
                                    InfoVxlan::Local6(local) => {
                                        link.vxlan_local = Some(IpAddr::V6(*local))
                                    }
                                    InfoVxlan::Port(port) => link.vxlan_port = Some(*port),
                                    InfoVxlan::Learning(learning) => {
                                        link.vxlan_learning = Some(*learning)
                                    }
                                    _ => {}
                                }
                            }
                        }
                        LinkInfo::PortData(InfoPortData::BridgePort(data)) => {
                            link.port_learning = data.iter().find_map(|item| match item {
                                InfoBridgePort::Learning(learning) => Some(*learning),
                                _ => None,
                            });
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    link
}

/// Reads the link named `name` in the socket's namespace, or `None` when there is none.
pub(crate) fn get_link(socket: &mut RouteSocket, name: &str) -> Result<Option<Link>, PlaneError> {
    let request = rtnetlink::LinkUnspec::new_with_name(name).build();
    match socket.request(RouteNetlinkMessage::GetLink(request), 0) {
        Ok(messages) => Ok(messages.into_iter().find_map(|message| match message {
            RouteNetlinkMessage::NewLink(link) => Some(parse_link(&link)),
            _ => None,
        })),
        Err(PlaneError::Kernel { errno, .. }) if errno == libc::ENODEV => Ok(None),
        Err(error) => Err(error),
    }
}

/// Returns the link index and the address of an address message. IFA_LOCAL is the interface's
/// own address; IFA_ADDRESS is the peer's on point-to-point links, so IFA_LOCAL wins.
pub(crate) fn parse_address(message: &AddressMessage) -> Option<(u32, IpNet)> {
    let mut address = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Local(ip) => address = Some(*ip),
            AddressAttribute::Address(ip) if address.is_none() => address = Some(*ip),
            _ => {}
        }
    }
    let address = IpNet::new(address?, message.header.prefix_len).ok()?;
    Some((message.header.index, address))
}

pub(crate) fn mac_from_bytes(bytes: &[u8]) -> Option<MacAddr> {
    let octets: [u8; 6] = bytes.try_into().ok()?;
    Some(MacAddr(octets))
}

/// A route of the kernel, reduced to what the plane compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KernelRoute {
    pub prefix: IpNet,
    pub table: u32,
    pub protocol: u8,
    pub next_hops: Vec<KernelNextHop>,
}

pub(crate) fn parse_route(message: &RouteMessage) -> Option<KernelRoute> {
    let mut table = u32::from(message.header.table);
    let mut destination = None;
    let mut gateway = None;
    let mut interface = None;
    let mut next_hops = Vec::new();
    for attribute in &message.attributes {
        match attribute {
            RouteAttribute::Table(id) => table = *id,
            RouteAttribute::Destination(address) => destination = route_address(address),
            RouteAttribute::Gateway(address) => gateway = route_address(address),
            RouteAttribute::Oif(index) => interface = Some(*index),
            RouteAttribute::MultiPath(hops) => {
                for hop in hops {
                    let gateway = hop.attributes.iter().find_map(|attribute| match attribute {
                        RouteAttribute::Gateway(address) => route_address(address),
                        _ => None,
                    });
                    next_hops.push(KernelNextHop {
                        gateway,
                        interface: hop.interface_index,
                        onlink: hop.flags.contains(RouteNextHopFlags::Onlink),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(interface) = interface {
        next_hops.push(KernelNextHop {
            gateway,
            interface,
            onlink: message.header.flags.contains(RouteFlags::Onlink),
        });
    }
    let unspecified = match message.header.address_family {
        AddressFamily::Inet => IpAddr::from([0u8; 4]),
        AddressFamily::Inet6 => IpAddr::from([0u16; 8]),
        _ => return None,
    };
    let prefix = IpNet::new(
        destination.unwrap_or(unspecified),
        message.header.destination_prefix_length,
    )
    .ok()?;
    let protocol = u8::from(message.header.protocol);
    Some(KernelRoute {
        prefix,
        table,
        protocol,
        next_hops,
    })
}

fn route_address(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// A neighbor or forwarding database entry of the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KernelNeighbour {
    pub family: AddressFamily,
    pub interface: u32,
    /// `NDA_DST`: the neighbor's IP, or the remote VTEP of a VXLAN FDB entry.
    pub destination: Option<IpAddr>,
    pub mac: Option<MacAddr>,
    /// `NDA_MASTER`: the bridge of a bridge FDB entry.
    pub master: Option<u32>,
    pub flags: netlink_packet_route::neighbour::NeighbourFlags,
    pub state: netlink_packet_route::neighbour::NeighbourState,
}

pub(crate) fn parse_neighbour(message: &NeighbourMessage) -> KernelNeighbour {
    let mut neighbour = KernelNeighbour {
        family: message.header.family,
        interface: message.header.ifindex,
        destination: None,
        mac: None,
        master: None,
        flags: message.header.flags,
        state: message.header.state,
    };
    for attribute in &message.attributes {
        match attribute {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                neighbour.destination = Some(IpAddr::V4(*v4))
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                neighbour.destination = Some(IpAddr::V6(*v6))
            }
            // In AF_BRIDGE messages the library leaves NDA_DST raw; its length gives the family.
            NeighbourAttribute::Destination(NeighbourAddress::Other(bytes)) => {
                neighbour.destination = match bytes.len() {
                    4 => <[u8; 4]>::try_from(bytes.as_slice()).ok().map(IpAddr::from),
                    16 => <[u8; 16]>::try_from(bytes.as_slice())
                        .ok()
                        .map(IpAddr::from),
                    _ => None,
                }
            }
            NeighbourAttribute::LinkLayerAddress(bytes) => neighbour.mac = mac_from_bytes(bytes),
            NeighbourAttribute::Controller(master) => neighbour.master = Some(*master),
            _ => {}
        }
    }
    neighbour
}
