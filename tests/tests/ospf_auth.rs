//! Authenticated adjacencies: HMAC-SHA-256 (RFC 5709) with BIRD 2 and keyed MD5 with FRR 8.4,
//! and a wrong key that never lets an adjacency form while its packets are counted as dropped.

#[path = "ospf_support.rs"]
mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use hna_ospf::show::AuthErrorKind;
use hna_ospf::{Authentication, DropReason, NeighborState, NetworkType};
use hna_testkit::{Bird, Frr, Netns, veth, wait_until, wait_until_ok};
use support::{Ours, frr_ospf_config, our_config};

fn addr(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

/// Two namespaces joined by eth1 (10.0.12.0/24), loopbacks 10.0.0.1 (ours) and 10.0.0.2.
fn pair(tag: &str) -> (Netns, Netns) {
    let a = Netns::new(&format!("{tag}-a"));
    let b = Netns::new(&format!("{tag}-b"));
    veth(&a, "eth1", &b, "eth1", 1500);
    a.ip(&["addr", "add", "10.0.12.1/24", "dev", "eth1"]);
    b.ip(&["addr", "add", "10.0.12.2/24", "dev", "eth1"]);
    a.ip(&["addr", "add", "10.0.0.1/32", "dev", "lo"]);
    b.ip(&["addr", "add", "10.0.0.2/32", "dev", "lo"]);
    (a, b)
}

fn our_authenticated(authentication: Authentication) -> hna_ospf::Config {
    let mut config = our_config("10.0.0.1", NetworkType::PointToPoint);
    config.default_interface.authentication = authentication;
    config
}

fn bird_config(password: &str) -> String {
    format!(
        r#"router id 10.0.0.2;
protocol device {{ scan time 1; }}
protocol ospf v2 {{
  ipv4 {{ import all; export none; }};
  area 0 {{
    interface "lo" {{ stub yes; }};
    interface "eth1" {{
      type ptp;
      hello 1; dead 4; retransmit 2;
      authentication cryptographic;
      password "{password}" {{ id 7; algorithm hmac sha256; }};
    }};
  }};
}}
"#
    )
}

fn bird_neighbor_full(bird: &Bird) -> Result<(), String> {
    let output = bird.birdc("show ospf neighbors");
    if output
        .lines()
        .any(|line| line.starts_with("10.0.0.1") && line.contains("Full"))
    {
        Ok(())
    } else {
        Err(output)
    }
}

fn frr_md5_config(key: &str) -> String {
    let lines: &[&str] = &[
        "ip ospf network point-to-point",
        "ip ospf authentication message-digest",
        &format!("ip ospf message-digest-key 3 md5 {key}"),
    ];
    frr_ospf_config("10.0.0.2", &[("eth1", lines)])
}

fn frr_neighbor_state(frr: &Frr) -> String {
    let json = frr.json("show ip ospf neighbor json");
    let entry = &json["neighbors"]["10.0.0.1"][0];
    entry["converged"]
        .as_str()
        .or_else(|| entry["nbrState"].as_str())
        .unwrap_or("absent")
        .to_string()
}

fn bad_digests(ours: &Ours) -> u64 {
    ours.counters()
        .dropped(DropReason::Authentication(AuthErrorKind::BadDigest))
}

/// Watches the adjacency until `count` packets with a bad digest were dropped, asserting at
/// every look that neither side got to 2-Way.
fn assert_never_two_way(ours: &Ours, peer_state: impl Fn() -> String, count: u64) {
    wait_until(
        Duration::from_secs(20),
        &format!("{count} packets dropped for a bad digest"),
        || {
            let state = ours.neighbor_state(addr("10.0.0.2"));
            assert!(
                state.is_none_or(|state| state < NeighborState::TwoWay),
                "adjacency formed with a wrong key: {state:?}"
            );
            let peer = peer_state();
            assert!(
                !peer.starts_with("Full"),
                "peer formed an adjacency: {peer}"
            );
            assert!(!peer.starts_with("2-Way"), "peer reached 2-Way: {peer}");
            (bad_digests(ours) >= count).then_some(())
        },
    );
}

#[test]
fn ospf_bird_hmac_sha256_full() {
    let (a, b) = pair("ospf-bird");
    let bird = Bird::start(&b, &bird_config("hna-secret"));
    let key = Authentication::HmacSha256 {
        key_id: 7,
        key: b"hna-secret".to_vec(),
    };
    let ours = Ours::start(&a, our_authenticated(key));

    wait_until_ok(
        Duration::from_secs(30),
        "our neighbor BIRD Full",
        || match ours.neighbor_state(addr("10.0.0.2")) {
            Some(NeighborState::Full) => Ok(()),
            other => Err(other),
        },
    );
    wait_until_ok(
        Duration::from_secs(10),
        "BIRD neighbor 10.0.0.1 Full",
        || bird_neighbor_full(&bird),
    );
    let route = wait_until(
        Duration::from_secs(10),
        "our route to BIRD's loopback",
        || ours.routes().get(&"10.0.0.2/32".parse().unwrap()).cloned(),
    );
    assert_eq!(
        route.next_hops.iter().next().unwrap().address,
        Some(addr("10.0.12.2"))
    );
    assert_eq!(bad_digests(&ours), 0);
    let bird_routes = bird.birdc("show route 10.0.0.1/32");
    assert!(
        bird_routes.contains("10.0.0.1/32"),
        "BIRD has no route to our loopback: {bird_routes}"
    );
}

#[test]
fn ospf_bird_wrong_hmac_key_never_two_way() {
    let (a, b) = pair("ospf-birdbad");
    let bird = Bird::start(&b, &bird_config("bird-key"));
    let key = Authentication::HmacSha256 {
        key_id: 7,
        key: b"another-key".to_vec(),
    };
    let ours = Ours::start(&a, our_authenticated(key));
    assert_never_two_way(&ours, || bird.birdc("show ospf neighbors"), 6);
}

#[test]
fn ospf_frr_md5_full() {
    let (a, b) = pair("ospf-md5");
    let frr = Frr::start(&b, &["ospfd"], &frr_md5_config("md5-key"));
    let key = Authentication::Md5 {
        key_id: 3,
        key: b"md5-key".to_vec(),
    };
    let ours = Ours::start(&a, our_authenticated(key));

    wait_until_ok(
        Duration::from_secs(30),
        "our neighbor FRR Full",
        || match ours.neighbor_state(addr("10.0.0.2")) {
            Some(NeighborState::Full) => Ok(()),
            other => Err(other),
        },
    );
    wait_until_ok(Duration::from_secs(10), "FRR neighbor Full", || {
        let state = frr_neighbor_state(&frr);
        if state.starts_with("Full") {
            Ok(())
        } else {
            Err(state)
        }
    });
    wait_until(
        Duration::from_secs(10),
        "our route to FRR's loopback",
        || ours.routes().get(&"10.0.0.2/32".parse().unwrap()).cloned(),
    );
    assert_eq!(bad_digests(&ours), 0);
}

#[test]
fn ospf_frr_wrong_md5_key_never_two_way() {
    let (a, b) = pair("ospf-md5bad");
    let frr = Frr::start(&b, &["ospfd"], &frr_md5_config("frr-key"));
    let key = Authentication::Md5 {
        key_id: 3,
        key: b"our-key".to_vec(),
    };
    let ours = Ours::start(&a, our_authenticated(key));
    assert_never_two_way(&ours, || frr_neighbor_state(&frr), 6);
    let log = frr.log();
    assert!(
        log.contains("MD5") || log.contains("authentication"),
        "FRR did not report the bad digest"
    );
}
