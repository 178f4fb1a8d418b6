//! The restarting speaker of RFC 4724 section 4.1. After a restart with forwarding state
//! preserved, the instance receives its peers' routes but defers best-path selection and its
//! own UPDATEs. It waits until every peer that advertised graceful restart has sent End-of-RIB
//! for its families and the owner has originated its local routes again, or until the
//! selection-deferral timer expires. Only then does the RIB learn of the peers. So the first
//! UPDATEs each peer gets carry the whole table followed by End-of-RIB, and a helper that kept
//! our stale routes sweeps only those we no longer announce.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use super::Instance;
use crate::config::GracefulRestartConfig;
use crate::session::State;

/// The selection deferral of a restarting instance.
#[derive(Debug, Clone)]
pub(super) struct Deferral {
    pub deadline: Instant,
    /// The owner called `LocalRoutesReady`.
    pub local_ready: bool,
}

impl Deferral {
    pub fn new(now: Instant, config: &GracefulRestartConfig) -> Deferral {
        Deferral {
            deadline: now + Duration::from_secs(u64::from(config.select_defer_time)),
            local_ready: false,
        }
    }
}

impl Instance {
    /// Ends the deferral once its conditions hold.
    pub(super) fn check_deferral(&mut self, now: Instant) {
        let Some(deferral) = &self.deferral else {
            return;
        };
        if !deferral.local_ready {
            return;
        }
        // Every configured neighbor that is not shut down must be Established, and those that
        // advertised graceful restart with a nonzero restart time must have sent End-of-RIB
        // for every negotiated family. Dynamic neighbors are not waited for, since they may
        // never connect.
        let waiting = self.peers.values().any(|peer| {
            if peer.config.dynamic && peer.session.state() != State::Established {
                return false;
            }
            if peer.config.shutdown {
                return false;
            }
            if peer.session.state() != State::Established {
                return true;
            }
            match &peer.graceful_restart {
                Some((gr, _)) if gr.restart_time > 0 => peer
                    .negotiated_families()
                    .iter()
                    .any(|f| !peer.end_of_rib.contains(f)),
                _ => false,
            }
        });
        if waiting {
            return;
        }
        self.finish_deferral(now);
    }

    /// Ends the deferral: the RIB learns of every Established peer and its held-back UPDATEs,
    /// and from now on OPENs no longer carry Restart State.
    pub(super) fn finish_deferral(&mut self, now: Instant) {
        if self.deferral.take().is_none() {
            return;
        }
        info!("graceful restart deferral finished: selecting best paths and sending End-of-RIB");
        let addresses: Vec<IpAddr> = self.peers.keys().copied().collect();
        for address in &addresses {
            let Some(config) = self.peers.get(address).map(|p| p.config.clone()) else {
                continue;
            };
            let settings = self.session_settings(config);
            let Some(peer) = self.peers.get_mut(address) else {
                continue;
            };
            peer.session.set_settings(settings);
            if peer.session.state() != State::Established || peer.rib_up {
                continue;
            }
            let Some(info) = peer.info() else {
                continue;
            };
            self.rib.peer_up(now, info);
            peer.rib_up = true;
            let deferred = std::mem::take(&mut peer.deferred);
            debug!(peer = %address, updates = deferred.len(), "replaying deferred UPDATEs");
            for update in deferred {
                self.apply_update(now, *address, update);
            }
        }
    }
}
