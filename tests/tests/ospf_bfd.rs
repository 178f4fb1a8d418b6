//! `ip ospf track bfd` with hna-bfd against FRR 8.4 (ospfd and bfdd) over two parallel
//! point-to-point links with BFD at 100 ms x 3. A silent failure of one link (frames dropped
//! both ways, carrier up) kills that adjacency within 400 ms, and the routes move to the other
//! link.

#[path = "ospf_support.rs"]
mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hna_bfd::session::SessionParams;
use hna_ospf::{NeighborState, NetworkType};
use hna_testkit::{Frr, Netns, veth, wait_until, wait_until_ok};
use support::{Ours, frr_ospf_config, our_config};

fn addr(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

const BFD_PROFILE: &str = "bfd\n profile fast\n  transmit-interval 100\n  receive-interval 100\n  detect-multiplier 3\n !\n!\n";

/// Drops every frame leaving `interface` in `ns` with a tbf qdisc of a tiny burst, so the link
/// fails without losing carrier. The test kernel has neither netem nor gact.
fn blackhole(ns: &Netns, interface: &str) {
    ns.exec_ok(
        "tc",
        &[
            "qdisc", "add", "dev", interface, "root", "tbf", "rate", "8bit", "burst", "10",
            "latency", "1ms",
        ],
    );
}

fn frr_bfd_peers_up(frr: &Frr) -> Result<(), serde_json::Value> {
    let peers = frr.json("show bfd peers json");
    let up = peers.as_array().map_or(0, |list| {
        list.iter().filter(|peer| peer["status"] == "up").count()
    });
    if up == 2 { Ok(()) } else { Err(peers) }
}

#[test]
fn ospf_bfd_link_cut_moves_routes_within_400ms() {
    let a = Netns::new("ospf-bfd-a");
    let b = Netns::new("ospf-bfd-b");
    veth(&a, "eth1", &b, "eth1", 1500);
    veth(&a, "eth2", &b, "eth2", 1500);
    a.ip(&["addr", "add", "10.0.11.1/24", "dev", "eth1"]);
    b.ip(&["addr", "add", "10.0.11.2/24", "dev", "eth1"]);
    a.ip(&["addr", "add", "10.0.21.1/24", "dev", "eth2"]);
    b.ip(&["addr", "add", "10.0.21.2/24", "dev", "eth2"]);
    a.ip(&["addr", "add", "10.0.0.1/32", "dev", "lo"]);
    b.ip(&["addr", "add", "10.0.0.2/32", "dev", "lo"]);

    let link: &[&str] = &[
        "ip ospf network point-to-point",
        "ip ospf bfd",
        "ip ospf bfd profile fast",
    ];
    let config = format!(
        "{BFD_PROFILE}{}",
        frr_ospf_config("10.0.0.2", &[("eth1", link), ("eth2", link)])
    );
    let frr = Frr::start(&b, &["ospfd", "bfdd"], &config);
    let mut ours_config = our_config("10.0.0.1", NetworkType::PointToPoint);
    ours_config.default_interface.track_bfd = true;
    let params =
        SessionParams::new(Duration::from_millis(100), Duration::from_millis(100), 3).unwrap();
    let ours = Ours::start_with_bfd(&a, ours_config, params);

    // Both adjacencies Full, ECMP over both links, both BFD sessions up on FRR's side.
    wait_until_ok(Duration::from_secs(30), "two Full adjacencies", || {
        let states: Vec<_> = ours
            .neighbors()
            .iter()
            .map(|n| (n.interface.clone(), n.state))
            .collect();
        if states.len() == 2
            && states
                .iter()
                .all(|(_, state)| *state == NeighborState::Full)
        {
            Ok(())
        } else {
            Err(states)
        }
    });
    let loopback = "10.0.0.2/32".parse().unwrap();
    wait_until_ok(Duration::from_secs(10), "two next hops to 10.0.0.2", || {
        let route = ours.routes().get(&loopback).cloned();
        match route {
            Some(route) if route.next_hops.len() == 2 => Ok(()),
            other => Err(other),
        }
    });
    assert_eq!(
        ours.bfd_sessions().len(),
        2,
        "OSPF asked for one BFD session per neighbor"
    );
    wait_until_ok(Duration::from_secs(15), "FRR's BFD peers up", || {
        frr_bfd_peers_up(&frr)
    });

    // Cut eth1 silently in both directions.
    let cut = Instant::now();
    blackhole(&a, "eth1");
    blackhole(&b, "eth1");

    let adjacency_gone_at =
        wait_until(Duration::from_secs(5), "the eth1 adjacency to drop", || {
            let on_eth1 = ours
                .neighbors()
                .into_iter()
                .any(|n| n.interface == "eth1" && n.state >= NeighborState::TwoWay);
            (!on_eth1).then(Instant::now)
        });
    let dropped_after = adjacency_gone_at.duration_since(cut);
    let reported = ours.bfd_downs.lock().unwrap().clone();
    assert_eq!(
        reported
            .iter()
            .map(|(_, neighbor)| *neighbor)
            .collect::<Vec<_>>(),
        vec![addr("10.0.11.2")]
    );
    let detected_after = reported[0].0.duration_since(cut);
    assert!(
        detected_after <= Duration::from_millis(400),
        "BFD reported the failure after {detected_after:?}"
    );
    assert!(
        dropped_after <= Duration::from_millis(400),
        "the adjacency dropped after {dropped_after:?}"
    );

    // The route now uses eth2 only; the eth2 adjacency is untouched.
    let route = wait_until(Duration::from_secs(5), "the route to move to eth2", || {
        ours.routes()
            .get(&loopback)
            .cloned()
            .filter(|route| route.next_hops.len() == 1)
    });
    let hop = route.next_hops.iter().next().unwrap();
    assert_eq!(
        (hop.address, &*hop.interface),
        (Some(addr("10.0.21.2")), "eth2")
    );
    assert_eq!(
        ours.neighbor_state(addr("10.0.0.2")),
        Some(NeighborState::Full)
    );
    assert_eq!(
        ours.bfd_sessions().len(),
        1,
        "the session of the dead neighbor was unregistered"
    );
    eprintln!(
        "BFD reported the cut after {detected_after:?}; the adjacency was gone after {dropped_after:?} (polled every 20 ms)"
    );
}
