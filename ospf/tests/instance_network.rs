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

    assert_eq!(
        network.neighbor_state(a, addr("10.0.0.2")),
        vec![NeighborState::Full]
    );
    assert_eq!(
        network.neighbor_state(b, addr("10.0.0.1")),
        vec![NeighborState::Full]
    );
    let database_a = network.database(a);
    assert_eq!(database_a.len(), 2, "{database_a:?}");
    assert_eq!(database_a, network.database(b));

    let route = network.routers[a]
        .instance
        .routes()
        .get(&net("10.0.0.2/32"))
        .cloned()
        .expect("route to B");
    assert_eq!(route.route_type, RouteType::IntraArea);
    assert_eq!(route.cost, 10);
    let hops: Vec<_> = route
        .next_hops
        .iter()
        .map(|h| (h.address, h.ifindex))
        .collect();
    assert_eq!(hops, vec![(Some(addr("10.1.12.2")), 2)]);
    let connected = network.routers[a]
        .instance
        .routes()
        .get(&net("10.1.12.0/24"))
        .cloned()
        .expect("link route");
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
            vec![
                loopback(&format!("10.0.0.{id}/32")),
                ethernet("eth0", 2, &format!("10.2.0.{id}/24")),
            ],
        );
        routers.push(router);
    }
    network.link(&[(routers[0], 2), (routers[1], 2), (routers[2], 2)]);
    network.advance(Duration::from_secs(15));

    // Highest router id (10.0.0.3) is DR, 10.0.0.2 BDR; DROthers stay 2-Way with each other.
    let interfaces = network.routers[0].instance.interfaces();
    assert_eq!(interfaces[1].designated_router, addr("10.2.0.3"));
    assert_eq!(interfaces[1].backup_designated_router, addr("10.2.0.2"));
    assert_eq!(
        network.neighbor_state(0, addr("10.0.0.3")),
        vec![NeighborState::Full]
    );
    assert_eq!(
        network.neighbor_state(0, addr("10.0.0.2")),
        vec![NeighborState::Full]
    );
    assert_eq!(
        network.neighbor_state(2, addr("10.0.0.1")),
        vec![NeighborState::Full]
    );

    let database = network.database(0);
    assert_eq!(
        database.len(),
        4,
        "three router-LSAs and one network-LSA: {database:?}"
    );
    assert!(
        database
            .iter()
            .any(|lsa| lsa.0 == 2 && lsa.1 == addr("10.2.0.3"))
    );
    for router in 1..3 {
        assert_eq!(network.database(router), database);
    }
    for (router, target) in [(0, "10.0.0.3/32"), (1, "10.0.0.1/32"), (2, "10.0.0.2/32")] {
        let route = network.routers[router]
            .instance
            .routes()
            .get(&net(target))
            .cloned();
        let route = route.unwrap_or_else(|| panic!("router {router} has no route to {target}"));
        assert_eq!(route.next_hops.len(), 1);
    }
    let via = network.routers[0]
        .instance
        .routes()
        .get(&net("10.0.0.2/32"))
        .unwrap()
        .next_hops
        .iter()
        .next()
        .unwrap()
        .address;
    assert_eq!(via, Some(addr("10.2.0.2")));
}

#[test]
fn broadcast_drothers_stay_two_way() {
    let mut network = Network::new();
    let mut routers = Vec::new();
    for id in 1..=4 {
        routers.push(network.add_router(
            config(&format!("10.0.0.{id}"), NetworkType::Broadcast),
            vec![
                loopback(&format!("10.0.0.{id}/32")),
                ethernet("eth0", 2, &format!("10.2.0.{id}/24")),
            ],
        ));
    }
    network.link(&[
        (routers[0], 2),
        (routers[1], 2),
        (routers[2], 2),
        (routers[3], 2),
    ]);
    network.advance(Duration::from_secs(15));
    assert_eq!(
        network.neighbor_state(0, addr("10.0.0.2")),
        vec![NeighborState::TwoWay]
    );
    assert_eq!(
        network.neighbor_state(0, addr("10.0.0.4")),
        vec![NeighborState::Full]
    );
    assert_eq!(network.database(0), network.database(1));
}

