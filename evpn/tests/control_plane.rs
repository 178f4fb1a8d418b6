//! The EVPN control plane, driven through its public API: origination, import, MAC mobility,
//! duplicate detection, RFC 9136 validity and route leaking.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use hna_evpn::control::{
    AutoRouteTarget, DuplicateDetection, EvpnAttributes, EvpnConfig, EvpnControl, IpVrfConfig,
    MacVrfConfig, Output, PmsiTunnel, RemoteRoute, RoutePolicy, VrfNextHop, pmsi_tunnel_type,
};
use hna_evpn::{
    Esi, EthernetTag, EvpnRoute, ExtendedCommunity, InclusiveMulticastRoute, IpPrefixRoute,
    IpPrefixValue, Label, MacAddress, MacIpRoute, RouteDistinguisher, RouteTarget, tunnel_type,
};
use hna_rib::{Change, Entry, EntryKey, VrfId};
use ipnet::IpNet;

const ASN: u32 = 65500;
const LOCAL_VTEP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const L2VNI: u32 = 10000;
const L3VNI: u32 = 100;
const ROUTER_MAC: MacAddress = MacAddress([0x02, 0, 0x0a, 0, 0, 0x02]);
const REMOTE_ROUTER_MAC: MacAddress = MacAddress([0x02, 0, 0x0a, 0, 0, 0x03]);
const HOST_MAC: MacAddress = MacAddress([0x52, 0x54, 0, 0, 0, 0x01]);

