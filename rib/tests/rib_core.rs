//! Route selection, ECMP, recursive resolution, next-hop tracking and redistribution of the RIB,
//! checked through its outputs and through an in-memory plane fed with them.

use std::net::IpAddr;

use hna_rib::{
    Change, ClientId, Entry, EntryKey, InMemoryPlane, NextHop, Notification, Reachability, Rib,
    RibError, Route, RouteEntry, RouteSource, Southbound, Vni, VrfId, VxlanEncap,
};
use ipnet::IpNet;

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn apply(plane: &mut InMemoryPlane, output: &hna_rib::RibOutput) {
    let results = plane.apply(&output.southbound);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

fn installed(plane: &InMemoryPlane, vrf: VrfId, prefix: &str) -> Option<Vec<NextHop>> {
    plane
        .route(vrf, net(prefix))
        .map(|route| route.next_hops.clone())
}

/// A RIB with the underlay of a leaf: two uplinks with connected subnets and OSPF routes to the
/// loopbacks of two remote VTEPs, 10.0.0.2 over both uplinks (ECMP) and 10.0.0.3 over eth1.
fn underlay(rib: &mut Rib, plane: &mut InMemoryPlane) {
    let routes = [
        Route::new(
            net("10.0.11.0/24"),
            RouteSource::Connected,
            vec![NextHop::connected("eth0")],
        ),
        Route::new(
            net("10.0.21.0/24"),
            RouteSource::Connected,
            vec![NextHop::connected("eth1")],
        ),
        Route::new(
            net("10.0.0.2/32"),
            RouteSource::Ospf,
            vec![
                NextHop::via(ip("10.0.11.1"), "eth0"),
                NextHop::via(ip("10.0.21.1"), "eth1"),
            ],
        )
        .with_metric(20),
        Route::new(
            net("10.0.0.3/32"),
            RouteSource::Ospf,
            vec![NextHop::via(ip("10.0.21.1"), "eth1")],
        )
        .with_metric(30),
    ];
    for route in routes {
        let output = rib.update(VrfId::DEFAULT, route).unwrap();
        apply(plane, &output);
    }
}

#[test]
fn selection_prefers_lower_distance() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);
    let ospf = Route::new(
        net("192.0.2.0/24"),
        RouteSource::Ospf,
        vec![NextHop::via(ip("10.0.11.1"), "eth0")],
    );
    let fixed = Route::new(
        net("192.0.2.0/24"),
        RouteSource::Static,
        vec![NextHop::via(ip("10.0.21.1"), "eth1")],
    );

    apply(
        &mut plane,
        &rib.update(VrfId::DEFAULT, ospf.clone()).unwrap(),
    );
    assert_eq!(
        installed(&plane, VrfId::DEFAULT, "192.0.2.0/24"),
        Some(ospf.next_hops.clone())
    );

    apply(
        &mut plane,
        &rib.update(VrfId::DEFAULT, fixed.clone()).unwrap(),
    );
    assert_eq!(
        rib.selected(VrfId::DEFAULT, net("192.0.2.0/24"))
            .unwrap()
            .source,
        RouteSource::Static
    );
    assert_eq!(
        installed(&plane, VrfId::DEFAULT, "192.0.2.0/24"),
        Some(fixed.next_hops.clone())
    );

    apply(
        &mut plane,
        &rib.withdraw(VrfId::DEFAULT, net("192.0.2.0/24"), RouteSource::Static)
            .unwrap(),
    );
    assert_eq!(
        installed(&plane, VrfId::DEFAULT, "192.0.2.0/24"),
        Some(ospf.next_hops)
    );

    apply(
        &mut plane,
        &rib.withdraw(VrfId::DEFAULT, net("192.0.2.0/24"), RouteSource::Ospf)
            .unwrap(),
    );
    assert_eq!(installed(&plane, VrfId::DEFAULT, "192.0.2.0/24"), None);
    assert!(rib.selected(VrfId::DEFAULT, net("192.0.2.0/24")).is_none());
}

