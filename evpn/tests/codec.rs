//! Property and length-rule tests of the EVPN codec: every route type, community, RD, ESI and
//! label survives encode then decode, and every route type's length rules reject what they must.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hna_evpn::*;
use proptest::prelude::*;

#[path = "common/strategies.rs"]
mod strategies;

use strategies::*;

proptest! {
    #[test]
    fn route_round_trips(route in route()) {
        let mut buf = Vec::new();
        route.encode(&mut buf);
        prop_assert_eq!(buf.len(), route.encoded_len());
        let (decoded, used) = EvpnRoute::decode(&buf).unwrap();
        prop_assert_eq!(used, buf.len());
        prop_assert_eq!(decoded, route);
    }

    #[test]
    fn ext_community_round_trips(c in ext_community()) {
        prop_assert_eq!(ExtendedCommunity::from_bytes(c.to_bytes()), c);
    }

    #[test]
    fn any_ext_community_bytes_reencode_exactly(b in any::<[u8; 8]>()) {
        prop_assert_eq!(ExtendedCommunity::from_bytes(b).to_bytes(), b);
    }

    #[test]
    fn rd_round_trips(rd in rd()) {
        prop_assert_eq!(RouteDistinguisher::from_bytes(rd.to_bytes()), rd);
    }

    #[test]
    fn any_rd_bytes_reencode_exactly(b in any::<[u8; 8]>()) {
        prop_assert_eq!(RouteDistinguisher::from_bytes(b).to_bytes(), b);
    }

    #[test]
    fn esi_round_trips(esi in esi()) {
        prop_assert_eq!(Esi::from_bytes(esi.to_bytes()), esi);
    }

    #[test]
    fn any_esi_bytes_reencode_exactly(b in any::<[u8; 10]>()) {
        prop_assert_eq!(Esi::from_bytes(b).to_bytes(), b);
    }

    #[test]
    fn route_target_round_trips(rt in route_target()) {
        prop_assert_eq!(RouteTarget::from_bytes(rt.to_bytes()), Some(rt));
    }

    #[test]
    fn label_round_trips(v in 0..=Label::MAX) {
        let label = Label::from_vni(v).unwrap();
        prop_assert_eq!(Label::from_bytes(label.to_bytes()), label);
        prop_assert_eq!(label.vni(), v);
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = EvpnRoute::decode(&bytes);
    }
}

fn value_of(route: &EvpnRoute) -> Vec<u8> {
    let mut buf = Vec::new();
    route.encode(&mut buf);
    buf.split_off(2)
}

fn sample_mac_ip(ip: Option<IpAddr>, label2: bool) -> EvpnRoute {
    EvpnRoute::MacIp(MacIpRoute {
        rd: RouteDistinguisher::Ipv4 {
            address: Ipv4Addr::new(10, 0, 0, 1),
            number: 2,
        },
        esi: Esi::ZERO,
        ethernet_tag: EthernetTag(0),
        mac: MacAddress([2, 0, 0, 0, 0, 1]),
        ip,
        label1: Label::from_vni(10000).unwrap(),
        label2: label2.then(|| Label::from_vni(100).unwrap()),
    })
}

#[test]
fn mac_ip_lengths_follow_ip_and_label_count() {
    let v4 = Some(IpAddr::V4(Ipv4Addr::new(10, 60, 0, 1)));
    let v6 = Some(IpAddr::V6(Ipv6Addr::LOCALHOST));
    for (ip, label2, len) in [
        (None, false, 33),
        (None, true, 36),
        (v4, false, 37),
        (v4, true, 40),
        (v6, false, 49),
        (v6, true, 52),
    ] {
        assert_eq!(sample_mac_ip(ip, label2).value_len(), len);
    }
}

#[test]
fn mac_ip_length_mismatch_rejected() {
    let mut value = value_of(&sample_mac_ip(
        Some(IpAddr::V4(Ipv4Addr::new(10, 60, 0, 1))),
        false,
    ));
    value[29] = 128; // claims IPv6 in a 37-octet route
    assert_eq!(
        EvpnRoute::decode_value(2, &value),
        Err(EvpnError::InvalidRouteLength {
            route_type: 2,
            length: 37
        })
    );
}

#[test]
fn route_key_ignores_labels_and_esi() {
    let a = sample_mac_ip(None, false);
    let mut b = sample_mac_ip(None, true);
    if let EvpnRoute::MacIp(r) = &mut b {
        r.esi = Esi::Arbitrary([1; 9]);
    }
    assert_eq!(a.key(), b.key());
    let mut c = sample_mac_ip(None, false);
    if let EvpnRoute::MacIp(r) = &mut c {
        r.mac = MacAddress([2, 0, 0, 0, 0, 2]);
    }
    assert_ne!(a.key(), c.key());
}

#[test]
fn ip_prefix_with_esi_and_gateway_fails_validation() {
    let route = EvpnRoute::IpPrefix(IpPrefixRoute {
        rd: RouteDistinguisher::As2 {
            asn: 65500,
            number: 1,
        },
        esi: Esi::Arbitrary([1; 9]),
        ethernet_tag: EthernetTag(0),
        value: IpPrefixValue::V4 {
            prefix: "10.70.1.0/24".parse().unwrap(),
            gateway: Ipv4Addr::new(10, 0, 0, 1),
        },
        label: Label::from_vni(100).unwrap(),
    });
    assert_eq!(route.validate(), Err(EvpnError::EsiAndGatewayBothSet));
}

#[test]
fn mac_text_round_trips() {
    let mac: MacAddress = "26:40:7e:2a:95:c3".parse().unwrap();
    assert_eq!(mac.to_string(), "26:40:7e:2a:95:c3");
    assert!("26:40:7e:2a:95".parse::<MacAddress>().is_err());
    assert!("26:40:7e:2a:95:c3:00".parse::<MacAddress>().is_err());
}
