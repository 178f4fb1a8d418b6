//! The seed fabric's overlay in one process: the daemon's core for leaf1 (route reflector),
//! hna1 and hna2, each on the in-memory plane, with the seed configurations and the seed's six
//! pods reported as local MACs and neighbors. Each HNA's plane must end with exactly the
//! expected flood lists, remote MACs, neighbors and tenant routes, leaks included, and must lose
//! the other HNA's entries when they are withdrawn.
//!
//! The cores share one network namespace whose `lo` has their loopback addresses, so their
//! BGP sessions run over real TCP. leaf2, the seed's second reflector, joins only the test of a
//! reflector failing. The configurations are the seed's files without the
//! lines this setting cannot serve. OSPF goes, because there are no links and the loopbacks are
//! local addresses anyway. `track bfd` goes, because several BFD instances in one namespace
//! bind the same UDP port and the kernel delivers each datagram to one of them only.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use hna_rib::{Change, Entry, InMemoryPlane, MacAddr, PlaneEvent, Vni, VrfId};
use hna_routed::config;
use hna_routed::control::Request;
use hna_routed::plane::PlaneThread;
use hna_routed::router::{CoreMessage, Router, RouterOptions};
use hna_testkit::{Netns, wait_until_ok};
use tokio::sync::{mpsc, oneshot};

const GREEN: VrfId = VrfId(100);
const RED: VrfId = VrfId(101);

const HNA1: &str = "10.0.0.1";
const HNA2: &str = "10.0.0.2";
const LEAF1: &str = "10.0.0.201";
const LEAF2: &str = "10.0.0.202";

/// Deadline for the sessions to come up and the planes to converge, which takes well under a
/// second on a 2-core test machine.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

/// A pod of the seed: its HNA, subnet bridge, L2VNI, tenant, bridge port, address and the MAC
/// the test gives it.
#[derive(Clone, Copy)]
struct Pod {
    name: &'static str,
    hna: &'static str,
    bridge: &'static str,
    vni: u32,
    vrf: VrfId,
    port: &'static str,
    ip: &'static str,
    mac: &'static str,
}

/// The seed's pods (`examples/seed/cluster.toml`). green3 and red3 share 10.61.0.3 in two
/// tenants.
#[rustfmt::skip]
const PODS: [Pod; 6] = [
    Pod { name: "green1", hna: HNA1, bridge: "br10000", vni: 10000, vrf: GREEN, port: "vho-1000000000", ip: "10.60.0.1", mac: "02:00:00:60:00:01" },
    Pod { name: "green2", hna: HNA1, bridge: "br10000", vni: 10000, vrf: GREEN, port: "vho-1000000001", ip: "10.60.0.2", mac: "02:00:00:60:00:02" },
    Pod { name: "red1", hna: HNA1, bridge: "br10100", vni: 10100, vrf: RED, port: "veth-1000000002", ip: "10.62.0.1", mac: "02:00:00:62:00:01" },
    Pod { name: "green3", hna: HNA2, bridge: "br10001", vni: 10001, vrf: GREEN, port: "vho-2000000000", ip: "10.61.0.3", mac: "02:00:00:61:00:03" },
    Pod { name: "red2", hna: HNA2, bridge: "br10100", vni: 10100, vrf: RED, port: "veth-2000000001", ip: "10.62.0.2", mac: "02:00:00:62:00:02" },
    Pod { name: "red3", hna: HNA2, bridge: "br10101", vni: 10101, vrf: RED, port: "veth-2000000002", ip: "10.61.0.3", mac: "02:01:00:61:00:03" },
];

/// The subnet bridges of both HNAs, with their tenant and gateway address.
const SUBNET_BRIDGES: [(&str, VrfId, &str); 4] = [
    ("br10000", GREEN, "10.60.0.254/16"),
    ("br10001", GREEN, "10.61.0.254/16"),
    ("br10101", RED, "10.61.0.254/16"),
    ("br10100", RED, "10.62.0.254/16"),
];

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn mac(text: &str) -> MacAddr {
    text.parse().unwrap()
}