#[test]
fn bfd_down_moves_ecmp_routes() {
    let mut network = Network::new();
    let mut config_a = config("10.0.0.1", NetworkType::PointToPoint);
    config_a.default_interface.track_bfd = true;
    let a = network.add_router(
        config_a,
        vec![
            loopback("10.0.0.1/32"),
            ethernet("eth1", 2, "10.1.1.1/24"),
            ethernet("eth2", 3, "10.1.2.1/24"),
        ],
    );
    let b = network.add_router(
        config("10.0.0.2", NetworkType::PointToPoint),
        vec![
            loopback("10.0.0.2/32"),
            ethernet("eth1", 2, "10.1.1.2/24"),
            ethernet("eth2", 3, "10.1.2.2/24"),
        ],
    );
    let first = network.link(&[(a, 2), (b, 2)]);
    network.link(&[(a, 3), (b, 3)]);
    network.advance(Duration::from_secs(10));

    let route = network.routers[a]
        .instance
        .routes()
        .get(&net("10.0.0.2/32"))
        .cloned()
        .unwrap();
    assert_eq!(route.next_hops.len(), 2, "{route:?}");
    assert_eq!(network.routers[a].bfd_registered.len(), 2);
    assert!(
        network.routers[a]
            .bfd_registered
            .iter()
            .any(|s| s.neighbor == addr("10.1.1.2") && s.local == addr("10.1.1.1"))
    );

    // The first link fails silently; BFD reports it and the adjacency goes at once.
    network.links[first].up = false;
    network.input(
        a,
        Input::BfdDown {
            ifindex: 2,
            neighbor: addr("10.1.1.2"),
        },
    );
    network.advance(Duration::from_millis(200));
    let states: Vec<_> = network.routers[a]
        .instance
        .neighbors(network.now)
        .iter()
        .map(|n| (n.interface.clone(), n.state))
        .collect();
    assert_eq!(states, vec![("eth2".to_string(), NeighborState::Full)]);
    assert_eq!(network.routers[a].bfd_unregistered.len(), 1);
    let route = network.routers[a]
        .instance
        .routes()
        .get(&net("10.0.0.2/32"))
        .cloned()
        .unwrap();
    let hops: Vec<_> = route
        .next_hops
        .iter()
        .map(|h| (h.address, h.ifindex))
        .collect();
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
    assert!(
        network.routers[a]
            .instance
            .routes()
            .get(&net("10.0.0.2/32"))
            .is_none()
    );
}

#[test]
fn wrong_md5_key_never_forms_adjacency() {
    let mut network = Network::new();
    let mut config_a = config("10.0.0.1", NetworkType::PointToPoint);
    config_a.default_interface.authentication = hna_ospf::Authentication::Md5 {
        key_id: 1,
        key: b"right".to_vec(),
    };
    let mut config_b = config("10.0.0.2", NetworkType::PointToPoint);
    config_b.default_interface.authentication = hna_ospf::Authentication::Md5 {
        key_id: 1,
        key: b"wrong".to_vec(),
    };
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
    let auth = hna_ospf::Authentication::HmacSha256 {
        key_id: 7,
        key: b"a shared secret".to_vec(),
    };
    let mut config_a = config("10.0.0.1", NetworkType::PointToPoint);
    config_a.default_interface.authentication = auth.clone();
    let mut config_b = config("10.0.0.2", NetworkType::PointToPoint);
    config_b.default_interface.authentication = auth;
    let a = network.add_router(config_a, vec![ethernet("eth1", 2, "10.1.12.1/24")]);
    let b = network.add_router(config_b, vec![ethernet("eth1", 2, "10.1.12.2/24")]);
    network.link(&[(a, 2), (b, 2)]);
    network.advance(Duration::from_secs(10));
    assert_eq!(
        network.neighbor_state(a, addr("10.0.0.2")),
        vec![NeighborState::Full]
    );
}

