//! The state the instance keeps per neighbor beyond its session, and its handling of a session
//! that comes up, goes down or delivers an UPDATE. That covers the RIB calls, RFC 7606 actions,
//! maximum-prefix (RFC 4486) and the graceful restart helper (RFC 4724 section 4.2).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{debug, info, warn};

use super::{BgpEvent, Instance, Output};
use crate::config::PeerConfig;
use crate::message::{Notification, RouteRefresh};
use crate::rib::{PeerFamily, PeerId, PeerInfo, RibError};
use crate::session::{DownReason, Event, PeerGracefulRestart, Session};
use crate::types::AfiSafi;
use crate::wire::{DecodedUpdate, UpdateAction, cease_subcode, error_code};

/// Malformed UPDATEs received from a peer, counted per RFC 7606 action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MalformedCounters {
    pub treat_as_withdraw: u64,
    pub attribute_discard: u64,
    pub afi_safi_disable: u64,
    /// UPDATEs that ended the session (a NOTIFICATION was sent).
    pub session_reset: u64,
}

/// A BFD session registered for a neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BfdRegistration {
    pub(crate) local: IpAddr,
    pub(crate) multihop: bool,
}

/// Graceful restart helper state of a peer whose session went down (RFC 4724 section 4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Helper {
    /// Families whose paths are kept stale.
    pub(crate) families: Vec<AfiSafi>,
    /// The peer must come back before this (its advertised Restart Time).
    pub(crate) restart_deadline: Option<Instant>,
    /// After it came back, its End-of-RIB must arrive before this (our stale-routes time).
    pub(crate) stale_deadline: Option<Instant>,
}

/// One neighbor.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) id: PeerId,
    pub(crate) config: PeerConfig,
    pub(crate) session: Session,
    /// `Rib::peer_up` ran for the current session.
    pub(crate) rib_up: bool,
    /// The peer's graceful restart capability and the RFC 8538 N bit, from the last OPEN.
    pub(crate) graceful_restart: Option<(PeerGracefulRestart, bool)>,
    pub(crate) helper: Option<Helper>,
    pub(crate) bfd: Option<BfdRegistration>,
    pub(crate) malformed: MalformedCounters,
    /// End-of-RIB markers received in the current session.
    pub(crate) end_of_rib: BTreeSet<AfiSafi>,
    /// Families disabled by RFC 7606 in the current session.
    pub(crate) disabled: Vec<AfiSafi>,
    /// UPDATEs held back while a restarting instance defers selection (RFC 4724 section 4.1).
    pub(crate) deferred: Vec<DecodedUpdate>,
}

