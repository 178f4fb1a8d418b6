//! Messages this codec encodes, written to a pcap, are dissected by tshark with no malformed
//! packet and no expert error or warning. tshark must be installed (`apt-get install tshark`):
//! the test fails when it is missing rather than passing without checking.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use hna_bgp::wire::{SessionContext, UpdatePacker, cease_subcode, pack_withdrawals};
use hna_bgp::*;
use hna_evpn::*;

fn all_capabilities() -> Vec<Capability> {
    vec![
        Capability::Multiprotocol(AfiSafi::IPV4_UNICAST),
        Capability::Multiprotocol(AfiSafi::IPV6_UNICAST),
        Capability::Multiprotocol(AfiSafi::L2VPN_EVPN),
        Capability::RouteRefresh,
        Capability::EnhancedRouteRefresh,
        Capability::ExtendedMessage,
        Capability::FourOctetAs(4_200_000_001),
        Capability::AddPath(vec![AddPathFamily {
            afi_safi: AfiSafi::L2VPN_EVPN,
            direction: AddPathDirection::Receive,
        }]),
        Capability::GracefulRestart(GracefulRestart {
            restart_flags: 0x4,
            restart_time: 120,
            families: vec![GracefulRestartFamily {
                afi_safi: AfiSafi::L2VPN_EVPN,
                flags: 0x80,
            }],
        }),
        Capability::LongLivedGracefulRestart(vec![LlgrFamily {
            afi_safi: AfiSafi::L2VPN_EVPN,
            flags: 0x80,
            stale_time: 3600,
        }]),
        Capability::Fqdn {
            hostname: "hna1".into(),
            domain_name: "example.net".into(),
        },
        Capability::SoftwareVersion("hna-routing 0.1.0".into()),
        Capability::Unknown {
            code: 128,
            value: Vec::new(),
        },
    ]
}

fn rd() -> RouteDistinguisher {
    RouteDistinguisher::Ipv4 {
        address: Ipv4Addr::new(10, 0, 0, 1),
        number: 2,
    }
}

fn evpn_routes() -> Vec<EvpnRoute> {
    let vni = |v| Label::from_vni(v).unwrap();
    let esi = Esi::Lacp {
        system_mac: MacAddress([2, 0, 0, 0, 0, 9]),
        port_key: 1,
    };
    vec![
        EvpnRoute::EthernetAd(EthernetAdRoute {
            rd: rd(),
            esi,
            ethernet_tag: EthernetTag::MAX,
            label: vni(0),
        }),
        EvpnRoute::MacIp(MacIpRoute {
            rd: rd(),
            esi: Esi::ZERO,
            ethernet_tag: EthernetTag(0),
            mac: MacAddress([2, 0, 0x0a, 0x3c, 0, 1]),
            ip: None,
            label1: vni(10000),
            label2: None,
        }),
        EvpnRoute::MacIp(MacIpRoute {
            rd: rd(),
            esi: Esi::ZERO,
            ethernet_tag: EthernetTag(0),
            mac: MacAddress([2, 0, 0x0a, 0x3c, 0, 1]),
            ip: Some(IpAddr::V4(Ipv4Addr::new(10, 60, 0, 1))),
            label1: vni(10000),
            label2: Some(vni(100)),
        }),
        EvpnRoute::MacIp(MacIpRoute {
            rd: rd(),
            esi: Esi::ZERO,
            ethernet_tag: EthernetTag(0),
            mac: MacAddress([2, 0, 0x0a, 0x3c, 0, 1]),
            ip: Some(IpAddr::V6("2001:db8::1".parse().unwrap())),
            label1: vni(10000),
            label2: None,
        }),
        EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
            rd: rd(),
            ethernet_tag: EthernetTag(0),
            originating_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        }),
        EvpnRoute::EthernetSegment(EthernetSegmentRoute {
            rd: rd(),
            esi,
            originating_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        }),
        EvpnRoute::IpPrefix(IpPrefixRoute {
            rd: rd(),
            esi: Esi::ZERO,
            ethernet_tag: EthernetTag(0),
            value: IpPrefixValue::V4 {
                prefix: "10.70.1.0/24".parse().unwrap(),
                gateway: Ipv4Addr::UNSPECIFIED,
            },
            label: vni(100),
        }),
        EvpnRoute::IpPrefix(IpPrefixRoute {
            rd: rd(),
            esi: Esi::ZERO,
            ethernet_tag: EthernetTag(0),
            value: IpPrefixValue::V6 {
                prefix: "2001:db8:70::/48".parse().unwrap(),
                gateway: Ipv6Addr::UNSPECIFIED,
            },
            label: vni(100),
        }),
    ]
}

