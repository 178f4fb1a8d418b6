//! Restart of the Linux plane: a process holding 10,000 entries is killed, a new one starts
//! with a smaller wanted set and resynchronises, and the kernel ends with exactly the wanted
//! set while entries added by others (`ip`, `bridge`) stay untouched.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hna_rib::linux::LinuxPlane;
use hna_rib::{
    Entry, FloodEntry, MacAddr, MacEntry, NeighborEntry, NextHop, RouteEntry, Southbound, Vni,
    VrfId,
};
use hna_testkit::Netns;
use serde_json::Value;

/// Environment variable that tells the helper test which wanted set to hold.
const GENERATION: &str = "HNA_RIB_RESTART_GENERATION";

fn vni() -> Vni {
    Vni::new(100).unwrap()
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn mac(kind: u8, index: u32) -> MacAddr {
    let [_, b, c, d] = index.to_be_bytes();
    MacAddr([0x02, kind, 0, b, c, d])
}

/// The wanted set of each generation. Generation 1 has 10,000 entries: 2,000 routes, 3,000
/// neighbors, 4,000 remote MACs and 1,000 flood entries. Generation 2 keeps every other entry
/// of each kind, moves 50 routes and 100 MACs elsewhere, and adds 50 new neighbors.
fn wanted(generation: u32) -> Vec<Entry> {
    let vrf = VrfId::DEFAULT;
    let keep = |index: u32| generation == 1 || index % 2 == 0;
    let moved = |index: u32| generation == 2 && index % 40 == 0;
    let mut entries = Vec::new();
    for i in (0..2000u32).filter(|i| keep(*i)) {
        let next_hop = if moved(i) {
            NextHop::via(v4(10, 0, 21, 1), "eth1")
        } else {
            NextHop::via(v4(10, 0, 11, 1), "eth0")
        };
        let prefix = ipnet::IpNet::new(v4(10, 100, (i / 256) as u8, (i % 256) as u8), 32).unwrap();
        entries.push(Entry::Route(RouteEntry::new(vrf, prefix, vec![next_hop])));
    }
    for i in (0..3000u32).filter(|i| keep(*i)) {
        let ip = v4(10, 60, 10 + (i / 256) as u8, (i % 256) as u8);
        entries.push(Entry::Neighbor(NeighborEntry {
            vrf,
            interface: "br100".into(),
            ip,
            mac: mac(1, i),
        }));
    }
    if generation == 2 {
        for i in 0..50u32 {
            let ip = v4(10, 60, 50, i as u8);
            entries.push(Entry::Neighbor(NeighborEntry {
                vrf,
                interface: "br100".into(),
                ip,
                mac: mac(3, i),
            }));
        }
    }
    for i in (0..4000u32).filter(|i| keep(*i)) {
        let vtep = if moved(i) {
            v4(10, 0, 1, 2)
        } else {
            v4(10, 0, 1, 1)
        };
        entries.push(Entry::Mac(MacEntry {
            vni: vni(),
            mac: mac(2, i),
            vtep,
        }));
    }
    for i in (0..1000u32).filter(|i| keep(*i)) {
        entries.push(Entry::Flood(FloodEntry {
            vni: vni(),
            vtep: v4(10, 0, 2 + (i / 256) as u8, (i % 256) as u8),
        }));
    }
    entries
}

/// Not a test of its own: the process that holds the entries, started by
/// `plane_restart_leaves_exactly_wanted_entries` inside its namespace and killed there.
#[test]
#[ignore = "helper process of plane_restart_leaves_exactly_wanted_entries"]
fn plane_restart_helper() {
    let generation: u32 = std::env::var(GENERATION)
        .expect("run only by plane_restart_leaves_exactly_wanted_entries")
        .parse()
        .expect("generation number");
    let mut plane = LinuxPlane::new().expect("create Linux plane");
    plane.bind_l2vni(vni(), VrfId::DEFAULT, "vx100").unwrap();
    let report = plane.resync(&wanted(generation)).expect("resynchronise");
    assert!(
        report.failed.is_empty(),
        "failed changes: {:?}",
        &report.failed[..report.failed.len().min(5)]
    );
    println!(
        "ready removed={} installed={} unchanged={}",
        report.removed, report.installed, report.unchanged
    );
    // Hold the entries until the test kills this process.
    loop {
        std::thread::park();
    }
}

/// Starts the helper inside `ns` and waits for it to report its resynchronisation.
fn start_helper(ns: &Netns, generation: u32) -> (Child, String) {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(exe)
        .args([
            "--exact",
            "plane_restart_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(GENERATION, generation.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start helper process");
    let stdout = child.stdout.take().expect("helper stdout");
    let deadline = Instant::now() + Duration::from_secs(120);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read helper output");
        // libtest prints `test NAME ... ` without a newline before running the test.
        if let Some(start) = line.find("ready ") {
            return (child, line[start..].to_string());
        }
        assert!(
            Instant::now() < deadline,
            "helper did not report ready within 120 s"
        );
    }
    let status = child.wait().expect("helper exit");
    panic!("helper exited before reporting ready: {status}");
}

fn kill(mut child: Child) {
    child.kill().expect("kill helper");
    child.wait().expect("reap helper");
}

/// What the kernel holds of the plane's entries, as text tuples from `ip -j` and `bridge -j`.
#[derive(Debug)]
struct KernelState {
    routes: BTreeSet<(String, String, String)>,
    neighbors: BTreeSet<(String, String)>,
    vxlan_fdb: BTreeSet<(String, String)>,
    bridge_fdb: BTreeSet<String>,
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn has_flag(entry: &Value, flag: &str) -> bool {
    entry["flags"]
        .as_array()
        .is_some_and(|flags| flags.iter().any(|f| f == flag))
}

fn kernel_state(ns: &Netns) -> KernelState {
    let routes = ns.ip_json(&["route", "show", "proto", "201"]);
    let neighbors = ns.ip_json(&["neigh", "show", "dev", "br100"]);
    let fdb = ns.bridge_json(&["fdb", "show", "dev", "vx100"]);
    KernelState {
        routes: routes
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (text(&r["dst"]), text(&r["gateway"]), text(&r["dev"])))
            .collect(),
        neighbors: neighbors
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n.get("extern_learn").is_some())
            .map(|n| (text(&n["dst"]), text(&n["lladdr"])))
            .collect(),
        vxlan_fdb: fdb
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                has_flag(e, "self")
                    && (has_flag(e, "extern_learn") || e["mac"] == "00:00:00:00:00:00")
            })
            .map(|e| (text(&e["mac"]), text(&e["dst"])))
            .collect(),
        bridge_fdb: fdb
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| !has_flag(e, "self") && has_flag(e, "extern_learn"))
            .map(|e| text(&e["mac"]))
            .collect(),
    }
}

