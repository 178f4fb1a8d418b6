//! Our OSPF instance against FRR 8.4 ospfd: adjacency Full on a point-to-point and on a
//! broadcast link, identical link-state databases, and routes to every loopback.
//!
//! Topology: ours (10.0.0.1) --eth1-- FRR b (10.0.0.2) --eth2-- FRR c (10.0.0.3); the first
//! link is the one under test, the second one is point-to-point.

#[path = "ospf_support.rs"]
mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use hna_ospf::{NeighborState, NetworkType};
use hna_testkit::{Frr, Netns, veth, wait_until, wait_until_ok};
use support::{Ours, frr_lsdb, frr_ospf_config, our_config};

fn addr(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

struct Lab {
    // Field order is drop order: our instance and FRR stop before their namespaces go.
    ours: Ours,
    frr_b: Frr,
    frr_c: Frr,
    _namespaces: [Netns; 3],
}

fn build(tag: &str, network_type: NetworkType, our_priority: u8, extra_b: &str) -> Lab {
    let a = Netns::new(&format!("{tag}-a"));
    let b = Netns::new(&format!("{tag}-b"));
    let c = Netns::new(&format!("{tag}-c"));
    veth(&a, "eth1", &b, "eth1", 1500);
    veth(&b, "eth2", &c, "eth2", 1500);
    a.ip(&["addr", "add", "10.0.12.1/24", "dev", "eth1"]);
    b.ip(&["addr", "add", "10.0.12.2/24", "dev", "eth1"]);
    b.ip(&["addr", "add", "10.0.23.2/24", "dev", "eth2"]);
    c.ip(&["addr", "add", "10.0.23.3/24", "dev", "eth2"]);
    for (ns, id) in [(&a, 1), (&b, 2), (&c, 3)] {
        ns.ip(&["addr", "add", &format!("10.0.0.{id}/32"), "dev", "lo"]);
    }

    let p2p: &[&str] = &["ip ospf network point-to-point"];
    let first_link: &[&str] = if network_type == NetworkType::PointToPoint {
        p2p
    } else {
        &[]
    };
    let config_b = frr_ospf_config("10.0.0.2", &[("eth1", first_link), ("eth2", p2p)]) + extra_b;
    let frr_b = Frr::start(&b, &["ospfd", "staticd"], &config_b);
    let frr_c = Frr::start(
        &c,
        &["ospfd"],
        &frr_ospf_config("10.0.0.3", &[("eth2", p2p)]),
    );
    let mut config = our_config("10.0.0.1", network_type);
    config.default_interface.priority = our_priority;
    let ours = Ours::start(&a, config);
    Lab {
        ours,
        frr_b,
        frr_c,
        _namespaces: [a, b, c],
    }
}

fn frr_neighbor_state(frr: &Frr, id: &str) -> String {
    let json = frr.json("show ip ospf neighbor json");
    let entry = &json["neighbors"][id][0];
    entry["converged"]
        .as_str()
        .or_else(|| entry["nbrState"].as_str())
        .unwrap_or("absent")
        .to_string()
}

fn check_lab(lab: &Lab, expected_lsas: usize) {
    // Adjacency Full on both sides.
    wait_until_ok(
        Duration::from_secs(30),
        "our neighbor 10.0.0.2 Full",
        || match lab.ours.neighbor_state(addr("10.0.0.2")) {
            Some(NeighborState::Full) => Ok(()),
            other => Err(other),
        },
    );
    wait_until_ok(
        Duration::from_secs(10),
        "FRR neighbor 10.0.0.1 Full",
        || {
            let state = frr_neighbor_state(&lab.frr_b, "10.0.0.1");
            if state.starts_with("Full") {
                Ok(())
            } else {
                Err(state)
            }
        },
    );

    // The same LSAs, instance for instance, in both databases.
    let synced = wait_until_ok(Duration::from_secs(20), "identical LSDBs", || {
        let ours = lab.ours.lsdb();
        let theirs = frr_lsdb(&lab.frr_b.json("show ip ospf database json"));
        if ours == theirs && ours.len() == expected_lsas {
            Ok(ours)
        } else {
            Err((ours, theirs))
        }
    });
    assert!(
        synced
            .iter()
            .any(|lsa| lsa.0 == 1 && lsa.2 == addr("10.0.0.1")),
        "our router-LSA is missing"
    );
    assert!(
        synced
            .iter()
            .any(|lsa| lsa.0 == 1 && lsa.2 == addr("10.0.0.3")),
        "FRR c's router-LSA is missing"
    );

    // Every loopback is reachable through FRR b's address on the first link.
    for loopback in ["10.0.0.2/32", "10.0.0.3/32", "10.0.23.0/24"] {
        let prefix = loopback.parse().unwrap();
        let route = wait_until(
            Duration::from_secs(10),
            &format!("our route to {loopback}"),
            || lab.ours.routes().get(&prefix).cloned(),
        );
        let hops: Vec<_> = route
            .next_hops
            .iter()
            .map(|hop| (hop.address, &*hop.interface))
            .collect();
        assert_eq!(
            hops,
            vec![(Some(addr("10.0.12.2")), "eth1")],
            "next hops of {loopback}"
        );
    }
    let route = lab
        .ours
        .routes()
        .get(&"10.0.0.3/32".parse().unwrap())
        .cloned()
        .unwrap();
    assert_eq!(
        route.cost, 20,
        "two links of cost 10 to c's loopback (c advertises it at cost 0)"
    );

    // FRR routes to our loopback through us.
    wait_until_ok(
        Duration::from_secs(10),
        "FRR c's route to 10.0.0.1/32",
        || {
            let json = lab.frr_c.json("show ip route 10.0.0.1/32 json");
            let entry = &json["10.0.0.1/32"][0];
            if entry["protocol"] == "ospf" && entry["installed"] == true {
                Ok(())
            } else {
                Err(json.clone())
            }
        },
    );
}

#[test]
fn ospf_frr_point_to_point_full_and_routes() {
    let lab = build("ospf-p2p", NetworkType::PointToPoint, 1, "");
    // Three router-LSAs.
    check_lab(&lab, 3);
    let counters = lab.ours.counters();
    assert!(
        counters.dropped.is_empty(),
        "packets dropped: {:?}",
        counters.dropped
    );
}

#[test]
fn ospf_frr_broadcast_full_and_routes() {
    let lab = build("ospf-bcast", NetworkType::Broadcast, 1, "");
    // Three router-LSAs and FRR b's network-LSA (FRR b has the higher router id, so it is DR).
    check_lab(&lab, 4);
    let interfaces = lab.ours.runtime_block_interfaces();
    let eth1 = interfaces
        .iter()
        .find(|i| i.name == "eth1")
        .expect("eth1 in OSPF");
    assert_eq!(eth1.designated_router, addr("10.0.12.2"));
    assert_eq!(eth1.backup_designated_router, addr("10.0.12.1"));
    assert_eq!(eth1.state, hna_ospf::InterfaceState::Backup);
    let json = lab.frr_b.json("show ip ospf interface eth1 json");
    let frr_eth1 = &json["interfaces"]["eth1"];
    assert_eq!(frr_eth1["state"], "DR", "{json}");
}

#[test]
fn ospf_frr_broadcast_we_are_dr() {
    // Priority 100 against FRR's 1 makes us DR, so FRR must accept our network-LSA.
    let lab = build("ospf-ourdr", NetworkType::Broadcast, 100, "");
    check_lab(&lab, 4);
    let interfaces = lab.ours.runtime_block_interfaces();
    let eth1 = interfaces
        .iter()
        .find(|i| i.name == "eth1")
        .expect("eth1 in OSPF");
    assert_eq!(eth1.state, hna_ospf::InterfaceState::Dr);
    assert_eq!(eth1.designated_router, addr("10.0.12.1"));
    let lsdb = lab.ours.lsdb();
    assert!(
        lsdb.iter()
            .any(|lsa| lsa.0 == 2 && lsa.1 == addr("10.0.12.1") && lsa.2 == addr("10.0.0.1")),
        "{lsdb:?}"
    );
    let json = lab.frr_b.json("show ip ospf interface eth1 json");
    assert_eq!(json["interfaces"]["eth1"]["state"], "Backup", "{json}");
}

#[test]
fn ospf_frr_external_routes_sync() {
    // FRR b redistributes 300 static routes: 300 AS-external-LSAs, more than one DD packet and
    // one Link State Request can carry.
    let mut extra = String::new();
    for index in 0..300u32 {
        extra.push_str(&format!(
            "ip route 172.{}.{}.0/24 blackhole\n",
            16 + index / 256,
            index % 256
        ));
    }
    extra.push_str("router ospf\n redistribute static\n!\n");
    let lab = build("ospf-ext", NetworkType::PointToPoint, 1, &extra);
    check_lab(&lab, 303);

    let route = wait_until(
        Duration::from_secs(10),
        "our route to 172.17.43.0/24",
        || {
            lab.ours
                .routes()
                .get(&"172.17.43.0/24".parse().unwrap())
                .cloned()
        },
    );
    assert_eq!(route.route_type, hna_ospf::RouteType::External2);
    assert_eq!(route.type2_cost, 20, "FRR's default external metric");
    assert_eq!(route.cost, 10, "cost to the ASBR");
    let hops: Vec<_> = route.next_hops.iter().map(|hop| hop.address).collect();
    assert_eq!(hops, vec![Some(addr("10.0.12.2"))]);
    let externals = lab
        .ours
        .routes()
        .routes
        .values()
        .filter(|r| r.route_type == hna_ospf::RouteType::External2)
        .count();
    assert_eq!(externals, 300);
}

#[test]
fn ospf_frr_restart_resyncs_above_old_sequence() {
    let mut lab = build("ospf-restart", NetworkType::PointToPoint, 1, "");
    check_lab(&lab, 3);
    let own_sequence = |lsdb: &std::collections::BTreeSet<(u8, Ipv4Addr, Ipv4Addr, u32)>| {
        lsdb.iter()
            .find(|lsa| lsa.0 == 1 && lsa.2 == addr("10.0.0.1"))
            .map(|lsa| lsa.3)
            .unwrap()
    };
    let before = own_sequence(&lab.ours.lsdb());

    // Restart our instance. Stopping flushes our router-LSA, and FRR 8.4 keeps the flushed copy
    // for its MaxAge removal delay (60 s by default), so the new instance learns a copy newer
    // than InitialSequenceNumber and must originate above it.
    lab.ours.stop();
    let config = our_config("10.0.0.1", NetworkType::PointToPoint);
    lab.ours = Ours::start(&lab._namespaces[0], config);
    check_lab(&lab, 3);
    let after = own_sequence(&lab.ours.lsdb());
    assert!(
        after > before,
        "router-LSA sequence {after:#x} is not above {before:#x}"
    );
}

#[test]
fn ospf_frr_link_down_withdraws_routes() {
    let a = Netns::new("ospf-down-a");
    let b = Netns::new("ospf-down-b");
    veth(&a, "eth1", &b, "eth1", 1500);
    a.ip(&["addr", "add", "10.0.12.1/24", "dev", "eth1"]);
    b.ip(&["addr", "add", "10.0.12.2/24", "dev", "eth1"]);
    a.ip(&["addr", "add", "10.0.0.1/32", "dev", "lo"]);
    b.ip(&["addr", "add", "10.0.0.2/32", "dev", "lo"]);
    let p2p: &[&str] = &["ip ospf network point-to-point"];
    let frr = Frr::start(
        &b,
        &["ospfd"],
        &frr_ospf_config("10.0.0.2", &[("eth1", p2p)]),
    );
    let ours = Ours::start_watching(
        &a,
        our_config("10.0.0.1", NetworkType::PointToPoint),
        Duration::from_millis(100),
    );
    let loopback = "10.0.0.2/32".parse().unwrap();
    wait_until(
        Duration::from_secs(30),
        "our route to FRR's loopback",
        || ours.routes().get(&loopback).cloned(),
    );

    // Taking our side down reaches the instance through the interface watcher.
    a.ip(&["link", "set", "eth1", "down"]);
    wait_until(
        Duration::from_secs(3),
        "the adjacency and route to go",
        || {
            let gone = ours.neighbor_state(addr("10.0.0.2")).is_none()
                && ours.routes().get(&loopback).is_none();
            gone.then_some(())
        },
    );
    wait_until_ok(Duration::from_secs(10), "FRR to drop the adjacency", || {
        let state = frr_neighbor_state(&frr, "10.0.0.1");
        if state == "absent" {
            Ok(())
        } else {
            Err(state)
        }
    });

    // Up again: the adjacency and the route come back.
    a.ip(&["link", "set", "eth1", "up"]);
    wait_until(Duration::from_secs(30), "the route to return", || {
        ours.routes().get(&loopback).cloned()
    });
    assert_eq!(
        ours.neighbor_state(addr("10.0.0.2")),
        Some(NeighborState::Full)
    );
}
