//! The session state machine of RFC 5880 section 6.8 on a simulated link: bring-up, timer
//! negotiation, Poll Sequences, jitter, detection time and the remote's state signals.

mod common;

use std::time::{Duration, Instant};

use common::{FixedRandom, Link, params};
use hna_bfd::packet::AuthType;
use hna_bfd::session::{Output, SLOW_TX_INTERVAL};
use hna_bfd::{Authentication, Diagnostic, DropReason, Instance, SessionKey, SessionParams, State};

#[test]
fn sessions_come_up_through_init() {
    let mut link = Link::new(params(50, 50, 3), params(50, 50, 3));
    link.bring_up(Duration::from_secs(5));

    for end in [&link.a, &link.b] {
        let states: Vec<State> = end.changes.iter().map(|change| change.state).collect();
        assert!(
            states == [State::Init, State::Up] || states == [State::Up],
            "unexpected path to Up: {states:?}"
        );
        assert_eq!(end.session().local_diagnostic(), Diagnostic::NoDiagnostic);
        assert_eq!(end.session().counters().up_count, 1);
    }
    assert_eq!(
        link.a.session().remote_discriminator(),
        link.b.discriminator
    );
    assert_eq!(
        link.b.session().remote_discriminator(),
        link.a.discriminator
    );
}

#[test]
fn intervals_negotiate_to_larger_side() {
    // A sends every 50 ms at best and accepts every 80 ms; B sends every 100 ms and accepts
    // every 30 ms.
    let mut link = Link::new(params(50, 80, 3), params(100, 30, 4));
    link.bring_up(Duration::from_secs(5));
    link.settle();

    let a = link.a.session().timers();
    let b = link.b.session().timers();
    assert_eq!(
        a.tx_interval_us, 50_000,
        "A sends at max(50 ms, B's RX 30 ms)"
    );
    assert_eq!(
        a.rx_interval_us, 100_000,
        "A hears at max(80 ms, B's TX 100 ms)"
    );
    assert_eq!(a.detection_time_us, 400_000, "B's multiplier 4 x 100 ms");
    assert_eq!(
        b.tx_interval_us, 100_000,
        "B sends at max(100 ms, A's RX 80 ms)"
    );
    assert_eq!(
        b.rx_interval_us, 50_000,
        "B hears at max(30 ms, A's TX 50 ms)"
    );
    assert_eq!(b.detection_time_us, 150_000, "A's multiplier 3 x 50 ms");
}

#[test]
fn down_session_advertises_one_second_tx() {
    let mut link = Link::new(params(50, 50, 3), params(50, 50, 3));
    link.up = false;
    link.run_for(Duration::from_secs(3));

    let sent = &link.a.sent;
    assert!(sent.len() >= 2, "periodic packets while Down");
    for (_, packet) in sent {
        assert_eq!(packet.state, State::Down);
        assert_eq!(packet.desired_min_tx_us, 1_000_000);
        assert_eq!(packet.required_min_rx_us, 50_000);
        assert_eq!(packet.your_discriminator, 0);
    }
    for pair in sent.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(gap >= SLOW_TX_INTERVAL * 3 / 4, "gap {gap:?} below 75 %");
        assert!(gap <= SLOW_TX_INTERVAL, "gap {gap:?} above the interval");
    }
}

#[test]
fn up_transition_polls_for_fast_timers() {
    let mut link = Link::new(params(50, 50, 3), params(50, 50, 3));
    link.bring_up(Duration::from_secs(5));
    link.settle();

    let first_poll = link
        .a
        .sent
        .iter()
        .position(|(_, packet)| packet.poll)
        .expect("A polled after Up");
    let (_, poll) = &link.a.sent[first_poll];
    assert_eq!(poll.state, State::Up);
    assert_eq!(poll.desired_min_tx_us, 50_000);
    assert!(
        link.b.sent.iter().any(|(_, packet)| packet.final_),
        "B answered with Final"
    );
    let last = &link.a.sent.last().expect("packets").1;
    assert!(!last.poll, "Poll stops once the Final arrives");
    assert!(
        link.a
            .sent
            .iter()
            .all(|(_, packet)| !(packet.poll && packet.final_)),
        "A never sets Poll and Final together"
    );
}