/// Asserts that two sets are equal, showing a few differences rather than both sets.
fn assert_same<T: Ord + std::fmt::Debug>(what: &str, held: &BTreeSet<T>, expected: &BTreeSet<T>) {
    let missing: Vec<&T> = expected.difference(held).take(5).collect();
    let extra: Vec<&T> = held.difference(expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: {} held, {} expected; missing {missing:?}; unexpected {extra:?}",
        held.len(),
        expected.len()
    );
}

fn assert_state(ns: &Netns, entries: &[Entry]) {
    let held = kernel_state(ns);
    let expected = expected_state(entries);
    assert_same("routes", &held.routes, &expected.routes);
    assert_same("neighbors", &held.neighbors, &expected.neighbors);
    assert_same("VXLAN FDB entries", &held.vxlan_fdb, &expected.vxlan_fdb);
    assert_same("bridge FDB entries", &held.bridge_fdb, &expected.bridge_fdb);
}

fn expected_state(entries: &[Entry]) -> KernelState {
    let mut state = KernelState {
        routes: BTreeSet::new(),
        neighbors: BTreeSet::new(),
        vxlan_fdb: BTreeSet::new(),
        bridge_fdb: BTreeSet::new(),
    };
    for entry in entries {
        match entry {
            Entry::Route(route) => {
                let hop = &route.next_hops[0];
                // `ip -j route` omits the length of host routes.
                let dst = route.prefix.addr().to_string();
                state.routes.insert((
                    dst,
                    hop.gateway.unwrap().to_string(),
                    hop.interface.clone().unwrap(),
                ));
            }
            Entry::Neighbor(n) => {
                state
                    .neighbors
                    .insert((n.ip.to_string(), n.mac.to_string()));
            }
            Entry::Mac(m) => {
                state
                    .vxlan_fdb
                    .insert((m.mac.to_string(), m.vtep.to_string()));
                state.bridge_fdb.insert(m.mac.to_string());
            }
            Entry::Flood(f) => {
                state
                    .vxlan_fdb
                    .insert((MacAddr::ZERO.to_string(), f.vtep.to_string()));
            }
        }
    }
    state
}

