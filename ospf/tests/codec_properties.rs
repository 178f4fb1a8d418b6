//! Property tests of the codecs: every packet and LSA the model can express encodes to bytes
//! that decode back to it, with valid checksums.

use std::net::Ipv4Addr;

use hna_ospf::lsa::{
    AsExternalLsa, LsType, Lsa, LsaBody, LsaHeader, NetworkLsa, Options, RouterLink,
    RouterLinkType, RouterLsa, SummaryLsa, checksum,
};
use hna_ospf::packet::{
    AuthHeader, DbDescription, Hello, LsAck, LsRequest, LsRequestEntry, LsUpdate, Packet,
    PacketBody,
};
use proptest::prelude::*;

fn address() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn header(ls_type: LsType) -> impl Strategy<Value = LsaHeader> {
    (
        0u16..3600,
        any::<u8>(),
        address(),
        address(),
        any::<i32>().prop_filter("reserved", |s| *s != i32::MIN),
    )
        .prop_map(
            move |(ls_age, options, link_state_id, advertising_router, ls_sequence_number)| {
                LsaHeader {
                    ls_age,
                    options: Options(options),
                    ls_type,
                    link_state_id,
                    advertising_router,
                    ls_sequence_number,
                    ls_checksum: 0,
                    length: 0,
                }
            },
        )
}

fn router_link() -> impl Strategy<Value = RouterLink> {
    (address(), address(), 1u8..=4, any::<u16>()).prop_map(
        |(link_id, link_data, link_type, metric)| RouterLink {
            link_id,
            link_data,
            link_type: RouterLinkType(link_type),
            metric,
            tos: Vec::new(),
        },
    )
}

fn lsa() -> impl Strategy<Value = Lsa> {
    let router = (
        header(LsType::ROUTER),
        0u8..8,
        prop::collection::vec(router_link(), 0..20),
    )
        .prop_map(|(header, flags, links)| {
            Lsa::originate(header, LsaBody::Router(RouterLsa { flags, links }))
        });
    let network = (
        header(LsType::NETWORK),
        address(),
        prop::collection::vec(address(), 1..10),
    )
        .prop_map(|(header, network_mask, attached_routers)| {
            Lsa::originate(
                header,
                LsaBody::Network(NetworkLsa {
                    network_mask,
                    attached_routers,
                }),
            )
        });
    let summary = (header(LsType::SUMMARY_NETWORK), address(), 0u32..0x100_0000).prop_map(
        |(header, network_mask, metric)| {
            Lsa::originate(
                header,
                LsaBody::SummaryNetwork(SummaryLsa {
                    network_mask,
                    metric,
                    tos: Vec::new(),
                }),
            )
        },
    );
    let external = (
        header(LsType::AS_EXTERNAL),
        address(),
        any::<bool>(),
        0u32..0x100_0000,
        address(),
        any::<u32>(),
    )
        .prop_map(
            |(
                header,
                network_mask,
                metric_type2,
                metric,
                forwarding_address,
                external_route_tag,
            )| {
                let body = AsExternalLsa {
                    network_mask,
                    metric_type2,
                    metric,
                    forwarding_address,
                    external_route_tag,
                    tos: Vec::new(),
                };
                Lsa::originate(header, LsaBody::AsExternal(body))
            },
        );
    let opaque = (
        header(LsType::OPAQUE_AREA),
        prop::collection::vec(any::<u32>(), 0..8),
    )
        .prop_map(|(header, words)| {
            let data: Vec<u8> = words.iter().flat_map(|word| word.to_be_bytes()).collect();
            Lsa::originate(header, LsaBody::Opaque(data.into()))
        });
    prop_oneof![router, network, summary, external, opaque]
}

fn body() -> impl Strategy<Value = PacketBody> {
    let hello = (
        address(),
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        address(),
        address(),
        prop::collection::vec(address(), 0..20),
    )
        .prop_map(
            |(
                network_mask,
                hello_interval,
                options,
                router_priority,
                router_dead_interval,
                dr,
                bdr,
                neighbors,
            )| {
                PacketBody::Hello(Hello {
                    network_mask,
                    hello_interval,
                    options: Options(options),
                    router_priority,
                    router_dead_interval,
                    designated_router: dr,
                    backup_designated_router: bdr,
                    neighbors,
                })
            },
        );
    let dd = (
        any::<u16>(),
        any::<u8>(),
        0u8..8,
        any::<u32>(),
        prop::collection::vec(lsa(), 0..10),
    )
        .prop_map(
            |(interface_mtu, options, flags, dd_sequence_number, lsas)| {
                let lsa_headers = lsas.iter().map(|lsa| lsa.header).collect();
                PacketBody::DbDescription(DbDescription {
                    interface_mtu,
                    options: Options(options),
                    flags,
                    dd_sequence_number,
                    lsa_headers,
                })
            },
        );
    let request =
        prop::collection::vec((any::<u32>(), address(), address()), 0..20).prop_map(|entries| {
            let entries = entries
                .into_iter()
                .map(
                    |(ls_type, link_state_id, advertising_router)| LsRequestEntry {
                        ls_type,
                        link_state_id,
                        advertising_router,
                    },
                )
                .collect();
            PacketBody::LsRequest(LsRequest { entries })
        });
    let update = prop::collection::vec(lsa(), 0..10)
        .prop_map(|lsas| PacketBody::LsUpdate(LsUpdate { lsas }));
    let ack = prop::collection::vec(lsa(), 0..10).prop_map(|lsas| {
        PacketBody::LsAck(LsAck {
            lsa_headers: lsas.iter().map(|lsa| lsa.header).collect(),
        })
    });
    prop_oneof![hello, dd, request, update, ack]
}

proptest! {
    #[test]
    fn lsa_round_trips(lsa in lsa()) {
        prop_assert!(checksum::verify(lsa.raw()));
        let decoded = Lsa::decode(lsa.raw()).unwrap();
        prop_assert_eq!(&decoded, &lsa);
        prop_assert_eq!(decoded.encode(), lsa.raw().to_vec());
    }

    #[test]
    fn packet_round_trips(router_id in address(), body in body(), simple in any::<bool>(), password in any::<[u8; 8]>()) {
        let auth = if simple { AuthHeader::Simple(password) } else { AuthHeader::Null };
        let packet = Packet { router_id, area_id: Ipv4Addr::UNSPECIFIED, auth, body };
        let bytes = packet.encode();
        let decoded = Packet::decode(&bytes).unwrap();
        prop_assert!(decoded.discarded_lsas.is_empty());
        prop_assert_eq!(decoded.packet, packet);
        prop_assert!(decoded.trailer.is_empty());
    }
}

proptest! {
    #[test]
    fn grace_lsa_round_trips(
        grace_period in any::<u32>(),
        reason in any::<u8>(),
        interface_address in proptest::option::of(address()),
        header in header(LsType::OPAQUE_LINK),
    ) {
        let grace = hna_ospf::lsa::GraceLsa {
            grace_period,
            reason: hna_ospf::lsa::RestartReason::from_u8(reason),
            interface_address,
        };
        let mut header = header;
        header.link_state_id = hna_ospf::lsa::grace::LINK_STATE_ID;
        let lsa = Lsa::originate(header, grace.to_body());
        let decoded = Lsa::decode(lsa.raw()).expect("valid LSA");
        prop_assert_eq!(hna_ospf::lsa::GraceLsa::from_lsa(&decoded), Ok(grace));
    }

    #[test]
    fn grace_lsa_decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = hna_ospf::lsa::GraceLsa::decode(&body);
    }
}
