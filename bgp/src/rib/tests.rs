use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use hna_evpn::{
    EthernetTag, EvpnRoute, ExtendedCommunity, InclusiveMulticastRoute, Label, RouteDistinguisher,
    RouteTarget,
};

use super::*;
use crate::message::{
    AsPath, AsSegment, AsSegmentType, Community, MpReach, Origin, PathNlri, Update,
};
use crate::policy::{Action, Match, PrefixList, PrefixListEntry, RouteMap, RouteMapEntry, Set};
use crate::wire::{DecodedMessage, decode_message};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("valid address in test")
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().expect("valid IPv4 address in test")
}

const LOCAL_AS: u32 = 65000;

fn local_info() -> LocalInfo {
    LocalInfo {
        asn: LOCAL_AS,
        router_id: v4("10.0.0.1"),
        cluster_id: v4("10.0.0.1"),
        ebgp_requires_policy: false,
    }
}

fn new_rib() -> Rib {
    Rib::new(local_info(), Arc::new(PolicySet::default()))
}

fn peer_info(id: u32, address: &str, remote_as: u32) -> PeerInfo {
    PeerInfo {
        id: PeerId(id),
        address: ip(address),
        local_address: ip("192.0.2.1"),
        remote_as,
        bgp_identifier: Ipv4Addr::new(10, 9, 9, id as u8),
        send_context: SessionContext {
            four_octet_as: true,
            ..Default::default()
        },
        families: vec![PeerFamily::new(AfiSafi::IPV4_UNICAST)],
    }
}

fn with_family(mut info: PeerInfo, edit: impl Fn(&mut PeerFamily)) -> PeerInfo {
    for f in &mut info.families {
        edit(f);
    }
    info
}

fn attrs_with_path(asns: &[u32]) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(if asns.is_empty() {
            AsPath::default()
        } else {
            AsPath::sequence(asns.to_vec())
        }),
        ..Default::default()
    }
}

fn announce_v4(prefixes: &[&str], next_hop: &str, attrs: PathAttributes) -> DecodedUpdate {
    let mut attributes = attrs;
    attributes.origin.get_or_insert(Origin::Igp);
    attributes.as_path.get_or_insert_with(AsPath::default);
    attributes.next_hop = Some(v4(next_hop));
    DecodedUpdate {
        update: Update {
            attributes,
            nlri: prefixes
                .iter()
                .map(|p| PathNlri::new(p.parse().expect("valid prefix")))
                .collect(),
            ..Default::default()
        },
        action: UpdateAction::None,
        errors: Vec::new(),
    }
}

fn withdraw_v4(prefixes: &[&str]) -> DecodedUpdate {
    DecodedUpdate {
        update: Update {
            withdrawn: prefixes
                .iter()
                .map(|p| PathNlri::new(p.parse().expect("valid prefix")))
                .collect(),
            ..Default::default()
        },
        action: UpdateAction::None,
        errors: Vec::new(),
    }
}

fn end_of_rib_v4() -> DecodedUpdate {
    DecodedUpdate {
        update: Update::end_of_rib(AfiSafi::IPV4_UNICAST),
        action: UpdateAction::None,
        errors: Vec::new(),
    }
}

fn receive(rib: &mut Rib, peer: u32, update: DecodedUpdate) {
    rib.receive(Instant::now(), PeerId(peer), &update)
        .expect("no maximum-prefix configured");
}

fn route<'a>(table: &'a TableSnapshot, prefix: &str) -> Option<&'a RouteSnapshot> {
    table.routes.iter().find(|r| r.prefix == prefix)
}

fn best_of(rib: &Rib, prefix: &str) -> Option<PathSnapshot> {
    let table = rib.table(AfiSafi::IPV4_UNICAST);
    route(&table, prefix)?
        .paths
        .iter()
        .find(|p| p.best)
        .cloned()
}

/// Decodes every message queued for a peer into UPDATEs.
fn sent_updates(rib: &mut Rib, peer: u32) -> Vec<Update> {
    let ctx = SessionContext {
        four_octet_as: true,
        ..Default::default()
    };
    rib.take_updates(PeerId(peer))
        .iter()
        .map(|m| match decode_message(m, &ctx) {
            Ok(DecodedMessage::Update(u)) => {
                assert_eq!(u.action, UpdateAction::None, "we sent a malformed UPDATE");
                u.update
            }
            other => panic!("not an UPDATE: {other:?}"),
        })
        .collect()
}

/// Returns the IPv4 prefixes announced in `updates` with their attributes.
fn announced(updates: &[Update]) -> Vec<(String, PathAttributes)> {
    updates
        .iter()
        .flat_map(|u| {
            u.nlri
                .iter()
                .map(|n| (n.nlri.to_string(), u.attributes.clone()))
        })
        .collect()
}

fn withdrawn(updates: &[Update]) -> Vec<String> {
    updates
        .iter()
        .flat_map(|u| u.withdrawn.iter().map(|n| n.nlri.to_string()))
        .collect()
}

fn end_of_ribs(updates: &[Update]) -> usize {
    updates
        .iter()
        .filter(|u| u.end_of_rib_family().is_some())
        .count()
}

// ---------------------------------------------------------------------------------------
// Decision process, one step at a time.

/// One candidate path of a decision case.
#[derive(Clone)]
struct Candidate {
    address: &'static str,
    remote_as: u32,
    router_id: &'static str,
    next_hop: &'static str,
    attrs: PathAttributes,
    /// The IGP metric reported for the next hop; `Some(None)` reports it unreachable.
    igp: Option<Option<u32>>,
}

fn ibgp(address: &'static str, router_id: &'static str, next_hop: &'static str) -> Candidate {
    Candidate {
        address,
        remote_as: LOCAL_AS,
        router_id,
        next_hop,
        attrs: attrs_with_path(&[]),
        igp: None,
    }
}

fn ebgp(address: &'static str, remote_as: u32, next_hop: &'static str) -> Candidate {
    Candidate {
        address,
        remote_as,
        router_id: address,
        next_hop,
        attrs: attrs_with_path(&[remote_as]),
        igp: None,
    }
}

impl Candidate {
    fn attrs(mut self, edit: impl FnOnce(&mut PathAttributes)) -> Candidate {
        edit(&mut self.attrs);
        self
    }

    fn igp(mut self, metric: Option<u32>) -> Candidate {
        self.igp = Some(metric);
        self
    }
}

/// Runs the decision over two candidates, announced in both orders, and returns the address
/// of the winner and the deciding step.
fn decide(a: &Candidate, b: &Candidate) -> (IpAddr, String) {
    let mut outcomes = Vec::new();
    for order in [[a, b], [b, a]] {
        let mut rib = new_rib();
        for (i, c) in order.iter().enumerate() {
            let mut info = peer_info(i as u32 + 1, c.address, c.remote_as);
            info.bgp_identifier = v4(c.router_id);
            rib.peer_up(Instant::now(), info);
            receive(
                &mut rib,
                i as u32 + 1,
                announce_v4(&["10.10.0.0/16"], c.next_hop, c.attrs.clone()),
            );
        }
        for c in order {
            if let Some(metric) = c.igp {
                rib.nexthop_update(ip(c.next_hop), metric);
            }
        }
        let table = rib.table(AfiSafi::IPV4_UNICAST);
        let r = route(&table, "10.10.0.0/16").expect("route present");
        let best = r.paths.iter().find(|p| p.best).expect("a best path");
        outcomes.push((
            best.peer.expect("learned path"),
            r.selection_reason.clone().expect("reason with a best"),
        ));
    }
    assert_eq!(outcomes[0], outcomes[1], "result depends on arrival order");
    outcomes.remove(0)
}

