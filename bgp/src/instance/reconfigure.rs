//! Applying a new configuration to a running instance without touching the sessions it does
//! not affect: neighbors added, removed or changed, policy and identity updates, listener keys.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use tracing::info;

use super::peer::BfdRegistration;
use super::{BgpEvent, Instance, Output, local_info};
use crate::config::{BgpConfig, ConfigError, PeerConfig};
use crate::message::Notification;
use crate::session::cease;
use crate::session::{Event, State};
use crate::wire::cease_subcode;

impl Instance {
    /// Applies `config`. The configuration is validated first and nothing changes when it is
    /// invalid. A new AS or router id resets every session; a changed neighbor is reset only
    /// when its OPEN or connection would differ ([`PeerConfig::needs_reset`]).
    pub fn reconfigure(
        &mut self,
        now: Instant,
        config: BgpConfig,
    ) -> Result<Vec<Output>, ConfigError> {
        config.validate()?;
        let old = std::mem::replace(&mut self.config, config);
        let identity_changed = old.asn != self.config.asn || old.router_id != self.config.router_id;
        if local_info(&old) != local_info(&self.config) {
            self.rib.set_local(local_info(&self.config));
        }
        if !Arc::ptr_eq(&old.policy, &self.config.policy) && old.policy != self.config.policy {
            info!("policy changed: re-applying route-maps");
            self.rib.set_policy(self.config.policy.clone());
        }

        // Resolve every current neighbor against the new configuration; `None` removes it.
        let addresses: Vec<IpAddr> = self.peers.keys().copied().collect();
        for address in addresses {
            let Some(peer) = self.peers.get(&address) else {
                continue;
            };
            let resolved = if peer.config.dynamic {
                self.config
                    .listen_range_for(address)
                    .and_then(|range| self.config.dynamic_config(address, &range.group).ok())
                    .filter(|_| !self.config.neighbors.contains_key(&address))
            } else {
                self.config.neighbor_config(address).ok()
            };
            match resolved {
                None => {
                    let n = cease(cease_subcode::PEER_DECONFIGURED);
                    self.remove_peer(now, address, Some(n));
                }
                Some(new) => self.change_peer(now, address, new, identity_changed),
            }
        }
        let added: Vec<IpAddr> = self
            .config
            .neighbors
            .keys()
            .filter(|a| !self.peers.contains_key(a))
            .copied()
            .collect();
        for address in added {
            let config = self.config.neighbor_config(address)?;
            info!(peer = %address, "neighbor added");
            self.add_peer(now, config);
        }
        self.sync_listener_keys();
        self.drain_rib(now);
        Ok(std::mem::take(&mut self.outputs))
    }

    /// Moves one peer to its new settings.
    fn change_peer(
        &mut self,
        now: Instant,
        address: IpAddr,
        new: PeerConfig,
        identity_changed: bool,
    ) {
        let settings = self.session_settings(new.clone());
        let Some(peer) = self.peers.get_mut(&address) else {
            return;
        };
        if peer.config == new && !identity_changed && *peer.session.settings() == settings {
            return;
        }
        let old = std::mem::replace(&mut peer.config, new.clone());
        peer.session.set_settings(settings);

        // BFD follows `track bfd` without touching the session.
        if old.track_bfd && !new.track_bfd && peer.bfd.take().is_some() {
            self.outputs
                .push(Output::Event(BgpEvent::BfdUnregister { peer: address }));
        }
        if !old.track_bfd
            && new.track_bfd
            && let Some(endpoints) = peer.session.endpoints()
        {
            let registration = BfdRegistration {
                local: super::canonical(endpoints.local.ip()),
                multihop: new.bfd_is_multihop(self.config.asn),
            };
            peer.bfd = Some(registration);
            self.outputs.push(Output::Event(BgpEvent::BfdRegister {
                peer: address,
                local: registration.local,
                multihop: registration.multihop,
            }));
        }

        let actions = if new.shutdown && !old.shutdown {
            let text = new.shutdown_message.as_deref().unwrap_or("");
            let n = Notification::with_shutdown_communication(
                cease_subcode::ADMINISTRATIVE_SHUTDOWN,
                text,
            );
            info!(peer = %address, "neighbor shut down");
            peer.session.handle(now, Event::ManualStop(n))
        } else if !new.shutdown && old.shutdown {
            info!(peer = %address, "neighbor no longer shut down");
            peer.session.handle(now, Event::ManualStart)
        } else if !new.shutdown && (identity_changed || old.needs_reset(&new)) {
            info!(peer = %address, "neighbor settings changed: resetting the session");
            if peer.session.state() == State::Idle {
                Vec::new()
            } else {
                peer.session
                    .reset(now, cease(cease_subcode::OTHER_CONFIGURATION_CHANGE))
            }
        } else {
            Vec::new()
        };
        let reset = !actions.is_empty();
        self.apply(now, address, actions);
        if reset {
            return;
        }

        // Policy, route reflection or limits of an Established peer: the RIB takes the new
        // family settings (resending its Adj-RIB-Out), and a new inbound route-map re-runs
        // inbound policy.
        let Some(peer) = self.peers.get(&address) else {
            return;
        };
        if !peer.rib_up || old.families == new.families {
            return;
        }
        let Some(info) = peer.info() else {
            return;
        };
        let id = peer.id;
        let inbound_changed: Vec<_> = new
            .families
            .iter()
            .filter(|f| old.family(f.afi_safi).map(|o| &o.route_map_in) != Some(&f.route_map_in))
            .map(|f| f.afi_safi)
            .collect();
        self.rib.peer_up(now, info);
        for afi_safi in inbound_changed {
            self.rib.soft_reset_in(id, afi_safi);
        }
    }
}
