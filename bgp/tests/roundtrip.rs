//! Property tests: every message, capability, path attribute and NLRI kind survives encode
//! then decode, and the packer's messages decode back to the routes it was given.

#[path = "../../evpn/tests/common/strategies.rs"]
mod evpn_strategies;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use hna_bgp::wire::{
    DecodedMessage, SessionContext, UpdateErrorKind, UpdatePacker, decode_message, pack_withdrawals,
};
use hna_bgp::*;
use hna_evpn::{EvpnError, EvpnRoute};
use ipnet::{Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

fn afi_safi() -> impl Strategy<Value = AfiSafi> {
    (any::<u16>(), any::<u8>()).prop_map(|(afi, safi)| AfiSafi::new(afi, safi))
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.\\- ]{0,40}"
}

fn capability() -> impl Strategy<Value = Capability> {
    use capability_code::*;
    let known = [
        MULTIPROTOCOL,
        ROUTE_REFRESH,
        EXTENDED_MESSAGE,
        GRACEFUL_RESTART,
        FOUR_OCTET_AS,
        ADD_PATH,
        ENHANCED_ROUTE_REFRESH,
        LONG_LIVED_GRACEFUL_RESTART,
        FQDN,
        SOFTWARE_VERSION,
    ];
    let direction = prop_oneof![
        Just(AddPathDirection::Receive),
        Just(AddPathDirection::Send),
        Just(AddPathDirection::Both)
    ];
    prop_oneof![
        afi_safi().prop_map(Capability::Multiprotocol),
        Just(Capability::RouteRefresh),
        Just(Capability::ExtendedMessage),
        (0..16u8, 0..4096u16, vec((afi_safi(), any::<u8>()), 0..4)).prop_map(
            |(restart_flags, restart_time, f)| {
                Capability::GracefulRestart(GracefulRestart {
                    restart_flags,
                    restart_time,
                    families: f
                        .into_iter()
                        .map(|(afi_safi, flags)| GracefulRestartFamily { afi_safi, flags })
                        .collect(),
                })
            }
        ),
        (1..=u32::MAX).prop_map(Capability::FourOctetAs),
        vec((afi_safi(), direction), 1..4).prop_map(|f| Capability::AddPath(
            f.into_iter()
                .map(|(afi_safi, direction)| AddPathFamily {
                    afi_safi,
                    direction
                })
                .collect()
        )),
        Just(Capability::EnhancedRouteRefresh),
        vec((afi_safi(), any::<u8>(), 0..=0x00ff_ffffu32), 0..4).prop_map(|f| {
            Capability::LongLivedGracefulRestart(
                f.into_iter()
                    .map(|(afi_safi, flags, stale_time)| LlgrFamily {
                        afi_safi,
                        flags,
                        stale_time,
                    })
                    .collect(),
            )
        }),
        (text(), text()).prop_map(|(hostname, domain_name)| Capability::Fqdn {
            hostname,
            domain_name
        }),
        text().prop_map(Capability::SoftwareVersion),
        (
            any::<u8>().prop_filter("known code", move |c| !known.contains(c)),
            vec(any::<u8>(), 0..20)
        )
            .prop_map(|(code, value)| Capability::Unknown { code, value }),
    ]
}

fn open() -> impl Strategy<Value = Open> {
    (
        1..=u16::MAX,
        prop_oneof![Just(0u16), 3..=u16::MAX],
        1..=u32::MAX,
        vec(vec(capability(), 0..4), 0..6),
        any::<bool>(),
    )
        .prop_map(
            |(my_as, hold_time, id, capability_parameters, extended_parameters)| {
                let mut open = Open {
                    version: 4,
                    my_as,
                    hold_time,
                    bgp_identifier: Ipv4Addr::from(id),
                    capability_parameters,
                    extended_parameters,
                };
                // The encoder switches to the RFC 9072 encoding when the parameters need it.
                let ctx = SessionContext::default();
                if Message::Open(open.clone()).encoded_len(&ctx) > 29 + 255 {
                    open.extended_parameters = true;
                }
                open
            },
        )
}