#[test]
fn own_lsas_refresh_every_30_minutes() {
    let mut network = Network::new();
    let (a, b) = point_to_point_pair(&mut network);
    network.advance(Duration::from_secs(10));
    let own = |network: &Network| {
        network
            .database(b)
            .into_iter()
            .find(|l| l.0 == 1 && l.1 == addr("10.0.0.1"))
            .unwrap()
            .3
    };
    let before = own(&network);
    network.advance(Duration::from_secs(1780));
    assert_eq!(own(&network), before);
    network.advance(Duration::from_secs(20));
    assert_eq!(own(&network), before + 1);
    assert_eq!(
        network.neighbor_state(a, addr("10.0.0.2")),
        vec![NeighborState::Full]
    );
    assert_eq!(network.database(a), network.database(b));
}

/// Builds a router-LSA of `router` with one stub link, as raw bytes with a valid checksum.
fn stub_router_lsa(router: &str, sequence: u32) -> Vec<u8> {
    let id = addr(router);
    let header = hna_ospf::lsa::LsaHeader {
        ls_age: 1,
        options: hna_ospf::lsa::Options(hna_ospf::lsa::Options::E),
        ls_type: hna_ospf::lsa::LsType::ROUTER,
        link_state_id: id,
        advertising_router: id,
        ls_sequence_number: sequence as i32,
        ls_checksum: 0,
        length: 0,
    };
    let link = hna_ospf::lsa::RouterLink {
        link_id: addr("10.99.0.0"),
        link_data: addr("255.255.0.0"),
        link_type: hna_ospf::lsa::RouterLinkType::STUB,
        metric: 1,
        tos: Vec::new(),
    };
    let body = hna_ospf::lsa::LsaBody::Router(hna_ospf::lsa::RouterLsa {
        flags: 0,
        links: vec![link],
    });
    hna_ospf::lsa::Lsa::originate(header, body).raw().to_vec()
}

fn update_from(router_id: &str, lsa: Vec<u8>) -> Vec<u8> {
    let lsa = hna_ospf::lsa::Lsa::decode(&lsa).unwrap();
    hna_ospf::packet::Packet {
        router_id: addr(router_id),
        area_id: std::net::Ipv4Addr::UNSPECIFIED,
        auth: hna_ospf::packet::AuthHeader::Null,
        body: hna_ospf::packet::PacketBody::LsUpdate(hna_ospf::packet::LsUpdate {
            lsas: vec![lsa],
        }),
    }
    .encode()
}

fn own_router_sequence(network: &Network, router: usize, id: &str) -> Option<u32> {
    network
        .database(router)
        .into_iter()
        .find(|l| l.0 == 1 && l.1 == addr(id))
        .map(|l| l.3)
}

#[test]
fn max_sequence_wraps_after_flush() {
    let mut network = Network::new();
    let (a, b) = point_to_point_pair(&mut network);
    network.advance(Duration::from_secs(10));

    // B floods back an instance of A's router-LSA at MaxSequenceNumber.
    let data = update_from("10.0.0.2", stub_router_lsa("10.0.0.1", 0x7fff_ffff));
    network.input(
        a,
        Input::Packet {
            ifindex: 2,
            source: addr("10.1.12.2"),
            destination: addr("224.0.0.5"),
            data,
        },
    );
    assert_eq!(
        own_router_sequence(&network, a, "10.0.0.1"),
        Some(0x7fff_ffff)
    );
    let flushed = network.routers[a]
        .instance
        .database(network.now)
        .into_iter()
        .find(|l| l.ls_type.0 == 1 && l.link_state_id == addr("10.0.0.1"));
    assert_eq!(
        flushed.map(|l| l.age),
        Some(3600),
        "the wrapped instance is flushed with MaxAge"
    );

    network.advance(Duration::from_secs(10));
    assert_eq!(
        own_router_sequence(&network, a, "10.0.0.1"),
        Some(0x8000_0001)
    );
    assert_eq!(
        own_router_sequence(&network, b, "10.0.0.1"),
        Some(0x8000_0001)
    );
    assert_eq!(network.database(a), network.database(b));
    assert_eq!(
        network.neighbor_state(a, addr("10.0.0.2")),
        vec![NeighborState::Full]
    );
}