#[test]
fn poll_is_answered_at_once_with_final() {
    let mut link = Link::new(params(50, 50, 3), params(1000, 1000, 3));
    link.bring_up(Duration::from_secs(5));
    link.settle();

    let now = link.now;
    let mut out = Vec::new();
    let faster = params(40, 40, 3);
    link.a
        .instance
        .set_params(link.a.discriminator, faster, now, &mut link.a.random);
    link.a
        .instance
        .handle_timers(now, &mut link.a.random, &mut out);
    link.dispatch(false, out);
    let (sent_at, poll) = link.a.sent.last().expect("a packet").clone();
    assert!(poll.poll, "a parameter change sends a Poll at once");
    assert_eq!(sent_at, now);

    link.run_for(Duration::from_millis(1));
    let (final_at, reply) = link.b.sent.last().expect("a reply").clone();
    assert!(reply.final_, "the peer answers the Poll with Final");
    assert!(!reply.poll);
    assert_eq!(
        final_at,
        now + link.delay,
        "Final leaves on reception, not at B's 1 s interval"
    );
}

#[test]
fn slower_tx_waits_for_final() {
    let mut link = Link::new(params(50, 50, 3), params(50, 50, 3));
    link.bring_up(Duration::from_secs(5));
    link.settle();

    // The link is cut, so the Poll for 200 ms is never answered and 50 ms stays in force.
    link.up = false;
    let now = link.now;
    link.a.instance.set_params(
        link.a.discriminator,
        params(200, 50, 3),
        now,
        &mut link.a.random,
    );
    link.run_for(Duration::from_millis(120));
    assert!(link.a.session().poll_pending());
    assert_eq!(
        link.a.session().advertised_desired_min_tx(),
        Duration::from_millis(200)
    );
    assert_eq!(link.a.session().timers().tx_interval_us, 50_000);
    let polls = link
        .a
        .sent
        .iter()
        .filter(|(at, packet)| *at >= now && packet.poll)
        .count();
    assert!(
        polls >= 2,
        "Poll repeats on every periodic packet until Final, got {polls}"
    );

    link.up = true;
    link.settle();
    assert_eq!(link.a.session().timers().tx_interval_us, 200_000);
}

#[test]
fn detection_time_expiry_goes_down_exactly_on_time() {
    let mut link = Link::new(params(50, 50, 3), params(50, 50, 3));
    link.bring_up(Duration::from_secs(5));
    link.settle();
    link.run_for(Duration::from_millis(500));

    link.up = false;
    let cut = link.now;
    let down = link.run_until(Duration::from_secs(1), |link| link.a.state() == State::Down);
    assert!(down, "A did not go Down");
    let change = *link.a.changes.last().expect("a state change");
    assert_eq!(change.state, State::Down);
    assert_eq!(change.previous, State::Up);
    assert_eq!(change.diagnostic, Diagnostic::ControlDetectionTimeExpired);

    let last_from_b = link
        .b
        .sent
        .iter()
        .map(|(at, _)| *at)
        .filter(|at| *at < cut)
        .max()
        .expect("B sent");
    let expected = last_from_b + link.delay + Duration::from_millis(150);
    assert_eq!(
        change.at, expected,
        "Down exactly one detection time after the last reception"
    );
    assert_eq!(
        link.a.session().remote_discriminator(),
        0,
        "remote discriminator forgotten"
    );
}

#[test]
fn peer_down_signal_brings_session_down() {
    let mut link = Link::new(params(50, 50, 3), params(50, 50, 3));
    link.bring_up(Duration::from_secs(5));

    let now = link.now;
    let mut out = Vec::new();
    link.b.instance.set_admin_down(
        link.b.discriminator,
        true,
        now,
        &mut link.b.random,
        &mut out,
    );
    link.dispatch(true, out);
    let admin = link.b.changes.last().expect("B changed");
    assert_eq!(admin.state, State::AdminDown);
    assert_eq!(admin.diagnostic, Diagnostic::AdministrativelyDown);

    link.run_for(Duration::from_millis(10));
    let change = link.a.changes.last().expect("A changed");
    assert_eq!(change.state, State::Down);
    assert_eq!(change.diagnostic, Diagnostic::NeighborSignaledSessionDown);
    assert_eq!(change.remote_state, State::AdminDown);
    assert_eq!(link.a.session().remote_state(), State::AdminDown);

    // Back from AdminDown, both sides come Up again.
    let now = link.now;
    let mut out = Vec::new();
    link.b.instance.set_admin_down(
        link.b.discriminator,
        false,
        now,
        &mut link.b.random,
        &mut out,
    );
    link.dispatch(true, out);
    link.bring_up(Duration::from_secs(5));
}

