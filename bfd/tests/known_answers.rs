//! Known-answer tests: BFD packets captured from other implementations (the tcpdump test suite's
//! captures and FRR 8.4 bfdd) decode to the values Wireshark shows, and encode back to the same
//! bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hna_bfd::packet::AuthSection;
use hna_bfd::{AuthType, ControlPacket, Diagnostic, State};
use pcap_file::pcap::PcapReader;

const CAPTURES: [&str; 6] = [
    "bfd-multihop.pcap",
    "bfd-raw-auth-simple.pcap",
    "bfd-raw-auth-md5.pcap",
    "bfd-raw-auth-sha1.pcap",
    "bfd_source_port_49152.pcap",
    "frr-8.4-bfd.pcap",
];

fn capture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/captures")
        .join(name)
}

/// A BFD payload found in a capture, with its 1-based frame number.
struct Captured {
    frame: usize,
    destination_port: u16,
    payload: Vec<u8>,
}

/// Reads the UDP payloads sent to port 3784 or 4784 from an Ethernet capture (VLAN tags,
/// IPv4 and IPv6 are handled; trailing Ethernet padding is cut by the IP and UDP lengths).
fn bfd_payloads(name: &str) -> Vec<Captured> {
    let file = std::fs::File::open(capture_path(name)).expect("open capture");
    let mut reader = PcapReader::new(file).expect("pcap header");
    let mut found = Vec::new();
    let mut frame = 0;
    while let Some(packet) = reader.next_packet() {
        frame += 1;
        let packet = packet.expect("pcap record");
        if let Some((destination_port, payload)) = udp_payload(&packet.data)
            && (destination_port == 3784 || destination_port == 4784)
        {
            found.push(Captured {
                frame,
                destination_port,
                payload: payload.to_vec(),
            });
        }
    }
    found
}

fn udp_payload(frame: &[u8]) -> Option<(u16, &[u8])> {
    let mut offset = 12;
    let mut ethertype = u16::from_be_bytes([*frame.get(offset)?, *frame.get(offset + 1)?]);
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        offset += 4;
        ethertype = u16::from_be_bytes([*frame.get(offset)?, *frame.get(offset + 1)?]);
    }
    let ip = frame.get(offset + 2..)?;
    let udp = match ethertype {
        0x0800 => {
            let header_len = usize::from(ip.first()? & 0x0f) * 4;
            let total_len = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            if *ip.get(9)? != 17 {
                return None;
            }
            ip.get(header_len..total_len)?
        }
        0x86dd => {
            let payload_len = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            if *ip.get(6)? != 17 {
                return None;
            }
            ip.get(40..40 + payload_len)?
        }
        _ => return None,
    };
    let destination_port = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    let udp_len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    Some((destination_port, udp.get(8..udp_len)?))
}

const TSHARK_FIELDS: [&str; 20] = [
    "bfd.version",
    "bfd.diag",
    "bfd.sta",
    "bfd.flags.p",
    "bfd.flags.f",
    "bfd.flags.c",
    "bfd.flags.a",
    "bfd.flags.d",
    "bfd.flags.m",
    "bfd.detect_time_multiplier",
    "bfd.message_length",
    "bfd.my_discriminator",
    "bfd.your_discriminator",
    "bfd.desired_min_tx_interval",
    "bfd.required_min_rx_interval",
    "bfd.required_min_echo_interval",
    "bfd.auth.type",
    "bfd.auth.len",
    "bfd.auth.key",
    "bfd.auth.seq_num",
];