#[test]
fn own_lsa_seen_newer_is_reoriginated_above_it() {
    let mut network = Network::new();
    let (a, b) = point_to_point_pair(&mut network);
    network.advance(Duration::from_secs(10));
    let data = update_from("10.0.0.2", stub_router_lsa("10.0.0.1", 0x8000_0100));
    network.input(
        a,
        Input::Packet {
            ifindex: 2,
            source: addr("10.1.12.2"),
            destination: addr("224.0.0.5"),
            data,
        },
    );
    network.advance(Duration::from_secs(5));
    assert_eq!(
        own_router_sequence(&network, a, "10.0.0.1"),
        Some(0x8000_0101)
    );
    assert_eq!(
        own_router_sequence(&network, b, "10.0.0.1"),
        Some(0x8000_0101)
    );
    // The re-originated instance carries our real links again, not the injected stub.
    let routes = network.routers[b].instance.routes();
    assert!(routes.get(&net("10.0.0.1/32")).is_some());
    assert!(routes.get(&net("10.99.0.0/16")).is_none());
}

#[test]
fn max_age_lsa_is_removed() {
    let mut network = Network::new();
    let (a, b) = point_to_point_pair(&mut network);
    network.advance(Duration::from_secs(10));
    // A router that is not there any more left its LSA; it ages out after MaxAge.
    let data = update_from("10.0.0.2", stub_router_lsa("10.0.0.9", 0x8000_0001));
    network.input(
        a,
        Input::Packet {
            ifindex: 2,
            source: addr("10.1.12.2"),
            destination: addr("224.0.0.5"),
            data,
        },
    );
    assert!(own_router_sequence(&network, a, "10.0.0.9").is_some());
    network.advance(Duration::from_secs(3590));
    assert!(own_router_sequence(&network, a, "10.0.0.9").is_some());
    network.advance(Duration::from_secs(20));
    assert!(
        own_router_sequence(&network, a, "10.0.0.9").is_none(),
        "MaxAge LSA still in A"
    );
    assert!(
        own_router_sequence(&network, b, "10.0.0.9").is_none(),
        "MaxAge LSA still in B"
    );
}

#[test]
fn dr_flushes_network_lsa_when_alone() {
    let mut network = Network::new();
    let a = network.add_router(
        config("10.0.0.1", NetworkType::Broadcast),
        vec![ethernet("eth0", 2, "10.2.0.1/24")],
    );
    let b = network.add_router(
        config("10.0.0.2", NetworkType::Broadcast),
        vec![ethernet("eth0", 2, "10.2.0.2/24")],
    );
    network.link(&[(a, 2), (b, 2)]);
    network.advance(Duration::from_secs(15));
    let has_network = |network: &Network, router| network.database(router).iter().any(|l| l.0 == 2);
    assert!(has_network(&network, a));
    network.links[0].up = false;
    network.advance(Duration::from_secs(10));
    assert!(
        !has_network(&network, b),
        "the DR kept its network-LSA with no neighbor left"
    );
}

/// Builds an opaque LSA of `ls_type` (9 or 10) from 10.0.0.1 carrying four bytes of data.
fn opaque_lsa(ls_type: u8) -> Vec<u8> {
    let header = hna_ospf::lsa::LsaHeader {
        ls_age: 1,
        options: hna_ospf::lsa::Options(hna_ospf::lsa::Options::E | hna_ospf::lsa::Options::O),
        ls_type: hna_ospf::lsa::LsType(ls_type),
        link_state_id: addr("4.0.0.1"),
        advertising_router: addr("10.0.0.1"),
        ls_sequence_number: 0x8000_0001u32 as i32,
        ls_checksum: 0,
        length: 0,
    };
    let body = hna_ospf::lsa::LsaBody::Opaque(bytes::Bytes::from_static(&[1, 2, 3, 4]));
    hna_ospf::lsa::Lsa::originate(header, body).raw().to_vec()
}

