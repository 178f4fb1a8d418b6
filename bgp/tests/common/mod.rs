//! Test support: BGP messages out of pcap and pcapng captures, and pcaps written from our own
//! encoded messages.

#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::DataLink;
use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
use pcap_file::pcapng::{Block, PcapNgReader};

/// Returns the folder of the committed captures.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// One direction of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: IpAddr,
    pub src_port: u16,
    pub dst: IpAddr,
    pub dst_port: u16,
}

/// One BGP message with the flow it was sent on.
#[derive(Debug, Clone)]
pub struct CapturedMessage {
    pub flow: Flow,
    pub bytes: Vec<u8>,
}

/// Reads every link-layer frame of a pcap or pcapng file with its link type.
fn frames(path: &Path) -> Vec<(u32, Vec<u8>)> {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = File::open(path).unwrap();
    let mut out = Vec::new();
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut reader = PcapNgReader::new(file).expect("pcapng header");
        let mut links: Vec<u32> = Vec::new();
        while let Some(block) = reader.next_block() {
            match block.expect("pcapng block") {
                Block::InterfaceDescription(idb) => links.push(u32::from(idb.linktype)),
                Block::EnhancedPacket(epb) => {
                    let link = links.get(epb.interface_id as usize).copied().unwrap_or(1);
                    out.push((link, epb.data.to_vec()));
                }
                Block::SimplePacket(spb) => {
                    out.push((links.first().copied().unwrap_or(1), spb.data.to_vec()))
                }
                _ => {}
            }
        }
    } else {
        let mut reader = PcapReader::new(file).expect("pcap header");
        let link = u32::from(reader.header().datalink);
        while let Some(packet) = reader.next_packet() {
            out.push((link, packet.expect("pcap packet").data.to_vec()));
        }
    }
    out
}

/// Returns the IP packet inside a frame of the given link type.
fn ip_packet(link: u32, frame: &[u8]) -> Option<&[u8]> {
    match link {
        // Ethernet, with one optional 802.1Q tag.
        1 => {
            let ether_type = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
            if ether_type == 0x8100 {
                frame.get(18..)
            } else {
                frame.get(14..)
            }
        }
        // Linux cooked capture v1.
        113 => frame.get(16..),
        // Raw IP.
        101 | 12 | 14 => Some(frame),
        // BSD loopback.
        0 | 108 => frame.get(4..),
        _ => None,
    }
}

/// Returns the flow, sequence number and payload of a TCP segment.
fn tcp_segment(ip: &[u8]) -> Option<(Flow, u32, &[u8])> {
    let version = ip.first()? >> 4;
    let (src, dst, tcp) = match version {
        4 => {
            let ihl = (ip[0] & 0x0f) as usize * 4;
            if *ip.get(9)? != 6 {
                return None;
            }
            let total = u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]) as usize;
            let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
            let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
            (src, dst, ip.get(ihl..total.min(ip.len()))?)
        }
        6 => {
            if *ip.get(6)? != 6 {
                return None;
            }
            let payload = u16::from_be_bytes([ip[4], ip[5]]) as usize;
            let src = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(8..24)?).ok()?));
            let dst = IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(24..40)?).ok()?));
            (src, dst, ip.get(40..(40 + payload).min(ip.len()))?)
        }
        _ => return None,
    };
    let src_port = u16::from_be_bytes([*tcp.first()?, *tcp.get(1)?]);
    let dst_port = u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]);
    let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
    let offset = (*tcp.get(12)? >> 4) as usize * 4;
    Some((
        Flow {
            src,
            src_port,
            dst,
            dst_port,
        },
        seq,
        tcp.get(offset..)?,
    ))
}