#[test]
fn decision_each_step_in_isolation() {
    let base = ibgp("192.0.2.10", "10.9.9.10", "172.16.0.10");
    let other = ibgp("192.0.2.20", "10.9.9.20", "172.16.0.20");
    let cases: Vec<(&str, Candidate, Candidate, &str, &str)> = vec![
        (
            "unreachable next hop loses",
            base.clone().igp(None),
            other.clone().igp(Some(50)),
            "192.0.2.20",
            "NexthopReachable",
        ),
        (
            "higher local preference wins",
            base.clone().attrs(|a| a.local_pref = Some(90)),
            other.clone().attrs(|a| a.local_pref = Some(200)),
            "192.0.2.20",
            "LocalPref",
        ),
        (
            "missing local preference counts as 100",
            base.clone().attrs(|a| a.local_pref = None),
            other.clone().attrs(|a| a.local_pref = Some(99)),
            "192.0.2.10",
            "LocalPref",
        ),
        (
            "shorter AS path wins",
            base.clone()
                .attrs(|a| a.as_path = Some(AsPath::sequence(vec![1, 2]))),
            other
                .clone()
                .attrs(|a| a.as_path = Some(AsPath::sequence(vec![3]))),
            "192.0.2.20",
            "AsPathLength",
        ),
        (
            "AS_SET counts one",
            base.clone().attrs(|a| {
                a.as_path = Some(AsPath {
                    segments: vec![
                        AsSegment {
                            segment_type: AsSegmentType::Sequence,
                            asns: vec![1],
                        },
                        AsSegment {
                            segment_type: AsSegmentType::Set,
                            asns: vec![7, 8, 9],
                        },
                    ],
                })
            }),
            other
                .clone()
                .attrs(|a| a.as_path = Some(AsPath::sequence(vec![3, 4, 5]))),
            "192.0.2.10",
            "AsPathLength",
        ),
        (
            "confederation segments count zero",
            base.clone().attrs(|a| {
                a.as_path = Some(AsPath {
                    segments: vec![
                        AsSegment {
                            segment_type: AsSegmentType::ConfedSequence,
                            asns: vec![64512, 64513, 64514],
                        },
                        AsSegment {
                            segment_type: AsSegmentType::Sequence,
                            asns: vec![1],
                        },
                    ],
                })
            }),
            other
                .clone()
                .attrs(|a| a.as_path = Some(AsPath::sequence(vec![3, 4]))),
            "192.0.2.10",
            "AsPathLength",
        ),
        (
            "lower origin wins",
            base.clone().attrs(|a| a.origin = Some(Origin::Incomplete)),
            other.clone().attrs(|a| a.origin = Some(Origin::Egp)),
            "192.0.2.20",
            "Origin",
        ),
        (
            "lower MED wins from the same neighbor AS",
            base.clone().attrs(|a| {
                a.as_path = Some(AsPath::sequence(vec![65100]));
                a.med = Some(20);
            }),
            other.clone().attrs(|a| {
                a.as_path = Some(AsPath::sequence(vec![65100]));
                a.med = Some(10);
            }),
            "192.0.2.20",
            "Med",
        ),
        (
            "missing MED counts as zero",
            base.clone().attrs(|a| {
                a.as_path = Some(AsPath::sequence(vec![65100]));
                a.med = None;
            }),
            other.clone().attrs(|a| {
                a.as_path = Some(AsPath::sequence(vec![65100]));
                a.med = Some(1);
            }),
            "192.0.2.10",
            "Med",
        ),
        (
            "MED ignored between neighbor ASes",
            base.clone().attrs(|a| {
                a.as_path = Some(AsPath::sequence(vec![65100]));
                a.med = Some(1);
            }),
            other.clone().attrs(|a| {
                a.as_path = Some(AsPath::sequence(vec![65200]));
                a.med = Some(500);
            }),
            "192.0.2.10",
            "RouterId",
        ),
        (
            "eBGP beats iBGP",
            base.clone()
                .attrs(|a| a.as_path = Some(AsPath::sequence(vec![65100]))),
            ebgp("198.51.100.2", 65100, "198.51.100.2"),
            "198.51.100.2",
            "EbgpOverIbgp",
        ),
        (
            "lower IGP cost wins",
            base.clone().igp(Some(30)),
            other.clone().igp(Some(20)),
            "192.0.2.20",
            "IgpCost",
        ),
        (
            "lower router id wins",
            ibgp("192.0.2.10", "10.9.9.50", "172.16.0.10"),
            ibgp("192.0.2.20", "10.9.9.40", "172.16.0.20"),
            "192.0.2.20",
            "RouterId",
        ),
        (
            "originator id replaces router id",
            ibgp("192.0.2.10", "10.9.9.1", "172.16.0.10")
                .attrs(|a| a.originator_id = Some(v4("10.200.0.1"))),
            ibgp("192.0.2.20", "10.9.9.40", "172.16.0.20"),
            "192.0.2.20",
            "RouterId",
        ),
        (
            "shorter cluster list wins",
            ibgp("192.0.2.10", "10.9.9.1", "172.16.0.10").attrs(|a| {
                a.originator_id = Some(v4("10.200.0.1"));
                a.cluster_list = Some(vec![v4("10.0.0.7"), v4("10.0.0.8")]);
            }),
            ibgp("192.0.2.20", "10.9.9.2", "172.16.0.20").attrs(|a| {
                a.originator_id = Some(v4("10.200.0.1"));
                a.cluster_list = Some(vec![v4("10.0.0.9")]);
            }),
            "192.0.2.20",
            "ClusterListLength",
        ),
        (
            "lower neighbor address wins",
            ibgp("192.0.2.30", "10.9.9.1", "172.16.0.10")
                .attrs(|a| a.originator_id = Some(v4("10.200.0.1"))),
            ibgp("192.0.2.20", "10.9.9.2", "172.16.0.20")
                .attrs(|a| a.originator_id = Some(v4("10.200.0.1"))),
            "192.0.2.20",
            "NeighborAddress",
        ),
    ];
    for (name, a, b, winner, step) in cases {
        let (best, reason) = decide(&a, &b);
        assert_eq!(best, ip(winner), "{name}: wrong winner");
        assert_eq!(reason, step, "{name}: wrong deciding step");
    }
}

#[test]
fn decision_med_elimination_is_per_neighbor_as() {
    // Three paths: A (AS 1, MED 10), B (AS 1, MED 5), C (AS 2, MED 0). B removes A; then B and
    // C tie until the router id, which C wins.
    let mut rib = new_rib();
    let specs = [
        (1, "192.0.2.10", "10.9.9.30", 1u32, 10u32),
        (2, "192.0.2.11", "10.9.9.20", 1, 5),
        (3, "192.0.2.12", "10.9.9.10", 2, 0),
    ];
    for (id, address, router_id, asn, med) in specs {
        let mut info = peer_info(id, address, LOCAL_AS);
        info.bgp_identifier = v4(router_id);
        rib.peer_up(Instant::now(), info);
        let mut attrs = attrs_with_path(&[asn]);
        attrs.med = Some(med);
        receive(
            &mut rib,
            id,
            announce_v4(&["10.20.0.0/16"], "172.16.0.1", attrs),
        );
    }
    let best = best_of(&rib, "10.20.0.0/16").expect("best path");
    assert_eq!(best.peer, Some(ip("192.0.2.12")));
}

#[test]
fn decision_local_route_beats_higher_local_pref() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.2", LOCAL_AS));
    let mut learned = attrs_with_path(&[]);
    learned.local_pref = Some(500);
    receive(
        &mut rib,
        1,
        announce_v4(&["10.30.0.0/16"], "192.0.2.2", learned),
    );
    rib.originate(
        AfiSafi::IPV4_UNICAST,
        Route::Ipv4("10.30.0.0/16".parse().expect("valid prefix")),
        PathAttributes::default(),
    );
    let table = rib.table(AfiSafi::IPV4_UNICAST);
    let r = route(&table, "10.30.0.0/16").expect("route present");
    let best = r.paths.iter().find(|p| p.best).expect("best path");
    assert!(best.local);
    assert_eq!(r.selection_reason.as_deref(), Some("LocallyOriginated"));

    rib.withdraw_local(
        AfiSafi::IPV4_UNICAST,
        &Route::Ipv4("10.30.0.0/16".parse().expect("valid prefix")),
    );
    assert_eq!(
        best_of(&rib, "10.30.0.0/16").and_then(|p| p.peer),
        Some(ip("192.0.2.2"))
    );
}

// ---------------------------------------------------------------------------------------
// Route reflection and split horizon.

fn rr_setup() -> Rib {
    let mut rib = new_rib();
    let now = Instant::now();
    let client = |id, addr| {
        with_family(peer_info(id, addr, LOCAL_AS), |f| {
            f.route_reflector_client = true
        })
    };
    rib.peer_up(now, client(1, "192.0.2.11"));
    rib.peer_up(now, client(2, "192.0.2.12"));
    rib.peer_up(now, peer_info(3, "192.0.2.13", LOCAL_AS));
    rib.peer_up(now, peer_info(4, "192.0.2.14", LOCAL_AS));
    for id in 1..=4 {
        let initial = sent_updates(&mut rib, id);
        assert_eq!(end_of_ribs(&initial), 1, "peer {id} gets End-of-RIB");
    }
    rib
}

