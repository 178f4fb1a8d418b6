//! Proptest strategies for every EVPN value, shared by the EVPN and BGP codec tests.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hna_evpn::*;
use ipnet::{Ipv4Net, Ipv6Net};
use proptest::prelude::*;

pub fn mac() -> impl Strategy<Value = MacAddress> {
    any::<[u8; 6]>().prop_map(MacAddress)
}

pub fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a)))
    ]
}

pub fn label() -> impl Strategy<Value = Label> {
    (0..=Label::MAX).prop_map(|v| Label::from_vni(v).unwrap())
}

pub fn rd() -> impl Strategy<Value = RouteDistinguisher> {
    prop_oneof![
        (any::<u16>(), any::<u32>())
            .prop_map(|(asn, number)| RouteDistinguisher::As2 { asn, number }),
        (any::<u32>(), any::<u16>()).prop_map(|(a, number)| RouteDistinguisher::Ipv4 {
            address: Ipv4Addr::from(a),
            number
        }),
        (any::<u32>(), any::<u16>())
            .prop_map(|(asn, number)| RouteDistinguisher::As4 { asn, number }),
        (3..=u16::MAX, any::<[u8; 6]>())
            .prop_map(|(rd_type, value)| RouteDistinguisher::Unknown { rd_type, value }),
    ]
}

pub fn esi() -> impl Strategy<Value = Esi> {
    prop_oneof![
        any::<[u8; 9]>().prop_map(Esi::Arbitrary),
        Just(Esi::ZERO),
        (mac(), any::<u16>()).prop_map(|(system_mac, port_key)| Esi::Lacp {
            system_mac,
            port_key
        }),
        (mac(), any::<u16>()).prop_map(|(root_bridge_mac, root_bridge_priority)| Esi::Bridge {
            root_bridge_mac,
            root_bridge_priority
        }),
        (mac(), 0..=0x00ff_ffffu32).prop_map(|(system_mac, local_discriminator)| Esi::Mac {
            system_mac,
            local_discriminator
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(id, local_discriminator)| Esi::RouterId {
            router_id: Ipv4Addr::from(id),
            local_discriminator
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(asn, local_discriminator)| Esi::As {
            asn,
            local_discriminator
        }),
        (6..=u8::MAX, any::<[u8; 9]>())
            .prop_map(|(esi_type, value)| Esi::Unknown { esi_type, value }),
    ]
}

pub fn route_target() -> impl Strategy<Value = RouteTarget> {
    prop_oneof![
        (any::<u16>(), any::<u32>()).prop_map(|(asn, value)| RouteTarget::As2 { asn, value }),
        (any::<u32>(), any::<u16>()).prop_map(|(a, value)| RouteTarget::Ipv4 {
            address: Ipv4Addr::from(a),
            value
        }),
        (any::<u32>(), any::<u16>()).prop_map(|(asn, value)| RouteTarget::As4 { asn, value }),
    ]
}

pub fn ext_community() -> impl Strategy<Value = ExtendedCommunity> {
    prop_oneof![
        route_target().prop_map(ExtendedCommunity::RouteTarget),
        any::<u16>().prop_map(|tunnel_type| ExtendedCommunity::Encapsulation { tunnel_type }),
        Just(ExtendedCommunity::DefaultGateway),
        (any::<bool>(), any::<u32>())
            .prop_map(|(sticky, sequence)| ExtendedCommunity::MacMobility { sticky, sequence }),
        (any::<bool>(), label()).prop_map(|(single_active, label)| ExtendedCommunity::EsiLabel {
            single_active,
            label
        }),
        mac().prop_map(ExtendedCommunity::EsImportRouteTarget),
        mac().prop_map(ExtendedCommunity::RouterMac),
        any::<[u8; 8]>()
            .prop_filter("decodes to a typed community", |b| matches!(
                ExtendedCommunity::from_bytes(*b),
                ExtendedCommunity::Other(_)
            ))
            .prop_map(ExtendedCommunity::Other),
    ]
}

fn ip_prefix_value() -> impl Strategy<Value = IpPrefixValue> {
    prop_oneof![
        (any::<u32>(), 0..=32u8, any::<u32>()).prop_map(|(a, len, gw)| IpPrefixValue::V4 {
            prefix: Ipv4Net::new(Ipv4Addr::from(a), len).unwrap(),
            gateway: Ipv4Addr::from(gw)
        }),
        (any::<u128>(), 0..=128u8, any::<u128>()).prop_map(|(a, len, gw)| IpPrefixValue::V6 {
            prefix: Ipv6Net::new(Ipv6Addr::from(a), len).unwrap(),
            gateway: Ipv6Addr::from(gw)
        }),
    ]
}

pub fn route() -> impl Strategy<Value = EvpnRoute> {
    let tag = any::<u32>().prop_map(EthernetTag);
    prop_oneof![
        (rd(), esi(), tag.clone(), label()).prop_map(|(rd, esi, ethernet_tag, label)| {
            EvpnRoute::EthernetAd(EthernetAdRoute {
                rd,
                esi,
                ethernet_tag,
                label,
            })
        }),
        (
            rd(),
            esi(),
            tag.clone(),
            mac(),
            proptest::option::of(ip()),
            label(),
            proptest::option::of(label())
        )
            .prop_map(
                |(rd, esi, ethernet_tag, mac, ip, label1, label2)| EvpnRoute::MacIp(MacIpRoute {
                    rd,
                    esi,
                    ethernet_tag,
                    mac,
                    ip,
                    label1,
                    label2
                })
            ),
        (rd(), tag.clone(), ip()).prop_map(|(rd, ethernet_tag, originating_ip)| {
            EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
                rd,
                ethernet_tag,
                originating_ip,
            })
        }),
        (rd(), esi(), ip()).prop_map(|(rd, esi, originating_ip)| EvpnRoute::EthernetSegment(
            EthernetSegmentRoute {
                rd,
                esi,
                originating_ip
            }
        )),
        (rd(), esi(), tag, ip_prefix_value(), label()).prop_map(
            |(rd, esi, ethernet_tag, value, label)| {
                EvpnRoute::IpPrefix(IpPrefixRoute {
                    rd,
                    esi,
                    ethernet_tag,
                    value,
                    label,
                })
            }
        ),
        (6..=u8::MAX, proptest::collection::vec(any::<u8>(), 0..60)).prop_map(
            |(route_type, value)| EvpnRoute::Unknown {
                route_type,
                value: value.into()
            }
        ),
    ]
}
