//! The daemon's core: one task that owns the RIB, the EVPN control plane and the handles of the
//! protocol instances, and moves what each produces to the others.
//!
//! ```text
//!   plane events ──► connected routes, local MACs/neighbors ──► RIB, EVPN
//!   OSPF routes ───► RIB ──► plane (routes), next-hop reachability ──► BGP
//!   BGP best paths ─► EVPN ──► plane (MACs, neighbors, flood lists), RIB (tenant routes)
//!   EVPN local routes ──► BGP
//!   BFD state ─────► OSPF, BGP
//! ```
//!
//! Inputs arrive on channels and are handled one at a time. Each handler queues its effects,
//! and [`Router::flush`] applies them until nothing is left, so every input's consequences are
//! complete before the next input is read.

mod bgp;
mod interfaces;
mod overlay;
mod show;
mod underlay;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hna_rib::{Change, Notification, PlaneEvent, Rib, RibOutput, VrfId};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::config::Config;
use crate::control::{ControlRequest, Response};
use crate::metrics::{Metric, MetricsRequest};
use crate::plane::PlaneThread;
use crate::settings;

/// Messages to the core from the tasks around it.
pub enum CoreMessage {
    Control(ControlRequest),
    Metrics(MetricsRequest),
    /// Re-read the configuration file (SIGHUP or `hna-routectl reload`); the reply reports
    /// whether the new configuration was applied.
    Reload(Option<oneshot::Sender<Result<String, String>>>),
    /// Stop: `graceful` keeps forwarding state for a graceful restart.
    Shutdown {
        graceful: bool,
    },
}

/// Settings of a core that do not come from the configuration file.
#[derive(Debug, Clone, Default)]
pub struct RouterOptions {
    /// Prefix of the tenant namespaces' names, so that several daemons share a machine.
    pub netns_prefix: String,
    /// The configuration file, re-read on reload.
    pub config_path: Option<std::path::PathBuf>,
    /// Set up the kernel's interfaces from the configuration (the Linux plane); tests on the
    /// in-memory plane leave it off.
    pub set_up_interfaces: bool,
    /// Time since the previous run stopped gracefully, leaving its forwarding state in the
    /// kernel; BGP (RFC 4724 section 4.1) and OSPF (RFC 3623) restart gracefully when it is
    /// within their restart times. `None` for a cold start.
    pub since_graceful_stop: Option<Duration>,
    /// Addresses the BGP listener binds to; `None` binds every address (0.0.0.0 and ::), as
    /// the daemon does. Several cores that share one namespace each listen on their own
    /// loopback address instead.
    pub bgp_listen: Option<Vec<std::net::IpAddr>>,
}

/// The core's state. See the module documentation.
pub struct Router {
    config: Arc<Config>,
    options: RouterOptions,
    plane: PlaneThread,
    rib: Rib,
    vrf_ids: BTreeMap<String, VrfId>,
    interfaces: Option<interfaces::Interfaces>,
    underlay: underlay::Underlay,
    overlay: overlay::Overlay,
    bgp: Option<bgp::BgpRuntime>,
    /// Whether BGP has been notified that every local route is originated (graceful restart).
    local_routes_announced: bool,
    /// The VRFs whose initial state (links, addresses, MACs, neighbors) the plane has not
    /// finished reporting. The local routes are complete once this is empty.
    initial_state_pending: BTreeSet<VrfId>,
    /// The layer-2 entries (remote MACs, neighbors, flood lists) the overlay has installed, for
    /// the resynchronisation after a graceful restart.
    l2_entries: BTreeMap<hna_rib::EntryKey, hna_rib::Entry>,
    /// When to resynchronise the plane after a graceful restart; `None` once done.
    resync: Option<Resync>,
    /// Underlay prefixes whose routes the plane held at a graceful restart, in the RIB as
    /// [`hna_rib::RouteSource::Retained`] until the resynchronisation.
    retained: Vec<ipnet::IpNet>,
    /// Plane changes and RIB outputs waiting for [`Router::flush`].
    pending_plane: Vec<Change>,
    pending_rib: Vec<RibOutput>,
    started: Instant,
}