fn vni(value: u32) -> Vni {
    Vni::new(value).unwrap()
}

/// Reads a seed configuration without its OSPF and `track bfd` lines (see the module
/// documentation), plus `extra` lines.
fn seed_config(file: &str, extra: &[&str]) -> config::Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/seed")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("read the seed configuration");
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|line| {
            !(line.contains(" routing ospf")
                || line.contains(" ip ospf")
                || line.ends_with(" track bfd"))
        })
        .collect();
    lines.extend_from_slice(extra);
    config::parse(&lines.join("\n"), &path)
        .unwrap_or_else(|errors| panic!("{file} does not load: {errors}"))
}

/// One core as the test drives it: the plane to read, the channel of plane events to inject,
/// and the channel of control and shutdown messages.
struct Node {
    plane: PlaneThread,
    events: mpsc::UnboundedSender<PlaneEvent>,
    messages: mpsc::Sender<CoreMessage>,
}

/// The cores, running on one thread inside the namespace. Dropping it stops the cores
/// (without graceful restart) and the thread, and then deletes the namespace.
struct Fabric {
    nodes: Vec<(&'static str, Node)>,
    /// The loopback addresses of every core, stopped ones included.
    loopbacks: Vec<&'static str>,
    runtime: tokio::runtime::Runtime,
    thread: Option<JoinHandle<()>>,
    _ns: Netns,
}

impl Fabric {
    /// Starts the reflectors `leaves` and both HNAs in a new namespace named after `tag`.
    fn start(tag: &str, leaves: &[&'static str]) -> Fabric {
        let ns = Netns::new(tag);
        let mut loopbacks = leaves.to_vec();
        loopbacks.extend([HNA1, HNA2]);
        for address in &loopbacks {
            ns.ip(&["addr", "add", &format!("{address}/32"), "dev", "lo"]);
        }
        let retry = |leaf: &str| {
            format!("/ vrf main routing bgp neighbor {leaf} timers connect-retry-interval 5")
        };
        let hna_extra = [retry("10.0.0.201"), retry("10.0.0.202")];
        let hna_extra: Vec<&str> = hna_extra.iter().map(String::as_str).collect();
        // The reflectors start first, so their listeners are bound when the HNAs connect.
        let mut routers = Vec::new();
        for leaf in leaves {
            let file = if *leaf == LEAF1 {
                "leaf1.nc-cli"
            } else {
                "leaf2.nc-cli"
            };
            routers.push((*leaf, seed_config(file, &[])));
        }
        routers.push((HNA1, seed_config("hna1.nc-cli", &hna_extra)));
        routers.push((HNA2, seed_config("hna2.nc-cli", &hna_extra)));
        let count = routers.len();

        let (ready_tx, ready_rx) = std_mpsc::channel();
        let thread = ns.spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("build the cores' runtime");
            runtime.block_on(async move {
                let mut runs = Vec::new();
                for (loopback, config) in routers {
                    let (plane, _plane_thread) = PlaneThread::spawn(|| Ok(InMemoryPlane::new()))
                        .expect("start the in-memory plane");
                    let options = RouterOptions {
                        bgp_listen: Some(vec![ip(loopback)]),
                        ..RouterOptions::default()
                    };
                    let core = Router::start(config, options, plane.clone())
                        .await
                        .unwrap_or_else(|error| panic!("core {loopback} does not start: {error}"));
                    let (events, plane_events) = mpsc::unbounded_channel();
                    let (messages, messages_rx) = mpsc::channel(16);
                    runs.push(core.run(plane_events, messages_rx));
                    ready_tx
                        .send((
                            loopback,
                            Node {
                                plane,
                                events,
                                messages,
                            },
                        ))
                        .expect("test thread waits");
                }
                run_all(runs).await;
            });
        });

