//! The underlay of the fabric in examples/seed/, with FRR 8.4 leaves: our instance as hna1,
//! dual-homed to leaf1 and leaf2, and FRR as hna2. hna2's loopback must be reachable over both
//! leaves (ECMP), and every router's database must match ours.
//!
//! Links: leaf L to HNA H on 10.0.(10L+H).0/24, point-to-point, hello 1 s, dead 4 s; loopbacks
//! 10.0.0.1 (hna1), 10.0.0.2 (hna2), 10.0.0.201 and 10.0.0.202 (leaves).

#[path = "ospf_support.rs"]
mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use hna_ospf::{NeighborState, NetworkType};
use hna_testkit::{Frr, Netns, veth, wait_until_ok};
use support::{Ours, frr_lsdb, frr_ospf_config, our_config};

fn addr(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

#[test]
fn ospf_fabric_hna_reaches_peer_over_both_leaves() {
    let hna1 = Netns::new("ospf-fab-h1");
    let hna2 = Netns::new("ospf-fab-h2");
    let leaf1 = Netns::new("ospf-fab-l1");
    let leaf2 = Netns::new("ospf-fab-l2");
    for (leaf_index, leaf) in [(1, &leaf1), (2, &leaf2)] {
        for (hna_index, hna) in [(1, &hna1), (2, &hna2)] {
            let leaf_side = format!("eth{hna_index}");
            let hna_side = format!("eth{leaf_index}");
            veth(leaf, &leaf_side, hna, &hna_side, 1600);
            let subnet = 10 * leaf_index + hna_index;
            leaf.ip(&[
                "addr",
                "add",
                &format!("10.0.{subnet}.1/24"),
                "dev",
                &leaf_side,
            ]);
            hna.ip(&[
                "addr",
                "add",
                &format!("10.0.{subnet}.2/24"),
                "dev",
                &hna_side,
            ]);
        }
    }
    for (ns, loopback) in [
        (&hna1, "10.0.0.1"),
        (&hna2, "10.0.0.2"),
        (&leaf1, "10.0.0.201"),
        (&leaf2, "10.0.0.202"),
    ] {
        ns.ip(&["addr", "add", &format!("{loopback}/32"), "dev", "lo"]);
    }

    let p2p: &[&str] = &["ip ospf network point-to-point"];
    let frr_config = |router_id| frr_ospf_config(router_id, &[("eth1", p2p), ("eth2", p2p)]);
    let frr_leaf1 = Frr::start(&leaf1, &["ospfd"], &frr_config("10.0.0.201"));
    let frr_leaf2 = Frr::start(&leaf2, &["ospfd"], &frr_config("10.0.0.202"));
    let frr_hna2 = Frr::start(&hna2, &["ospfd"], &frr_config("10.0.0.2"));
    let ours = Ours::start(&hna1, our_config("10.0.0.1", NetworkType::PointToPoint));

    wait_until_ok(Duration::from_secs(30), "Full with both leaves", || {
        let states: Vec<_> = ours
            .neighbors()
            .iter()
            .map(|n| (n.neighbor_id, n.state))
            .collect();
        let full = states
            .iter()
            .filter(|(_, state)| *state == NeighborState::Full)
            .count();
        if full == 2 { Ok(()) } else { Err(states) }
    });

    // ECMP to hna2's loopback through both leaves, at cost 20.
    let loopback = "10.0.0.2/32".parse().unwrap();
    let route = wait_until_ok(
        Duration::from_secs(20),
        "two next hops to hna2",
        || match ours.routes().get(&loopback).cloned() {
            Some(route) if route.next_hops.len() == 2 => Ok(route),
            other => Err(other),
        },
    );
    let hops: Vec<_> = route
        .next_hops
        .iter()
        .map(|hop| (hop.address, hop.interface.to_string()))
        .collect();
    assert_eq!(
        hops,
        vec![
            (Some(addr("10.0.11.1")), "eth1".to_string()),
            (Some(addr("10.0.21.1")), "eth2".to_string())
        ]
    );
    assert_eq!(route.cost, 20);
    for leaf in ["10.0.0.201/32", "10.0.0.202/32"] {
        let route = ours
            .routes()
            .get(&leaf.parse().unwrap())
            .cloned()
            .unwrap_or_else(|| panic!("no route to {leaf}"));
        assert_eq!(route.next_hops.len(), 1, "{leaf}");
    }

    // Four router-LSAs, the same in every database.
    wait_until_ok(Duration::from_secs(20), "identical databases", || {
        let ours_lsdb = ours.lsdb();
        let all_equal = [&frr_leaf1, &frr_leaf2, &frr_hna2]
            .iter()
            .all(|frr| frr_lsdb(&frr.json("show ip ospf database json")) == ours_lsdb);
        if all_equal && ours_lsdb.len() == 4 {
            Ok(())
        } else {
            Err(ours_lsdb)
        }
    });

    // FRR's hna2 reaches our loopback over both leaves too.
    wait_until_ok(
        Duration::from_secs(10),
        "hna2's ECMP route to 10.0.0.1/32",
        || {
            let json = frr_hna2.json("show ip route 10.0.0.1/32 json");
            let nexthops = json["10.0.0.1/32"][0]["nexthops"]
                .as_array()
                .map_or(0, Vec::len);
            if nexthops == 2 { Ok(()) } else { Err(json) }
        },
    );
}