#[test]
fn opaque_lsas_are_flooded_by_scope() {
    let mut network = Network::new();
    let a = network.add_router(
        config("10.0.0.1", NetworkType::PointToPoint),
        vec![ethernet("eth1", 2, "10.1.12.1/24")],
    );
    let b = network.add_router(
        config("10.0.0.2", NetworkType::PointToPoint),
        vec![
            ethernet("eth1", 2, "10.1.12.2/24"),
            ethernet("eth2", 3, "10.1.23.2/24"),
        ],
    );
    let c = network.add_router(
        config("10.0.0.3", NetworkType::PointToPoint),
        vec![ethernet("eth2", 3, "10.1.23.3/24")],
    );
    network.link(&[(a, 2), (b, 2)]);
    network.link(&[(b, 3), (c, 3)]);
    network.advance(Duration::from_secs(10));

    // A's opaque LSAs reach B: the area-scope one goes on to C, the link-local one stays.
    for ls_type in [9, 10] {
        let data = update_from("10.0.0.1", opaque_lsa(ls_type));
        network.input(
            b,
            Input::Packet {
                ifindex: 2,
                source: addr("10.1.12.1"),
                destination: addr("224.0.0.5"),
                data,
            },
        );
    }
    network.advance(Duration::from_secs(2));
    let opaque = |network: &Network, router: usize| {
        let mut found: Vec<(u8, u32)> = network.routers[router]
            .instance
            .database(network.now)
            .into_iter()
            .filter(|l| l.ls_type.is_opaque())
            .map(|l| (l.ls_type.0, l.scope))
            .collect();
        found.sort();
        found
    };
    assert_eq!(opaque(&network, b), vec![(9, 2), (10, 0)]);
    assert_eq!(opaque(&network, c), vec![(10, 0)]);
    assert_eq!(
        network.routers[c].instance.lsdb().len(),
        network.database(c).len()
    );
}

/// Builds an AS-external-LSA of 10.0.0.9 for 172.16.`index`.0/24.
fn external_lsa(index: u16) -> Vec<u8> {
    let prefix = std::net::Ipv4Addr::new(172, 16 + (index >> 8) as u8, index as u8, 0);
    let mut header =
        hna_ospf::lsa::LsaHeader::decode(&stub_router_lsa("10.0.0.9", 0x8000_0001)).unwrap();
    header.ls_type = hna_ospf::lsa::LsType::AS_EXTERNAL;
    header.link_state_id = prefix;
    let body = hna_ospf::lsa::LsaBody::AsExternal(hna_ospf::lsa::AsExternalLsa {
        network_mask: addr("255.255.255.0"),
        metric_type2: true,
        metric: 20,
        forwarding_address: std::net::Ipv4Addr::UNSPECIFIED,
        external_route_tag: 0,
        tos: Vec::new(),
    });
    hna_ospf::lsa::Lsa::originate(header, body).raw().to_vec()
}