        let mut nodes = Vec::new();
        for _ in 0..count {
            match ready_rx.recv_timeout(CONVERGE_TIMEOUT) {
                Ok(node) => nodes.push(node),
                Err(error) => panic!("a core did not start: {error}"),
            }
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Fabric {
            nodes,
            loopbacks,
            runtime,
            thread: Some(thread),
            _ns: ns,
        }
    }

    fn node(&self, loopback: &str) -> &Node {
        &self
            .nodes
            .iter()
            .find(|(name, _)| *name == loopback)
            .expect("a core of the fabric")
            .1
    }

    fn emit(&self, loopback: &str, event: PlaneEvent) {
        self.node(loopback)
            .events
            .send(event)
            .expect("the core is running");
    }

    /// Returns every entry of a core's plane.
    fn entries(&self, loopback: &str) -> Vec<Entry> {
        let plane = self.node(loopback).plane.clone();
        self.runtime
            .block_on(plane.call(|plane| plane.as_memory().map(InMemoryPlane::entries)))
            .expect("the plane thread is running")
            .expect("an in-memory plane")
    }

    /// Returns the number of changes a core's plane has applied so far.
    fn log_len(&self, loopback: &str) -> usize {
        self.log_since(loopback, 0).len()
    }

    /// Returns the changes a core's plane applied after the first `start` ones, one line each.
    fn log_since(&self, loopback: &str, start: usize) -> Vec<String> {
        let plane = self.node(loopback).plane.clone();
        let changes = self
            .runtime
            .block_on(plane.call(move |plane| {
                plane
                    .as_memory()
                    .map(|memory| memory.log()[start..].to_vec())
            }))
            .expect("the plane thread is running")
            .expect("an in-memory plane");
        changes
            .iter()
            .map(|change| match change {
                Change::Install(entry) => format!("install {}", describe(entry)),
                Change::Remove(key) => format!("remove {key:?}"),
            })
            .collect()
    }

    /// Runs a control command on a core and returns its text output.
    fn show(&self, loopback: &str, command: &str) -> String {
        self.request(loopback, command, false)
    }

    /// Runs a control command on a core and returns its JSON output.
    fn show_json(&self, loopback: &str, command: &str) -> serde_json::Value {
        let output = self.request(loopback, command, true);
        serde_json::from_str(&output)
            .unwrap_or_else(|error| panic!("`{command}`: {error}: {output}"))
    }

    fn request(&self, loopback: &str, command: &str, json: bool) -> String {
        let request = Request {
            command: command.split(' ').map(String::from).collect(),
            json,
        };
        let (reply, response) = oneshot::channel();
        let messages = self.node(loopback).messages.clone();
        self.runtime.block_on(async move {
            messages
                .send(CoreMessage::Control((request, reply)))
                .await
                .expect("the core is running");
            response.await.expect("the core replies").output
        })
    }

