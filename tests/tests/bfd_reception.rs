//! The reception checks of RFC 5880 section 6.8.6 and RFC 5881 section 5 through real sockets.
//! Malformed packets sent over a veth to our instance are dropped and counted under their
//! reason on the session they belong to, and the TTL that the kernel reports is checked.

#[path = "bfd_support.rs"]
mod support;

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;

use hna_bfd::{DropReason, SessionKey, SessionParams, State};
use hna_testkit::wait_until;
use support::{LINK_A, LINK_B, Ours, Pair, ip};

const PEER_DISCRIMINATOR: u32 = 0x0a0b_0c0d;

/// Builds a Down packet from the peer with Your Discriminator zero and 1 s timers.
fn down_packet() -> Vec<u8> {
    let mut bytes = vec![0u8; 24];
    bytes[0] = 1 << 5;
    bytes[1] = 1 << 6;
    bytes[2] = 3;
    bytes[3] = 24;
    bytes[4..8].copy_from_slice(&PEER_DISCRIMINATOR.to_be_bytes());
    bytes[12..16].copy_from_slice(&1_000_000u32.to_be_bytes());
    bytes[16..20].copy_from_slice(&1_000_000u32.to_be_bytes());
    bytes
}

fn with(mut bytes: Vec<u8>, change: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    change(&mut bytes);
    bytes
}

/// Sends datagrams from the peer's namespace: from LINK_B, source port 49200, with a chosen TTL.
struct Sender {
    requests: mpsc::Sender<(Vec<u8>, u32)>,
    done: mpsc::Receiver<()>,
}

impl Sender {
    fn start(pair: &Pair) -> Sender {
        let (requests, incoming) = mpsc::channel::<(Vec<u8>, u32)>();
        let (acknowledge, done) = mpsc::channel();
        pair.b.spawn(move || {
            let socket =
                UdpSocket::bind((LINK_B, 49200)).expect("bind the sender in the peer namespace");
            let target: SocketAddr = format!("{LINK_A}:3784").parse().expect("address");
            for (payload, ttl) in incoming {
                socket.set_ttl(ttl).expect("set TTL");
                socket.send_to(&payload, target).expect("send");
                if acknowledge.send(()).is_err() {
                    break;
                }
            }
        });
        Sender { requests, done }
    }

    fn send(&self, payload: Vec<u8>, ttl: u32) {
        self.requests
            .send((payload, ttl))
            .expect("sender thread alive");
        self.done
            .recv_timeout(Duration::from_secs(5))
            .expect("sent");
    }
}

#[test]
fn bfd_malformed_packets_dropped_and_counted_over_udp() {
    let pair = Pair::new("bfd-rx");
    let ours = Ours::start(&pair.a);
    // Slow timers: the session stays Down and sends rarely, so only the test's packets arrive.
    let params = SessionParams::new(Duration::from_secs(10), Duration::from_secs(10), 3)
        .expect("valid parameters");
    let mut subscription = ours.bfd.register(
        SessionKey::single_hop(ip(LINK_B))
            .with_local(ip(LINK_A))
            .with_interface("eth0"),
        params,
    );
    assert_eq!(
        ours.block_on(subscription.recv())
            .map(|change| change.state),
        Some(State::Down)
    );
    let sender = Sender::start(&pair);

    let cases: Vec<(&str, Vec<u8>, u32, DropReason)> = vec![
        (
            "version 2",
            with(down_packet(), |b| b[0] = (2 << 5) | (b[0] & 0x1f)),
            255,
            DropReason::BadVersion,
        ),
        (
            "Length below 24",
            with(down_packet(), |b| b[3] = 20),
            255,
            DropReason::BadLength,
        ),
        (
            "Length beyond the payload",
            with(down_packet(), |b| b[3] = 48),
            255,
            DropReason::BadLength,
        ),
        (
            "payload of 10 bytes",
            down_packet()[..10].to_vec(),
            255,
            DropReason::BadLength,
        ),
        (
            "Detect Mult zero",
            with(down_packet(), |b| b[2] = 0),
            255,
            DropReason::ZeroDetectMult,
        ),
        (
            "Multipoint set",
            with(down_packet(), |b| b[1] |= 0x01),
            255,
            DropReason::Multipoint,
        ),
        (
            "My Discriminator zero",
            with(down_packet(), |b| b[4..8].fill(0)),
            255,
            DropReason::ZeroMyDiscriminator,
        ),
        (
            "Your Discriminator zero in Up",
            with(down_packet(), |b| b[1] = (3 << 6) | (b[1] & 0x3f)),
            255,
            DropReason::ZeroYourDiscriminator,
        ),
        (
            "Poll and Final",
            with(down_packet(), |b| b[1] |= 0x30),
            255,
            DropReason::PollAndFinal,
        ),
        (
            "reserved Auth Type",
            with(down_packet(), |b| {
                b[1] |= 0x04;
                b[3] = 28;
                b.extend_from_slice(&[0, 4, 1, 0]);
            }),
            255,
            DropReason::BadAuthSection,
        ),
        (
            "A set without authentication configured",
            with(down_packet(), |b| {
                b[1] |= 0x04;
                b[3] = 28;
                b.extend_from_slice(&[1, 4, 1, b'x']);
            }),
            255,
            DropReason::AuthUnexpected,
        ),
        ("TTL 254 on single-hop", down_packet(), 254, DropReason::Ttl),
        ("TTL 1 on single-hop", down_packet(), 1, DropReason::Ttl),
    ];

    for (rule, payload, ttl, reason) in cases {
        let before = ours
            .session(ip(LINK_B), false)
            .expect("session")
            .counters
            .dropped
            .get(reason);
        sender.send(payload, ttl);
        wait_until(
            Duration::from_secs(5),
            &format!("drop counted for {rule}"),
            || {
                let session = ours.session(ip(LINK_B), false)?;
                (session.counters.dropped.get(reason) == before + 1).then_some(())
            },
        );
        let session = ours.session(ip(LINK_B), false).expect("session");
        assert_eq!(session.counters.packets_in, 0, "{rule}: not accepted");
        assert_eq!(session.state, State::Down, "{rule}: state unchanged");
        assert_eq!(session.remote_discriminator, 0, "{rule}: nothing learned");
    }

    // A Your Discriminator that selects no session is counted among the unmatched drops.
    let unmatched_before = ours
        .block_on(ours.bfd.unmatched_drops())
        .get(DropReason::NoSession);
    sender.send(
        with(down_packet(), |b| {
            b[8..12].copy_from_slice(&0x7777_7777u32.to_be_bytes())
        }),
        255,
    );
    wait_until(Duration::from_secs(5), "unmatched drop counted", || {
        let drops = ours.block_on(ours.bfd.unmatched_drops());
        (drops.get(DropReason::NoSession) == unmatched_before + 1).then_some(())
    });

    // The unaltered packet with TTL 255 is accepted: the session moves to Init.
    sender.send(down_packet(), 255);
    let init = ours.wait_for_state(&mut subscription, State::Init, Duration::from_secs(5));
    assert_eq!(init.previous, State::Down);
    let session = ours.session(ip(LINK_B), false).expect("session");
    assert_eq!(session.counters.packets_in, 1);
    assert_eq!(session.remote_discriminator, PEER_DISCRIMINATOR);
}