#[test]
fn reflector_client_route_reflected_to_all() {
    let mut rib = rr_setup();
    let mut attrs = attrs_with_path(&[65100]);
    attrs.med = Some(7);
    attrs.communities = Some(vec![Community(65000 << 16 | 5)]);
    receive(
        &mut rib,
        1,
        announce_v4(&["10.40.0.0/16"], "172.16.1.1", attrs),
    );
    for id in 2..=4 {
        let sent = announced(&sent_updates(&mut rib, id));
        assert_eq!(sent.len(), 1, "peer {id} gets the reflected route");
        let (prefix, a) = &sent[0];
        assert_eq!(prefix, "10.40.0.0/16");
        assert_eq!(a.next_hop, Some(v4("172.16.1.1")), "next hop kept");
        assert_eq!(a.originator_id, Some(Ipv4Addr::new(10, 9, 9, 1)));
        assert_eq!(a.cluster_list, Some(vec![v4("10.0.0.1")]));
        assert_eq!(a.med, Some(7));
        assert_eq!(a.local_pref, Some(DEFAULT_LOCAL_PREF));
        assert_eq!(a.as_path, Some(AsPath::sequence(vec![65100])));
        assert_eq!(a.communities, Some(vec![Community(65000 << 16 | 5)]));
    }
}

#[test]
fn reflector_non_client_route_goes_to_clients_only() {
    let mut rib = rr_setup();
    receive(
        &mut rib,
        3,
        announce_v4(&["10.41.0.0/16"], "172.16.1.3", attrs_with_path(&[])),
    );
    for id in [1, 2] {
        let sent = announced(&sent_updates(&mut rib, id));
        assert_eq!(sent.len(), 1, "client {id} gets the route");
        assert_eq!(sent[0].1.cluster_list, Some(vec![v4("10.0.0.1")]));
    }
    assert!(
        announced(&sent_updates(&mut rib, 4)).is_empty(),
        "non-client to non-client"
    );
}

#[test]
fn ibgp_split_horizon_without_clients() {
    let mut rib = new_rib();
    let now = Instant::now();
    rib.peer_up(now, peer_info(1, "192.0.2.11", LOCAL_AS));
    rib.peer_up(now, peer_info(2, "192.0.2.12", LOCAL_AS));
    rib.peer_up(now, peer_info(3, "198.51.100.3", 65300));
    for id in 1..=3 {
        sent_updates(&mut rib, id);
    }
    receive(
        &mut rib,
        1,
        announce_v4(&["10.42.0.0/16"], "172.16.1.1", attrs_with_path(&[])),
    );
    assert!(announced(&sent_updates(&mut rib, 2)).is_empty());
    let to_ebgp = announced(&sent_updates(&mut rib, 3));
    assert_eq!(to_ebgp.len(), 1);
    let a = &to_ebgp[0].1;
    assert_eq!(a.as_path, Some(AsPath::sequence(vec![LOCAL_AS])));
    assert_eq!(
        a.next_hop,
        Some(v4("192.0.2.1")),
        "eBGP next hop is our address"
    );
    assert_eq!(a.local_pref, None, "no LOCAL_PREF to eBGP");
}

#[test]
fn reflector_drops_own_originator_or_cluster() {
    let mut rib = rr_setup();
    let mut own = attrs_with_path(&[]);
    own.originator_id = Some(v4("10.0.0.1"));
    receive(
        &mut rib,
        3,
        announce_v4(&["10.43.0.0/16"], "172.16.1.3", own),
    );
    let mut looped = attrs_with_path(&[]);
    looped.originator_id = Some(v4("10.77.0.1"));
    looped.cluster_list = Some(vec![v4("10.0.0.99"), v4("10.0.0.1")]);
    receive(
        &mut rib,
        3,
        announce_v4(&["10.44.0.0/16"], "172.16.1.3", looped),
    );
    let table = rib.table(AfiSafi::IPV4_UNICAST);
    assert!(route(&table, "10.43.0.0/16").is_none());
    assert!(route(&table, "10.44.0.0/16").is_none());
}

#[test]
fn looped_update_replaces_earlier_path() {
    let mut rib = rr_setup();
    receive(
        &mut rib,
        3,
        announce_v4(&["10.45.0.0/16"], "172.16.1.3", attrs_with_path(&[])),
    );
    assert!(best_of(&rib, "10.45.0.0/16").is_some());
    let mut looped = attrs_with_path(&[]);
    looped.cluster_list = Some(vec![v4("10.0.0.1")]);
    receive(
        &mut rib,
        3,
        announce_v4(&["10.45.0.0/16"], "172.16.1.3", looped),
    );
    assert!(best_of(&rib, "10.45.0.0/16").is_none());
}

#[test]
fn ebgp_as_path_loop_dropped() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "198.51.100.1", 65100));
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.46.0.0/16"],
            "198.51.100.1",
            attrs_with_path(&[65100, LOCAL_AS, 7]),
        ),
    );
    assert!(best_of(&rib, "10.46.0.0/16").is_none());
}

#[test]
fn withdrawal_sent_when_best_moves_to_unsendable_path() {
    // The best path comes from client 1 and is reflected to non-client 4. Then a better path
    // arrives from non-client 3, which must not go to non-client 4, so 4 gets a withdrawal.
    let mut rib = rr_setup();
    receive(
        &mut rib,
        1,
        announce_v4(&["10.47.0.0/16"], "172.16.1.1", attrs_with_path(&[])),
    );
    assert_eq!(announced(&sent_updates(&mut rib, 4)).len(), 1);
    let mut better = attrs_with_path(&[]);
    better.local_pref = Some(300);
    receive(
        &mut rib,
        3,
        announce_v4(&["10.47.0.0/16"], "172.16.1.3", better),
    );
    let updates = sent_updates(&mut rib, 4);
    assert_eq!(withdrawn(&updates), vec!["10.47.0.0/16".to_string()]);
    assert!(announced(&updates).is_empty());
}

// ---------------------------------------------------------------------------------------
// Update groups.

#[test]
fn update_groups_share_encoding_by_policy() {
    let mut policy = PolicySet::default();
    policy.route_maps.insert(
        "OUT".into(),
        RouteMap::new(vec![RouteMapEntry {
            seq: 10,
            action: Action::Permit,
            matches: vec![],
            sets: vec![Set::Med(42)],
        }]),
    );
    let mut rib = Rib::new(local_info(), Arc::new(policy));
    let now = Instant::now();
    rib.peer_up(now, peer_info(1, "198.51.100.1", 65100));
    rib.peer_up(now, peer_info(2, "198.51.100.2", 65200));
    rib.peer_up(now, peer_info(3, "198.51.100.3", 65300));
    rib.peer_up(
        now,
        with_family(peer_info(4, "198.51.100.4", 65400), |f| {
            f.route_map_out = Some("OUT".into())
        }),
    );
    for id in 1..=4 {
        sent_updates(&mut rib, id);
    }
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.50.0.0/16", "10.51.0.0/16"],
            "198.51.100.1",
            attrs_with_path(&[65100]),
        ),
    );

    let groups = rib.update_groups(AfiSafi::IPV4_UNICAST);
    assert_eq!(groups.len(), 2);
    let shared = groups
        .iter()
        .find(|g| g.route_map_out.is_none())
        .expect("group without route-map");
    assert_eq!(shared.members, vec![1, 2, 3]);
    let own = groups
        .iter()
        .find(|g| g.route_map_out.is_some())
        .expect("group with route-map");
    assert_eq!(own.members, vec![4]);

    let before = shared.messages_encoded;
    let to2 = rib.take_updates(PeerId(2));
    let to3 = rib.take_updates(PeerId(3));
    assert_eq!(
        to2.len(),
        1,
        "two prefixes with one attribute set pack into one UPDATE"
    );
    assert_eq!(to2, to3, "same bytes for the members of one group");
    let groups = rib.update_groups(AfiSafi::IPV4_UNICAST);
    let shared_after = groups
        .iter()
        .find(|g| g.route_map_out.is_none())
        .expect("group without route-map");
    assert_eq!(
        shared_after.messages_encoded - before,
        1,
        "one encoding for three members"
    );

    let to4 = sent_updates(&mut rib, 4);
    let sent = announced(&to4);
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|(_, a)| a.med == Some(42)));
}

#[test]
fn update_group_encodes_once_for_members() {
    let mut rib = new_rib();
    let now = Instant::now();
    rib.peer_up(now, peer_info(1, "198.51.100.1", 65100));
    rib.peer_up(now, peer_info(2, "198.51.100.2", 65200));
    rib.peer_up(now, peer_info(3, "198.51.100.3", 65300));
    for id in 1..=3 {
        sent_updates(&mut rib, id);
    }
    let encoded_before: u64 = rib
        .update_groups(AfiSafi::IPV4_UNICAST)
        .iter()
        .map(|g| g.messages_encoded)
        .sum();
    receive(
        &mut rib,
        1,
        announce_v4(&["10.52.0.0/16"], "198.51.100.1", attrs_with_path(&[65100])),
    );
    let m2 = rib.take_updates(PeerId(2));
    let m3 = rib.take_updates(PeerId(3));
    let encoded_after: u64 = rib
        .update_groups(AfiSafi::IPV4_UNICAST)
        .iter()
        .map(|g| g.messages_encoded)
        .sum();
    assert_eq!(m2.len(), 1);
    assert_eq!(m2, m3);
    assert_eq!(
        encoded_after - encoded_before,
        1,
        "one encoding for three members"
    );
}