/// Permits the prefixes listed per route-map, and nothing else.
struct ListPolicy(BTreeMap<&'static str, Vec<(&'static str, Option<&'static str>)>>);

impl RoutePolicy for ListPolicy {
    fn permits(&self, map: &str, prefix: IpNet, source_vrf: Option<&str>) -> bool {
        self.0.get(map).is_some_and(|entries| {
            entries.iter().any(|(allowed, source)| {
                allowed.parse::<IpNet>().unwrap() == prefix
                    && (source.is_none() || *source == source_vrf)
            })
        })
    }
}

fn mac_vrf(vni: u32, bridge: &str, tenant: &str) -> MacVrfConfig {
    MacVrfConfig {
        vni,
        bridge: bridge.to_string(),
        vxlan_device: format!("vx{vni}"),
        ip_vrf: Some(tenant.to_string()),
        rd: None,
        export_route_targets: Vec::new(),
        import_route_targets: Vec::new(),
        auto_route_target: AutoRouteTarget::AsVni,
    }
}

fn ip_vrf(name: &str, l3vni: u32) -> IpVrfConfig {
    IpVrfConfig {
        name: name.to_string(),
        l3vni,
        router_mac: ROUTER_MAC,
        rd: None,
        export_route_targets: Vec::new(),
        import_route_targets: Vec::new(),
        auto_route_target: AutoRouteTarget::Rfc8365,
        advertise_ipv4_unicast: true,
        advertise_route_map: None,
        redistribute_connected: true,
        import_vrfs: Vec::new(),
        import_route_map: None,
    }
}

fn config(max_moves: u32) -> EvpnConfig {
    EvpnConfig {
        asn: ASN,
        router_id: LOCAL_VTEP,
        vtep: LOCAL_VTEP,
        mac_vrfs: vec![mac_vrf(L2VNI, "br10000", "vrf100")],
        ip_vrfs: vec![ip_vrf("vrf100", L3VNI)],
        duplicate_detection: DuplicateDetection {
            max_moves,
            window: Duration::from_secs(180),
            freeze_time: Some(Duration::from_secs(60)),
        },
    }
}

fn vrf_ids() -> BTreeMap<String, VrfId> {
    BTreeMap::from([
        ("vrf100".to_string(), VrfId(100)),
        ("vrf101".to_string(), VrfId(101)),
    ])
}

fn control(now: Instant) -> EvpnControl {
    let mut control = EvpnControl::new(
        now,
        config(5),
        &vrf_ids(),
        Box::new(hna_evpn::control::PermitAll),
    );
    control.take_outputs();
    control
}

fn l2_target() -> RouteTarget {
    RouteTarget::As2 {
        asn: ASN as u16,
        value: L2VNI,
    }
}

fn l3_target() -> RouteTarget {
    AutoRouteTarget::Rfc8365.derive(ASN, L3VNI)
}

fn remote_vtep(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

/// Builds a remote type-2 route from VTEP 10.0.0.`last`, with RD 10.0.0.`last`:1.
fn remote_mac(
    last: u8,
    mac: MacAddress,
    ip: Option<IpAddr>,
    sequence: u32,
    sticky: bool,
) -> (hna_evpn::EvpnRouteKey, RemoteRoute) {
    let route = EvpnRoute::MacIp(MacIpRoute {
        rd: RouteDistinguisher::Ipv4 {
            address: Ipv4Addr::new(10, 0, 0, last),
            number: 1,
        },
        esi: Esi::ZERO,
        ethernet_tag: EthernetTag(0),
        mac,
        ip,
        label1: Label::from_vni(L2VNI).unwrap(),
        label2: ip.map(|_| Label::from_vni(L3VNI).unwrap()),
    });
    let mut communities = vec![
        ExtendedCommunity::RouteTarget(l2_target()),
        ExtendedCommunity::Encapsulation {
            tunnel_type: tunnel_type::VXLAN,
        },
    ];
    if ip.is_some() {
        communities.push(ExtendedCommunity::RouteTarget(l3_target()));
        communities.push(ExtendedCommunity::RouterMac(REMOTE_ROUTER_MAC));
    }
    if sequence > 0 || sticky {
        communities.push(ExtendedCommunity::MacMobility { sticky, sequence });
    }
    let attributes = EvpnAttributes {
        next_hop: remote_vtep(last),
        extended_communities: communities,
        pmsi_tunnel: None,
    };
    (route.key(), RemoteRoute { route, attributes })
}

fn remote_type5(
    last: u8,
    prefix: &str,
    router_mac: Option<MacAddress>,
) -> (hna_evpn::EvpnRouteKey, RemoteRoute) {
    let IpNet::V4(prefix) = prefix.parse::<IpNet>().unwrap() else {
        panic!("IPv4 prefix expected")
    };
    let route = EvpnRoute::IpPrefix(IpPrefixRoute {
        rd: RouteDistinguisher::As2 {
            asn: ASN as u16,
            number: 100 + last as u32,
        },
        esi: Esi::ZERO,
        ethernet_tag: EthernetTag(0),
        value: IpPrefixValue::V4 {
            prefix,
            gateway: Ipv4Addr::UNSPECIFIED,
        },
        label: Label::from_vni(L3VNI).unwrap(),
    });
    let mut communities = vec![
        ExtendedCommunity::RouteTarget(l3_target()),
        ExtendedCommunity::Encapsulation {
            tunnel_type: tunnel_type::VXLAN,
        },
    ];
    communities.extend(router_mac.map(ExtendedCommunity::RouterMac));
    let attributes = EvpnAttributes {
        next_hop: remote_vtep(last),
        extended_communities: communities,
        pmsi_tunnel: None,
    };
    (route.key(), RemoteRoute { route, attributes })
}

fn advertised(outputs: &[Output]) -> Vec<&hna_evpn::control::LocalRoute> {
    outputs
        .iter()
        .filter_map(|output| {
            if let Output::Advertise(local) = output {
                Some(local)
            } else {
                None
            }
        })
        .collect()
}

fn withdrawn(outputs: &[Output]) -> Vec<&EvpnRoute> {
    outputs
        .iter()
        .filter_map(|output| {
            if let Output::Withdraw(route) = output {
                Some(route)
            } else {
                None
            }
        })
        .collect()
}

fn installs_mac(outputs: &[Output], vtep: IpAddr) -> bool {
    outputs.iter().any(|output| matches!(output, Output::Plane(Change::Install(Entry::Mac(entry))) if entry.vtep == vtep))
}

fn removes_mac(outputs: &[Output]) -> bool {
    outputs
        .iter()
        .any(|output| matches!(output, Output::Plane(Change::Remove(EntryKey::Mac { .. }))))
}

fn mobility(local: &hna_evpn::control::LocalRoute) -> Option<(bool, u32)> {
    local
        .attributes
        .extended_communities
        .iter()
        .find_map(|c| match c {
            ExtendedCommunity::MacMobility { sticky, sequence } => Some((*sticky, *sequence)),
            _ => None,
        })
}

#[test]
fn start_originates_type3_with_ingress_replication() {
    let now = Instant::now();
    let mut control = EvpnControl::new(
        now,
        config(5),
        &vrf_ids(),
        Box::new(hna_evpn::control::PermitAll),
    );
    let outputs = control.take_outputs();
    let routes = advertised(&outputs);
    assert_eq!(routes.len(), 1, "{outputs:?}");
    let EvpnRoute::InclusiveMulticast(route) = &routes[0].route else {
        panic!("type 3 expected")
    };
    assert_eq!(route.originating_ip, IpAddr::V4(LOCAL_VTEP));
    assert_eq!(
        route.rd,
        RouteDistinguisher::Ipv4 {
            address: LOCAL_VTEP,
            number: 1
        }
    );
    let attributes = &routes[0].attributes;
    assert_eq!(
        attributes.pmsi_tunnel,
        Some(PmsiTunnel {
            tunnel_type: pmsi_tunnel_type::INGRESS_REPLICATION,
            label: Label::from_vni(L2VNI).unwrap(),
            endpoint: IpAddr::V4(LOCAL_VTEP)
        })
    );
    assert!(
        attributes
            .extended_communities
            .contains(&ExtendedCommunity::RouteTarget(l2_target()))
    );
    assert!(
        attributes
            .extended_communities
            .contains(&ExtendedCommunity::Encapsulation {
                tunnel_type: tunnel_type::VXLAN
            })
    );
}

#[test]
fn remote_type3_builds_flood_list_and_withdrawal_removes_it() {
    let now = Instant::now();
    let mut control = control(now);
    let route = EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
        rd: RouteDistinguisher::Ipv4 {
            address: Ipv4Addr::new(10, 0, 0, 3),
            number: 1,
        },
        ethernet_tag: EthernetTag(0),
        originating_ip: remote_vtep(3),
    });
    let attributes = EvpnAttributes {
        next_hop: remote_vtep(3),
        extended_communities: vec![ExtendedCommunity::RouteTarget(RouteTarget::As2 {
            asn: ASN as u16,
            value: L2VNI,
        })],
        pmsi_tunnel: Some(PmsiTunnel {
            tunnel_type: 6,
            label: Label::from_vni(L2VNI).unwrap(),
            endpoint: remote_vtep(3),
        }),
    };
    control.remote_route(
        now,
        route.key(),
        Some(RemoteRoute {
            route: route.clone(),
            attributes: attributes.clone(),
        }),
    );
    let outputs = control.take_outputs();
    assert!(outputs.iter().any(|o| matches!(o, Output::Plane(Change::Install(Entry::Flood(f))) if f.vtep == remote_vtep(3) && f.vni.get() == L2VNI)), "{outputs:?}");

    control.remote_route(now, route.key(), None);
    let outputs = control.take_outputs();
    assert!(outputs.iter().any(|o| matches!(o, Output::Plane(Change::Remove(EntryKey::Flood { vtep, .. })) if *vtep == remote_vtep(3))), "{outputs:?}");

    // A tunnel type other than ingress replication cannot be served by a VXLAN VTEP.
    let mut other = attributes;
    other.pmsi_tunnel.as_mut().unwrap().tunnel_type = 3;
    control.remote_route(
        now,
        route.key(),
        Some(RemoteRoute {
            route,
            attributes: other,
        }),
    );
    assert!(control.take_outputs().is_empty());
    assert_eq!(control.counters().unsupported_tunnel, 1);
}

