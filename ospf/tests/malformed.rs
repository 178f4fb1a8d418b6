//! Malformed and invalid packets and LSAs sent to an instance with a Full adjacency: each is
//! dropped or discarded as RFC 2328 sections 8.2 and 13 require, counted under its reason, and the
//! adjacency and database are left as they were.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::{Network, addr, config, ethernet, loopback};
use hna_ospf::lsa::{Options, checksum};
use hna_ospf::packet::{AuthHeader, DbDescription, Hello, LsAck, LsUpdate, Packet, PacketBody};
use hna_ospf::show::{AuthErrorKind, DecodeFailure};
use hna_ospf::{DropReason, Input, LsaDropReason, NeighborState, NetworkType};

const PEER: &str = "10.1.12.2";

fn full_pair() -> Network {
    let mut network = Network::new();
    let a = network.add_router(
        config("10.0.0.1", NetworkType::PointToPoint),
        vec![loopback("10.0.0.1/32"), ethernet("eth1", 2, "10.1.12.1/24")],
    );
    let b = network.add_router(
        config("10.0.0.2", NetworkType::PointToPoint),
        vec![loopback("10.0.0.2/32"), ethernet("eth1", 2, "10.1.12.2/24")],
    );
    network.link(&[(a, 2), (b, 2)]);
    network.advance(Duration::from_secs(10));
    assert_eq!(
        network.neighbor_state(0, addr("10.0.0.2")),
        vec![NeighborState::Full]
    );
    network
}

fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Rewrites the length field to the buffer length and recomputes the header checksum.
fn fix(mut bytes: Vec<u8>) -> Vec<u8> {
    let length = bytes.len() as u16;
    bytes[2..4].copy_from_slice(&length.to_be_bytes());
    bytes[12..14].fill(0);
    let checksum = internet_checksum(&bytes);
    bytes[12..14].copy_from_slice(&checksum.to_be_bytes());
    bytes
}

fn from_peer(body: PacketBody) -> Vec<u8> {
    Packet {
        router_id: addr("10.0.0.2"),
        area_id: Ipv4Addr::UNSPECIFIED,
        auth: AuthHeader::Null,
        body,
    }
    .encode()
}

fn hello(hello_interval: u16, dead_interval: u32) -> Vec<u8> {
    from_peer(PacketBody::Hello(Hello {
        network_mask: addr("255.255.255.0"),
        hello_interval,
        options: Options(Options::E),
        router_priority: 1,
        router_dead_interval: dead_interval,
        designated_router: Ipv4Addr::UNSPECIFIED,
        backup_designated_router: Ipv4Addr::UNSPECIFIED,
        neighbors: vec![addr("10.0.0.1")],
    }))
}

/// Builds a Link State Update whose body is `lsas`, raw LSAs placed one after the other.
fn ls_update(count: u32, lsas: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = from_peer(PacketBody::LsUpdate(LsUpdate { lsas: Vec::new() }));
    bytes[24..28].copy_from_slice(&count.to_be_bytes());
    for lsa in lsas {
        bytes.extend_from_slice(lsa);
    }
    fix(bytes)
}

/// Builds a router-LSA of 10.0.0.9 with `declared` links in its count field and the given stub links,
/// with a valid checksum unless `corrupt`.
fn router_lsa(sequence: u32, declared: u16, stubs: &[(&str, &str)], corrupt: bool) -> Vec<u8> {
    let mut bytes = vec![0, 1, Options::E, 1];
    bytes.extend_from_slice(&addr("10.0.0.9").octets());
    bytes.extend_from_slice(&addr("10.0.0.9").octets());
    bytes.extend_from_slice(&sequence.to_be_bytes());
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    bytes.extend_from_slice(&[0, 0]);
    bytes.extend_from_slice(&declared.to_be_bytes());
    for (id, mask) in stubs {
        bytes.extend_from_slice(&addr(id).octets());
        bytes.extend_from_slice(&addr(mask).octets());
        bytes.extend_from_slice(&[3, 0, 0, 10]);
    }
    let length = bytes.len() as u16;
    bytes[18..20].copy_from_slice(&length.to_be_bytes());
    checksum::fill(&mut bytes);
    if corrupt {
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
    }
    bytes
}

fn with_type(mut lsa: Vec<u8>, ls_type: u8) -> Vec<u8> {
    lsa[3] = ls_type;
    checksum::fill(&mut lsa);
    lsa
}

enum Expected {
    Dropped(DropReason),
    /// Discarded LSAs: the reason and how many of the packet's LSAs had it.
    Discarded(LsaDropReason, u64),
}

struct Case {
    name: &'static str,
    destination: &'static str,
    source: &'static str,
    data: Vec<u8>,
    expected: Expected,
}