#[test]
fn joining_peer_gets_table_and_end_of_rib() {
    let mut rib = new_rib();
    let now = Instant::now();
    rib.peer_up(now, peer_info(1, "198.51.100.1", 65100));
    sent_updates(&mut rib, 1);
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.53.0.0/16", "10.54.0.0/16"],
            "198.51.100.1",
            attrs_with_path(&[65100]),
        ),
    );
    rib.peer_up(now, peer_info(2, "198.51.100.2", 65200));
    let updates = sent_updates(&mut rib, 2);
    let prefixes: Vec<String> = announced(&updates).into_iter().map(|(p, _)| p).collect();
    assert_eq!(prefixes, vec!["10.53.0.0/16", "10.54.0.0/16"]);
    assert_eq!(end_of_ribs(&updates), 1);
    assert!(
        updates
            .last()
            .is_some_and(|u| u.end_of_rib_family().is_some()),
        "End-of-RIB comes last"
    );

    // Route refresh: the same table again, then End-of-RIB.
    rib.route_refresh(PeerId(2), AfiSafi::IPV4_UNICAST);
    let again = sent_updates(&mut rib, 2);
    assert_eq!(announced(&again).len(), 2);
    assert_eq!(end_of_ribs(&again), 1);
}

// ---------------------------------------------------------------------------------------
// Next-hop tracking.

#[test]
fn nexthop_unreachable_deselects_and_returns() {
    let mut rib = new_rib();
    let now = Instant::now();
    rib.peer_up(now, peer_info(1, "192.0.2.11", LOCAL_AS));
    rib.peer_up(now, peer_info(2, "198.51.100.2", 65200));
    sent_updates(&mut rib, 2);
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.60.0.0/16", "10.61.0.0/16"],
            "172.16.9.9",
            attrs_with_path(&[]),
        ),
    );
    receive(
        &mut rib,
        1,
        announce_v4(&["10.62.0.0/16"], "172.16.9.8", attrs_with_path(&[])),
    );
    let events = rib.take_events();
    assert!(events.contains(&RibEvent::TrackNexthop(ip("172.16.9.9"))));
    assert!(events.contains(&RibEvent::TrackNexthop(ip("172.16.9.8"))));
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, RibEvent::TrackNexthop(_)))
            .count(),
        2,
        "one track per next hop"
    );
    assert_eq!(announced(&sent_updates(&mut rib, 2)).len(), 3);

    rib.nexthop_update(ip("172.16.9.9"), None);
    assert!(best_of(&rib, "10.60.0.0/16").is_none());
    assert!(best_of(&rib, "10.61.0.0/16").is_none());
    assert!(
        best_of(&rib, "10.62.0.0/16").is_some(),
        "other next hop unaffected"
    );
    let events = rib.take_events();
    let lost: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RibEvent::BestChanged {
                route, best: None, ..
            } => Some(route.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(lost.len(), 2, "only the routes of that next hop re-run");
    let mut w = withdrawn(&sent_updates(&mut rib, 2));
    w.sort();
    assert_eq!(w, vec!["10.60.0.0/16", "10.61.0.0/16"]);

    rib.nexthop_update(ip("172.16.9.9"), Some(10));
    let best = best_of(&rib, "10.60.0.0/16").expect("selected again");
    assert_eq!(best.igp_metric, Some(10));
    assert_eq!(announced(&sent_updates(&mut rib, 2)).len(), 2);
}

#[test]
fn nexthop_untracked_after_last_path() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.63.0.0/16", "10.64.0.0/16"],
            "172.16.9.7",
            attrs_with_path(&[]),
        ),
    );
    rib.take_events();
    receive(&mut rib, 1, withdraw_v4(&["10.63.0.0/16"]));
    assert!(
        !rib.take_events()
            .contains(&RibEvent::UntrackNexthop(ip("172.16.9.7")))
    );
    receive(&mut rib, 1, withdraw_v4(&["10.64.0.0/16"]));
    assert!(
        rib.take_events()
            .contains(&RibEvent::UntrackNexthop(ip("172.16.9.7")))
    );
}

#[test]
fn local_address_next_hop_untracked() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    rib.take_events();
    // 192.0.2.1 is our end of the session: a next hop there needs no tracking.
    receive(
        &mut rib,
        1,
        announce_v4(&["10.130.0.0/16"], "192.0.2.1", attrs_with_path(&[])),
    );
    let events = rib.take_events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RibEvent::TrackNexthop(_)))
    );
    rib.nexthop_update(ip("192.0.2.1"), None);
    assert!(
        best_of(&rib, "10.130.0.0/16").is_some(),
        "untracked next hops stay reachable"
    );

    receive(
        &mut rib,
        1,
        announce_v4(&["10.131.0.0/16"], "192.0.2.99", attrs_with_path(&[])),
    );
    assert!(
        rib.take_events()
            .contains(&RibEvent::TrackNexthop(ip("192.0.2.99")))
    );
}

#[test]
fn nexthop_cost_change_reselects() {
    let a = ibgp("192.0.2.10", "10.9.9.10", "172.16.0.10").igp(Some(10));
    let b = ibgp("192.0.2.20", "10.9.9.20", "172.16.0.20").igp(Some(20));
    let mut rib = new_rib();
    for (i, c) in [&a, &b].iter().enumerate() {
        let mut info = peer_info(i as u32 + 1, c.address, c.remote_as);
        info.bgp_identifier = v4(c.router_id);
        rib.peer_up(Instant::now(), info);
        receive(
            &mut rib,
            i as u32 + 1,
            announce_v4(&["10.65.0.0/16"], c.next_hop, c.attrs.clone()),
        );
    }
    rib.nexthop_update(ip("172.16.0.10"), Some(10));
    rib.nexthop_update(ip("172.16.0.20"), Some(20));
    assert_eq!(
        best_of(&rib, "10.65.0.0/16").and_then(|p| p.peer),
        Some(ip("192.0.2.10"))
    );
    rib.nexthop_update(ip("172.16.0.10"), Some(30));
    assert_eq!(
        best_of(&rib, "10.65.0.0/16").and_then(|p| p.peer),
        Some(ip("192.0.2.20"))
    );
}

// ---------------------------------------------------------------------------------------
// Graceful restart, RFC 7606 actions, maximum-prefix.

#[test]
fn graceful_restart_end_of_rib_sweeps() {
    let mut rib = new_rib();
    let now = Instant::now();
    rib.peer_up(now, peer_info(1, "192.0.2.11", LOCAL_AS));
    rib.peer_up(now, peer_info(2, "198.51.100.2", 65200));
    sent_updates(&mut rib, 2);
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.70.0.0/16", "10.71.0.0/16"],
            "172.16.2.1",
            attrs_with_path(&[]),
        ),
    );
    sent_updates(&mut rib, 2);

    rib.peer_down(PeerId(1), &[AfiSafi::IPV4_UNICAST]);
    let stale = best_of(&rib, "10.70.0.0/16").expect("kept");
    assert!(stale.stale);
    assert!(
        sent_updates(&mut rib, 2).is_empty(),
        "nothing withdrawn during the restart"
    );

    rib.peer_up(now, peer_info(1, "192.0.2.11", LOCAL_AS));
    receive(
        &mut rib,
        1,
        announce_v4(&["10.70.0.0/16"], "172.16.2.1", attrs_with_path(&[])),
    );
    assert!(
        !best_of(&rib, "10.70.0.0/16").expect("present").stale,
        "replaced by a fresh path"
    );
    assert!(best_of(&rib, "10.71.0.0/16").expect("present").stale);

    receive(&mut rib, 1, end_of_rib_v4());
    assert!(
        best_of(&rib, "10.71.0.0/16").is_none(),
        "swept at End-of-RIB"
    );
    assert!(best_of(&rib, "10.70.0.0/16").is_some());
    assert_eq!(withdrawn(&sent_updates(&mut rib, 2)), vec!["10.71.0.0/16"]);
}

#[test]
fn graceful_restart_timer_sweep_releases_down_peer() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    receive(
        &mut rib,
        1,
        announce_v4(&["10.72.0.0/16"], "172.16.2.1", attrs_with_path(&[])),
    );
    rib.peer_down(PeerId(1), &[AfiSafi::IPV4_UNICAST]);
    assert_eq!(
        rib.prefix_counts(PeerId(1)),
        vec![(AfiSafi::IPV4_UNICAST, 1, 1, 0)]
    );
    rib.sweep_stale(PeerId(1), AfiSafi::IPV4_UNICAST);
    assert!(best_of(&rib, "10.72.0.0/16").is_none());
    assert!(rib.prefix_counts(PeerId(1)).is_empty(), "peer forgotten");
}