/// Extracts the BGP messages of every TCP flow to or from port 179, in capture order per flow.
/// Retransmitted octets are skipped; a flow captured from the middle is resynchronised on the
/// next marker.
pub fn bgp_messages(path: &Path) -> Vec<CapturedMessage> {
    let mut streams: HashMap<Flow, (u32, Vec<u8>)> = HashMap::new();
    let mut order: Vec<Flow> = Vec::new();
    let mut out = Vec::new();
    for (link, frame) in frames(path) {
        let Some((flow, seq, payload)) = ip_packet(link, &frame).and_then(tcp_segment) else {
            continue;
        };
        if (flow.src_port != 179 && flow.dst_port != 179) || payload.is_empty() {
            continue;
        }
        let entry = streams.entry(flow).or_insert_with(|| {
            order.push(flow);
            (seq, Vec::new())
        });
        let (next, buffer) = entry;
        let offset = seq.wrapping_sub(*next) as i32;
        if offset < 0 {
            // A retransmission: keep only what is new.
            let skip = (-offset) as usize;
            if skip >= payload.len() {
                continue;
            }
            buffer.extend_from_slice(&payload[skip..]);
        } else {
            if offset > 0 {
                buffer.clear();
            }
            buffer.extend_from_slice(payload);
        }
        *next = seq.wrapping_add(payload.len() as u32);
        if offset > 0 {
            *next = seq.wrapping_add(payload.len() as u32);
        }

        loop {
            // Resynchronise on the marker.
            match buffer
                .windows(16)
                .position(|w| w.iter().all(|&b| b == 0xff))
            {
                Some(0) => {}
                Some(start) => {
                    buffer.drain(..start);
                }
                None => break,
            }
            if buffer.len() < 19 {
                break;
            }
            let length = u16::from_be_bytes([buffer[16], buffer[17]]) as usize;
            if length < 19 {
                buffer.drain(..16);
                continue;
            }
            if buffer.len() < length {
                break;
            }
            out.push(CapturedMessage {
                flow,
                bytes: buffer.drain(..length).collect(),
            });
        }
    }
    let _ = order;
    out
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            (chunk[0] as u16) << 8
        };
        sum += word as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds an Ethernet/IPv4/TCP frame from 10.0.0.1:40000 to 10.0.0.2:179.
fn tcp_frame(seq: u32, ack: u32, flags: u8, payload: &[u8], reverse: bool) -> Vec<u8> {
    let (src, dst, sport, dport) = if reverse {
        ([10, 0, 0, 2], [10, 0, 0, 1], 179u16, 40000u16)
    } else {
        ([10, 0, 0, 1], [10, 0, 0, 2], 40000u16, 179u16)
    };
    let mut frame = Vec::with_capacity(54 + payload.len());
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, if reverse { 1 } else { 2 }]);
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, if reverse { 2 } else { 1 }]);
    frame.extend_from_slice(&[0x08, 0x00]);

    let total = (20 + 20 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let ip_sum = checksum(&ip);
    ip[10..12].copy_from_slice(&ip_sum.to_be_bytes());

    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let mut pseudo = Vec::with_capacity(12 + tcp.len());
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&[0, 6]);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(&tcp);
    let tcp_sum = checksum(&pseudo);
    tcp[16..18].copy_from_slice(&tcp_sum.to_be_bytes());

    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&tcp);
    frame
}

/// Writes `messages` as one TCP connection to port 179, one segment per message after a
/// three-way handshake, so that a dissector gets a well-formed stream.
pub fn write_pcap(path: &Path, messages: &[Vec<u8>]) {
    let file = File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = pcap_file::pcap::PcapHeader {
        datalink: DataLink::ETHERNET,
        ..Default::default()
    };
    let mut writer = PcapWriter::with_header(file, header).expect("pcap header");
    let (client_isn, server_isn) = (1000u32, 5000u32);
    let mut frames = vec![
        tcp_frame(client_isn, 0, 0x02, &[], false),
        tcp_frame(server_isn, client_isn + 1, 0x12, &[], true),
        tcp_frame(client_isn + 1, server_isn + 1, 0x10, &[], false),
    ];
    let mut seq = client_isn + 1;
    for m in messages {
        frames.push(tcp_frame(seq, server_isn + 1, 0x18, m, false));
        seq += m.len() as u32;
        frames.push(tcp_frame(server_isn + 1, seq, 0x10, &[], true));
    }
    for (i, frame) in frames.iter().enumerate() {
        let packet = PcapPacket::new(Duration::from_millis(i as u64), frame.len() as u32, frame);
        writer.write_packet(&packet).expect("pcap packet");
    }
}
