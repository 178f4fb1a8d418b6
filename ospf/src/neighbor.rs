//! The neighbor data structure and state machine (RFC 2328 sections 10.1 to 10.4), with the
//! events named as in section 10.2.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::info;

use crate::graceful::{HelperExitReason, HelperState};
use crate::instance::{Action, BfdSession, Instance};
use crate::interface::InterfaceState;
use crate::lsa::{Lsa, LsaHeader, LsaKey, Options};

/// Neighbor states (section 10.1), ordered as the RFC lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum NeighborState {
    Down,
    Attempt,
    Init,
    #[serde(rename = "2-Way")]
    TwoWay,
    ExStart,
    Exchange,
    Loading,
    Full,
}

/// Neighbor events (section 10.2). Start applies to NBMA networks only and is not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighborEvent {
    HelloReceived,
    TwoWayReceived,
    NegotiationDone,
    ExchangeDone,
    BadLSReq,
    LoadingDone,
    AdjOK,
    SeqNumberMismatch,
    OneWay,
    KillNbr,
    InactivityTimer,
    LLDown,
}

/// The last Database Description packet received, for duplicate detection (section 10.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReceivedDd {
    pub flags: u8,
    pub options: Options,
    pub dd_sequence_number: u32,
}

/// The neighbor data structure (section 10).
#[derive(Debug)]
pub(crate) struct Neighbor {
    pub router_id: Ipv4Addr,
    /// The neighbor's interface address, the source of its packets.
    pub address: Ipv4Addr,
    pub priority: u8,
    /// The DR and BDR the neighbor declares in its Hellos (interface addresses).
    pub dr: Ipv4Addr,
    pub bdr: Ipv4Addr,
    pub options: Options,
    pub state: NeighborState,
    pub inactivity_at: Instant,
    /// True when this router is master of the database exchange.
    pub we_are_master: bool,
    pub dd_sequence_number: u32,
    pub last_received_dd: Option<ReceivedDd>,
    /// The last DD sent, resent on retransmission or on a duplicate from the master.
    pub last_sent_dd: Option<crate::packet::DbDescription>,
    /// True once the last DD sent had the M bit clear.
    pub dd_all_sent: bool,
    pub dd_retransmit_at: Option<Instant>,
    pub db_summary: VecDeque<LsaHeader>,
    pub ls_request: BTreeMap<LsaKey, LsaHeader>,
    /// Keys of the last Link State Request sent. The next request goes out once all of them arrived.
    pub ls_request_sent: Vec<LsaKey>,
    pub ls_request_retransmit_at: Option<Instant>,
    pub ls_retransmit: BTreeMap<LsaKey, Arc<Lsa>>,
    pub ls_retransmit_at: Option<Instant>,
    /// The last cryptographic sequence number accepted from the neighbor.
    pub crypto_sequence: Option<u32>,
    pub bfd_registered: bool,
    /// Set while this router helps the neighbor through a graceful restart (RFC 3623 section 3).
    pub helper: Option<HelperState>,
}

impl Neighbor {
    pub(crate) fn new(router_id: Ipv4Addr, address: Ipv4Addr, now: Instant) -> Neighbor {
        Neighbor {
            router_id,
            address,
            priority: 0,
            dr: Ipv4Addr::UNSPECIFIED,
            bdr: Ipv4Addr::UNSPECIFIED,
            options: Options(0),
            state: NeighborState::Down,
            inactivity_at: now,
            we_are_master: true,
            dd_sequence_number: 0,
            last_received_dd: None,
            last_sent_dd: None,
            dd_all_sent: false,
            dd_retransmit_at: None,
            db_summary: VecDeque::new(),
            ls_request: BTreeMap::new(),
            ls_request_sent: Vec::new(),
            ls_request_retransmit_at: None,
            ls_retransmit: BTreeMap::new(),
            ls_retransmit_at: None,
            crypto_sequence: None,
            bfd_registered: false,
            helper: None,
        }
    }

    /// Returns true when our router-LSA and network-LSA list the neighbor as adjacent: it is
    /// Full, or restarting with our help (RFC 3623 section 3).
    pub(crate) fn is_advertised_full(&self) -> bool {
        self.state == NeighborState::Full || self.helper.is_some()
    }