impl Peer {
    pub fn new(id: PeerId, config: PeerConfig, session: Session) -> Peer {
        Peer {
            id,
            config,
            session,
            rib_up: false,
            graceful_restart: None,
            helper: None,
            bfd: None,
            malformed: MalformedCounters::default(),
            end_of_rib: BTreeSet::new(),
            disabled: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// Returns the families negotiated in the current session, less those RFC 7606 disabled.
    pub fn negotiated_families(&self) -> Vec<AfiSafi> {
        self.session
            .negotiated()
            .map(|n| {
                n.families
                    .iter()
                    .copied()
                    .filter(|f| !self.disabled.contains(f))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn helper_deadline(&self) -> Option<Instant> {
        let helper = self.helper.as_ref()?;
        [helper.restart_deadline, helper.stale_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Builds what the RIB needs to know about the Established session.
    pub fn info(&self) -> Option<PeerInfo> {
        let negotiated = self.session.negotiated()?;
        let endpoints = self.session.endpoints()?;
        let families = negotiated
            .families
            .iter()
            .filter(|f| !self.disabled.contains(f))
            .filter_map(|f| self.config.family(*f))
            .map(|f| PeerFamily {
                afi_safi: f.afi_safi,
                route_reflector_client: f.route_reflector_client,
                route_map_in: f.route_map_in.clone(),
                route_map_out: f.route_map_out.clone(),
                maximum_prefix: f.maximum_prefix,
                soft_reconfiguration_inbound: f.soft_reconfiguration_inbound,
                next_hop_self: f.next_hop_self,
            })
            .collect();
        Some(PeerInfo {
            id: self.id,
            address: self.config.address,
            local_address: super::canonical(endpoints.local.ip()),
            remote_as: negotiated.remote_as,
            bgp_identifier: negotiated.remote_id,
            send_context: negotiated.send.clone(),
            families,
        })
    }
}

impl Instance {
    pub(super) fn peer_established(&mut self, now: Instant, address: IpAddr) {
        let local_as = self.config.asn;
        let gr_enabled = self.config.graceful_restart.enabled;
        let stale_time =
            Duration::from_secs(u64::from(self.config.graceful_restart.stale_routes_time));
        let deferring = self.deferral.is_some();
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        let Some(negotiated) = peer.session.negotiated() else {
            return;
        };
        let peer_gr = negotiated.graceful_restart.clone();
        let n_bit = negotiated.graceful_notification;
        let families = negotiated.families.clone();
        peer.graceful_restart = peer_gr.clone().map(|gr| (gr, n_bit));
        peer.end_of_rib.clear();
        peer.disabled.clear();
        peer.deferred.clear();
        let id = peer.id;

        // BFD is registered once per neighbor, with the source address of the first session.
        if peer.config.track_bfd
            && peer.bfd.is_none()
            && let Some(endpoints) = peer.session.endpoints()
        {
            let registration = super::peer::BfdRegistration {
                local: super::canonical(endpoints.local.ip()),
                multihop: peer.config.bfd_is_multihop(local_as),
            };
            peer.bfd = Some(registration);
            self.outputs.push(Output::Event(BgpEvent::BfdRegister {
                peer: address,
                local: registration.local,
                multihop: registration.multihop,
            }));
        }

        if deferring {
            // The RIB learns of the peer when the deferral ends; until then its UPDATEs wait.
            debug!(peer = %address, "session up during restart deferral");
            return;
        }
        let Some(info) = peer.info() else {
            return;
        };
        self.rib.peer_up(now, info);
        peer.rib_up = true;

        // Helper: the peer came back (RFC 4724 section 4.2). Families it no longer preserves
        // lose their stale paths now; the others wait for End-of-RIB or the stale timer.
        if let Some(mut helper) = peer.helper.take() {
            helper.restart_deadline = None;
            let preserved = |f: &AfiSafi| {
                gr_enabled
                    && peer_gr.as_ref().is_some_and(|gr| {
                        gr.families
                            .iter()
                            .any(|(a, forwarding)| a == f && *forwarding)
                    })
                    && families.contains(f)
            };
            let (kept, dropped): (Vec<AfiSafi>, Vec<AfiSafi>) =
                helper.families.iter().copied().partition(|f| preserved(f));
            for afi_safi in dropped {
                info!(peer = %address, %afi_safi, "peer restarted without forwarding state: stale routes removed");
                self.rib.sweep_stale(id, afi_safi);
            }
            if !kept.is_empty() {
                helper.families = kept;
                helper.stale_deadline = Some(now + stale_time);
                peer.helper = Some(helper);
            }
        }
    }

    pub(super) fn peer_down(&mut self, now: Instant, address: IpAddr, reason: DownReason) {
        if self.shutting_down || reason == DownReason::LocalRestart {
            return;
        }
        let gr_enabled = self.config.graceful_restart.enabled;
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        let was_up = std::mem::replace(&mut peer.rib_up, false);
        peer.deferred.clear();
        let keep: Vec<AfiSafi> = match &peer.graceful_restart {
            Some((gr, n_bit))
                if gr_enabled && gr.restart_time > 0 && reason.keeps_routes(*n_bit) =>
            {
                gr.families
                    .iter()
                    .map(|(f, _)| *f)
                    .filter(|f| !peer.disabled.contains(f))
                    .collect()
            }
            _ => Vec::new(),
        };
        let restart_time = peer
            .graceful_restart
            .as_ref()
            .map_or(0, |(gr, _)| gr.restart_time);
        if was_up {
            self.rib.peer_down(peer.id, &keep);
        } else if let Some(helper) = peer.helper.take() {
            // Down again before its End-of-RIB: the stale paths stay under a new restart timer.
            if keep.is_empty() {
                for afi_safi in helper.families {
                    self.rib.sweep_stale(peer.id, afi_safi);
                }
            }
        }
        if keep.is_empty() {
            peer.helper = None;
            return;
        }
        info!(peer = %address, restart_time, families = keep.len(), "graceful restart helper: keeping routes");
        peer.helper = Some(Helper {
            families: keep,
            restart_deadline: Some(now + Duration::from_secs(u64::from(restart_time))),
            stale_deadline: None,
        });
    }

    /// Runs the helper timers of one peer.
    pub(super) fn poll_helper(&mut self, now: Instant, address: IpAddr) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        let due = peer.helper_deadline().is_some_and(|d| d <= now);
        if !due {
            return;
        }
        let Some(helper) = peer.helper.take() else {
            return;
        };
        let which = if helper.restart_deadline.is_some() {
            "restart"
        } else {
            "stale-path"
        };
        warn!(peer = %address, timer = which, "graceful restart timer expired: stale routes removed");
        for afi_safi in helper.families {
            self.rib.sweep_stale(peer.id, afi_safi);
        }
        let dynamic_gone = peer.config.dynamic && !peer.rib_up;
        if dynamic_gone && peer.session.state() == crate::session::State::Idle {
            self.remove_peer(now, address, None);
        }
    }

    pub(super) fn peer_update(&mut self, now: Instant, address: IpAddr, update: DecodedUpdate) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        if let Some(afi_safi) = update.update.end_of_rib_family() {
            peer.end_of_rib.insert(afi_safi);
            debug!(peer = %address, %afi_safi, "End-of-RIB received");
            if let Some(helper) = &mut peer.helper {
                // The RIB sweeps the family's stale paths when it applies the marker.
                helper.families.retain(|f| *f != afi_safi);
                if helper.families.is_empty() {
                    peer.helper = None;
                }
            }
        }
        if !peer.rib_up {
            if self.deferral.is_some() {
                peer.deferred.push(update);
            }
            return;
        }
        self.apply_update(now, address, update);
    }

    /// Applies an UPDATE to the RIB with its RFC 7606 action, counting malformed ones.
    pub(super) fn apply_update(&mut self, now: Instant, address: IpAddr, update: DecodedUpdate) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        let id = peer.id;
        match &update.action {
            UpdateAction::None => {}
            UpdateAction::TreatAsWithdraw => {
                peer.malformed.treat_as_withdraw += 1;
                warn!(peer = %address, errors = ?update.errors, "malformed UPDATE: treat-as-withdraw");
            }
            UpdateAction::AttributeDiscard(attributes) => {
                peer.malformed.attribute_discard += 1;
                warn!(peer = %address, ?attributes, errors = ?update.errors, "malformed UPDATE: attributes discarded");
            }
            UpdateAction::AfiSafiDisable {
                families,
                notification,
            } => {
                peer.malformed.afi_safi_disable += 1;
                let negotiated = peer.negotiated_families();
                let remaining: Vec<AfiSafi> = negotiated
                    .iter()
                    .copied()
                    .filter(|f| !families.contains(f))
                    .collect();
                if remaining.is_empty() {
                    // Nothing would be left of the session: RFC 7606 section 2 falls back to
                    // session reset.
                    peer.malformed.session_reset += 1;
                    warn!(peer = %address, errors = ?update.errors, "malformed UPDATE: session reset");
                    let actions = peer.session.reset(now, notification.clone());
                    self.apply(now, address, actions);
                    return;
                }
                for afi_safi in families.iter().filter(|f| negotiated.contains(f)) {
                    warn!(peer = %address, %afi_safi, errors = ?update.errors, "malformed UPDATE: family disabled");
                    peer.disabled.push(*afi_safi);
                    self.rib.disable_family(id, *afi_safi);
                }
            }
        }
        if let Err(RibError::MaximumPrefix {
            afi_safi, limit, ..
        }) = self.rib.receive(now, id, &update)
        {
            self.maximum_prefix_reached(now, address, afi_safi, limit);
        }
    }

    /// Ends the session with Cease, Maximum Number of Prefixes Reached (RFC 4486 section 4:
    /// the data is AFI, SAFI and the limit). It stays down until cleared.
    fn maximum_prefix_reached(
        &mut self,
        now: Instant,
        address: IpAddr,
        afi_safi: AfiSafi,
        limit: u32,
    ) {
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        warn!(peer = %address, %afi_safi, limit, "maximum number of prefixes reached");
        let mut data = afi_safi.afi.0.to_be_bytes().to_vec();
        data.push(afi_safi.safi.0);
        data.extend_from_slice(&limit.to_be_bytes());
        let n = Notification {
            code: error_code::CEASE,
            subcode: cease_subcode::MAXIMUM_PREFIXES_REACHED,
            data,
        };
        let actions = peer.session.handle(now, Event::ManualStop(n));
        self.apply(now, address, actions);
    }

    pub(super) fn peer_route_refresh(&mut self, address: IpAddr, refresh: RouteRefresh) {
        let Some(peer) = self.peers.get(&address) else {
            return;
        };
        if !peer.rib_up {
            return;
        }
        match refresh.subtype {
            RouteRefresh::NORMAL => {
                debug!(peer = %address, afi_safi = %refresh.afi_safi, "ROUTE-REFRESH received");
                self.rib.route_refresh(peer.id, refresh.afi_safi);
            }
            // NOTE: the receiver side of enhanced route refresh (stale marking between BoRR
            // and EoRR, RFC 7313 section 4.2) is not done: a path the peer drops during its
            // refresh stays until withdrawn.
            RouteRefresh::BEGINNING | RouteRefresh::END => {
                debug!(peer = %address, afi_safi = %refresh.afi_safi, subtype = refresh.subtype, "enhanced route refresh marker");
            }
            // RFC 7313 section 5: other subtypes are ignored.
            _ => {}
        }
    }
}