fn as_path(max_asn: u32, confederations: bool) -> impl Strategy<Value = AsPath> {
    let kinds = if confederations {
        vec![
            AsSegmentType::Set,
            AsSegmentType::Sequence,
            AsSegmentType::ConfedSequence,
            AsSegmentType::ConfedSet,
        ]
    } else {
        vec![AsSegmentType::Set, AsSegmentType::Sequence]
    };
    vec(
        (proptest::sample::select(kinds), vec(1..=max_asn, 1..8)),
        0..4,
    )
    .prop_map(|segments| AsPath {
        segments: segments
            .into_iter()
            .map(|(segment_type, asns)| AsSegment { segment_type, asns })
            .collect(),
    })
}

fn unicast_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("not a unicast next hop", |a| {
            !(a.is_unspecified() || a.is_multicast() || a.is_broadcast())
        })
}

fn aggregator(max_asn: u32) -> impl Strategy<Value = Aggregator> {
    (1..=max_asn, any::<u32>()).prop_map(|(asn, a)| Aggregator {
        asn,
        address: Ipv4Addr::from(a),
    })
}

fn pmsi() -> impl Strategy<Value = PmsiTunnel> {
    let id = prop_oneof![vec(any::<u8>(), 4..=4), vec(any::<u8>(), 16..=16)];
    prop_oneof![
        (any::<u8>(), evpn_strategies::label(), id).prop_map(
            |(flags, label, tunnel_identifier)| PmsiTunnel {
                flags,
                tunnel_type: pmsi_tunnel_type::INGRESS_REPLICATION,
                label,
                tunnel_identifier
            }
        ),
        (any::<u8>(), evpn_strategies::label()).prop_map(|(flags, label)| PmsiTunnel {
            flags,
            tunnel_type: pmsi_tunnel_type::NO_TUNNEL_INFORMATION,
            label,
            tunnel_identifier: Vec::new()
        }),
        (
            any::<u8>(),
            1..=5u8,
            evpn_strategies::label(),
            vec(any::<u8>(), 0..20)
        )
            .prop_map(
                |(flags, tunnel_type, label, tunnel_identifier)| PmsiTunnel {
                    flags,
                    tunnel_type,
                    label,
                    tunnel_identifier
                }
            ),
    ]
}

fn unknown_attributes() -> impl Strategy<Value = Vec<RawAttribute>> {
    let known = [
        1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 22, 32, 35,
    ];
    // Unknown optional transitive attributes come back with Partial set; one type code appears
    // once, since a repeated attribute is discarded.
    vec(
        (
            any::<u8>().prop_filter("known type", move |t| !known.contains(t)),
            vec(any::<u8>(), 0..300),
        ),
        0..3,
    )
    .prop_map(|attrs| {
        let unique: BTreeMap<u8, Vec<u8>> = attrs.into_iter().collect();
        unique
            .into_iter()
            .map(|(type_code, value)| RawAttribute {
                flags: attr_flags::OPTIONAL | attr_flags::TRANSITIVE | attr_flags::PARTIAL,
                type_code,
                value,
            })
            .collect()
    })
}

