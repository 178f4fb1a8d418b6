//! Deterministic tests of the instance: several instances joined by an in-memory network that
//! completes connections and carries bytes, with time advanced by hand.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv4Net};

use super::*;
use crate::config::{FamilySettings, ListenRange, NeighborSettings};
use crate::message::{AsPath, Message, Origin, PathNlri, Update};
use crate::rib::RibEvent;
use crate::wire::{HEADER_LEN, SessionContext};

fn ip(text: &str) -> IpAddr {
    IpAddr::from_str(text).unwrap()
}

fn prefix(text: &str) -> Ipv4Net {
    Ipv4Net::from_str(text).unwrap()
}

fn neighbor(remote_as: u32) -> NeighborSettings {
    NeighborSettings {
        remote_as: Some(remote_as),
        hold_time: Some(9),
        keepalive: Some(3),
        connect_retry: Some(5),
        ..NeighborSettings::default()
    }
}

fn config(asn: u32, id: &str) -> BgpConfig {
    let mut config = BgpConfig::new(asn, Ipv4Addr::from_str(id).unwrap());
    config.ebgp_requires_policy = false;
    config
}

fn local_route_attributes() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        ..PathAttributes::default()
    }
}

/// One instance of the test network, at one address.
struct Node {
    address: IpAddr,
    instance: Instance,
    events: Vec<BgpEvent>,
    sent: Vec<(ConnId, Vec<u8>)>,
    listener_keys: BTreeMap<IpNet, Option<String>>,
}

/// Instances joined by an in-memory network.
struct Net {
    nodes: Vec<Node>,
    /// (node, connection) -> (node, connection) of the other end.
    links: HashMap<(usize, ConnId), (usize, ConnId)>,
    /// Nodes whose outgoing connections stay pending (a silent peer).
    unreachable: Vec<IpAddr>,
    now: Instant,
}

impl Net {
    fn new(now: Instant) -> Net {
        Net {
            nodes: Vec::new(),
            links: HashMap::new(),
            unreachable: Vec::new(),
            now,
        }
    }

    fn add(&mut self, address: &str, config: BgpConfig, options: StartOptions) -> usize {
        let (instance, outputs) = Instance::new(self.now, config, options).unwrap();
        self.nodes.push(Node {
            address: ip(address),
            instance,
            events: Vec::new(),
            sent: Vec::new(),
            listener_keys: BTreeMap::new(),
        });
        let index = self.nodes.len() - 1;
        self.deliver(index, outputs);
        index
    }

    fn input(&mut self, node: usize, input: Input) {
        let now = self.now;
        let outputs = self.nodes[node].instance.handle(now, input);
        self.deliver(node, outputs);
    }

    /// Carries out outputs and everything they cause, first in first out.
    fn deliver(&mut self, node: usize, outputs: Vec<Output>) {
        let mut queue: VecDeque<(usize, Output)> = outputs.into_iter().map(|o| (node, o)).collect();
        let mut steps = 0;
        while let Some((from, output)) = queue.pop_front() {
            steps += 1;
            assert!(steps < 100_000, "outputs do not converge");
            let now = self.now;
            match output {
                Output::Connect { conn, remote, .. } => {
                    if self.unreachable.contains(&remote.ip()) {
                        continue;
                    }
                    let Some(to) = self.nodes.iter().position(|n| n.address == remote.ip()) else {
                        let out = self.nodes[from].instance.handle(
                            now,
                            Input::ConnectFailed {
                                conn,
                                error: "no route".into(),
                            },
                        );
                        queue.extend(out.into_iter().map(|o| (from, o)));
                        continue;
                    };
                    let local = SocketAddr::new(self.nodes[from].address, 40000 + conn.0 as u16);
                    let accepted = self.nodes[to].instance.allocate_conn();
                    self.links.insert((from, conn), (to, accepted));
                    self.links.insert((to, accepted), (from, conn));
                    let out = self.nodes[to].instance.handle(
                        now,
                        Input::Accepted {
                            conn: accepted,
                            local: remote,
                            remote: local,
                        },
                    );
                    queue.extend(out.into_iter().map(|o| (to, o)));
                    let out = self.nodes[from].instance.handle(
                        now,
                        Input::Connected {
                            conn,
                            local,
                            remote,
                        },
                    );
                    queue.extend(out.into_iter().map(|o| (from, o)));
                }
                Output::Send { conn, data } => {
                    self.nodes[from].sent.push((conn, data.clone()));
                    let Some(&(to, remote)) = self.links.get(&(from, conn)) else {
                        continue;
                    };
                    let mut rest = &data[..];
                    while rest.len() >= HEADER_LEN {
                        let length = u16::from_be_bytes([rest[16], rest[17]]) as usize;
                        let (frame, tail) = rest.split_at(length);
                        rest = tail;
                        let out = self.nodes[to].instance.handle(
                            now,
                            Input::Received {
                                conn: remote,
                                frame: frame.to_vec(),
                            },
                        );
                        queue.extend(out.into_iter().map(|o| (to, o)));
                    }
                }
                Output::Close { conn } => {
                    if let Some((to, remote)) = self.links.remove(&(from, conn)) {
                        self.links.remove(&(to, remote));
                        let out = self.nodes[to]
                            .instance
                            .handle(now, Input::Closed { conn: remote });
                        queue.extend(out.into_iter().map(|o| (to, o)));
                    }
                }
                Output::Accept { .. } => {}
                Output::ListenerKey { prefix, key } => {
                    self.nodes[from].listener_keys.insert(prefix, key);
                }
                Output::Event(event) => self.nodes[from].events.push(event),
            }
        }
    }

