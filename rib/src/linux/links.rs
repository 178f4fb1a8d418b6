//! Interface configuration for the daemon, over the same rtnetlink sockets as the plane:
//! VXLAN devices (created in the underlay, then moved into a VRF namespace), bridges with a MAC
//! and an MTU, bridge ports with learning on or off, addresses, MTU, administrative state, and
//! lookups by name. Messages are built with `rtnetlink`'s builders.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{InfoKind, LinkMessage};
use rtnetlink::{
    AddressMessageBuilder, LinkBridge, LinkBridgePort, LinkDummy, LinkMessageBuilder, LinkUnspec,
    LinkVxlan,
};
use tracing::info;

use super::kernel::{Link, get_link, parse_address, parse_link};
use super::netns::{Namespace, NamespaceHandle};
use super::socket::RouteSocket;
use crate::model::{MacAddr, Vni};
use crate::southbound::PlaneError;

/// The IANA UDP port of VXLAN (RFC 7348 section 5).
pub const VXLAN_PORT: u16 = 4789;

/// The state of one link, for the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    pub index: u32,
    pub name: String,
    /// `bridge`, `vxlan`, `veth`, ...; `None` for a device without a kind (loopback, physical).
    pub kind: Option<String>,
    /// Index of the bridge the link is a port of.
    pub master: Option<u32>,
    pub mac: Option<MacAddr>,
    pub mtu: Option<u32>,
    /// VNI of a VXLAN device.
    pub vni: Option<Vni>,
    /// Local address of a VXLAN device.
    pub vxlan_local: Option<IpAddr>,
    /// Destination UDP port of a VXLAN device.
    pub vxlan_port: Option<u16>,
    /// Whether a VXLAN device learns remote MACs from received packets.
    pub vxlan_learning: Option<bool>,
    /// Whether the bridge learns source MACs on this link, when it is a bridge port.
    pub port_learning: Option<bool>,
    /// The interface alias (`ip link set NAME alias TEXT`).
    pub alias: Option<String>,
    /// Administratively up.
    pub admin_up: bool,
    /// Operationally up (administratively up with carrier).
    pub oper_up: bool,
}

impl From<Link> for LinkState {
    fn from(link: Link) -> LinkState {
        let kind = link.kind.map(|kind| match kind {
            InfoKind::Bridge => "bridge".to_string(),
            InfoKind::Vxlan => "vxlan".to_string(),
            InfoKind::Veth => "veth".to_string(),
            other => format!("{other:?}").to_lowercase(),
        });
        LinkState {
            index: link.index,
            name: link.name,
            kind,
            master: link.master,
            mac: link.mac,
            mtu: link.mtu,
            vni: link.vni.and_then(|vni| Vni::new(vni).ok()),
            vxlan_local: link.vxlan_local,
            vxlan_port: link.vxlan_port,
            vxlan_learning: link.vxlan_learning,
            port_learning: link.port_learning,
            alias: link.alias,
            admin_up: link.admin_up,
            oper_up: link.oper_up,
        }
    }
}

/// A VXLAN device to create: `ip link add NAME type vxlan id VNI local LOCAL dstport PORT
/// [dev UNDERLAY] [nolearning] [mtu MTU]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanDevice {
    pub name: String,
    pub vni: Vni,
    /// Local VTEP address, the source of encapsulated packets.
    pub local: IpAddr,
    /// Destination UDP port; [`VXLAN_PORT`] by default.
    pub port: u16,
    /// Whether the device learns remote MACs from received packets; off by default, as EVPN
    /// distributes them.
    pub learning: bool,
    pub mtu: Option<u32>,
    /// The underlay interface to bind to (`link-interface` in the configuration).
    pub underlay: Option<String>,
}

impl VxlanDevice {
    /// Returns a device with the VXLAN port, learning off, the default MTU and no underlay interface.
    pub fn new(name: &str, vni: Vni, local: IpAddr) -> VxlanDevice {
        VxlanDevice {
            name: name.to_string(),
            vni,
            local,
            port: VXLAN_PORT,
            learning: false,
            mtu: None,
            underlay: None,
        }
    }
}

/// Interface configuration of one network namespace.
#[derive(Debug)]
pub struct Links {
    namespace: NamespaceHandle,
    socket: RouteSocket,
}

