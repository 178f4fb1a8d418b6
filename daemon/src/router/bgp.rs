//! The BGP instance inside the core: its events become EVPN inputs, RIB routes and next-hop
//! tracking, and the EVPN control plane's routes become BGP originations.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hna_bfd::{Bfd, SessionKey, SessionParams};
use hna_bgp::instance::{BgpEvent, StartOptions};
use hna_bgp::rib::{Path, RibEvent, Route as BgpRoute};
use hna_bgp::tasks::{Bgp, SpawnOptions};
use hna_bgp::{AfiSafi, PathAttributes, PmsiTunnel};
use hna_evpn::control::{EvpnAttributes, RemoteRoute};
use hna_evpn::{EvpnRoute, EvpnRouteKey};
use hna_rib::{NextHop, Rib, RibError, RibOutput, Route, RouteSource, VrfId};
use ipnet::IpNet;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::underlay::is_failure;
use crate::config::Config;
use crate::settings;

/// The RIB client id of BGP's next-hop tracking.
pub(super) const BGP_CLIENT: hna_rib::ClientId = hna_rib::ClientId(2);

/// The RIB client id that tracks the neighbors' own addresses, so that a session whose first
/// connection attempt found no route connects as soon as the IGP provides one.
pub(super) const NEIGHBOR_CLIENT: hna_rib::ClientId = hna_rib::ClientId(3);

pub(super) struct BgpRuntime {
    handle: Bgp,
    events: mpsc::UnboundedReceiver<BgpEvent>,
    /// A task per BFD session BGP registered, forwarding failures to it.
    bfd_sessions: BTreeMap<IpAddr, JoinHandle<()>>,
    /// IPv4 prefixes of BGP routes in the RIB, with the source (eBGP or iBGP) they went in as.
    ipv4_routes: BTreeMap<ipnet::Ipv4Net, RouteSource>,
}

/// An effect of a BGP event on the rest of the core.
pub(super) enum BgpEffect {
    Rib(Result<RibOutput, RibError>),
    /// A remote EVPN route's best path changed.
    Evpn(EvpnRouteKey, Option<RemoteRoute>),
}

impl BgpRuntime {
    /// Starts the instance the configuration defines, if any. `restarted` means that the
    /// forwarding state survived a graceful restart (RFC 4724 section 4.1); `listen` replaces
    /// the default listen addresses (every address).
    pub fn start(
        config: &Config,
        restarted: bool,
        listen: Option<Vec<IpAddr>>,
    ) -> Result<Option<BgpRuntime>, String> {
        let Some(settings) = settings::bgp(config) else {
            return Ok(None);
        };
        let defaults = SpawnOptions::default();
        let options = SpawnOptions {
            start: StartOptions {
                restarted,
                seed: jitter_seed(&settings),
            },
            listen: listen.unwrap_or(defaults.listen),
            ..defaults
        };
        let (handle, events) =
            Bgp::spawn(settings, options).map_err(|error| format!("cannot start BGP: {error}"))?;
        info!(restarted, "BGP started");
        Ok(Some(BgpRuntime {
            handle,
            events,
            bfd_sessions: BTreeMap::new(),
            ipv4_routes: BTreeMap::new(),
        }))
    }

    /// Tracks the address of every configured neighbor in the RIB.
    pub fn track_neighbors(config: &Config, rib: &mut Rib) -> Vec<Result<RibOutput, RibError>> {
        let Some(bgp) = &config.bgp else {
            return Vec::new();
        };
        bgp.neighbors
            .keys()
            .map(|address| rib.track_next_hop(NEIGHBOR_CLIENT, VrfId::DEFAULT, *address))
            .collect()
    }

    pub fn handle(&self) -> &Bgp {
        &self.handle
    }

    pub async fn next_event(&mut self) -> Option<BgpEvent> {
        self.events.recv().await
    }