    /// Advances time by `step` up to `total`, running every node's timers.
    fn advance(&mut self, total: Duration, step: Duration) {
        let end = self.now + total;
        while self.now < end {
            self.now += step;
            for node in 0..self.nodes.len() {
                let now = self.now;
                let outputs = self.nodes[node].instance.poll_timers(now);
                self.deliver(node, outputs);
            }
        }
    }

    fn state(&self, node: usize, peer: &str) -> Option<State> {
        self.nodes[node]
            .instance
            .peers
            .get(&ip(peer))
            .map(|p| p.session.state())
    }

    /// Returns the current best path of an IPv4 route from the node's BestChanged events.
    fn best(&self, node: usize, route: &str) -> Option<Arc<crate::rib::Path>> {
        let wanted = Route::Ipv4(prefix(route));
        self.nodes[node]
            .events
            .iter()
            .rev()
            .find_map(|e| match e {
                BgpEvent::Rib(RibEvent::BestChanged { route, best, .. }) if *route == wanted => {
                    Some(best.clone())
                }
                _ => None,
            })
            .flatten()
    }

    /// Returns whether the node's Loc-RIB contains `route` with a stale path.
    fn stale_in_table(&self, node: usize, route: &str) -> bool {
        let table = self.nodes[node].instance.table(AfiSafi::IPV4_UNICAST);
        table
            .routes
            .iter()
            .any(|r| r.prefix == route && r.paths.iter().any(|p| p.stale))
    }

    fn established_conn(&self, node: usize, peer: &str) -> ConnId {
        self.nodes[node].instance.peers[&ip(peer)]
            .session
            .established_conn()
            .unwrap()
    }
}

/// Builds an eBGP pair, 192.0.2.1 in AS 65001 and 192.0.2.2 in AS 65002, the first originating
/// one route.
fn ebgp_pair(now: Instant, gr: bool) -> Net {
    let mut net = Net::new(now);
    let mut a = config(65001, "10.0.0.1");
    a.neighbors.insert(ip("192.0.2.2"), neighbor(65002));
    a.graceful_restart.enabled = gr;
    let mut b = config(65002, "10.0.0.2");
    b.neighbors.insert(ip("192.0.2.1"), neighbor(65001));
    b.graceful_restart.enabled = gr;
    let ia = net.add("192.0.2.1", a, StartOptions::default());
    net.add("192.0.2.2", b, StartOptions::default());
    net.input(
        ia,
        Input::Originate {
            afi_safi: AfiSafi::IPV4_UNICAST,
            route: Route::Ipv4(prefix("198.51.100.0/24")),
            attributes: Box::new(local_route_attributes()),
        },
    );
    net.advance(Duration::from_secs(3), Duration::from_millis(500));
    net
}

#[test]
fn instance_pair_exchanges_routes() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, false);
    assert_eq!(net.state(0, "192.0.2.2"), Some(State::Established));
    assert_eq!(net.state(1, "192.0.2.1"), Some(State::Established));
    let best = net.best(1, "198.51.100.0/24").expect("route learned");
    assert_eq!(best.next_hop, Some(ip("192.0.2.1")));
    assert_eq!(best.attributes.as_path, Some(AsPath::sequence(vec![65001])));

    net.input(
        0,
        Input::Withdraw {
            afi_safi: AfiSafi::IPV4_UNICAST,
            route: Route::Ipv4(prefix("198.51.100.0/24")),
        },
    );
    assert!(
        net.best(1, "198.51.100.0/24").is_none(),
        "withdrawal not propagated"
    );
}