#[test]
fn local_mac_and_neighbor_originate_type2_for_symmetric_irb() {
    let now = Instant::now();
    let mut control = control(now);
    control.local_mac(now, L2VNI, HOST_MAC, true);
    let outputs = control.take_outputs();
    let routes = advertised(&outputs);
    assert_eq!(routes.len(), 1);
    assert!(
        mobility(routes[0]).is_none(),
        "a first advertisement carries no mobility community"
    );

    let ip: IpAddr = "10.60.0.1".parse().unwrap();
    control.local_neighbor(L2VNI, ip, Some(HOST_MAC), true);
    let outputs = control.take_outputs();
    let routes = advertised(&outputs);
    assert_eq!(routes.len(), 1, "{outputs:?}");
    let EvpnRoute::MacIp(route) = &routes[0].route else {
        panic!("type 2 expected")
    };
    assert_eq!(route.ip, Some(ip));
    assert_eq!(route.label1, Label::from_vni(L2VNI).unwrap());
    assert_eq!(route.label2, Label::from_vni(L3VNI));
    let communities = &routes[0].attributes.extended_communities;
    assert!(communities.contains(&ExtendedCommunity::RouteTarget(l2_target())));
    assert!(communities.contains(&ExtendedCommunity::RouteTarget(l3_target())));
    assert!(communities.contains(&ExtendedCommunity::RouterMac(ROUTER_MAC)));

    control.local_mac(now, L2VNI, HOST_MAC, false);
    let outputs = control.take_outputs();
    assert_eq!(
        withdrawn(&outputs).len(),
        2,
        "MAC and MAC/IP routes withdrawn: {outputs:?}"
    );
}

