//! Graceful restart (RFC 3623) between instances on the in-memory network: the restarting side
//! (announcement, deferred LSAs and routes, exit conditions) and the helper side (entry checks,
//! masked dead interval, 1-Way Hellos and BFD, exit conditions).

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::{Network, addr, config, ethernet, loopback, net};
use hna_ospf::lsa::{GraceLsa, LsType, Lsa, LsaBody, LsaHeader, Options, RestartReason};
use hna_ospf::packet::{AuthHeader, LsUpdate, Packet, PacketBody};
use hna_ospf::{
    Action, Config, HelperExitReason, HelperRejectReason, Input, Instance, NeighborState,
    NetworkType, RestartExitReason,
};

const GRACE: Duration = Duration::from_secs(60);

fn restarting(mut config: Config) -> Config {
    config.graceful_restart.restarting = true;
    config.graceful_restart.grace_period = GRACE;
    config
}

/// A (10.0.0.1) and B (10.0.0.2) on a point-to-point link, Full; returns the link index.
fn pair(network: &mut Network, config_a: Config, config_b: Config) -> usize {
    network.add_router(
        config_a,
        vec![loopback("10.0.0.1/32"), ethernet("eth1", 2, "10.1.12.1/24")],
    );
    network.add_router(
        config_b,
        vec![loopback("10.0.0.2/32"), ethernet("eth1", 2, "10.1.12.2/24")],
    );
    let link = network.link(&[(0, 2), (1, 2)]);
    network.advance(Duration::from_secs(10));
    assert_eq!(
        network.neighbor_state(1, addr("10.0.0.1")),
        vec![NeighborState::Full]
    );
    link
}

fn p2p(router_id: &str) -> Config {
    config(router_id, NetworkType::PointToPoint)
}

/// Runs A's graceful shutdown, lets B acknowledge, and takes A off the link.
fn shut_down_a(network: &mut Network, link: usize) {
    let actions = network.routers[0]
        .instance
        .graceful_shutdown(GRACE, network.now);
    assert!(
        actions
            .iter()
            .any(|action| matches!(action, Action::Send { .. })),
        "no grace-LSA sent: {actions:?}"
    );
    network.deliver(0, actions);
    network.advance(Duration::from_millis(600));
    assert!(
        network.routers[0].instance.grace_acknowledged(),
        "B did not acknowledge the grace-LSA"
    );
    network.links[link].up = false;
}

fn helper_of(
    network: &Network,
    router: usize,
    neighbor: &str,
) -> Option<hna_ospf::show::HelperSnapshot> {
    network.routers[router]
        .instance
        .neighbors(network.now)
        .into_iter()
        .find(|n| n.neighbor_id == addr(neighbor))?
        .helper
}

fn router_lsa_sequence(network: &Network, router: usize, of: &str) -> Option<u32> {
    network
        .database(router)
        .into_iter()
        .find(|lsa| lsa.0 == 1 && lsa.1 == addr(of))
        .map(|lsa| lsa.3)
}

fn grace_lsas(network: &Network, router: usize) -> usize {
    network.routers[router]
        .instance
        .database(network.now)
        .iter()
        .filter(|lsa| lsa.ls_type == LsType::OPAQUE_LINK)
        .count()
}