fn case(name: &'static str, data: Vec<u8>, expected: Expected) -> Case {
    Case {
        name,
        destination: "224.0.0.5",
        source: PEER,
        data,
        expected,
    }
}

fn cases() -> Vec<Case> {
    use Expected::{Discarded, Dropped};
    let decode = |failure| Dropped(DropReason::Decode(failure));
    let valid_hello = hello(1, 4);

    let mut short_length = valid_hello.clone();
    short_length[2..4].copy_from_slice(&20u16.to_be_bytes());
    let mut long_length = valid_hello.clone();
    long_length[2..4].copy_from_slice(&200u16.to_be_bytes());
    let mut unaligned = valid_hello.clone();
    unaligned.extend_from_slice(&[0, 0]);
    let unaligned = fix(unaligned);
    let mut bad_checksum = valid_hello.clone();
    bad_checksum[30] ^= 0x01;
    let mut version = valid_hello.clone();
    version[0] = 3;
    let mut packet_type = valid_hello.clone();
    packet_type[1] = 9;
    let mut area = valid_hello.clone();
    area[11] = 1;
    let mut au_type = valid_hello.clone();
    au_type[15] = 1;
    let mut unknown_au_type = valid_hello.clone();
    unknown_au_type[15] = 9;
    let mut own_id = valid_hello.clone();
    own_id[4..8].copy_from_slice(&addr("10.0.0.1").octets());
    let mut zero_id = valid_hello.clone();
    zero_id[4..8].copy_from_slice(&[0; 4]);
    let mut truncated_hello = valid_hello[..40].to_vec();
    truncated_hello.truncate(40);

    let big_mtu = from_peer(PacketBody::DbDescription(DbDescription {
        interface_mtu: 9000,
        options: Options(Options::E),
        flags: DbDescription::FLAG_I | DbDescription::FLAG_M | DbDescription::FLAG_MS,
        dd_sequence_number: 1,
        lsa_headers: Vec::new(),
    }));
    let good = router_lsa(0x8000_0001, 1, &[("10.9.0.0", "255.255.0.0")], false);
    let mut overflowing = good.clone();
    overflowing[18..20].copy_from_slice(&200u16.to_be_bytes());
    let mut too_short = good.clone();
    too_short[18..20].copy_from_slice(&12u16.to_be_bytes());
    let mut lsa_unaligned = router_lsa(0x8000_0001, 1, &[("10.9.0.0", "255.255.0.0")], false);
    lsa_unaligned.extend_from_slice(&[0, 0]);
    let unaligned_len = lsa_unaligned.len() as u16;
    lsa_unaligned[18..20].copy_from_slice(&unaligned_len.to_be_bytes());
    checksum::fill(&mut lsa_unaligned);
    let ack_from_stranger = from_peer(PacketBody::LsAck(LsAck {
        lsa_headers: Vec::new(),
    }));

    vec![
        case(
            "shorter than a header",
            valid_hello[..10].to_vec(),
            decode(DecodeFailure::TooShort),
        ),
        case(
            "length below the body",
            fix(truncated_hello),
            decode(DecodeFailure::BadBody),
        ),
        case(
            "length field beyond the packet",
            long_length,
            decode(DecodeFailure::BadLength),
        ),
        case(
            "length field below the header",
            short_length,
            decode(DecodeFailure::BadLength),
        ),
        case(
            "length not a multiple of 4",
            unaligned,
            decode(DecodeFailure::LengthNotAligned),
        ),
        case(
            "bad header checksum",
            bad_checksum,
            decode(DecodeFailure::BadChecksum),
        ),
        case("version 3", fix(version), decode(DecodeFailure::BadVersion)),
        case(
            "unknown packet type",
            fix(packet_type),
            decode(DecodeFailure::UnknownType),
        ),
        case(
            "unknown authentication type",
            fix(unknown_au_type),
            decode(DecodeFailure::UnknownAuType),
        ),
        case("wrong area", fix(area), Dropped(DropReason::WrongArea)),
        case(
            "simple password on a null interface",
            fix(au_type),
            Dropped(DropReason::Authentication(AuthErrorKind::TypeMismatch)),
        ),
        case(
            "our own router id",
            fix(own_id),
            Dropped(DropReason::OwnRouterId),
        ),
        case(
            "router id 0.0.0.0",
            fix(zero_id),
            Dropped(DropReason::ZeroRouterId),
        ),
        Case {
            destination: "224.0.0.6",
            ..case(
                "AllDRouters on a point-to-point link",
                valid_hello.clone(),
                Dropped(DropReason::NotDesignatedRouter),
            )
        },
        case(
            "hello interval mismatch",
            hello(10, 4),
            Dropped(DropReason::HelloIntervalMismatch),
        ),
        case(
            "dead interval mismatch",
            hello(1, 40),
            Dropped(DropReason::DeadIntervalMismatch),
        ),
        case(
            "DD with a larger MTU",
            big_mtu,
            Dropped(DropReason::MtuMismatch),
        ),
        Case {
            source: "10.1.12.7",
            ..case(
                "ack from an unknown neighbor",
                ack_from_stranger,
                Dropped(DropReason::UnknownNeighbor),
            )
        },
        case(
            "LSA length beyond the packet",
            ls_update(1, &[overflowing]),
            decode(DecodeFailure::LsaFraming),
        ),
        case(
            "LSA length below its header",
            ls_update(1, &[too_short]),
            decode(DecodeFailure::LsaFraming),
        ),
        case(
            "LSA count disagrees",
            ls_update(2, std::slice::from_ref(&good)),
            decode(DecodeFailure::LsaCount),
        ),
        case(
            "LSA bad checksum",
            ls_update(
                1,
                &[router_lsa(
                    0x8000_0001,
                    1,
                    &[("10.9.0.0", "255.255.0.0")],
                    true,
                )],
            ),
            Discarded(LsaDropReason::BadChecksum, 1),
        ),
        case(
            "router-LSA link count disagrees",
            ls_update(
                1,
                &[router_lsa(
                    0x8000_0001,
                    2,
                    &[("10.9.0.0", "255.255.0.0")],
                    false,
                )],
            ),
            Discarded(LsaDropReason::RouterLinkCount, 1),
        ),
        case(
            "LSA sequence number 0x80000000",
            ls_update(
                1,
                &[router_lsa(
                    0x8000_0000,
                    1,
                    &[("10.9.0.0", "255.255.0.0")],
                    false,
                )],
            ),
            Discarded(LsaDropReason::ReservedSequenceNumber, 1),
        ),
        case(
            "unknown LS type 6",
            ls_update(1, &[with_type(good.clone(), 6)]),
            Discarded(LsaDropReason::UnknownType, 1),
        ),
        // Two 42-byte LSAs keep the packet length a multiple of 4.
        case(
            "LSA length not a multiple of 4",
            ls_update(2, &[lsa_unaligned.clone(), lsa_unaligned]),
            Discarded(LsaDropReason::LengthNotAligned, 2),
        ),
    ]
}