#[test]
fn remote_mac_ip_installs_mac_neighbor_and_host_route() {
    let now = Instant::now();
    let mut control = control(now);
    let ip: IpAddr = "10.60.0.9".parse().unwrap();
    let (key, route) = remote_mac(3, HOST_MAC, Some(ip), 0, false);
    control.remote_route(now, key.clone(), Some(route));
    let outputs = control.take_outputs();
    assert!(installs_mac(&outputs, remote_vtep(3)), "{outputs:?}");
    assert!(outputs.iter().any(|o| matches!(o, Output::Plane(Change::Install(Entry::Neighbor(n))) if n.ip == ip && n.interface == "br10000" && n.vrf == VrfId(100))), "{outputs:?}");
    let host_route = outputs.iter().find_map(|o| match o {
        Output::VrfRoute {
            vrf,
            prefix,
            next_hops,
        } if vrf == "vrf100" && *prefix == IpNet::from(ip) => Some(next_hops.clone()),
        _ => None,
    });
    assert_eq!(
        host_route,
        Some(vec![VrfNextHop::Vxlan {
            vtep: remote_vtep(3),
            vni: L3VNI,
            router_mac: REMOTE_ROUTER_MAC
        }])
    );

    control.remote_route(now, key, None);
    let outputs = control.take_outputs();
    assert!(removes_mac(&outputs));
    assert!(
        outputs
            .iter()
            .any(|o| matches!(o, Output::Plane(Change::Remove(EntryKey::Neighbor { .. }))))
    );
    assert!(
        outputs
            .iter()
            .any(|o| matches!(o, Output::VrfRoute { next_hops, .. } if next_hops.is_empty()))
    );
}

/// One MAC mobility case: the starting state, the event, and what must follow.
struct MobilityCase {
    name: &'static str,
    /// Remote route present before the event: (VTEP last octet, sequence, sticky).
    remote_before: Option<(u8, u32, bool)>,
    /// Learn the MAC locally before the event.
    local_before: bool,
    /// The event: a local learn, or a remote route (VTEP, sequence, sticky).
    event: MobilityEvent,
    /// After the event: the sequence we advertise (`None`: nothing of ours advertised).
    advertised_sequence: Option<u32>,
    /// After the event: the remote VTEP installed for the MAC (`None`: the MAC is local or absent).
    installed_vtep: Option<u8>,
}

enum MobilityEvent {
    LocalLearn,
    Remote(u8, u32, bool),
}