#[test]
fn selection_uses_metric_at_equal_distance() {
    let mut rib = Rib::new();
    let ebgp = Route::new(
        net("198.51.100.0/24"),
        RouteSource::Ebgp,
        vec![NextHop::via(ip("10.0.11.1"), "eth0")],
    )
    .with_metric(50);
    let evpn = Route::new(
        net("198.51.100.0/24"),
        RouteSource::Evpn,
        vec![NextHop::via(ip("10.0.21.1"), "eth1")],
    )
    .with_metric(10);

    rib.update(VrfId::DEFAULT, ebgp).unwrap();
    rib.update(VrfId::DEFAULT, evpn).unwrap();

    let selected = rib
        .selected(VrfId::DEFAULT, net("198.51.100.0/24"))
        .unwrap();
    assert_eq!(selected.distance, 20);
    assert_eq!(selected.source, RouteSource::Evpn);
}

#[test]
fn connected_routes_are_selected_but_not_installed() {
    let mut rib = Rib::new();
    let output = rib
        .update(
            VrfId::DEFAULT,
            Route::new(
                net("10.0.11.0/24"),
                RouteSource::Connected,
                vec![NextHop::connected("eth0")],
            ),
        )
        .unwrap();

    assert!(output.southbound.is_empty(), "{:?}", output.southbound);
    assert_eq!(
        rib.selected(VrfId::DEFAULT, net("10.0.11.0/24"))
            .unwrap()
            .source,
        RouteSource::Connected
    );

    rib.set_install_connected(true);
    let output = rib
        .update(
            VrfId::DEFAULT,
            Route::new(
                net("10.0.21.0/24"),
                RouteSource::Connected,
                vec![NextHop::connected("eth1")],
            ),
        )
        .unwrap();
    assert_eq!(output.southbound.len(), 1);
}

#[test]
fn ecmp_route_installs_all_next_hops() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);

    let next_hops = installed(&plane, VrfId::DEFAULT, "10.0.0.2/32").unwrap();

    assert_eq!(
        next_hops,
        vec![
            NextHop::via(ip("10.0.11.1"), "eth0"),
            NextHop::via(ip("10.0.21.1"), "eth1")
        ]
    );
}

#[test]
fn recursive_next_hop_resolves_through_ecmp_igp_route() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);
    let bgp = Route::new(
        net("203.0.113.0/24"),
        RouteSource::Ibgp,
        vec![NextHop::recursive(ip("10.0.0.2"))],
    );

    apply(&mut plane, &rib.update(VrfId::DEFAULT, bgp).unwrap());

    assert_eq!(
        installed(&plane, VrfId::DEFAULT, "203.0.113.0/24"),
        Some(vec![
            NextHop::via(ip("10.0.11.1"), "eth0"),
            NextHop::via(ip("10.0.21.1"), "eth1")
        ])
    );
}

#[test]
fn recursive_next_hop_on_connected_subnet_uses_it_as_gateway() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);
    let bgp = Route::new(
        net("203.0.113.0/24"),
        RouteSource::Ebgp,
        vec![NextHop::recursive(ip("10.0.11.1"))],
    );

    apply(&mut plane, &rib.update(VrfId::DEFAULT, bgp).unwrap());

    assert_eq!(
        installed(&plane, VrfId::DEFAULT, "203.0.113.0/24"),
        Some(vec![NextHop::via(ip("10.0.11.1"), "eth0")])
    );
}

#[test]
fn recursive_next_hops_merge_into_ecmp_set() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);
    let bgp = Route::new(
        net("203.0.113.0/24"),
        RouteSource::Ibgp,
        vec![
            NextHop::recursive(ip("10.0.0.2")),
            NextHop::recursive(ip("10.0.0.3")),
            NextHop::recursive(ip("10.9.9.9")),
        ],
    );

    apply(&mut plane, &rib.update(VrfId::DEFAULT, bgp).unwrap());

    // 10.0.0.3 adds nothing new (eth1 is already there); 10.9.9.9 is unreachable and dropped.
    assert_eq!(
        installed(&plane, VrfId::DEFAULT, "203.0.113.0/24"),
        Some(vec![
            NextHop::via(ip("10.0.11.1"), "eth0"),
            NextHop::via(ip("10.0.21.1"), "eth1")
        ])
    );
}

