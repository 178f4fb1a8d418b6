//! Instances talking to each other over the in-memory network: adjacencies, database
//! synchronisation, DR election, routes with ECMP, BFD hooks, LSA refresh and sequence wrap.

mod common;

use std::time::Duration;

use common::{Network, addr, config, ethernet, loopback, net};
use hna_ospf::{Input, NeighborState, NetworkType, RouteType};

fn point_to_point_pair(network: &mut Network) -> (usize, usize) {
    let a = network.add_router(
        config("10.0.0.1", NetworkType::PointToPoint),
        vec![loopback("10.0.0.1/32"), ethernet("eth1", 2, "10.1.12.1/24")],
    );
    let b = network.add_router(
        config("10.0.0.2", NetworkType::PointToPoint),
        vec![loopback("10.0.0.2/32"), ethernet("eth1", 2, "10.1.12.2/24")],
    );
    network.link(&[(a, 2), (b, 2)]);
    (a, b)
}

#[test]
fn point_to_point_pair_reaches_full_and_routes() {
    let mut network = Network::new();
    let (a, b) = point_to_point_pair(&mut network);
    network.advance(Duration::from_secs(10));

    assert_eq!(network.neighbor_state(a, addr("10.0.0.2")), vec![NeighborState::Full]);
    assert_eq!(network.neighbor_state(b, addr("10.0.0.1")), vec![NeighborState::Full]);
    let database_a = network.database(a);
    assert_eq!(database_a.len(), 2, "{database_a:?}");
    assert_eq!(database_a, network.database(b));

    let route = network.routers[a].instance.routes().get(&net("10.0.0.2/32")).cloned().expect("route to B");
    assert_eq!(route.route_type, RouteType::IntraArea);
    assert_eq!(route.cost, 10);
    let hops: Vec<_> = route.next_hops.iter().map(|h| (h.address, h.ifindex)).collect();
    assert_eq!(hops, vec![(Some(addr("10.1.12.2")), 2)]);
    let connected = network.routers[a].instance.routes().get(&net("10.1.12.0/24")).cloned().expect("link route");
    assert_eq!(connected.next_hops.iter().next().unwrap().address, None);
    assert!(!network.routers[a].route_updates.is_empty());
}

#[test]
fn broadcast_segment_elects_dr_and_syncs() {
    let mut network = Network::new();
    let mut routers = Vec::new();
    for id in 1..=3 {
        let router = network.add_router(
            config(&format!("10.0.0.{id}"), NetworkType::Broadcast),
            vec![loopback(&format!("10.0.0.{id}/32")), ethernet("eth0", 2, &format!("10.2.0.{id}/24"))],
        );
        routers.push(router);
    }
    network.link(&[(routers[0], 2), (routers[1], 2), (routers[2], 2)]);
    network.advance(Duration::from_secs(15));

    // Highest router id (10.0.0.3) is DR, 10.0.0.2 BDR; DROthers stay 2-Way with each other.
    let interfaces = network.routers[0].instance.interfaces();
    assert_eq!(interfaces[1].designated_router, addr("10.2.0.3"));
    assert_eq!(interfaces[1].backup_designated_router, addr("10.2.0.2"));
    assert_eq!(network.neighbor_state(0, addr("10.0.0.3")), vec![NeighborState::Full]);
    assert_eq!(network.neighbor_state(0, addr("10.0.0.2")), vec![NeighborState::Full]);
    assert_eq!(network.neighbor_state(2, addr("10.0.0.1")), vec![NeighborState::Full]);

    let database = network.database(0);
    assert_eq!(database.len(), 4, "three router-LSAs and one network-LSA: {database:?}");
    assert!(database.iter().any(|lsa| lsa.0 == 2 && lsa.1 == addr("10.2.0.3")));
    for router in 1..3 {
        assert_eq!(network.database(router), database);
    }
    for (router, target) in [(0, "10.0.0.3/32"), (1, "10.0.0.1/32"), (2, "10.0.0.2/32")] {
        let route = network.routers[router].instance.routes().get(&net(target)).cloned();
        let route = route.unwrap_or_else(|| panic!("router {router} has no route to {target}"));
        assert_eq!(route.next_hops.len(), 1);
    }
    let via = network.routers[0].instance.routes().get(&net("10.0.0.2/32")).unwrap().next_hops.iter().next().unwrap().address;
    assert_eq!(via, Some(addr("10.2.0.2")));
}

#[test]
fn broadcast_drothers_stay_two_way() {
    let mut network = Network::new();
    let mut routers = Vec::new();
    for id in 1..=4 {
        routers.push(network.add_router(
            config(&format!("10.0.0.{id}"), NetworkType::Broadcast),
            vec![loopback(&format!("10.0.0.{id}/32")), ethernet("eth0", 2, &format!("10.2.0.{id}/24"))],
        ));
    }
    network.link(&[(routers[0], 2), (routers[1], 2), (routers[2], 2), (routers[3], 2)]);
    network.advance(Duration::from_secs(15));
    assert_eq!(network.neighbor_state(0, addr("10.0.0.2")), vec![NeighborState::TwoWay]);
    assert_eq!(network.neighbor_state(0, addr("10.0.0.4")), vec![NeighborState::Full]);
    assert_eq!(network.database(0), network.database(1));
}