#[test]
fn mac_mobility_follows_rfc7432_section_15() {
    let cases = [
        MobilityCase {
            name: "remote then local learn: local wins with sequence + 1",
            remote_before: Some((3, 0, false)),
            local_before: false,
            event: MobilityEvent::LocalLearn,
            advertised_sequence: Some(1),
            installed_vtep: None,
        },
        MobilityCase {
            name: "remote seq 4 then local learn: advertise 5",
            remote_before: Some((3, 4, false)),
            local_before: false,
            event: MobilityEvent::LocalLearn,
            advertised_sequence: Some(5),
            installed_vtep: None,
        },
        MobilityCase {
            name: "local then remote with higher sequence: moved away",
            remote_before: None,
            local_before: true,
            event: MobilityEvent::Remote(3, 1, false),
            advertised_sequence: None,
            installed_vtep: Some(3),
        },
        MobilityCase {
            name: "local then remote with equal sequence from lower VTEP: remote wins",
            remote_before: None,
            local_before: true,
            event: MobilityEvent::Remote(1, 0, false),
            advertised_sequence: None,
            installed_vtep: Some(1),
        },
        MobilityCase {
            name: "local then remote with equal sequence from higher VTEP: local stays",
            remote_before: None,
            local_before: true,
            event: MobilityEvent::Remote(3, 0, false),
            advertised_sequence: Some(0),
            installed_vtep: None,
        },
        MobilityCase {
            name: "local seq 1 then remote seq 0: local stays",
            remote_before: Some((3, 0, false)),
            local_before: true,
            event: MobilityEvent::Remote(4, 0, false),
            advertised_sequence: Some(1),
            installed_vtep: None,
        },
        MobilityCase {
            name: "remote sticky then local learn: not advertised",
            remote_before: Some((3, 0, true)),
            local_before: false,
            event: MobilityEvent::LocalLearn,
            advertised_sequence: None,
            installed_vtep: Some(3),
        },
        MobilityCase {
            name: "local then remote sticky: remote wins",
            remote_before: None,
            local_before: true,
            event: MobilityEvent::Remote(3, 0, true),
            advertised_sequence: None,
            installed_vtep: Some(3),
        },
    ];

    for case in cases {
        let now = Instant::now();
        let mut control = control(now);
        if let Some((vtep, sequence, sticky)) = case.remote_before {
            let (key, route) = remote_mac(vtep, HOST_MAC, None, sequence, sticky);
            control.remote_route(now, key, Some(route));
        }
        if case.local_before {
            control.local_mac(now, L2VNI, HOST_MAC, true);
        }
        match case.event {
            MobilityEvent::LocalLearn => control.local_mac(now, L2VNI, HOST_MAC, true),
            MobilityEvent::Remote(vtep, sequence, sticky) => {
                let (key, route) = remote_mac(vtep, HOST_MAC, None, sequence, sticky);
                control.remote_route(now, key, Some(route));
            }
        }
        control.take_outputs();

        let macs = control.macs(Some(L2VNI));
        let local = macs.iter().find(|m| m.kind == "local");
        let remote = macs.iter().find(|m| m.kind == "remote");
        assert_eq!(
            local.map(|m| m.sequence),
            case.advertised_sequence,
            "{}: {macs:?}",
            case.name
        );
        assert_eq!(
            remote.and_then(|m| m.vtep.clone()),
            case.installed_vtep
                .map(|last| remote_vtep(last).to_string()),
            "{}: {macs:?}",
            case.name
        );
    }
}

#[test]
fn advertised_sequence_is_carried_in_mobility_community() {
    let now = Instant::now();
    let mut control = control(now);
    let (key, route) = remote_mac(3, HOST_MAC, None, 6, false);
    control.remote_route(now, key, Some(route));
    control.take_outputs();
    control.local_mac(now, L2VNI, HOST_MAC, true);
    let outputs = control.take_outputs();
    assert_eq!(mobility(advertised(&outputs)[0]), Some((false, 7)));
    assert!(
        removes_mac(&outputs),
        "the remote entry gives way to the local MAC: {outputs:?}"
    );
}