#[test]
fn large_database_syncs_over_many_dd_packets() {
    let mut network = Network::new();
    let (a, b) = point_to_point_pair(&mut network);
    network.advance(Duration::from_secs(10));

    // A learns 400 external LSAs, then C connects to A and must get them all through several
    // DD packets and Link State Requests.
    for index in 0..400 {
        let data = update_from("10.0.0.2", external_lsa(index));
        network.input(
            a,
            Input::Packet {
                ifindex: 2,
                source: addr("10.1.12.2"),
                destination: addr("224.0.0.5"),
                data,
            },
        );
    }
    assert_eq!(network.database(a).len(), 402);
    let c = network.add_router(
        config("10.0.0.3", NetworkType::PointToPoint),
        vec![loopback("10.0.0.3/32"), ethernet("eth3", 3, "10.1.13.3/24")],
    );
    network.routers[a]
        .interfaces
        .push(ethernet("eth3", 3, "10.1.13.1/24"));
    network.input(
        a,
        Input::InterfaceUpdate(ethernet("eth3", 3, "10.1.13.1/24")),
    );
    network.link(&[(a, 3), (c, 3)]);
    network.advance(Duration::from_secs(10));

    assert_eq!(
        network.neighbor_state(c, addr("10.0.0.1")),
        vec![NeighborState::Full]
    );
    assert_eq!(
        network.database(c).len(),
        403,
        "400 external LSAs and three router-LSAs"
    );
    assert_eq!(network.database(c), network.database(a));
    let dd_packets = network.routers[c].instance.counters().received
        [&hna_ospf::packet::PacketType::DbDescription];
    assert!(
        dd_packets >= 6,
        "only {dd_packets} DD packets for 400 headers"
    );
    assert!(network.neighbor_state(b, addr("10.0.0.1")) == vec![NeighborState::Full]);
}

#[test]
fn interface_down_kills_adjacency_and_routes() {
    let mut network = Network::new();
    let mut config_a = config("10.0.0.1", NetworkType::PointToPoint);
    config_a.default_interface.track_bfd = true;
    let a = network.add_router(
        config_a,
        vec![loopback("10.0.0.1/32"), ethernet("eth1", 2, "10.1.12.1/24")],
    );
    let b = network.add_router(
        config("10.0.0.2", NetworkType::PointToPoint),
        vec![loopback("10.0.0.2/32"), ethernet("eth1", 2, "10.1.12.2/24")],
    );
    network.link(&[(a, 2), (b, 2)]);
    network.advance(Duration::from_secs(10));
    assert!(
        network.routers[a]
            .instance
            .routes()
            .get(&net("10.0.0.2/32"))
            .is_some()
    );

    let mut down = ethernet("eth1", 2, "10.1.12.1/24");
    down.up = false;
    network.input(a, Input::InterfaceUpdate(down));
    network.advance(Duration::from_millis(100));
    assert!(network.neighbor_state(a, addr("10.0.0.2")).is_empty());
    assert!(
        network.routers[a]
            .instance
            .routes()
            .get(&net("10.0.0.2/32"))
            .is_none()
    );
    assert_eq!(network.routers[a].bfd_unregistered.len(), 1);
    let own = network.routers[a]
        .instance
        .lsdb()
        .get(&hna_ospf::lsa::LsaKey {
            scope: 0,
            ls_type: hna_ospf::lsa::LsType::ROUTER,
            link_state_id: addr("10.0.0.1"),
            advertising_router: addr("10.0.0.1"),
        });
    let hna_ospf::lsa::LsaBody::Router(router) = &own.expect("own router-LSA").lsa.body else {
        panic!("not a router-LSA")
    };
    assert_eq!(
        router.links.len(),
        1,
        "only the loopback stays: {:?}",
        router.links
    );

    // Back up: the adjacency and the route return.
    network.input(
        a,
        Input::InterfaceUpdate(ethernet("eth1", 2, "10.1.12.1/24")),
    );
    network.advance(Duration::from_secs(10));
    assert_eq!(
        network.neighbor_state(a, addr("10.0.0.2")),
        vec![NeighborState::Full]
    );
    assert!(
        network.routers[a]
            .instance
            .routes()
            .get(&net("10.0.0.2/32"))
            .is_some()
    );
}