    /// Stops one core without graceful restart: its sessions close, and its peers drop the
    /// routes they learned from it.
    fn stop(&mut self, loopback: &str) {
        let index = self
            .nodes
            .iter()
            .position(|(name, _)| *name == loopback)
            .expect("a core of the fabric");
        let (_, node) = self.nodes.remove(index);
        node.messages
            .blocking_send(CoreMessage::Shutdown { graceful: false })
            .expect("the core is running");
    }
}

impl Drop for Fabric {
    fn drop(&mut self) {
        for (_, node) in self.nodes.drain(..) {
            let _ = node
                .messages
                .blocking_send(CoreMessage::Shutdown { graceful: false });
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs the cores' `run` futures until each returns (at shutdown), on the calling thread.
async fn run_all<F: std::future::Future<Output = bool> + 'static>(runs: Vec<F>) {
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let handles: Vec<_> = runs.into_iter().map(tokio::task::spawn_local).collect();
            for handle in handles {
                let _ = handle.await;
            }
        })
        .await;
}

/// Returns the events the Linux plane would report on an HNA: the `loopbacks` (see
/// [`local_addresses`]), the gateway addresses of the subnet bridges, and the MAC and ARP entry
/// of each local pod.
fn local_events(hna: &str, loopbacks: &[&str]) -> Vec<PlaneEvent> {
    let mut events = local_addresses(loopbacks);
    for (bridge, vrf, address) in SUBNET_BRIDGES {
        events.push(PlaneEvent::Address {
            vrf,
            interface: bridge.to_string(),
            address: address.parse().unwrap(),
            added: true,
        });
    }
    for pod in PODS.iter().filter(|pod| pod.hna == hna) {
        events.extend(pod_events(pod, true));
    }
    events
}

/// BGP resolves every next hop (the peers' addresses, the VTEPs of EVPN routes) through the
/// core's RIB. In the shared namespace the `loopbacks` are all addresses of `lo`, so each core
/// learns them as the Linux plane would report them: connected /32 routes on `lo`, which make
/// every VTEP and peer reachable without an IGP.
fn local_addresses(loopbacks: &[&str]) -> Vec<PlaneEvent> {
    loopbacks
        .iter()
        .map(|address| PlaneEvent::Address {
            vrf: VrfId::DEFAULT,
            interface: "lo".to_string(),
            address: format!("{address}/32").parse().unwrap(),
            added: true,
        })
        .collect()
}

/// Returns the events of a pod's MAC on its bridge port and of its ARP entry on the subnet
/// bridge, learned or aged out.
fn pod_events(pod: &Pod, learned: bool) -> [PlaneEvent; 2] {
    [
        PlaneEvent::LocalMac {
            vrf: pod.vrf,
            bridge: pod.bridge.to_string(),
            port: pod.port.to_string(),
            mac: mac(pod.mac),
            vni: Some(vni(pod.vni)),
            learned,
        },
        PlaneEvent::LocalNeighbor {
            vrf: pod.vrf,
            interface: pod.bridge.to_string(),
            ip: ip(pod.ip),
            mac: Some(mac(pod.mac)),
            learned,
        },
    ]
}

fn pod(name: &str) -> &'static Pod {
    PODS.iter()
        .find(|pod| pod.name == name)
        .expect("a pod of the seed")
}

/// The expected plane of hna1, one line per entry as [`describe`] writes it: flooding to hna2
/// in every L2VNI, hna2's three pods as remote MACs, neighbors and host routes through the
/// L3VNI with hna2's router MAC, and the two leaks (green 10.60/16 <-> red 10.62/16).
/// Connected subnets are not in the plane, because the kernel routes them itself. hna2's
/// type-5 routes (10.60/16 in green, 10.62/16 in red) lose to those connected subnets. A
/// router MAC is the daemon's: 02:00 followed by the router id's four octets.
const HNA1_PLANE: &[&str] = &[
    "flood vni 10000 -> 10.0.0.2",
    "flood vni 10001 -> 10.0.0.2",
    "flood vni 10100 -> 10.0.0.2",
    "flood vni 10101 -> 10.0.0.2",
    "mac vni 10001 02:00:00:61:00:03 -> 10.0.0.2",
    "mac vni 10100 02:00:00:62:00:02 -> 10.0.0.2",
    "mac vni 10101 02:01:00:61:00:03 -> 10.0.0.2",
    "neighbor vrf 100 br10001 10.61.0.3 -> 02:00:00:61:00:03",
    "neighbor vrf 101 br10100 10.62.0.2 -> 02:00:00:62:00:02",
    "neighbor vrf 101 br10101 10.61.0.3 -> 02:01:00:61:00:03",
    "route vrf 100 10.61.0.3/32 -> vxlan vtep 10.0.0.2 vni 100 rmac 02:00:0a:00:00:02",
    "route vrf 100 10.62.0.0/16 -> vrf 101",
    "route vrf 101 10.60.0.0/16 -> vrf 100",
    "route vrf 101 10.61.0.3/32 -> vxlan vtep 10.0.0.2 vni 101 rmac 02:00:0a:00:00:02",
    "route vrf 101 10.62.0.2/32 -> vxlan vtep 10.0.0.2 vni 101 rmac 02:00:0a:00:00:02",
];