#[test]
fn removed_session_sends_admin_down_farewell() {
    let mut instance = Instance::new();
    let mut random = FixedRandom(7);
    let key = SessionKey::single_hop(common::ADDRESS_B);
    let discriminator =
        instance.add_session(key.clone(), params(50, 50, 3), Instant::now(), &mut random);
    let (removed, packet) = instance
        .remove_session(discriminator)
        .expect("session existed");
    assert_eq!(removed, key);
    let packet = hna_bfd::ControlPacket::decode(packet.as_bytes()).expect("decodes");
    assert_eq!(packet.state, State::AdminDown);
    assert_eq!(packet.diagnostic, Diagnostic::AdministrativelyDown);
    assert!(instance.is_empty());
    assert_eq!(instance.next_deadline(), None, "no timer left behind");
}

#[test]
fn jitter_stays_within_section_6_8_7_bounds() {
    for (multiplier, low_percent, high_percent) in [(3u8, 75u32, 100u32), (1, 75, 90)] {
        let mut link = Link::new(params(50, 50, multiplier), params(50, 50, 3));
        link.bring_up(Duration::from_secs(5));
        link.settle();
        let start = link.now;
        link.run_for(Duration::from_secs(10));

        let times: Vec<Instant> = link
            .a
            .sent
            .iter()
            .filter(|(at, packet)| *at > start && !packet.final_ && !packet.poll)
            .map(|(at, _)| *at)
            .collect();
        assert!(times.len() > 150, "enough samples: {}", times.len());
        let gaps: Vec<Duration> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
        let low = Duration::from_millis(50) * low_percent / 100;
        let high = Duration::from_millis(50) * high_percent / 100;
        for gap in &gaps {
            assert!(
                *gap >= low,
                "multiplier {multiplier}: gap {gap:?} below {low:?}"
            );
            assert!(
                *gap <= high,
                "multiplier {multiplier}: gap {gap:?} above {high:?}"
            );
        }
        let min = gaps.iter().min().expect("gaps");
        let max = gaps.iter().max().expect("gaps");
        assert!(
            *max - *min > Duration::from_millis(5),
            "intervals vary (min {min:?}, max {max:?})"
        );
    }
}

#[test]
fn fixed_random_gives_reproducible_schedule() {
    let start = Instant::now();
    let schedule = || {
        let mut instance = Instance::new();
        let mut random = FixedRandom(123_456);
        let key = SessionKey::single_hop(common::ADDRESS_B);
        instance.add_session(key, params(50, 50, 3), start, &mut random);
        let mut times = Vec::new();
        let mut out = Vec::new();
        for _ in 0..5 {
            let at = instance.next_deadline().expect("a timer");
            instance.handle_timers(at, &mut random, &mut out);
            times.push(at);
        }
        times
    };
    assert_eq!(schedule(), schedule());
}

#[test]
fn zero_remote_min_rx_stops_periodic_tx() {
    // B requests no periodic packets (Required Min RX 0), so once the sessions are Up, A sends
    // only what the protocol forces (state changes, Poll, Final) and B runs no detection timer.
    let mut link = Link::new(params(50, 50, 3), params(50, 0, 3));
    link.bring_up(Duration::from_secs(5));
    link.settle();
    let settled = link.now;
    link.run_for(Duration::from_secs(3));

    assert_eq!(link.a.state(), State::Up);
    assert_eq!(link.b.state(), State::Up);
    let periodic = link
        .a
        .sent
        .iter()
        .filter(|(at, packet)| *at > settled && !packet.final_)
        .count();
    assert_eq!(periodic, 0, "A kept sending periodic packets");
    assert!(
        link.b.sent.iter().filter(|(at, _)| *at > settled).count() > 50,
        "B keeps sending"
    );
    assert_eq!(link.b.session().timers().detection_time_us, 0);
}

#[test]
fn authenticated_sessions_come_up_for_every_type() {
    for auth_type in [
        AuthType::SimplePassword,
        AuthType::KeyedMd5,
        AuthType::MeticulousKeyedMd5,
        AuthType::KeyedSha1,
        AuthType::MeticulousKeyedSha1,
    ] {
        let auth = Authentication::new(auth_type, 3, b"hna-secret".to_vec()).expect("valid key");
        let a = params(50, 50, 3).with_authentication(auth.clone());
        let b = params(50, 50, 3).with_authentication(auth);
        let mut link = Link::new(a, b);
        link.bring_up(Duration::from_secs(5));
        link.settle();
        link.run_for(Duration::from_secs(1));
        assert_eq!(link.a.state(), State::Up, "{auth_type:?}");
        assert_eq!(
            link.a.session().counters().dropped.total(),
            0,
            "{auth_type:?}"
        );
        assert!(link.a.sent.iter().all(|(_, packet)| {
            packet.auth.as_ref().map(|auth| auth.auth_type()) == Some(auth_type)
        }));
    }
}