#[test]
fn instance_reports_session_state_events() {
    let now = Instant::now();
    let net = ebgp_pair(now, false);
    let reached = net.nodes[0].events.iter().any(|e| {
        matches!(e, BgpEvent::SessionState { peer, to: State::Established, dynamic: false, .. } if *peer == ip("192.0.2.2"))
    });
    assert!(reached);
}

#[test]
fn treat_as_withdraw_keeps_session_and_removes_routes() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, false);
    assert!(net.best(1, "198.51.100.0/24").is_some());
    let conn = net.established_conn(1, "192.0.2.1");

    // The same route again with ORIGIN 5: RFC 7606 section 7.1 makes it treat-as-withdraw.
    let update = Update {
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::sequence(vec![65001])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..PathAttributes::default()
        },
        nlri: vec![PathNlri::new(prefix("198.51.100.0/24"))],
        ..Update::default()
    };
    let ctx = SessionContext {
        four_octet_as: true,
        ..SessionContext::default()
    };
    let mut bytes = Message::Update(update).to_bytes(&ctx).unwrap();
    let at = bytes
        .windows(4)
        .position(|w| w == [0x40, 0x01, 0x01, 0x00])
        .expect("ORIGIN attribute");
    bytes[at + 3] = 5;
    net.input(1, Input::Received { conn, frame: bytes });

    assert_eq!(net.state(1, "192.0.2.1"), Some(State::Established));
    assert!(
        net.best(1, "198.51.100.0/24").is_none(),
        "route not withdrawn"
    );
    let counters = &net.nodes[1].instance.peers[&ip("192.0.2.1")].malformed;
    assert_eq!(counters.treat_as_withdraw, 1);
    assert_eq!(counters.session_reset, 0);
}

#[test]
fn maximum_prefix_sends_cease_and_stays_down() {
    let now = Instant::now();
    let mut net = Net::new(now);
    let mut a = config(65001, "10.0.0.1");
    a.neighbors.insert(ip("192.0.2.2"), neighbor(65002));
    let mut b = config(65002, "10.0.0.2");
    let mut to_a = neighbor(65001);
    to_a.families.insert(
        AfiSafi::IPV4_UNICAST,
        FamilySettings {
            maximum_prefix: Some(2),
            ..FamilySettings::default()
        },
    );
    b.neighbors.insert(ip("192.0.2.1"), to_a);
    net.add("192.0.2.1", a, StartOptions::default());
    net.add("192.0.2.2", b, StartOptions::default());
    net.advance(Duration::from_secs(2), Duration::from_millis(500));
    for i in 0..3 {
        net.input(
            0,
            Input::Originate {
                afi_safi: AfiSafi::IPV4_UNICAST,
                route: Route::Ipv4(prefix(&format!("198.51.{i}.0/24"))),
                attributes: Box::new(local_route_attributes()),
            },
        );
    }
    net.advance(Duration::from_secs(30), Duration::from_millis(500));
    assert_eq!(net.state(1, "192.0.2.1"), Some(State::Idle));
    let peer = &net.nodes[1].instance.peers[&ip("192.0.2.1")];
    assert!(peer.session.is_stopped());
    let notification = net.nodes[1]
        .sent
        .iter()
        .find(|(_, d)| d[18] == 3)
        .map(|(_, d)| d[19..].to_vec());
    assert_eq!(notification, Some(vec![6, 1, 0, 1, 1, 0, 0, 0, 2]));

    // Below the limit again, a hard clear brings the session back.
    net.input(
        0,
        Input::Withdraw {
            afi_safi: AfiSafi::IPV4_UNICAST,
            route: Route::Ipv4(prefix("198.51.2.0/24")),
        },
    );
    net.input(
        1,
        Input::Clear {
            peer: Some(ip("192.0.2.1")),
            kind: ClearKind::Hard,
        },
    );
    net.advance(Duration::from_secs(2), Duration::from_millis(500));
    assert!(
        !net.nodes[1].instance.peers[&ip("192.0.2.1")]
            .session
            .is_stopped()
    );
    assert_eq!(net.state(1, "192.0.2.1"), Some(State::Established));
}

