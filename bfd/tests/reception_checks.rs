//! The reception checks of RFC 5880 section 6.8.6, with the authentication checks of section
//! 6.7 and the TTL check of RFC 5881 section 5. Each rule has one malformed packet, which must
//! be dropped and counted under its own reason, on its session or among the unmatched drops.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::{FixedRandom, params};
use hna_bfd::packet::AuthType;
use hna_bfd::session::Output;
use hna_bfd::{Authentication, DropReason, Instance, Received, SessionKey, SessionParams, State};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const PLAIN_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
const AUTH_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
const ADMIN_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4));
const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));
const PEER_DISCRIMINATOR: u32 = 0x0102_0304;

fn sha1_auth(key_id: u8) -> Authentication {
    Authentication::new(
        AuthType::MeticulousKeyedSha1,
        key_id,
        b"reception-key".to_vec(),
    )
    .expect("valid key")
}

/// The instance under test: a plain session, an authenticated one and one in AdminDown.
struct Receiver {
    instance: Instance,
    plain: u32,
    authenticated: u32,
    admin_down: u32,
    now: Instant,
}

impl Receiver {
    fn new() -> Receiver {
        let now = Instant::now();
        let mut random = FixedRandom(0x5555_0000);
        let mut instance = Instance::new();
        let plain = instance.add_session(
            SessionKey::single_hop(PLAIN_PEER).with_local(LOCAL),
            params(50, 50, 3),
            now,
            &mut random,
        );
        let mut random = FixedRandom(0x6666_0000);
        let authenticated = instance.add_session(
            SessionKey::single_hop(AUTH_PEER).with_local(LOCAL),
            params(50, 50, 3).with_authentication(sha1_auth(1)),
            now,
            &mut random,
        );
        let mut random = FixedRandom(0x7777_0000);
        let admin_down = instance.add_session(
            SessionKey::single_hop(ADMIN_PEER).with_local(LOCAL),
            params(50, 50, 3),
            now,
            &mut random,
        );
        instance.set_admin_down(admin_down, true, now, &mut random, &mut Vec::new());
        Receiver {
            instance,
            plain,
            authenticated,
            admin_down,
            now,
        }
    }

    fn deliver(&mut self, payload: &[u8], source: IpAddr, ttl: u8) -> Result<u32, DropReason> {
        let received = Received {
            payload,
            source,
            destination: LOCAL,
            interface: Some("eth0"),
            ttl,
            multihop: false,
            arrival: None,
        };
        let mut random = FixedRandom(1);
        self.instance
            .receive(&received, self.now, &mut random, &mut Vec::new())
    }
}

