//! Shared helpers of the OSPF interop tests: running our instance inside a namespace, and
//! reading FRR's OSPF database. Included by the `ospf_*` test files with `#[path]`.

#![allow(dead_code)]

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use hna_ospf::io::{Event, Handle};
use hna_ospf::{BfdSession, Config, NeighborSnapshot, RoutingTable};
use hna_testkit::Netns;

/// Our OSPF instance running on a thread inside a namespace.
pub struct Ours {
    handle: Option<Handle>,
    runtime: tokio::runtime::Runtime,
    thread: Option<JoinHandle<()>>,
    /// The last routing table the instance published.
    pub routes: Arc<Mutex<RoutingTable>>,
    /// BFD requests in the order the instance made them.
    pub bfd_events: Arc<Mutex<Vec<Event>>>,
    /// When a BFD session left Up and OSPF received `bfd_down`, with the neighbor address.
    pub bfd_downs: Arc<Mutex<Vec<(std::time::Instant, Ipv4Addr)>>>,
}

/// Registers the BFD session OSPF asked for and reports it to OSPF when it leaves Up.
fn watch_bfd(
    bfd: &hna_bfd::Bfd,
    params: hna_bfd::session::SessionParams,
    session: &BfdSession,
    handle: Handle,
    downs: Arc<Mutex<Vec<(std::time::Instant, Ipv4Addr)>>>,
) -> tokio::task::JoinHandle<()> {
    let key = hna_bfd::SessionKey::single_hop(session.neighbor.into())
        .with_local(session.local.into())
        .with_interface(session.interface.clone());
    let mut subscription = bfd.register(key, params);
    let (ifindex, neighbor) = (session.ifindex, session.neighbor);
    tokio::spawn(async move {
        while let Some(change) = subscription.recv().await {
            if change.previous == hna_bfd::State::Up && change.state != hna_bfd::State::Up {
                handle.bfd_down(ifindex, neighbor);
                downs
                    .lock()
                    .unwrap()
                    .push((std::time::Instant::now(), neighbor));
            }
        }
    })
}

impl Ours {
    /// Starts an instance in `ns` over the namespace's interfaces, as read by
    /// `hna_ospf::io::read_interfaces`.
    pub fn start(ns: &Netns, config: Config) -> Ours {
        Ours::start_inner(ns, config, None, None)
    }

    /// Starts an instance that also follows interface changes, polling them every `period`.
    pub fn start_watching(ns: &Netns, config: Config, period: std::time::Duration) -> Ours {
        Ours::start_inner(ns, config, None, Some(period))
    }

    /// Starts an instance wired to an hna-bfd instance in the same namespace: each BFD request
    /// registers a single-hop session with `params`, and a session leaving Up reports
    /// `bfd_down` to OSPF. The time of each report goes to `bfd_downs`.
    pub fn start_with_bfd(
        ns: &Netns,
        config: Config,
        params: hna_bfd::session::SessionParams,
    ) -> Ours {
        Ours::start_inner(ns, config, Some(params), None)
    }