#[test]
fn parallel_links_give_ecmp_and_bfd_down_moves_routes() {
    let mut network = Network::new();
    let mut config_a = config("10.0.0.1", NetworkType::PointToPoint);
    config_a.default_interface.track_bfd = true;
    let a = network.add_router(
        config_a,
        vec![loopback("10.0.0.1/32"), ethernet("eth1", 2, "10.1.1.1/24"), ethernet("eth2", 3, "10.1.2.1/24")],
    );
    let b = network.add_router(
        config("10.0.0.2", NetworkType::PointToPoint),
        vec![loopback("10.0.0.2/32"), ethernet("eth1", 2, "10.1.1.2/24"), ethernet("eth2", 3, "10.1.2.2/24")],
    );
    let first = network.link(&[(a, 2), (b, 2)]);
    network.link(&[(a, 3), (b, 3)]);
    network.advance(Duration::from_secs(10));

    let route = network.routers[a].instance.routes().get(&net("10.0.0.2/32")).cloned().unwrap();
    assert_eq!(route.next_hops.len(), 2, "{route:?}");
    assert_eq!(network.routers[a].bfd_registered.len(), 2);
    assert!(network.routers[a].bfd_registered.iter().any(|s| s.neighbor == addr("10.1.1.2") && s.local == addr("10.1.1.1")));

    // The first link fails silently; BFD reports it and the adjacency goes at once.
    network.links[first].up = false;
    network.input(a, Input::BfdDown { ifindex: 2, neighbor: addr("10.1.1.2") });
    network.advance(Duration::from_millis(200));
    let states: Vec<_> = network.routers[a].instance.neighbors(network.now).iter().map(|n| (n.interface.clone(), n.state)).collect();
    assert_eq!(states, vec![("eth2".to_string(), NeighborState::Full)]);
    assert_eq!(network.routers[a].bfd_unregistered.len(), 1);
    let route = network.routers[a].instance.routes().get(&net("10.0.0.2/32")).cloned().unwrap();
    let hops: Vec<_> = route.next_hops.iter().map(|h| (h.address, h.ifindex)).collect();
    assert_eq!(hops, vec![(Some(addr("10.1.2.2")), 3)]);
}

#[test]
fn inactivity_timer_removes_neighbor_and_routes() {
    let mut network = Network::new();
    let (a, _b) = point_to_point_pair(&mut network);
    network.advance(Duration::from_secs(10));
    network.links[0].up = false;
    network.advance(Duration::from_secs(5));
    assert!(network.neighbor_state(a, addr("10.0.0.2")).is_empty());
    assert!(network.routers[a].instance.routes().get(&net("10.0.0.2/32")).is_none());
}

#[test]
fn wrong_md5_key_never_forms_adjacency() {
    let mut network = Network::new();
    let mut config_a = config("10.0.0.1", NetworkType::PointToPoint);
    config_a.default_interface.authentication = hna_ospf::Authentication::Md5 { key_id: 1, key: b"right".to_vec() };
    let mut config_b = config("10.0.0.2", NetworkType::PointToPoint);
    config_b.default_interface.authentication = hna_ospf::Authentication::Md5 { key_id: 1, key: b"wrong".to_vec() };
    let a = network.add_router(config_a, vec![ethernet("eth1", 2, "10.1.12.1/24")]);
    let b = network.add_router(config_b, vec![ethernet("eth1", 2, "10.1.12.2/24")]);
    network.link(&[(a, 2), (b, 2)]);
    network.advance(Duration::from_secs(10));
    assert!(network.neighbor_state(a, addr("10.0.0.2")).is_empty());
    let bad = hna_ospf::DropReason::Authentication(hna_ospf::show::AuthErrorKind::BadDigest);
    assert!(network.routers[a].instance.counters().dropped(bad) >= 9);
}

#[test]
fn hmac_sha256_pair_reaches_full() {
    let mut network = Network::new();
    let auth = hna_ospf::Authentication::HmacSha256 { key_id: 7, key: b"a shared secret".to_vec() };
    let mut config_a = config("10.0.0.1", NetworkType::PointToPoint);
    config_a.default_interface.authentication = auth.clone();
    let mut config_b = config("10.0.0.2", NetworkType::PointToPoint);
    config_b.default_interface.authentication = auth;
    let a = network.add_router(config_a, vec![ethernet("eth1", 2, "10.1.12.1/24")]);
    let b = network.add_router(config_b, vec![ethernet("eth1", 2, "10.1.12.2/24")]);
    network.link(&[(a, 2), (b, 2)]);
    network.advance(Duration::from_secs(10));
    assert_eq!(network.neighbor_state(a, addr("10.0.0.2")), vec![NeighborState::Full]);
}

#[test]
fn own_lsas_refresh_every_30_minutes() {
    let mut network = Network::new();
    let (a, b) = point_to_point_pair(&mut network);
    network.advance(Duration::from_secs(10));
    let own = |network: &Network| {
        network.database(b).into_iter().find(|l| l.0 == 1 && l.1 == addr("10.0.0.1")).unwrap().3
    };
    let before = own(&network);
    network.advance(Duration::from_secs(1780));
    assert_eq!(own(&network), before);
    network.advance(Duration::from_secs(20));
    assert_eq!(own(&network), before + 1);
    assert_eq!(network.neighbor_state(a, addr("10.0.0.2")), vec![NeighborState::Full]);
    assert_eq!(network.database(a), network.database(b));
}
