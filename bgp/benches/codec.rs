//! Decode and encode throughput of UPDATE messages, against NetGauze (netgauze-bgp-pkt 0.13),
//! a published Rust BGP codec, on the same bytes in the same run.
//!
//! Run: `cargo bench -p hna-bgp --bench codec`. The messages are an UPDATE with 1,000 IPv4
//! prefixes in the NLRI field and one with 100 EVPN MAC/IP routes in MP_REACH_NLRI, both with
//! the attributes FRR 8.4 sends. Decoding includes building the model of every route;
//! encoding starts from the model and ends with the bytes in a buffer.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hna_bgp::wire::{DecodedMessage, SessionContext, decode_message};
use hna_bgp::*;
use hna_evpn::*;
use netgauze_bgp_pkt::BgpMessage;
use netgauze_bgp_pkt::wire::deserializer::BgpParsingContext;
use netgauze_parse_utils::WritablePdu;
use netgauze_parse_utils::reader::SliceReader;
use netgauze_parse_utils::traits::ParseFromWithOneInput;

fn ipv4_update() -> Message {
    let nlri = (0..1000u32)
        .map(|i| {
            PathNlri::new(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 | (i << 8)), 24).unwrap())
        })
        .collect();
    Message::Update(Update {
        nlri,
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![65001, 65002, 4_200_000_001])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            med: Some(0),
            local_pref: Some(100),
            communities: Some(vec![Community(65001 << 16 | 1)]),
            ..Default::default()
        },
        ..Default::default()
    })
}

fn evpn_update() -> Message {
    let rd = RouteDistinguisher::Ipv4 {
        address: Ipv4Addr::new(10, 0, 0, 2),
        number: 2,
    };
    let routes = (0..100u32)
        .map(|i| {
            let [_, _, a, b] = i.to_be_bytes();
            PathNlri::new(EvpnRoute::MacIp(MacIpRoute {
                rd,
                esi: Esi::ZERO,
                ethernet_tag: EthernetTag(0),
                mac: MacAddress([0x02, 0, 0x0a, 0x3c, a, b]),
                ip: Some(IpAddr::V4(Ipv4Addr::new(10, 60, a, b))),
                label1: Label::from_vni(10000).unwrap(),
                label2: None,
            }))
        })
        .collect();
    Message::Update(Update {
        mp_reach: Some(MpReach {
            afi_safi: AfiSafi::L2VPN_EVPN,
            next_hop: MpNextHop::Ipv4(Ipv4Addr::new(10, 0, 0, 2)),
            nlri: NlriList::Evpn(routes),
        }),
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            local_pref: Some(100),
            extended_communities: Some(vec![
                ExtendedCommunity::RouteTarget(RouteTarget::As2 {
                    asn: 65500,
                    value: 10000,
                }),
                ExtendedCommunity::Encapsulation {
                    tunnel_type: tunnel_type::VXLAN,
                },
            ]),
            ..Default::default()
        },
        ..Default::default()
    })
}

fn netgauze_decode(bytes: &[u8]) -> BgpMessage {
    let mut ctx = BgpParsingContext::default();
    let mut reader = SliceReader::new(bytes);
    BgpMessage::parse(&mut reader, &mut ctx).expect("NetGauze decodes the message")
}

fn bench_message(c: &mut Criterion, name: &str, message: &Message, routes: u64) {
    let ctx = SessionContext {
        four_octet_as: true,
        extended_message: true,
        add_path: Vec::new(),
    };
    let bytes = message.to_bytes(&ctx).unwrap();
    let peer = netgauze_decode(&bytes);
    // Both codecs must produce the same bytes, or the comparison would be of different work.
    let mut peer_bytes = Vec::new();
    peer.write(&mut peer_bytes).unwrap();
    assert_eq!(
        peer_bytes.len(),
        bytes.len(),
        "NetGauze re-encodes {name} to a different length"
    );

    let mut group = c.benchmark_group(format!("decode_{name}"));
    group.throughput(Throughput::Elements(routes));
    group.bench_with_input(BenchmarkId::from_parameter("hna"), &bytes, |b, bytes| {
        b.iter(|| {
            let decoded = decode_message(black_box(bytes), &ctx).unwrap();
            assert!(matches!(decoded, DecodedMessage::Update(_)));
            decoded
        })
    });
    group.bench_with_input(
        BenchmarkId::from_parameter("netgauze"),
        &bytes,
        |b, bytes| b.iter(|| netgauze_decode(black_box(bytes))),
    );
    group.finish();

    let mut group = c.benchmark_group(format!("encode_{name}"));
    group.throughput(Throughput::Elements(routes));
    let mut out = Vec::with_capacity(bytes.len());
    group.bench_function(BenchmarkId::from_parameter("hna"), |b| {
        b.iter(|| {
            out.clear();
            black_box(message).encode(&ctx, &mut out).unwrap();
            out.len()
        })
    });
    let mut out = Vec::with_capacity(bytes.len());
    group.bench_function(BenchmarkId::from_parameter("netgauze"), |b| {
        b.iter(|| {
            out.clear();
            black_box(&peer).write(&mut out).unwrap();
            out.len()
        })
    });
    group.finish();
}

fn codec(c: &mut Criterion) {
    bench_message(c, "update_1000_ipv4", &ipv4_update(), 1000);
    bench_message(c, "update_100_evpn_type2", &evpn_update(), 100);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(40).measurement_time(std::time::Duration::from_secs(4));
    targets = codec
}
criterion_main!(benches);