impl Links {
    /// Opens the namespace and a netlink socket inside it.
    pub fn open(namespace: &Namespace) -> Result<Links, PlaneError> {
        let io_error = |error: std::io::Error| PlaneError::Io(error.to_string());
        let namespace = namespace.open().map_err(io_error)?;
        let socket = namespace
            .run(RouteSocket::open)
            .and_then(|socket| socket)
            .map_err(io_error)?;
        Ok(Links { namespace, socket })
    }

    /// Returns the namespace these links are in.
    pub fn namespace(&self) -> &NamespaceHandle {
        &self.namespace
    }

    /// Returns every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<LinkState>, PlaneError> {
        let messages = self
            .socket
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
        Ok(messages
            .into_iter()
            .filter_map(|message| match message {
                RouteNetlinkMessage::NewLink(link) => Some(parse_link(&link).into()),
                _ => None,
            })
            .collect())
    }

    /// Returns the link named `name`, or `None` when there is none.
    pub fn link(&mut self, name: &str) -> Result<Option<LinkState>, PlaneError> {
        Ok(get_link(&mut self.socket, name)?.map(LinkState::from))
    }

    /// Returns every IPv4 and IPv6 address of the namespace, with the index of its link.
    pub fn addresses(&mut self) -> Result<Vec<(u32, IpNet)>, PlaneError> {
        let messages = self
            .socket
            .dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))?;
        Ok(messages
            .into_iter()
            .filter_map(|message| match message {
                RouteNetlinkMessage::NewAddress(address) => parse_address(&address),
                _ => None,
            })
            .collect())
    }

    fn index(&mut self, name: &str) -> Result<u32, PlaneError> {
        match self.link(name)? {
            Some(link) => Ok(link.index),
            None => Err(PlaneError::LinkNotFound(name.to_string())),
        }
    }

    fn create(&mut self, message: LinkMessage) -> Result<(), PlaneError> {
        self.socket
            .request(
                RouteNetlinkMessage::NewLink(message),
                NLM_F_CREATE | NLM_F_EXCL,
            )
            .map(drop)
    }

    fn change(&mut self, message: LinkMessage) -> Result<(), PlaneError> {
        self.socket
            .request(RouteNetlinkMessage::SetLink(message), 0)
            .map(drop)
    }

    /// Creates a VXLAN device, down.
    pub fn create_vxlan(&mut self, device: &VxlanDevice) -> Result<(), PlaneError> {
        let mut builder = LinkVxlan::new(&device.name, device.vni.get())
            .port(device.port)
            .learning(device.learning);
        builder = match device.local {
            IpAddr::V4(local) => builder.local(local),
            IpAddr::V6(local) => builder.local6(local),
        };
        if let Some(underlay) = &device.underlay {
            let index = self.index(underlay)?;
            builder = builder.dev(index);
        }
        if let Some(mtu) = device.mtu {
            builder = builder.mtu(mtu);
        }
        self.create(builder.build())?;
        info!(name = %device.name, vni = %device.vni, local = %device.local, "VXLAN device created");
        Ok(())
    }

    /// Creates a dummy device, down. It fails with EOPNOTSUPP when the kernel has no dummy
    /// driver.
    pub fn create_dummy(&mut self, name: &str) -> Result<(), PlaneError> {
        self.create(LinkDummy::new(name).build())?;
        info!(name, "dummy device created");
        Ok(())
    }

    /// Creates a bridge, down, with the MAC address and MTU given.
    pub fn create_bridge(
        &mut self,
        name: &str,
        mac: Option<MacAddr>,
        mtu: Option<u32>,
    ) -> Result<(), PlaneError> {
        let mut builder = LinkMessageBuilder::<LinkBridge>::new(name);
        if let Some(mac) = mac {
            builder = builder.address(mac.octets().to_vec());
        }
        self.create(builder.build())?;
        // An MTU given at creation follows the smallest port MTU once ports join; one set
        // afterwards counts as set by the user and stays.
        if let Some(mtu) = mtu {
            self.set_mtu(name, mtu)?;
        }
        info!(name, "bridge created");
        Ok(())
    }

    /// Moves link `name` into the namespace of `target`. A VXLAN device keeps its UDP socket
    /// in the namespace it was created in.
    pub fn move_to(&mut self, name: &str, target: &NamespaceHandle) -> Result<(), PlaneError> {
        let index = self.index(name)?;
        self.change(
            LinkUnspec::new_with_index(index)
                .setns_by_fd(target.as_raw_fd())
                .build(),
        )?;
        info!(name, "link moved to another namespace");
        Ok(())
    }

    /// Makes `port` a port of `bridge`, or of no bridge with `None`.
    pub fn set_master(&mut self, port: &str, bridge: Option<&str>) -> Result<(), PlaneError> {
        let index = self.index(port)?;
        let builder = LinkUnspec::new_with_index(index);
        let message = match bridge {
            Some(bridge) => {
                let bridge = self.index(bridge)?;
                builder.controller(bridge).build()
            }
            None => builder.nocontroller().build(),
        };
        self.change(message)
    }

    /// Turns MAC learning on or off on bridge port `port`.
    pub fn set_learning(&mut self, port: &str, learning: bool) -> Result<(), PlaneError> {
        let index = self.index(port)?;
        let message = LinkBridgePort::new(index).learning(learning).build();
        // Port attributes travel in IFLA_LINKINFO, which only RTM_NEWLINK applies.
        self.socket
            .request(RouteNetlinkMessage::NewLink(message), 0)
            .map(drop)
    }

    /// Sets link `name` administratively up or down.
    pub fn set_up(&mut self, name: &str, up: bool) -> Result<(), PlaneError> {
        let index = self.index(name)?;
        let builder = LinkUnspec::new_with_index(index);
        self.change(if up { builder.up() } else { builder.down() }.build())
    }

    /// Sets the MTU of link `name`, in bytes.
    pub fn set_mtu(&mut self, name: &str, mtu: u32) -> Result<(), PlaneError> {
        let index = self.index(name)?;
        self.change(LinkUnspec::new_with_index(index).mtu(mtu).build())
    }

    /// Sets the alias of link `name` (`ip link set NAME alias TEXT`).
    pub fn set_alias(&mut self, name: &str, alias: &str) -> Result<(), PlaneError> {
        let index = self.index(name)?;
        self.change(LinkUnspec::new_with_index(index).alias(alias).build())
    }

    /// Sets the MAC address of link `name`.
    pub fn set_mac(&mut self, name: &str, mac: MacAddr) -> Result<(), PlaneError> {
        let index = self.index(name)?;
        self.change(
            LinkUnspec::new_with_index(index)
                .address(mac.octets().to_vec())
                .build(),
        )
    }

    /// Adds `address` to link `name`; adding an address the link has succeeds.
    pub fn add_address(&mut self, name: &str, address: IpNet) -> Result<(), PlaneError> {
        let message = self.address_message(name, address)?;
        match self.socket.request(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(PlaneError::Kernel { errno, .. }) if errno == libc::EEXIST => Ok(()),
            other => other.map(drop),
        }
    }

    /// Removes `address` from link `name`; removing an address the link lacks succeeds.
    pub fn remove_address(&mut self, name: &str, address: IpNet) -> Result<(), PlaneError> {
        let message = self.address_message(name, address)?;
        match self
            .socket
            .request(RouteNetlinkMessage::DelAddress(message), 0)
        {
            Err(PlaneError::Kernel { errno, .. }) if errno == libc::EADDRNOTAVAIL => Ok(()),
            other => other.map(drop),
        }
    }

    fn address_message(
        &mut self,
        name: &str,
        address: IpNet,
    ) -> Result<netlink_packet_route::address::AddressMessage, PlaneError> {
        let index = self.index(name)?;
        Ok(match address {
            IpNet::V4(v4) => AddressMessageBuilder::<std::net::Ipv4Addr>::new()
                .index(index)
                .address(v4.addr(), v4.prefix_len())
                .build(),
            IpNet::V6(v6) => AddressMessageBuilder::<std::net::Ipv6Addr>::new()
                .index(index)
                .address(v6.addr(), v6.prefix_len())
                .build(),
        })
    }

    /// Deletes link `name`; deleting a link that does not exist succeeds.
    pub fn delete(&mut self, name: &str) -> Result<(), PlaneError> {
        let Some(link) = self.link(name)? else {
            return Ok(());
        };
        let message = LinkUnspec::new_with_index(link.index).build();
        self.socket
            .request(RouteNetlinkMessage::DelLink(message), 0)
            .map(drop)?;
        info!(name, "link deleted");
        Ok(())
    }
}
