//! Shared helpers of the BGP interop tests: our speaker running inside a namespace, links
//! between namespaces, configuration builders, and readers of FRR's JSON. Included by the
//! `bgp_*` test files with `mod bgp_support;`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hna_bgp::config::{FamilySettings, NeighborSettings};
use hna_bgp::instance::BgpEvent;
use hna_bgp::rib::{RibEvent, Route};
use hna_bgp::session::State;
use hna_bgp::show::{NeighborDetail, Summary};
use hna_bgp::{AfiSafi, Bgp, BgpConfig, SpawnOptions};
use hna_testkit::{Frr, Netns, veth, wait_until, wait_until_ok};
use tokio::sync::oneshot;

/// Our speaker on a thread of its own inside a namespace, with a single-threaded runtime that
/// thread drives, so that every socket it opens belongs to the namespace.
pub struct Speaker {
    pub bgp: Bgp,
    events: Arc<Mutex<Vec<BgpEvent>>>,
    stop: Option<oneshot::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
    runtime: tokio::runtime::Runtime,
}

impl Speaker {
    /// Starts a speaker in `ns`; panics when it cannot start.
    pub fn start(ns: &Netns, config: BgpConfig, options: SpawnOptions) -> Speaker {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<bool>();
        let thread = ns.spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let (bgp, mut receiver) = match Bgp::spawn(config, options) {
                    Ok(started) => started,
                    Err(error) => {
                        let _ = ready_tx.send(Err(error.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(bgp.clone()));
                let collect = async {
                    while let Some(event) = receiver.recv().await {
                        sink.lock().unwrap().push(event);
                    }
                };
                tokio::select! {
                    stop = stop_rx => {
                        // `true`: a clean shutdown with Cease; `false`: the process dies.
                        if let Ok(true) = stop {
                            bgp.shutdown(false).await;
                        }
                    }
                    () = collect => {}
                }
            });
            // Dropping the runtime here cancels every task and closes every socket, as the
            // end of a process would.
        });
        let bgp = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("speaker thread started")
            .unwrap_or_else(|error| panic!("speaker did not start: {error}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Speaker {
            bgp,
            events,
            stop: Some(stop_tx),
            thread: Some(thread),
            runtime,
        }
    }

    /// Runs a future on the test's runtime (requests to the speaker only wait on channels).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub fn summary(&self) -> Summary {
        self.block_on(self.bgp.summary()).expect("speaker running")
    }

    pub fn neighbor(&self, peer: &str) -> Option<NeighborDetail> {
        let peer = ip(peer);
        self.block_on(self.bgp.neighbors(Some(peer)))
            .expect("speaker running")
            .into_iter()
            .next()
    }

    pub fn state(&self, peer: &str) -> Option<State> {
        self.summary()
            .neighbors
            .into_iter()
            .find(|n| n.address == ip(peer))
            .map(|n| n.state)
    }

    /// Waits until the session with `peer` is Established.
    pub fn wait_established(&self, peer: &str, timeout: Duration) {
        wait_until_ok(
            timeout,
            &format!("our session with {peer} Established"),
            || match self.state(peer) {
                Some(State::Established) => Ok(()),
                other => Err(other),
            },
        );
    }

    /// Returns `accepted` prefixes of `afi_safi` from `peer`, and those sent to it.
    pub fn prefix_counts(&self, peer: &str, afi_safi: AfiSafi) -> Option<(u64, u64, u64)> {
        let summary = self.summary();
        let neighbor = summary
            .neighbors
            .into_iter()
            .find(|n| n.address == ip(peer))?;
        let name = afi_safi.to_string();
        neighbor
            .families
            .into_iter()
            .find(|f| f.afi_safi == name)
            .map(|f| (f.received, f.accepted, f.sent))
    }

    /// Returns the events received so far.
    pub fn events(&self) -> Vec<BgpEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Returns the routes whose last BestChanged event has a best path.
    pub fn best_routes(&self) -> BTreeMap<String, Route> {
        let mut best = BTreeMap::new();
        for event in self.events() {
            if let BgpEvent::Rib(RibEvent::BestChanged {
                route, best: path, ..
            }) = event
            {
                let key = format!("{route:?}");
                match path {
                    Some(_) => best.insert(key, route),
                    None => best.remove(&key),
                };
            }
        }
        best
    }

    /// Stops the speaker the way a crash would: no NOTIFICATION, sockets closed by the end of
    /// the runtime.
    pub fn kill(mut self) {
        self.stop_thread(false);
    }

    /// Stops the speaker with a Cease to every peer.
    pub fn shutdown(mut self) {
        self.stop_thread(true);
    }

    fn stop_thread(&mut self, clean: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(clean);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        self.stop_thread(false);
    }
}

pub fn ip(text: &str) -> IpAddr {
    IpAddr::from_str(text).unwrap_or_else(|_| panic!("invalid address {text}"))
}

/// Joins `a` and `b` with a veth pair (`a_if`, `b_if`) carrying the /24 of the given addresses.
pub fn link(a: &Netns, a_if: &str, a_addr: &str, b: &Netns, b_if: &str, b_addr: &str) {
    veth(a, a_if, b, b_if, 1500);
    a.ip(&["addr", "add", &format!("{a_addr}/24"), "dev", a_if]);
    b.ip(&["addr", "add", &format!("{b_addr}/24"), "dev", b_if]);
    wait_until(Duration::from_secs(5), "link addresses usable", || {
        a.ping(b_addr, 1).then_some(())
    });
}