fn evpn_attributes() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        med: Some(0),
        local_pref: Some(100),
        originator_id: Some(Ipv4Addr::new(10, 0, 0, 1)),
        cluster_list: Some(vec![Ipv4Addr::new(10, 0, 0, 201)]),
        extended_communities: Some(vec![
            ExtendedCommunity::RouteTarget(RouteTarget::As2 {
                asn: 65500,
                value: 10000,
            }),
            ExtendedCommunity::RouteTarget(RouteTarget::Ipv4 {
                address: Ipv4Addr::new(10, 0, 0, 1),
                value: 7,
            }),
            ExtendedCommunity::RouteTarget(RouteTarget::As4 {
                asn: 4_200_000_001,
                value: 7,
            }),
            ExtendedCommunity::Encapsulation {
                tunnel_type: tunnel_type::VXLAN,
            },
            ExtendedCommunity::RouterMac(MacAddress([2, 0, 0, 0, 0, 1])),
            ExtendedCommunity::MacMobility {
                sticky: true,
                sequence: 3,
            },
            ExtendedCommunity::DefaultGateway,
            ExtendedCommunity::EsiLabel {
                single_active: true,
                label: Label::from_vni(5).unwrap(),
            },
            ExtendedCommunity::EsImportRouteTarget(MacAddress([2, 0, 0, 0, 0, 9])),
        ]),
        pmsi_tunnel: Some(PmsiTunnel {
            flags: 0,
            tunnel_type: pmsi_tunnel_type::INGRESS_REPLICATION,
            label: Label::from_vni(10000).unwrap(),
            tunnel_identifier: vec![10, 0, 0, 1],
        }),
        ..Default::default()
    }
}

fn ipv4_attributes() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Incomplete),
        as_path: Some(AsPath {
            segments: vec![
                AsSegment {
                    segment_type: AsSegmentType::ConfedSequence,
                    asns: vec![64512],
                },
                AsSegment {
                    segment_type: AsSegmentType::Sequence,
                    asns: vec![65001, 4_200_000_001],
                },
                AsSegment {
                    segment_type: AsSegmentType::Set,
                    asns: vec![65010, 65011],
                },
            ],
        }),
        next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
        med: Some(50),
        local_pref: Some(200),
        atomic_aggregate: true,
        aggregator: Some(Aggregator {
            asn: 65001,
            address: Ipv4Addr::new(192, 0, 2, 1),
        }),
        communities: Some(vec![Community(65001 << 16 | 100), Community::NO_EXPORT]),
        large_communities: Some(vec![LargeCommunity {
            global_administrator: 4_200_000_001,
            local_data_1: 1,
            local_data_2: 2,
        }]),
        otc: Some(65001),
        unknown: vec![RawAttribute {
            flags: attr_flags::OPTIONAL | attr_flags::TRANSITIVE | attr_flags::PARTIAL,
            type_code: 241,
            value: vec![1, 2, 3, 4],
        }],
        ..Default::default()
    }
}