#[test]
fn malformed_packets_and_lsas_are_dropped_and_counted() {
    for case in cases() {
        let mut network = full_pair();
        let database = network.database(0);
        let before = network.routers[0].instance.counters().clone();

        network.input(
            0,
            Input::Packet {
                ifindex: 2,
                source: addr(case.source),
                destination: addr(case.destination),
                data: case.data.clone(),
            },
        );

        let counters = network.routers[0].instance.counters().clone();
        match case.expected {
            Expected::Dropped(reason) => {
                assert_eq!(
                    counters.dropped(reason),
                    before.dropped(reason) + 1,
                    "{}: {:?}",
                    case.name,
                    counters.dropped
                );
            }
            Expected::Discarded(reason, count) => {
                assert_eq!(
                    counters.lsas_discarded(reason),
                    before.lsas_discarded(reason) + count,
                    "{}: {:?}",
                    case.name,
                    counters
                );
            }
        }
        assert_eq!(
            network.database(0),
            database,
            "{}: the database changed",
            case.name
        );
        assert_eq!(
            network.neighbor_state(0, addr("10.0.0.2")),
            vec![NeighborState::Full],
            "{}: adjacency",
            case.name
        );
    }
}

#[test]
fn bad_lsa_is_skipped_and_next_one_installed() {
    let mut network = full_pair();
    let bad = router_lsa(0x8000_0001, 1, &[("10.9.0.0", "255.255.0.0")], true);
    let mut good = router_lsa(0x8000_0001, 1, &[("10.9.0.0", "255.255.0.0")], false);
    good[4..12].copy_from_slice(&[10, 0, 0, 8, 10, 0, 0, 8]);
    checksum::fill(&mut good);
    network.input(
        0,
        Input::Packet {
            ifindex: 2,
            source: addr(PEER),
            destination: addr("224.0.0.5"),
            data: ls_update(2, &[bad, good]),
        },
    );
    let database = network.database(0);
    assert!(
        database.iter().any(|lsa| lsa.1 == addr("10.0.0.8")),
        "the valid LSA after the bad one was not installed"
    );
    assert!(!database.iter().any(|lsa| lsa.1 == addr("10.0.0.9")));
    assert_eq!(
        network.routers[0]
            .instance
            .counters()
            .lsas_discarded(LsaDropReason::BadChecksum),
        1
    );
}
