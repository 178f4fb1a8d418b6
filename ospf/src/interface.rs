//! OSPF interfaces: the interface state machine (RFC 2328 section 9.3), the Designated Router
//! election (section 9.4), and sending and receiving Hellos (sections 9.5 and 10.5).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use serde::Serialize;
use tracing::info;

use crate::config::{InterfaceConfig, NetworkType};
use crate::instance::{Action, Instance, OUR_OPTIONS};
use crate::lsa::{LsaHeader, Options};
use crate::neighbor::{Neighbor, NeighborEvent, NeighborState};
use crate::packet::{ALL_SPF_ROUTERS, Hello, PacketBody};
use crate::show::DropReason;

/// An interface as the caller sees it, from the kernel or a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub name: String,
    pub ifindex: u32,
    pub addresses: Vec<Ipv4Net>,
    /// Bytes, IP header included.
    pub mtu: u32,
    /// Administratively up with carrier.
    pub up: bool,
    pub loopback: bool,
}

/// Interface states (section 9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InterfaceState {
    Down,
    Loopback,
    Waiting,
    #[serde(rename = "Point-To-Point")]
    PointToPoint,
    #[serde(rename = "DROther")]
    DrOther,
    Backup,
    #[serde(rename = "DR")]
    Dr,
}

/// Interface events (section 9.2); LoopInd and UnloopInd are not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterfaceEvent {
    InterfaceUp,
    WaitTimer,
    BackupSeen,
    NeighborChange,
    InterfaceDown,
}

/// The role of an interface in OSPF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InterfaceKind {
    /// A loopback or /32 address: advertised as a host route, no packets.
    Loopback,
    PointToPoint,
    Broadcast,
}

/// The interface data structure (section 9).
#[derive(Debug)]
pub(crate) struct Interface {
    pub name: String,
    pub ifindex: u32,
    /// The address matched by a `network` statement, with its prefix length.
    pub address: Ipv4Net,
    pub mtu: u32,
    pub kind: InterfaceKind,
    pub config: InterfaceConfig,
    pub state: InterfaceState,
    /// Designated Router and Backup, as interface addresses (0.0.0.0 when none).
    pub dr: Ipv4Addr,
    pub bdr: Ipv4Addr,
    /// Neighbors by interface address.
    pub neighbors: BTreeMap<Ipv4Addr, Neighbor>,
    pub hello_at: Option<Instant>,
    pub wait_at: Option<Instant>,
    pub delayed_acks: Vec<LsaHeader>,
    pub delayed_ack_at: Option<Instant>,
    pub crypto_sequence: u32,
}

impl Interface {
    pub(crate) fn is_broadcast(&self) -> bool {
        self.kind == InterfaceKind::Broadcast
    }

    /// Returns true when OSPF runs on the interface.
    pub(crate) fn is_enabled(&self) -> bool {
        self.state != InterfaceState::Down
    }

    /// Returns true when the interface sends and receives packets.
    pub(crate) fn is_active(&self) -> bool {
        self.is_enabled() && self.kind != InterfaceKind::Loopback && !self.config.passive
    }

    pub(crate) fn next_timer(&self) -> Option<Instant> {
        [self.hello_at, self.wait_at, self.delayed_ack_at]
            .into_iter()
            .chain(self.neighbors.values().map(Neighbor::next_timer))
            .flatten()
            .min()
    }

    /// Returns the largest OSPF packet (IP payload) that fits the MTU with the digest.
    pub(crate) fn max_packet_len(&self) -> usize {
        (self.mtu as usize)
            .saturating_sub(20 + self.config.authentication.trailer_len())
            .max(128)
    }

    fn interval(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }
}