fn attributes(max_asn: u32) -> impl Strategy<Value = PathAttributes> {
    let origin = prop_oneof![
        Just(Origin::Igp),
        Just(Origin::Egp),
        Just(Origin::Incomplete)
    ];
    let part1 = (
        option::of(origin),
        option::of(as_path(max_asn, true)),
        option::of(unicast_v4()),
        option::of(any::<u32>()),
        option::of(any::<u32>()),
        any::<bool>(),
        option::of(aggregator(max_asn)),
        option::of(vec(any::<u32>().prop_map(Community), 1..6)),
    );
    let part2 = (
        option::of(any::<u32>().prop_map(Ipv4Addr::from)),
        option::of(vec(any::<u32>().prop_map(Ipv4Addr::from), 1..4)),
        option::of(vec(evpn_strategies::ext_community(), 1..6)),
        option::of(as_path(u32::MAX, false)),
        option::of(aggregator(u32::MAX)),
        option::of(pmsi()),
        option::of(vec((any::<u32>(), any::<u32>(), any::<u32>()), 1..4)),
        option::of(any::<u32>()),
        unknown_attributes(),
    );
    (part1, part2).prop_map(|(p1, p2)| PathAttributes {
        origin: p1.0,
        as_path: p1.1,
        next_hop: p1.2,
        med: p1.3,
        local_pref: p1.4,
        atomic_aggregate: p1.5,
        aggregator: p1.6,
        communities: p1.7,
        originator_id: p2.0,
        cluster_list: p2.1,
        extended_communities: p2.2,
        as4_path: p2.3,
        as4_aggregator: p2.4,
        pmsi_tunnel: p2.5,
        large_communities: p2.6.map(|v| {
            v.into_iter()
                .map(
                    |(global_administrator, local_data_1, local_data_2)| LargeCommunity {
                        global_administrator,
                        local_data_1,
                        local_data_2,
                    },
                )
                .collect()
        }),
        otc: p2.7,
        unknown: p2.8,
    })
}

fn path_id(add_path: bool) -> impl Strategy<Value = Option<u32>> {
    any::<u32>().prop_map(move |id| add_path.then_some(id))
}

fn ipv4_routes(add_path: bool, max: usize) -> impl Strategy<Value = Vec<PathNlri<Ipv4Net>>> {
    vec((path_id(add_path), any::<u32>(), 0..=32u8), 0..max).prop_map(|v| {
        v.into_iter()
            .map(|(path_id, a, len)| PathNlri {
                path_id,
                nlri: Ipv4Net::new(Ipv4Addr::from(a), len).unwrap().trunc(),
            })
            .collect()
    })
}

fn ipv6_routes(add_path: bool) -> impl Strategy<Value = Vec<PathNlri<Ipv6Net>>> {
    vec((path_id(add_path), any::<u128>(), 0..=128u8), 0..10).prop_map(|v| {
        v.into_iter()
            .map(|(path_id, a, len)| PathNlri {
                path_id,
                nlri: Ipv6Net::new(Ipv6Addr::from(a), len).unwrap().trunc(),
            })
            .collect()
    })
}

fn evpn_routes(add_path: bool) -> impl Strategy<Value = Vec<PathNlri<EvpnRoute>>> {
    vec((path_id(add_path), evpn_strategies::route()), 0..8).prop_map(|v| {
        v.into_iter()
            .map(|(path_id, nlri)| PathNlri { path_id, nlri })
            .collect()
    })
}

fn ipv6_next_hop() -> impl Strategy<Value = MpNextHop> {
    (any::<u128>(), option::of(any::<u128>())).prop_map(|(g, ll)| MpNextHop::Ipv6 {
        global: Ipv6Addr::from(g),
        link_local: ll.map(Ipv6Addr::from),
    })
}

fn mp_reach(ctx: &SessionContext) -> impl Strategy<Value = MpReach> + use<> {
    let v4 = ctx.add_path(AfiSafi::IPV4_UNICAST);
    let v6 = ctx.add_path(AfiSafi::IPV6_UNICAST);
    let evpn = ctx.add_path(AfiSafi::L2VPN_EVPN);
    prop_oneof![
        (unicast_v4(), ipv4_routes(v4, 10)).prop_map(|(nh, routes)| MpReach {
            afi_safi: AfiSafi::IPV4_UNICAST,
            next_hop: MpNextHop::Ipv4(nh),
            nlri: NlriList::Ipv4(routes)
        }),
        (ipv6_next_hop(), ipv6_routes(v6)).prop_map(|(next_hop, routes)| MpReach {
            afi_safi: AfiSafi::IPV6_UNICAST,
            next_hop,
            nlri: NlriList::Ipv6(routes)
        }),
        (
            prop_oneof![unicast_v4().prop_map(MpNextHop::Ipv4), ipv6_next_hop()],
            evpn_routes(evpn)
        )
            .prop_map(|(next_hop, routes)| MpReach {
                afi_safi: AfiSafi::L2VPN_EVPN,
                next_hop,
                nlri: NlriList::Evpn(routes)
            }),
        (vec(any::<u8>(), 0..20), vec(any::<u8>(), 0..40)).prop_map(|(nh, nlri)| MpReach {
            afi_safi: AfiSafi::new(1, 128),
            next_hop: MpNextHop::Opaque(nh),
            nlri: NlriList::Opaque(nlri)
        }),
    ]
}