#[test]
fn dynamic_neighbor_joins_group_and_leaves_when_down() {
    let now = Instant::now();
    let mut net = Net::new(now);
    let mut reflector = config(65000, "10.0.0.100");
    reflector.groups.insert("clients".into(), neighbor(65000));
    reflector.listen_ranges.push(ListenRange {
        prefix: IpNet::from_str("192.0.2.0/24").unwrap(),
        group: "clients".into(),
    });
    let mut client = config(65000, "10.0.0.1");
    client.neighbors.insert(ip("192.0.2.100"), neighbor(65000));
    let r = net.add("192.0.2.100", reflector, StartOptions::default());
    let c = net.add("192.0.2.1", client, StartOptions::default());
    net.advance(Duration::from_secs(2), Duration::from_millis(500));

    let peer = &net.nodes[r].instance.peers[&ip("192.0.2.1")];
    assert!(peer.config.dynamic);
    assert!(peer.config.passive);
    assert_eq!(peer.config.group.as_deref(), Some("clients"));
    assert_eq!(peer.session.state(), State::Established);

    // The client's connection fails on both ends.
    let conn = net.established_conn(r, "192.0.2.1");
    net.unreachable.push(ip("192.0.2.100"));
    let client_conn = net.established_conn(c, "192.0.2.100");
    net.links.clear();
    net.input(r, Input::Closed { conn });
    net.input(c, Input::Closed { conn: client_conn });
    assert!(
        !net.nodes[r].instance.peers.contains_key(&ip("192.0.2.1")),
        "dynamic neighbor not removed"
    );
}

#[test]
fn unknown_source_connection_is_rejected() {
    let now = Instant::now();
    let mut net = Net::new(now);
    let listener = net.add(
        "192.0.2.100",
        config(65000, "10.0.0.100"),
        StartOptions::default(),
    );
    let conn = net.nodes[listener].instance.allocate_conn();
    let outputs = net.nodes[listener].instance.handle(
        now,
        Input::Accepted {
            conn,
            local: "192.0.2.100:179".parse().unwrap(),
            remote: "203.0.113.9:40000".parse().unwrap(),
        },
    );
    assert!(
        matches!(outputs.as_slice(), [Output::Close { conn: c }] if *c == conn),
        "{outputs:?}"
    );
    assert_eq!(
        net.nodes[listener]
            .instance
            .summary(now)
            .rejected_connections,
        1
    );
}

#[test]
fn graceful_restart_helper_keeps_routes_until_restart_timer() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, true);
    assert!(net.best(1, "198.51.100.0/24").is_some());
    net.unreachable.push(ip("192.0.2.1"));
    net.unreachable.push(ip("192.0.2.2"));

    // A's connection drops without a NOTIFICATION: B keeps A's route as stale.
    let conn = net.established_conn(1, "192.0.2.1");
    net.links.remove(&(1, conn));
    net.input(1, Input::Closed { conn });
    assert!(
        net.best(1, "198.51.100.0/24").is_some(),
        "route withdrawn during restart"
    );
    assert!(net.stale_in_table(1, "198.51.100.0/24"));
    let helper = net.nodes[1].instance.peers[&ip("192.0.2.1")]
        .helper
        .clone()
        .unwrap();
    assert_eq!(helper.families, vec![AfiSafi::IPV4_UNICAST]);

    // A never comes back: the restart timer (120 s) sweeps the route.
    net.advance(Duration::from_secs(119), Duration::from_secs(1));
    assert!(net.best(1, "198.51.100.0/24").is_some());
    net.advance(Duration::from_secs(2), Duration::from_secs(1));
    assert!(
        net.best(1, "198.51.100.0/24").is_none(),
        "stale route not swept"
    );
}

#[test]
fn graceful_restart_helper_sweeps_at_end_of_rib() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, true);
    let conn = net.established_conn(1, "192.0.2.1");
    net.links.remove(&(1, conn));
    net.input(1, Input::Closed { conn });
    assert!(net.best(1, "198.51.100.0/24").is_some());
    assert!(net.stale_in_table(1, "198.51.100.0/24"));

    // A restarts without the route: once A's End-of-RIB arrives, B drops the stale route.
    let mut a = config(65001, "10.0.0.1");
    a.neighbors.insert(ip("192.0.2.2"), neighbor(65002));
    a.graceful_restart.enabled = true;
    let (instance, outputs) = Instance::new(
        net.now,
        a,
        StartOptions {
            restarted: true,
            seed: 9,
        },
    )
    .unwrap();
    net.links.retain(|(node, _), _| *node != 0);
    net.nodes[0].instance = instance;
    net.nodes[0].events.clear();
    net.deliver(0, outputs);
    net.input(0, Input::LocalRoutesReady);
    net.advance(Duration::from_secs(5), Duration::from_millis(500));
    assert_eq!(net.state(1, "192.0.2.1"), Some(State::Established));
    assert!(
        net.best(1, "198.51.100.0/24").is_none(),
        "stale route not swept at End-of-RIB"
    );
    assert!(
        net.nodes[1].instance.peers[&ip("192.0.2.1")]
            .helper
            .is_none()
    );
}