#[test]
fn plane_restart_leaves_exactly_wanted_entries() {
    let ns = Netns::new("rib-restart");
    ns.sh(
        "ip link add eth0 type veth peer name eth0p && ip link set eth0p up
         ip link set eth0 up && ip addr add 10.0.11.2/24 dev eth0
         ip link add eth1 type veth peer name eth1p && ip link set eth1p up
         ip link set eth1 up && ip addr add 10.0.21.2/24 dev eth1
         ip addr add 10.0.0.1/32 dev lo
         ip link add br100 type bridge && ip link set br100 up && ip addr add 10.60.0.254/16 dev br100
         ip link add vx100 type vxlan id 100 local 10.0.0.1 dstport 4789 nolearning
         ip link set vx100 master br100 && ip link set vx100 up
         ip link add vx200 type vxlan id 200 local 10.0.0.1 dstport 4789 nolearning && ip link set vx200 up",
    );
    // Entries of others, some sharing prefixes, addresses or metric with the plane's. The
    // foreign flood entry is on vx200, which the plane does not manage: the plane owns the
    // whole flood list of the devices bound to its VNIs.
    let foreign = "ip route add 10.100.0.1/32 via 10.0.21.1 dev eth1 metric 50
         ip route add 10.200.0.0/16 via 10.0.11.1 dev eth0 proto static metric 20
         ip route add 10.201.0.0/24 dev eth0 proto bird
         ip neigh add 10.60.200.1 lladdr 02:99:00:00:00:01 dev br100 nud permanent
         bridge fdb add 02:99:00:00:00:02 dev vx100 dst 10.0.9.9 self permanent
         bridge fdb append 00:00:00:00:00:00 dev vx200 dst 10.0.9.9 self permanent";
    ns.sh(foreign);
    let foreign_state = |ns: &Netns| {
        let routes = ns.ip_json(&["route", "show"]);
        let find = |dst: &str| {
            routes
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["dst"] == dst && r["protocol"] != "201")
        };
        let neighbor = ns.ip_json(&["neigh", "show", "10.60.200.1", "dev", "br100"]);
        let fdb_has = |device: &str, mac: &str| {
            let fdb = ns.bridge_json(&["fdb", "show", "dev", device]);
            fdb.as_array()
                .unwrap()
                .iter()
                .any(|e| e["mac"] == mac && e["dst"] == "10.0.9.9")
        };
        (
            find("10.100.0.1"),
            find("10.200.0.0/16"),
            find("10.201.0.0/24"),
            neighbor.as_array().unwrap().len(),
            fdb_has("vx100", "02:99:00:00:00:02"),
            fdb_has("vx200", "00:00:00:00:00:00"),
        )
    };
    let foreign_before = foreign_state(&ns);
    assert_eq!(foreign_before, (true, true, true, 1, true, true));

    let first = wanted(1);
    assert_eq!(first.len(), 10_000);
    let (helper, line) = start_helper(&ns, 1);
    assert_eq!(line, "ready removed=0 installed=10000 unchanged=0");
    assert_state(&ns, &first);
    kill(helper);

    // The entries outlive the process that installed them.
    assert_state(&ns, &first);

    let second = wanted(2);
    let (helper, line) = start_helper(&ns, 2);
    kill(helper);

    assert_state(&ns, &second);
    assert_eq!(
        foreign_state(&ns),
        foreign_before,
        "entries of others changed"
    );
    // 5,000 stale entries removed; 50 new neighbors, 50 moved routes and 100 moved MACs installed.
    assert_eq!(
        line,
        format!(
            "ready removed=5000 installed=200 unchanged={}",
            second.len() - 200
        )
    );
}