    fn start_inner(
        ns: &Netns,
        config: Config,
        bfd_params: Option<hna_bfd::session::SessionParams>,
        watch: Option<std::time::Duration>,
    ) -> Ours {
        let routes = Arc::new(Mutex::new(RoutingTable::default()));
        let bfd_events = Arc::new(Mutex::new(Vec::new()));
        let bfd_downs = Arc::new(Mutex::new(Vec::new()));
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (routes_in, bfd_in, downs_in) = (routes.clone(), bfd_events.clone(), bfd_downs.clone());
        let thread = ns.spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let interfaces = hna_ospf::io::read_interfaces().expect("read interfaces");
                let (handle, mut events, task) =
                    hna_ospf::io::spawn(config, interfaces).expect("valid configuration");
                handle_tx.send(handle.clone()).expect("test still waiting");
                let watcher = watch.map(|period| {
                    tokio::spawn(hna_ospf::io::watch_interfaces(handle.clone(), period))
                });
                // BFD runs on its own real-time thread, so that a loaded test machine does not
                // delay its packets past the peer's 300 ms detection time.
                let bfd_config = hna_bfd::BfdConfig {
                    realtime_priority: Some(50),
                    ..Default::default()
                };
                let bfd = bfd_params
                    .as_ref()
                    .map(|_| hna_bfd::Bfd::spawn_on_thread(bfd_config).expect("BFD sockets"));
                let collector = tokio::spawn(async move {
                    let mut watchers: HashMap<BfdSession, tokio::task::JoinHandle<()>> =
                        HashMap::new();
                    while let Some(event) = events.recv().await {
                        match &event {
                            Event::Routes(update) => {
                                *routes_in.lock().unwrap() = update.table.clone()
                            }
                            Event::BfdRegister(session) => {
                                if let (Some(bfd), Some(params)) = (&bfd, &bfd_params) {
                                    let watcher = watch_bfd(
                                        bfd,
                                        params.clone(),
                                        session,
                                        handle.clone(),
                                        downs_in.clone(),
                                    );
                                    watchers.insert(session.clone(), watcher);
                                }
                            }
                            Event::BfdUnregister(session) => {
                                if let Some(watcher) = watchers.remove(session) {
                                    watcher.abort();
                                }
                            }
                        }
                        if !matches!(event, Event::Routes(_)) {
                            bfd_in.lock().unwrap().push(event);
                        }
                    }
                    for watcher in watchers.into_values() {
                        watcher.abort();
                    }
                });
                let _ = task.await;
                collector.abort();
                if let Some(watcher) = watcher {
                    watcher.abort();
                }
            });
        });
        let handle = handle_rx.recv().expect("instance started");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Ours {
            handle: Some(handle),
            runtime,
            thread: Some(thread),
            routes,
            bfd_events,
            bfd_downs,
        }
    }

    pub fn handle(&self) -> &Handle {
        self.handle.as_ref().expect("running")
    }

    pub fn neighbors(&self) -> Vec<NeighborSnapshot> {
        self.runtime.block_on(self.handle().neighbors())
    }

    /// Returns the state of the neighbor with router id `id`, if known.
    pub fn neighbor_state(&self, id: Ipv4Addr) -> Option<hna_ospf::NeighborState> {
        self.neighbors()
            .into_iter()
            .find(|n| n.neighbor_id == id)
            .map(|n| n.state)
    }

    /// Returns (LS type, Link State ID, Advertising Router, sequence) of our LSDB (scope 0).
    pub fn lsdb(&self) -> BTreeSet<(u8, Ipv4Addr, Ipv4Addr, u32)> {
        self.runtime
            .block_on(self.handle().database())
            .into_iter()
            .filter(|lsa| lsa.scope == 0)
            .map(|lsa| {
                (
                    lsa.ls_type.0,
                    lsa.link_state_id,
                    lsa.advertising_router,
                    lsa.sequence,
                )
            })
            .collect()
    }

    pub fn runtime_block_database(&self) -> Vec<hna_ospf::LsaSnapshot> {
        self.runtime.block_on(self.handle().database())
    }

    pub fn runtime_block_interfaces(&self) -> Vec<hna_ospf::show::InterfaceSnapshot> {
        self.runtime.block_on(self.handle().interfaces())
    }

    pub fn counters(&self) -> hna_ospf::Counters {
        self.runtime.block_on(self.handle().counters())
    }

    pub fn routes(&self) -> RoutingTable {
        self.routes.lock().unwrap().clone()
    }

    pub fn bfd_sessions(&self) -> Vec<BfdSession> {
        let mut active: Vec<BfdSession> = Vec::new();
        for event in self.bfd_events.lock().unwrap().iter() {
            match event {
                Event::BfdRegister(session) => active.push(session.clone()),
                Event::BfdUnregister(session) => active.retain(|s| s != session),
                Event::Routes(_) => {}
            }
        }
        active
    }
}