#[test]
fn recursive_resolution_ignores_bgp_and_default_routes() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);
    let default = Route::new(
        net("0.0.0.0/0"),
        RouteSource::Static,
        vec![NextHop::via(ip("10.0.11.1"), "eth0")],
    );
    let covering_bgp = Route::new(
        net("172.16.0.0/16"),
        RouteSource::Ebgp,
        vec![NextHop::recursive(ip("10.0.0.2"))],
    );
    let dependent = Route::new(
        net("203.0.113.0/24"),
        RouteSource::Ibgp,
        vec![NextHop::recursive(ip("172.16.0.1"))],
    );

    apply(&mut plane, &rib.update(VrfId::DEFAULT, default).unwrap());
    apply(
        &mut plane,
        &rib.update(VrfId::DEFAULT, covering_bgp).unwrap(),
    );
    apply(&mut plane, &rib.update(VrfId::DEFAULT, dependent).unwrap());

    assert!(installed(&plane, VrfId::DEFAULT, "172.16.0.0/16").is_some());
    assert_eq!(installed(&plane, VrfId::DEFAULT, "203.0.113.0/24"), None);
    assert!(!rib.reachability(VrfId::DEFAULT, ip("172.16.0.1")).reachable);
}

#[test]
fn unreachable_next_hop_withdraws_dependent_routes_and_restores_them() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);
    for prefix in ["203.0.113.0/24", "198.51.100.0/24"] {
        let route = Route::new(
            net(prefix),
            RouteSource::Ibgp,
            vec![NextHop::recursive(ip("10.0.0.3"))],
        );
        apply(&mut plane, &rib.update(VrfId::DEFAULT, route).unwrap());
    }
    assert!(installed(&plane, VrfId::DEFAULT, "203.0.113.0/24").is_some());

    let output = rib
        .withdraw(VrfId::DEFAULT, net("10.0.0.3/32"), RouteSource::Ospf)
        .unwrap();
    apply(&mut plane, &output);

    for prefix in ["203.0.113.0/24", "198.51.100.0/24"] {
        assert_eq!(
            installed(&plane, VrfId::DEFAULT, prefix),
            None,
            "{prefix} still installed"
        );
        assert!(output.southbound.contains(&Change::Remove(EntryKey::Route {
            vrf: VrfId::DEFAULT,
            prefix: net(prefix)
        })));
    }

    let back = Route::new(
        net("10.0.0.3/32"),
        RouteSource::Ospf,
        vec![NextHop::via(ip("10.0.11.1"), "eth0")],
    );
    apply(&mut plane, &rib.update(VrfId::DEFAULT, back).unwrap());

    for prefix in ["203.0.113.0/24", "198.51.100.0/24"] {
        assert_eq!(
            installed(&plane, VrfId::DEFAULT, prefix),
            Some(vec![NextHop::via(ip("10.0.11.1"), "eth0")])
        );
    }
}

#[test]
fn next_hop_falls_back_to_less_specific_igp_route() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);
    let aggregate = Route::new(
        net("10.0.0.0/24"),
        RouteSource::Ospf,
        vec![NextHop::via(ip("10.0.11.1"), "eth0")],
    )
    .with_metric(100);
    apply(&mut plane, &rib.update(VrfId::DEFAULT, aggregate).unwrap());
    let bgp = Route::new(
        net("203.0.113.0/24"),
        RouteSource::Ibgp,
        vec![NextHop::recursive(ip("10.0.0.3"))],
    );
    apply(&mut plane, &rib.update(VrfId::DEFAULT, bgp).unwrap());
    assert_eq!(
        installed(&plane, VrfId::DEFAULT, "203.0.113.0/24"),
        Some(vec![NextHop::via(ip("10.0.21.1"), "eth1")])
    );

    apply(
        &mut plane,
        &rib.withdraw(VrfId::DEFAULT, net("10.0.0.3/32"), RouteSource::Ospf)
            .unwrap(),
    );

    assert_eq!(
        installed(&plane, VrfId::DEFAULT, "203.0.113.0/24"),
        Some(vec![NextHop::via(ip("10.0.11.1"), "eth0")])
    );
    assert_eq!(rib.reachability(VrfId::DEFAULT, ip("10.0.0.3")).metric, 100);
}