#[test]
fn peer_down_without_graceful_restart_withdraws() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    receive(
        &mut rib,
        1,
        announce_v4(&["10.73.0.0/16"], "172.16.2.1", attrs_with_path(&[])),
    );
    rib.take_events();
    rib.peer_down(PeerId(1), &[]);
    assert!(best_of(&rib, "10.73.0.0/16").is_none());
    let events = rib.take_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RibEvent::BestChanged { best: None, .. }))
    );
    assert!(events.contains(&RibEvent::UntrackNexthop(ip("172.16.2.1"))));
}

#[test]
fn treat_as_withdraw_removes_announced_routes() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.74.0.0/16", "10.75.0.0/16"],
            "172.16.2.1",
            attrs_with_path(&[]),
        ),
    );
    let mut malformed = announce_v4(&["10.74.0.0/16"], "172.16.2.1", attrs_with_path(&[]));
    malformed.action = UpdateAction::TreatAsWithdraw;
    receive(&mut rib, 1, malformed);
    assert!(best_of(&rib, "10.74.0.0/16").is_none(), "withdrawn");
    assert!(best_of(&rib, "10.75.0.0/16").is_some(), "other routes kept");
}

#[test]
fn attribute_discard_uses_update() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    let mut update = announce_v4(&["10.76.0.0/16"], "172.16.2.1", attrs_with_path(&[]));
    update.action = UpdateAction::AttributeDiscard(vec![crate::message::attr_type::AGGREGATOR]);
    receive(&mut rib, 1, update);
    assert!(best_of(&rib, "10.76.0.0/16").is_some());
}

#[test]
fn maximum_prefix_exceeded_returns_error() {
    let mut rib = new_rib();
    rib.peer_up(
        Instant::now(),
        with_family(peer_info(1, "192.0.2.11", LOCAL_AS), |f| {
            f.maximum_prefix = Some(2)
        }),
    );
    let ok = announce_v4(
        &["10.77.0.0/16", "10.78.0.0/16"],
        "172.16.2.1",
        attrs_with_path(&[]),
    );
    assert_eq!(rib.receive(Instant::now(), PeerId(1), &ok), Ok(()));
    let again = announce_v4(&["10.77.0.0/16"], "172.16.2.1", attrs_with_path(&[]));
    assert_eq!(
        rib.receive(Instant::now(), PeerId(1), &again),
        Ok(()),
        "replacement is not new"
    );
    let over = announce_v4(&["10.79.0.0/16"], "172.16.2.1", attrs_with_path(&[]));
    assert_eq!(
        rib.receive(Instant::now(), PeerId(1), &over),
        Err(RibError::MaximumPrefix {
            peer: PeerId(1),
            afi_safi: AfiSafi::IPV4_UNICAST,
            limit: 2
        })
    );
}

// ---------------------------------------------------------------------------------------
// Policy applied per neighbor.

#[test]
fn rfc8212_blocks_ebgp_without_policy() {
    let mut local = local_info();
    local.ebgp_requires_policy = true;
    let mut policy = PolicySet::default();
    policy.route_maps.insert(
        "ALL".into(),
        RouteMap::new(vec![RouteMapEntry {
            seq: 10,
            action: Action::Permit,
            matches: vec![],
            sets: vec![],
        }]),
    );
    let mut rib = Rib::new(local, Arc::new(policy));
    let now = Instant::now();
    rib.peer_up(now, peer_info(1, "198.51.100.1", 65100));
    rib.peer_up(
        now,
        with_family(peer_info(2, "198.51.100.2", 65200), |f| {
            f.route_map_in = Some("ALL".into());
            f.route_map_out = Some("ALL".into());
        }),
    );
    rib.peer_up(now, peer_info(3, "192.0.2.3", LOCAL_AS));
    for id in 1..=3 {
        sent_updates(&mut rib, id);
    }
    receive(
        &mut rib,
        1,
        announce_v4(&["10.80.0.0/16"], "198.51.100.1", attrs_with_path(&[65100])),
    );
    receive(
        &mut rib,
        2,
        announce_v4(&["10.81.0.0/16"], "198.51.100.2", attrs_with_path(&[65200])),
    );
    assert!(
        best_of(&rib, "10.80.0.0/16").is_none(),
        "no inbound policy: nothing accepted"
    );
    assert!(best_of(&rib, "10.81.0.0/16").is_some());
    assert_eq!(
        rib.prefix_counts(PeerId(1)),
        vec![(AfiSafi::IPV4_UNICAST, 1, 0, 0)]
    );

    receive(
        &mut rib,
        3,
        announce_v4(&["10.82.0.0/16"], "192.0.2.3", attrs_with_path(&[])),
    );
    assert!(
        announced(&sent_updates(&mut rib, 1)).is_empty(),
        "no outbound policy: nothing sent"
    );
    // Peer 2's own route goes back to it too: its AS_PATH loop check drops it.
    let to2: Vec<String> = announced(&sent_updates(&mut rib, 2))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(to2, vec!["10.81.0.0/16", "10.82.0.0/16"]);
}

fn prefix_list_policy() -> PolicySet {
    let mut policy = PolicySet::default();
    policy.prefix_lists.insert(
        "TEN".into(),
        PrefixList::new(vec![PrefixListEntry {
            seq: 5,
            action: Action::Permit,
            prefix: "10.0.0.0/8".parse().expect("valid prefix"),
            ge: None,
            le: Some(24),
        }]),
    );
    policy.route_maps.insert(
        "IN".into(),
        RouteMap::new(vec![RouteMapEntry {
            seq: 10,
            action: Action::Permit,
            matches: vec![Match::PrefixList("TEN".into())],
            sets: vec![Set::LocalPreference(250)],
        }]),
    );
    policy
}

#[test]
fn inbound_route_map_filters_and_sets() {
    let mut rib = Rib::new(local_info(), Arc::new(prefix_list_policy()));
    rib.peer_up(
        Instant::now(),
        with_family(peer_info(1, "192.0.2.11", LOCAL_AS), |f| {
            f.route_map_in = Some("IN".into())
        }),
    );
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.90.0.0/16", "172.20.0.0/16"],
            "172.16.3.1",
            attrs_with_path(&[]),
        ),
    );
    assert_eq!(
        best_of(&rib, "10.90.0.0/16").and_then(|p| p.local_pref),
        Some(250)
    );
    assert!(best_of(&rib, "172.20.0.0/16").is_none());
    assert_eq!(
        rib.prefix_counts(PeerId(1)),
        vec![(AfiSafi::IPV4_UNICAST, 2, 1, 0)]
    );
}

#[test]
fn missing_route_map_denies() {
    let mut rib = new_rib();
    rib.peer_up(
        Instant::now(),
        with_family(peer_info(1, "192.0.2.11", LOCAL_AS), |f| {
            f.route_map_in = Some("UNDEFINED".into())
        }),
    );
    receive(
        &mut rib,
        1,
        announce_v4(&["10.91.0.0/16"], "172.16.3.1", attrs_with_path(&[])),
    );
    assert!(best_of(&rib, "10.91.0.0/16").is_none());
}

#[test]
fn soft_reconfiguration_reapplies_new_policy() {
    let mut rib = new_rib();
    rib.peer_up(
        Instant::now(),
        with_family(peer_info(1, "192.0.2.11", LOCAL_AS), |f| {
            f.route_map_in = Some("IN".into());
            f.soft_reconfiguration_inbound = true;
        }),
    );
    receive(
        &mut rib,
        1,
        announce_v4(&["10.92.0.0/16"], "172.16.3.1", attrs_with_path(&[])),
    );
    assert!(
        best_of(&rib, "10.92.0.0/16").is_none(),
        "IN is not defined yet"
    );
    rib.set_policy(Arc::new(prefix_list_policy()));
    assert_eq!(
        best_of(&rib, "10.92.0.0/16").and_then(|p| p.local_pref),
        Some(250)
    );
    assert!(
        rib.take_events()
            .iter()
            .all(|e| !matches!(e, RibEvent::SendRouteRefresh { .. }))
    );
}

#[test]
fn soft_reset_without_kept_paths_asks_for_refresh() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    rib.take_events();
    rib.soft_reset_in(PeerId(1), AfiSafi::IPV4_UNICAST);
    assert_eq!(
        rib.take_events(),
        vec![RibEvent::SendRouteRefresh {
            peer: PeerId(1),
            afi_safi: AfiSafi::IPV4_UNICAST
        }]
    );
}

