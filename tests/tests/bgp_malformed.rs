//! RFC 7606 against a scripted peer built with our own codec: an UPDATE with an invalid ORIGIN
//! is treat-as-withdraw. Only the routes it carries are withdrawn (here and at FRR, to which we
//! passed them on), the scripted session stays up without a NOTIFICATION, and the healthy
//! session with FRR is untouched.

mod bgp_support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bgp_support::{
    Speaker, frr_peer, ip, link, neighbor, options, our_config, wait_frr_established,
};
use hna_bgp::AfiSafi;
use hna_bgp::message::{
    AsPath, Capability, Message, Open, Origin, PathAttributes, PathNlri, Update,
};
use hna_bgp::session::State;
use hna_bgp::wire::{HEADER_LEN, SessionContext};
use hna_testkit::{Frr, Netns, wait_until_ok};

const FRR_CONFIG: &str = "\
router bgp 65002
 bgp router-id 10.0.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 timers bgp 3 9
 neighbor 10.62.0.1 remote-as 65001
 neighbor 10.62.0.1 timers connect 5
 address-family ipv4 unicast
  network 10.63.0.0/24
 exit-address-family
";

/// A BGP peer driven by the test: it opens the session with our speaker, then sends whatever
/// bytes it is given and records the type of every message it receives.
struct ScriptedPeer {
    send: mpsc::Sender<Vec<u8>>,
    received: Arc<Mutex<Vec<u8>>>,
    closed: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ScriptedPeer {
    /// Connects from inside `ns` to `target` and sends OPEN (AS 65010, hold time 0 so that no
    /// keepalives are needed) and KEEPALIVE.
    fn connect(ns: &Netns, target: SocketAddr) -> ScriptedPeer {
        let (send, commands) = mpsc::channel::<Vec<u8>>();
        let received = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, eof, halt) = (received.clone(), closed.clone(), stop.clone());
        let thread = ns.spawn(move || {
            let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(5))
                .expect("connect to our speaker");
            stream
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let open = Open::new(
                65010,
                0,
                Ipv4Addr::new(10, 0, 0, 10),
                vec![
                    Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
                    Capability::FourOctetAs(65010),
                ],
            );
            let ctx = SessionContext::default();
            stream
                .write_all(&Message::Open(open).to_bytes(&ctx).unwrap())
                .unwrap();
            stream
                .write_all(&Message::Keepalive.to_bytes(&ctx).unwrap())
                .unwrap();
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 65536];
            while !halt.load(Ordering::Relaxed) {
                while let Ok(bytes) = commands.try_recv() {
                    stream.write_all(&bytes).unwrap();
                }
                match stream.read(&mut chunk) {
                    Ok(0) => {
                        eof.store(true, Ordering::Relaxed);
                        return;
                    }
                    Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => {
                        eof.store(true, Ordering::Relaxed);
                        return;
                    }
                }
                while buffer.len() >= HEADER_LEN {
                    let length = u16::from_be_bytes([buffer[16], buffer[17]]) as usize;
                    if buffer.len() < length {
                        break;
                    }
                    log.lock().unwrap().push(buffer[18]);
                    buffer.drain(..length);
                }
            }
        });
        ScriptedPeer {
            send,
            received,
            closed,
            stop,
            thread: Some(thread),
        }
    }

    fn send(&self, bytes: Vec<u8>) {
        self.send.send(bytes).expect("scripted peer running");
    }

    fn received_types(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for ScriptedPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Encodes an UPDATE from AS 65010 announcing `prefixes`, for a 4-octet AS session.
fn announcement(prefixes: &[&str]) -> Vec<u8> {
    let update = Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![65010])),
            next_hop: Some(Ipv4Addr::new(10, 60, 0, 2)),
            ..PathAttributes::default()
        },
        nlri: prefixes
            .iter()
            .map(|p| PathNlri::new(p.parse().unwrap()))
            .collect(),
        ..Update::default()
    };
    let ctx = SessionContext {
        four_octet_as: true,
        ..SessionContext::default()
    };
    Message::Update(update).to_bytes(&ctx).unwrap()
}

/// Sets ORIGIN to 5 in an encoded UPDATE, which RFC 7606 section 7.1 makes treat-as-withdraw.
fn with_invalid_origin(mut bytes: Vec<u8>) -> Vec<u8> {
    let at = bytes
        .windows(4)
        .position(|w| w == [0x40, 0x01, 0x01, 0x00])
        .expect("ORIGIN attribute");
    bytes[at + 3] = 5;
    bytes
}

fn our_prefixes(speaker: &Speaker) -> Vec<String> {
    let table = speaker
        .block_on(speaker.bgp.table(AfiSafi::IPV4_UNICAST))
        .unwrap();
    table.routes.iter().map(|r| r.prefix.clone()).collect()
}

fn frr_prefixes(frr: &Frr) -> Vec<String> {
    let json = frr.json("show bgp ipv4 unicast json");
    json["routes"]
        .as_object()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default()
}