#[test]
fn tracked_next_hop_reports_reachability_and_cost_changes() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);
    let bgp = ClientId(1);

    let output = rib
        .track_next_hop(bgp, VrfId::DEFAULT, ip("10.0.0.3"))
        .unwrap();
    let expected = Reachability {
        reachable: true,
        metric: 30,
        prefix: Some(net("10.0.0.3/32")),
        next_hops: vec![NextHop::via(ip("10.0.21.1"), "eth1")],
    };
    assert_eq!(
        output.notifications,
        vec![Notification::NextHop {
            client: bgp,
            vrf: VrfId::DEFAULT,
            address: ip("10.0.0.3"),
            reachability: expected
        }]
    );

    let cheaper = Route::new(
        net("10.0.0.3/32"),
        RouteSource::Ospf,
        vec![NextHop::via(ip("10.0.21.1"), "eth1")],
    )
    .with_metric(10);
    let output = rib.update(VrfId::DEFAULT, cheaper).unwrap();
    let [Notification::NextHop { reachability, .. }] = output.notifications.as_slice() else {
        panic!(
            "expected one next-hop notification, got {:?}",
            output.notifications
        );
    };
    assert!(reachability.reachable);
    assert_eq!(reachability.metric, 10);

    let output = rib
        .withdraw(VrfId::DEFAULT, net("10.0.0.3/32"), RouteSource::Ospf)
        .unwrap();
    let [Notification::NextHop { reachability, .. }] = output.notifications.as_slice() else {
        panic!(
            "expected one next-hop notification, got {:?}",
            output.notifications
        );
    };
    assert!(!reachability.reachable);

    // A change elsewhere says nothing to the client.
    let unrelated = Route::new(
        net("192.0.2.0/24"),
        RouteSource::Ospf,
        vec![NextHop::via(ip("10.0.11.1"), "eth0")],
    );
    assert!(
        rib.update(VrfId::DEFAULT, unrelated)
            .unwrap()
            .notifications
            .is_empty()
    );

    rib.untrack_next_hop(bgp, VrfId::DEFAULT, ip("10.0.0.3"));
    let back = Route::new(
        net("10.0.0.3/32"),
        RouteSource::Ospf,
        vec![NextHop::via(ip("10.0.21.1"), "eth1")],
    );
    assert!(
        rib.update(VrfId::DEFAULT, back)
            .unwrap()
            .notifications
            .is_empty()
    );
}

#[test]
fn evpn_route_needs_reachable_vtep_in_default_vrf() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);
    let green = VrfId(100);
    rib.add_vrf("vrf100", green).unwrap();
    let encap = |vtep: &str| VxlanEncap {
        vtep: ip(vtep),
        vni: Vni::new(100).unwrap(),
        router_mac: "02:00:00:00:00:02".parse().unwrap(),
    };
    let host = Route::new(
        net("10.61.0.3/32"),
        RouteSource::Evpn,
        vec![
            NextHop::vxlan(encap("10.0.0.2")),
            NextHop::vxlan(encap("10.0.0.3")),
        ],
    );

    apply(&mut plane, &rib.update(green, host).unwrap());
    assert_eq!(
        installed(&plane, green, "10.61.0.3/32"),
        Some(vec![
            NextHop::vxlan(encap("10.0.0.2")),
            NextHop::vxlan(encap("10.0.0.3"))
        ])
    );

    apply(
        &mut plane,
        &rib.withdraw(VrfId::DEFAULT, net("10.0.0.2/32"), RouteSource::Ospf)
            .unwrap(),
    );
    assert_eq!(
        installed(&plane, green, "10.61.0.3/32"),
        Some(vec![NextHop::vxlan(encap("10.0.0.3"))])
    );

    apply(
        &mut plane,
        &rib.withdraw(VrfId::DEFAULT, net("10.0.0.3/32"), RouteSource::Ospf)
            .unwrap(),
    );
    assert_eq!(installed(&plane, green, "10.61.0.3/32"), None);
}