impl Instance {
    /// Adds or updates an interface from the caller's view of it.
    pub(crate) fn update_interface(&mut self, info: InterfaceInfo, now: Instant) {
        // NOTE: only the first address matched by a `network` statement runs OSPF; secondary
        // addresses of the same interface are neither advertised nor used for adjacencies.
        let matched = info
            .addresses
            .iter()
            .copied()
            .find(|address| self.config.matching_network(address.addr()).is_some());
        let config = self.config.interface_config(&info.name).clone();
        let kind = match (
            info.loopback || matched.is_some_and(|address| address.prefix_len() == 32),
            config.network_type,
        ) {
            (true, _) => InterfaceKind::Loopback,
            (false, NetworkType::PointToPoint) => InterfaceKind::PointToPoint,
            (false, NetworkType::Broadcast) => InterfaceKind::Broadcast,
        };

        if let Some(existing) = self.interfaces.get_mut(&info.ifindex) {
            let same = Some(existing.address) == matched
                && existing.kind == kind
                && existing.name == info.name;
            if same {
                existing.mtu = info.mtu;
                let enabled = existing.is_enabled();
                if info.up && !enabled {
                    self.interface_event(info.ifindex, InterfaceEvent::InterfaceUp, now);
                } else if !info.up && enabled {
                    self.interface_event(info.ifindex, InterfaceEvent::InterfaceDown, now);
                }
                return;
            }
            self.remove_interface(info.ifindex, now);
        }

        let Some(address) = matched else { return };
        let interface = Interface {
            name: info.name.clone(),
            ifindex: info.ifindex,
            address,
            mtu: info.mtu,
            kind,
            config,
            state: InterfaceState::Down,
            dr: Ipv4Addr::UNSPECIFIED,
            bdr: Ipv4Addr::UNSPECIFIED,
            neighbors: BTreeMap::new(),
            hello_at: None,
            wait_at: None,
            delayed_acks: Vec::new(),
            delayed_ack_at: None,
            crypto_sequence: self.dd_sequence_seed,
        };
        self.interfaces.insert(info.ifindex, interface);
        if info.up {
            self.interface_event(info.ifindex, InterfaceEvent::InterfaceUp, now);
        }
    }

    pub(crate) fn remove_interface(&mut self, ifindex: u32, now: Instant) {
        if self
            .interfaces
            .get(&ifindex)
            .is_some_and(Interface::is_enabled)
        {
            self.interface_event(ifindex, InterfaceEvent::InterfaceDown, now);
        }
        // Link-local LSAs of the interface go with it.
        let keys: Vec<_> = self
            .lsdb
            .iter()
            .filter(|(key, _)| key.scope == ifindex)
            .map(|(key, _)| *key)
            .collect();
        for key in keys {
            self.lsdb.remove(&key);
        }
        self.interfaces.remove(&ifindex);
        self.origination_needed = true;
    }

    /// Runs the interface state machine (section 9.3) for one event.
    pub(crate) fn interface_event(&mut self, ifindex: u32, event: InterfaceEvent, now: Instant) {
        use InterfaceEvent::*;
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        let old = interface.state;
        match (event, old) {
            (InterfaceUp, InterfaceState::Down) => {
                let new = match interface.kind {
                    InterfaceKind::Loopback => InterfaceState::Loopback,
                    InterfaceKind::PointToPoint => InterfaceState::PointToPoint,
                    InterfaceKind::Broadcast if interface.config.priority == 0 => {
                        InterfaceState::DrOther
                    }
                    InterfaceKind::Broadcast => {
                        let wait = Interface::interval(u64::from(interface.config.dead_interval));
                        interface.wait_at = Some(now + wait);
                        InterfaceState::Waiting
                    }
                };
                self.set_interface_state(ifindex, new);
                let interface = &self.interfaces[&ifindex];
                if interface.is_active() {
                    let name = interface.name.clone();
                    self.actions.push(Action::EnableInterface { ifindex, name });
                    // The grace-LSA goes out before the first Hello, which is due at the next timer.
                    self.announce_restart(ifindex, now);
                    if let Some(interface) = self.interfaces.get_mut(&ifindex) {
                        interface.hello_at = Some(now);
                    }
                }
            }
            (WaitTimer | BackupSeen, InterfaceState::Waiting) => {
                interface.wait_at = None;
                self.elect_designated_router(ifindex, now);
            }
            (
                NeighborChange,
                InterfaceState::DrOther | InterfaceState::Backup | InterfaceState::Dr,
            ) => {
                self.elect_designated_router(ifindex, now);
            }
            (InterfaceDown, state) if state != InterfaceState::Down => {
                let active = interface.is_active();
                let addresses: Vec<Ipv4Addr> = interface.neighbors.keys().copied().collect();
                for address in addresses {
                    self.neighbor_event(ifindex, address, NeighborEvent::KillNbr, now);
                }
                if let Some(interface) = self.interfaces.get_mut(&ifindex) {
                    interface.dr = Ipv4Addr::UNSPECIFIED;
                    interface.bdr = Ipv4Addr::UNSPECIFIED;
                    interface.hello_at = None;
                    interface.wait_at = None;
                    interface.delayed_acks.clear();
                    interface.delayed_ack_at = None;
                }
                self.set_interface_state(ifindex, InterfaceState::Down);
                if active {
                    self.actions.push(Action::DisableInterface { ifindex });
                }
            }
            _ => {}
        }
    }