/// The expected plane of hna2, the mirror of hna1's with hna1's pods.
const HNA2_PLANE: &[&str] = &[
    "flood vni 10000 -> 10.0.0.1",
    "flood vni 10001 -> 10.0.0.1",
    "flood vni 10100 -> 10.0.0.1",
    "flood vni 10101 -> 10.0.0.1",
    "mac vni 10000 02:00:00:60:00:01 -> 10.0.0.1",
    "mac vni 10000 02:00:00:60:00:02 -> 10.0.0.1",
    "mac vni 10100 02:00:00:62:00:01 -> 10.0.0.1",
    "neighbor vrf 100 br10000 10.60.0.1 -> 02:00:00:60:00:01",
    "neighbor vrf 100 br10000 10.60.0.2 -> 02:00:00:60:00:02",
    "neighbor vrf 101 br10100 10.62.0.1 -> 02:00:00:62:00:01",
    "route vrf 100 10.60.0.1/32 -> vxlan vtep 10.0.0.1 vni 100 rmac 02:00:0a:00:00:01",
    "route vrf 100 10.60.0.2/32 -> vxlan vtep 10.0.0.1 vni 100 rmac 02:00:0a:00:00:01",
    "route vrf 100 10.62.0.0/16 -> vrf 101",
    "route vrf 101 10.60.0.0/16 -> vrf 100",
    "route vrf 101 10.62.0.1/32 -> vxlan vtep 10.0.0.1 vni 101 rmac 02:00:0a:00:00:01",
];

/// Returns `table` with the lines of `removed` taken out and those of `added` put in. It panics
/// when a removed line is not in the table, so that a mistyped line cannot pass unnoticed.
fn edit(table: &[&str], removed: &[&str], added: &[&str]) -> BTreeSet<String> {
    let mut lines: BTreeSet<String> = table.iter().map(|line| line.to_string()).collect();
    for line in removed {
        assert!(lines.remove(*line), "`{line}` is not in the table");
    }
    lines.extend(added.iter().map(|line| line.to_string()));
    lines
}

/// Describes an entry in one line, so that a failure lists readable differences.
fn describe(entry: &Entry) -> String {
    match entry {
        Entry::Flood(flood) => format!("flood vni {} -> {}", flood.vni, flood.vtep),
        Entry::Mac(mac) => format!("mac vni {} {} -> {}", mac.vni, mac.mac, mac.vtep),
        Entry::Neighbor(neighbor) => {
            format!(
                "neighbor vrf {} {} {} -> {}",
                neighbor.vrf.0, neighbor.interface, neighbor.ip, neighbor.mac
            )
        }
        Entry::Route(route) => {
            let hops: Vec<String> = route.next_hops.iter().map(ToString::to_string).collect();
            format!(
                "route vrf {} {} -> {}",
                route.vrf.0,
                route.prefix,
                hops.join(", ")
            )
        }
    }
}

fn plane_lines(fabric: &Fabric, loopback: &str) -> BTreeSet<String> {
    fabric.entries(loopback).iter().map(describe).collect()
}

/// The entries a plane lacks and those it contains beyond the expected ones.
struct Difference {
    missing: Vec<String>,
    unexpected: Vec<String>,
}