#[test]
fn mismatched_keys_keep_session_down_and_count() {
    let a = params(50, 50, 3)
        .with_authentication(Authentication::new(AuthType::KeyedSha1, 1, b"one".to_vec()).unwrap());
    let b = params(50, 50, 3)
        .with_authentication(Authentication::new(AuthType::KeyedSha1, 1, b"two".to_vec()).unwrap());
    let mut link = Link::new(a, b);
    link.run_for(Duration::from_secs(4));
    assert_eq!(link.a.state(), State::Down);
    assert_eq!(link.b.state(), State::Down);
    assert!(
        link.a
            .session()
            .counters()
            .dropped
            .get(DropReason::AuthFailed)
            >= 2
    );
    assert_eq!(link.a.session().counters().packets_in, 0);
}

#[test]
fn params_validation_rejects_unusable_values() {
    assert!(SessionParams::new(Duration::ZERO, Duration::from_millis(50), 3).is_err());
    assert!(SessionParams::new(Duration::from_millis(50), Duration::from_millis(50), 0).is_err());
    assert!(SessionParams::new(Duration::from_secs(5000), Duration::from_millis(50), 3).is_err());
    assert!(SessionParams::new(Duration::from_millis(50), Duration::ZERO, 3).is_ok());
}

#[test]
fn outputs_name_their_session() {
    let mut instance = Instance::new();
    let mut random = FixedRandom(99);
    let now = Instant::now();
    let discriminator = instance.add_session(
        SessionKey::single_hop(common::ADDRESS_B),
        params(50, 50, 3),
        now,
        &mut random,
    );
    let mut out = Vec::new();
    instance.handle_timers(now + SLOW_TX_INTERVAL, &mut random, &mut out);
    assert!(
        matches!(out.as_slice(), [Output::Transmit { discriminator: d, .. }] if *d == discriminator)
    );
}

#[test]
fn detection_time_counts_from_arrival() {
    let start = Instant::now();
    let mut instance = Instance::new();
    let mut random = FixedRandom(5);
    let discriminator = instance.add_session(
        SessionKey::single_hop(common::ADDRESS_B).with_local(common::ADDRESS_A),
        params(50, 50, 3),
        start,
        &mut random,
    );
    let mut payload = vec![0u8; 24];
    payload[0] = 1 << 5;
    payload[1] = 1 << 6;
    payload[2] = 3;
    payload[3] = 24;
    payload[4..8].copy_from_slice(&77u32.to_be_bytes());
    payload[12..16].copy_from_slice(&1_000_000u32.to_be_bytes());
    payload[16..20].copy_from_slice(&1_000_000u32.to_be_bytes());

    // Processed 40 ms after it arrived, for example after the task was delayed.
    let arrival = start + Duration::from_secs(1);
    let processed = arrival + Duration::from_millis(40);
    let received = hna_bfd::Received {
        payload: &payload,
        source: common::ADDRESS_B,
        destination: common::ADDRESS_A,
        interface: None,
        ttl: 255,
        multihop: false,
        arrival: Some(arrival),
    };
    let mut out = Vec::new();
    assert_eq!(
        instance.receive(&received, processed, &mut random, &mut out),
        Ok(discriminator)
    );
    let (_, session) = instance.session(discriminator).expect("session");
    assert_eq!(session.state(), State::Init);

    // Detection time: the peer's multiplier 3 x max(our 50 ms RX, its 1 s TX) = 3 s from arrival.
    let expiry = arrival + Duration::from_secs(3);
    instance.handle_timers(expiry - Duration::from_millis(1), &mut random, &mut out);
    assert_eq!(
        instance.session(discriminator).expect("session").1.state(),
        State::Init
    );
    instance.handle_timers(expiry, &mut random, &mut out);
    let (_, session) = instance.session(discriminator).expect("session");
    assert_eq!(session.state(), State::Down);
    assert_eq!(
        session.local_diagnostic(),
        Diagnostic::ControlDetectionTimeExpired
    );
}