    fn set_interface_state(&mut self, ifindex: u32, new: InterfaceState) {
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        if interface.state == new {
            return;
        }
        info!(interface = %interface.name, from = ?interface.state, to = ?new, "OSPF interface state changed");
        interface.state = new;
        self.origination_needed = true;
    }

    /// Elects the Designated Router and Backup (section 9.4) and applies the result.
    fn elect_designated_router(&mut self, ifindex: u32, now: Instant) {
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        let own_address = interface.address.addr();
        let old_dr = interface.dr;
        let old_bdr = interface.bdr;

        // (router id, address, priority, declared DR, declared BDR) of every eligible router.
        let mut candidates: Vec<(Ipv4Addr, Ipv4Addr, u8, Ipv4Addr, Ipv4Addr)> = interface
            .neighbors
            .values()
            .filter(|neighbor| neighbor.state >= NeighborState::TwoWay && neighbor.priority > 0)
            .map(|neighbor| {
                (
                    neighbor.router_id,
                    neighbor.address,
                    neighbor.priority,
                    neighbor.dr,
                    neighbor.bdr,
                )
            })
            .collect();
        let own_priority = interface.config.priority;
        let mut own_dr = old_dr;
        let mut own_bdr = old_bdr;

        let mut result = (Ipv4Addr::UNSPECIFIED, Ipv4Addr::UNSPECIFIED);
        for pass in 0..2 {
            let mut all = candidates.clone();
            if own_priority > 0 {
                all.push((self.router_id, own_address, own_priority, own_dr, own_bdr));
            }
            let best = |list: &mut dyn Iterator<
                Item = &(Ipv4Addr, Ipv4Addr, u8, Ipv4Addr, Ipv4Addr),
            >| {
                list.max_by_key(|(router_id, _, priority, _, _)| (*priority, u32::from(*router_id)))
                    .map(|candidate| candidate.1)
            };

            // Step 2: the BDR, among the routers not declaring themselves DR.
            let not_dr: Vec<_> = all.iter().filter(|c| c.3 != c.1).collect();
            let declared_bdr = best(&mut not_dr.iter().copied().filter(|c| c.4 == c.1));
            let bdr = declared_bdr
                .or_else(|| best(&mut not_dr.iter().copied()))
                .unwrap_or(Ipv4Addr::UNSPECIFIED);

            // Step 3: the DR, among those declaring themselves DR; else the new BDR.
            let dr = best(&mut all.iter().filter(|c| c.3 == c.1)).unwrap_or(bdr);
            let bdr = if dr == bdr {
                Ipv4Addr::UNSPECIFIED
            } else {
                bdr
            };
            result = (dr, bdr);

            // Step 4: repeat once if this router's own role changed.
            let was = (own_dr == own_address, own_bdr == own_address);
            let is = (dr == own_address, bdr == own_address);
            if pass == 0 && was != is {
                own_dr = dr;
                own_bdr = bdr;
                continue;
            }
            break;
        }
        candidates.clear();

        let (dr, bdr) = result;
        let interface = self.interfaces.get_mut(&ifindex).expect("interface exists");
        interface.dr = dr;
        interface.bdr = bdr;
        let state = if dr == own_address {
            InterfaceState::Dr
        } else if bdr == own_address {
            InterfaceState::Backup
        } else {
            InterfaceState::DrOther
        };
        if dr != old_dr || bdr != old_bdr {
            info!(interface = %interface.name, dr = %dr, bdr = %bdr, "OSPF designated router elected");
        }
        self.set_interface_state(ifindex, state);
        if dr != old_dr || bdr != old_bdr {
            self.origination_needed = true;
            let addresses: Vec<Ipv4Addr> = self.interfaces[&ifindex]
                .neighbors
                .values()
                .filter(|neighbor| neighbor.state >= NeighborState::TwoWay)
                .map(|neighbor| neighbor.address)
                .collect();
            for address in addresses {
                self.neighbor_event(ifindex, address, NeighborEvent::AdjOK, now);
            }
        }
    }