fn mp_unreach(ctx: &SessionContext) -> impl Strategy<Value = MpUnreach> + use<> {
    let v4 = ctx.add_path(AfiSafi::IPV4_UNICAST);
    let v6 = ctx.add_path(AfiSafi::IPV6_UNICAST);
    let evpn = ctx.add_path(AfiSafi::L2VPN_EVPN);
    prop_oneof![
        ipv4_routes(v4, 10).prop_map(|r| MpUnreach {
            afi_safi: AfiSafi::IPV4_UNICAST,
            nlri: NlriList::Ipv4(r)
        }),
        ipv6_routes(v6).prop_map(|r| MpUnreach {
            afi_safi: AfiSafi::IPV6_UNICAST,
            nlri: NlriList::Ipv6(r)
        }),
        evpn_routes(evpn).prop_map(|r| MpUnreach {
            afi_safi: AfiSafi::L2VPN_EVPN,
            nlri: NlriList::Evpn(r)
        }),
        vec(any::<u8>(), 0..40).prop_map(|b| MpUnreach {
            afi_safi: AfiSafi::new(2, 128),
            nlri: NlriList::Opaque(b)
        }),
    ]
}

fn context() -> impl Strategy<Value = SessionContext> {
    (
        any::<bool>(),
        proptest::sample::subsequence(
            vec![
                AfiSafi::IPV4_UNICAST,
                AfiSafi::IPV6_UNICAST,
                AfiSafi::L2VPN_EVPN,
            ],
            0..=3,
        ),
    )
        .prop_map(|(four_octet_as, add_path)| SessionContext {
            four_octet_as,
            extended_message: true,
            add_path,
        })
}

fn context_and_update() -> impl Strategy<Value = (SessionContext, Update)> {
    context().prop_flat_map(|ctx| {
        let max_asn = if ctx.four_octet_as {
            u32::MAX
        } else {
            u16::MAX as u32
        };
        let add_path = ctx.add_path(AfiSafi::IPV4_UNICAST);
        let update = (
            ipv4_routes(add_path, 20),
            attributes(max_asn),
            option::of(mp_reach(&ctx)),
            option::of(mp_unreach(&ctx)),
            ipv4_routes(add_path, 20),
        )
            .prop_map(
                |(withdrawn, attributes, mp_reach, mp_unreach, nlri)| Update {
                    withdrawn,
                    attributes,
                    mp_reach,
                    mp_unreach,
                    nlri,
                },
            );
        (Just(ctx), update)
    })
}

fn round_trip(message: &Message, ctx: &SessionContext) -> DecodedMessage {
    let bytes = message.to_bytes(ctx).expect("encodes");
    assert_eq!(
        bytes.len(),
        message.encoded_len(ctx),
        "encoded_len disagrees with encode"
    );
    decode_message(&bytes, ctx).expect("decodes")
}