/// Runs tshark on a capture and returns, per frame number, the BFD fields as tshark prints them.
fn tshark_fields(name: &str) -> BTreeMap<usize, Vec<String>> {
    let mut command = Command::new("tshark");
    command.arg("-r").arg(capture_path(name)).args([
        "-Y",
        "bfd",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "frame.number",
    ]);
    for field in TSHARK_FIELDS {
        command.args(["-e", field]);
    }
    let output = command.output().unwrap_or_else(|error| {
        panic!(
            "cannot run tshark ({error}); install the Debian package `tshark` (the CI script does)"
        )
    });
    assert!(
        output.status.success(),
        "tshark failed on {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("tshark prints UTF-8")
        .lines()
        .map(|line| {
            let mut fields = line.split('|').map(str::to_string);
            let frame = fields
                .next()
                .and_then(|number| number.parse().ok())
                .expect("frame number");
            (frame, fields.collect())
        })
        .collect()
}

/// Formats a decoded packet the way `tshark -T fields` prints the fields of TSHARK_FIELDS.
fn as_tshark_fields(packet: &ControlPacket) -> Vec<String> {
    let bit = |set: bool| if set { "1" } else { "0" }.to_string();
    let state_code = match packet.state {
        State::AdminDown => 0,
        State::Down => 1,
        State::Init => 2,
        State::Up => 3,
    };
    let (auth_type, auth_len, key_id, sequence) = match &packet.auth {
        None => (String::new(), String::new(), String::new(), String::new()),
        Some(section @ AuthSection::SimplePassword { key_id, .. }) => (
            section.auth_type().code().to_string(),
            section.auth_len().to_string(),
            key_id.to_string(),
            String::new(),
        ),
        Some(
            section @ AuthSection::Digest {
                key_id, sequence, ..
            },
        ) => (
            section.auth_type().code().to_string(),
            section.auth_len().to_string(),
            key_id.to_string(),
            format!("0x{sequence:08x}"),
        ),
    };
    vec![
        "1".to_string(),
        format!("0x{:02x}", packet.diagnostic.code()),
        format!("0x{state_code:02x}"),
        bit(packet.poll),
        bit(packet.final_),
        bit(packet.control_plane_independent),
        bit(packet.auth.is_some()),
        bit(packet.demand),
        // decode() rejects the Multipoint bit, so an accepted packet always has it clear.
        "0".to_string(),
        packet.detect_mult.to_string(),
        packet.encoded_len().to_string(),
        format!("0x{:08x}", packet.my_discriminator),
        format!("0x{:08x}", packet.your_discriminator),
        packet.desired_min_tx_us.to_string(),
        packet.required_min_rx_us.to_string(),
        packet.required_min_echo_rx_us.to_string(),
        auth_type,
        auth_len,
        key_id,
        sequence,
    ]
}

#[test]
fn captured_packets_match_tshark_fields() {
    for name in CAPTURES {
        let expected = tshark_fields(name);
        let captured = bfd_payloads(name);
        assert!(!captured.is_empty(), "{name}: no BFD packet found");
        assert_eq!(
            captured
                .iter()
                .map(|packet| packet.frame)
                .collect::<Vec<_>>(),
            expected.keys().copied().collect::<Vec<_>>(),
            "{name}: frames with BFD differ from tshark's"
        );
        for packet in &captured {
            let decoded = ControlPacket::decode(&packet.payload)
                .unwrap_or_else(|error| panic!("{name} frame {}: {error}", packet.frame));
            assert_eq!(
                as_tshark_fields(&decoded),
                expected[&packet.frame],
                "{name} frame {}",
                packet.frame
            );
        }
    }
}

#[test]
fn captured_packets_encode_to_same_bytes() {
    for name in CAPTURES {
        for packet in bfd_payloads(name) {
            let decoded = ControlPacket::decode(&packet.payload).expect("captured packet decodes");
            let length = decoded.encoded_len();
            assert_eq!(
                decoded.encode().as_bytes(),
                &packet.payload[..length],
                "{name} frame {}",
                packet.frame
            );
        }
    }
}

#[test]
fn simple_password_capture_decodes_to_known_values() {
    let captured = bfd_payloads("bfd-raw-auth-simple.pcap");
    let packet = ControlPacket::decode(&captured[0].payload).expect("decodes");
    assert_eq!(packet.state, State::Down);
    assert_eq!(packet.diagnostic, Diagnostic::NoDiagnostic);
    assert_eq!(packet.detect_mult, 5);
    assert_eq!(packet.my_discriminator, 1);
    assert_eq!(packet.your_discriminator, 0);
    assert_eq!(packet.desired_min_tx_us, 1_000_000);
    assert_eq!(packet.required_min_rx_us, 1_000_000);
    assert_eq!(packet.encoded_len(), 33);
    assert_eq!(
        packet.auth,
        Some(AuthSection::SimplePassword {
            key_id: 2,
            password: b"secret".to_vec()
        })
    );
}

#[test]
fn keyed_md5_capture_decodes_to_known_values() {
    let captured = bfd_payloads("bfd-raw-auth-md5.pcap");
    let packet = ControlPacket::decode(&captured[0].payload).expect("decodes");
    assert_eq!(packet.encoded_len(), 48);
    let expected_digest: Vec<u8> = vec![
        1, 2, 3, 4, 5, 6, 7, 8, 9, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
    ];
    assert_eq!(
        packet.auth,
        Some(AuthSection::Digest {
            auth_type: AuthType::KeyedMd5,
            key_id: 2,
            sequence: 5,
            digest: expected_digest
        })
    );
}

#[test]
fn meticulous_sha1_capture_decodes_to_known_values() {
    let captured = bfd_payloads("bfd-raw-auth-sha1.pcap");
    let packet = ControlPacket::decode(&captured[0].payload).expect("decodes");
    assert_eq!(packet.encoded_len(), 52);
    let Some(AuthSection::Digest {
        auth_type,
        key_id,
        sequence,
        digest,
    }) = packet.auth
    else {
        panic!("expected a digest section, got {:?}", packet.auth);
    };
    assert_eq!(auth_type, AuthType::MeticulousKeyedSha1);
    assert_eq!(key_id, 2);
    assert_eq!(sequence, 5);
    assert_eq!(digest, hex("010203040506070809101112131415161718191a"));
}

#[test]
fn frr_bring_up_capture_shows_poll_then_final() {
    let captured = bfd_payloads("frr-8.4-bfd.pcap");
    let decoded: Vec<ControlPacket> = captured
        .iter()
        .map(|packet| ControlPacket::decode(&packet.payload).expect("decodes"))
        .collect();
    let first = &decoded[0];
    assert_eq!(first.state, State::Down);
    assert_eq!(first.your_discriminator, 0);
    assert_eq!(first.desired_min_tx_us, 1_000_000);
    assert_eq!(first.my_discriminator, 0x6aff_7029);
    // FRR announces its 300 ms timers with a Poll once Up, and the peer answers with Final.
    let poll = decoded
        .iter()
        .position(|packet| packet.state == State::Up && packet.poll)
        .expect("an Up packet with Poll");
    assert_eq!(decoded[poll].desired_min_tx_us, 300_000);
    assert!(
        decoded[poll + 1..].iter().any(|packet| packet.final_),
        "no Final after the Poll"
    );
    let multihop = captured
        .iter()
        .filter(|packet| packet.destination_port == 4784)
        .count();
    assert!(multihop > 0, "the FRR capture has multihop packets");
}

#[test]
fn source_port_capture_decodes_to_known_values() {
    let captured = bfd_payloads("bfd_source_port_49152.pcap");
    assert_eq!(captured.len(), 1);
    let packet = ControlPacket::decode(&captured[0].payload).expect("decodes");
    assert_eq!(packet.state, State::Up);
    assert!(packet.control_plane_independent);
    assert!(!packet.poll);
    assert!(!packet.final_);
    assert_eq!(packet.my_discriminator, 0x8000_0001);
    assert_eq!(packet.your_discriminator, 0x8000_0001);
    assert_eq!(packet.desired_min_tx_us, 100_000);
    assert_eq!(packet.required_min_rx_us, 100_000);
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex digit"))
        .collect()
}
