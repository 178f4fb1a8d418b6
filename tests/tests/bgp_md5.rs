//! TCP-MD5 (RFC 2385) and GTSM (RFC 5082) with FRR 8.4: a session with the right password
//! comes up whichever side connects, also for a dynamic neighbor keyed by its listen range, and
//! one with a wrong password never does.

mod bgp_support;

use std::time::{Duration, Instant};

use bgp_support::{
    Speaker, frr_state, ip, link, neighbor, options, our_config, wait_frr_established,
};
use hna_bgp::AfiSafi;
use hna_bgp::config::ListenRange;
use hna_bgp::session::State;
use hna_testkit::{Frr, Netns};

/// FRR with one eBGP neighbor and the given extra neighbor lines.
fn frr_config(asn: u32, id: &str, peer: &str, extra: &[&str]) -> String {
    let mut config = format!(
        "router bgp {asn}\n bgp router-id {id}\n no bgp ebgp-requires-policy\n timers bgp 3 9\n \
         neighbor {peer} remote-as 65001\n neighbor {peer} timers connect 5\n"
    );
    for line in extra {
        config.push_str(&format!(" neighbor {peer} {line}\n"));
    }
    config
}

/// Returns `TcpExtTCPMD5Failure` + `TcpExtTCPMD5Unexpected` + `TcpExtTCPMD5NotFound` of the
/// namespace: segments the kernel dropped for a missing or wrong signature.
fn md5_drops(ns: &Netns) -> u64 {
    let text = ns.exec_ok("cat", &["/proc/net/netstat"]);
    let mut lines = text.lines();
    let mut total = 0;
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        if !names.starts_with("TcpExt:") {
            continue;
        }
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            if name.starts_with("TCPMD5") {
                total += value.parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

#[test]
fn md5_right_password_establishes_wrong_never() {
    let ours = Netns::new("bgpmd5-us");
    let listener_side = Netns::new("bgpmd5-a");
    let connector_side = Netns::new("bgpmd5-b");
    let wrong_side = Netns::new("bgpmd5-c");
    let range_side = Netns::new("bgpmd5-d");
    link(
        &ours,
        "eth0",
        "10.40.0.1",
        &listener_side,
        "eth0",
        "10.40.0.2",
    );
    link(
        &ours,
        "eth1",
        "10.41.0.1",
        &connector_side,
        "eth0",
        "10.41.0.2",
    );
    link(&ours, "eth2", "10.42.0.1", &wrong_side, "eth0", "10.42.0.2");
    link(&ours, "eth3", "10.43.0.1", &range_side, "eth0", "10.43.0.2");

    // A: we are passive, so FRR connects and our listener's key must match.
    let frr_a = Frr::start(
        &listener_side,
        &["bgpd"],
        &frr_config(65002, "10.0.0.2", "10.40.0.1", &["password right-one"]),
    );
    // B: FRR is passive, so we connect with the key; GTSM on both sides as well.
    let frr_b = Frr::start(
        &connector_side,
        &["bgpd"],
        &frr_config(
            65003,
            "10.0.0.3",
            "10.41.0.1",
            &["password right-two", "passive", "ttl-security hops 1"],
        ),
    );
    // C: FRR's password differs from ours.
    let frr_c = Frr::start(
        &wrong_side,
        &["bgpd"],
        &frr_config(65004, "10.0.0.4", "10.42.0.1", &["password wrong"]),
    );
    // D: a dynamic neighbor from a listen range, whose key is a prefix key (TCP_MD5SIG_EXT).
    let frr_d = Frr::start(
        &range_side,
        &["bgpd"],
        &frr_config(65005, "10.0.0.5", "10.43.0.1", &["password range-key"]),
    );

    let mut config = our_config(65001, "10.0.0.1");
    let mut a = neighbor(65002, &[AfiSafi::IPV4_UNICAST]);
    a.password = Some("right-one".into());
    a.passive = Some(true);
    config.neighbors.insert(ip("10.40.0.2"), a);
    let mut b = neighbor(65003, &[AfiSafi::IPV4_UNICAST]);
    b.password = Some("right-two".into());
    b.ttl_security_hops = Some(1);
    config.neighbors.insert(ip("10.41.0.2"), b);
    let mut c = neighbor(65004, &[AfiSafi::IPV4_UNICAST]);
    c.password = Some("right-three".into());
    config.neighbors.insert(ip("10.42.0.2"), c);
    let mut group = neighbor(65005, &[AfiSafi::IPV4_UNICAST]);
    group.password = Some("range-key".into());
    config.groups.insert("ranged".into(), group);
    config.listen_ranges.push(ListenRange {
        prefix: "10.43.0.0/24".parse().unwrap(),
        group: "ranged".into(),
    });
    let before = md5_drops(&ours);
    let speaker = Speaker::start(&ours, config, options());

    speaker.wait_established("10.40.0.2", Duration::from_secs(30));
    speaker.wait_established("10.41.0.2", Duration::from_secs(30));
    wait_frr_established(&frr_a, "ipv4 unicast", "10.40.0.1", Duration::from_secs(10));
    wait_frr_established(&frr_b, "ipv4 unicast", "10.41.0.1", Duration::from_secs(10));
    speaker.wait_established("10.43.0.2", Duration::from_secs(30));
    wait_frr_established(&frr_d, "ipv4 unicast", "10.43.0.1", Duration::from_secs(10));
    let d_detail = speaker.neighbor("10.43.0.2").unwrap();
    assert!(d_detail.summary.dynamic);
    assert!(d_detail.md5);
    let b_detail = speaker.neighbor("10.41.0.2").unwrap();
    assert_eq!(b_detail.ttl, 255);
    assert_eq!(b_detail.min_ttl, Some(255));
    assert!(b_detail.md5);

    // C never comes up: watched for 20 s, about four connect attempts from each side.
    let watch = Duration::from_secs(20);
    let start = Instant::now();
    while start.elapsed() < watch {
        assert_ne!(
            speaker.state("10.42.0.2"),
            Some(State::OpenSent),
            "wrong password passed TCP"
        );
        assert_ne!(
            speaker.state("10.42.0.2"),
            Some(State::Established),
            "session up with a wrong password"
        );
        assert_ne!(
            frr_state(&frr_c, "ipv4 unicast", "10.42.0.1").as_deref(),
            Some("Established")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let dropped = md5_drops(&ours) - before;
    assert!(
        dropped > 0,
        "the kernel dropped no segment for its signature: the wrong peer never tried"
    );
    assert_eq!(speaker.neighbor("10.42.0.2").unwrap().counters.opens_in, 0);
    // The other sessions were not disturbed meanwhile.
    assert_eq!(speaker.state("10.40.0.2"), Some(State::Established));
    assert_eq!(speaker.state("10.41.0.2"), Some(State::Established));
    assert_eq!(speaker.state("10.43.0.2"), Some(State::Established));
}