    /// Handles one BGP event; what the rest of the core must do is returned.
    pub fn on_event(
        &mut self,
        event: BgpEvent,
        rib: &mut Rib,
        bfd: &Bfd,
        bfd_params: &SessionParams,
    ) -> Vec<BgpEffect> {
        match event {
            BgpEvent::Rib(RibEvent::BestChanged {
                afi_safi,
                route,
                best,
            }) => self.best_changed(afi_safi, route, best.as_deref(), rib),
            BgpEvent::Rib(RibEvent::TrackNexthop(address)) => {
                vec![BgpEffect::Rib(rib.track_next_hop(
                    BGP_CLIENT,
                    VrfId::DEFAULT,
                    address,
                ))]
            }
            BgpEvent::Rib(RibEvent::UntrackNexthop(address)) => {
                rib.untrack_next_hop(BGP_CLIENT, VrfId::DEFAULT, address);
                Vec::new()
            }
            BgpEvent::Rib(other) => {
                debug!(event = ?other, "BGP RIB event not for the owner");
                Vec::new()
            }
            BgpEvent::BfdRegister {
                peer,
                local,
                multihop,
            } => {
                let key = SessionKey {
                    peer,
                    local: Some(local),
                    interface: None,
                    multihop,
                };
                let mut subscription = bfd.register(key, bfd_params.clone());
                let handle = self.handle.clone();
                let task = tokio::spawn(async move {
                    while let Some(change) = subscription.recv().await {
                        if is_failure(&change) {
                            info!(%peer, diagnostic = ?change.diagnostic, "BFD down: closing the BGP session");
                            handle.bfd_down(peer);
                        }
                    }
                });
                if let Some(previous) = self.bfd_sessions.insert(peer, task) {
                    previous.abort();
                }
                Vec::new()
            }
            BgpEvent::BfdUnregister { peer } => {
                if let Some(task) = self.bfd_sessions.remove(&peer) {
                    task.abort();
                }
                Vec::new()
            }
            BgpEvent::SessionState { .. } => Vec::new(),
        }
    }

    fn best_changed(
        &mut self,
        afi_safi: AfiSafi,
        route: BgpRoute,
        best: Option<&Path>,
        rib: &mut Rib,
    ) -> Vec<BgpEffect> {
        match route {
            BgpRoute::Evpn(evpn_route) if afi_safi == AfiSafi::L2VPN_EVPN => {
                let key = evpn_route.key();
                // Our own routes come back as best paths too; the control plane only imports
                // routes learned from peers.
                let remote = best
                    .filter(|path| path.source.is_some())
                    .and_then(remote_route);
                vec![BgpEffect::Evpn(key, remote)]
            }
            BgpRoute::Ipv4(prefix) => {
                let learned = best.filter(|path| path.source.is_some());
                match learned.and_then(|path| path.next_hop) {
                    Some(next_hop) => {
                        let source = if learned.is_some_and(|path| path.external) {
                            RouteSource::Ebgp
                        } else {
                            RouteSource::Ibgp
                        };
                        let route = Route::new(
                            IpNet::V4(prefix),
                            source,
                            vec![NextHop::recursive(next_hop)],
                        );
                        let mut effects = Vec::new();
                        // The system RIB keys routes by source, so a best path that moved between
                        // an internal and an external peer withdraws the old entry first.
                        match self.ipv4_routes.insert(prefix, source) {
                            Some(previous) if previous != source => effects.push(BgpEffect::Rib(
                                rib.withdraw(VrfId::DEFAULT, IpNet::V4(prefix), previous),
                            )),
                            _ => {}
                        }
                        effects.push(BgpEffect::Rib(rib.update(VrfId::DEFAULT, route)));
                        effects
                    }
                    None => match self.ipv4_routes.remove(&prefix) {
                        Some(source) => vec![BgpEffect::Rib(rib.withdraw(
                            VrfId::DEFAULT,
                            IpNet::V4(prefix),
                            source,
                        ))],
                        None => Vec::new(),
                    },
                }
            }
            _ => Vec::new(),
        }
    }