#[test]
fn duplicate_mac_is_frozen_then_released() {
    let start = Instant::now();
    let mut control = EvpnControl::new(
        start,
        config(3),
        &vrf_ids(),
        Box::new(hna_evpn::control::PermitAll),
    );
    control.take_outputs();

    // The MAC bounces between this VTEP and 10.0.0.3: each bounce is one move.
    let mut sequence = 0;
    let mut at = start;
    for _ in 0..3 {
        at += Duration::from_secs(1);
        sequence += 1;
        let (key, route) = remote_mac(3, HOST_MAC, None, sequence, false);
        control.remote_route(at, key, Some(route));
        at += Duration::from_secs(1);
        control.local_mac(at, L2VNI, HOST_MAC, true);
        sequence += 1;
    }
    assert_eq!(control.counters().duplicates_frozen, 1);
    let frozen: Vec<_> = control
        .macs(Some(L2VNI))
        .into_iter()
        .filter(|m| m.frozen)
        .collect();
    assert!(!frozen.is_empty(), "MAC should be frozen");

    // While frozen, a further move changes nothing.
    control.take_outputs();
    let (key, route) = remote_mac(3, HOST_MAC, None, sequence + 5, false);
    control.remote_route(at, key, Some(route));
    assert!(
        control.take_outputs().is_empty(),
        "a frozen MAC must not be re-advertised or moved"
    );

    // After the freeze time the MAC is resolved again: the remote route with the highest
    // sequence wins.
    control.poll(at + Duration::from_secs(61));
    control.take_outputs();
    let macs = control.macs(Some(L2VNI));
    assert!(macs.iter().all(|m| !m.frozen), "{macs:?}");
    assert!(macs.iter().all(|m| m.kind != "local"), "{macs:?}");
    let remote = macs
        .iter()
        .find(|m| m.kind == "remote")
        .expect("remote MAC");
    assert_eq!(remote.vtep.as_deref(), Some("10.0.0.3"));
    assert_eq!(remote.sequence, sequence + 5);
}

#[test]
fn type5_with_invalid_router_mac_is_ignored() {
    let now = Instant::now();
    let mut control = control(now);
    let cases = [
        ("no router MAC", None),
        ("zero router MAC", Some(MacAddress::ZERO)),
        (
            "multicast router MAC",
            Some(MacAddress([0x01, 0, 0x5e, 0, 0, 1])),
        ),
    ];
    for (index, (name, router_mac)) in cases.iter().enumerate() {
        let (key, route) = remote_type5(3, "10.70.0.0/24", *router_mac);
        control.remote_route(now, key, Some(route));
        let outputs = control.take_outputs();
        assert!(
            !outputs.iter().any(|o| matches!(o, Output::VrfRoute { .. })),
            "{name}: {outputs:?}"
        );
        assert_eq!(control.counters().invalid_type5, index as u64 + 1, "{name}");
    }

    let (key, route) = remote_type5(3, "10.70.0.0/24", Some(REMOTE_ROUTER_MAC));
    control.remote_route(now, key, Some(route));
    let outputs = control.take_outputs();
    assert!(outputs.contains(&Output::VrfRoute {
        vrf: "vrf100".into(),
        prefix: "10.70.0.0/24".parse().unwrap(),
        next_hops: vec![VrfNextHop::Vxlan {
            vtep: remote_vtep(3),
            vni: L3VNI,
            router_mac: REMOTE_ROUTER_MAC
        }],
    }));
}

#[test]
fn type5_with_prefix_length_over_32_is_rejected_by_the_decoder() {
    // RFC 9136 section 3.1: the IPv4 prefix length is at most 32; such an NLRI is never handed
    // to the control plane.
    let mut value = vec![0u8; 34];
    value[8 + 10 + 4] = 33;
    assert!(EvpnRoute::decode_value(5, &value).is_err());
}