#[test]
fn restarting_speaker_defers_until_local_routes_ready() {
    let now = Instant::now();
    let mut net = Net::new(now);
    let mut a = config(65001, "10.0.0.1");
    a.neighbors.insert(ip("192.0.2.2"), neighbor(65002));
    a.graceful_restart.enabled = true;
    let mut b = config(65002, "10.0.0.2");
    b.neighbors.insert(ip("192.0.2.1"), neighbor(65001));
    b.graceful_restart.enabled = true;
    let ia = net.add(
        "192.0.2.1",
        a,
        StartOptions {
            restarted: true,
            seed: 1,
        },
    );
    net.add("192.0.2.2", b, StartOptions::default());
    net.advance(Duration::from_secs(3), Duration::from_millis(500));
    assert_eq!(net.state(ia, "192.0.2.2"), Some(State::Established));

    // The OPEN carried Restart State; no UPDATE left A yet, not even End-of-RIB.
    let b_view = net.nodes[1].instance.peers[&ip("192.0.2.1")]
        .graceful_restart
        .clone()
        .unwrap();
    assert!(b_view.0.restart_state);
    assert!(
        net.nodes[ia].sent.iter().all(|(_, d)| d[18] != 2),
        "UPDATE sent during deferral"
    );

    net.input(
        ia,
        Input::Originate {
            afi_safi: AfiSafi::IPV4_UNICAST,
            route: Route::Ipv4(prefix("198.51.100.0/24")),
            attributes: Box::new(local_route_attributes()),
        },
    );
    assert!(net.best(1, "198.51.100.0/24").is_none());
    net.input(ia, Input::LocalRoutesReady);
    assert!(
        net.best(1, "198.51.100.0/24").is_some(),
        "routes not sent after the deferral"
    );
    let updates: Vec<&Vec<u8>> = net.nodes[ia]
        .sent
        .iter()
        .filter(|(_, d)| d[18] == 2)
        .map(|(_, d)| d)
        .collect();
    let last = updates.last().unwrap();
    let end_of_rib = [&[0xff; 16][..], &[0, 23, 2, 0, 0, 0, 0]].concat();
    assert!(
        last.len() > 23,
        "the route and End-of-RIB were not sent together"
    );
    assert!(
        last.ends_with(&end_of_rib),
        "the last message must be the IPv4 End-of-RIB"
    );
}

#[test]
fn restarting_speaker_deferral_ends_at_timer() {
    let now = Instant::now();
    let mut net = Net::new(now);
    let mut a = config(65001, "10.0.0.1");
    a.neighbors.insert(ip("192.0.2.2"), neighbor(65002));
    a.graceful_restart.enabled = true;
    a.graceful_restart.select_defer_time = 10;
    let mut b = config(65002, "10.0.0.2");
    b.neighbors.insert(ip("192.0.2.1"), neighbor(65001));
    let ia = net.add(
        "192.0.2.1",
        a,
        StartOptions {
            restarted: true,
            seed: 1,
        },
    );
    net.add("192.0.2.2", b, StartOptions::default());
    net.input(
        ia,
        Input::Originate {
            afi_safi: AfiSafi::IPV4_UNICAST,
            route: Route::Ipv4(prefix("198.51.100.0/24")),
            attributes: Box::new(local_route_attributes()),
        },
    );
    net.advance(Duration::from_secs(9), Duration::from_millis(500));
    assert!(net.best(1, "198.51.100.0/24").is_none());
    net.advance(Duration::from_secs(2), Duration::from_millis(500));
    assert!(net.best(1, "198.51.100.0/24").is_some());
}

#[test]
fn bfd_register_at_established_and_down_drops_session() {
    let now = Instant::now();
    let mut net = Net::new(now);
    let mut a = config(65001, "10.0.0.1");
    let mut tracked = neighbor(65002);
    tracked.track_bfd = Some(true);
    a.neighbors.insert(ip("192.0.2.2"), tracked);
    let mut b = config(65002, "10.0.0.2");
    b.neighbors.insert(ip("192.0.2.1"), neighbor(65001));
    let ia = net.add("192.0.2.1", a, StartOptions::default());
    net.add("192.0.2.2", b, StartOptions::default());
    net.advance(Duration::from_secs(2), Duration::from_millis(500));
    let registered = net.nodes[ia].events.iter().find_map(|e| match e {
        BgpEvent::BfdRegister {
            peer,
            local,
            multihop,
        } => Some((*peer, *local, *multihop)),
        _ => None,
    });
    assert_eq!(registered, Some((ip("192.0.2.2"), ip("192.0.2.1"), false)));

    net.unreachable.push(ip("192.0.2.2"));
    net.input(
        ia,
        Input::BfdDown {
            peer: ip("192.0.2.2"),
        },
    );
    assert_eq!(net.state(ia, "192.0.2.2"), Some(State::Idle));
    // No NOTIFICATION on a dead path.
    assert!(net.nodes[ia].sent.iter().all(|(_, d)| d[18] != 3));
    assert_eq!(net.state(1, "192.0.2.1"), Some(State::Idle));
}