    /// Originates (`Some`) or withdraws (`None`) a route of the EVPN control plane.
    pub fn evpn_route(&self, route: EvpnRoute, attributes: Option<EvpnAttributes>) {
        let bgp_route = BgpRoute::Evpn(route);
        match attributes {
            Some(attributes) => {
                self.handle
                    .originate(AfiSafi::L2VPN_EVPN, bgp_route, path_attributes(&attributes))
            }
            None => self.handle.withdraw(AfiSafi::L2VPN_EVPN, bgp_route),
        }
    }

    /// Passes the reachability of a tracked next hop to BGP.
    pub fn nexthop(&self, address: IpAddr, reachability: &hna_rib::Reachability) {
        let metric = reachability.reachable.then_some(reachability.metric);
        self.handle.nexthop_update(address, metric);
    }

    /// Applies the BGP part of `config`. The error describes what was not applied and why.
    pub async fn reconfigure(&self, config: &Config) -> Result<(), String> {
        let Some(settings) = settings::bgp(config) else {
            return Err(
                "BGP was removed: it keeps running until the daemon is restarted".to_string(),
            );
        };
        self.handle
            .reconfigure(settings)
            .await
            .map_err(|error| format!("BGP rejected the new settings: {error}"))
    }

    pub async fn shutdown(&mut self, graceful: bool) {
        for (_, task) in std::mem::take(&mut self.bfd_sessions) {
            task.abort();
        }
        self.handle.shutdown(graceful).await;
    }
}

/// Returns a seed for the timer jitter that differs between routers and between starts. Two
/// routers with the same seed would draw the same jitter (RFC 4271 section 10), so after a
/// session reset both would reconnect at the same instant and their connections would collide.
fn jitter_seed(settings: &hna_bgp::config::BgpConfig) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    nanos ^ (u64::from(u32::from(settings.router_id)) << 32) ^ u64::from(std::process::id())
}

/// Converts a BGP best path into the control plane's view of a remote route.
fn remote_route(path: &Path) -> Option<RemoteRoute> {
    let BgpRoute::Evpn(route) = &path.route else {
        return None;
    };
    let attributes = &path.attributes;
    let pmsi_tunnel = attributes.pmsi_tunnel.as_ref().and_then(|pmsi| {
        let endpoint = match pmsi.tunnel_identifier.as_slice() {
            [a, b, c, d] => IpAddr::from([*a, *b, *c, *d]),
            bytes if bytes.len() == 16 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(bytes);
                IpAddr::from(octets)
            }
            _ => return None,
        };
        Some(hna_evpn::control::PmsiTunnel {
            tunnel_type: pmsi.tunnel_type,
            label: pmsi.label,
            endpoint,
        })
    });
    Some(RemoteRoute {
        route: route.clone(),
        attributes: EvpnAttributes {
            next_hop: path.next_hop?,
            extended_communities: attributes.extended_communities.clone().unwrap_or_default(),
            pmsi_tunnel,
        },
    })
}

/// Builds the BGP attributes of a locally originated EVPN route.
fn path_attributes(attributes: &EvpnAttributes) -> PathAttributes {
    let next_hop = match attributes.next_hop {
        IpAddr::V4(address) => Some(address),
        IpAddr::V6(_) => None,
    };
    PathAttributes {
        next_hop,
        extended_communities: Some(attributes.extended_communities.clone()),
        pmsi_tunnel: attributes.pmsi_tunnel.as_ref().map(|pmsi| PmsiTunnel {
            flags: 0,
            tunnel_type: pmsi.tunnel_type,
            label: pmsi.label,
            tunnel_identifier: match pmsi.endpoint {
                IpAddr::V4(address) => address.octets().to_vec(),
                IpAddr::V6(address) => address.octets().to_vec(),
            },
        }),
        ..PathAttributes::default()
    }
}