/// Errors an UPDATE may legitimately report after a round trip: a generated UPDATE may lack a
/// mandatory attribute or carry a type-5 route with both an ESI and a gateway.
fn expected_error(kind: &UpdateErrorKind) -> bool {
    matches!(
        kind,
        UpdateErrorKind::MissingMandatory | UpdateErrorKind::Evpn(EvpnError::EsiAndGatewayBothSet)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn open_round_trips(open in open()) {
        let ctx = SessionContext::default();
        let message = Message::Open(open);
        prop_assert_eq!(round_trip(&message, &ctx).into_message(), message);
    }

    #[test]
    fn update_round_trips((ctx, update) in context_and_update()) {
        let DecodedMessage::Update(decoded) = round_trip(&Message::Update(update.clone()), &ctx) else {
            panic!("not an UPDATE");
        };
        prop_assert!(decoded.errors.iter().all(|e| expected_error(&e.kind)), "{:?}", decoded.errors);
        prop_assert_eq!(decoded.update, update);
    }

    #[test]
    fn notification_round_trips(code in any::<u8>(), subcode in any::<u8>(), data in vec(any::<u8>(), 0..100)) {
        let message = Message::Notification(Notification { code, subcode, data });
        prop_assert_eq!(round_trip(&message, &SessionContext::default()).into_message(), message);
    }

    #[test]
    fn shutdown_communication_round_trips(text in "\\PC{0,80}") {
        let n = Notification::with_shutdown_communication(wire::cease_subcode::ADMINISTRATIVE_SHUTDOWN, &text);
        let decoded = round_trip(&Message::Notification(n), &SessionContext::default());
        let DecodedMessage::Notification(n) = decoded else { panic!("not a NOTIFICATION") };
        let expected: String = text.char_indices().take_while(|(i, c)| i + c.len_utf8() <= 255).map(|(_, c)| c).collect();
        prop_assert_eq!(n.shutdown_communication(), Some(expected.as_str()));
    }

    #[test]
    fn route_refresh_round_trips(afi_safi in afi_safi(), subtype in any::<u8>()) {
        let message = Message::RouteRefresh(RouteRefresh { afi_safi, subtype });
        prop_assert_eq!(round_trip(&message, &SessionContext::default()).into_message(), message);
    }

    #[test]
    fn packer_splits_routes_within_max_length(routes in ipv4_routes(false, 3000), extended in any::<bool>()) {
        let ctx = SessionContext { four_octet_as: true, extended_message: extended, add_path: Vec::new() };
        let attrs = PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![65001, 65002])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..Default::default()
        };
        let mut packer = UpdatePacker::new(&ctx, &attrs, AfiSafi::IPV4_UNICAST, None);
        for r in &routes {
            packer.push_ipv4(r).unwrap();
        }
        let mut seen = Vec::new();
        for m in packer.finish() {
            prop_assert!(m.len() <= ctx.max_message_len());
            let DecodedMessage::Update(u) = decode_message(&m, &ctx).unwrap() else { panic!("not an UPDATE") };
            prop_assert_eq!(&u.update.attributes, &attrs);
            prop_assert_eq!(u.action, UpdateAction::None);
            seen.extend(u.update.nlri);
        }
        prop_assert_eq!(seen, routes);
    }

    #[test]
    fn packer_splits_evpn_routes(routes in vec(evpn_strategies::route(), 0..300)) {
        let ctx = SessionContext { four_octet_as: true, extended_message: false, add_path: vec![AfiSafi::L2VPN_EVPN] };
        let attrs = PathAttributes { origin: Some(Origin::Igp), as_path: Some(AsPath::default()), ..Default::default() };
        let nh = MpNextHop::Ipv4(Ipv4Addr::new(10, 0, 0, 1));
        let routes: Vec<PathNlri<EvpnRoute>> =
            routes.into_iter().enumerate().map(|(i, nlri)| PathNlri { path_id: Some(i as u32), nlri }).collect();
        let mut packer = UpdatePacker::new(&ctx, &attrs, AfiSafi::L2VPN_EVPN, Some(nh.clone()));
        for r in &routes {
            packer.push_evpn(r).unwrap();
        }
        let mut seen = Vec::new();
        for m in packer.finish() {
            prop_assert!(m.len() <= ctx.max_message_len());
            let DecodedMessage::Update(u) = decode_message(&m, &ctx).unwrap() else { panic!("not an UPDATE") };
            prop_assert_eq!(&u.update.attributes, &attrs);
            let reach = u.update.mp_reach.unwrap();
            prop_assert_eq!(reach.next_hop, nh.clone());
            let NlriList::Evpn(v) = reach.nlri else { panic!("not EVPN") };
            seen.extend(v);
        }
        prop_assert_eq!(seen, routes);
    }

    #[test]
    fn withdrawals_pack_and_decode(routes in evpn_routes(false), v4 in ipv4_routes(false, 2000)) {
        let ctx = SessionContext { four_octet_as: true, ..Default::default() };
        let mut seen = Vec::new();
        for m in pack_withdrawals(&ctx, AfiSafi::L2VPN_EVPN, &NlriList::Evpn(routes.clone())).unwrap() {
            let DecodedMessage::Update(u) = decode_message(&m, &ctx).unwrap() else { panic!("not an UPDATE") };
            let NlriList::Evpn(v) = u.update.mp_unreach.unwrap().nlri else { panic!("not EVPN") };
            seen.extend(v);
        }
        prop_assert_eq!(seen, routes);
        let mut seen = Vec::new();
        for m in pack_withdrawals(&ctx, AfiSafi::IPV4_UNICAST, &NlriList::Ipv4(v4.clone())).unwrap() {
            prop_assert!(m.len() <= 4096);
            let DecodedMessage::Update(u) = decode_message(&m, &ctx).unwrap() else { panic!("not an UPDATE") };
            seen.extend(u.update.withdrawn);
        }
        prop_assert_eq!(seen, v4);
    }
}

