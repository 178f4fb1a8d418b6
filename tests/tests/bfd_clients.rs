//! Our BFD against itself in two namespaces: the client API (shared sessions, reference
//! counting, snapshots) and failure detection on a silent link cut.

#[path = "bfd_support.rs"]
mod support;

use std::time::Duration;

use hna_bfd::{Diagnostic, SessionKey, SessionParams, State};
use hna_testkit::wait_until;
use support::{LINK_A, LINK_B, LOOPBACK_A, LOOPBACK_B, Ours, Pair, ip, millis};

fn fast() -> SessionParams {
    SessionParams::new(millis(50), millis(50), 3).expect("valid parameters")
}

#[test]
fn bfd_shared_session_lives_until_last_subscription() {
    let pair = Pair::new("bfd-share");
    let ours_a = Ours::start(&pair.a);
    let ours_b = Ours::start(&pair.b);
    let key_a = SessionKey::single_hop(ip(LINK_B))
        .with_local(ip(LINK_A))
        .with_interface("eth0");
    let key_b = SessionKey::single_hop(ip(LINK_A))
        .with_local(ip(LINK_B))
        .with_interface("eth0");

    let mut first = ours_a.bfd.register(key_a.clone(), fast());
    let mut second = ours_a.bfd.register(key_a.clone(), SessionParams::default());
    let mut peer = ours_b.bfd.register(key_b, fast());

    let initial = ours_a.block_on(first.recv()).expect("first event");
    assert_eq!(initial.state, State::Down, "a new session starts Down");
    assert_eq!(initial.previous, State::Down);
    ours_a.wait_for_state(&mut first, State::Up, Duration::from_secs(10));
    ours_a.wait_for_state(&mut second, State::Up, Duration::from_secs(10));
    ours_b.wait_for_state(&mut peer, State::Up, Duration::from_secs(10));

    let sessions = ours_a.sessions();
    assert_eq!(sessions.len(), 1, "both clients share one session");
    assert_eq!(sessions[0].clients, 2);
    assert_eq!(
        sessions[0].desired_min_tx_us, 50_000,
        "the fastest client's timers win"
    );

    // A client registering later gets the current state first.
    let mut third = ours_a.bfd.register(key_a.clone(), fast());
    let current = ours_a.block_on(third.recv()).expect("current state");
    assert_eq!((current.previous, current.state), (State::Up, State::Up));
    drop(third);

    drop(first);
    let kept = wait_until(Duration::from_secs(5), "one client left", || {
        ours_a
            .session(ip(LINK_B), false)
            .filter(|session| session.clients == 1)
    });
    assert_eq!(kept.state, State::Up);
    assert_eq!(
        kept.desired_min_tx_us, 300_000,
        "the remaining client's timers apply"
    );
    assert_eq!(second.latest().state, State::Up);

    second.unregister();
    let down = ours_b.wait_for_state(&mut peer, State::Down, Duration::from_secs(2));
    assert_eq!(
        down.diagnostic,
        Diagnostic::NeighborSignaledSessionDown,
        "the peer heard AdminDown"
    );
    assert_eq!(
        down.remote_state,
        State::AdminDown,
        "clients can tell an administrative shutdown"
    );
    assert!(
        ours_a.sessions().is_empty(),
        "the last client removed the session"
    );
}