#[test]
fn reconfigure_adds_and_removes_without_touching_others() {
    let now = Instant::now();
    let mut net = Net::new(now);
    let mut a = config(65001, "10.0.0.1");
    a.neighbors.insert(ip("192.0.2.2"), neighbor(65002));
    a.neighbors.insert(ip("192.0.2.3"), neighbor(65003));
    let mut b = config(65002, "10.0.0.2");
    b.neighbors.insert(ip("192.0.2.1"), neighbor(65001));
    let mut c = config(65003, "10.0.0.3");
    c.neighbors.insert(ip("192.0.2.1"), neighbor(65001));
    let ia = net.add("192.0.2.1", a.clone(), StartOptions::default());
    net.add("192.0.2.2", b, StartOptions::default());
    net.add("192.0.2.3", c, StartOptions::default());
    net.advance(Duration::from_secs(2), Duration::from_millis(500));
    let b_conn = net.established_conn(ia, "192.0.2.2");

    // Remove C, change B's description only.
    let mut changed = a.clone();
    changed.neighbors.remove(&ip("192.0.2.3"));
    changed
        .neighbors
        .get_mut(&ip("192.0.2.2"))
        .unwrap()
        .description = Some("spine".into());
    let outputs = net.nodes[ia]
        .instance
        .reconfigure(net.now, changed)
        .unwrap();
    net.deliver(ia, outputs);
    assert!(!net.nodes[ia].instance.peers.contains_key(&ip("192.0.2.3")));
    assert_eq!(
        net.established_conn(ia, "192.0.2.2"),
        b_conn,
        "unaffected session was reset"
    );
    let deconfigured = net.nodes[ia]
        .sent
        .iter()
        .any(|(_, d)| d[18] == 3 && d[19] == 6 && d[20] == 3);
    assert!(deconfigured, "no Cease, Peer De-configured");

    // A hold time change resets B's session.
    let mut hold = a.clone();
    hold.neighbors.remove(&ip("192.0.2.3"));
    hold.neighbors.get_mut(&ip("192.0.2.2")).unwrap().hold_time = Some(30);
    let outputs = net.nodes[ia].instance.reconfigure(net.now, hold).unwrap();
    net.deliver(ia, outputs);
    net.advance(Duration::from_secs(3), Duration::from_millis(500));
    assert_eq!(net.state(ia, "192.0.2.2"), Some(State::Established));
    assert_ne!(net.established_conn(ia, "192.0.2.2"), b_conn);
}

#[test]
fn reconfigure_rejects_invalid_config_unchanged() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, false);
    let mut bad = net.nodes[0].instance.config().clone();
    bad.neighbors.get_mut(&ip("192.0.2.2")).unwrap().hold_time = Some(2);
    assert!(net.nodes[0].instance.reconfigure(net.now, bad).is_err());
    assert_eq!(
        net.nodes[0].instance.config().neighbors[&ip("192.0.2.2")].hold_time,
        Some(9)
    );
    net.advance(Duration::from_secs(1), Duration::from_millis(500));
    assert_eq!(net.state(0, "192.0.2.2"), Some(State::Established));
}

#[test]
fn listener_keys_follow_passwords() {
    let now = Instant::now();
    let mut net = Net::new(now);
    let mut a = config(65001, "10.0.0.1");
    let mut secret = neighbor(65002);
    secret.password = Some("s3cret".into());
    a.neighbors.insert(ip("192.0.2.2"), secret);
    let mut group = neighbor(65001);
    group.password = Some("range".into());
    a.groups.insert("g".into(), group);
    a.listen_ranges.push(ListenRange {
        prefix: IpNet::from_str("10.9.0.0/16").unwrap(),
        group: "g".into(),
    });
    let ia = net.add("192.0.2.1", a.clone(), StartOptions::default());
    let keys = &net.nodes[ia].listener_keys;
    assert_eq!(
        keys.get(&IpNet::from_str("192.0.2.2/32").unwrap()),
        Some(&Some("s3cret".into()))
    );
    assert_eq!(
        keys.get(&IpNet::from_str("10.9.0.0/16").unwrap()),
        Some(&Some("range".into()))
    );

    let mut changed = a;
    changed
        .neighbors
        .get_mut(&ip("192.0.2.2"))
        .unwrap()
        .password = None;
    let outputs = net.nodes[ia]
        .instance
        .reconfigure(net.now, changed)
        .unwrap();
    net.deliver(ia, outputs);
    assert_eq!(
        net.nodes[ia]
            .listener_keys
            .get(&IpNet::from_str("192.0.2.2/32").unwrap()),
        Some(&None)
    );
}