fn messages() -> Vec<Vec<u8>> {
    let ctx = SessionContext {
        four_octet_as: true,
        extended_message: false,
        add_path: Vec::new(),
    };
    let two_octet = SessionContext::default();
    let id = Ipv4Addr::new(10, 0, 0, 1);
    let mut out = Vec::new();
    let mut push = |m: Message, ctx: &SessionContext| out.push(m.to_bytes(ctx).expect("encodes"));

    // OPEN with one capability per parameter, then all in one parameter.
    let open = Open::new(4_200_000_001, 90, id, all_capabilities());
    push(Message::Open(open.clone()), &ctx);
    let single = Open {
        capability_parameters: vec![all_capabilities()],
        ..open
    };
    push(Message::Open(single), &ctx);
    push(Message::Keepalive, &ctx);

    // IPv4 unicast in the NLRI field, with every attribute that applies to it.
    let prefixes: Vec<PathNlri<ipnet::Ipv4Net>> = [
        "10.0.0.0/8",
        "10.1.0.0/16",
        "10.1.2.0/24",
        "10.1.2.3/32",
        "0.0.0.0/0",
    ]
    .iter()
    .map(|p| PathNlri::new(p.parse().unwrap()))
    .collect();
    push(
        Message::Update(Update {
            nlri: prefixes.clone(),
            attributes: ipv4_attributes(),
            ..Default::default()
        }),
        &ctx,
    );
    // The same through a 2-octet AS session, with AS4_PATH and AS4_AGGREGATOR.
    let mut attrs = ipv4_attributes();
    attrs.as_path = Some(AsPath::sequence(vec![65001, AS_TRANS]));
    attrs.as4_path = Some(AsPath::sequence(vec![65001, 4_200_000_001]));
    attrs.aggregator = Some(Aggregator {
        asn: AS_TRANS,
        address: id,
    });
    attrs.as4_aggregator = Some(Aggregator {
        asn: 4_200_000_001,
        address: id,
    });
    push(
        Message::Update(Update {
            nlri: prefixes.clone(),
            attributes: attrs,
            ..Default::default()
        }),
        &two_octet,
    );
    push(
        Message::Update(Update {
            withdrawn: prefixes,
            ..Default::default()
        }),
        &ctx,
    );

    // IPv6 unicast in MP_REACH_NLRI and MP_UNREACH_NLRI.
    let v6: Vec<PathNlri<ipnet::Ipv6Net>> = ["2001:db8::/32", "2001:db8:1::/48", "::/0"]
        .iter()
        .map(|p| PathNlri::new(p.parse().unwrap()))
        .collect();
    push(
        Message::Update(Update {
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(vec![65001])),
                ..Default::default()
            },
            mp_reach: Some(MpReach {
                afi_safi: AfiSafi::IPV6_UNICAST,
                next_hop: MpNextHop::Ipv6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: NlriList::Ipv6(v6.clone()),
            }),
            ..Default::default()
        }),
        &ctx,
    );
    for m in pack_withdrawals(&ctx, AfiSafi::IPV6_UNICAST, &NlriList::Ipv6(v6)).unwrap() {
        out.push(m);
    }

    // Every EVPN route type through the packer, then their withdrawal.
    let routes: Vec<PathNlri<EvpnRoute>> = evpn_routes().into_iter().map(PathNlri::new).collect();
    let mut packer = UpdatePacker::new(
        &ctx,
        &evpn_attributes(),
        AfiSafi::L2VPN_EVPN,
        Some(MpNextHop::Ipv4(Ipv4Addr::new(10, 0, 0, 1))),
    );
    for r in &routes {
        packer.push_evpn(r).unwrap();
    }
    out.extend(packer.finish());
    out.extend(pack_withdrawals(&ctx, AfiSafi::L2VPN_EVPN, &NlriList::Evpn(routes)).unwrap());

    // End-of-RIB, ROUTE-REFRESH with each subtype, NOTIFICATIONs.
    for family in [
        AfiSafi::IPV4_UNICAST,
        AfiSafi::IPV6_UNICAST,
        AfiSafi::L2VPN_EVPN,
    ] {
        let mut eor = Vec::new();
        wire::encode_end_of_rib(family, &ctx, &mut eor);
        out.push(eor);
    }
    let mut push = |m: Message| out.push(m.to_bytes(&ctx).expect("encodes"));
    for subtype in [
        RouteRefresh::NORMAL,
        RouteRefresh::BEGINNING,
        RouteRefresh::END,
    ] {
        push(Message::RouteRefresh(RouteRefresh {
            afi_safi: AfiSafi::L2VPN_EVPN,
            subtype,
        }));
    }
    push(Message::Notification(
        Notification::with_shutdown_communication(
            cease_subcode::ADMINISTRATIVE_SHUTDOWN,
            "maintenance window 42",
        ),
    ));
    push(Message::Notification(Notification {
        code: 4,
        subcode: 0,
        data: Vec::new(),
    }));
    out
}

fn tshark(args: &[&str]) -> String {
    let output = Command::new("tshark")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("tshark could not be run ({e}); install it with `apt-get install tshark`")
        });
    assert!(
        output.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn tshark_dissects_encoded_messages_cleanly() {
    let messages = messages();
    let path = std::env::temp_dir().join(format!("hna-bgp-tshark-{}.pcap", std::process::id()));
    common::write_pcap(&path, &messages);
    let file = path.to_str().unwrap();

    let types = tshark(&["-r", file, "-Y", "bgp", "-T", "fields", "-e", "bgp.type"]);
    let dissected: usize = types.lines().map(|l| l.split(',').count()).sum();
    let expert = tshark(&["-r", file, "-q", "-z", "expert"]);
    let malformed = tshark(&[
        "-r",
        file,
        "-Y",
        "_ws.malformed || _ws.expert.severity >= 6291456",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "_ws.expert.message",
    ]);
    std::fs::remove_file(&path).ok();

    assert_eq!(
        dissected,
        messages.len(),
        "tshark found {dissected} BGP messages of {}",
        messages.len()
    );
    assert!(
        malformed.trim().is_empty(),
        "tshark reports malformed or warning frames:\n{malformed}\n{expert}"
    );
    assert!(
        !expert.contains("Errors ("),
        "tshark expert errors:\n{expert}"
    );
    assert!(
        !expert.contains("Warnings ("),
        "tshark expert warnings:\n{expert}"
    );
}
