use std::net::{IpAddr, Ipv4Addr};

use hna_evpn::{ExtendedCommunity, RouteTarget};
use ipnet::IpNet;

use super::*;
use crate::message::{Community, PathAttributes};

fn net(s: &str) -> IpNet {
    s.parse().expect("valid prefix in test")
}

fn entry(
    seq: u32,
    action: Action,
    prefix: &str,
    ge: Option<u8>,
    le: Option<u8>,
) -> PrefixListEntry {
    PrefixListEntry {
        seq,
        action,
        prefix: net(prefix),
        ge,
        le,
    }
}

fn view<'a>(prefix: Option<&str>, attributes: &'a PathAttributes) -> RouteView<'a> {
    RouteView {
        prefix: prefix.map(net),
        source_l3vrf: None,
        evpn_route_type: None,
        vni: None,
        next_hop: None,
        attributes,
    }
}

fn policy_with(map: Vec<RouteMapEntry>) -> PolicySet {
    let mut set = PolicySet::default();
    set.route_maps.insert("RM".into(), RouteMap::new(map));
    set
}

fn permit(seq: u32, matches: Vec<Match>, sets: Vec<Set>) -> RouteMapEntry {
    RouteMapEntry {
        seq,
        action: Action::Permit,
        matches,
        sets,
    }
}

#[test]
fn prefix_list_ge_le_edges() {
    // (entry ge, entry le, route, expected match) for entry 10.0.0.0/8.
    let cases: &[(Option<u8>, Option<u8>, &str, bool)] = &[
        (None, None, "10.0.0.0/8", true),
        (None, None, "10.1.0.0/16", false),
        (None, None, "11.0.0.0/8", false),
        (Some(16), None, "10.1.0.0/16", true),
        (Some(16), None, "10.1.2.3/32", true),
        (Some(16), None, "10.0.0.0/15", false),
        (Some(16), None, "10.0.0.0/8", false),
        (None, Some(16), "10.0.0.0/8", true),
        (None, Some(16), "10.1.0.0/16", true),
        (None, Some(16), "10.1.1.0/24", false),
        (Some(16), Some(24), "10.1.0.0/16", true),
        (Some(16), Some(24), "10.1.1.0/24", true),
        (Some(16), Some(24), "10.1.1.0/25", false),
        (Some(16), Some(24), "10.0.0.0/12", false),
        (Some(24), Some(24), "10.9.9.0/24", true),
        (Some(24), Some(24), "10.9.0.0/23", false),
        (Some(16), Some(24), "11.1.0.0/16", false),
    ];
    for &(ge, le, route, expected) in cases {
        let e = entry(5, Action::Permit, "10.0.0.0/8", ge, le);
        assert_eq!(
            e.matches(&net(route)),
            expected,
            "ge {ge:?} le {le:?} route {route}"
        );
    }
}

#[test]
fn prefix_list_other_family_never_matches() {
    let e = entry(5, Action::Permit, "0.0.0.0/0", None, Some(32));
    assert!(!e.matches(&net("2001:db8::/32")));
    let e6 = entry(5, Action::Permit, "::/0", None, Some(128));
    assert!(e6.matches(&net("2001:db8::/32")));
    assert!(!e6.matches(&net("10.0.0.0/8")));
}

#[test]
fn prefix_list_order_and_implicit_deny() {
    let list = PrefixList::new(vec![
        entry(20, Action::Permit, "10.0.0.0/8", None, Some(32)),
        entry(10, Action::Deny, "10.1.0.0/16", None, Some(32)),
    ]);
    assert_eq!(list.evaluate(&net("10.1.2.0/24")), Action::Deny);
    assert_eq!(list.evaluate(&net("10.2.0.0/24")), Action::Permit);
    assert_eq!(list.evaluate(&net("192.168.0.0/24")), Action::Deny);
    assert_eq!(
        PrefixList::default().evaluate(&net("10.0.0.0/8")),
        Action::Deny
    );
}

#[test]
fn route_map_missing_denies() {
    let set = PolicySet::default();
    let attrs = PathAttributes::default();
    assert!(
        set.evaluate("NOPE", &view(Some("10.0.0.0/8"), &attrs))
            .is_none()
    );
}

#[test]
fn route_map_no_matching_entry_denies() {
    let set = policy_with(vec![permit(10, vec![Match::EvpnRouteType(5)], vec![])]);
    let attrs = PathAttributes::default();
    assert!(
        set.evaluate("RM", &view(Some("10.0.0.0/8"), &attrs))
            .is_none()
    );
}