#[test]
fn bfd_silent_cut_detected_within_detection_time() {
    let pair = Pair::new("bfd-cut");
    let ours_a = Ours::start(&pair.a);
    let ours_b = Ours::start(&pair.b);
    let mut single_hop = ours_a.bfd.register(
        SessionKey::single_hop(ip(LINK_B))
            .with_local(ip(LINK_A))
            .with_interface("eth0"),
        fast(),
    );
    let mut multihop = ours_a
        .bfd
        .register(SessionKey::multihop(ip(LOOPBACK_B), ip(LOOPBACK_A)), fast());
    let _peer_single = ours_b.bfd.register(
        SessionKey::single_hop(ip(LINK_A)).with_local(ip(LINK_B)),
        fast(),
    );
    let _peer_multi = ours_b
        .bfd
        .register(SessionKey::multihop(ip(LOOPBACK_A), ip(LOOPBACK_B)), fast());
    ours_a.wait_for_state(&mut single_hop, State::Up, Duration::from_secs(10));
    ours_a.wait_for_state(&mut multihop, State::Up, Duration::from_secs(10));

    // The fast timers take effect after the Poll Sequence that follows Up.
    support::wait_fast_timers(&ours_a, ip(LINK_B), false, 150_000);
    support::wait_fast_timers(&ours_a, ip(LOOPBACK_B), true, 150_000);

    let limit = millis(165);
    let cut = pair.cut();
    let single_down = ours_a.wait_for_state(&mut single_hop, State::Down, Duration::from_secs(2));
    let multi_down = ours_a.wait_for_state(&mut multihop, State::Down, Duration::from_secs(2));
    let single_elapsed = single_down.at.duration_since(cut);
    let multi_elapsed = multi_down.at.duration_since(cut);
    println!(
        "silent cut to Down: single-hop {single_elapsed:?}, multihop {multi_elapsed:?} (limit {limit:?} = 3 x 50 ms + 10 %)"
    );
    for (name, elapsed, change) in [
        ("single-hop", single_elapsed, single_down),
        ("multihop", multi_elapsed, multi_down),
    ] {
        assert_eq!(
            change.diagnostic,
            Diagnostic::ControlDetectionTimeExpired,
            "{name}"
        );
        assert!(
            elapsed <= limit,
            "{name}: Down after {elapsed:?}, limit {limit:?}"
        );
        // Sooner than detection time minus one interval would mean a cause other than expiry.
        assert!(
            elapsed >= millis(100),
            "{name}: Down after only {elapsed:?}"
        );
    }

    pair.restore();
    ours_a.wait_for_state(&mut single_hop, State::Up, Duration::from_secs(10));
    ours_a.wait_for_state(&mut multihop, State::Up, Duration::from_secs(10));
}

#[test]
fn bfd_snapshot_serializes_with_counters() {
    let pair = Pair::new("bfd-snap");
    let ours_a = Ours::start(&pair.a);
    let ours_b = Ours::start(&pair.b);
    let mut subscription = ours_a
        .bfd
        .register(SessionKey::multihop(ip(LOOPBACK_B), ip(LOOPBACK_A)), fast());
    let _peer = ours_b
        .bfd
        .register(SessionKey::multihop(ip(LOOPBACK_A), ip(LOOPBACK_B)), fast());
    ours_a.wait_for_state(&mut subscription, State::Up, Duration::from_secs(10));

    // Our side can be Up while the last packet from the peer still reported Init.
    let snapshot = wait_until(Duration::from_secs(5), "peer reported Up", || {
        ours_a
            .session(ip(LOOPBACK_B), true)
            .filter(|session| session.remote_state == State::Up)
    });
    let peer_snapshot = ours_b.session(ip(LOOPBACK_A), true).expect("peer session");
    assert_eq!(
        snapshot.remote_discriminator,
        peer_snapshot.local_discriminator
    );
    assert!(snapshot.counters.packets_in > 0);
    assert!(snapshot.counters.packets_out > 0);
    assert!(snapshot.uptime_ms.is_some());

    let json = serde_json::to_value(&snapshot).expect("serializes");
    assert_eq!(json["peer"], LOOPBACK_B);
    assert_eq!(json["multihop"], true);
    assert_eq!(json["state"], "up");
    assert_eq!(json["detect_multiplier"], 3);
    assert!(
        json["tx_interval_us"].is_u64(),
        "negotiated timers are flattened: {json}"
    );
    assert!(
        json["counters"]["packets_in"].as_u64().unwrap_or(0) > 0,
        "{json}"
    );
}

