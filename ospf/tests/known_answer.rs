//! Known-answer tests: captured OSPF packets decode to the values tshark 4.0 shows, re-encode to
//! the same bytes, and their LSAs carry valid Fletcher checksums.
//!
//! `data/ospfv2-md5-lls.pcap` comes from the tcpdump test suite: a non-FRR router with keyed MD5
//! and LLS blocks. `data/frr-fabric-ospf.pcap` contains the OSPF packets of an FRR 8.4 fabric.

use std::net::Ipv4Addr;

use hna_ospf::lsa::{LsType, LsaBody, RouterLinkType, checksum};
use hna_ospf::packet::{AuthHeader, Packet, PacketBody};

/// Returns the OSPF payload (after the Ethernet and IPv4 headers) of every frame of a classic
/// little-endian pcap file.
fn ospf_payloads(path: &str) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|error| panic!("read {path}: {error}"));
    assert_eq!(
        &data[0..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "{path} is not a little-endian pcap file"
    );
    let mut offset = 24;
    let mut payloads = Vec::new();
    while offset + 16 <= data.len() {
        let captured =
            u32::from_le_bytes(data[offset + 8..offset + 12].try_into().unwrap()) as usize;
        let frame = &data[offset + 16..offset + 16 + captured];
        offset += 16 + captured;
        assert_eq!(
            &frame[12..14],
            &[0x08, 0x00],
            "frame is not IPv4 over Ethernet"
        );
        let ip = &frame[14..];
        let header_len = usize::from(ip[0] & 0x0f) * 4;
        let total_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        assert_eq!(ip[9], 89, "frame is not OSPF");
        payloads.push(ip[header_len..total_len].to_vec());
    }
    payloads
}

