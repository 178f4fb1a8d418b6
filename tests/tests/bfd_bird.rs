//! Our BFD against BIRD 2: single-hop and multihop sessions Up, with the intervals negotiated to
//! the larger side's values on both ends.

#[path = "bfd_support.rs"]
mod support;

use std::time::Duration;

use hna_bfd::{AuthType, Authentication, SessionKey, SessionParams, State};
use hna_testkit::{Bird, wait_until};
use support::{LINK_A, LINK_B, LOOPBACK_A, LOOPBACK_B, Ours, Pair, ip, millis};

/// One session as `birdc show bfd sessions` lists it.
#[derive(Debug)]
struct BirdSession {
    state: String,
    /// Negotiated transmit interval in milliseconds.
    interval_ms: u64,
    /// Detection time in milliseconds.
    timeout_ms: u64,
}

/// Parses the line for `peer` in `show bfd sessions`: address, interface (for single-hop),
/// state, since (one or two words), interval and timeout in seconds.
fn bird_session(bird: &Bird, peer: &str) -> Option<BirdSession> {
    let output = bird.birdc("show bfd sessions");
    let line = output
        .lines()
        .find(|line| line.split_whitespace().next() == Some(peer))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let seconds_to_ms = |text: &str| {
        text.parse::<f64>()
            .ok()
            .map(|seconds| (seconds * 1000.0).round() as u64)
    };
    let timeout_ms = seconds_to_ms(words.last()?)?;
    let interval_ms = seconds_to_ms(words.get(words.len().checked_sub(2)?)?)?;
    let state = words
        .iter()
        .find(|word| ["Up", "Down", "Init", "AdminDown"].contains(word))?
        .to_string();
    Some(BirdSession {
        state,
        interval_ms,
        timeout_ms,
    })
}

#[test]
fn bfd_bird_sessions_up_with_negotiated_intervals() {
    let pair = Pair::new("bfd-bird");
    // BIRD sends every 70 ms at best and accepts every 200 ms, multiplier 4; we send every 100
    // ms and accept every 60 ms, multiplier 3.
    let config = format!(
        "router id {LINK_B};\n\
         protocol device {{ scan time 1; }}\n\
         protocol bfd {{\n\
           interface \"eth0\" {{ min rx interval 200 ms; min tx interval 70 ms; multiplier 4; }};\n\
           multihop {{ min rx interval 200 ms; min tx interval 70 ms; multiplier 4; }};\n\
           neighbor {LINK_A} dev \"eth0\" local {LINK_B};\n\
           neighbor {LOOPBACK_A} local {LOOPBACK_B} multihop;\n\
         }}\n"
    );
    let bird = Bird::start(&pair.b, &config);
    let ours = Ours::start(&pair.a);
    let params = SessionParams::new(millis(100), millis(60), 3).expect("valid parameters");
    let mut single_hop = ours.bfd.register(
        SessionKey::single_hop(ip(LINK_B))
            .with_local(ip(LINK_A))
            .with_interface("eth0"),
        params.clone(),
    );
    let mut multihop = ours
        .bfd
        .register(SessionKey::multihop(ip(LOOPBACK_B), ip(LOOPBACK_A)), params);

    ours.wait_for_state(&mut single_hop, State::Up, Duration::from_secs(15));
    ours.wait_for_state(&mut multihop, State::Up, Duration::from_secs(15));

    for (peer_of_ours, peer_of_bird, multihop) in
        [(LINK_B, LINK_A, false), (LOOPBACK_B, LOOPBACK_A, true)]
    {
        let what = if multihop { "multihop" } else { "single-hop" };
        // BIRD's side: it sends at max(its 70 ms, our 60 ms RX) = 70 ms and detects in our
        // multiplier 3 x max(its 200 ms, our 100 ms TX) = 600 ms.
        let bird_view = wait_until(
            Duration::from_secs(10),
            "BIRD session Up with our timers",
            || {
                bird_session(&bird, peer_of_bird)
                    .filter(|session| session.state == "Up" && session.timeout_ms == 600)
            },
        );
        println!(
            "BIRD {what}: {bird_view:?}\n{}",
            bird.birdc("show bfd sessions")
        );
        assert_eq!(
            bird_view.interval_ms, 70,
            "{what}: BIRD's negotiated TX interval"
        );
        assert_eq!(bird_view.timeout_ms, 600, "{what}: BIRD's detection time");

        // Our side: we send at max(100 ms, BIRD's 200 ms RX) = 200 ms and detect in BIRD's
        // 4 x max(60 ms, BIRD's 70 ms TX) = 280 ms.
        // The Poll announcing our 100 ms after Up ends with BIRD's Final.
        let snapshot = wait_until(Duration::from_secs(5), "our fast timers in force", || {
            ours.session(ip(peer_of_ours), multihop).filter(|session| {
                session.timers.detection_time_us == 280_000 && !session.poll_pending
            })
        });
        assert_eq!(snapshot.timers.tx_interval_us, 200_000, "{what}");
        assert_eq!(snapshot.timers.rx_interval_us, 70_000, "{what}");
        assert_eq!(snapshot.remote_detect_multiplier, 4, "{what}");
        assert_eq!(snapshot.remote_state, State::Up, "{what}");

        // BIRD really sends at 70 ms less up to 25 % jitter: 43 to 57 packets in 3 s, and the
        // bounds allow a few more or fewer for scheduling noise.
        let before = snapshot.counters.packets_in;
        std::thread::sleep(Duration::from_secs(3));
        let after = ours
            .session(ip(peer_of_ours), multihop)
            .expect("session")
            .counters
            .packets_in;
        println!(
            "{what}: in 3 s we received {} packets from BIRD",
            after - before
        );
        assert!(
            (40..=60).contains(&(after - before)),
            "{what}: {} packets from BIRD in 3 s",
            after - before
        );
    }
    assert_eq!(single_hop.latest().state, State::Up);
    assert_eq!(multihop.latest().state, State::Up);
}