#[test]
fn outbound_policy_change_sends_only_differences() {
    let mut policy = PolicySet::default();
    policy.route_maps.insert(
        "OUT".into(),
        RouteMap::new(vec![RouteMapEntry {
            seq: 10,
            action: Action::Permit,
            matches: vec![],
            sets: vec![],
        }]),
    );
    let mut rib = Rib::new(local_info(), Arc::new(policy.clone()));
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    rib.peer_up(
        Instant::now(),
        with_family(peer_info(2, "198.51.100.2", 65200), |f| {
            f.route_map_out = Some("OUT".into())
        }),
    );
    sent_updates(&mut rib, 2);
    receive(
        &mut rib,
        1,
        announce_v4(&["10.93.0.0/16"], "172.16.3.1", attrs_with_path(&[])),
    );
    assert_eq!(announced(&sent_updates(&mut rib, 2)).len(), 1);

    rib.set_policy(Arc::new(policy.clone()));
    assert!(
        sent_updates(&mut rib, 2).is_empty(),
        "same policy: nothing resent"
    );

    policy.route_maps.get_mut("OUT").expect("defined").entries[0].action = Action::Deny;
    rib.set_policy(Arc::new(policy));
    assert_eq!(withdrawn(&sent_updates(&mut rib, 2)), vec!["10.93.0.0/16"]);
}

// ---------------------------------------------------------------------------------------
// EVPN.

fn imet(rd_number: u16, originator: &str) -> EvpnRoute {
    EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
        rd: RouteDistinguisher::Ipv4 {
            address: v4(originator),
            number: rd_number,
        },
        ethernet_tag: EthernetTag(0),
        originating_ip: ip(originator),
    })
}

fn evpn_update(routes: Vec<EvpnRoute>, next_hop: &str) -> DecodedUpdate {
    DecodedUpdate {
        update: Update {
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::default()),
                extended_communities: Some(vec![
                    ExtendedCommunity::RouteTarget(RouteTarget::As2 {
                        asn: 65000,
                        value: 100,
                    }),
                    ExtendedCommunity::Encapsulation { tunnel_type: 8 },
                ]),
                pmsi_tunnel: Some(crate::message::PmsiTunnel {
                    flags: 0,
                    tunnel_type: crate::message::pmsi_tunnel_type::INGRESS_REPLICATION,
                    label: Label::from_vni(100).expect("valid VNI"),
                    tunnel_identifier: v4(next_hop).octets().to_vec(),
                }),
                ..Default::default()
            },
            mp_reach: Some(MpReach {
                afi_safi: AfiSafi::L2VPN_EVPN,
                next_hop: crate::message::MpNextHop::Ipv4(v4(next_hop)),
                nlri: crate::message::NlriList::Evpn(
                    routes.into_iter().map(PathNlri::new).collect(),
                ),
            }),
            ..Default::default()
        },
        action: UpdateAction::None,
        errors: Vec::new(),
    }
}

fn evpn_peer(id: u32, address: &str, client: bool) -> PeerInfo {
    let mut info = peer_info(id, address, LOCAL_AS);
    let mut family = PeerFamily::new(AfiSafi::L2VPN_EVPN);
    family.route_reflector_client = client;
    info.families = vec![family];
    info
}

#[test]
fn evpn_route_reflected_unchanged_with_events_and_snapshot() {
    let mut rib = new_rib();
    let now = Instant::now();
    rib.peer_up(now, evpn_peer(1, "192.0.2.11", true));
    rib.peer_up(now, evpn_peer(2, "192.0.2.12", true));
    rib.take_updates(PeerId(1));
    rib.take_updates(PeerId(2));
    let route = imet(3, "10.1.1.1");
    receive(&mut rib, 1, evpn_update(vec![route.clone()], "10.1.1.1"));

    let events = rib.take_events();
    assert!(events.iter().any(|e| matches!(
        e,
        RibEvent::BestChanged { afi_safi: AfiSafi::L2VPN_EVPN, route: Route::Evpn(r), best: Some(_) } if *r == route
    )));

    let ctx = SessionContext {
        four_octet_as: true,
        ..Default::default()
    };
    let messages = rib.take_updates(PeerId(2));
    assert_eq!(messages.len(), 1);
    let Ok(DecodedMessage::Update(u)) = decode_message(&messages[0], &ctx) else {
        panic!("not an UPDATE");
    };
    let reach = u.update.mp_reach.expect("MP_REACH_NLRI");
    assert_eq!(
        reach.next_hop,
        crate::message::MpNextHop::Ipv4(v4("10.1.1.1"))
    );
    assert_eq!(
        reach.nlri,
        crate::message::NlriList::Evpn(vec![PathNlri::new(route.clone())])
    );
    let a = u.update.attributes;
    assert_eq!(a.originator_id, Some(Ipv4Addr::new(10, 9, 9, 1)));
    assert_eq!(a.cluster_list, Some(vec![v4("10.0.0.1")]));
    assert_eq!(a.next_hop, None);
    assert!(a.pmsi_tunnel.is_some(), "PMSI tunnel kept");
    assert_eq!(a.extended_communities.as_ref().map(|c| c.len()), Some(2));

    let table = rib.table(AfiSafi::L2VPN_EVPN);
    assert!(table.routes.is_empty());
    assert_eq!(table.route_distinguishers.len(), 1);
    assert_eq!(table.route_distinguishers[0].rd, "10.1.1.1:3");
    let r = &table.route_distinguishers[0].routes[0];
    assert_eq!(r.prefix, "[3]:[0]:[32]:[10.1.1.1]");
    assert_eq!(r.route_type, Some(3));
    assert_eq!(r.paths[0].next_hop, Some(ip("10.1.1.1")));
    assert!(
        r.paths[0]
            .extended_communities
            .iter()
            .any(|c| c.starts_with("RT:"))
    );

    // Withdrawal: MP_UNREACH_NLRI to the other client and a BestChanged without best.
    let withdraw = DecodedUpdate {
        update: Update {
            mp_unreach: Some(crate::message::MpUnreach {
                afi_safi: AfiSafi::L2VPN_EVPN,
                nlri: crate::message::NlriList::Evpn(vec![PathNlri::new(route.clone())]),
            }),
            ..Default::default()
        },
        action: UpdateAction::None,
        errors: Vec::new(),
    };
    receive(&mut rib, 1, withdraw);
    let events = rib.take_events();
    assert!(events.iter().any(|e| matches!(
        e,
        RibEvent::BestChanged { route: Route::Evpn(r), best: None, .. } if *r == route
    )));
    let messages = rib.take_updates(PeerId(2));
    let Ok(DecodedMessage::Update(u)) = decode_message(&messages[0], &ctx) else {
        panic!("not an UPDATE");
    };
    assert_eq!(
        u.update.mp_unreach.map(|m| m.nlri),
        Some(crate::message::NlriList::Evpn(vec![PathNlri::new(route)]))
    );
}

#[test]
fn evpn_unknown_route_type_not_installed() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), evpn_peer(1, "192.0.2.11", true));
    let unknown = EvpnRoute::Unknown {
        route_type: 9,
        value: vec![0; 12].into_boxed_slice(),
    };
    receive(&mut rib, 1, evpn_update(vec![unknown], "10.1.1.1"));
    assert!(
        rib.table(AfiSafi::L2VPN_EVPN)
            .route_distinguishers
            .is_empty()
    );
}

#[test]
fn evpn_route_map_matches_route_type_and_vni() {
    let mut policy = PolicySet::default();
    policy.route_maps.insert(
        "EVPN-IN".into(),
        RouteMap::new(vec![RouteMapEntry {
            seq: 10,
            action: Action::Permit,
            matches: vec![Match::EvpnRouteType(3), Match::EvpnVni(100)],
            sets: vec![],
        }]),
    );
    let mut rib = Rib::new(local_info(), Arc::new(policy));
    let mut info = evpn_peer(1, "192.0.2.11", false);
    info.families[0].route_map_in = Some("EVPN-IN".into());
    rib.peer_up(Instant::now(), info);
    receive(
        &mut rib,
        1,
        evpn_update(vec![imet(1, "10.1.1.1")], "10.1.1.1"),
    );
    assert_eq!(rib.table(AfiSafi::L2VPN_EVPN).route_distinguishers.len(), 1);
}

#[test]
fn interning_shares_attribute_sets() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    rib.peer_up(Instant::now(), peer_info(2, "192.0.2.12", LOCAL_AS));
    // Same attributes with different next hops share one set: NEXT_HOP is kept apart.
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.95.0.0/16", "10.96.0.0/16"],
            "172.16.4.1",
            attrs_with_path(&[]),
        ),
    );
    receive(
        &mut rib,
        2,
        announce_v4(&["10.95.0.0/16"], "172.16.4.2", attrs_with_path(&[])),
    );
    assert_eq!(rib.interned_attribute_sets(), 1);
}

// ---------------------------------------------------------------------------------------
// Attribute handling towards and from other ASes.

