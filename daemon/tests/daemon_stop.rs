//! SIGTERM without graceful restart: the daemon sends Cease / Administrative Shutdown to its BGP
//! peers and removes its tenants. With graceful restart, it leaves its forwarding state in the
//! kernel (routes, FDB and neighbor entries, tenant namespaces), and its peers keep its routes.

mod daemon_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use daemon_support::{CONVERGENCE, Fabric, FabricOptions, pod_mac};
use hna_testkit::{require_root, run_ok, wait_until_ok};
use serde_json::Value;

fn json(program: &str, args: &[&str]) -> Value {
    let text = run_ok(program, args);
    if text.trim().is_empty() {
        return Value::Array(Vec::new());
    }
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{program} {args:?}: {error}"))
}

/// Returns the FDB entries of `device` in `namespace` as (MAC, destination) pairs.
fn fdb(namespace: &str, device: &str) -> Vec<(String, String)> {
    json(
        "bridge",
        &["-j", "-n", namespace, "fdb", "show", "dev", device],
    )
    .as_array()
    .unwrap()
    .iter()
    .map(|entry| {
        (
            entry["mac"].as_str().unwrap_or("").to_string(),
            entry["dst"].as_str().unwrap_or("").to_string(),
        )
    })
    .collect()
}

/// Returns the IPv4 routes of `namespace` as (destination, gateway) pairs.
fn routes(namespace: &str) -> Vec<(String, String)> {
    json("ip", &["-j", "-4", "-n", namespace, "route", "show"])
        .as_array()
        .unwrap()
        .iter()
        .map(|route| {
            (
                route["dst"].as_str().unwrap_or("").to_string(),
                route["gateway"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Returns the IPv4 neighbor entries of `namespace` as (address, MAC, device) triples.
fn neighbors(namespace: &str) -> Vec<(String, String, String)> {
    json("ip", &["-j", "-4", "-n", namespace, "neigh", "show"])
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["dst"].as_str().unwrap_or("").to_string(),
                entry["lladdr"].as_str().unwrap_or("").to_string(),
                entry["dev"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Returns the ifindex of every link of `namespace`, by name.
fn links(namespace: &str) -> Vec<(String, u64)> {
    json("ip", &["-j", "-n", namespace, "link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .map(|link| {
            (
                link["ifname"].as_str().unwrap().to_string(),
                link["ifindex"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn sigterm_sends_cease_and_removes_tenants() {
    require_root();
    let mut fabric = Fabric::start(
        "dst",
        FabricOptions {
            edge: true,
            ..FabricOptions::default()
        },
    );
    let tenant = fabric.r1.tenant("vrf100");
    assert_eq!(fabric.r1.tenant_namespaces(), [tenant]);
    let underlay = fabric.ns[0].name().to_string();
    let own_routes = || run_ok("ip", &["-n", &underlay, "route", "show", "proto", "201"]);
    assert!(
        !own_routes().trim().is_empty(),
        "r1 installed no route before the stop"
    );
    let notifications_before = fabric.r2.neighbor("10.0.0.1")["counters"]["notifications_in"]
        .as_u64()
        .unwrap();

    let status = fabric.r1.terminate();
    assert!(status.success(), "r1 exited with {status}");

    // r2 (ours) and the edge (FRR) each received Cease / Administrative Shutdown.
    let on_r2 = wait_until_ok(
        Duration::from_secs(10),
        "r2 to see the session with r1 closed",
        || {
            let neighbor = fabric.r2.neighbor("10.0.0.1");
            if neighbor["state"] != "Established" {
                Ok(neighbor)
            } else {
                Err(neighbor["state"].clone())
            }
        },
    );
    assert_eq!(on_r2["last_error"]["kind"], "notification-received");
    assert_eq!(on_r2["last_error"]["code"], 6, "Cease");
    assert_eq!(on_r2["last_error"]["subcode"], 2, "Administrative Shutdown");
    assert_eq!(
        on_r2["counters"]["notifications_in"].as_u64().unwrap(),
        notifications_before + 1
    );
    let edge = fabric.edge.as_ref().unwrap();
    let frr = wait_until_ok(
        Duration::from_secs(10),
        "FRR to see the session with r1 closed",
        || {
            let json = edge.json("show bgp neighbors 172.16.0.1 json");
            let neighbor = json["172.16.0.1"].clone();
            if neighbor["bgpState"] != "Established" {
                Ok(neighbor)
            } else {
                Err(neighbor["bgpState"].clone())
            }
        },
    );
    assert_eq!(
        frr["lastNotificationReason"], "Cease/Administrative Shutdown",
        "{frr:#}"
    );
    assert_eq!(
        frr["lastResetDueTo"], "BGP Notification received",
        "{frr:#}"
    );

    // The tenant namespace and the devices and addresses of the configuration are gone; the
    // pod's port is back in the underlay.
    assert!(
        fabric.r1.tenant_namespaces().is_empty(),
        "left behind: {:?}",
        fabric.r1.tenant_namespaces()
    );
    assert!(
        own_routes().trim().is_empty(),
        "routes of the stopped daemon left in the kernel: {}",
        own_routes()
    );
    let remaining: Vec<String> = links(&underlay).into_iter().map(|(name, _)| name).collect();
    for device in ["vx10", "vx100", "br10"] {
        assert!(
            !remaining.contains(&device.to_string()),
            "{device} left: {remaining:?}"
        );
    }
    assert!(remaining.contains(&"pod1".to_string()), "{remaining:?}");
    let addresses = run_ok("ip", &["-n", &underlay, "-4", "-br", "addr", "show"]);
    assert!(!addresses.contains("10.0.0.1/32"), "{addresses}");
    assert!(!addresses.contains("10.1.0.1/30"), "{addresses}");
}

#[test]
fn sigterm_with_graceful_restart_keeps_dataplane() {
    require_root();
    let mut fabric = Fabric::start(
        "dgr",
        FabricOptions {
            graceful_restart: true,
            ..FabricOptions::default()
        },
    );
    let r2_session = fabric.r2.neighbor("10.0.0.1");
    assert!(
        r2_session["capabilities"]["graceful_restart"].is_object(),
        "graceful restart not negotiated: {r2_session:#}"
    );

    // pod1 talks to its gateway, so r1 learns its IP and r2 installs a neighbor entry for it.
    let pod1_mac = pod_mac(&fabric.pods[0]);
    assert!(fabric.pods[0].ping("10.60.0.254", 2));
    let tenant = fabric.r2.tenant("vrf100");
    let underlay = fabric.ns[1].name().to_string();
    wait_until_ok(CONVERGENCE, "r2 to install pod1's neighbor entry", || {
        let entries = neighbors(&tenant);
        let found = entries
            .iter()
            .any(|(address, mac, _)| address == "10.60.0.1" && *mac == pod1_mac);
        if found { Ok(()) } else { Err(entries) }
    });
    let links_before = links(&tenant);
    let fdb_before = fdb(&tenant, "vx10");
    let neighbors_before = neighbors(&tenant);
    let routes_before = routes(&underlay);
    assert!(
        fdb_before.contains(&(pod1_mac.clone(), "10.0.0.1".to_string())),
        "{fdb_before:?}"
    );
    assert!(
        fdb_before.contains(&("00:00:00:00:00:00".to_string(), "10.0.0.1".to_string())),
        "no flood entry towards r1: {fdb_before:?}"
    );
    assert!(
        routes_before.contains(&("10.0.0.1".to_string(), "10.1.0.1".to_string())),
        "no OSPF route to r1's loopback: {routes_before:?}"
    );
    let r1_notifications = fabric.r1.neighbor("10.0.0.2")["counters"]["notifications_in"]
        .as_u64()
        .unwrap();

    // RFC 3623 section 3.1: a neighbor helps only when no LSA it sent waits for the restarting
    // router's acknowledgment, so the restart starts from a synchronised database.
    for (daemon, peer) in [(&fabric.r1, "10.0.0.2"), (&fabric.r2, "10.0.0.1")] {
        wait_until_ok(CONVERGENCE, "OSPF retransmission lists empty", || {
            let neighbors = daemon.json(&["show", "ip", "ospf", "neighbor"]);
            let synchronised = neighbors.as_array().into_iter().flatten().any(|neighbor| {
                neighbor["neighbor_id"] == peer && neighbor["retransmit_count"] == 0
            });
            if synchronised { Ok(()) } else { Err(neighbors) }
        });
    }

    // pod1 pings pod2 every 50 ms through the whole restart. With -O, ping reports each
    // request left without a reply when it sends the next one.
    let pinger = Command::new("ip")
        .args(["netns", "exec", fabric.pods[0].name()])
        .args(["ping", "-n", "-O", "-i", "0.05", "-W", "1", "10.60.0.2"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start ping in pod1");

    let status = fabric.r2.terminate();
    assert!(status.success(), "r2 exited with {status}");

    // The kernel keeps everything the daemon installed.
    assert_eq!(fabric.r2.tenant_namespaces(), std::slice::from_ref(&tenant));
    assert_eq!(links(&tenant), links_before, "tenant links changed");
    assert_eq!(fdb(&tenant, "vx10"), fdb_before, "FDB entries changed");
    assert_eq!(
        neighbors(&tenant),
        neighbors_before,
        "neighbor entries changed"
    );
    assert_eq!(routes(&underlay), routes_before, "underlay routes changed");
    let addresses = run_ok("ip", &["-n", &underlay, "-4", "-br", "addr", "show"]);
    assert!(addresses.contains("10.0.0.2/32"), "{addresses}");

    // r1 saw no NOTIFICATION and keeps r2's routes as stale while it waits for the restart.
    let on_r1 = wait_until_ok(
        Duration::from_secs(10),
        "r1 to see the session with r2 closed",
        || {
            let neighbor = fabric.r1.neighbor("10.0.0.2");
            if neighbor["state"] != "Established" {
                Ok(neighbor)
            } else {
                Err(neighbor["state"].clone())
            }
        },
    );
    assert_eq!(
        on_r1["counters"]["notifications_in"].as_u64().unwrap(),
        r1_notifications,
        "r2 sent a NOTIFICATION: {on_r1:#}"
    );
    assert!(
        on_r1["graceful_restart_helper"].is_object(),
        "r1 is not helping r2 restart: {on_r1:#}"
    );
    let table = fabric.r1.json(&["show", "bgp", "l2vpn", "evpn"]);
    let from_r2: Vec<&Value> = table["route_distinguishers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rd| rd["routes"].as_array().unwrap())
        .flat_map(|route| route["paths"].as_array().unwrap())
        .filter(|path| path["peer"] == "10.0.0.2")
        .collect();
    assert!(!from_r2.is_empty(), "r1 dropped r2's routes: {table:#}");
    assert!(
        from_r2.iter().all(|path| path["stale"] == true),
        "r2's paths are not stale: {from_r2:?}"
    );

    // r2 starts again within the restart time. It sends its routes and End-of-RIB once the
    // plane has reported the initial state of every VRF, and r1 replaces the stale paths.
    fabric.r2.restart(&fabric.ns[1], &fabric.dir);
    fabric.r2.wait_established("10.0.0.1", CONVERGENCE);
    wait_until_ok(CONVERGENCE, "r1 to refresh r2's paths", || {
        let table = fabric.r1.json(&["show", "bgp", "l2vpn", "evpn"]);
        let paths: Vec<Value> = table["route_distinguishers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|rd| rd["routes"].as_array().cloned().unwrap_or_default())
            .flat_map(|route| route["paths"].as_array().cloned().unwrap_or_default())
            .filter(|path| path["peer"] == "10.0.0.2")
            .collect();
        let fresh = !paths.is_empty() && paths.iter().all(|path| path["stale"] == false);
        if fresh { Ok(()) } else { Err(paths) }
    });
    // r1 helps r2 (RFC 3623 section 3) until r2 flushes its grace-LSA at the end of its restart.
    wait_until_ok(CONVERGENCE, "r2's OSPF graceful restart to end", || {
        let neighbors = fabric.r1.json(&["show", "ip", "ospf", "neighbor"]);
        let done = neighbors.as_array().into_iter().flatten().any(|neighbor| {
            neighbor["neighbor_id"] == "10.0.0.2"
                && neighbor["state"] == "Full"
                && neighbor["helper"].is_null()
        });
        if done { Ok(()) } else { Err(neighbors) }
    });
    // SAFETY: sending a signal has no memory-safety preconditions.
    unsafe { libc::kill(pinger.id() as i32, libc::SIGINT) };
    let output = pinger.wait_with_output().expect("wait for ping");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        report.contains(" received"),
        "ping printed no summary: {report}"
    );
    let unanswered: Vec<&str> = report
        .lines()
        .filter(|line| line.contains("no answer yet"))
        .collect();
    assert!(
        unanswered.is_empty(),
        "pings lost during r2's graceful restart: {unanswered:?}"
    );
    let log = fabric.r2.log_text();
    assert!(
        log.contains("initial state of every VRF read"),
        "r2 did not wait for the plane's initial state:\n{log}"
    );
    assert!(
        !log.contains("has not reported the initial state"),
        "r2 announced its local routes on the deadline:\n{log}"
    );
}
