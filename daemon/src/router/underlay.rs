//! The underlay: the OSPF instance, its interfaces, its routes in the RIB, and the single-hop
//! BFD sessions it requests on `track bfd` interfaces.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use hna_bfd::{Bfd, BfdConfig, SessionKey, SessionParams, State, StateChange};
use hna_ospf::InterfaceInfo;
use hna_ospf::io::{Event, Handle};
use hna_rib::{NextHop, Rib, RibOutput, Route, RouteSource, VrfId};
use ipnet::{IpNet, Ipv4Net};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::settings;

struct Ospf {
    handle: Handle,
    events: mpsc::UnboundedReceiver<Event>,
    task: JoinHandle<()>,
    settings: hna_ospf::Config,
    /// Interfaces as last given to the instance, by ifindex.
    interfaces: BTreeMap<u32, InterfaceInfo>,
    /// A task per BFD session the instance registered, forwarding failures to it.
    bfd_sessions: BTreeMap<(u32, Ipv4Addr), JoinHandle<()>>,
    /// Prefixes of OSPF routes in the RIB.
    routes: BTreeSet<Ipv4Net>,
}

pub(super) struct Underlay {
    ospf: Option<Ospf>,
    bfd: Bfd,
    bfd_params: SessionParams,
}

impl Underlay {
    pub async fn start(
        config: &Config,
        since_graceful_stop: Option<std::time::Duration>,
    ) -> Result<Underlay, String> {
        // BFD timers of 100 ms or less need the sender to run on time even when the
        // machine is loaded, so the instance gets a real-time thread of its own.
        let bfd = Bfd::spawn_on_thread(BfdConfig {
            realtime_priority: Some(10),
            ..BfdConfig::default()
        })
        .map_err(|error| format!("cannot start BFD: {error}"))?;
        let bfd_params = settings::bfd_params(config);
        let ospf = match settings::ospf_restarting(config, since_graceful_stop) {
            Some(settings) => Some(start_ospf(settings)?),
            None => None,
        };
        Ok(Underlay {
            ospf,
            bfd,
            bfd_params,
        })
    }

    pub fn ospf_running(&self) -> bool {
        self.ospf.is_some()
    }

    pub fn bfd(&self) -> &Bfd {
        &self.bfd
    }

    pub fn bfd_params(&self) -> &SessionParams {
        &self.bfd_params
    }

    pub fn ospf_handle(&self) -> Option<&Handle> {
        self.ospf.as_ref().map(|ospf| &ospf.handle)
    }

    /// Stops OSPF as a graceful restart begins (RFC 3623 section 2): grace-LSAs go out and
    /// are acknowledged, the LSAs stay, and the routes stay in the kernel.
    pub async fn graceful_shutdown(&mut self, config: &Config) {
        let Some(ospf) = self.ospf.take() else { return };
        if ospf.settings.graceful_restart.restart_enabled {
            let grace_period = settings::ospf_grace_period(config);
            match ospf.handle.graceful_shutdown(grace_period).await {
                Some(outcome) => info!(
                    unacknowledged = outcome.unacknowledged.len(),
                    waited_ms = outcome.waited.as_millis() as u64,
                    "OSPF grace-LSAs sent"
                ),
                None => warn!("OSPF had stopped before its graceful shutdown"),
            }
        }
        for task in ospf.bfd_sessions.into_values() {
            task.abort();
        }
        ospf.task.abort();
    }