#[test]
fn bfd_sent_packets_ttl_and_ports() {
    let pair = Pair::new("bfd-tx");
    let ours = Ours::start(&pair.a);
    let params = SessionParams::new(Duration::from_millis(50), Duration::from_millis(50), 3)
        .expect("valid parameters");
    // No BFD runs in the peer namespace: our sessions stay Down and send every second.
    let _single_hop = ours.bfd.register(
        SessionKey::single_hop(ip(LINK_B))
            .with_local(ip(LINK_A))
            .with_interface("eth0"),
        params.clone(),
    );
    let _multihop = ours.bfd.register(
        SessionKey::multihop(ip(support::LOOPBACK_B), ip(support::LOOPBACK_A)),
        params,
    );

    hna_testkit::require_program("tcpdump", "tcpdump");
    let capture = pair.b.exec_ok(
        "timeout",
        &[
            "10",
            "tcpdump",
            "-i",
            "eth0",
            "-nn",
            "-v",
            "-l",
            "-c",
            "6",
            "udp dst port 3784 or udp dst port 4784",
        ],
    );
    println!("{capture}");

    // tcpdump -v prints the IP header (with the TTL) on one line and the UDP ports on the next.
    let lines: Vec<&str> = capture.lines().collect();
    let mut seen = Vec::new();
    for pair_of_lines in lines.windows(2) {
        let (header, ports) = (pair_of_lines[0], pair_of_lines[1].trim());
        let Some(ttl) = header
            .split("ttl ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
        else {
            continue;
        };
        let mut fields = ports.split_whitespace();
        let (Some(source), Some(">"), Some(destination)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let source_port: u16 = source
            .rsplit('.')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("source port");
        let destination_port = destination
            .trim_end_matches(':')
            .rsplit('.')
            .next()
            .unwrap_or_default()
            .to_string();
        seen.push((ttl.to_string(), source_port, destination_port));
    }
    assert_eq!(seen.len(), 6, "six BFD packets captured: {capture}");
    for (ttl, source_port, destination_port) in &seen {
        assert_eq!(ttl, "255", "TTL of every packet");
        assert!(
            *source_port >= 49152,
            "source port {source_port} in 49152-65535"
        );
        assert!(
            destination_port == "3784" || destination_port == "4784",
            "destination port {destination_port}"
        );
    }
    let ports: std::collections::BTreeSet<u16> = seen.iter().map(|(_, port, _)| *port).collect();
    assert_eq!(ports.len(), 1, "one source port for all packets: {ports:?}");
    assert!(
        seen.iter().any(|(_, _, port)| port == "3784"),
        "single-hop packets captured"
    );
    assert!(
        seen.iter().any(|(_, _, port)| port == "4784"),
        "multihop packets captured"
    );
}