impl std::fmt::Debug for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "\nmissing:")?;
        for line in &self.missing {
            writeln!(f, "  {line}")?;
        }
        writeln!(f, "unexpected:")?;
        for line in &self.unexpected {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// Waits until a core's plane contains exactly `expected`. On timeout the failure lists what
/// was missing and what was unexpected.
fn wait_for_plane(fabric: &Fabric, loopback: &str, expected: &BTreeSet<String>, what: &str) {
    wait_until_ok(CONVERGE_TIMEOUT, what, || {
        let actual = plane_lines(fabric, loopback);
        if actual == *expected {
            return Ok(());
        }
        Err(Difference {
            missing: expected.difference(&actual).cloned().collect(),
            unexpected: actual.difference(expected).cloned().collect(),
        })
    });
}

/// Starts the fabric with the reflectors `leaves` in a namespace named after `tag`, reports
/// every router's local addresses and pods, and waits until both HNAs' planes contain exactly
/// their expected entries.
fn converged_fabric(tag: &str, leaves: &[&'static str]) -> Fabric {
    let fabric = Fabric::start(tag, leaves);
    let loopbacks = fabric.loopbacks.clone();
    for leaf in leaves {
        for event in local_addresses(&loopbacks) {
            fabric.emit(leaf, event);
        }
    }
    for hna in [HNA1, HNA2] {
        for event in local_events(hna, &loopbacks) {
            fabric.emit(hna, event);
        }
    }

    wait_for_plane(
        &fabric,
        HNA1,
        &edit(HNA1_PLANE, &[], &[]),
        "hna1's plane to hold hna2's pods, floods and leaks",
    );
    wait_for_plane(
        &fabric,
        HNA2,
        &edit(HNA2_PLANE, &[], &[]),
        "hna2's plane to hold hna1's pods, floods and leaks",
    );
    fabric
}

#[test]
fn seed_hnas_converge_to_expected_planes() {
    let mut fabric = converged_fabric("evpn-seed", &[LEAF1]);
    assert!(
        fabric.entries(LEAF1).is_empty(),
        "the reflector has no VNI: {:#?}",
        fabric.entries(LEAF1)
    );

    // Only green-10-60 <-> red-10-62 is leaked: nothing of 10.61/16 crosses tenants, in either
    // direction, on either HNA. The tables already exclude it; this check names the violation.
    let net_10_61: ipnet::IpNet = "10.61.0.0/16".parse().unwrap();
    for hna in [HNA1, HNA2] {
        for entry in fabric.entries(hna) {
            if let Entry::Route(route) = &entry {
                let leak = route.next_hops.iter().any(|hop| hop.vrf.is_some());
                assert!(
                    !(leak && net_10_61.contains(&route.prefix)),
                    "10.61/16 leaked on {hna}: {}",
                    describe(&entry)
                );
            }
        }
    }
    let summary = fabric.show(LEAF1, "show bgp summary");
    for hna in [HNA1, HNA2] {
        let session = summary.lines().find(|line| line.starts_with(hna));
        assert!(
            session.is_some_and(|line| line.contains("Established")),
            "{hna} at the reflector:\n{summary}"
        );
    }

    // red2 leaves hna2: its MAC and ARP entry age out, and hna1 loses its MAC, neighbor and host
    // route, and nothing else.
    for event in pod_events(pod("red2"), false) {
        fabric.emit(HNA2, event);
    }
    let without_red2 = edit(
        HNA1_PLANE,
        &[
            "mac vni 10100 02:00:00:62:00:02 -> 10.0.0.2",
            "neighbor vrf 101 br10100 10.62.0.2 -> 02:00:00:62:00:02",
            "route vrf 101 10.62.0.2/32 -> vxlan vtep 10.0.0.2 vni 101 rmac 02:00:0a:00:00:02",
        ],
        &[],
    );
    wait_for_plane(&fabric, HNA1, &without_red2, "hna1 to drop red2's entries");

    // hna2 stops: the reflector withdraws all its routes, and hna1 keeps only the leaks, which
    // come from its own connected subnets.
    fabric.stop(HNA2);
    let leaks_only = edit(
        &[
            "route vrf 100 10.62.0.0/16 -> vrf 101",
            "route vrf 101 10.60.0.0/16 -> vrf 100",
        ],
        &[],
        &[],
    );
    wait_for_plane(
        &fabric,
        HNA1,
        &leaks_only,
        "hna1 to drop every entry of hna2",
    );
}

#[test]
fn pod_move_follows_mobility_sequence() {
    let fabric = converged_fabric("evpn-move", &[LEAF1]);
    let red1 = *pod("red1");
    let moved = Pod {
        hna: HNA2,
        port: "veth-2000000003",
        ..red1
    };

    // red1 reappears behind hna2 while hna1's bridge still has its MAC and ARP entry. hna2
    // advertises the MAC with mobility sequence 1 (RFC 7432 section 15.1), which beats hna1's
    // sequence 0: hna1 withdraws its routes and points the MAC and the host route at hna2. The
    // ARP entry hna1 learned itself stays, so it installs no remote neighbor.
    for event in pod_events(&moved, true) {
        fabric.emit(HNA2, event);
    }
    let red1_remote = [
        "mac vni 10100 02:00:00:62:00:01 -> 10.0.0.2",
        "route vrf 101 10.62.0.1/32 -> vxlan vtep 10.0.0.2 vni 101 rmac 02:00:0a:00:00:02",
    ];
    let hna1 = edit(HNA1_PLANE, &[], &red1_remote);
    wait_for_plane(&fabric, HNA1, &hna1, "hna1 to send red1's traffic to hna2");
    let hna2 = edit(
        HNA2_PLANE,
        &[
            "mac vni 10100 02:00:00:62:00:01 -> 10.0.0.1",
            "neighbor vrf 101 br10100 10.62.0.1 -> 02:00:00:62:00:01",
            "route vrf 101 10.62.0.1/32 -> vxlan vtep 10.0.0.1 vni 101 rmac 02:00:0a:00:00:01",
        ],
        &[],
    );
    wait_for_plane(&fabric, HNA2, &hna2, "hna2 to own red1");

    // hna1's bridge and neighbor table age red1 out: its ARP entry now comes from hna2's MAC/IP
    // route, and the rest stays.
    for event in pod_events(&red1, false) {
        fabric.emit(HNA1, event);
    }
    let hna1 = edit(
        HNA1_PLANE,
        &[],
        &[
            red1_remote[0],
            red1_remote[1],
            "neighbor vrf 101 br10100 10.62.0.1 -> 02:00:00:62:00:01",
        ],
    );
    wait_for_plane(
        &fabric,
        HNA1,
        &hna1,
        "hna1 to install red1's ARP entry from hna2",
    );
    wait_for_plane(&fabric, HNA2, &hna2, "hna2 to keep owning red1");
}

/// Returns, for each type-2 and type-3 route of `origin` in a core's EVPN table, the peers its
/// paths came from. Type-5 routes are left out: both HNAs originate 10.60/16 and 10.62/16 with
/// the same configured RD, so each reflector passes on only one of the two.
fn peers_of_routes(table: &serde_json::Value, origin: &str) -> Vec<BTreeSet<String>> {
    let mut routes = Vec::new();
    for rd in table["route_distinguishers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for route in rd["routes"].as_array().into_iter().flatten() {
            if route["route_type"] != 2 && route["route_type"] != 3 {
                continue;
            }
            let paths = route["paths"].as_array().cloned().unwrap_or_default();
            if !paths.iter().any(|path| path["next_hop"] == origin) {
                continue;
            }
            let peers = paths
                .iter()
                .filter_map(|path| path["peer"].as_str().map(String::from));
            routes.push(peers.collect());
        }
    }
    routes
}

/// Returns a red pod on the subnet bridge br10100 of `hna`, numbered `number` (10.62.0.`number`).
fn red_probe(hna: &'static str, number: u8) -> (Pod, [String; 3]) {
    // Leaked into the `'static` strings a `Pod` has; a few bytes for the test process's life.
    let ip: &'static str = format!("10.62.0.{number}").leak();
    let mac: &'static str = format!("02:00:00:62:00:{number:02x}").leak();
    let port: &'static str = format!("veth-{hna}-{number}").leak();
    let (vtep, router_mac) = if hna == HNA1 {
        (HNA1, "02:00:0a:00:00:01")
    } else {
        (HNA2, "02:00:0a:00:00:02")
    };
    let pod = Pod {
        name: "probe",
        hna,
        bridge: "br10100",
        vni: 10100,
        vrf: RED,
        port,
        ip,
        mac,
    };
    let remote = [
        format!("mac vni 10100 {mac} -> {vtep}"),
        format!("neighbor vrf 101 br10100 {ip} -> {mac}"),
        format!("route vrf 101 {ip}/32 -> vxlan vtep {vtep} vni 101 rmac {router_mac}"),
    ];
    (pod, remote)
}

/// Reports a new pod at `hna` and waits until `other`'s plane contains its entries: BGP hands
/// the core its events in order, so `other` has then applied everything BGP sent before.
fn probe(fabric: &Fabric, hna: &'static str, other: &str, number: u8) -> [String; 3] {
    let (pod, remote) = red_probe(hna, number);
    for event in pod_events(&pod, true) {
        fabric.emit(hna, event);
    }
    wait_until_ok(
        CONVERGE_TIMEOUT,
        &format!("{other} to install pod 10.62.0.{number}"),
        || {
            let plane = plane_lines(fabric, other);
            match remote.iter().find(|line| !plane.contains(*line)) {
                Some(missing) => Err(missing.clone()),
                None => Ok(()),
            }
        },
    );
    remote
}

#[test]
fn reflector_failover_leaves_planes_unchanged() {
    let mut fabric = converged_fabric("evpn-rrfo", &[LEAF1, LEAF2]);

    // Each HNA has every route of the other twice, through each reflector, before leaf1 goes.
    let both: BTreeSet<String> = [LEAF1, LEAF2].iter().map(|leaf| leaf.to_string()).collect();
    for (hna, other) in [(HNA1, HNA2), (HNA2, HNA1)] {
        wait_until_ok(
            CONVERGE_TIMEOUT,
            &format!("{hna} to have {other}'s routes from both reflectors"),
            || {
                let routes = peers_of_routes(&fabric.show_json(hna, "show bgp l2vpn evpn"), other);
                if !routes.is_empty() && routes.iter().all(|peers| *peers == both) {
                    Ok(())
                } else {
                    Err(routes)
                }
            },
        );
    }
    probe(&fabric, HNA2, HNA1, 10);
    probe(&fabric, HNA1, HNA2, 11);
    let hna1_mark = fabric.log_len(HNA1);
    let hna2_mark = fabric.log_len(HNA2);

    // leaf1 stops: every best path moves to leaf2's copy, which carries the same route and
    // attributes, so no plane entry may be removed or installed again.
    fabric.stop(LEAF1);
    for hna in [HNA1, HNA2] {
        wait_until_ok(
            CONVERGE_TIMEOUT,
            &format!("{hna} to lose its session with leaf1"),
            || {
                let summary = fabric.show(hna, "show bgp summary");
                let session = summary
                    .lines()
                    .find(|line| line.starts_with(LEAF1))
                    .map(String::from);
                match session {
                    Some(line) if !line.contains("Established") => Ok(()),
                    other => Err(other),
                }
            },
        );
    }
    let hna1_new = probe(&fabric, HNA2, HNA1, 12);
    let hna2_new = probe(&fabric, HNA1, HNA2, 13);

    let expected = |lines: [String; 3]| {
        let mut lines: Vec<String> = lines.iter().map(|line| format!("install {line}")).collect();
        lines.sort();
        lines
    };
    let mut hna1_changes = fabric.log_since(HNA1, hna1_mark);
    hna1_changes.sort();
    assert_eq!(
        hna1_changes,
        expected(hna1_new),
        "hna1's plane changes after leaf1 stopped"
    );
    let mut hna2_changes = fabric.log_since(HNA2, hna2_mark);
    hna2_changes.sort();
    assert_eq!(
        hna2_changes,
        expected(hna2_new),
        "hna2's plane changes after leaf1 stopped"
    );
}
