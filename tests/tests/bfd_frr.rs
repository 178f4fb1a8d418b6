//! Our BFD against FRR 8.4 bfdd: single-hop and multihop sessions Up, intervals negotiated to
//! the larger side's values on both ends, and Down within the detection time on a silent cut.

#[path = "bfd_support.rs"]
mod support;

use std::time::Duration;

use hna_bfd::{Diagnostic, SessionKey, SessionParams, State};
use hna_testkit::{Frr, wait_until};
use serde_json::Value;
use support::{LINK_A, LINK_B, LOOPBACK_A, LOOPBACK_B, Ours, Pair, ip, millis};

/// bfdd configuration with one single-hop peer on eth0 and one multihop peer between the
/// loopbacks, both with the given timers (milliseconds).
fn frr_config(receive_ms: u64, transmit_ms: u64, multiplier: u8) -> String {
    let timers = format!(
        "  receive-interval {receive_ms}\n  transmit-interval {transmit_ms}\n  detect-multiplier {multiplier}\n"
    );
    format!(
        "bfd\n peer {LINK_A} local-address {LINK_B} interface eth0\n{timers} !\n peer {LOOPBACK_A} multihop local-address {LOOPBACK_B}\n{timers} !\n!\n"
    )
}

/// FRR's entry for `peer` in `show bfd peers json`.
fn frr_peer(frr: &Frr, peer: &str, multihop: bool) -> Option<Value> {
    let peers = frr.json("show bfd peers json");
    peers
        .as_array()?
        .iter()
        .find(|entry| entry["peer"] == peer && entry["multihop"] == multihop)
        .cloned()
}

/// FRR's packet counters for `peer` in `show bfd peers counters json`.
fn frr_counters(frr: &Frr, peer: &str, multihop: bool) -> Option<Value> {
    let peers = frr.json("show bfd peers counters json");
    peers
        .as_array()?
        .iter()
        .find(|entry| entry["peer"] == peer && entry["multihop"] == multihop)
        .cloned()
}

