//! Known-answer tests: messages captured from FRR 8.4 and other routers decode to the expected
//! values, and FRR's re-encode to the same bytes.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use common::{CapturedMessage, bgp_messages, data_dir};
use hna_bgp::wire::{DecodedMessage, SessionContext, cease_subcode, decode_message, error_code};
use hna_bgp::*;
use hna_evpn::{
    Esi, EthernetTag, EvpnRoute, ExtendedCommunity, Label, MacAddress, RouteDistinguisher,
    RouteTarget,
};

/// Decodes every message of a capture with the contexts its OPENs negotiate, per connection.
/// Messages sent before both OPENs were seen (or from captures without them) use a 4-octet AS
/// context, which every capture here negotiated.
fn decode_capture(file: &str) -> Vec<(CapturedMessage, DecodedMessage)> {
    let mut opens: HashMap<IpAddr, Open> = HashMap::new();
    let mut out = Vec::new();
    for m in bgp_messages(&data_dir().join(file)) {
        let ctx = match (opens.get(&m.flow.dst), opens.get(&m.flow.src)) {
            (Some(receiver), Some(sender)) => SessionContext::negotiate(receiver, sender).0,
            _ => SessionContext {
                four_octet_as: true,
                ..Default::default()
            },
        };
        let decoded = decode_message(&m.bytes, &ctx).unwrap_or_else(|e| panic!("{file}: {e}"));
        if let DecodedMessage::Open(open) = &decoded {
            opens.insert(m.flow.src, open.clone());
        }
        if let DecodedMessage::Update(u) = &decoded {
            assert_eq!(u.action, UpdateAction::None, "{file}: {:?}", u.errors);
        }
        out.push((m, decoded));
    }
    out
}

/// Returns the context both FRR sides negotiate.
fn frr_context() -> SessionContext {
    SessionContext {
        four_octet_as: true,
        extended_message: true,
        add_path: Vec::new(),
    }
}

fn updates(decoded: &[(CapturedMessage, DecodedMessage)]) -> Vec<&Update> {
    decoded
        .iter()
        .filter_map(|(_, d)| match d {
            DecodedMessage::Update(u) => Some(&u.update),
            _ => None,
        })
        .collect()
}

fn evpn_routes(update: &Update) -> Vec<EvpnRoute> {
    match update.mp_reach.as_ref().map(|r| &r.nlri) {
        Some(NlriList::Evpn(routes)) => routes.iter().map(|r| r.nlri.clone()).collect(),
        _ => Vec::new(),
    }
}

fn assert_reencodes_exactly(file: &str) {
    // Both FRR sides negotiate the 4-octet AS and extended message capabilities and only
    // receive-side add-path, so no path identifiers are sent.
    let ctx = frr_context();
    for (m, decoded) in decode_capture(file) {
        let again = decoded.into_message().to_bytes(&ctx).unwrap();
        assert_eq!(
            again, m.bytes,
            "{file}: message from {} re-encodes differently",
            m.flow.src
        );
    }
}

#[test]
fn frr_fabric_messages_reencode_exactly() {
    assert_reencodes_exactly("frr-fabric-bgp.pcap");
}

#[test]
fn frr_type5_capture_reencodes_exactly() {
    assert_reencodes_exactly("frr-type5-notification.pcap");
}

#[test]
fn frr_open_decodes_to_capabilities() {
    let decoded = decode_capture("frr-fabric-bgp.pcap");
    let (_, DecodedMessage::Open(open)) = &decoded[0] else {
        panic!("first message is not an OPEN")
    };
    assert_eq!(open.version, 4);
    assert_eq!(open.my_as, 65500);
    assert_eq!(open.hold_time, 180);
    assert_eq!(open.bgp_identifier, Ipv4Addr::new(10, 0, 0, 201));
    let caps: Vec<Capability> = open.capabilities().cloned().collect();
    let evpn = AfiSafi::L2VPN_EVPN;
    let expected = vec![
        Capability::Multiprotocol(evpn),
        Capability::Unknown {
            code: 128,
            value: Vec::new(),
        },
        Capability::RouteRefresh,
        Capability::EnhancedRouteRefresh,
        Capability::FourOctetAs(65500),
        Capability::ExtendedMessage,
        Capability::AddPath(vec![AddPathFamily {
            afi_safi: evpn,
            direction: AddPathDirection::Receive,
        }]),
        Capability::Fqdn {
            hostname: "leaf1".into(),
            domain_name: String::new(),
        },
        Capability::GracefulRestart(GracefulRestart {
            restart_flags: 0xc,
            restart_time: 120,
            families: Vec::new(),
        }),
        Capability::LongLivedGracefulRestart(vec![LlgrFamily {
            afi_safi: evpn,
            flags: 0x80,
            stale_time: 0,
        }]),
    ];
    assert_eq!(caps, expected);
    assert_eq!(
        open.capability_parameters.len(),
        10,
        "FRR sends one capability per optional parameter"
    );
    assert_eq!(open.asn(), 65500);
}