#[test]
fn as4_path_merged_from_two_octet_peer() {
    let mut rib = new_rib();
    let mut info = peer_info(1, "198.51.100.1", 65002);
    info.send_context.four_octet_as = false;
    rib.peer_up(Instant::now(), info);
    let mut attrs = attrs_with_path(&[65002, crate::types::AS_TRANS, 65001]);
    attrs.as4_path = Some(AsPath::sequence(vec![4_200_000_000, 65001]));
    receive(
        &mut rib,
        1,
        announce_v4(&["10.97.0.0/16"], "198.51.100.1", attrs),
    );
    let best = best_of(&rib, "10.97.0.0/16").expect("accepted");
    assert_eq!(best.as_path, "65002 4200000000 65001");
}

#[test]
fn ebgp_internal_attributes_discarded() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "198.51.100.1", 65100));
    let mut attrs = attrs_with_path(&[65100]);
    attrs.local_pref = Some(900);
    attrs.originator_id = Some(v4("10.0.0.1"));
    attrs.cluster_list = Some(vec![v4("10.0.0.1")]);
    receive(
        &mut rib,
        1,
        announce_v4(&["10.132.0.0/16"], "198.51.100.1", attrs),
    );
    let best = best_of(&rib, "10.132.0.0/16").expect("accepted despite our ids in the attributes");
    assert_eq!(best.local_pref, None);
    assert_eq!(best.originator_id, None);
    assert!(best.cluster_list.is_empty());
}

#[test]
fn no_export_not_sent_to_ebgp() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    rib.peer_up(Instant::now(), peer_info(2, "198.51.100.2", 65200));
    sent_updates(&mut rib, 2);
    let mut attrs = attrs_with_path(&[]);
    attrs.communities = Some(vec![Community::NO_EXPORT]);
    receive(
        &mut rib,
        1,
        announce_v4(&["10.98.0.0/16"], "172.16.5.1", attrs),
    );
    receive(
        &mut rib,
        1,
        announce_v4(&["10.99.0.0/16"], "172.16.5.1", attrs_with_path(&[])),
    );
    let sent: Vec<String> = announced(&sent_updates(&mut rib, 2))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(sent, vec!["10.99.0.0/16"]);
}

#[test]
fn ebgp_med_not_passed_between_ases() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "198.51.100.1", 65100));
    rib.peer_up(Instant::now(), peer_info(2, "198.51.100.2", 65200));
    rib.peer_up(Instant::now(), peer_info(3, "192.0.2.3", LOCAL_AS));
    for id in 1..=3 {
        sent_updates(&mut rib, id);
    }
    let mut attrs = attrs_with_path(&[65100]);
    attrs.med = Some(50);
    receive(
        &mut rib,
        1,
        announce_v4(&["10.100.0.0/16"], "198.51.100.1", attrs),
    );
    let to_ebgp = announced(&sent_updates(&mut rib, 2));
    assert_eq!(to_ebgp.len(), 1);
    assert_eq!(to_ebgp[0].1.med, None, "MED removed towards another AS");
    assert_eq!(
        to_ebgp[0].1.as_path,
        Some(AsPath::sequence(vec![LOCAL_AS, 65100]))
    );
    let to_ibgp = announced(&sent_updates(&mut rib, 3));
    assert_eq!(to_ibgp.len(), 1);
    assert_eq!(to_ibgp[0].1.med, Some(50), "MED kept inside the AS");
    assert_eq!(
        to_ibgp[0].1.next_hop,
        Some(v4("198.51.100.1")),
        "iBGP next hop unchanged"
    );
    assert_eq!(to_ibgp[0].1.local_pref, Some(DEFAULT_LOCAL_PREF));
}

#[test]
fn next_hop_self_rewrites_ebgp_routes_only() {
    let mut rib = new_rib();
    let now = Instant::now();
    rib.peer_up(now, peer_info(1, "198.51.100.1", 65100));
    rib.peer_up(
        now,
        with_family(peer_info(2, "192.0.2.12", LOCAL_AS), |f| {
            f.next_hop_self = true;
            f.route_reflector_client = true;
        }),
    );
    rib.peer_up(now, peer_info(3, "192.0.2.13", LOCAL_AS));
    for id in 1..=3 {
        sent_updates(&mut rib, id);
    }
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.101.0.0/16"],
            "198.51.100.1",
            attrs_with_path(&[65100]),
        ),
    );
    receive(
        &mut rib,
        3,
        announce_v4(&["10.102.0.0/16"], "172.16.6.3", attrs_with_path(&[])),
    );
    let sent = announced(&sent_updates(&mut rib, 2));
    let next_hop_of = |prefix: &str| {
        sent.iter()
            .find(|(p, _)| p == prefix)
            .and_then(|(_, a)| a.next_hop)
    };
    assert_eq!(
        next_hop_of("10.101.0.0/16"),
        Some(v4("192.0.2.1")),
        "eBGP route: self"
    );
    assert_eq!(
        next_hop_of("10.102.0.0/16"),
        Some(v4("172.16.6.3")),
        "reflected: kept"
    );
}

#[test]
fn disable_family_withdraws_and_ignores() {
    let mut rib = new_rib();
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    receive(
        &mut rib,
        1,
        announce_v4(&["10.103.0.0/16"], "172.16.7.1", attrs_with_path(&[])),
    );
    rib.disable_family(PeerId(1), AfiSafi::IPV4_UNICAST);
    assert!(best_of(&rib, "10.103.0.0/16").is_none(), "paths withdrawn");
    receive(
        &mut rib,
        1,
        announce_v4(&["10.104.0.0/16"], "172.16.7.1", attrs_with_path(&[])),
    );
    assert!(
        best_of(&rib, "10.104.0.0/16").is_none(),
        "later routes ignored"
    );
    assert!(
        rib.update_groups(AfiSafi::IPV4_UNICAST).is_empty(),
        "nothing more sent"
    );
}

#[test]
fn ipv6_route_reflected_in_mp_reach() {
    let mut rib = new_rib();
    let v6_peer = |id: u32, address: &str, client: bool| {
        let mut info = peer_info(id, address, LOCAL_AS);
        let mut family = PeerFamily::new(AfiSafi::IPV6_UNICAST);
        family.route_reflector_client = client;
        info.families = vec![family];
        info
    };
    rib.peer_up(Instant::now(), v6_peer(1, "2001:db8::11", true));
    rib.peer_up(Instant::now(), v6_peer(2, "2001:db8::12", false));
    rib.take_updates(PeerId(2));
    let next_hop: std::net::Ipv6Addr = "2001:db8:1::1".parse().expect("valid address");
    let prefix: ipnet::Ipv6Net = "2001:db8:100::/48".parse().expect("valid prefix");
    let update = DecodedUpdate {
        update: Update {
            attributes: attrs_with_path(&[]),
            mp_reach: Some(MpReach {
                afi_safi: AfiSafi::IPV6_UNICAST,
                next_hop: crate::message::MpNextHop::Ipv6 {
                    global: next_hop,
                    link_local: None,
                },
                nlri: crate::message::NlriList::Ipv6(vec![PathNlri::new(prefix)]),
            }),
            ..Default::default()
        },
        action: UpdateAction::None,
        errors: Vec::new(),
    };
    receive(&mut rib, 1, update);

    let table = rib.table(AfiSafi::IPV6_UNICAST);
    assert_eq!(table.routes.len(), 1);
    assert_eq!(table.routes[0].prefix, "2001:db8:100::/48");
    let ctx = SessionContext {
        four_octet_as: true,
        ..Default::default()
    };
    let messages = rib.take_updates(PeerId(2));
    assert_eq!(messages.len(), 1);
    let Ok(DecodedMessage::Update(u)) = decode_message(&messages[0], &ctx) else {
        panic!("not an UPDATE");
    };
    let reach = u.update.mp_reach.expect("MP_REACH_NLRI");
    assert_eq!(
        reach.next_hop,
        crate::message::MpNextHop::Ipv6 {
            global: next_hop,
            link_local: None
        }
    );
    assert_eq!(
        reach.nlri,
        crate::message::NlriList::Ipv6(vec![PathNlri::new(prefix)])
    );
    assert_eq!(u.update.attributes.next_hop, None);
}