    /// Takes back the DR or BDR role that a neighbor's Hello still gives us after a restart, so
    /// that the election at the end of the Waiting state keeps the pre-restart roles (RFC 3623
    /// section 2.1).
    fn resume_designated_router_role(&mut self, ifindex: u32, hello: &Hello) {
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        if interface.state != InterfaceState::Waiting {
            return;
        }
        let own = interface.address.addr();
        if hello.designated_router == own && interface.dr != own {
            info!(interface = %interface.name, "resuming the DR role held before the restart");
            interface.dr = own;
        } else if hello.backup_designated_router == own && interface.bdr != own {
            info!(interface = %interface.name, "resuming the BDR role held before the restart");
            interface.bdr = own;
        }
    }

    /// Sends a Hello out of the interface (section 9.5).
    fn send_hello(&mut self, ifindex: u32) {
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let neighbors = interface
            .neighbors
            .values()
            .filter(|neighbor| neighbor.state >= NeighborState::Init)
            .map(|neighbor| neighbor.router_id)
            .collect();
        let hello = Hello {
            network_mask: interface.address.netmask(),
            hello_interval: interface.config.hello_interval,
            options: OUR_OPTIONS,
            router_priority: interface.config.priority,
            router_dead_interval: interface.config.dead_interval,
            designated_router: interface.dr,
            backup_designated_router: interface.bdr,
            neighbors,
        };
        self.send(ifindex, ALL_SPF_ROUTERS, PacketBody::Hello(hello));
    }