    /// Waits for the next OSPF event; never returns without an OSPF instance.
    pub async fn next_ospf_event(&mut self) -> Option<Event> {
        match &mut self.ospf {
            Some(ospf) => ospf.events.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Handles an OSPF event and returns the RIB's outputs.
    pub fn on_ospf_event(&mut self, event: Event, rib: &mut Rib) -> Vec<RibOutput> {
        let Some(ospf) = &mut self.ospf else {
            return Vec::new();
        };
        match event {
            Event::Routes(update) => install_routes(ospf, update, rib),
            Event::BfdRegister(session) => {
                let key = SessionKey {
                    peer: IpAddr::V4(session.neighbor),
                    local: Some(IpAddr::V4(session.local)),
                    interface: Some(session.interface.clone()),
                    multihop: false,
                };
                let mut subscription = self.bfd.register(key, self.bfd_params.clone());
                let handle = ospf.handle.clone();
                let (ifindex, neighbor) = (session.ifindex, session.neighbor);
                let task = tokio::spawn(async move {
                    while let Some(change) = subscription.recv().await {
                        if is_failure(&change) {
                            info!(%neighbor, ifindex, diagnostic = ?change.diagnostic, "BFD down: killing the OSPF adjacency");
                            handle.bfd_down(ifindex, neighbor);
                        }
                    }
                });
                if let Some(previous) = ospf.bfd_sessions.insert((ifindex, neighbor), task) {
                    previous.abort();
                }
                Vec::new()
            }
            Event::BfdUnregister(session) => {
                if let Some(task) = ospf
                    .bfd_sessions
                    .remove(&(session.ifindex, session.neighbor))
                {
                    // Aborting drops the subscription, which unregisters the client.
                    task.abort();
                }
                Vec::new()
            }
        }
    }

    /// Re-reads the namespace's interfaces and passes the changes to OSPF.
    pub fn refresh_interfaces(&mut self) {
        let Some(ospf) = &mut self.ospf else { return };
        let current = match hna_ospf::io::read_interfaces() {
            Ok(interfaces) => interfaces,
            Err(error) => {
                warn!(%error, "cannot read interfaces");
                return;
            }
        };
        let current: BTreeMap<u32, InterfaceInfo> = current
            .into_iter()
            .map(|info| (info.ifindex, info))
            .collect();
        for (ifindex, info) in &current {
            if ospf.interfaces.get(ifindex) != Some(info) {
                debug!(interface = %info.name, up = info.up, "interface changed");
                ospf.handle.update_interface(info.clone());
            }
        }
        for ifindex in ospf.interfaces.keys() {
            if !current.contains_key(ifindex) {
                ospf.handle.remove_interface(*ifindex);
            }
        }
        ospf.interfaces = current;
    }

    /// Applies a new configuration. OSPF is restarted only when its own settings changed,
    /// since the instance takes its settings at start.
    pub fn reconfigure(&mut self, config: &Config, rib: &mut Rib) -> Vec<RibOutput> {
        self.bfd_params = settings::bfd_params(config);
        let wanted = settings::ospf(config);
        let current = self.ospf.as_ref().map(|ospf| &ospf.settings);
        if wanted.as_ref() == current {
            return Vec::new();
        }
        let mut outputs = Vec::new();
        if let Some(old) = self.ospf.take() {
            info!("OSPF settings changed: restarting the instance");
            old.task.abort();
            for task in old.bfd_sessions.into_values() {
                task.abort();
            }
            for prefix in old.routes {
                if let Ok(output) =
                    rib.withdraw(VrfId::DEFAULT, IpNet::V4(prefix), RouteSource::Ospf)
                {
                    outputs.push(output);
                }
            }
        }
        if let Some(settings) = wanted {
            match start_ospf(settings) {
                Ok(ospf) => self.ospf = Some(ospf),
                Err(error) => warn!(%error, "cannot start OSPF"),
            }
        }
        outputs
    }
}

fn start_ospf(settings: hna_ospf::Config) -> Result<Ospf, String> {
    let interfaces = hna_ospf::io::read_interfaces()
        .map_err(|error| format!("cannot read interfaces: {error}"))?;
    let (handle, events, task) = hna_ospf::io::spawn(settings.clone(), interfaces.clone())
        .map_err(|error| format!("invalid OSPF settings: {error}"))?;
    info!(router_id = %settings.router_id, "OSPF started");
    Ok(Ospf {
        handle,
        events,
        task,
        settings,
        interfaces: interfaces
            .into_iter()
            .map(|info| (info.ifindex, info))
            .collect(),
        bfd_sessions: BTreeMap::new(),
        routes: BTreeSet::new(),
    })
}

fn install_routes(ospf: &mut Ospf, update: hna_ospf::RouteUpdate, rib: &mut Rib) -> Vec<RibOutput> {
    let mut outputs = Vec::new();
    for prefix in update.removed {
        ospf.routes.remove(&prefix);
        if let Ok(output) = rib.withdraw(VrfId::DEFAULT, IpNet::V4(prefix), RouteSource::Ospf) {
            outputs.push(output);
        }
    }
    for route in update.changed {
        let next_hops: Vec<NextHop> = route
            .next_hops
            .iter()
            .map(|hop| match hop.address {
                Some(address) => NextHop::via(IpAddr::V4(address), &hop.interface),
                None => NextHop::connected(&hop.interface),
            })
            .collect();
        let rib_route = Route::new(IpNet::V4(route.prefix), RouteSource::Ospf, next_hops)
            .with_metric(route.cost)
            .with_distance(hna_ospf::DISTANCE);
        match rib.update(VrfId::DEFAULT, rib_route) {
            Ok(output) => {
                ospf.routes.insert(route.prefix);
                outputs.push(output);
            }
            Err(error) => warn!(prefix = %route.prefix, %error, "RIB rejected an OSPF route"),
        }
    }
    outputs
}

/// Returns whether a BFD state change means the path failed. A peer that signals AdminDown (for
/// example while it restarts gracefully) does not take the client down (RFC 5882 section 3.2).
pub(super) fn is_failure(change: &StateChange) -> bool {
    change.previous == State::Up
        && change.state == State::Down
        && change.remote_state != State::AdminDown
}