#[test]
fn bfd_ipv6_single_hop_and_multihop_come_up() {
    let pair = Pair::new("bfd-v6");
    // Addresses without duplicate address detection are usable at once.
    for (ns, link_local, loopback, peer_loopback, peer_link_local) in [
        (
            &pair.a,
            "fe80::a/64",
            "2001:db8::a/128",
            "2001:db8::b/128",
            "fe80::b",
        ),
        (
            &pair.b,
            "fe80::b/64",
            "2001:db8::b/128",
            "2001:db8::a/128",
            "fe80::a",
        ),
    ] {
        ns.ip(&["addr", "add", link_local, "dev", "eth0", "nodad"]);
        ns.ip(&["addr", "add", loopback, "dev", "lo"]);
        ns.ip(&[
            "-6",
            "route",
            "add",
            peer_loopback,
            "via",
            peer_link_local,
            "dev",
            "eth0",
        ]);
    }
    let ours_a = Ours::start(&pair.a);
    let ours_b = Ours::start(&pair.b);

    let mut single_hop = ours_a.bfd.register(
        SessionKey::single_hop(ip("fe80::b"))
            .with_local(ip("fe80::a"))
            .with_interface("eth0"),
        fast(),
    );
    let mut multihop = ours_a.bfd.register(
        SessionKey::multihop(ip("2001:db8::b"), ip("2001:db8::a")),
        fast(),
    );
    let _peer_single = ours_b.bfd.register(
        SessionKey::single_hop(ip("fe80::a"))
            .with_local(ip("fe80::b"))
            .with_interface("eth0"),
        fast(),
    );
    let _peer_multi = ours_b.bfd.register(
        SessionKey::multihop(ip("2001:db8::a"), ip("2001:db8::b")),
        fast(),
    );

    ours_a.wait_for_state(&mut single_hop, State::Up, Duration::from_secs(10));
    ours_a.wait_for_state(&mut multihop, State::Up, Duration::from_secs(10));
    support::wait_fast_timers(&ours_a, ip("fe80::b"), false, 150_000);
    support::wait_fast_timers(&ours_a, ip("2001:db8::b"), true, 150_000);
    for (peer, multihop) in [("fe80::b", false), ("2001:db8::b", true)] {
        let session = ours_a.session(ip(peer), multihop).expect("session");
        assert_eq!(
            session.counters.dropped.total(),
            0,
            "{peer}: no packet dropped, the Hop Limit was 255"
        );
        assert_eq!(session.counters.send_errors, 0, "{peer}");
    }
}

#[test]
fn bfd_admin_down_and_back_up() {
    let pair = Pair::new("bfd-admin");
    let ours_a = Ours::start(&pair.a);
    let ours_b = Ours::start(&pair.b);
    let key_a = SessionKey::single_hop(ip(LINK_B)).with_local(ip(LINK_A));
    let mut subscription = ours_a.bfd.register(key_a.clone(), fast());
    let mut peer = ours_b.bfd.register(
        SessionKey::single_hop(ip(LINK_A)).with_local(ip(LINK_B)),
        fast(),
    );
    ours_a.wait_for_state(&mut subscription, State::Up, Duration::from_secs(10));
    ours_b.wait_for_state(&mut peer, State::Up, Duration::from_secs(10));

    ours_a.bfd.set_admin_down(key_a.clone(), true);
    let admin = ours_a.wait_for_state(&mut subscription, State::AdminDown, Duration::from_secs(2));
    assert_eq!(admin.diagnostic, Diagnostic::AdministrativelyDown);
    let down = ours_b.wait_for_state(&mut peer, State::Down, Duration::from_secs(2));
    assert_eq!(down.diagnostic, Diagnostic::NeighborSignaledSessionDown);
    assert_eq!(down.remote_state, State::AdminDown);

    ours_a.bfd.set_admin_down(key_a, false);
    ours_a.wait_for_state(&mut subscription, State::Up, Duration::from_secs(10));
    ours_b.wait_for_state(&mut peer, State::Up, Duration::from_secs(10));
}
