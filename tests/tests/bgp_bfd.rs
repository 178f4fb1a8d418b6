//! `track bfd` wired to hna-bfd as the daemon wires it: the speaker's BfdRegister event
//! registers a session with our BFD instance, and BFD going down is reported back with
//! `Bgp::bfd_down`. A silent link failure then ends the BGP session within BFD's detection
//! time, long before the 30-second hold time could.

mod bgp_support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use bgp_support::{Speaker, ip, link, neighbor, options, our_config, wait_frr_established};
use hna_bfd::{Bfd, BfdConfig, SessionKey, SessionParams, State as BfdState};
use hna_bgp::AfiSafi;
use hna_bgp::instance::BgpEvent;
use hna_bgp::session::{DownReason, State};
use hna_testkit::{Frr, Netns, wait_until, wait_until_ok};

const FRR_CONFIG: &str = "\
bfd
 profile fast
  transmit-interval 100
  receive-interval 100
  detect-multiplier 3
 !
!
router bgp 65002
 bgp router-id 10.0.0.2
 no bgp ebgp-requires-policy
 timers bgp 10 30
 neighbor 10.90.0.1 remote-as 65001
 neighbor 10.90.0.1 timers connect 5
 neighbor 10.90.0.1 bfd
 neighbor 10.90.0.1 bfd profile fast
";

/// Forwards the speaker's BFD registrations to `bfd`, and each Up-to-Down change back to the
/// speaker, on a thread of its own (as the daemon's wiring task does).
fn wire_bfd(speaker: &Speaker, bfd: Bfd) -> std::thread::JoinHandle<()> {
    let registration = wait_until(
        Duration::from_secs(30),
        "BfdRegister from the speaker",
        || {
            speaker.events().into_iter().find_map(|e| match e {
                BgpEvent::BfdRegister {
                    peer,
                    local,
                    multihop,
                } => Some((peer, local, multihop)),
                _ => None,
            })
        },
    );
    let (peer, local, multihop) = registration;
    assert!(!multihop, "an eBGP neighbor on the link is single-hop");
    let bgp = speaker.bgp.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let key = SessionKey {
                peer,
                local: Some(local),
                interface: None,
                multihop,
            };
            let params =
                SessionParams::new(Duration::from_millis(100), Duration::from_millis(100), 3)
                    .unwrap();
            let mut subscription = bfd.register(key, params);
            while let Some(change) = subscription.recv().await {
                if change.previous == BfdState::Up && change.state != BfdState::Up {
                    bgp.bfd_down(peer);
                    return;
                }
            }
        });
    })
}

fn cut_silently(ns: &Netns) {
    ns.exec_ok(
        "tc",
        &[
            "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "8bit", "burst", "10", "latency",
            "1ms",
        ],
    );
}

#[test]
fn bfd_down_ends_bgp_session_at_once() {
    let ours = Netns::new("bgpbfd-us");
    let theirs = Netns::new("bgpbfd-frr");
    link(&ours, "eth0", "10.90.0.1", &theirs, "eth0", "10.90.0.2");
    let frr = Frr::start(&theirs, &["bfdd", "bgpd"], FRR_CONFIG);

    let bfd = ours
        .spawn(|| Bfd::spawn_on_thread(BfdConfig::default()))
        .join()
        .expect("thread in the namespace")
        .expect("BFD sockets");
    let mut config = our_config(65001, "10.0.0.1");
    let mut tracked = neighbor(65002, &[AfiSafi::IPV4_UNICAST]);
    tracked.track_bfd = Some(true);
    tracked.keepalive = Some(10);
    tracked.hold_time = Some(30);
    config.neighbors.insert(ip("10.90.0.2"), tracked);
    let speaker = Speaker::start(&ours, config, options());
    speaker.wait_established("10.90.0.2", Duration::from_secs(30));
    wait_frr_established(&frr, "ipv4 unicast", "10.90.0.1", Duration::from_secs(10));
    let watcher = wire_bfd(&speaker, bfd.clone());

    // Both BFD ends Up.
    wait_until_ok(Duration::from_secs(20), "our BFD session Up", || {
        let sessions = speaker.block_on(bfd.sessions());
        let up = sessions
            .iter()
            .any(|s| s.peer == IpAddr::from([10, 90, 0, 2]) && s.state == BfdState::Up);
        if up { Ok(()) } else { Err(sessions) }
    });
    wait_until_ok(Duration::from_secs(20), "FRR's BFD session up", || {
        let peers = frr.json("show bfd peers json");
        let up = peers.as_array().is_some_and(|p| {
            p.iter()
                .any(|s| s["peer"] == "10.90.0.1" && s["status"] == "up")
        });
        if up { Ok(()) } else { Err(peers) }
    });
    let detail = speaker.neighbor("10.90.0.2").unwrap();
    assert_eq!(detail.timers.negotiated_hold_time, Some(30));

    // Silent failure: the carrier stays up, every frame is dropped.
    let cut = Instant::now();
    cut_silently(&ours);
    cut_silently(&theirs);
    wait_until_ok(
        Duration::from_secs(5),
        "our session down",
        || match speaker.state("10.90.0.2") {
            Some(State::Established) => Err(cut.elapsed()),
            _ => Ok(()),
        },
    );
    let took = cut.elapsed();
    eprintln!("BGP session down {took:?} after the cut (BFD detection time 300 ms)");
    assert!(
        took < Duration::from_secs(3),
        "session ended after {took:?}: not by BFD"
    );
    let detail = speaker.neighbor("10.90.0.2").unwrap();
    assert_eq!(
        detail.last_error.map(|e| e.reason),
        Some(DownReason::BfdDown)
    );
    assert_eq!(
        detail.counters.notifications_out, 0,
        "a NOTIFICATION was sent on a dead path"
    );
    watcher.join().expect("BFD watcher");
}