/// Builds a packet from the plain peer: Down, Your Discriminator zero, Detect Mult 3, no auth.
fn plain_packet() -> Vec<u8> {
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

fn set_state(bytes: &mut [u8], state: u8) {
    bytes[1] = (bytes[1] & 0x3f) | (state << 6);
}

/// Packets from a peer session using `params`, signed as that session signs them.
fn signed_packets(params: SessionParams, count: usize) -> Vec<Vec<u8>> {
    let mut instance = Instance::new();
    let mut random = FixedRandom(PEER_DISCRIMINATOR);
    let start = Instant::now();
    instance.add_session(
        SessionKey::single_hop(LOCAL).with_local(AUTH_PEER),
        params,
        start,
        &mut random,
    );
    let mut packets = Vec::new();
    let mut at = start;
    while packets.len() < count {
        let mut out = Vec::new();
        at += Duration::from_secs(1);
        instance.handle_timers(at, &mut random, &mut out);
        packets.extend(out.into_iter().filter_map(|output| match output {
            Output::Transmit { packet, .. } => Some(packet.as_bytes().to_vec()),
            Output::StateChange { .. } => None,
        }));
    }
    packets
}

/// Where a dropped packet must be counted.
#[derive(Clone, Copy, Debug)]
enum CountedOn {
    Plain,
    Authenticated,
    AdminDown,
    Unmatched,
}

struct Case {
    rule: &'static str,
    payload: Vec<u8>,
    source: IpAddr,
    ttl: u8,
    reason: DropReason,
    counted_on: CountedOn,
}

fn cases(receiver: &Receiver) -> Vec<Case> {
    let plain = |rule, payload, reason| Case {
        rule,
        payload,
        source: PLAIN_PEER,
        ttl: 255,
        reason,
        counted_on: CountedOn::Plain,
    };
    let good_signed =
        signed_packets(params(50, 50, 3).with_authentication(sha1_auth(1)), 1).remove(0);
    let plain_discriminator = receiver.plain;

    vec![
        plain(
            "version is not 1",
            with(plain_packet(), |b| b[0] = (2 << 5) | (b[0] & 0x1f)),
            DropReason::BadVersion,
        ),
        plain(
            "payload shorter than 24 bytes",
            plain_packet()[..20].to_vec(),
            DropReason::BadLength,
        ),
        plain(
            "Length below 24 without A",
            with(plain_packet(), |b| b[3] = 23),
            DropReason::BadLength,
        ),
        plain(
            "Length below 26 with A",
            with(plain_packet(), |b| {
                b[1] |= 0x04;
                b.extend_from_slice(&[1, 3]);
            }),
            DropReason::BadLength,
        ),
        plain(
            "Length beyond the payload",
            with(plain_packet(), |b| b[3] = 40),
            DropReason::BadLength,
        ),
        plain(
            "Detect Mult zero",
            with(plain_packet(), |b| b[2] = 0),
            DropReason::ZeroDetectMult,
        ),
        plain(
            "Multipoint set",
            with(plain_packet(), |b| b[1] |= 0x01),
            DropReason::Multipoint,
        ),
        plain(
            "My Discriminator zero",
            with(plain_packet(), |b| b[4..8].fill(0)),
            DropReason::ZeroMyDiscriminator,
        ),
        plain(
            "Your Discriminator zero in Init",
            with(plain_packet(), |b| set_state(b, 2)),
            DropReason::ZeroYourDiscriminator,
        ),
        plain(
            "Your Discriminator zero in Up",
            with(plain_packet(), |b| set_state(b, 3)),
            DropReason::ZeroYourDiscriminator,
        ),
        plain(
            "Poll and Final both set",
            with(plain_packet(), |b| b[1] |= 0x30),
            DropReason::PollAndFinal,
        ),
        plain(
            "reserved Auth Type",
            with(plain_packet(), |b| {
                b[1] |= 0x04;
                b[3] = 28;
                b.extend_from_slice(&[9, 4, 1, 0]);
            }),
            DropReason::BadAuthSection,
        ),
        plain(
            "Auth Len not matching Length",
            with(plain_packet(), |b| {
                b[1] |= 0x04;
                b[3] = 30;
                b.extend_from_slice(&[1, 9, 1, b'a', b'b', b'c']);
            }),
            DropReason::BadAuthSection,
        ),
        plain(
            "A set on a session without authentication",
            with(plain_packet(), |b| {
                b[1] |= 0x04;
                b[3] = 30;
                b.extend_from_slice(&[1, 6, 1, b'a', b'b', b'c']);
            }),
            DropReason::AuthUnexpected,
        ),
        plain(
            "TTL below 255 on single-hop",
            plain_packet(),
            DropReason::Ttl,
        )
        .with_ttl(254),
        Case {
            rule: "Your Discriminator selects no session",
            payload: with(plain_packet(), |b| {
                b[8..12].copy_from_slice(&0xdead_beefu32.to_be_bytes())
            }),
            source: PLAIN_PEER,
            ttl: 255,
            reason: DropReason::NoSession,
            counted_on: CountedOn::Unmatched,
        },
        Case {
            rule: "Your Discriminator zero and no session for the addresses",
            payload: plain_packet(),
            source: STRANGER,
            ttl: 255,
            reason: DropReason::NoSession,
            counted_on: CountedOn::Unmatched,
        },
        Case {
            rule: "malformed packet from an unknown peer",
            payload: with(plain_packet(), |b| b[2] = 0),
            source: STRANGER,
            ttl: 255,
            reason: DropReason::ZeroDetectMult,
            counted_on: CountedOn::Unmatched,
        },
        Case {
            rule: "Your Discriminator of a session, but another source address",
            payload: with(plain_packet(), |b| {
                b[8..12].copy_from_slice(&plain_discriminator.to_be_bytes())
            }),
            source: AUTH_PEER,
            ttl: 255,
            reason: DropReason::AddressMismatch,
            counted_on: CountedOn::Plain,
        },
        Case {
            rule: "A clear on a session with authentication",
            payload: plain_packet(),
            source: AUTH_PEER,
            ttl: 255,
            reason: DropReason::AuthMissing,
            counted_on: CountedOn::Authenticated,
        },
        Case {
            rule: "other Auth Type than the session's",
            payload: signed_packets(
                params(50, 50, 3).with_authentication(
                    Authentication::new(AuthType::KeyedMd5, 1, b"reception-key".to_vec()).unwrap(),
                ),
                1,
            )
            .remove(0),
            source: AUTH_PEER,
            ttl: 255,
            reason: DropReason::AuthTypeMismatch,
            counted_on: CountedOn::Authenticated,
        },
        Case {
            rule: "Auth Key ID of no configured key",
            payload: signed_packets(params(50, 50, 3).with_authentication(sha1_auth(2)), 1)
                .remove(0),
            source: AUTH_PEER,
            ttl: 255,
            reason: DropReason::AuthKeyId,
            counted_on: CountedOn::Authenticated,
        },
        Case {
            rule: "digest does not match",
            payload: with(good_signed.clone(), |b| {
                let last = b.len() - 1;
                b[last] ^= 0xff;
            }),
            source: AUTH_PEER,
            ttl: 255,
            reason: DropReason::AuthFailed,
            counted_on: CountedOn::Authenticated,
        },
        Case {
            rule: "session in AdminDown discards every packet",
            payload: plain_packet(),
            source: ADMIN_PEER,
            ttl: 255,
            reason: DropReason::AdminDown,
            counted_on: CountedOn::AdminDown,
        },
    ]
}

impl Case {
    fn with_ttl(mut self, ttl: u8) -> Case {
        self.ttl = ttl;
        self
    }
}

fn drops(receiver: &Receiver, counted_on: CountedOn, reason: DropReason) -> u64 {
    let discriminator = match counted_on {
        CountedOn::Plain => receiver.plain,
        CountedOn::Authenticated => receiver.authenticated,
        CountedOn::AdminDown => receiver.admin_down,
        CountedOn::Unmatched => return receiver.instance.unmatched_drops().get(reason),
    };
    receiver
        .instance
        .session(discriminator)
        .expect("session")
        .1
        .counters()
        .dropped
        .get(reason)
}

fn accepted(receiver: &Receiver) -> u64 {
    receiver
        .instance
        .sessions()
        .map(|(_, session)| session.counters().packets_in)
        .sum()
}

#[test]
fn each_malformed_packet_is_dropped_and_counted() {
    let mut receiver = Receiver::new();
    for case in cases(&receiver) {
        let before = drops(&receiver, case.counted_on, case.reason);
        let accepted_before = accepted(&receiver);

        let result = receiver.deliver(&case.payload, case.source, case.ttl);

        assert_eq!(result, Err(case.reason), "{}", case.rule);
        assert_eq!(
            drops(&receiver, case.counted_on, case.reason),
            before + 1,
            "{}: counter",
            case.rule
        );
        assert_eq!(
            accepted(&receiver),
            accepted_before,
            "{}: no session accepted it",
            case.rule
        );
        let (_, plain) = receiver
            .instance
            .session(receiver.plain)
            .expect("plain session");
        assert_eq!(
            plain.state(),
            State::Down,
            "{}: the session did not move",
            case.rule
        );
        assert_eq!(
            plain.remote_discriminator(),
            0,
            "{}: nothing was learned from it",
            case.rule
        );
    }
}

#[test]
fn base_packets_of_the_table_are_accepted() {
    // The table's malformed packets are derived from these. Each is accepted as it is, so each
    // drop above is caused by the one field the case changes.
    let mut receiver = Receiver::new();
    assert_eq!(
        receiver.deliver(&plain_packet(), PLAIN_PEER, 255),
        Ok(receiver.plain)
    );
    let (_, session) = receiver.instance.session(receiver.plain).expect("session");
    assert_eq!(session.state(), State::Init);
    assert_eq!(session.remote_discriminator(), PEER_DISCRIMINATOR);

    let signed = signed_packets(params(50, 50, 3).with_authentication(sha1_auth(1)), 1).remove(0);
    assert_eq!(
        receiver.deliver(&signed, AUTH_PEER, 255),
        Ok(receiver.authenticated)
    );
}

#[test]
fn replayed_meticulous_packet_is_dropped() {
    let mut receiver = Receiver::new();
    let packets = signed_packets(params(50, 50, 3).with_authentication(sha1_auth(1)), 2);
    assert_eq!(
        receiver.deliver(&packets[1], AUTH_PEER, 255),
        Ok(receiver.authenticated)
    );
    assert_eq!(
        receiver.deliver(&packets[1], AUTH_PEER, 255),
        Err(DropReason::AuthSequence)
    );
    assert_eq!(
        receiver.deliver(&packets[0], AUTH_PEER, 255),
        Err(DropReason::AuthSequence)
    );
    assert_eq!(
        drops(
            &receiver,
            CountedOn::Authenticated,
            DropReason::AuthSequence
        ),
        2
    );
}

#[test]
fn multihop_packet_is_not_held_to_ttl_255() {
    let now = Instant::now();
    let mut instance = Instance::new();
    let mut random = FixedRandom(42);
    let discriminator = instance.add_session(
        SessionKey::multihop(PLAIN_PEER, LOCAL),
        params(50, 50, 3),
        now,
        &mut random,
    );
    let payload = plain_packet();
    let received = Received {
        payload: &payload,
        source: PLAIN_PEER,
        destination: LOCAL,
        interface: None,
        ttl: 250,
        multihop: true,
        arrival: None,
    };
    assert_eq!(
        instance.receive(&received, now, &mut random, &mut Vec::new()),
        Ok(discriminator)
    );

    // The same packet on the single-hop port matches no single-hop session.
    let single_hop = Received {
        multihop: false,
        ttl: 255,
        ..received
    };
    assert_eq!(
        instance.receive(&single_hop, now, &mut random, &mut Vec::new()),
        Err(DropReason::NoSession)
    );
}

#[test]
fn interface_bound_session_wins_over_catch_all() {
    let now = Instant::now();
    let mut instance = Instance::new();
    let mut random = FixedRandom(1000);
    let any = instance.add_session(
        SessionKey::single_hop(PLAIN_PEER),
        params(50, 50, 3),
        now,
        &mut random,
    );
    let mut random = FixedRandom(2000);
    let bound = instance.add_session(
        SessionKey::single_hop(PLAIN_PEER)
            .with_local(LOCAL)
            .with_interface("eth1"),
        params(50, 50, 3),
        now,
        &mut random,
    );
    let payload = plain_packet();
    let on = |interface| Received {
        payload: &payload,
        source: PLAIN_PEER,
        destination: LOCAL,
        interface,
        ttl: 255,
        multihop: false,
        arrival: None,
    };
    assert_eq!(
        instance.receive(&on(Some("eth1")), now, &mut random, &mut Vec::new()),
        Ok(bound)
    );
    assert_eq!(
        instance.receive(&on(Some("eth2")), now, &mut random, &mut Vec::new()),
        Ok(any)
    );
}