/// How long after the start the core waits for the plane to report the initial state of every
/// VRF before it notifies BGP that the local routes are complete anyway.
const INITIAL_STATE_DEADLINE: Duration = Duration::from_secs(5);

/// The RIB client id of the core's own requests (redistribution of connected routes).
const CORE_CLIENT: hna_rib::ClientId = hna_rib::ClientId(1);

impl Router {
    /// Builds the core for `config` on `plane` and starts the protocol instances it configures.
    /// Must run inside a tokio runtime, on a thread in the daemon's (underlay) namespace.
    pub async fn start(
        config: Config,
        options: RouterOptions,
        plane: PlaneThread,
    ) -> Result<Router, String> {
        let config = Arc::new(config);
        let mut rib = Rib::new();
        let mut vrf_ids = BTreeMap::new();
        for (name, vrf) in &config.l3vrfs {
            let Some(table) = vrf.table_id else { continue };
            // The RIB has no routes yet, so adding a VRF has no output to apply.
            rib.add_vrf(name, VrfId(table))
                .map_err(|error| format!("l3vrf {name}: {error}"))?;
            vrf_ids.insert(name.clone(), VrfId(table));
        }

        // Interfaces come first: OSPF reads them at start, BGP binds to the loopback address,
        // and the plane must know the tenants' namespaces before EVPN installs anything.
        let interfaces = if options.set_up_interfaces {
            let router_id = settings::router_id(&config).unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            let router_mac = hna_rib::MacAddr(settings::router_mac(router_id).octets());
            let interfaces = interfaces::Interfaces::new(crate::dataplane::DataplaneOptions::new(
                &options.netns_prefix,
                router_mac,
            ));
            interfaces.apply(&plane, Arc::clone(&config)).await?;
            Some(interfaces)
        } else {
            None
        };

        // A cold start removes what an earlier run left in the plane. A graceful restart keeps
        // it forwarding and removes only what is stale once the protocols have converged.
        let resync = match options.since_graceful_stop {
            Some(elapsed) => Some(Resync::after_restart(&config, elapsed)),
            None => {
                let report = plane.call(|plane| plane.resync(&[])).await;
                match report {
                    Ok(Ok(report)) => info!(
                        removed = report.removed,
                        "stale forwarding entries of an earlier run removed"
                    ),
                    Ok(Err(error)) | Err(error) => {
                        warn!(%error, "cannot read the plane's earlier entries")
                    }
                }
                None
            }
        };

        let initial_state_pending = std::iter::once(VrfId::DEFAULT)
            .chain(vrf_ids.values().copied())
            .collect();
        let now = Instant::now();
        let underlay = underlay::Underlay::start(&config, options.since_graceful_stop).await?;
        let overlay = overlay::Overlay::start(now, &config, &vrf_ids);
        let bgp_restarted = options
            .since_graceful_stop
            .is_some_and(|elapsed| elapsed < settings::bgp_restart_time(&config));
        let bgp = bgp::BgpRuntime::start(&config, bgp_restarted, options.bgp_listen.clone())?;
        let mut router = Router {
            config,
            options,
            plane,
            rib,
            vrf_ids,
            interfaces,
            underlay,
            overlay,
            bgp,
            local_routes_announced: false,
            initial_state_pending,
            l2_entries: BTreeMap::new(),
            resync,
            retained: Vec::new(),
            pending_plane: Vec::new(),
            pending_rib: Vec::new(),
            started: now,
        };
        if router.resync.is_some() {
            router.retain_underlay_routes().await;
        }
        if router.bgp.is_some() {
            for output in bgp::BgpRuntime::track_neighbors(&router.config, &mut router.rib) {
                router.queue_rib(output);
            }
        }
        for vrf in router.vrf_ids.values().copied().collect::<Vec<_>>() {
            let output = router
                .rib
                .redistribute(CORE_CLIENT, vrf, hna_rib::RouteSource::Connected);
            router.queue_rib(output);
        }
        router.flush().await;
        info!(
            bgp = router.bgp.is_some(),
            ospf = router.underlay.ospf_running(),
            evpn = router.overlay.running(),
            vrfs = router.vrf_ids.len(),
            "router started"
        );
        Ok(router)
    }