/// Our configuration: AS `asn`, router id `id`, RFC 8212 off.
pub fn our_config(asn: u32, id: &str) -> BgpConfig {
    let mut config = BgpConfig::new(asn, Ipv4Addr::from_str(id).unwrap());
    config.ebgp_requires_policy = false;
    config
}

/// Builds a neighbor of `remote_as` with fast timers (keepalive 3 s, hold 9 s, connect retry 2 s) and
/// the given families enabled (IPv4 unicast disabled unless listed).
pub fn neighbor(remote_as: u32, families: &[AfiSafi]) -> NeighborSettings {
    let mut settings = NeighborSettings {
        remote_as: Some(remote_as),
        keepalive: Some(3),
        hold_time: Some(9),
        connect_retry: Some(2),
        ..NeighborSettings::default()
    };
    for family in families {
        settings.families.insert(*family, FamilySettings::default());
    }
    if !families.contains(&AfiSafi::IPV4_UNICAST) {
        settings.families.insert(
            AfiSafi::IPV4_UNICAST,
            FamilySettings {
                enabled: Some(false),
                ..FamilySettings::default()
            },
        );
    }
    settings
}

/// Options with a listener on IPv4 only (the test namespaces have no IPv6 addresses).
pub fn options() -> SpawnOptions {
    SpawnOptions {
        listen: vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)],
        ..SpawnOptions::default()
    }
}

/// Returns the peer entry of FRR's `show bgp <family> summary json`, whatever the nesting.
pub fn frr_peer(frr: &Frr, family: &str, peer: &str) -> Option<serde_json::Value> {
    let json = frr.json(&format!("show bgp {family} summary json"));
    let peers = json
        .get("peers")
        .or_else(|| json.as_object()?.values().find_map(|v| v.get("peers")))?;
    peers.get(peer).cloned()
}

/// Returns FRR's state of its session with `peer` in `family`.
pub fn frr_state(frr: &Frr, family: &str, peer: &str) -> Option<String> {
    frr_peer(frr, family, peer)
        .and_then(|p| p.get("state").and_then(|s| s.as_str()).map(str::to_string))
}

/// Waits until FRR reports the session with `peer` Established.
pub fn wait_frr_established(frr: &Frr, family: &str, peer: &str, timeout: Duration) {
    wait_until_ok(
        timeout,
        &format!("FRR session with {peer} Established"),
        || match frr_state(frr, family, peer) {
            Some(state) if state == "Established" => Ok(()),
            other => Err(other),
        },
    );
}

/// Returns (pfxRcd, pfxSnt) of FRR's session with `peer`.
pub fn frr_prefixes(frr: &Frr, family: &str, peer: &str) -> Option<(u64, u64)> {
    let p = frr_peer(frr, family, peer)?;
    Some((p.get("pfxRcd")?.as_u64()?, p.get("pfxSnt")?.as_u64()?))
}

/// One path of FRR's `show bgp l2vpn evpn json`, reduced to what reflection must keep.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EvpnPath {
    pub rd: String,
    pub prefix: String,
    pub next_hop: String,
    pub extended_communities: String,
    pub originator_id: Option<String>,
    pub cluster_list: Vec<String>,
    pub peer: Option<String>,
    pub local_pref: Option<u64>,
    /// FRR prints an empty AS path as `Local`.
    pub as_path: String,
    /// The VNIs of the NLRI's labels.
    pub vni: String,
    pub origin: String,
}

/// Returns every path of FRR's EVPN table (`show bgp l2vpn evpn route detail json`), in
/// (RD, prefix) order.
pub fn frr_evpn_paths(frr: &Frr) -> Vec<EvpnPath> {
    let json = frr.json("show bgp l2vpn evpn route detail json");
    let mut paths = Vec::new();
    let Some(object) = json.as_object() else {
        return paths;
    };
    for (rd, routes) in object {
        let Some(routes) = routes.as_object() else {
            continue;
        };
        for (prefix, route) in routes {
            let Some(list) = route.get("paths").and_then(|p| p.as_array()) else {
                continue;
            };
            // FRR 8.4 nests EVPN paths one array deeper than IP paths.
            let flat: Vec<&serde_json::Value> = list
                .iter()
                .flat_map(|p| {
                    p.as_array()
                        .map(|a| a.iter().collect())
                        .unwrap_or_else(|| vec![p])
                })
                .collect();
            for path in flat {
                let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
                paths.push(EvpnPath {
                    rd: rd.clone(),
                    prefix: prefix.clone(),
                    next_hop: path["nexthops"][0]["ip"].as_str().unwrap_or("").to_string(),
                    extended_communities: path["extendedCommunity"]["string"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    originator_id: text(&path["originatorId"]),
                    cluster_list: path["clusterList"]["list"]
                        .as_array()
                        .map(|l| {
                            l.iter()
                                .filter_map(|c| c.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    peer: text(&path["peer"]["peerId"]),
                    local_pref: path["locPrf"].as_u64(),
                    as_path: path["aspath"]["string"].as_str().unwrap_or("").to_string(),
                    vni: path["vni"].as_str().unwrap_or("").to_string(),
                    origin: path["origin"].as_str().unwrap_or("").to_string(),
                });
            }
        }
    }
    paths.sort();
    paths
}