#[test]
fn bfd_bird_authenticated_sessions_up_for_every_type() {
    // BIRD authenticates per interface block and per multihop block, so each round checks two
    // authentication types: one on the single-hop and one on the multihop session.
    let rounds = [
        (
            ("simple", AuthType::SimplePassword),
            ("keyed md5", AuthType::KeyedMd5),
        ),
        (
            ("meticulous keyed md5", AuthType::MeticulousKeyedMd5),
            ("keyed sha1", AuthType::KeyedSha1),
        ),
        (
            ("meticulous keyed sha1", AuthType::MeticulousKeyedSha1),
            ("keyed sha1", AuthType::KeyedSha1),
        ),
    ];
    for (round, ((single_name, single_type), (multi_name, multi_type))) in
        rounds.into_iter().enumerate()
    {
        let pair = Pair::new(&format!("bfd-bauth{round}"));
        let config = format!(
            "router id {LINK_B};\n\
             protocol device {{ scan time 1; }}\n\
             protocol bfd {{\n\
               interface \"eth0\" {{ interval 50 ms; authentication {single_name}; password \"hna-key-1\" {{ id 7; }}; }};\n\
               multihop {{ interval 50 ms; authentication {multi_name}; password \"hna-key-2\" {{ id 9; }}; }};\n\
               neighbor {LINK_A} dev \"eth0\" local {LINK_B};\n\
               neighbor {LOOPBACK_A} local {LOOPBACK_B} multihop;\n\
             }}\n"
        );
        let bird = Bird::start(&pair.b, &config);
        let ours = Ours::start(&pair.a);
        let single_params = SessionParams::new(millis(50), millis(50), 3)
            .expect("valid parameters")
            .with_authentication(
                Authentication::new(single_type, 7, b"hna-key-1".to_vec()).expect("valid key"),
            );
        let multi_params = SessionParams::new(millis(50), millis(50), 3)
            .expect("valid parameters")
            .with_authentication(
                Authentication::new(multi_type, 9, b"hna-key-2".to_vec()).expect("valid key"),
            );
        let mut single_hop = ours.bfd.register(
            SessionKey::single_hop(ip(LINK_B))
                .with_local(ip(LINK_A))
                .with_interface("eth0"),
            single_params,
        );
        let mut multihop = ours.bfd.register(
            SessionKey::multihop(ip(LOOPBACK_B), ip(LOOPBACK_A)),
            multi_params,
        );

        ours.wait_for_state(&mut single_hop, State::Up, Duration::from_secs(15));
        ours.wait_for_state(&mut multihop, State::Up, Duration::from_secs(15));
        for (peer, multihop, auth_type) in
            [(LINK_A, false, single_type), (LOOPBACK_A, true, multi_type)]
        {
            wait_until(Duration::from_secs(10), "BIRD session Up", || {
                bird_session(&bird, peer).filter(|session| session.state == "Up")
            });
            // Stay Up for a second of 50 ms packets: sequence numbers keep being accepted.
            std::thread::sleep(Duration::from_secs(1));
            let ours_peer = if multihop { LOOPBACK_B } else { LINK_B };
            let snapshot = ours.session(ip(ours_peer), multihop).expect("session");
            println!("{auth_type:?} multihop={multihop}: {:?}", snapshot.counters);
            assert_eq!(snapshot.state, State::Up, "{auth_type:?}");
            assert_eq!(snapshot.counters.down_count, 0, "{auth_type:?}: no flap");
            assert_eq!(
                snapshot.counters.dropped.total(),
                0,
                "{auth_type:?}: every packet from BIRD authenticated"
            );
            assert!(snapshot.counters.packets_in > 15, "{auth_type:?}");
            assert_eq!(
                bird_session(&bird, peer).map(|session| session.state),
                Some("Up".to_string()),
                "{auth_type:?}"
            );
        }
    }
}