#[test]
fn route_map_deny_entry_denies_before_later_permit() {
    let mut set = policy_with(vec![
        RouteMapEntry {
            seq: 10,
            action: Action::Deny,
            matches: vec![Match::PrefixList("PL".into())],
            sets: vec![],
        },
        permit(20, vec![], vec![]),
    ]);
    set.prefix_lists.insert(
        "PL".into(),
        PrefixList::new(vec![entry(5, Action::Permit, "10.0.0.0/8", None, Some(32))]),
    );
    let attrs = PathAttributes::default();
    assert!(
        set.evaluate("RM", &view(Some("10.1.0.0/16"), &attrs))
            .is_none()
    );
    assert!(
        set.evaluate("RM", &view(Some("192.0.2.0/24"), &attrs))
            .is_some()
    );
}

#[test]
fn match_prefix_list_missing_list_or_prefix_fails() {
    let set = policy_with(vec![permit(
        10,
        vec![Match::PrefixList("ABSENT".into())],
        vec![],
    )]);
    let attrs = PathAttributes::default();
    assert!(
        set.evaluate("RM", &view(Some("10.0.0.0/8"), &attrs))
            .is_none()
    );

    let mut set = policy_with(vec![permit(
        10,
        vec![Match::PrefixList("PL".into())],
        vec![],
    )]);
    set.prefix_lists.insert(
        "PL".into(),
        PrefixList::new(vec![entry(5, Action::Permit, "0.0.0.0/0", None, Some(32))]),
    );
    assert!(set.evaluate("RM", &view(None, &attrs)).is_none());
    assert!(
        set.evaluate("RM", &view(Some("10.0.0.0/8"), &attrs))
            .is_some()
    );
}

#[test]
fn match_source_l3vrf() {
    let set = policy_with(vec![permit(
        10,
        vec![Match::SourceL3vrf("red".into())],
        vec![],
    )]);
    let attrs = PathAttributes::default();
    let mut v = view(Some("10.0.0.0/24"), &attrs);
    assert!(set.evaluate("RM", &v).is_none());
    v.source_l3vrf = Some("green");
    assert!(set.evaluate("RM", &v).is_none());
    v.source_l3vrf = Some("red");
    assert!(set.evaluate("RM", &v).is_some());
}

#[test]
fn match_evpn_route_type_and_vni() {
    let set = policy_with(vec![permit(
        10,
        vec![Match::EvpnRouteType(5), Match::EvpnVni(10100)],
        vec![],
    )]);
    let attrs = PathAttributes::default();
    let mut v = view(None, &attrs);
    v.evpn_route_type = Some(5);
    v.vni = Some(10100);
    assert!(set.evaluate("RM", &v).is_some());
    v.vni = Some(10200);
    assert!(set.evaluate("RM", &v).is_none());
    v.vni = Some(10100);
    v.evpn_route_type = Some(2);
    assert!(set.evaluate("RM", &v).is_none());
}

#[test]
fn match_community_requires_all_listed() {
    let set = policy_with(vec![permit(
        10,
        vec![Match::Community(vec![
            Community(65000 << 16 | 1),
            Community(65000 << 16 | 2),
        ])],
        vec![],
    )]);
    let mut attrs = PathAttributes {
        communities: Some(vec![Community(65000 << 16 | 1)]),
        ..Default::default()
    };
    assert!(set.evaluate("RM", &view(None, &attrs)).is_none());
    attrs.communities = Some(vec![
        Community(65000 << 16 | 2),
        Community(65000 << 16 | 1),
        Community(7),
    ]);
    assert!(set.evaluate("RM", &view(None, &attrs)).is_some());
    attrs.communities = None;
    assert!(set.evaluate("RM", &view(None, &attrs)).is_none());
}

#[test]
fn match_route_target() {
    let rt = RouteTarget::As2 {
        asn: 65000,
        value: 100,
    };
    let set = policy_with(vec![permit(10, vec![Match::RouteTarget(vec![rt])], vec![])]);
    let mut attrs = PathAttributes {
        extended_communities: Some(vec![ExtendedCommunity::RouteTarget(RouteTarget::As2 {
            asn: 65000,
            value: 200,
        })]),
        ..Default::default()
    };
    assert!(set.evaluate("RM", &view(None, &attrs)).is_none());
    attrs
        .extended_communities
        .as_mut()
        .expect("set above")
        .push(ExtendedCommunity::RouteTarget(rt));
    assert!(set.evaluate("RM", &view(None, &attrs)).is_some());
}