fn as_u64(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

#[test]
fn bfd_frr_sessions_up_with_negotiated_intervals() {
    let pair = Pair::new("bfd-frr");
    // FRR sends every 70 ms at best and accepts every 200 ms, multiplier 4; we send every
    // 100 ms and accept every 60 ms, multiplier 3.
    let frr = Frr::start(&pair.b, &["bfdd"], &frr_config(200, 70, 4));
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

    for (peer_of_ours, peer_of_frr, multihop) in
        [(LINK_B, LINK_A, false), (LOOPBACK_B, LOOPBACK_A, true)]
    {
        let what = if multihop { "multihop" } else { "single-hop" };
        let frr_view = wait_until(
            Duration::from_secs(10),
            "FRR session up with our timers",
            || {
                frr_peer(&frr, peer_of_frr, multihop).filter(|entry| {
                    entry["status"] == "up" && entry["remote-transmit-interval"] == 100
                })
            },
        );
        println!("FRR {what}: {frr_view}");
        // FRR's side: it sends at max(its 70 ms, our 60 ms RX) = 70 ms and expects our packets
        // at max(its 200 ms, our 100 ms TX) = 200 ms, so detects in 3 x 200 ms.
        assert_eq!(as_u64(&frr_view["transmit-interval"]), 70, "{what}");
        assert_eq!(as_u64(&frr_view["receive-interval"]), 200, "{what}");
        assert_eq!(as_u64(&frr_view["remote-receive-interval"]), 60, "{what}");
        assert_eq!(as_u64(&frr_view["remote-transmit-interval"]), 100, "{what}");
        assert_eq!(as_u64(&frr_view["remote-detect-multiplier"]), 3, "{what}");
        assert_eq!(as_u64(&frr_view["detect-multiplier"]), 4, "{what}");
        let frr_tx = as_u64(&frr_view["transmit-interval"])
            .max(as_u64(&frr_view["remote-receive-interval"]));
        let frr_rx = as_u64(&frr_view["receive-interval"])
            .max(as_u64(&frr_view["remote-transmit-interval"]));
        assert_eq!(
            (frr_tx, frr_rx),
            (70, 200),
            "{what}: FRR's negotiated TX and RX intervals"
        );

        // Our side: we send at max(100 ms, FRR's 200 ms RX) = 200 ms and expect FRR's packets at
        // max(60 ms, FRR's 70 ms TX) = 70 ms, so detect in FRR's 4 x 70 ms.
        // The Poll announcing our 100 ms after Up ends with FRR's Final.
        let snapshot = wait_until(Duration::from_secs(5), "our fast timers in force", || {
            ours.session(ip(peer_of_ours), multihop).filter(|session| {
                session.timers.detection_time_us == 280_000 && !session.poll_pending
            })
        });
        assert_eq!(snapshot.timers.tx_interval_us, 200_000, "{what}");
        assert_eq!(snapshot.timers.rx_interval_us, 70_000, "{what}");
        assert_eq!(snapshot.remote_detect_multiplier, 4, "{what}");
        assert_eq!(
            u64::from(snapshot.local_discriminator),
            as_u64(&frr_view["remote-id"]),
            "{what}"
        );
        assert_eq!(
            u64::from(snapshot.remote_discriminator),
            as_u64(&frr_view["id"]),
            "{what}"
        );
        assert_eq!(snapshot.remote_state, State::Up, "{what}");

        // The rates each side observes match the negotiated intervals. Over 3 s, FRR's packets
        // at 70 ms less up to 25 % jitter make 43 to 57 and ours at 200 ms make 15 to 20; the
        // bounds allow a few more or fewer for scheduling noise.
        let ours_before = snapshot.counters.packets_in;
        let frr_before = as_u64(
            &frr_counters(&frr, peer_of_frr, multihop).expect("counters")["control-packet-input"],
        );
        std::thread::sleep(Duration::from_secs(3));
        let ours_after = ours
            .session(ip(peer_of_ours), multihop)
            .expect("session")
            .counters
            .packets_in;
        let frr_after = as_u64(
            &frr_counters(&frr, peer_of_frr, multihop).expect("counters")["control-packet-input"],
        );
        let (from_frr, from_us) = (ours_after - ours_before, frr_after - frr_before);
        println!(
            "{what}: in 3 s we received {from_frr} packets from FRR, FRR received {from_us} from us"
        );
        assert!(
            (40..=60).contains(&from_frr),
            "{what}: {from_frr} packets from FRR in 3 s"
        );
        assert!(
            (13..=22).contains(&from_us),
            "{what}: {from_us} packets from us in 3 s"
        );
    }
    assert_eq!(single_hop.latest().state, State::Up);
    assert_eq!(multihop.latest().state, State::Up);

    // A second client asking for faster timers on the single-hop session changes them while Up:
    // a Poll Sequence carries 50 ms TX and 40 ms RX to FRR without a flap.
    let faster = SessionParams::new(millis(50), millis(40), 3).expect("valid parameters");
    let _second = ours.bfd.register(
        SessionKey::single_hop(ip(LINK_B))
            .with_local(ip(LINK_A))
            .with_interface("eth0"),
        faster,
    );
    let frr_view = wait_until(Duration::from_secs(5), "FRR sees our faster timers", || {
        frr_peer(&frr, LINK_A, false).filter(|entry| {
            entry["remote-transmit-interval"] == 50 && entry["remote-receive-interval"] == 40
        })
    });
    assert_eq!(frr_view["status"], "up");
    let snapshot = wait_until(Duration::from_secs(5), "Poll Sequence ended", || {
        ours.session(ip(LINK_B), false)
            .filter(|session| !session.poll_pending)
    });
    assert_eq!(snapshot.clients, 2);
    assert_eq!(
        snapshot.timers.tx_interval_us, 200_000,
        "still max(50 ms, FRR's 200 ms RX)"
    );
    assert_eq!(snapshot.counters.down_count, 0, "no flap during the change");
    assert_eq!(single_hop.latest().state, State::Up);
}

#[test]
fn bfd_frr_silent_cut_detected_within_detection_time() {
    let pair = Pair::new("bfd-frrcut");
    let frr = Frr::start(&pair.b, &["bfdd"], &frr_config(50, 50, 3));
    let ours = Ours::start(&pair.a);
    let params = SessionParams::new(millis(50), millis(50), 3).expect("valid parameters");
    let mut single_hop = ours.bfd.register(
        SessionKey::single_hop(ip(LINK_B))
            .with_local(ip(LINK_A))
            .with_interface("eth0"),
        params.clone(),
    );
    let mut multihop = ours
        .bfd
        .register(SessionKey::multihop(ip(LOOPBACK_B), ip(LOOPBACK_A)), params);
    let limit = millis(165);

    for round in 1..=3 {
        ours.wait_for_state(&mut single_hop, State::Up, Duration::from_secs(15));
        ours.wait_for_state(&mut multihop, State::Up, Duration::from_secs(15));
        support::wait_fast_timers(&ours, ip(LINK_B), false, 150_000);
        support::wait_fast_timers(&ours, ip(LOOPBACK_B), true, 150_000);
        wait_until(Duration::from_secs(5), "FRR sessions up", || {
            let single = frr_peer(&frr, LINK_A, false)?;
            let multi = frr_peer(&frr, LOOPBACK_A, true)?;
            (single["status"] == "up" && multi["status"] == "up").then_some(())
        });

        let cut = pair.cut();
        let single_down = ours.wait_for_state(&mut single_hop, State::Down, Duration::from_secs(2));
        let multi_down = ours.wait_for_state(&mut multihop, State::Down, Duration::from_secs(2));
        let single_elapsed = single_down.at.duration_since(cut);
        let multi_elapsed = multi_down.at.duration_since(cut);
        println!(
            "round {round}: silent cut to Down: single-hop {single_elapsed:?}, multihop {multi_elapsed:?} (limit {limit:?} = 3 x 50 ms + 10 %)"
        );
        for (what, elapsed, change) in [
            ("single-hop", single_elapsed, single_down),
            ("multihop", multi_elapsed, multi_down),
        ] {
            assert_eq!(
                change.diagnostic,
                Diagnostic::ControlDetectionTimeExpired,
                "{what}"
            );
            assert!(
                elapsed <= limit,
                "round {round} {what}: Down after {elapsed:?}, limit {limit:?}"
            );
            assert!(
                elapsed >= millis(100),
                "round {round} {what}: Down after only {elapsed:?}"
            );
        }
        wait_until(Duration::from_secs(2), "FRR sessions down", || {
            let single = frr_peer(&frr, LINK_A, false)?;
            let multi = frr_peer(&frr, LOOPBACK_A, true)?;
            (single["status"] == "down" && multi["status"] == "down").then_some(())
        });
        pair.restore();
    }
}