#[test]
fn frr_keepalive_and_end_of_rib_decode() {
    let decoded = decode_capture("frr-fabric-bgp.pcap");
    assert!(decoded.iter().any(|(_, d)| *d == DecodedMessage::Keepalive));
    let eors: Vec<AfiSafi> = updates(&decoded)
        .iter()
        .filter_map(|u| u.end_of_rib_family())
        .collect();
    assert!(
        eors.contains(&AfiSafi::L2VPN_EVPN),
        "no l2vpn-evpn End-of-RIB in {eors:?}"
    );
}

#[test]
fn frr_type2_route_decodes_to_expected_values() {
    let decoded = decode_capture("frr-fabric-bgp.pcap");
    let update = updates(&decoded)
        .into_iter()
        .find(|u| {
            evpn_routes(u)
                .iter()
                .any(|r| matches!(r, EvpnRoute::MacIp(_)))
        })
        .expect("an UPDATE with a type-2 route");

    let reach = update.mp_reach.as_ref().unwrap();
    assert_eq!(reach.afi_safi, AfiSafi::L2VPN_EVPN);
    assert_eq!(reach.next_hop, MpNextHop::Ipv4(Ipv4Addr::new(10, 0, 0, 2)));
    let EvpnRoute::MacIp(route) = &evpn_routes(update)[0] else {
        panic!("not a MAC/IP route")
    };
    assert_eq!(
        route.rd,
        RouteDistinguisher::Ipv4 {
            address: Ipv4Addr::new(10, 0, 0, 2),
            number: 2
        }
    );
    assert_eq!(route.esi, Esi::ZERO);
    assert_eq!(route.ethernet_tag, EthernetTag(0));
    assert_eq!(
        route.mac,
        "26:40:7e:2a:95:c3".parse::<MacAddress>().unwrap()
    );
    assert_eq!(route.ip, None);
    assert_eq!(route.label1, Label::from_vni(10000).unwrap());
    assert_eq!(route.label2, None);

    let attrs = &update.attributes;
    assert_eq!(attrs.origin, Some(Origin::Igp));
    assert_eq!(attrs.as_path, Some(AsPath::default()));
    assert_eq!(attrs.med, Some(0));
    assert_eq!(attrs.local_pref, Some(100));
    assert_eq!(attrs.originator_id, Some(Ipv4Addr::new(10, 0, 0, 2)));
    assert_eq!(attrs.cluster_list, Some(vec![Ipv4Addr::new(10, 0, 0, 201)]));
    assert_eq!(
        attrs.extended_communities,
        Some(vec![
            ExtendedCommunity::RouteTarget(RouteTarget::As2 {
                asn: 65500,
                value: 10000
            }),
            ExtendedCommunity::Encapsulation {
                tunnel_type: hna_evpn::tunnel_type::VXLAN
            },
        ])
    );
}

#[test]
fn frr_type3_route_carries_pmsi_tunnel() {
    let decoded = decode_capture("frr-fabric-bgp.pcap");
    let update = updates(&decoded)
        .into_iter()
        .find(|u| {
            evpn_routes(u)
                .iter()
                .any(|r| matches!(r, EvpnRoute::InclusiveMulticast(_)))
        })
        .expect("an UPDATE with a type-3 route");
    let EvpnRoute::InclusiveMulticast(route) = &evpn_routes(update)[0] else {
        panic!("not a type-3 route")
    };
    assert_eq!(route.ethernet_tag, EthernetTag(0));
    let IpAddr::V4(origin) = route.originating_ip else {
        panic!("IPv6 originator")
    };
    assert_eq!(
        route.rd,
        RouteDistinguisher::Ipv4 {
            address: origin,
            number: 2
        }
    );
    let pmsi = update.attributes.pmsi_tunnel.as_ref().expect("PMSI tunnel");
    assert_eq!(pmsi.flags, 0);
    assert_eq!(pmsi.tunnel_type, pmsi_tunnel_type::INGRESS_REPLICATION);
    assert_eq!(pmsi.label.vni(), 10000);
    assert_eq!(pmsi.tunnel_identifier, origin.octets().to_vec());
}