#[test]
fn end_of_rib_round_trips_for_each_family() {
    let ctx = SessionContext {
        four_octet_as: true,
        ..Default::default()
    };
    for family in [
        AfiSafi::IPV4_UNICAST,
        AfiSafi::IPV6_UNICAST,
        AfiSafi::L2VPN_EVPN,
    ] {
        let mut bytes = Vec::new();
        wire::encode_end_of_rib(family, &ctx, &mut bytes);
        let DecodedMessage::Update(u) = decode_message(&bytes, &ctx).unwrap() else {
            panic!("not an UPDATE")
        };
        assert_eq!(u.update.end_of_rib_family(), Some(family));
    }
    let mut ipv4 = Vec::new();
    wire::encode_end_of_rib(AfiSafi::IPV4_UNICAST, &ctx, &mut ipv4);
    assert_eq!(ipv4.len(), 23, "the IPv4 End-of-RIB is an empty UPDATE");
}

#[test]
fn keepalive_round_trips() {
    assert_eq!(
        round_trip(&Message::Keepalive, &SessionContext::default()),
        DecodedMessage::Keepalive
    );
}

#[test]
fn negotiate_intersects_capabilities() {
    let id = Ipv4Addr::new(192, 0, 2, 1);
    let local = Open::new(
        65001,
        90,
        id,
        vec![
            Capability::ExtendedMessage,
            Capability::AddPath(vec![AddPathFamily {
                afi_safi: AfiSafi::L2VPN_EVPN,
                direction: AddPathDirection::Both,
            }]),
        ],
    );
    let remote = Open::new(
        4_200_000_000,
        90,
        id,
        vec![
            Capability::FourOctetAs(4_200_000_000),
            Capability::AddPath(vec![AddPathFamily {
                afi_safi: AfiSafi::L2VPN_EVPN,
                direction: AddPathDirection::Send,
            }]),
        ],
    );
    assert_eq!(remote.my_as, AS_TRANS as u16);
    let (receive, send) = SessionContext::negotiate(&local, &remote);
    assert!(
        !receive.four_octet_as,
        "only one side sent the 4-octet AS capability"
    );
    assert!(!receive.extended_message);
    assert_eq!(receive.add_path, vec![AfiSafi::L2VPN_EVPN]);
    assert!(send.add_path.is_empty());
}
