//! The plane's event stream: links, addresses, and the MACs and neighbors the kernel learned
//! by itself, read from rtnetlink notifications of each VRF namespace.
//!
//! A monitor thread per namespace first reports the current state (every link, address,
//! learned neighbor and learned MAC), then each notification as it arrives. On request it
//! reports the learned neighbors and MACs again, for a subscriber that has lost them. Entries
//! carrying the plane's own mark (`extern_learn`) are not reported, and neither are static
//! ones, nor the addresses and neighbors of the plane's leak links between VRFs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ipnet::IpNet;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoKind, LinkMessage};
use netlink_packet_route::neighbour::{NeighbourFlags, NeighbourMessage, NeighbourState};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, warn};

use super::kernel::{LinkTable, parse_link, parse_neighbour};
use super::leak::is_leak_link;
use super::messages::neighbour_dump;
use super::netns::NamespaceHandle;
use super::socket::RouteSocket;
use crate::model::{Vni, VrfId};
use crate::southbound::{PlaneError, PlaneEvent};

/// rtnetlink multicast groups (`RTNLGRP_*` in `linux/rtnetlink.h`).
const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_NEIGH: u32 = 3;
const RTNLGRP_IPV4_IFADDR: u32 = 5;
const RTNLGRP_IPV6_IFADDR: u32 = 9;

/// How often a monitor without notifications checks whether its receiver is gone.
const IDLE_CHECK: Duration = Duration::from_millis(250);

/// The plane's requests to one monitor thread, each served within [`IDLE_CHECK`].
#[derive(Debug, Default)]
pub(crate) struct MonitorControl {
    /// Stop the thread, which releases the namespace: set when the plane removes the VRF.
    pub stop: AtomicBool,
    /// Report the learned neighbors and MACs again. The monitor clears the flag before it
    /// reads them, so a request made during a report gets a report of its own.
    pub report_learned: AtomicBool,
}

/// Starts the monitor thread of one namespace. It stops when `sender`'s receiver is dropped or
/// `control.stop` is set.
pub(crate) fn spawn_monitor(
    vrf: VrfId,
    namespace: NamespaceHandle,
    sender: UnboundedSender<PlaneEvent>,
    control: Arc<MonitorControl>,
) -> Result<(), PlaneError> {
    let io_error = |error: std::io::Error| PlaneError::Io(error.to_string());
    // Open both sockets in the namespace before returning, so that no event after
    // `subscribe` returns is missed.
    let (monitor_socket, requests) = namespace
        .run(|| -> std::io::Result<(RouteSocket, RouteSocket)> {
            let groups = [
                RTNLGRP_LINK,
                RTNLGRP_NEIGH,
                RTNLGRP_IPV4_IFADDR,
                RTNLGRP_IPV6_IFADDR,
            ];
            Ok((
                RouteSocket::open_monitor(&groups, IDLE_CHECK)?,
                RouteSocket::open()?,
            ))
        })
        .and_then(|sockets| sockets)
        .map_err(io_error)?;
    std::thread::Builder::new()
        .name(format!("plane-events-{}", vrf.0))
        .spawn(move || {
            let mut monitor = Monitor {
                vrf,
                links: LinkTable::default(),
                sender,
                control,
            };
            if let Err(error) = monitor.run(SocketPair {
                monitor: monitor_socket,
                requests,
            }) {
                warn!(%vrf, %error, "plane event monitor stopped");
            }
        })
        .map_err(io_error)?;
    Ok(())
}

/// The monitor's sockets: one subscribed to notifications, one for the dumps of the state.
struct SocketPair {
    monitor: RouteSocket,
    requests: RouteSocket,
}

struct Monitor {
    vrf: VrfId,
    links: LinkTable,
    sender: UnboundedSender<PlaneEvent>,
    control: Arc<MonitorControl>,
}

impl Monitor {
    fn run(&mut self, sockets: SocketPair) -> Result<(), PlaneError> {
        let SocketPair {
            mut monitor,
            mut requests,
        } = sockets;
        info!(vrf = %self.vrf, "plane event monitor started");

        let initial = [
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
        ];
        for request in initial {
            for message in requests.dump(request)? {
                self.handle(message);
            }
        }
        self.dump_learned(&mut requests)?;
        self.send(PlaneEvent::InitialStateComplete { vrf: self.vrf });

        while !self.sender.is_closed() && !self.control.stop.load(Ordering::Relaxed) {
            if self.control.report_learned.swap(false, Ordering::Relaxed)
                && let Err(error) = self.report_learned(&mut requests)
            {
                // The notifications still flow, so the monitor keeps running.
                warn!(vrf = %self.vrf, %error, "cannot report the learned neighbors and MACs again");
            }
            match monitor.receive_notifications() {
                Ok(Some(messages)) => messages
                    .into_iter()
                    .for_each(|message| self.handle(message)),
                Ok(None) => {}
                Err(error) if error.raw_os_error() == Some(libc::ENOBUFS) => {
                    // The kernel dropped notifications: report the full state again.
                    warn!(vrf = %self.vrf, "event monitor overrun, reading the state again");
                    for message in
                        requests.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?
                    {
                        self.handle(message);
                    }
                }
                Err(error) => return Err(PlaneError::Io(error.to_string())),
            }
        }
        debug!(vrf = %self.vrf, "plane event monitor stopped: no receiver, or the VRF was removed");
        Ok(())
    }