#[test]
fn frr_type5_route_decodes_to_expected_values() {
    let decoded = decode_capture("frr-type5-notification.pcap");
    let update = updates(&decoded)
        .into_iter()
        .find(|u| {
            evpn_routes(u)
                .iter()
                .any(|r| matches!(r, EvpnRoute::IpPrefix(_)))
        })
        .expect("an UPDATE with a type-5 route");
    let EvpnRoute::IpPrefix(route) = &evpn_routes(update)[0] else {
        panic!("not a type-5 route")
    };
    assert_eq!(
        route.rd,
        RouteDistinguisher::Ipv4 {
            address: Ipv4Addr::new(10, 0, 0, 1),
            number: 1
        }
    );
    assert_eq!(route.esi, Esi::ZERO);
    assert_eq!(route.ethernet_tag, EthernetTag(0));
    assert_eq!(
        route.value.prefix(),
        "10.70.1.0/24".parse::<ipnet::IpNet>().unwrap()
    );
    assert_eq!(route.value.gateway(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(route.label, Label::from_vni(100).unwrap());
    let ext = update
        .attributes
        .extended_communities
        .as_ref()
        .expect("extended communities");
    assert!(
        ext.contains(&ExtendedCommunity::Encapsulation { tunnel_type: 8 }),
        "{ext:?}"
    );
    assert!(
        ext.iter()
            .any(|c| matches!(c, ExtendedCommunity::RouterMac(_))),
        "no router's MAC in {ext:?}"
    );
    assert!(ext.iter().any(|c| matches!(
        c,
        ExtendedCommunity::RouteTarget(RouteTarget::As2 {
            asn: 65500,
            value: 100
        })
    )));
}

#[test]
fn frr_notification_carries_shutdown_communication() {
    let decoded = decode_capture("frr-type5-notification.pcap");
    let notification = decoded
        .iter()
        .find_map(|(_, d)| match d {
            DecodedMessage::Notification(n) => Some(n.clone()),
            _ => None,
        })
        .expect("a NOTIFICATION");
    assert_eq!(notification.code, error_code::CEASE);
    // Both sides advertised graceful restart with the N bit, so FRR wraps the shutdown in a
    // Hard Reset whose data starts with the original code and subcode (RFC 8538 section 3).
    assert_eq!(notification.subcode, cease_subcode::HARD_RESET);
    assert_eq!(
        notification.data[..2],
        [error_code::CEASE, cease_subcode::ADMINISTRATIVE_SHUTDOWN]
    );
    assert_eq!(
        notification.shutdown_communication(),
        Some("maintenance window 42")
    );
    let plain = Notification::with_shutdown_communication(
        cease_subcode::ADMINISTRATIVE_SHUTDOWN,
        "maintenance window 42",
    );
    assert_eq!(&notification.data[2..], plain.data.as_slice());
}

/// Every message of the captures from other routers decodes without error and survives an
/// encode-decode round trip (their attribute order differs from FRR's, so bytes may differ).
#[test]
fn other_router_captures_round_trip() {
    for file in [
        "bgp-4byte-asn.pcap",
        "bgp-cease-hard-reset.pcap",
        "bgp-encap.pcap",
        "bgp-enhanced-route-refresh.pcapng",
        "bgp-evpn.pcap",
        "bgp-extended-msg.pcapng",
        "bgp-large-community.pcap",
        "bgp-role.pcapng",
        "bgp-shutdown-communication.pcapng",
    ] {
        let decoded = decode_capture(file);
        assert!(!decoded.is_empty(), "{file}: no BGP message found");
        let ctx = SessionContext {
            four_octet_as: true,
            ..Default::default()
        };
        for (_, d) in decoded {
            let message = d.into_message();
            let bytes = message.to_bytes(&ctx).unwrap();
            let again = decode_message(&bytes, &ctx).unwrap().into_message();
            assert_eq!(again, message, "{file}");
        }
    }
}

#[test]
fn four_octet_as_capture_uses_negotiated_widths() {
    let decoded = decode_capture("bgp-4byte-asn.pcap");
    let paths: Vec<&AsPath> = updates(&decoded)
        .iter()
        .filter_map(|u| u.attributes.as_path.as_ref())
        .collect();
    assert!(!paths.is_empty());
    // Every session there is either 4-octet or carries AS4_PATH beside a 2-octet AS_PATH.
    let any_as4_path = updates(&decoded)
        .iter()
        .any(|u| u.attributes.as4_path.is_some());
    let any_wide = paths
        .iter()
        .any(|p| p.segments.iter().flat_map(|s| &s.asns).any(|&a| a > 65535));
    assert!(any_as4_path || any_wide, "no 4-octet AS number decoded");
}

#[test]
fn other_router_evpn_type2_decodes() {
    let decoded = decode_capture("bgp-encap.pcap");
    let update = updates(&decoded)[0];
    let EvpnRoute::MacIp(route) = &evpn_routes(update)[0] else {
        panic!("not a MAC/IP route")
    };
    assert_eq!(
        route.rd,
        RouteDistinguisher::Ipv4 {
            address: Ipv4Addr::new(4, 4, 4, 4),
            number: 4
        }
    );
    assert_eq!(route.mac, MacAddress([0x02, 0x06, 0x0a, 0x0e, 0xfa, 0xf3]));
    assert_eq!(route.label1.vni(), 101);
}

#[test]
fn large_communities_decode() {
    let decoded = decode_capture("bgp-large-community.pcap");
    let first = updates(&decoded)[0];
    assert_eq!(
        first.attributes.large_communities,
        Some(vec![
            LargeCommunity {
                global_administrator: 65535,
                local_data_1: 1,
                local_data_2: 1
            },
            LargeCommunity {
                global_administrator: u32::MAX,
                local_data_1: u32::MAX,
                local_data_2: u32::MAX
            },
        ])
    );
}

#[test]
fn role_capture_carries_otc() {
    let decoded = decode_capture("bgp-role.pcapng");
    let (_, DecodedMessage::Open(open)) = &decoded[0] else {
        panic!("first message is not an OPEN")
    };
    // The BGP role capability (RFC 9234, code 9) is not decoded and stays byte-exact.
    assert!(open.capabilities().any(|c| *c
        == Capability::Unknown {
            code: 9,
            value: vec![3]
        }));
    assert!(
        updates(&decoded)
            .iter()
            .any(|u| u.attributes.otc == Some(65001))
    );
}

#[test]
fn shutdown_communication_from_other_router_decodes() {
    let decoded = decode_capture("bgp-shutdown-communication.pcapng");
    let (_, DecodedMessage::Notification(n)) = &decoded[0] else {
        panic!("not a NOTIFICATION")
    };
    assert_eq!(
        n.shutdown_communication(),
        Some("This is a test of the shutdown communication system.")
    );
}

#[test]
fn hard_reset_notification_decodes() {
    let decoded = decode_capture("bgp-cease-hard-reset.pcap");
    let n = decoded
        .iter()
        .find_map(|(_, d)| match d {
            DecodedMessage::Notification(n) => Some(n),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (n.code, n.subcode, n.data.as_slice()),
        (6, cease_subcode::HARD_RESET, &[6u8, 3][..])
    );
}

/// Writes the fuzz seed corpora from the captures: `cargo test -p hna-bgp --test known_answer
/// -- --ignored write_fuzz_seeds`. Each `bgp_message` seed is one captured message behind the
/// context octet the target reads first; each `evpn_nlri` seed is the NLRI of one EVPN
/// MP_REACH_NLRI or MP_UNREACH_NLRI.
#[test]
#[ignore = "regenerates the committed seeds"]
fn write_fuzz_seeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let mut bgp = Vec::new();
    let mut evpn = Vec::new();
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .extension()
            .is_some_and(|e| e == "pcap" || e == "pcapng")
        {
            continue;
        }
        for m in bgp_messages(&path) {
            // Context octet: four-octet AS, plus add-path for every family on the add-path capture.
            let selector = if path.ends_with("bgp-addpath.pcap") {
                0x1c
            } else {
                0x01
            };
            bgp.push([vec![selector], m.bytes.clone()].concat());
            if let Ok(DecodedMessage::Update(u)) = decode_message(&m.bytes, &frr_context()) {
                let mut nlri = Vec::new();
                for list in [
                    u.update.mp_reach.map(|r| r.nlri),
                    u.update.mp_unreach.map(|r| r.nlri),
                ]
                .into_iter()
                .flatten()
                {
                    if let NlriList::Evpn(routes) = list {
                        for r in routes {
                            r.nlri.encode(&mut nlri);
                        }
                    }
                }
                if !nlri.is_empty() {
                    evpn.push(nlri);
                }
            }
        }
    }
    for (target, seeds) in [("bgp_message", bgp), ("evpn_nlri", evpn)] {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let mut unique = std::collections::BTreeSet::new();
        for seed in seeds {
            unique.insert(seed);
        }
        for (i, seed) in unique.iter().enumerate() {
            std::fs::write(dir.join(format!("capture-{i:03}")), seed).unwrap();
        }
    }
}