/// FRR's count of sessions established and dropped with us.
fn frr_session_counts(frr: &Frr) -> (u64, u64) {
    let json = frr.json("show bgp neighbors 10.62.0.1 json");
    let peer = &json["10.62.0.1"];
    (
        peer["connectionsEstablished"].as_u64().unwrap_or(0),
        peer["connectionsDropped"].as_u64().unwrap_or(0),
    )
}

#[test]
fn malformed_update_is_treat_as_withdraw_and_isolated() {
    let ours = Netns::new("bgp7606-us");
    let script_ns = Netns::new("bgp7606-peer");
    let frr_ns = Netns::new("bgp7606-frr");
    link(&ours, "eth0", "10.60.0.1", &script_ns, "eth0", "10.60.0.2");
    link(&ours, "eth1", "10.62.0.1", &frr_ns, "eth0", "10.62.0.2");
    let frr = Frr::start(&frr_ns, &["bgpd"], FRR_CONFIG);

    let mut config = our_config(65001, "10.0.0.1");
    let mut scripted = neighbor(65010, &[AfiSafi::IPV4_UNICAST]);
    scripted.passive = Some(true);
    config.neighbors.insert(ip("10.60.0.2"), scripted);
    config
        .neighbors
        .insert(ip("10.62.0.2"), neighbor(65002, &[AfiSafi::IPV4_UNICAST]));
    let speaker = Speaker::start(&ours, config, options());
    speaker.wait_established("10.62.0.2", Duration::from_secs(30));
    wait_frr_established(&frr, "ipv4 unicast", "10.62.0.1", Duration::from_secs(10));

    let peer = ScriptedPeer::connect(&script_ns, "10.60.0.1:179".parse().unwrap());
    speaker.wait_established("10.60.0.2", Duration::from_secs(10));
    peer.send(announcement(&[
        "10.61.0.0/24",
        "10.61.1.0/24",
        "10.61.2.0/24",
    ]));
    wait_until_ok(
        Duration::from_secs(20),
        "scripted routes here and at FRR, FRR's here",
        || {
            let (here, there) = (our_prefixes(&speaker), frr_prefixes(&frr));
            let all = ["10.61.0.0/24", "10.61.1.0/24", "10.61.2.0/24"];
            let scripted = all
                .iter()
                .all(|p| here.iter().any(|h| h == p) && there.iter().any(|t| t == p));
            let healthy = here.iter().any(|h| h == "10.63.0.0/24");
            if scripted && healthy {
                Ok(())
            } else {
                Err((here, there))
            }
        },
    );
    let frr_before = frr_session_counts(&frr);

    // Re-announce 10.61.2.0/24 and announce 10.61.3.0/24 with an invalid ORIGIN.
    peer.send(with_invalid_origin(announcement(&[
        "10.61.2.0/24",
        "10.61.3.0/24",
    ])));
    let (here, there) = wait_until_ok(
        Duration::from_secs(20),
        "malformed routes withdrawn here and at FRR",
        || {
            let (here, there) = (our_prefixes(&speaker), frr_prefixes(&frr));
            let gone = |list: &Vec<String>| {
                !list
                    .iter()
                    .any(|p| p == "10.61.2.0/24" || p == "10.61.3.0/24")
            };
            if gone(&here) && gone(&there) {
                Ok((here, there))
            } else {
                Err((here, there))
            }
        },
    );
    for kept in ["10.61.0.0/24", "10.61.1.0/24", "10.63.0.0/24"] {
        assert!(
            here.iter().any(|p| p == kept),
            "{kept} missing here: {here:?}"
        );
    }
    for kept in ["10.61.0.0/24", "10.61.1.0/24"] {
        assert!(
            there.iter().any(|p| p == kept),
            "{kept} missing at FRR: {there:?}"
        );
    }

    // The scripted session stays up, without a NOTIFICATION, for a few seconds more.
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        assert_eq!(speaker.state("10.60.0.2"), Some(State::Established));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !peer.closed.load(Ordering::Relaxed),
        "our speaker closed the scripted session"
    );
    assert!(
        !peer.received_types().contains(&3),
        "a NOTIFICATION was sent: {:?}",
        peer.received_types()
    );
    let scripted = speaker.neighbor("10.60.0.2").unwrap();
    assert_eq!(scripted.malformed_updates.treat_as_withdraw, 1);
    assert_eq!(scripted.malformed_updates.session_reset, 0);
    assert_eq!(scripted.counters.drops, 0);

    // The healthy session never noticed.
    let healthy = speaker.neighbor("10.62.0.2").unwrap();
    assert_eq!(healthy.summary.state, State::Established);
    assert_eq!(healthy.counters.established_transitions, 1);
    assert_eq!(healthy.counters.drops, 0);
    assert_eq!(healthy.malformed_updates.treat_as_withdraw, 0);
    assert_eq!(frr_session_counts(&frr), frr_before);
    assert_eq!(
        frr_peer(&frr, "ipv4 unicast", "10.62.0.1").unwrap()["state"],
        "Established"
    );
}