#[test]
fn leaked_routes_follow_route_map_and_are_not_leaked_again() {
    let now = Instant::now();
    let mut cfg = config(5);
    let mut green = ip_vrf("vrf100", L3VNI);
    green.import_vrfs = vec!["vrf101".into()];
    green.import_route_map = Some("rm100-import".into());
    let mut red = ip_vrf("vrf101", 101);
    red.import_vrfs = vec!["vrf100".into()];
    red.import_route_map = Some("rm101-import".into());
    cfg.ip_vrfs = vec![green, red];
    let policy = ListPolicy(BTreeMap::from([
        ("rm100-import", vec![("10.62.0.0/16", Some("vrf101"))]),
        ("rm101-import", vec![("10.60.0.0/16", Some("vrf100"))]),
    ]));
    let mut control = EvpnControl::new(now, cfg, &vrf_ids(), Box::new(policy));
    control.take_outputs();

    control.vrf_connected("vrf100", "10.60.0.0/16".parse().unwrap(), true);
    control.vrf_connected("vrf100", "10.61.0.0/16".parse().unwrap(), true);
    control.vrf_connected("vrf101", "10.61.0.0/16".parse().unwrap(), true);
    control.vrf_connected("vrf101", "10.62.0.0/16".parse().unwrap(), true);
    let outputs = control.take_outputs();
    let mut leaks: Vec<(String, String, Vec<VrfNextHop>)> = outputs
        .iter()
        .filter_map(|o| match o {
            Output::VrfRoute {
                vrf,
                prefix,
                next_hops,
            } => Some((vrf.clone(), prefix.to_string(), next_hops.clone())),
            _ => None,
        })
        .collect();
    leaks.sort();
    assert_eq!(
        leaks,
        vec![
            (
                "vrf100".to_string(),
                "10.62.0.0/16".to_string(),
                vec![VrfNextHop::Vrf("vrf101".into())]
            ),
            (
                "vrf101".to_string(),
                "10.60.0.0/16".to_string(),
                vec![VrfNextHop::Vrf("vrf100".into())]
            ),
        ],
        "only the permitted subnets leak, each once"
    );
}

#[test]
fn type5_origination_follows_advertisement_route_map() {
    let now = Instant::now();
    let mut cfg = config(5);
    cfg.ip_vrfs[0].advertise_route_map = Some("rm100-export".into());
    let policy = ListPolicy(BTreeMap::from([(
        "rm100-export",
        vec![("10.60.0.0/16", None)],
    )]));
    let mut control = EvpnControl::new(now, cfg, &vrf_ids(), Box::new(policy));
    control.take_outputs();
    control.vrf_connected("vrf100", "10.60.0.0/16".parse().unwrap(), true);
    control.vrf_connected("vrf100", "10.61.0.0/16".parse().unwrap(), true);
    let outputs = control.take_outputs();
    let routes = advertised(&outputs);
    assert_eq!(routes.len(), 1, "{outputs:?}");
    let EvpnRoute::IpPrefix(route) = &routes[0].route else {
        panic!("type 5 expected")
    };
    assert_eq!(route.value.prefix().to_string(), "10.60.0.0/16");
    assert_eq!(route.label, Label::from_vni(L3VNI).unwrap());
    assert!(
        routes[0]
            .attributes
            .extended_communities
            .contains(&ExtendedCommunity::RouterMac(ROUTER_MAC))
    );
    assert!(
        routes[0]
            .attributes
            .extended_communities
            .contains(&ExtendedCommunity::RouteTarget(l3_target()))
    );

    control.vrf_connected("vrf100", "10.60.0.0/16".parse().unwrap(), false);
    assert_eq!(withdrawn(&control.take_outputs()).len(), 1);
}

#[test]
fn routes_from_our_own_vtep_are_ignored() {
    let now = Instant::now();
    let mut control = control(now);
    let (key, mut route) = remote_mac(3, HOST_MAC, None, 0, false);
    route.attributes.next_hop = IpAddr::V4(LOCAL_VTEP);
    control.remote_route(now, key, Some(route));
    assert!(control.take_outputs().is_empty());
}