#[test]
fn helper_keeps_restarting_neighbor_through_dead_interval() {
    let mut network = Network::new();
    let link = pair(&mut network, p2p("10.0.0.1"), p2p("10.0.0.2"));
    let a_sequence = router_lsa_sequence(&network, 1, "10.0.0.1").unwrap();
    let b_sequence = router_lsa_sequence(&network, 1, "10.0.0.2").unwrap();
    let b_updates = network.routers[1].route_updates.len();

    shut_down_a(&mut network, link);
    let helper = helper_of(&network, 1, "10.0.0.1").expect("B helps A");
    assert_eq!(helper.reason, RestartReason::SoftwareRestart);
    assert!(helper.grace_remaining_ms > 55_000, "{helper:?}");

    // A is away for 6 s, longer than the 4 s dead interval.
    network.advance(Duration::from_secs(6));
    assert_eq!(
        network.neighbor_state(1, addr("10.0.0.1")),
        vec![NeighborState::Full]
    );
    assert_eq!(
        router_lsa_sequence(&network, 1, "10.0.0.2"),
        Some(b_sequence),
        "B re-originated its router-LSA"
    );
    assert!(
        network.routers[1]
            .instance
            .routes()
            .get(&net("10.0.0.1/32"))
            .is_some()
    );
    assert_eq!(
        network.routers[1].route_updates.len(),
        b_updates,
        "B published a routing change"
    );
    assert_eq!(
        network.routers[1]
            .instance
            .graceful_restart(network.now)
            .helping,
        vec![addr("10.0.0.1")]
    );

    // A comes back in restarting mode, Hellos without B first; B keeps the adjacency and A
    // resynchronises, then leaves graceful restart.
    network.restart_router(0, restarting(p2p("10.0.0.1")));
    assert!(network.routers[0].instance.is_restarting());
    network.links[link].up = true;
    network.advance(Duration::from_secs(10));

    let a = &network.routers[0].instance;
    assert!(!a.is_restarting());
    assert_eq!(
        a.graceful_restart(network.now).last_exit,
        Some(RestartExitReason::AdjacenciesRestored)
    );
    assert_eq!(
        network.neighbor_state(0, addr("10.0.0.2")),
        vec![NeighborState::Full]
    );
    assert_eq!(
        network.neighbor_state(1, addr("10.0.0.1")),
        vec![NeighborState::Full]
    );
    assert!(
        helper_of(&network, 1, "10.0.0.1").is_none(),
        "B still helps A"
    );
    let exits = &network.routers[1]
        .instance
        .counters()
        .graceful_restart
        .helper_exits;
    assert_eq!(exits.values().sum::<u64>(), 1, "{exits:?}");
    assert_eq!(
        exits.get(&HelperExitReason::GraceLsaFlushed),
        Some(&1),
        "{exits:?}"
    );
    assert!(
        router_lsa_sequence(&network, 1, "10.0.0.1").unwrap() > a_sequence,
        "A did not originate above its old LSA"
    );
    assert_eq!(
        router_lsa_sequence(&network, 1, "10.0.0.2"),
        Some(b_sequence)
    );
    assert_eq!(network.database(0), network.database(1));
    assert_eq!(grace_lsas(&network, 0), 0, "A's grace-LSA was not flushed");
    assert_eq!(grace_lsas(&network, 1), 0, "B kept A's grace-LSA");
    assert!(
        network.routers[0]
            .instance
            .routes()
            .get(&net("10.0.0.2/32"))
            .is_some()
    );
    assert_eq!(
        network.routers[1].route_updates.len(),
        b_updates,
        "B's routes changed during the restart"
    );
}

#[test]
fn restarting_mode_defers_lsas_and_routes() {
    let mut network = Network::new();
    let link = pair(&mut network, p2p("10.0.0.1"), p2p("10.0.0.2"));
    let a_sequence = router_lsa_sequence(&network, 1, "10.0.0.1").unwrap();
    shut_down_a(&mut network, link);
    network.advance(Duration::from_secs(2));

    // B's Hellos are held back, so A learns nothing: it must originate and publish nothing.
    network.restart_router(0, restarting(p2p("10.0.0.1")));
    network.advance(Duration::from_secs(3));
    let a = &network.routers[0].instance;
    assert!(a.is_restarting());
    assert!(
        network.routers[0].route_updates.is_empty(),
        "A published routes while restarting"
    );
    assert!(a.routes().routes.is_empty());
    let own: Vec<_> = network
        .database(0)
        .into_iter()
        .filter(|lsa| lsa.2 == addr("10.0.0.1"))
        .collect();
    assert!(
        own.iter().all(|lsa| lsa.0 == 9),
        "A originated more than grace-LSAs: {own:?}"
    );
    assert_eq!(own.len(), 1);

    // Once the link is back, the adjacency completes and A resumes above its old sequence.
    network.links[link].up = true;
    network.advance(Duration::from_secs(8));
    assert!(!network.routers[0].instance.is_restarting());
    assert!(router_lsa_sequence(&network, 0, "10.0.0.1").unwrap() > a_sequence);
    let updates = &network.routers[0].route_updates;
    assert!(
        !updates.is_empty(),
        "A published no routes after the restart"
    );
    assert!(updates[0].table.get(&net("10.0.0.2/32")).is_some());
    assert!(updates[0].removed.is_empty());
}