#[test]
fn backup_takes_over_when_dr_dies() {
    let mut network = Network::new();
    let mut routers = Vec::new();
    for id in 1..=3 {
        routers.push(network.add_router(
            config(&format!("10.0.0.{id}"), NetworkType::Broadcast),
            vec![
                loopback(&format!("10.0.0.{id}/32")),
                ethernet("eth0", 2, &format!("10.2.0.{id}/24")),
            ],
        ));
    }
    let segment = network.link(&[(routers[0], 2), (routers[1], 2), (routers[2], 2)]);
    network.advance(Duration::from_secs(15));
    assert_eq!(
        network.routers[0].instance.interfaces()[1].designated_router,
        addr("10.2.0.3")
    );

    // The DR (10.0.0.3) leaves the segment; after the dead interval the BDR becomes DR.
    network.links[segment]
        .members
        .retain(|member| member.0 != routers[2]);
    network.advance(Duration::from_secs(10));
    let interface = &network.routers[0].instance.interfaces()[1];
    assert_eq!(interface.designated_router, addr("10.2.0.2"));
    assert_eq!(interface.backup_designated_router, addr("10.2.0.1"));
    assert_eq!(
        network.neighbor_state(0, addr("10.0.0.2")),
        vec![NeighborState::Full]
    );
    let database = network.database(0);
    assert!(
        database.iter().any(|l| l.0 == 2 && l.1 == addr("10.2.0.2")),
        "new DR's network-LSA: {database:?}"
    );
    assert_eq!(database, network.database(1));
    assert!(
        network.routers[0]
            .instance
            .routes()
            .get(&net("10.0.0.2/32"))
            .is_some()
    );
}

#[test]
fn shutdown_flushes_own_lsas_from_neighbors() {
    let mut network = Network::new();
    let (a, b) = point_to_point_pair(&mut network);
    network.advance(Duration::from_secs(10));
    assert!(own_router_sequence(&network, b, "10.0.0.1").is_some());

    // A stops: its flushed router-LSA reaches B, which removes it once acknowledged.
    let actions = network.routers[a].instance.shutdown(network.now);
    let sends = actions
        .iter()
        .filter(|action| matches!(action, hna_ospf::Action::Send { .. }))
        .count();
    assert_eq!(
        sends, 1,
        "one Link State Update with the flushed router-LSA"
    );
    for action in actions {
        if let hna_ospf::Action::Send {
            data, destination, ..
        } = action
        {
            network.input(
                b,
                Input::Packet {
                    ifindex: 2,
                    source: addr("10.1.12.1"),
                    destination,
                    data,
                },
            );
        }
    }
    let flushed = network.routers[b]
        .instance
        .database(network.now)
        .into_iter()
        .find(|l| l.ls_type.0 == 1 && l.link_state_id == addr("10.0.0.1"));
    assert_eq!(flushed.map(|l| l.age), Some(3600));
    network.links[0].up = false;
    network.advance(Duration::from_secs(6));
    assert!(
        own_router_sequence(&network, b, "10.0.0.1").is_none(),
        "B still has A's router-LSA"
    );
}

#[test]
fn flushed_own_lsa_coming_back_is_reoriginated() {
    let mut network = Network::new();
    let (a, b) = point_to_point_pair(&mut network);
    network.advance(Duration::from_secs(10));

    // B sends A a flushed copy of A's router-LSA with a higher sequence number, as after a
    // restart of A whose previous run flushed its LSAs.
    let mut lsa = stub_router_lsa("10.0.0.1", 0x8000_0100);
    lsa[0..2].copy_from_slice(&3600u16.to_be_bytes());
    let data = update_from("10.0.0.2", lsa);
    network.input(
        a,
        Input::Packet {
            ifindex: 2,
            source: addr("10.1.12.2"),
            destination: addr("224.0.0.5"),
            data,
        },
    );
    network.advance(Duration::from_secs(5));
    assert_eq!(
        own_router_sequence(&network, a, "10.0.0.1"),
        Some(0x8000_0101)
    );
    assert_eq!(
        own_router_sequence(&network, b, "10.0.0.1"),
        Some(0x8000_0101)
    );
    assert!(
        network.routers[b]
            .instance
            .routes()
            .get(&net("10.0.0.1/32"))
            .is_some()
    );
}