    /// Runs the core until a shutdown message arrives. `plane_events` are the plane's
    /// notifications; `messages` carries control, metrics, reload and shutdown requests.
    pub async fn run(
        mut self,
        mut plane_events: hna_rib::EventReceiver,
        mut messages: mpsc::Receiver<CoreMessage>,
    ) -> bool {
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(1),
            Duration::from_secs(1),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some(event) = plane_events.recv() => self.on_plane_event(event).await,
                Some(event) = next_bgp_event(&mut self.bgp) => self.on_bgp_event(event),
                Some(event) = self.underlay.next_ospf_event() => {
                    let output = self.underlay.on_ospf_event(event, &mut self.rib);
                    for output in output {
                        self.queue_rib(Ok(output));
                    }
                }
                message = messages.recv() => match message {
                    None => return false,
                    Some(CoreMessage::Control((request, reply))) => {
                        let response = self.control(request).await;
                        let _ = reply.send(response);
                    }
                    Some(CoreMessage::Metrics(reply)) => {
                        let metrics = self.metrics().await;
                        let _ = reply.send(metrics);
                    }
                    Some(CoreMessage::Reload(reply)) => {
                        let outcome = self.reload().await;
                        if let Some(reply) = reply {
                            let _ = reply.send(outcome);
                        }
                    }
                    Some(CoreMessage::Shutdown { graceful }) => {
                        self.shutdown(graceful).await;
                        return graceful;
                    }
                },
                _ = tick.tick() => {
                    self.overlay.poll(Instant::now());
                    if self.started.elapsed() >= INITIAL_STATE_DEADLINE
                        && !self.local_routes_announced
                    {
                        warn!(
                            vrfs = ?self.initial_state_pending,
                            "the plane has not reported the initial state of every VRF: \
                             announcing the local routes as they are"
                        );
                        self.announce_local_routes();
                    }
                    self.resync_when_converged().await;
                }
            }
            self.flush().await;
        }
    }

    async fn on_plane_event(&mut self, event: PlaneEvent) {
        match &event {
            PlaneEvent::Link { vrf, name, .. } if *vrf == VrfId::DEFAULT => {
                if let Some(interfaces) = &self.interfaces {
                    interfaces.link_appeared(&self.plane, name.clone()).await;
                }
                self.underlay.refresh_interfaces();
            }
            PlaneEvent::LinkRemoved { vrf, .. } if *vrf == VrfId::DEFAULT => {
                self.underlay.refresh_interfaces();
            }
            PlaneEvent::Address {
                vrf,
                interface,
                address,
                added,
            } => {
                if *vrf == VrfId::DEFAULT {
                    self.underlay.refresh_interfaces();
                }
                // Loopback addresses (127.0.0.0/8, ::1) never leave a host (RFC 1122 section
                // 3.2.1.3), so their prefix is no connected route: redistributing it would
                // advertise every tenant namespace's 127.0.0.0/8 as an EVPN type-5 route.
                if address.addr().is_loopback() {
                    return;
                }
                let route = hna_rib::Route::new(
                    address.trunc(),
                    hna_rib::RouteSource::Connected,
                    vec![hna_rib::NextHop::connected(interface)],
                );
                let output = if *added {
                    self.rib.update(*vrf, route)
                } else {
                    self.rib
                        .withdraw(*vrf, address.trunc(), hna_rib::RouteSource::Connected)
                };
                self.queue_rib(output);
            }
            PlaneEvent::LocalMac { .. } | PlaneEvent::LocalNeighbor { .. } => {
                let vrf_name = self.vrf_name(event_vrf(&event));
                self.overlay
                    .on_local_event(Instant::now(), &event, vrf_name.as_deref());
            }
            PlaneEvent::InitialStateComplete { vrf } => {
                let was_pending = self.initial_state_pending.remove(vrf);
                if was_pending && self.initial_state_pending.is_empty() {
                    info!("initial state of every VRF read from the plane: local routes complete");
                    self.announce_local_routes();
                }
            }
            _ => {}
        }
    }

    fn on_bgp_event(&mut self, event: hna_bgp::BgpEvent) {
        let Some(bgp) = &mut self.bgp else { return };
        let effects = bgp.on_event(
            event,
            &mut self.rib,
            self.underlay.bfd(),
            self.underlay.bfd_params(),
        );
        for effect in effects {
            match effect {
                bgp::BgpEffect::Rib(output) => self.queue_rib(output),
                bgp::BgpEffect::Evpn(key, remote) => {
                    self.overlay.remote_route(Instant::now(), key, remote)
                }
            }
        }
    }

    /// Tells a restarted BGP instance that the local routes are originated again, once the
    /// plane's initial state (local MACs, neighbors, tenant subnets) has been read.
    fn announce_local_routes(&mut self) {
        if self.local_routes_announced {
            return;
        }
        self.local_routes_announced = true;
        if let Some(bgp) = &self.bgp {
            bgp.handle().local_routes_ready();
        }
    }

    /// After a graceful restart, replaces the plane's content with what the protocols want
    /// once they have converged: every BGP session Established for a while and OSPF out of
    /// its restart, or the restart time over.
    async fn resync_when_converged(&mut self) {
        let Some(resync) = &mut self.resync else {
            return;
        };
        let now = Instant::now();
        let ospf_restarting = match self.underlay.ospf_handle() {
            Some(handle) => handle
                .graceful_restart()
                .await
                .is_some_and(|state| state.restarting),
            None => false,
        };
        let bgp_established = match &self.bgp {
            Some(bgp) => match bgp.handle().summary().await {
                Ok(summary) => summary
                    .neighbors
                    .iter()
                    .filter(|neighbor| !neighbor.dynamic)
                    .all(|neighbor| neighbor.state == hna_bgp::session::State::Established),
                Err(_) => false,
            },
            None => true,
        };
        if !resync.due(now, bgp_established && !ospf_restarting) {
            return;
        }
        self.resync = None;
        for prefix in std::mem::take(&mut self.retained) {
            let output = self
                .rib
                .withdraw(VrfId::DEFAULT, prefix, hna_rib::RouteSource::Retained);
            self.queue_rib(output);
        }
        self.flush().await;
        let mut wanted = self.rib.southbound_entries();
        wanted.extend(self.l2_entries.values().cloned());
        match self.plane.call(move |plane| plane.resync(&wanted)).await {
            Ok(Ok(report)) => info!(
                removed = report.removed,
                installed = report.installed,
                unchanged = report.unchanged,
                failed = report.failed.len(),
                "forwarding plane resynchronised after the graceful restart"
            ),
            Ok(Err(error)) | Err(error) => warn!(%error, "plane resynchronisation failed"),
        }
    }

    /// Puts the underlay routes that the plane kept through a graceful restart in the RIB as
    /// retained routes. Until OSPF and BGP have reconverged, BGP next hops then resolve as they
    /// did before the restart, so that the restarted daemon does not withdraw forwarding
    /// entries the kernel still uses.
    async fn retain_underlay_routes(&mut self) {
        let kept = match self.plane.call(|plane| plane.dump()).await {
            Ok(Ok(kept)) => kept,
            Ok(Err(error)) | Err(error) => {
                warn!(%error, "cannot read the routes kept through the restart");
                return;
            }
        };
        for entry in kept {
            let hna_rib::Entry::Route(route) = entry else {
                continue;
            };
            if route.vrf != VrfId::DEFAULT {
                continue;
            }
            let retained = hna_rib::Route::new(
                route.prefix,
                hna_rib::RouteSource::Retained,
                route.next_hops,
            );
            let output = self.rib.update(VrfId::DEFAULT, retained);
            if output.is_ok() {
                self.retained.push(route.prefix);
            }
            self.queue_rib(output);
        }
        info!(
            routes = self.retained.len(),
            "underlay routes kept through the graceful restart retained until reconvergence"
        );
    }

    fn vrf_name(&self, vrf: VrfId) -> Option<String> {
        self.vrf_ids
            .iter()
            .find(|(_, id)| **id == vrf)
            .map(|(name, _)| name.clone())
    }

    fn queue_rib(&mut self, output: Result<RibOutput, hna_rib::RibError>) {
        match output {
            Ok(output) => self.pending_rib.push(output),
            Err(error) => warn!(%error, "RIB rejected an update"),
        }
    }

    /// Applies queued effects until none are left: EVPN outputs feed the RIB and the plane,
    /// RIB outputs feed the plane and the RIB's clients.
    async fn flush(&mut self) {
        loop {
            let overlay_outputs = self.overlay.take_outputs(&self.vrf_ids, &mut self.rib);
            for change in &overlay_outputs.plane {
                match change {
                    Change::Install(entry) => {
                        self.l2_entries.insert(entry.key(), entry.clone());
                    }
                    Change::Remove(key) => {
                        self.l2_entries.remove(key);
                    }
                }
            }
            self.pending_plane.extend(overlay_outputs.plane);
            if let Some(bgp) = &self.bgp {
                for (route, attributes) in overlay_outputs.bgp {
                    bgp.evpn_route(route, attributes);
                }
            }
            for output in overlay_outputs.rib {
                self.queue_rib(output);
            }

            let rib_outputs = std::mem::take(&mut self.pending_rib);
            let mut notifications = Vec::new();
            for output in rib_outputs {
                self.pending_plane.extend(output.southbound);
                notifications.extend(output.notifications);
            }

            // The plane first: a client notified that an address became reachable (BGP
            // connecting to a neighbor) must find the route in the kernel already.
            let changes = std::mem::take(&mut self.pending_plane);
            if !changes.is_empty() {
                self.plane.apply(changes).await;
            }
            for notification in notifications {
                self.on_rib_notification(notification);
            }
            if self.pending_rib.is_empty()
                && self.pending_plane.is_empty()
                && !self.overlay.has_outputs()
            {
                break;
            }
        }
    }

    fn on_rib_notification(&mut self, notification: Notification) {
        match notification {
            Notification::Redistribute {
                vrf,
                prefix,
                source: hna_rib::RouteSource::Connected,
                route,
                ..
            } => {
                if let Some(name) = self.vrf_name(vrf) {
                    self.overlay.vrf_connected(&name, prefix, route.is_some());
                }
            }
            Notification::Redistribute { .. } => {}
            Notification::NextHop {
                client,
                address,
                reachability,
                ..
            } if client == bgp::BGP_CLIENT => {
                if let Some(bgp) = &self.bgp {
                    bgp.nexthop(address, &reachability);
                }
            }
            Notification::NextHop {
                client,
                address,
                reachability,
                ..
            } if client == bgp::NEIGHBOR_CLIENT && reachability.reachable => {
                if let Some(bgp) = &self.bgp {
                    bgp.handle().peer_reachable(address);
                }
            }
            Notification::NextHop { .. } => {}
        }
    }

    async fn reload(&mut self) -> Result<String, String> {
        let Some(path) = self.options.config_path.clone() else {
            return Err("no configuration file to reload".into());
        };
        let config = match crate::config::load(&path) {
            Ok(config) => config,
            Err(errors) => {
                // A SIGHUP has no caller to return the errors to, so the log must name them.
                warn!(file = %path.display(), errors = errors.errors.len(), error = %errors, "reload rejected: invalid configuration");
                return Err(errors.to_string());
            }
        };
        if config == *self.config {
            return Ok("configuration unchanged".into());
        }
        let config = Arc::new(config);
        if let Some(interfaces) = &self.interfaces {
            interfaces.apply(&self.plane, Arc::clone(&config)).await?;
        }
        self.reconcile_vrfs(&config);
        // Changes the running daemon cannot apply, reported to the caller with the outcome.
        let mut not_applied = Vec::new();
        match &self.bgp {
            Some(bgp) => {
                if let Err(note) = bgp.reconfigure(&config).await {
                    not_applied.push(note);
                }
                for output in bgp::BgpRuntime::track_neighbors(&config, &mut self.rib) {
                    self.queue_rib(output);
                }
            }
            None if config.bgp.is_some() => not_applied
                .push("BGP was added: it starts at the next start of the daemon".to_string()),
            None => {}
        }
        let now = Instant::now();
        self.overlay.reconfigure(now, &config, &self.vrf_ids);
        for output in self.underlay.reconfigure(&config, &mut self.rib) {
            self.queue_rib(Ok(output));
        }
        self.config = config;
        self.refill_overlay().await;
        if not_applied.is_empty() {
            info!(file = %path.display(), "configuration reloaded");
            return Ok("configuration reloaded".into());
        }
        warn!(file = %path.display(), not_applied = ?not_applied, "configuration reloaded in part");
        Ok(format!(
            "configuration reloaded, except:\n{}",
            not_applied
                .iter()
                .map(|note| format!("  {note}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    }

    /// Feeds the overlay its local state again after a reconfiguration. A MAC-VRF or IP-VRF
    /// that the reconfiguration created or re-created starts empty, and the plane and the RIB
    /// reported that state only when it appeared. A MAC-VRF learns the MACs and neighbors its
    /// bridge already contains (as FRR's zebra reads a VNI's FDB and neighbor tables when the
    /// VNI is added), and an IP-VRF its tenant's connected subnets. An entry an instance already
    /// has changes nothing.
    async fn refill_overlay(&mut self) {
        if !self.overlay.running() {
            return;
        }
        for vrf in self.vrf_ids.values().copied().collect::<Vec<_>>() {
            let output = self
                .rib
                .redistribute(CORE_CLIENT, vrf, hna_rib::RouteSource::Connected);
            self.queue_rib(output);
        }
        // The plane applies the reconfiguration's entries first (remote MACs that replace
        // local ones in a bridge, entries of removed MAC-VRFs), so that the kernel's tables
        // are read as the overlay left them. The report arrives later as plane events.
        self.flush().await;
        if let Err(error) = self
            .plane
            .call(|plane| plane.report_learned_entries())
            .await
        {
            warn!(%error, "cannot request the plane's learned MACs and neighbors again");
        }
    }

    /// Adds the RIB tables of new L3VRFs and removes those of deleted ones.
    fn reconcile_vrfs(&mut self, config: &Config) {
        let wanted: BTreeMap<String, VrfId> = config
            .l3vrfs
            .iter()
            .filter_map(|(name, vrf)| Some((name.clone(), VrfId(vrf.table_id?))))
            .collect();
        let removed: Vec<(String, VrfId)> = self
            .vrf_ids
            .iter()
            .filter(|(name, id)| wanted.get(*name) != Some(id))
            .map(|(name, id)| (name.clone(), *id))
            .collect();
        for (name, id) in removed {
            self.vrf_ids.remove(&name);
            self.rib
                .stop_redistribute(CORE_CLIENT, id, hna_rib::RouteSource::Connected);
            let output = self.rib.remove_vrf(id);
            self.queue_rib(output);
        }
        for (name, id) in wanted {
            if self.vrf_ids.contains_key(&name) {
                continue;
            }
            let output = self.rib.add_vrf(&name, id);
            self.queue_rib(output);
            let output = self
                .rib
                .redistribute(CORE_CLIENT, id, hna_rib::RouteSource::Connected);
            self.queue_rib(output);
            self.vrf_ids.insert(name, id);
        }
    }

    async fn shutdown(&mut self, graceful: bool) {
        info!(graceful, "router stopping");
        if let Some(bgp) = &mut self.bgp {
            bgp.shutdown(graceful).await;
        }
        if graceful {
            // The kernel keeps every route, FDB and neighbor entry, and the tenants' devices,
            // for the next start to take over.
            self.underlay.graceful_shutdown(&self.config).await;
            return;
        }
        self.overlay.withdraw_all();
        self.flush().await;
        // Routes of the default VRF (OSPF, BGP) would otherwise stay in the kernel after the
        // daemon that maintained them is gone.
        match self.plane.call(|plane| plane.resync(&[])).await {
            Ok(Ok(report)) => info!(removed = report.removed, "forwarding entries removed"),
            Ok(Err(error)) | Err(error) => warn!(%error, "cannot remove the forwarding entries"),
        }
        if let Some(interfaces) = &self.interfaces {
            interfaces.teardown(&self.plane).await;
        }
    }

    async fn control(&mut self, request: crate::control::Request) -> Response {
        show::handle(self, request).await
    }

    async fn metrics(&mut self) -> Vec<Metric> {
        show::metrics(self).await
    }

    /// Time since the core started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Returns the configuration in effect.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

fn event_vrf(event: &PlaneEvent) -> VrfId {
    match event {
        PlaneEvent::Link { vrf, .. }
        | PlaneEvent::LinkRemoved { vrf, .. }
        | PlaneEvent::Address { vrf, .. }
        | PlaneEvent::LocalMac { vrf, .. }
        | PlaneEvent::LocalNeighbor { vrf, .. }
        | PlaneEvent::InitialStateComplete { vrf } => *vrf,
    }
}

/// Returns the name of a tenant's namespace for this daemon.
pub fn tenant_namespace(options: &RouterOptions, l3vrf: &str) -> String {
    settings::vrf_namespace(&options.netns_prefix, l3vrf)
}

/// Waits for the next BGP event; never returns without a BGP instance.
async fn next_bgp_event(bgp: &mut Option<bgp::BgpRuntime>) -> Option<hna_bgp::BgpEvent> {
    match bgp {
        Some(bgp) => bgp.next_event().await,
        None => std::future::pending().await,
    }
}

/// When the plane is resynchronised after a graceful restart.
struct Resync {
    /// Resynchronise at the latest then, converged or not.
    deadline: Instant,
    /// Since when the protocols have looked converged.
    converged_since: Option<Instant>,
}

impl Resync {
    /// How long the protocols must look converged before stale entries are removed: the routes
    /// of the peers' End-of-RIB arrive within this after the sessions are up.
    const SETTLE: Duration = Duration::from_secs(5);

    fn after_restart(config: &Config, since_stop: Duration) -> Resync {
        let restart_time =
            settings::bgp_restart_time(config).max(settings::ospf_grace_period(config));
        let left = restart_time.saturating_sub(since_stop).max(Self::SETTLE);
        Resync {
            deadline: Instant::now() + left,
            converged_since: None,
        }
    }

    fn due(&mut self, now: Instant, converged: bool) -> bool {
        if !converged {
            self.converged_since = None;
            return now >= self.deadline;
        }
        let since = *self.converged_since.get_or_insert(now);
        now.duration_since(since) >= Self::SETTLE || now >= self.deadline
    }
}