#[test]
fn shutdown_graceful_sends_no_notification() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, true);
    let outputs = net.nodes[0].instance.shutdown(net.now, true);
    assert!(
        outputs.iter().all(|o| !matches!(o, Output::Send { .. })),
        "{outputs:?}"
    );
    assert!(outputs.iter().any(|o| matches!(o, Output::Close { .. })));
    net.deliver(0, outputs);
    assert!(net.best(1, "198.51.100.0/24").is_some());
    assert!(net.stale_in_table(1, "198.51.100.0/24"));
}

#[test]
fn shutdown_hard_sends_hard_reset() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, true);
    let outputs = net.nodes[0].instance.shutdown(net.now, false);
    net.deliver(0, outputs);
    let notification = net.nodes[0]
        .sent
        .iter()
        .rev()
        .find(|(_, d)| d[18] == 3)
        .map(|(_, d)| (d[19], d[20], d[21], d[22]));
    assert_eq!(
        notification,
        Some((6, 9, 6, 2)),
        "Cease, Hard Reset wrapping Administrative Shutdown"
    );
    assert!(net.best(1, "198.51.100.0/24").is_none());
}

#[test]
fn clear_soft_out_resends_routes_without_reset() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, false);
    let conn = net.established_conn(0, "192.0.2.2");
    let updates_before = net.nodes[0].instance.peers[&ip("192.0.2.2")]
        .session
        .counters()
        .updates_out;
    net.input(
        0,
        Input::Clear {
            peer: Some(ip("192.0.2.2")),
            kind: ClearKind::SoftOut,
        },
    );
    let updates_after = net.nodes[0].instance.peers[&ip("192.0.2.2")]
        .session
        .counters()
        .updates_out;
    assert!(updates_after > updates_before, "nothing resent");
    assert_eq!(
        net.established_conn(0, "192.0.2.2"),
        conn,
        "session was reset"
    );
    assert!(net.best(1, "198.51.100.0/24").is_some());
}

#[test]
fn clear_soft_in_sends_route_refresh() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, false);
    let refreshes_before = net.nodes[1].instance.peers[&ip("192.0.2.1")]
        .session
        .counters()
        .route_refreshes_out;
    net.input(
        1,
        Input::Clear {
            peer: Some(ip("192.0.2.1")),
            kind: ClearKind::SoftIn,
        },
    );
    let refreshes_after = net.nodes[1].instance.peers[&ip("192.0.2.1")]
        .session
        .counters()
        .route_refreshes_out;
    assert_eq!(refreshes_after, refreshes_before + 1);
    // The peer answered with its table again.
    assert!(net.best(1, "198.51.100.0/24").is_some());
    assert_eq!(
        net.nodes[0].instance.peers[&ip("192.0.2.2")]
            .session
            .counters()
            .route_refreshes_in,
        1
    );
}

#[test]
fn received_batch_is_applied_in_order() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, false);
    let conn = net.established_conn(1, "192.0.2.1");
    let ctx = SessionContext {
        four_octet_as: true,
        ..SessionContext::default()
    };
    let announce = |prefixes: &[&str]| {
        let update = Update {
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence(vec![65001])),
                next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
                ..PathAttributes::default()
            },
            nlri: prefixes.iter().map(|p| PathNlri::new(prefix(p))).collect(),
            ..Update::default()
        };
        Message::Update(update).to_bytes(&ctx).unwrap()
    };
    let withdraw = Message::Update(Update {
        withdrawn: vec![PathNlri::new(prefix("203.0.113.0/24"))],
        ..Update::default()
    })
    .to_bytes(&ctx)
    .unwrap();
    let frames = vec![announce(&["203.0.113.0/24", "203.0.114.0/24"]), withdraw];
    net.input(1, Input::ReceivedMany { conn, frames });
    assert!(net.best(1, "203.0.113.0/24").is_none());
    assert!(net.best(1, "203.0.114.0/24").is_some());
}