impl Ours {
    /// Stops the instance for a graceful restart (grace-LSAs announcing `grace_period`, no
    /// flush) and waits for its thread; queries afterwards panic.
    pub fn graceful_stop(
        &mut self,
        grace_period: std::time::Duration,
    ) -> hna_ospf::io::GracefulShutdown {
        let handle = self.handle.take().expect("running");
        let outcome = self
            .runtime
            .block_on(handle.graceful_shutdown(grace_period))
            .expect("instance running");
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        outcome
    }

    pub fn graceful_restart(&self) -> hna_ospf::show::GracefulRestartSnapshot {
        self.runtime
            .block_on(self.handle().graceful_restart())
            .expect("instance running")
    }

    /// Stops the instance and waits for its thread; queries afterwards panic.
    pub fn stop(&mut self) {
        // Stopping the instance closes its event channel, which ends the namespace thread.
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Ours {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Returns (LS type, Link State ID, Advertising Router, sequence) of every area and AS-scope LSA
/// in FRR's `show ip ospf database json`.
pub fn frr_lsdb(json: &serde_json::Value) -> BTreeSet<(u8, Ipv4Addr, Ipv4Addr, u32)> {
    let mut found = BTreeSet::new();
    collect_frr_lsas(json, None, &mut found);
    found
}

fn frr_type(key: &str) -> Option<u8> {
    Some(match key {
        "routerLinkStates" => 1,
        "networkLinkStates" => 2,
        "summaryLinkStates" => 3,
        "asbrSummaryLinkStates" => 4,
        "asExternalLinkStates" => 5,
        "areaLocalOpaqueLinkStates" => 10,
        "asExternalOpaqueLinkStates" => 11,
        _ => return None,
    })
}

fn collect_frr_lsas(
    value: &serde_json::Value,
    ls_type: Option<u8>,
    found: &mut BTreeSet<(u8, Ipv4Addr, Ipv4Addr, u32)>,
) {
    match value {
        serde_json::Value::Object(map) => {
            if let (Some(ls_type), Some(id), Some(adv), Some(seq)) = (
                ls_type,
                map.get("lsId"),
                map.get("advertisedRouter"),
                map.get("sequenceNumber"),
            ) {
                let parse =
                    |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<Ipv4Addr>().ok());
                let sequence = seq
                    .as_str()
                    .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok());
                if let (Some(id), Some(adv), Some(sequence)) = (parse(id), parse(adv), sequence) {
                    found.insert((ls_type, id, adv, sequence));
                }
                return;
            }
            for (key, child) in map {
                collect_frr_lsas(child, frr_type(key).or(ls_type), found);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_frr_lsas(item, ls_type, found);
            }
        }
        _ => {}
    }
}

/// FRR configuration lines of an OSPF router with fast timers, loopback in area 0, and the
/// listed interfaces in area 0 (each with its extra lines).
pub fn frr_ospf_config(router_id: &str, interfaces: &[(&str, &[&str])]) -> String {
    let mut config = String::from("interface lo\n ip ospf area 0\n!\n");
    for (name, extra) in interfaces {
        config.push_str(&format!(
            "interface {name}\n ip ospf area 0\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n ip ospf retransmit-interval 1\n"
        ));
        for line in *extra {
            config.push_str(&format!(" {line}\n"));
        }
        config.push_str("!\n");
    }
    config.push_str(&format!(
        "router ospf\n ospf router-id {router_id}\n log-adjacency-changes detail\n timers throttle lsa all 100\n timers lsa min-arrival 50\n timers throttle spf 0 50 1000\n!\n"
    ));
    config
}

/// Our configuration matching `frr_ospf_config`: fast timers on every interface.
pub fn our_config(router_id: &str, network_type: hna_ospf::NetworkType) -> Config {
    let mut config =
        Config::new(router_id.parse().unwrap()).network("10.0.0.0/16".parse().unwrap());
    config.default_interface.network_type = network_type;
    config.default_interface.hello_interval = 1;
    config.default_interface.dead_interval = 4;
    config.default_interface.retransmit_interval = 1;
    config.lsa_throttle.min_ls_interval = std::time::Duration::from_millis(100);
    config.lsa_throttle.min_ls_arrival = std::time::Duration::from_millis(50);
    config
}