    /// Reports every learned neighbor and MAC again, as the initial dump did. The link table
    /// is read first without reporting links, so that a bridge port or VXLAN device created
    /// since the last notification read is known, and the MACs carry the bridge's current VNI.
    fn report_learned(&mut self, requests: &mut RouteSocket) -> Result<(), PlaneError> {
        for message in requests.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))? {
            if let RouteNetlinkMessage::NewLink(link) = message {
                self.links.insert(parse_link(&link));
            }
        }
        self.dump_learned(requests)?;
        debug!(vrf = %self.vrf, "learned neighbors and MACs reported again");
        Ok(())
    }

    /// Reads the neighbor and bridge FDB tables and reports their learned entries.
    fn dump_learned(&mut self, requests: &mut RouteSocket) -> Result<(), PlaneError> {
        for family in [AddressFamily::Unspec, AddressFamily::Bridge] {
            for message in requests.dump(neighbour_dump(family))? {
                self.handle(message);
            }
        }
        Ok(())
    }

    fn send(&self, event: PlaneEvent) {
        let _ = self.sender.send(event);
    }

    fn handle(&mut self, message: RouteNetlinkMessage) {
        match message {
            RouteNetlinkMessage::NewLink(message) => {
                let link = parse_link(&message);
                self.links.insert(link.clone());
                let master = link
                    .master
                    .and_then(|index| self.links.name(index))
                    .map(str::to_string);
                self.send(PlaneEvent::Link {
                    vrf: self.vrf,
                    name: link.name,
                    index: link.index,
                    up: link.oper_up,
                    mac: link.mac,
                    master,
                });
            }
            RouteNetlinkMessage::DelLink(message) => {
                let link = self
                    .links
                    .remove(message.header.index)
                    .unwrap_or_else(|| parse_link(&message));
                self.send(PlaneEvent::LinkRemoved {
                    vrf: self.vrf,
                    name: link.name,
                    index: link.index,
                });
            }
            RouteNetlinkMessage::NewAddress(message) => self.address(&message, true),
            RouteNetlinkMessage::DelAddress(message) => self.address(&message, false),
            RouteNetlinkMessage::NewNeighbour(message) => self.neighbour(&message, true),
            RouteNetlinkMessage::DelNeighbour(message) => self.neighbour(&message, false),
            _ => {}
        }
    }

    fn address(&self, message: &AddressMessage, added: bool) {
        let mut address = None;
        for attribute in &message.attributes {
            match attribute {
                // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
                // point-to-point links, so IFA_LOCAL wins when both are present.
                AddressAttribute::Local(ip) => address = Some(*ip),
                AddressAttribute::Address(ip) if address.is_none() => address = Some(*ip),
                _ => {}
            }
        }
        let Some(ip) = address else { return };
        let Ok(address) = IpNet::new(ip, message.header.prefix_len) else {
            return;
        };
        let Some(link) = self.links.by_index(message.header.index) else {
            return;
        };
        if is_leak_link(link) {
            return;
        }
        let interface = &link.name;
        self.send(PlaneEvent::Address {
            vrf: self.vrf,
            interface: interface.to_string(),
            address,
            added,
        });
    }

    fn neighbour(&self, message: &NeighbourMessage, present: bool) {
        let neighbour = parse_neighbour(message);
        if neighbour.flags.contains(NeighbourFlags::ExtLearned) {
            return;
        }
        match neighbour.family {
            AddressFamily::Bridge => self.bridge_mac(&neighbour, present),
            AddressFamily::Inet | AddressFamily::Inet6 => {
                let Some(ip) = neighbour.destination else {
                    return;
                };
                let Some(link) = self.links.by_index(neighbour.interface) else {
                    return;
                };
                if is_leak_link(link) {
                    return;
                }
                let interface = &link.name;
                let resolved = matches!(
                    neighbour.state,
                    NeighbourState::Reachable
                        | NeighbourState::Stale
                        | NeighbourState::Delay
                        | NeighbourState::Probe
                        | NeighbourState::Permanent
                );
                let learned = present && resolved && neighbour.mac.is_some();
                self.send(PlaneEvent::LocalNeighbor {
                    vrf: self.vrf,
                    interface: interface.to_string(),
                    ip,
                    mac: if learned { neighbour.mac } else { None },
                    learned,
                });
            }
            _ => {}
        }
    }

    /// Reports a MAC a bridge learned on one of its ports. The bridge's own entries (the
    /// ports' addresses, `permanent`) and the VXLAN devices' entries (`self`) are not local
    /// learning.
    fn bridge_mac(&self, neighbour: &super::kernel::KernelNeighbour, present: bool) {
        let (Some(mac), Some(bridge)) = (neighbour.mac, neighbour.master) else {
            return;
        };
        if neighbour.flags.contains(NeighbourFlags::Own)
            || neighbour.state == NeighbourState::Permanent
        {
            return;
        }
        let Some(port) = self.links.by_index(neighbour.interface) else {
            return;
        };
        if port.kind == Some(InfoKind::Vxlan) {
            return;
        }
        let Some(bridge_name) = self.links.name(bridge) else {
            return;
        };
        let vni = self
            .links
            .vxlan_member(bridge)
            .and_then(|vxlan| vxlan.vni)
            .and_then(|vni| Vni::new(vni).ok());
        self.send(PlaneEvent::LocalMac {
            vrf: self.vrf,
            bridge: bridge_name.to_string(),
            port: port.name.clone(),
            mac,
            vni,
            learned: present,
        });
    }
}