#[test]
fn vrfs_keep_same_prefix_apart() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    rib.add_vrf("vrf100", VrfId(100)).unwrap();
    rib.add_vrf("vrf101", VrfId(101)).unwrap();
    let green = Route::new(
        net("10.61.0.0/16"),
        RouteSource::Static,
        vec![NextHop::connected("br10001")],
    );
    let red = Route::new(
        net("10.61.0.0/16"),
        RouteSource::Static,
        vec![NextHop::connected("br10101")],
    );

    apply(&mut plane, &rib.update(VrfId(100), green.clone()).unwrap());
    apply(&mut plane, &rib.update(VrfId(101), red.clone()).unwrap());

    assert_eq!(
        installed(&plane, VrfId(100), "10.61.0.0/16"),
        Some(green.next_hops)
    );
    assert_eq!(
        installed(&plane, VrfId(101), "10.61.0.0/16"),
        Some(red.next_hops)
    );
    assert_eq!(rib.vrf_id("vrf101"), Some(VrfId(101)));
    assert_eq!(rib.vrf_name(VrfId(100)), Some("vrf100"));
    assert_eq!(
        rib.add_vrf("vrf100", VrfId(102)),
        Err(RibError::DuplicateVrfName("vrf100".to_string()))
    );
    assert_eq!(
        rib.update(
            VrfId(7),
            Route::new(
                net("10.0.0.0/8"),
                RouteSource::Static,
                vec![NextHop::connected("x")]
            )
        ),
        Err(RibError::UnknownVrf(VrfId(7)))
    );

    apply(&mut plane, &rib.remove_vrf(VrfId(100)).unwrap());
    assert_eq!(installed(&plane, VrfId(100), "10.61.0.0/16"), None);
    assert!(installed(&plane, VrfId(101), "10.61.0.0/16").is_some());
}

#[test]
fn redistribution_reports_selected_connected_routes() {
    let mut rib = Rib::new();
    let bgp = ClientId(7);
    let green = VrfId(100);
    rib.add_vrf("vrf100", green).unwrap();
    rib.update(
        green,
        Route::new(
            net("10.60.0.0/16"),
            RouteSource::Connected,
            vec![NextHop::connected("br10000")],
        ),
    )
    .unwrap();

    let output = rib
        .redistribute(bgp, green, RouteSource::Connected)
        .unwrap();
    assert_eq!(output.notifications.len(), 1);
    assert!(matches!(&output.notifications[0],
        Notification::Redistribute { prefix, route: Some(_), .. } if *prefix == net("10.60.0.0/16")));

    let subnet = Route::new(
        net("10.61.0.0/16"),
        RouteSource::Connected,
        vec![NextHop::connected("br10001")],
    );
    let output = rib.update(green, subnet.clone()).unwrap();
    assert_eq!(
        output.notifications,
        vec![Notification::Redistribute {
            client: bgp,
            vrf: green,
            prefix: net("10.61.0.0/16"),
            source: RouteSource::Connected,
            route: Some(subnet)
        }]
    );

    // Static routes are not redistributed to this client.
    let fixed = Route::new(
        net("10.62.0.0/16"),
        RouteSource::Static,
        vec![NextHop::connected("br10001")],
    );
    assert!(rib.update(green, fixed).unwrap().notifications.is_empty());

    let output = rib
        .withdraw(green, net("10.61.0.0/16"), RouteSource::Connected)
        .unwrap();
    assert_eq!(
        output.notifications,
        vec![Notification::Redistribute {
            client: bgp,
            vrf: green,
            prefix: net("10.61.0.0/16"),
            source: RouteSource::Connected,
            route: None
        }]
    );
}

#[test]
fn southbound_entries_match_what_outputs_installed() {
    let mut rib = Rib::new();
    let mut plane = InMemoryPlane::new();
    underlay(&mut rib, &mut plane);
    let bgp = Route::new(
        net("203.0.113.0/24"),
        RouteSource::Ibgp,
        vec![NextHop::recursive(ip("10.0.0.2"))],
    );
    apply(&mut plane, &rib.update(VrfId::DEFAULT, bgp).unwrap());

    let mut wanted = rib.southbound_entries();
    let mut held = plane.entries();
    wanted.sort_by_key(|entry| entry.key());
    held.sort_by_key(|entry| entry.key());

    assert_eq!(wanted, held);
    assert!(wanted.contains(&Entry::Route(RouteEntry::new(
        VrfId::DEFAULT,
        net("203.0.113.0/24"),
        vec![
            NextHop::via(ip("10.0.11.1"), "eth0"),
            NextHop::via(ip("10.0.21.1"), "eth1")
        ]
    ))));
}

#[test]
fn update_rejects_route_without_next_hop() {
    let mut rib = Rib::new();
    let error = rib
        .update(
            VrfId::DEFAULT,
            Route::new(net("10.0.0.0/8"), RouteSource::Static, vec![]),
        )
        .unwrap_err();
    assert_eq!(error, RibError::NoNextHop(net("10.0.0.0/8")));
}