fn addr(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

/// Decodes every packet of `path` and checks that it re-encodes to the same bytes and that
/// every LSA it carries verifies and re-encodes from its decoded fields.
fn check_round_trip(path: &str) -> usize {
    let payloads = ospf_payloads(path);
    let mut lsa_count = 0;
    for (index, payload) in payloads.iter().enumerate() {
        let frame = index + 1;
        let decoded =
            Packet::decode(payload).unwrap_or_else(|error| panic!("frame {frame}: {error}"));
        assert!(
            decoded.discarded_lsas.is_empty(),
            "frame {frame}: discarded {:?}",
            decoded.discarded_lsas
        );
        let length = usize::from(decoded.packet_length);
        assert_eq!(
            decoded.packet.encode(),
            payload[..length],
            "frame {frame} re-encodes differently"
        );
        assert_eq!(decoded.trailer, &payload[length..], "frame {frame} trailer");
        if let PacketBody::LsUpdate(update) = &decoded.packet.body {
            for lsa in &update.lsas {
                assert!(checksum::verify(lsa.raw()), "frame {frame}: LSA checksum");
                assert_eq!(
                    checksum::compute(lsa.raw()),
                    lsa.header.ls_checksum,
                    "frame {frame}: recomputed checksum"
                );
                assert_eq!(
                    lsa.encode(),
                    lsa.raw().to_vec(),
                    "frame {frame}: LSA re-encodes differently"
                );
                lsa_count += 1;
            }
        }
    }
    assert!(!payloads.is_empty());
    lsa_count
}

#[test]
fn md5_capture_round_trips() {
    let lsas = check_round_trip("tests/data/ospfv2-md5-lls.pcap");
    assert!(lsas >= 20, "only {lsas} LSAs checked");
}

#[test]
fn frr_capture_round_trips() {
    let lsas = check_round_trip("tests/data/frr-fabric-ospf.pcap");
    assert!(lsas >= 10, "only {lsas} LSAs checked");
}

#[test]
fn md5_capture_hello_matches_tshark() {
    let payloads = ospf_payloads("tests/data/ospfv2-md5-lls.pcap");
    let decoded = Packet::decode(&payloads[0]).unwrap();
    assert_eq!(decoded.packet_length, 52);
    assert_eq!(decoded.packet.router_id, addr("192.168.255.15"));
    assert_eq!(decoded.packet.area_id, addr("0.0.0.0"));
    assert_eq!(decoded.checksum, 0);
    assert_eq!(
        decoded.packet.auth,
        AuthHeader::Cryptographic {
            key_id: 1,
            auth_data_len: 16,
            sequence: 1518551314
        }
    );
    // The 16-byte digest, then the 36-byte LLS block.
    assert_eq!(decoded.trailer.len(), 16 + 36);
    assert_eq!(&decoded.trailer[..4], &[0x91, 0xb0, 0x1c, 0x6b]);
    let PacketBody::Hello(hello) = decoded.packet.body else {
        panic!("not a Hello")
    };
    assert_eq!(hello.network_mask, addr("255.255.255.0"));
    assert_eq!(hello.hello_interval, 10);
    assert_eq!(hello.options.0, 0x12);
    assert_eq!(hello.router_priority, 1);
    assert_eq!(hello.router_dead_interval, 40);
    assert_eq!(hello.designated_router, addr("192.168.121.4"));
    assert_eq!(hello.backup_designated_router, addr("192.168.121.5"));
    assert_eq!(
        hello.neighbors,
        vec![addr("192.168.255.11"), addr("192.168.255.14")]
    );
}

#[test]
fn md5_capture_database_description_matches_tshark() {
    let payloads = ospf_payloads("tests/data/ospfv2-md5-lls.pcap");
    let decoded = Packet::decode(&payloads[4]).unwrap();
    assert_eq!(decoded.packet_length, 132);
    assert_eq!(decoded.packet.router_id, addr("192.168.255.11"));
    let PacketBody::DbDescription(dd) = decoded.packet.body else {
        panic!("not a DD")
    };
    assert_eq!(dd.interface_mtu, 1500);
    assert_eq!(dd.options.0, 0x52);
    assert_eq!(dd.flags, 0x02);
    assert_eq!(dd.dd_sequence_number, 7163);
    assert_eq!(dd.lsa_headers.len(), 5);
    let first = dd.lsa_headers[0];
    assert_eq!(first.ls_age, 4);
    assert_eq!(first.options.0, 0x22);
    assert_eq!(first.ls_type, LsType::ROUTER);
    assert_eq!(first.link_state_id, addr("192.168.255.11"));
    assert_eq!(first.advertising_router, addr("192.168.255.11"));
    assert_eq!(first.ls_sequence_number as u32, 0x80000002);
    assert_eq!(first.ls_checksum, 0x3e97);
    assert_eq!(first.length, 60);
    let second = dd.lsa_headers[1];
    assert_eq!(second.ls_type, LsType::AS_EXTERNAL);
    assert_eq!(second.ls_age, 30);
    assert_eq!(second.link_state_id, addr("192.168.124.0"));
    assert_eq!(second.ls_checksum, 0x8eb7);
}

#[test]
fn md5_capture_ls_update_matches_tshark() {
    let payloads = ospf_payloads("tests/data/ospfv2-md5-lls.pcap");
    let decoded = Packet::decode(&payloads[8]).unwrap();
    let PacketBody::LsUpdate(update) = decoded.packet.body else {
        panic!("not an LSU")
    };
    assert_eq!(update.lsas.len(), 10);

    let router = &update.lsas[0];
    assert_eq!(router.header.ls_age, 374);
    assert_eq!(router.header.ls_sequence_number as u32, 0x800002d8);
    assert_eq!(router.header.ls_checksum, 0xce1e);
    let LsaBody::Router(body) = &router.body else {
        panic!("not a router-LSA")
    };
    assert_eq!(body.flags, 0x02);
    assert_eq!(body.links.len(), 3);
    assert_eq!(body.links[0].link_type, RouterLinkType::STUB);
    assert_eq!(body.links[0].link_id, addr("192.168.255.11"));
    assert_eq!(body.links[0].link_data, addr("255.255.255.255"));
    assert_eq!(body.links[0].metric, 1);
    assert_eq!(body.links[2].link_type, RouterLinkType::TRANSIT);
    assert_eq!(body.links[2].link_id, addr("192.168.121.4"));
    assert_eq!(body.links[2].link_data, addr("192.168.121.42"));
    assert_eq!(body.links[2].metric, 12);

    let network = &update.lsas[3];
    assert_eq!(network.header.ls_type, LsType::NETWORK);
    assert_eq!(network.header.link_state_id, addr("192.168.121.4"));
    assert_eq!(network.header.advertising_router, addr("192.168.255.14"));
    assert_eq!(network.header.ls_checksum, 0x27b4);
    let LsaBody::Network(body) = &network.body else {
        panic!("not a network-LSA")
    };
    assert_eq!(body.network_mask, addr("255.255.255.0"));
    assert_eq!(
        body.attached_routers,
        vec![addr("192.168.255.14"), addr("192.168.255.15")]
    );

    let external = &update.lsas[6];
    assert_eq!(external.header.ls_type, LsType::AS_EXTERNAL);
    assert_eq!(external.header.ls_age, 282);
    assert_eq!(external.header.link_state_id, addr("192.168.124.0"));
    assert_eq!(external.header.ls_checksum, 0x7ac1);
    let LsaBody::AsExternal(body) = &external.body else {
        panic!("not an AS-external-LSA")
    };
    assert_eq!(body.network_mask, addr("255.255.255.0"));
    assert!(body.metric_type2);
    assert_eq!(body.metric, 20);
    assert_eq!(body.forwarding_address, addr("0.0.0.0"));
    assert_eq!(body.external_route_tag, 0);
}

#[test]
fn frr_capture_packets_match_tshark() {
    let payloads = ospf_payloads("tests/data/frr-fabric-ospf.pcap");

    let hello = Packet::decode(&payloads[1]).unwrap();
    assert_eq!(hello.packet_length, 48);
    assert_eq!(hello.checksum, 0xe7fd);
    assert_eq!(hello.packet.auth, AuthHeader::Null);
    assert_eq!(hello.packet.router_id, addr("10.0.0.201"));
    let PacketBody::Hello(body) = hello.packet.body else {
        panic!("not a Hello")
    };
    assert_eq!(body.hello_interval, 1);
    assert_eq!(body.router_dead_interval, 4);
    assert_eq!(body.options.0, 0x02);
    assert_eq!(body.designated_router, addr("0.0.0.0"));
    assert_eq!(body.neighbors, vec![addr("10.0.0.1")]);

    let request = Packet::decode(&payloads[6]).unwrap();
    assert_eq!(request.checksum, 0xdf0c);
    let PacketBody::LsRequest(body) = request.packet.body else {
        panic!("not an LSR")
    };
    assert_eq!(body.entries.len(), 1);
    assert_eq!(body.entries[0].ls_type, 1);
    assert_eq!(body.entries[0].link_state_id, addr("10.0.0.1"));
    assert_eq!(body.entries[0].advertising_router, addr("10.0.0.1"));

    let update = Packet::decode(&payloads[7]).unwrap();
    assert_eq!(update.checksum, 0xaa20);
    let PacketBody::LsUpdate(body) = update.packet.body else {
        panic!("not an LSU")
    };
    let lsa = &body.lsas[0];
    assert_eq!(lsa.header.ls_age, 2);
    assert_eq!(lsa.header.link_state_id, addr("10.0.0.2"));
    assert_eq!(lsa.header.ls_sequence_number as u32, 0x80000003);
    assert_eq!(lsa.header.ls_checksum, 0x6b57);
    assert_eq!(lsa.header.length, 60);
    let LsaBody::Router(router) = &lsa.body else {
        panic!("not a router-LSA")
    };
    let links: Vec<_> = router
        .links
        .iter()
        .map(|l| (l.link_id, l.link_data, l.link_type, l.metric))
        .collect();
    assert_eq!(
        links,
        vec![
            (
                addr("10.0.12.0"),
                addr("255.255.255.0"),
                RouterLinkType::STUB,
                10
            ),
            (
                addr("10.0.22.0"),
                addr("255.255.255.0"),
                RouterLinkType::STUB,
                10
            ),
            (
                addr("10.0.0.2"),
                addr("255.255.255.255"),
                RouterLinkType::STUB,
                0
            ),
        ]
    );
}

/// Fields tshark prints for every packet of a capture, in this order, values of repeated fields
/// joined by commas.
const TSHARK_FIELDS: [&str; 13] = [
    "ospf.msg",
    "ospf.packet_length",
    "ospf.srcrouter",
    "ospf.area_id",
    "ospf.auth.type",
    "ospf.lsa",
    "ospf.lsa.id",
    "ospf.advrouter",
    "ospf.lsa.seqnum",
    "ospf.lsa.chksum",
    "ospf.lsa.age",
    "ospf.hello.active_neighbor",
    "ospf.lsa.router.linkid",
];

fn tshark_fields(path: &str) -> Vec<Vec<String>> {
    let mut args = vec![
        "-r",
        path,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "aggregator=,",
    ];
    for field in TSHARK_FIELDS {
        args.push("-e");
        args.push(field);
    }
    let output = std::process::Command::new("tshark")
        .args(&args)
        .output()
        .expect("tshark is needed by this test: install the Debian package tshark");
    assert!(
        output.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.split('|').map(str::to_string).collect())
        .collect()
}

fn joined<T: std::fmt::Display>(values: impl IntoIterator<Item = T>) -> String {
    values
        .into_iter()
        .map(|value| value.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Compares every packet of `path` with what tshark decodes from it.
fn check_against_tshark(path: &str) {
    let payloads = ospf_payloads(path);
    let expected = tshark_fields(path);
    assert_eq!(payloads.len(), expected.len());
    for (index, (payload, fields)) in payloads.iter().zip(&expected).enumerate() {
        let frame = index + 1;
        let decoded = Packet::decode(payload).unwrap();
        let packet = &decoded.packet;
        let mut ours = vec![
            (packet.body.packet_type() as u8).to_string(),
            decoded.packet_length.to_string(),
            packet.router_id.to_string(),
            packet.area_id.to_string(),
            packet.auth.au_type().to_string(),
        ];
        let headers: Vec<_> = match &packet.body {
            PacketBody::DbDescription(dd) => dd.lsa_headers.clone(),
            PacketBody::LsUpdate(update) => update.lsas.iter().map(|lsa| lsa.header).collect(),
            PacketBody::LsAck(ack) => ack.lsa_headers.clone(),
            _ => Vec::new(),
        };
        let (types, ids, advertising) = match &packet.body {
            PacketBody::LsRequest(request) => (
                joined(request.entries.iter().map(|e| e.ls_type)),
                String::new(),
                joined(request.entries.iter().map(|e| e.advertising_router)),
            ),
            _ => (
                joined(headers.iter().map(|h| h.ls_type.0)),
                joined(headers.iter().map(|h| h.link_state_id)),
                joined(headers.iter().map(|h| h.advertising_router)),
            ),
        };
        ours.extend([types, ids, advertising]);
        ours.push(joined(
            headers
                .iter()
                .map(|h| format!("{:#010x}", h.ls_sequence_number as u32)),
        ));
        ours.push(joined(
            headers.iter().map(|h| format!("{:#06x}", h.ls_checksum)),
        ));
        ours.push(joined(headers.iter().map(|h| h.ls_age)));
        ours.push(match &packet.body {
            PacketBody::Hello(hello) => joined(&hello.neighbors),
            _ => String::new(),
        });
        let router_links = match &packet.body {
            PacketBody::LsUpdate(update) => {
                joined(update.lsas.iter().flat_map(|lsa| match &lsa.body {
                    LsaBody::Router(router) => {
                        router.links.iter().map(|link| link.link_id).collect()
                    }
                    _ => Vec::new(),
                }))
            }
            _ => String::new(),
        };
        ours.push(router_links);
        for (name, (value, expected)) in TSHARK_FIELDS.iter().zip(ours.iter().zip(fields)) {
            assert_eq!(value, expected, "frame {frame} of {path}: field {name}");
        }
    }
}

#[test]
fn md5_capture_matches_tshark_fields() {
    check_against_tshark("tests/data/ospfv2-md5-lls.pcap");
}

#[test]
fn frr_capture_matches_tshark_fields() {
    check_against_tshark("tests/data/frr-fabric-ospf.pcap");
}