    pub(crate) fn next_timer(&self) -> Option<Instant> {
        // While helping, the grace period replaces the inactivity timer.
        let inactivity = match self.helper {
            Some(helper) => helper.grace_ends_at,
            None => self.inactivity_at,
        };
        [
            Some(inactivity),
            self.dd_retransmit_at,
            self.ls_request_retransmit_at,
            self.ls_retransmit_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Empties the lists of the database exchange and flooding (section 10.3, the actions of
    /// SeqNumberMismatch, OneWay and KillNbr).
    fn clear_lists(&mut self) {
        self.db_summary.clear();
        self.ls_request.clear();
        self.ls_request_sent.clear();
        self.ls_retransmit.clear();
        self.last_sent_dd = None;
        self.last_received_dd = None;
        self.dd_all_sent = false;
        self.dd_retransmit_at = None;
        self.ls_request_retransmit_at = None;
        self.ls_retransmit_at = None;
    }
}

impl Instance {
    /// Returns whether an adjacency should form with the neighbor (section 10.4).
    fn should_be_adjacent(&self, ifindex: u32, address: Ipv4Addr) -> bool {
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return false;
        };
        if !interface.is_broadcast() {
            return true;
        }
        let own = interface.address.addr();
        [own, address]
            .iter()
            .any(|router| *router == interface.dr || *router == interface.bdr)
    }

    /// Runs the neighbor state machine (section 10.3) for one event.
    pub(crate) fn neighbor_event(
        &mut self,
        ifindex: u32,
        address: Ipv4Addr,
        event: NeighborEvent,
        now: Instant,
    ) {
        use NeighborEvent::*;
        use NeighborState::*;

        let adjacent = self.should_be_adjacent(ifindex, address);
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        let dead_interval = Duration::from_secs(u64::from(interface.config.dead_interval));
        let Some(neighbor) = interface.neighbors.get_mut(&address) else {
            return;
        };
        let old = neighbor.state;
        let helping = neighbor.helper.is_some();

        // A restarting neighbor that we help sends Hellos without us until it relearns us; the
        // adjacency stays (RFC 3623 section 3.1).
        if helping && event == OneWay {
            return;
        }

        let new = match (event, old) {
            (HelloReceived, state) => {
                neighbor.inactivity_at = now + dead_interval;
                if state == Down { Init } else { state }
            }
            (TwoWayReceived, Init) => {
                if adjacent {
                    ExStart
                } else {
                    TwoWay
                }
            }
            (NegotiationDone, ExStart) => Exchange,
            (ExchangeDone, Exchange) => {
                if neighbor.ls_request.is_empty() {
                    Full
                } else {
                    Loading
                }
            }
            (LoadingDone, Loading) => Full,
            (AdjOK, TwoWay) if adjacent => ExStart,
            (AdjOK, state) if state >= ExStart && !adjacent => TwoWay,
            (SeqNumberMismatch | BadLSReq, state) if state >= Exchange => ExStart,
            (OneWay, state) if state >= TwoWay => Init,
            (KillNbr | InactivityTimer | LLDown, _) => Down,
            (_, state) => state,
        };
        let restart_exchange = matches!(event, SeqNumberMismatch | BadLSReq) && old >= Exchange;
        if new == old && !restart_exchange {
            return;
        }

        let router_id = neighbor.router_id;
        neighbor.state = new;
        info!(
            interface = %interface.name,
            neighbor = %router_id,
            address = %address,
            from = ?old,
            to = ?new,
            event = ?event,
            "OSPF neighbor state changed"
        );

        if new < ExStart && old >= ExStart || new == ExStart || new == Down {
            neighbor.clear_lists();
        }
        if helping && new == Down {
            *self
                .counters
                .graceful_restart
                .helper_exits
                .entry(HelperExitReason::NeighborDown)
                .or_default() += 1;
            info!(neighbor = %router_id, address = %address, "leaving OSPF graceful restart helper mode: neighbor down");
        }
        match new {
            ExStart => self.start_exchange(ifindex, address, now),
            Exchange => self.build_summary_list(ifindex, address, now),
            Down => self.remove_neighbor(ifindex, address),
            _ => {}
        }
        // A neighbor back to Full stays helped: RFC 3623 section 3.2 ends helping only when the
        // grace-LSA is flushed, the grace period ends or the topology changes. The restarting
        // router still lists its grace-LSA in the database exchange, and leaving here would
        // only enter helper mode again on receiving it.

        if (old == Full) != (new == Full) {
            self.origination_needed = true;
        }
        if (old >= TwoWay) != (new >= TwoWay) {
            self.bidirectional_changed(ifindex, address, router_id, new >= TwoWay, now);
        }
        if new == Exchange || new == Loading {
            self.send_ls_request_if_idle(ifindex, address, now);
        }
    }

    /// Registers or unregisters BFD, and raises NeighborChange on broadcast interfaces, when
    /// bidirectional communication with a neighbor starts or ends.
    fn bidirectional_changed(
        &mut self,
        ifindex: u32,
        address: Ipv4Addr,
        router_id: Ipv4Addr,
        up: bool,
        now: Instant,
    ) {
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        if interface.config.track_bfd {
            let session = BfdSession {
                ifindex,
                interface: interface.name.clone(),
                neighbor: address,
                neighbor_id: router_id,
                local: interface.address.addr(),
            };
            let registered = interface
                .neighbors
                .get(&address)
                .is_some_and(|neighbor| neighbor.bfd_registered);
            if up && !registered {
                if let Some(neighbor) = interface.neighbors.get_mut(&address) {
                    neighbor.bfd_registered = true;
                }
                self.actions.push(Action::BfdRegister(session));
            } else if !up && (registered || !interface.neighbors.contains_key(&address)) {
                if let Some(neighbor) = interface.neighbors.get_mut(&address) {
                    neighbor.bfd_registered = false;
                }
                self.actions.push(Action::BfdUnregister(session));
            }
        }
        let interface = &self.interfaces[&ifindex];
        if interface.is_broadcast()
            && matches!(
                interface.state,
                InterfaceState::DrOther | InterfaceState::Backup | InterfaceState::Dr
            )
        {
            self.interface_event(
                ifindex,
                crate::interface::InterfaceEvent::NeighborChange,
                now,
            );
        }
    }

    /// Deletes a neighbor that went Down, and its traces in other lists.
    fn remove_neighbor(&mut self, ifindex: u32, address: Ipv4Addr) {
        if let Some(interface) = self.interfaces.get_mut(&ifindex) {
            interface.neighbors.remove(&address);
        }
    }

    /// Enters ExStart: a new DD sequence number, claim to be master, send the initial empty DD
    /// (section 10.8) and retransmit it until the exchange starts.
    fn start_exchange(&mut self, ifindex: u32, address: Ipv4Addr, now: Instant) {
        let sequence = self.next_dd_sequence();
        let Some(neighbor) = self.neighbor_mut(ifindex, address) else {
            return;
        };
        neighbor.dd_sequence_number = sequence;
        neighbor.we_are_master = true;
        neighbor.dd_all_sent = false;
        let dd = crate::packet::DbDescription {
            interface_mtu: 0,
            options: crate::instance::OUR_OPTIONS,
            flags: crate::packet::DbDescription::FLAG_I
                | crate::packet::DbDescription::FLAG_M
                | crate::packet::DbDescription::FLAG_MS,
            dd_sequence_number: sequence,
            lsa_headers: Vec::new(),
        };
        neighbor.last_sent_dd = Some(dd);
        self.send_last_dd(ifindex, address, now);
    }

    pub(crate) fn neighbor_mut(
        &mut self,
        ifindex: u32,
        address: Ipv4Addr,
    ) -> Option<&mut Neighbor> {
        self.interfaces
            .get_mut(&ifindex)?
            .neighbors
            .get_mut(&address)
    }

    pub(crate) fn neighbor(&self, ifindex: u32, address: Ipv4Addr) -> Option<&Neighbor> {
        self.interfaces.get(&ifindex)?.neighbors.get(&address)
    }

    /// Returns true when some neighbor on any interface is in state Exchange or Loading, which
    /// keeps MaxAge LSAs in the database (section 14) and changes step 4 of section 13.
    pub(crate) fn any_neighbor_exchanging(&self) -> bool {
        self.interfaces.values().any(|interface| {
            interface.neighbors.values().any(|neighbor| {
                matches!(
                    neighbor.state,
                    NeighborState::Exchange | NeighborState::Loading
                )
            })
        })
    }
}