#[test]
fn restart_announces_grace_lsa_before_first_hello() {
    let config = restarting(p2p("10.0.0.1"));
    let start = std::time::Instant::now();
    let mut instance = Instance::new(config, start, 1).unwrap();
    let actions = instance.handle(
        Input::InterfaceUpdate(ethernet("eth1", 2, "10.1.12.1/24")),
        start,
    );
    let sends: Vec<&Vec<u8>> = actions
        .iter()
        .filter_map(|action| match action {
            Action::Send { data, .. } => Some(data),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 1, "{actions:?}");
    let packet = Packet::decode(sends[0]).unwrap().packet;
    let PacketBody::LsUpdate(update) = packet.body else {
        panic!("not an LSU: {packet:?}")
    };
    let grace = GraceLsa::from_lsa(&update.lsas[0]).expect("a grace-LSA");
    assert_eq!(grace.grace_period, 60);
    assert_eq!(grace.interface_address, Some(addr("10.1.12.1")));

    let hello = instance.handle(Input::Timer, start);
    assert!(
        hello
            .iter()
            .any(|action| matches!(action, Action::Send { .. })),
        "no Hello after the grace-LSA"
    );
}

#[test]
fn restart_ends_when_grace_period_expires() {
    let mut network = Network::new();
    let mut config_a = restarting(p2p("10.0.0.1"));
    config_a.graceful_restart.grace_period = Duration::from_secs(5);
    network.add_router(
        config_a,
        vec![loopback("10.0.0.1/32"), ethernet("eth1", 2, "10.1.12.1/24")],
    );
    network.advance(Duration::from_secs(4));
    assert!(network.routers[0].instance.is_restarting());
    assert!(network.routers[0].route_updates.is_empty());
    network.advance(Duration::from_secs(2));
    let a = &network.routers[0].instance;
    assert_eq!(
        a.graceful_restart(network.now).last_exit,
        Some(RestartExitReason::GracePeriodExpired)
    );
    assert!(router_lsa_sequence(&network, 0, "10.0.0.1").is_some());
    assert!(a.routes().get(&net("10.1.12.0/24")).is_some());
}

#[test]
fn restart_exits_when_neighbor_refuses_help() {
    // A has two neighbors: B, which does not help, and C, which does; B and C are neighbors too.
    let mut network = Network::new();
    let mut config_b = p2p("10.0.0.2");
    config_b.graceful_restart.helper_enabled = false;
    network.add_router(
        p2p("10.0.0.1"),
        vec![
            loopback("10.0.0.1/32"),
            ethernet("eth1", 2, "10.1.12.1/24"),
            ethernet("eth2", 3, "10.1.13.1/24"),
        ],
    );
    network.add_router(
        config_b,
        vec![
            loopback("10.0.0.2/32"),
            ethernet("eth1", 2, "10.1.12.2/24"),
            ethernet("eth3", 4, "10.1.23.2/24"),
        ],
    );
    network.add_router(
        p2p("10.0.0.3"),
        vec![
            loopback("10.0.0.3/32"),
            ethernet("eth2", 3, "10.1.13.3/24"),
            ethernet("eth3", 4, "10.1.23.3/24"),
        ],
    );
    let to_b = network.link(&[(0, 2), (1, 2)]);
    let to_c = network.link(&[(0, 3), (2, 3)]);
    network.link(&[(1, 4), (2, 4)]);
    network.advance(Duration::from_secs(10));

    let actions = network.routers[0]
        .instance
        .graceful_shutdown(GRACE, network.now);
    network.deliver(0, actions);
    network.advance(Duration::from_millis(600));
    network.links[to_b].up = false;
    network.links[to_c].up = false;
    let rejected = &network.routers[1]
        .instance
        .counters()
        .graceful_restart
        .helper_rejected;
    assert_eq!(rejected.get(&HelperRejectReason::HelperDisabled), Some(&1));
    assert!(helper_of(&network, 2, "10.0.0.1").is_some());

    // B drops A after its dead interval, and its router-LSA without A reaches C, which stops
    // helping because the topology changed.
    network.advance(Duration::from_secs(6));
    assert!(network.neighbor_state(1, addr("10.0.0.1")).is_empty());
    let exits = &network.routers[2]
        .instance
        .counters()
        .graceful_restart
        .helper_exits;
    assert_eq!(
        exits.get(&HelperExitReason::TopologyChanged),
        Some(&1),
        "{exits:?}"
    );

    // A comes back on C's link first and learns B's router-LSA from C: the restart is over.
    network.restart_router(0, restarting(p2p("10.0.0.1")));
    network.links[to_c].up = true;
    network.advance(Duration::from_secs(10));
    let a = &network.routers[0].instance;
    assert_eq!(
        a.graceful_restart(network.now).last_exit,
        Some(RestartExitReason::TopologyChanged)
    );
    assert!(
        !network.routers[0].route_updates.is_empty(),
        "A published no routes after leaving the restart"
    );
    network.links[to_b].up = true;
    network.advance(Duration::from_secs(10));
    assert_eq!(
        network.neighbor_state(0, addr("10.0.0.2")),
        vec![NeighborState::Full]
    );
    assert_eq!(network.database(0), network.database(1));
    assert!(
        network.routers[0]
            .instance
            .routes()
            .get(&net("10.0.0.2/32"))
            .is_some()
    );
}

#[test]
fn helper_exits_when_grace_period_ends() {
    let mut network = Network::new();
    let link = pair(&mut network, p2p("10.0.0.1"), p2p("10.0.0.2"));
    let actions = network.routers[0]
        .instance
        .graceful_shutdown(Duration::from_secs(8), network.now);
    network.deliver(0, actions);
    network.advance(Duration::from_millis(600));
    network.links[link].up = false;

    network.advance(Duration::from_secs(6));
    assert_eq!(
        network.neighbor_state(1, addr("10.0.0.1")),
        vec![NeighborState::Full]
    );
    network.advance(Duration::from_secs(3));
    assert!(
        network.neighbor_state(1, addr("10.0.0.1")).is_empty(),
        "B kept A after the grace period"
    );
    let exits = &network.routers[1]
        .instance
        .counters()
        .graceful_restart
        .helper_exits;
    assert_eq!(exits.get(&HelperExitReason::GracePeriodExpired), Some(&1));
    assert!(
        network.routers[1]
            .instance
            .routes()
            .get(&net("10.0.0.1/32"))
            .is_none()
    );
}

/// Builds A - B - C on point-to-point links and restarts A while C's topology changes.
fn chain(strict_lsa_checking: bool) -> (Network, usize) {
    let mut network = Network::new();
    let mut config_b = p2p("10.0.0.2");
    config_b.graceful_restart.strict_lsa_checking = strict_lsa_checking;
    network.add_router(
        p2p("10.0.0.1"),
        vec![loopback("10.0.0.1/32"), ethernet("eth1", 2, "10.1.12.1/24")],
    );
    network.add_router(
        config_b,
        vec![
            loopback("10.0.0.2/32"),
            ethernet("eth1", 2, "10.1.12.2/24"),
            ethernet("eth2", 3, "10.1.23.2/24"),
        ],
    );
    network.add_router(
        p2p("10.0.0.3"),
        vec![loopback("10.0.0.3/32"), ethernet("eth2", 3, "10.1.23.3/24")],
    );
    let link = network.link(&[(0, 2), (1, 2)]);
    network.link(&[(1, 3), (2, 3)]);
    network.advance(Duration::from_secs(10));
    shut_down_a(&mut network, link);
    network.advance(Duration::from_secs(1));

    // C gains a stub network: its router-LSA changes and reaches B.
    network.routers[2]
        .interfaces
        .push(ethernet("eth9", 9, "10.9.0.3/24"));
    network.input(
        2,
        Input::InterfaceUpdate(ethernet("eth9", 9, "10.9.0.3/24")),
    );
    network.advance(Duration::from_secs(6));
    (network, link)
}

#[test]
fn helper_exits_on_topology_change() {
    let (network, _) = chain(true);
    let exits = &network.routers[1]
        .instance
        .counters()
        .graceful_restart
        .helper_exits;
    assert_eq!(
        exits.get(&HelperExitReason::TopologyChanged),
        Some(&1),
        "{exits:?}"
    );
    assert!(
        network.neighbor_state(1, addr("10.0.0.1")).is_empty(),
        "B kept A after leaving helper mode"
    );
}

#[test]
fn helper_ignores_topology_change_without_strict_checking() {
    let (network, _) = chain(false);
    assert!(helper_of(&network, 1, "10.0.0.1").is_some());
    assert_eq!(
        network.neighbor_state(1, addr("10.0.0.1")),
        vec![NeighborState::Full]
    );
    assert!(
        network.routers[1]
            .instance
            .routes()
            .get(&net("10.9.0.0/24"))
            .is_some()
    );
}

#[test]
fn bfd_down_is_ignored_while_helping() {
    let mut network = Network::new();
    let mut config_b = p2p("10.0.0.2");
    config_b.default_interface.track_bfd = true;
    let link = pair(&mut network, p2p("10.0.0.1"), config_b);
    shut_down_a(&mut network, link);
    network.input(
        1,
        Input::BfdDown {
            ifindex: 2,
            neighbor: addr("10.1.12.1"),
        },
    );
    network.advance(Duration::from_millis(100));
    assert_eq!(
        network.neighbor_state(1, addr("10.0.0.1")),
        vec![NeighborState::Full]
    );
    assert_eq!(
        network.routers[1]
            .instance
            .counters()
            .graceful_restart
            .bfd_down_ignored,
        1
    );
    assert!(network.routers[1].bfd_unregistered.is_empty());
}

/// Builds a Link State Update from A carrying a grace-LSA with `body` at LS age `age`.
fn grace_update(body: Vec<u8>, age: u16) -> Vec<u8> {
    let header = LsaHeader {
        ls_age: age,
        options: Options(Options::E),
        ls_type: LsType::OPAQUE_LINK,
        link_state_id: hna_ospf::lsa::grace::LINK_STATE_ID,
        advertising_router: addr("10.0.0.1"),
        ls_sequence_number: 0x8000_0001u32 as i32,
        ls_checksum: 0,
        length: 0,
    };
    let lsa = Lsa::originate(header, LsaBody::Opaque(body.into()));
    let body = PacketBody::LsUpdate(LsUpdate { lsas: vec![lsa] });
    Packet {
        router_id: addr("10.0.0.1"),
        area_id: Ipv4Addr::UNSPECIFIED,
        auth: AuthHeader::Null,
        body,
    }
    .encode()
}

fn grace_body(grace_period: u32) -> Vec<u8> {
    let grace = GraceLsa {
        grace_period,
        reason: RestartReason::SoftwareReloadOrUpgrade,
        interface_address: None,
    };
    let mut out = Vec::new();
    grace.encode(&mut out);
    out
}

#[test]
fn helper_entry_checks_grace_lsa() {
    let cases: [(Vec<u8>, u16, Option<HelperRejectReason>); 3] = [
        (
            grace_body(30),
            40,
            Some(HelperRejectReason::GracePeriodOver),
        ),
        (
            vec![0, 1, 0, 4, 0, 0, 0, 30],
            0,
            Some(HelperRejectReason::Malformed),
        ),
        (grace_body(30), 10, None),
    ];
    for (body, age, expected) in cases {
        let mut network = Network::new();
        pair(&mut network, p2p("10.0.0.1"), p2p("10.0.0.2"));
        let data = grace_update(body, age);
        network.input(
            1,
            Input::Packet {
                ifindex: 2,
                source: addr("10.1.12.1"),
                destination: addr("224.0.0.5"),
                data,
            },
        );
        let counters = network.routers[1]
            .instance
            .counters()
            .graceful_restart
            .clone();
        match expected {
            Some(reason) => {
                assert_eq!(
                    counters.helper_rejected.get(&reason),
                    Some(&1),
                    "{counters:?}"
                );
                assert!(helper_of(&network, 1, "10.0.0.1").is_none());
            }
            None => {
                assert_eq!(counters.helper_entered, 1);
                let helper = helper_of(&network, 1, "10.0.0.1").expect("helping");
                assert_eq!(helper.reason, RestartReason::SoftwareReloadOrUpgrade);
                assert_eq!(
                    helper.grace_remaining_ms, 20_000,
                    "grace period 30 s less LS age 10 s"
                );
            }
        }
    }
}

#[test]
fn helper_exits_when_grace_lsa_is_flushed() {
    let mut network = Network::new();
    pair(&mut network, p2p("10.0.0.1"), p2p("10.0.0.2"));
    let data = grace_update(grace_body(30), 1);
    network.input(
        1,
        Input::Packet {
            ifindex: 2,
            source: addr("10.1.12.1"),
            destination: addr("224.0.0.5"),
            data,
        },
    );
    assert!(helper_of(&network, 1, "10.0.0.1").is_some());
    // Past MinLSArrival, so that the flushed instance is accepted.
    network.advance(Duration::from_millis(100));
    let data = grace_update(grace_body(30), hna_ospf::lsa::MAX_AGE);
    network.input(
        1,
        Input::Packet {
            ifindex: 2,
            source: addr("10.1.12.1"),
            destination: addr("224.0.0.5"),
            data,
        },
    );
    assert!(helper_of(&network, 1, "10.0.0.1").is_none());
    let exits = &network.routers[1]
        .instance
        .counters()
        .graceful_restart
        .helper_exits;
    assert_eq!(
        exits.get(&HelperExitReason::GraceLsaFlushed),
        Some(&1),
        "{exits:?}"
    );
}

#[test]
fn broadcast_dr_restart_keeps_roles_and_routes() {
    let mut network = Network::new();
    let mut config_a = config("10.0.0.1", NetworkType::Broadcast);
    config_a.default_interface.priority = 100;
    let config_b = config("10.0.0.2", NetworkType::Broadcast);
    network.add_router(
        config_a.clone(),
        vec![loopback("10.0.0.1/32"), ethernet("eth0", 2, "10.2.0.1/24")],
    );
    network.add_router(
        config_b,
        vec![loopback("10.0.0.2/32"), ethernet("eth0", 2, "10.2.0.2/24")],
    );
    let link = network.link(&[(0, 2), (1, 2)]);
    network.advance(Duration::from_secs(15));
    assert_eq!(
        network.routers[1].instance.interfaces()[1].designated_router,
        addr("10.2.0.1")
    );
    let network_lsa = |network: &Network, router| {
        network
            .database(router)
            .into_iter()
            .find(|lsa| lsa.0 == 2 && lsa.1 == addr("10.2.0.1"))
            .map(|lsa| lsa.3)
    };
    let before = network_lsa(&network, 1).expect("A's network-LSA");
    let b_updates = network.routers[1].route_updates.len();

    shut_down_a(&mut network, link);
    network.advance(Duration::from_secs(6));
    assert_eq!(
        network.neighbor_state(1, addr("10.0.0.1")),
        vec![NeighborState::Full]
    );
    assert_eq!(
        network.routers[1].instance.interfaces()[1].designated_router,
        addr("10.2.0.1")
    );

    network.restart_router(0, restarting(config_a));
    network.links[link].up = true;
    network.advance(Duration::from_secs(10));
    let a = &network.routers[0].instance;
    assert_eq!(
        a.graceful_restart(network.now).last_exit,
        Some(RestartExitReason::AdjacenciesRestored)
    );
    assert_eq!(a.interfaces()[1].state, hna_ospf::InterfaceState::Dr);
    assert_eq!(
        network.routers[1].instance.interfaces()[1].designated_router,
        addr("10.2.0.1")
    );
    assert!(network_lsa(&network, 1).unwrap() > before);
    assert_eq!(network.database(0), network.database(1));
    assert_eq!(
        network.routers[1].route_updates.len(),
        b_updates,
        "B's routes changed during the restart"
    );
    assert!(a.routes().get(&net("10.0.0.2/32")).is_some());
}