#[test]
fn deferred_initial_table_waits_for_release() {
    let mut rib = new_rib();
    rib.defer_initial_updates(true);
    rib.peer_up(Instant::now(), peer_info(1, "192.0.2.11", LOCAL_AS));
    rib.peer_up(Instant::now(), peer_info(2, "198.51.100.2", 65200));
    receive(
        &mut rib,
        2,
        announce_v4(
            &["10.105.0.0/16"],
            "198.51.100.2",
            attrs_with_path(&[65200]),
        ),
    );
    assert!(
        best_of(&rib, "10.105.0.0/16").is_some(),
        "selection runs while deferred"
    );
    assert!(
        rib.take_updates(PeerId(1)).is_empty(),
        "nothing sent while deferred"
    );
    rib.originate(
        AfiSafi::IPV4_UNICAST,
        Route::Ipv4("10.106.0.0/16".parse().expect("valid prefix")),
        PathAttributes::default(),
    );

    rib.defer_initial_updates(false);
    let updates = sent_updates(&mut rib, 1);
    let mut prefixes: Vec<String> = announced(&updates).into_iter().map(|(p, _)| p).collect();
    prefixes.sort();
    assert_eq!(prefixes, vec!["10.105.0.0/16", "10.106.0.0/16"]);
    assert_eq!(end_of_ribs(&updates), 1);
    assert!(
        updates
            .last()
            .is_some_and(|u| u.end_of_rib_family().is_some())
    );
}

/// Feeds every UPDATE that `from` queued for `peer_in_from` into `to` as received from
/// `peer_in_to`, through the real encoder and decoder. Returns the number of routes announced.
fn relay(from: &mut Rib, peer_in_from: u32, to: &mut Rib, peer_in_to: u32) -> usize {
    let mut announced = 0;
    let ctx = SessionContext {
        four_octet_as: true,
        ..Default::default()
    };
    for message in from.take_updates(PeerId(peer_in_from)) {
        let Ok(DecodedMessage::Update(update)) = decode_message(&message, &ctx) else {
            panic!("not an UPDATE");
        };
        announced += update.update.nlri.len();
        to.receive(Instant::now(), PeerId(peer_in_to), &update)
            .expect("no maximum-prefix configured");
    }
    announced
}

#[test]
fn reflected_route_loops_back_and_is_dropped() {
    // Client A (router id 10.0.0.2) and client C (10.0.0.4) of reflector B (10.0.0.3), all in
    // AS 65000. A originates a route; B reflects it to C and, as a group member, back to A.
    let rib_for = |router_id: &str| {
        let mut local = local_info();
        local.router_id = v4(router_id);
        local.cluster_id = v4(router_id);
        Rib::new(local, Arc::new(PolicySet::default()))
    };
    let (mut a, mut b, mut c) = (
        rib_for("10.0.0.2"),
        rib_for("10.0.0.3"),
        rib_for("10.0.0.4"),
    );
    let session = |id: u32, address: &str, router_id: &str, client: bool| {
        let mut info = peer_info(id, address, LOCAL_AS);
        info.bgp_identifier = v4(router_id);
        with_family(info, |f| f.route_reflector_client = client)
    };
    let now = Instant::now();
    a.peer_up(now, session(1, "192.0.2.3", "10.0.0.3", false));
    c.peer_up(now, session(1, "192.0.2.3", "10.0.0.3", false));
    b.peer_up(now, session(1, "192.0.2.2", "10.0.0.2", true));
    b.peer_up(now, session(2, "192.0.2.4", "10.0.0.4", true));
    for rib in [&mut a, &mut c] {
        rib.take_updates(PeerId(1));
    }
    for id in [1, 2] {
        b.take_updates(PeerId(id));
    }

    let attrs = PathAttributes {
        next_hop: Some(v4("192.0.2.2")),
        ..Default::default()
    };
    a.originate(
        AfiSafi::IPV4_UNICAST,
        Route::Ipv4("10.110.0.0/16".parse().expect("valid prefix")),
        attrs,
    );
    assert_eq!(relay(&mut a, 1, &mut b, 1), 1);
    assert_eq!(relay(&mut b, 2, &mut c, 1), 1);
    assert_eq!(
        relay(&mut b, 1, &mut a, 1),
        1,
        "the reflector sends it back to A too"
    );

    let at_c = best_of(&c, "10.110.0.0/16").expect("reflected to C");
    assert_eq!(at_c.originator_id, Some(v4("10.0.0.2")));
    assert_eq!(at_c.cluster_list, vec![v4("10.0.0.3")]);
    assert_eq!(
        at_c.next_hop,
        Some(ip("192.0.2.2")),
        "next hop unchanged by the reflector"
    );

    let table_a = a.table(AfiSafi::IPV4_UNICAST);
    let at_a = route(&table_a, "10.110.0.0/16").expect("own route");
    assert_eq!(
        at_a.paths.len(),
        1,
        "the reflected copy was dropped by ORIGINATOR_ID"
    );
    assert!(at_a.paths[0].local);
}

#[test]
fn per_peer_route_views() {
    let mut rib = new_rib();
    let now = Instant::now();
    rib.peer_up(now, peer_info(1, "198.51.100.1", 65100));
    rib.peer_up(now, peer_info(2, "198.51.100.2", 65200));
    sent_updates(&mut rib, 2);
    receive(
        &mut rib,
        1,
        announce_v4(
            &["10.120.0.0/16"],
            "198.51.100.1",
            attrs_with_path(&[65100]),
        ),
    );
    receive(
        &mut rib,
        2,
        announce_v4(
            &["10.121.0.0/16"],
            "198.51.100.2",
            attrs_with_path(&[65200]),
        ),
    );
    rib.take_updates(PeerId(2));

    let received = rib.received_routes(PeerId(1), AfiSafi::IPV4_UNICAST);
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].prefix, "10.120.0.0/16");
    assert_eq!(received[0].paths.len(), 1);
    assert_eq!(received[0].paths[0].peer, Some(ip("198.51.100.1")));

    let advertised = rib.advertised_routes(PeerId(2), AfiSafi::IPV4_UNICAST);
    let to2: Vec<&str> = advertised.iter().map(|r| r.prefix.as_str()).collect();
    assert_eq!(to2, vec!["10.120.0.0/16", "10.121.0.0/16"]);
    let first = &advertised[0].paths[0];
    assert_eq!(first.as_path, "65000 65100");
    assert_eq!(first.next_hop, Some(ip("192.0.2.1")));
}

mod decision_properties {
    use proptest::prelude::*;

    use super::*;

    /// One random candidate: (LOCAL_PREF, AS path length, origin, MED, neighbor AS index,
    /// eBGP, IGP cost, router id octet).
    type Spec = (u32, usize, u8, u32, u8, bool, u32, u8);

    fn spec() -> impl Strategy<Value = Spec> {
        (
            prop_oneof![Just(100u32), Just(200)],
            1usize..3,
            0u8..3,
            0u32..3,
            0u8..2,
            any::<bool>(),
            0u32..3,
            1u8..4,
        )
    }

    /// Loads the candidates in the given order and returns the address of the best path.
    fn best_address(specs: &[Spec], order: &[usize]) -> Option<IpAddr> {
        let mut rib = new_rib();
        for &i in order {
            let (local_pref, length, origin, med, neighbor, ebgp, igp, router_id) = specs[i];
            let id = i as u32 + 1;
            let address = format!("192.0.2.{}", id + 10);
            let remote_as = if ebgp {
                65100 + neighbor as u32
            } else {
                LOCAL_AS
            };
            let mut info = peer_info(id, &address, remote_as);
            info.bgp_identifier = Ipv4Addr::new(10, 9, router_id, id as u8);
            rib.peer_up(Instant::now(), info);

            let mut asns = vec![65100 + neighbor as u32];
            asns.extend(std::iter::repeat_n(65500, length - 1));
            let attrs = PathAttributes {
                origin: Some(match origin {
                    0 => Origin::Igp,
                    1 => Origin::Egp,
                    _ => Origin::Incomplete,
                }),
                as_path: Some(AsPath::sequence(asns)),
                local_pref: Some(local_pref),
                med: Some(med),
                ..Default::default()
            };
            let next_hop = format!("172.16.0.{id}");
            receive(
                &mut rib,
                id,
                announce_v4(&["10.200.0.0/16"], &next_hop, attrs),
            );
            rib.nexthop_update(ip(&next_hop), Some(igp));
        }
        best_of(&rib, "10.200.0.0/16").and_then(|p| p.peer)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn decision_independent_of_arrival_order(
            specs in prop::collection::vec(spec(), 2..5),
            seed in any::<u64>(),
        ) {
            let forward: Vec<usize> = (0..specs.len()).collect();
            let mut shuffled = forward.clone();
            // A permutation chosen by the seed, without a random number generator.
            let n = shuffled.len();
            for i in (1..n).rev() {
                let j = (seed.wrapping_mul(i as u64 + 7) % (i as u64 + 1)) as usize;
                shuffled.swap(i, j);
            }
            let reversed: Vec<usize> = forward.iter().rev().copied().collect();

            let first = best_address(&specs, &forward);
            prop_assert!(first.is_some());
            prop_assert_eq!(first, best_address(&specs, &shuffled));
            prop_assert_eq!(first, best_address(&specs, &reversed));
        }
    }
}