#[test]
fn set_local_preference_and_med() {
    let set = policy_with(vec![permit(
        10,
        vec![],
        vec![Set::LocalPreference(250), Set::Med(7)],
    )]);
    let attrs = PathAttributes {
        local_pref: Some(100),
        ..Default::default()
    };
    let result = set.evaluate("RM", &view(None, &attrs)).expect("permitted");
    assert_eq!(result.attributes.local_pref, Some(250));
    assert_eq!(result.attributes.med, Some(7));
}

#[test]
fn set_community_replace_and_additive() {
    let c = |n: u32| Community(65000 << 16 | n);
    let attrs = PathAttributes {
        communities: Some(vec![c(1)]),
        ..Default::default()
    };
    let replace = policy_with(vec![permit(
        10,
        vec![],
        vec![Set::Community {
            communities: vec![c(2)],
            additive: false,
        }],
    )]);
    let result = replace
        .evaluate("RM", &view(None, &attrs))
        .expect("permitted");
    assert_eq!(result.attributes.communities, Some(vec![c(2)]));

    let additive = policy_with(vec![permit(
        10,
        vec![],
        vec![Set::Community {
            communities: vec![c(2), c(1)],
            additive: true,
        }],
    )]);
    let result = additive
        .evaluate("RM", &view(None, &attrs))
        .expect("permitted");
    assert_eq!(result.attributes.communities, Some(vec![c(1), c(2)]));

    let clear = policy_with(vec![permit(
        10,
        vec![],
        vec![Set::Community {
            communities: vec![],
            additive: false,
        }],
    )]);
    let result = clear
        .evaluate("RM", &view(None, &attrs))
        .expect("permitted");
    assert_eq!(result.attributes.communities, None);
}

#[test]
fn set_route_target_adds_without_duplicates() {
    let existing = ExtendedCommunity::Encapsulation { tunnel_type: 8 };
    let rt = RouteTarget::As2 {
        asn: 65000,
        value: 5,
    };
    let attrs = PathAttributes {
        extended_communities: Some(vec![existing, ExtendedCommunity::RouteTarget(rt)]),
        ..Default::default()
    };
    let rt2 = RouteTarget::As4 {
        asn: 4_200_000_000,
        value: 9,
    };
    let set = policy_with(vec![permit(
        10,
        vec![],
        vec![Set::RouteTargetAdd(vec![rt, rt2])],
    )]);
    let result = set.evaluate("RM", &view(None, &attrs)).expect("permitted");
    assert_eq!(
        result.attributes.extended_communities,
        Some(vec![
            existing,
            ExtendedCommunity::RouteTarget(rt),
            ExtendedCommunity::RouteTarget(rt2)
        ])
    );
}

#[test]
fn set_next_hop_v4_writes_attribute() {
    let nh = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9));
    let set = policy_with(vec![permit(10, vec![], vec![Set::NextHop(nh)])]);
    let attrs = PathAttributes::default();
    let mut v = view(None, &attrs);
    v.next_hop = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    let result = set.evaluate("RM", &v).expect("permitted");
    assert_eq!(result.next_hop, Some(nh));
    assert_eq!(
        result.attributes.next_hop,
        Some(Ipv4Addr::new(192, 0, 2, 9))
    );

    let v6: IpAddr = "2001:db8::1".parse().expect("valid address");
    let set = policy_with(vec![permit(10, vec![], vec![Set::NextHop(v6)])]);
    let result = set.evaluate("RM", &view(None, &attrs)).expect("permitted");
    assert_eq!(result.next_hop, Some(v6));
    assert_eq!(result.attributes.next_hop, None);
}

#[test]
fn permit_without_sets_keeps_attributes() {
    let set = policy_with(vec![permit(10, vec![], vec![])]);
    let attrs = PathAttributes {
        med: Some(3),
        ..Default::default()
    };
    assert_eq!(set.apply("RM", &view(None, &attrs)), Verdict::Unchanged);
    let result = set.evaluate("RM", &view(None, &attrs)).expect("permitted");
    assert_eq!(result.attributes, attrs);
}

#[test]
fn rfc8212_blocks_only_ebgp_without_policy() {
    assert!(blocked_by_rfc8212(true, true, None));
    assert!(!blocked_by_rfc8212(true, true, Some("RM")));
    assert!(!blocked_by_rfc8212(true, false, None));
    assert!(!blocked_by_rfc8212(false, true, None));
}