    /// Processes a received Hello (section 10.5).
    pub(crate) fn receive_hello(
        &mut self,
        ifindex: u32,
        source: Ipv4Addr,
        router_id: Ipv4Addr,
        hello: &Hello,
        now: Instant,
    ) {
        let interface = &self.interfaces[&ifindex];
        if interface.is_broadcast() && hello.network_mask != interface.address.netmask() {
            return self.drop_packet(ifindex, source, DropReason::HelloMaskMismatch);
        }
        if hello.hello_interval != interface.config.hello_interval {
            return self.drop_packet(ifindex, source, DropReason::HelloIntervalMismatch);
        }
        if hello.router_dead_interval != interface.config.dead_interval {
            return self.drop_packet(ifindex, source, DropReason::DeadIntervalMismatch);
        }
        if hello.options.has(Options::E) != OUR_OPTIONS.has(Options::E) {
            return self.drop_packet(ifindex, source, DropReason::HelloOptionsMismatch);
        }

        // A different router behind a known address replaces the old neighbor.
        if interface
            .neighbors
            .get(&source)
            .is_some_and(|neighbor| neighbor.router_id != router_id)
        {
            self.neighbor_event(ifindex, source, NeighborEvent::KillNbr, now);
        }
        let interface = self.interfaces.get_mut(&ifindex).expect("interface exists");
        let is_broadcast = interface.is_broadcast();
        let neighbor = interface
            .neighbors
            .entry(source)
            .or_insert_with(|| Neighbor::new(router_id, source, now));
        let old_priority = neighbor.priority;
        let old_dr = neighbor.dr;
        let old_bdr = neighbor.bdr;
        let was_new = neighbor.state == NeighborState::Down;
        // The neighbor's options, the O-bit above all, come from its Database Description
        // packets (sections 10 and 10.6): FRR 8.4 sets the O-bit there but not in its Hellos.
        // A restarting neighbor that we help keeps its pre-restart priority and DR/BDR roles, so
        // that its Hellos sent while it relearns the segment change no election (RFC 3623
        // section 3.1).
        let helping = neighbor.helper.is_some();
        if !helping {
            neighbor.priority = hello.router_priority;
            if is_broadcast {
                neighbor.dr = hello.designated_router;
                neighbor.bdr = hello.backup_designated_router;
            }
        }

        self.neighbor_event(ifindex, source, NeighborEvent::HelloReceived, now);
        if hello.neighbors.contains(&self.router_id) {
            self.neighbor_event(ifindex, source, NeighborEvent::TwoWayReceived, now);
        } else {
            self.neighbor_event(ifindex, source, NeighborEvent::OneWay, now);
            return;
        }
        if !is_broadcast || helping {
            return;
        }
        if self.restart.is_some() {
            self.resume_designated_router_role(ifindex, hello);
        }

        let state = self.interfaces[&ifindex].state;
        let declares_dr = hello.designated_router == source;
        let declares_bdr = hello.backup_designated_router == source;
        let mut neighbor_change = !was_new && old_priority != hello.router_priority;
        let mut backup_seen = false;
        if declares_dr
            && hello.backup_designated_router.is_unspecified()
            && state == InterfaceState::Waiting
        {
            backup_seen = true;
        } else if (declares_dr != (old_dr == source)) && !was_new {
            neighbor_change = true;
        }
        if declares_bdr && state == InterfaceState::Waiting {
            backup_seen = true;
        } else if (declares_bdr != (old_bdr == source)) && !was_new {
            neighbor_change = true;
        }
        if backup_seen {
            self.interface_event(ifindex, InterfaceEvent::BackupSeen, now);
        }
        if neighbor_change {
            self.interface_event(ifindex, InterfaceEvent::NeighborChange, now);
        }
    }

    /// Runs the timers of one interface and its neighbors that are due at `now`.
    pub(crate) fn interface_timers(&mut self, ifindex: u32, now: Instant) {
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        if interface.hello_at.is_some_and(|at| at <= now) {
            let interval = Interface::interval(u64::from(interface.config.hello_interval));
            interface.hello_at = Some(now + interval);
            self.send_hello(ifindex);
        }
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        if interface.wait_at.is_some_and(|at| at <= now) {
            interface.wait_at = None;
            self.interface_event(ifindex, InterfaceEvent::WaitTimer, now);
        }
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        if interface.delayed_ack_at.is_some_and(|at| at <= now) {
            interface.delayed_ack_at = None;
            self.send_delayed_acks(ifindex);
        }

        self.helper_timers(ifindex, now);
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let addresses: Vec<Ipv4Addr> = interface.neighbors.keys().copied().collect();
        for address in addresses {
            let Some(neighbor) = self.neighbor(ifindex, address) else {
                continue;
            };
            // A helped neighbor outlives its dead interval until its grace period ends.
            if neighbor.inactivity_at <= now && neighbor.helper.is_none() {
                self.neighbor_event(ifindex, address, NeighborEvent::InactivityTimer, now);
                continue;
            }
            if neighbor.dd_retransmit_at.is_some_and(|at| at <= now) {
                self.send_last_dd(ifindex, address, now);
            }
            let Some(neighbor) = self.neighbor(ifindex, address) else {
                continue;
            };
            if neighbor
                .ls_request_retransmit_at
                .is_some_and(|at| at <= now)
            {
                self.send_ls_request(ifindex, address, now);
            }
            let Some(neighbor) = self.neighbor(ifindex, address) else {
                continue;
            };
            if neighbor.ls_retransmit_at.is_some_and(|at| at <= now) {
                self.retransmit_lsas(ifindex, address, now);
            }
        }
    }
}