/// An UPDATE whose MP_REACH_NLRI for l2vpn-evpn has a 3-octet next hop: RFC 7606 section 7.11
/// makes that "AFI/SAFI disable" for l2vpn-evpn.
fn update_with_broken_evpn_reach() -> Vec<u8> {
    let attributes: Vec<u8> = [
        &[0x40, 1, 1, 0][..],
        &[0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9],
        &[0x80, 14, 8, 0, 25, 70, 3, 1, 2, 3, 0],
    ]
    .concat();
    let mut message = vec![0xff; 16];
    let length = (19 + 2 + 2 + attributes.len()) as u16;
    message.extend_from_slice(&length.to_be_bytes());
    message.push(2);
    message.extend_from_slice(&[0, 0]);
    message.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
    message.extend_from_slice(&attributes);
    message
}

fn pair_with_families(families: &[AfiSafi]) -> Net {
    let now = Instant::now();
    let mut net = Net::new(now);
    let settings = |remote_as| {
        let mut n = neighbor(remote_as);
        for f in families {
            n.families.insert(*f, FamilySettings::default());
        }
        if !families.contains(&AfiSafi::IPV4_UNICAST) {
            n.families.insert(
                AfiSafi::IPV4_UNICAST,
                FamilySettings {
                    enabled: Some(false),
                    ..FamilySettings::default()
                },
            );
        }
        n
    };
    let mut a = config(65001, "10.0.0.1");
    a.neighbors.insert(ip("192.0.2.2"), settings(65002));
    let mut b = config(65002, "10.0.0.2");
    b.neighbors.insert(ip("192.0.2.1"), settings(65001));
    net.add("192.0.2.1", a, StartOptions::default());
    net.add("192.0.2.2", b, StartOptions::default());
    net.advance(Duration::from_secs(2), Duration::from_millis(500));
    net
}

#[test]
fn broken_mp_reach_disables_family_and_keeps_session() {
    let mut net = pair_with_families(&[AfiSafi::IPV4_UNICAST, AfiSafi::L2VPN_EVPN]);
    net.input(
        0,
        Input::Originate {
            afi_safi: AfiSafi::IPV4_UNICAST,
            route: Route::Ipv4(prefix("198.51.100.0/24")),
            attributes: Box::new(local_route_attributes()),
        },
    );
    assert!(net.best(1, "198.51.100.0/24").is_some());
    let conn = net.established_conn(1, "192.0.2.1");
    net.input(
        1,
        Input::Received {
            conn,
            frame: update_with_broken_evpn_reach(),
        },
    );

    let peer = &net.nodes[1].instance.peers[&ip("192.0.2.1")];
    assert_eq!(peer.session.state(), State::Established);
    assert_eq!(peer.disabled, vec![AfiSafi::L2VPN_EVPN]);
    assert_eq!(peer.negotiated_families(), vec![AfiSafi::IPV4_UNICAST]);
    assert_eq!(peer.malformed.afi_safi_disable, 1);
    assert_eq!(peer.malformed.session_reset, 0);
    assert!(net.best(1, "198.51.100.0/24").is_some(), "IPv4 route lost");
}

#[test]
fn broken_mp_reach_of_only_family_resets_session() {
    let mut net = pair_with_families(&[AfiSafi::L2VPN_EVPN]);
    assert_eq!(net.state(1, "192.0.2.1"), Some(State::Established));
    let conn = net.established_conn(1, "192.0.2.1");
    net.input(
        1,
        Input::Received {
            conn,
            frame: update_with_broken_evpn_reach(),
        },
    );

    let peer = &net.nodes[1].instance.peers[&ip("192.0.2.1")];
    assert_ne!(peer.session.state(), State::Established);
    assert_eq!(peer.malformed.session_reset, 1);
    let notification = net.nodes[1]
        .sent
        .iter()
        .rev()
        .find(|(_, d)| d[18] == 3)
        .map(|(_, d)| (d[19], d[20]));
    assert_eq!(
        notification,
        Some((3, 9)),
        "UPDATE Message Error, Optional Attribute Error"
    );
}

#[test]
fn shutdown_hard_reports_withdrawals_to_owner() {
    let now = Instant::now();
    let mut net = ebgp_pair(now, false);
    net.input(
        1,
        Input::Originate {
            afi_safi: AfiSafi::IPV4_UNICAST,
            route: Route::Ipv4(prefix("203.0.113.0/24")),
            attributes: Box::new(local_route_attributes()),
        },
    );
    assert!(net.best(0, "203.0.113.0/24").is_some());
    let outputs = net.nodes[0].instance.shutdown(net.now, false);
    net.deliver(0, outputs);
    assert!(
        net.best(0, "203.0.113.0/24").is_none(),
        "the owner was not told of the withdrawal"
    );
}
