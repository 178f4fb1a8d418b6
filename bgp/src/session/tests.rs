//! Deterministic tests of the session FSM: two sessions wired back to back in memory, time
//! advanced by hand.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{BgpConfig, NeighborSettings};
use crate::message::Notification;
use crate::wire::{HEADER_LEN, cease_subcode, error_code};

fn settings(
    local_as: u32,
    id: [u8; 4],
    peer: [u8; 4],
    remote_as: u32,
    passive: bool,
) -> SessionSettings {
    let mut config = BgpConfig::new(local_as, Ipv4Addr::from(id));
    let address = IpAddr::from(peer);
    config.neighbors.insert(
        address,
        NeighborSettings {
            remote_as: Some(remote_as),
            hold_time: Some(9),
            keepalive: Some(3),
            connect_retry: Some(5),
            passive: Some(passive),
            ..NeighborSettings::default()
        },
    );
    SessionSettings {
        local_as,
        router_id: config.router_id,
        peer: config.neighbor_config(address).unwrap(),
        graceful_restart: None,
    }
}

/// Two sessions and the TCP connections between them.
struct Pair {
    a: Session,
    b: Session,
    /// Connection id on one side -> id of the same connection on the other side.
    a_to_b: HashMap<ConnId, ConnId>,
    b_to_a: HashMap<ConnId, ConnId>,
    /// Connect requests not yet answered, per side.
    a_connects: Vec<ConnId>,
    b_connects: Vec<ConnId>,
    ids: Arc<AtomicU64>,
    events: Vec<(char, Action)>,
}

fn endpoints(local: [u8; 4], remote: [u8; 4]) -> Endpoints {
    Endpoints {
        local: SocketAddr::new(IpAddr::from(local), 40000),
        remote: SocketAddr::new(IpAddr::from(remote), 179),
    }
}

const A: [u8; 4] = [192, 0, 2, 1];
const B: [u8; 4] = [192, 0, 2, 2];

impl Pair {
    fn new(a: SessionSettings, b: SessionSettings) -> Pair {
        let ids = Arc::new(AtomicU64::new(0));
        Pair {
            a: Session::new(a, ids.clone(), 1),
            b: Session::new(b, ids.clone(), 2),
            a_to_b: HashMap::new(),
            b_to_a: HashMap::new(),
            a_connects: Vec::new(),
            b_connects: Vec::new(),
            ids,
            events: Vec::new(),
        }
    }

    /// Delivers actions until both sides are quiet, completing TCP connects when `tcp_up`.
    fn run(&mut self, now: Instant, side: char, actions: Vec<Action>, tcp_up: bool) {
        self.run_queue(
            now,
            actions.into_iter().map(|a| (side, a)).collect(),
            tcp_up,
        );
    }

    /// Delivers queued actions in order, appending what they produce (TCP keeps each
    /// connection's messages in order, so the queue must be first in, first out).
    fn run_queue(&mut self, now: Instant, mut queue: Vec<(char, Action)>, tcp_up: bool) {
        let mut steps = 0;
        while let Some((side, action)) = (!queue.is_empty()).then(|| queue.remove(0)) {
            steps += 1;
            assert!(steps < 1000, "actions do not converge");
            self.events.push((side, action.clone()));
            match action {
                Action::Connect(conn) => {
                    if side == 'a' {
                        self.a_connects.push(conn)
                    } else {
                        self.b_connects.push(conn)
                    }
                    if tcp_up {
                        let produced = self.complete_connect(now, side, conn);
                        queue.extend(produced);
                    }
                }
                Action::Send { conn, data } => {
                    let (map, target) = if side == 'a' {
                        (&self.a_to_b, 'b')
                    } else {
                        (&self.b_to_a, 'a')
                    };
                    let Some(&remote) = map.get(&conn) else {
                        continue;
                    };
                    let mut rest = &data[..];
                    while rest.len() >= HEADER_LEN {
                        let length = u16::from_be_bytes([rest[16], rest[17]]) as usize;
                        let (frame, tail) = rest.split_at(length);
                        rest = tail;
                        let session = if target == 'a' {
                            &mut self.a
                        } else {
                            &mut self.b
                        };
                        let produced = session.receive(now, remote, frame);
                        queue.extend(produced.into_iter().map(|a| (target, a)));
                    }
                }
                Action::Close(conn) => {
                    let (map, back, target) = if side == 'a' {
                        (&mut self.a_to_b, &mut self.b_to_a, 'b')
                    } else {
                        (&mut self.b_to_a, &mut self.a_to_b, 'a')
                    };
                    if let Some(remote) = map.remove(&conn) {
                        back.remove(&remote);
                        let session = if target == 'a' {
                            &mut self.a
                        } else {
                            &mut self.b
                        };
                        let produced = session.handle(now, Event::TcpConnectionFails(remote));
                        queue.extend(produced.into_iter().map(|a| (target, a)));
                    }
                }
                _ => {}
            }
        }
    }

    /// Completes a connect of `side`: the other side accepts with a new connection id.
    fn complete_connect(&mut self, now: Instant, side: char, conn: ConnId) -> Vec<(char, Action)> {
        let accepted = ConnId(self.ids.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1000);
        let (local, remote) = if side == 'a' { (A, B) } else { (B, A) };
        if side == 'a' {
            self.a_to_b.insert(conn, accepted);
            self.b_to_a.insert(accepted, conn);
        } else {
            self.b_to_a.insert(conn, accepted);
            self.a_to_b.insert(accepted, conn);
        }
        let other = if side == 'a' { 'b' } else { 'a' };
        let mut out: Vec<(char, Action)> = Vec::new();
        let confirm = {
            let session = if other == 'a' {
                &mut self.a
            } else {
                &mut self.b
            };
            session.handle(
                now,
                Event::TcpConnectionConfirmed(accepted, endpoints(remote, local)),
            )
        };
        out.extend(confirm.into_iter().map(|a| (other, a)));
        let acked = {
            let session = if side == 'a' {
                &mut self.a
            } else {
                &mut self.b
            };
            session.handle(now, Event::TcpCrAcked(conn, endpoints(local, remote)))
        };
        out.extend(acked.into_iter().map(|a| (side, a)));
        out
    }

    fn poll(&mut self, now: Instant, tcp_up: bool) {
        let a = self.a.poll(now);
        self.run(now, 'a', a, tcp_up);
        let b = self.b.poll(now);
        self.run(now, 'b', b, tcp_up);
    }

    fn sent_notifications(&self, side: char) -> Vec<Notification> {
        self.events
            .iter()
            .filter(|(s, _)| *s == side)
            .filter_map(|(_, action)| match action {
                Action::Send { data, .. } if data.get(18) == Some(&3) => Some(Notification {
                    code: data[19],
                    subcode: data[20],
                    data: data[21..].to_vec(),
                }),
                _ => None,
            })
            .collect()
    }
}

fn established_pair(now: Instant) -> Pair {
    let mut pair = Pair::new(
        settings(65000, [10, 0, 0, 1], B, 65001, false),
        settings(65001, [10, 0, 0, 2], A, 65000, true),
    );
    let b = pair.b.handle(now, Event::ManualStart);
    pair.run(now, 'b', b, true);
    let a = pair.a.handle(now, Event::ManualStart);
    pair.run(now, 'a', a, true);
    pair
}

#[test]
fn session_pair_reaches_established() {
    let now = Instant::now();
    let pair = established_pair(now);
    assert_eq!(pair.a.state(), State::Established);
    assert_eq!(pair.b.state(), State::Established);
    let n = pair.a.negotiated().unwrap();
    assert_eq!(n.hold_time, 9);
    assert_eq!(n.keepalive, 3);
    assert_eq!(n.remote_as, 65001);
    assert!(
        pair.events
            .iter()
            .any(|(s, a)| *s == 'a' && *a == Action::Established)
    );
    assert_eq!(pair.a.counters().established_transitions, 1);
}

#[test]
fn session_passive_waits_in_active() {
    let now = Instant::now();
    let ids = Arc::new(AtomicU64::new(0));
    let mut session = Session::new(settings(65001, [10, 0, 0, 2], A, 65000, true), ids, 3);
    let actions = session.handle(now, Event::ManualStart);
    assert_eq!(session.state(), State::Active);
    assert!(!actions.iter().any(|a| matches!(a, Action::Connect(_))));
}

#[test]
fn session_connect_retry_timer_retries_connect() {
    let now = Instant::now();
    let ids = Arc::new(AtomicU64::new(0));
    let mut session = Session::new(settings(65000, [10, 0, 0, 1], B, 65001, false), ids, 3);
    let first = session.handle(now, Event::ManualStart);
    assert_eq!(session.state(), State::Connect);
    let Some(Action::Connect(first_conn)) = first
        .iter()
        .find(|a| matches!(a, Action::Connect(_)))
        .cloned()
    else {
        panic!("no connect in {first:?}");
    };
    // The jittered interval lies between 3.75 and 5 seconds.
    assert!(session.poll(now + Duration::from_millis(3700)).is_empty());
    let retry = session.poll(now + Duration::from_secs(5));
    assert!(retry.contains(&Action::Close(first_conn)), "{retry:?}");
    assert!(
        retry
            .iter()
            .any(|a| matches!(a, Action::Connect(c) if *c != first_conn)),
        "{retry:?}"
    );
}

#[test]
fn session_connect_failure_goes_active() {
    let now = Instant::now();
    let ids = Arc::new(AtomicU64::new(0));
    let mut session = Session::new(settings(65000, [10, 0, 0, 1], B, 65001, false), ids, 3);
    let actions = session.handle(now, Event::ManualStart);
    let Some(Action::Connect(conn)) = actions.first().cloned() else {
        panic!("{actions:?}")
    };
    session.handle(now, Event::TcpConnectionFails(conn));
    assert_eq!(session.state(), State::Active);
    assert!(session.next_deadline().is_some());
}

#[test]
fn session_hold_timer_expiry_sends_notification() {
    let now = Instant::now();
    let mut pair = established_pair(now);
    // Only A runs its timers: B never sends a keepalive, so A's hold timer (9 s) expires.
    let later = now + Duration::from_secs(10);
    let actions = pair.a.poll(later);
    assert!(
        actions.contains(&Action::Down(DownReason::HoldTimerExpired)),
        "{actions:?}"
    );
    pair.run(later, 'a', actions, false);
    let sent = pair.sent_notifications('a');
    assert_eq!(
        sent.last().map(|n| n.code),
        Some(error_code::HOLD_TIMER_EXPIRED)
    );
    assert_eq!(pair.a.state(), State::Idle);
    assert_eq!(pair.b.state(), State::Idle);
}

#[test]
fn session_keepalives_keep_it_up() {
    let now = Instant::now();
    let mut pair = established_pair(now);
    for step in 1..=20 {
        pair.poll(now + Duration::from_secs(step), true);
    }
    assert_eq!(pair.a.state(), State::Established);
    assert_eq!(pair.b.state(), State::Established);
    assert!(pair.a.counters().keepalives_out >= 5);
}

#[test]
fn session_restarts_after_idle_hold() {
    let now = Instant::now();
    let mut pair = established_pair(now);
    let conn = pair.a.established_conn().unwrap();
    let actions = pair.a.handle(now, Event::TcpConnectionFails(conn));
    assert!(actions.contains(&Action::Down(DownReason::ConnectionFailed)));
    assert_eq!(pair.a.state(), State::Idle);
    let restart = pair.a.poll(now + Duration::from_secs(1));
    assert!(
        restart.iter().any(|a| matches!(a, Action::Connect(_))),
        "{restart:?}"
    );
    assert_eq!(pair.a.state(), State::Connect);
}

#[test]
fn session_manual_stop_sends_cease_and_stays_idle() {
    let now = Instant::now();
    let mut pair = established_pair(now);
    let n = Notification::with_shutdown_communication(
        cease_subcode::ADMINISTRATIVE_SHUTDOWN,
        "maintenance",
    );
    let actions = pair.a.handle(now, Event::ManualStop(n));
    pair.run(now, 'a', actions, false);
    let sent = pair.sent_notifications('a');
    let last = sent.last().unwrap();
    assert_eq!(
        (last.code, last.subcode),
        (error_code::CEASE, cease_subcode::ADMINISTRATIVE_SHUTDOWN)
    );
    assert_eq!(last.shutdown_communication(), Some("maintenance"));
    assert!(pair.a.is_stopped());
    assert!(pair.a.poll(now + Duration::from_secs(120)).is_empty());
    assert_eq!(pair.a.state(), State::Idle);
    match &pair.b.last_error().unwrap().reason {
        DownReason::NotificationReceived(n) => {
            assert_eq!(n.message.as_deref(), Some("maintenance"))
        }
        other => panic!("unexpected reason {other:?}"),
    }
}

#[test]
fn session_update_in_open_confirm_is_fsm_error() {
    let now = Instant::now();
    let ids = Arc::new(AtomicU64::new(0));
    let mut session = Session::new(settings(65000, [10, 0, 0, 1], B, 65001, true), ids, 3);
    session.handle(now, Event::ManualStart);
    let conn = ConnId(77);
    session.handle(now, Event::TcpConnectionConfirmed(conn, endpoints(A, B)));
    let open = crate::message::Open::new(65001, 9, Ipv4Addr::new(10, 0, 0, 2), vec![]);
    let bytes = crate::message::Message::Open(open)
        .to_bytes(&Default::default())
        .unwrap();
    session.receive(now, conn, &bytes);
    assert_eq!(session.state(), State::OpenConfirm);
    let update = crate::message::Message::Update(Default::default())
        .to_bytes(&Default::default())
        .unwrap();
    let actions = session.receive(now, conn, &update);
    let notification = actions.iter().find_map(|a| match a {
        Action::Send { data, .. } if data[18] == 3 => Some((data[19], data[20])),
        _ => None,
    });
    assert_eq!(
        notification,
        Some((error_code::FSM, fsm_subcode::UNEXPECTED_IN_OPEN_CONFIRM))
    );
    assert_eq!(session.state(), State::Idle);
}

#[test]
fn session_open_with_wrong_as_is_rejected() {
    let now = Instant::now();
    let ids = Arc::new(AtomicU64::new(0));
    let mut session = Session::new(settings(65000, [10, 0, 0, 1], B, 65001, true), ids, 3);
    session.handle(now, Event::ManualStart);
    let conn = ConnId(5);
    session.handle(now, Event::TcpConnectionConfirmed(conn, endpoints(A, B)));
    let open = crate::message::Open::new(65009, 9, Ipv4Addr::new(10, 0, 0, 2), vec![]);
    let bytes = crate::message::Message::Open(open)
        .to_bytes(&Default::default())
        .unwrap();
    let actions = session.receive(now, conn, &bytes);
    let notification = actions.iter().find_map(|a| match a {
        Action::Send { data, .. } if data[18] == 3 => Some((data[19], data[20])),
        _ => None,
    });
    assert_eq!(
        notification,
        Some((
            error_code::OPEN_MESSAGE,
            crate::wire::open_subcode::BAD_PEER_AS
        ))
    );
    assert!(actions.contains(&Action::Close(conn)));
}

#[test]
fn collision_keeps_connection_of_higher_identifier() {
    let now = Instant::now();
    // Both sides active: each opens a connection, and both connections reach OpenSent before
    // either OPEN is delivered.
    let mut pair = Pair::new(
        settings(65000, [10, 0, 0, 1], B, 65001, false),
        settings(65001, [10, 0, 0, 2], A, 65000, false),
    );
    let connect_of = |actions: Vec<Action>| {
        actions.into_iter().find_map(|a| match a {
            Action::Connect(conn) => Some(conn),
            _ => None,
        })
    };
    let a_out = connect_of(pair.a.handle(now, Event::ManualStart)).unwrap();
    let b_out = connect_of(pair.b.handle(now, Event::ManualStart)).unwrap();
    pair.a_connects.push(a_out);
    pair.b_connects.push(b_out);
    let (a_in, b_in) = (ConnId(501), ConnId(502));
    pair.a_to_b.insert(a_out, b_in);
    pair.b_to_a.insert(b_in, a_out);
    pair.b_to_a.insert(b_out, a_in);
    pair.a_to_b.insert(a_in, b_out);
    // Both attempts complete before either side sees the other's connection.
    let mut held: Vec<(char, Action)> = Vec::new();
    held.extend(
        pair.a
            .handle(now, Event::TcpCrAcked(a_out, endpoints(A, B)))
            .into_iter()
            .map(|x| ('a', x)),
    );
    held.extend(
        pair.b
            .handle(now, Event::TcpCrAcked(b_out, endpoints(B, A)))
            .into_iter()
            .map(|x| ('b', x)),
    );
    held.extend(
        pair.b
            .handle(now, Event::TcpConnectionConfirmed(b_in, endpoints(B, A)))
            .into_iter()
            .map(|x| ('b', x)),
    );
    held.extend(
        pair.a
            .handle(now, Event::TcpConnectionConfirmed(a_in, endpoints(A, B)))
            .into_iter()
            .map(|x| ('a', x)),
    );
    // Deliver everything; the OPENs cross on both connections.
    pair.run_queue(now, held, false);
    assert_eq!(pair.a.state(), State::Established);
    assert_eq!(pair.b.state(), State::Established);
    // B has the higher identifier, so the connection B opened survives.
    let a_conn = pair.a.established_conn().unwrap();
    assert!(pair.a_to_b.contains_key(&a_conn));
    assert!(
        pair.b_connects.contains(&pair.a_to_b[&a_conn]),
        "A kept a connection B did not open"
    );
    let collisions: Vec<_> = pair
        .sent_notifications('a')
        .into_iter()
        .chain(pair.sent_notifications('b'))
        .filter(|n| {
            n.code == error_code::CEASE
                && n.subcode == cease_subcode::CONNECTION_COLLISION_RESOLUTION
        })
        .collect();
    assert!(!collisions.is_empty(), "no collision NOTIFICATION was sent");
}

/// Brings `pair` to Established (B passive), graceful restart advertised by both when `gr`.
fn established_pair_with(now: Instant, gr: bool) -> Pair {
    let mut a_settings = settings(65000, [10, 0, 0, 1], B, 65001, false);
    let mut b_settings = settings(65001, [10, 0, 0, 2], A, 65000, true);
    if gr {
        let advert = Some(GracefulRestartAdvert {
            restart_time: 120,
            restarting: false,
        });
        a_settings.graceful_restart = advert;
        b_settings.graceful_restart = advert;
    }
    let mut pair = Pair::new(a_settings, b_settings);
    let b = pair.b.handle(now, Event::ManualStart);
    pair.run(now, 'b', b, true);
    let a = pair.a.handle(now, Event::ManualStart);
    pair.run(now, 'a', a, true);
    assert_eq!(pair.b.state(), State::Established);
    pair
}

/// Encodes the OPEN that A would send on a new connection, with `local_as` as A's AS.
fn open_of_a(pair: &Pair, local_as: u32) -> Vec<u8> {
    let mut settings = pair.a.settings().clone();
    settings.local_as = local_as;
    crate::message::Message::Open(build_open(&settings))
        .to_bytes(&Default::default())
        .unwrap()
}

/// Lists the (code, subcode) of every NOTIFICATION that `actions` send on `conn`.
fn notifications_on(actions: &[Action], conn: ConnId) -> Vec<(u8, u8)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { conn: c, data } if *c == conn && data[18] == 3 => {
                Some((data[19], data[20]))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn new_connection_waits_for_open() {
    let now = Instant::now();
    let mut pair = established_pair_with(now, true);
    let old = pair.b.established_conn().unwrap();
    assert!(pair.b.accepts_connection());

    let new = ConnId(9999);
    let actions = pair
        .b
        .handle(now, Event::TcpConnectionConfirmed(new, endpoints(B, A)));
    // Our OPEN goes out on the new connection; the old one is left alone.
    assert!(
        actions
            .iter()
            .any(|a| matches!(a, Action::Send { conn, data } if *conn == new && data[18] == 1)),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Down(_))),
        "{actions:?}"
    );
    assert!(!actions.contains(&Action::Close(old)), "{actions:?}");
    assert_eq!(pair.b.state(), State::Established);
    assert_eq!(pair.b.established_conn(), Some(old));
    assert!(pair.b.owns(new));
}

#[test]
fn new_connection_open_means_restart() {
    let now = Instant::now();
    let mut pair = established_pair_with(now, true);
    let old = pair.b.established_conn().unwrap();
    let new = ConnId(9999);
    pair.b
        .handle(now, Event::TcpConnectionConfirmed(new, endpoints(B, A)));

    let open = open_of_a(&pair, 65000);
    let actions = pair.b.receive(now, new, &open);
    assert!(
        actions.contains(&Action::Down(DownReason::PeerRestarted)),
        "{actions:?}"
    );
    assert!(actions.contains(&Action::Close(old)), "{actions:?}");
    assert!(!actions.contains(&Action::Close(new)), "{actions:?}");
    assert!(notifications_on(&actions, new).is_empty(), "{actions:?}");
    assert_eq!(pair.b.state(), State::OpenConfirm);

    // The new connection completes the session.
    let keepalive = crate::message::Message::Keepalive
        .to_bytes(&Default::default())
        .unwrap();
    let actions = pair.b.receive(now, new, &keepalive);
    assert!(actions.contains(&Action::Established), "{actions:?}");
    assert_eq!(pair.b.established_conn(), Some(new));
}

#[test]
fn new_connection_bad_open_rejected_alone() {
    let now = Instant::now();
    let mut pair = established_pair_with(now, true);
    let old = pair.b.established_conn().unwrap();
    let drops = pair.b.counters().drops;
    let last_error = pair.b.last_error().cloned();
    // Repeated forgeries, as from a process sharing the peer's address.
    for n in 0..7 {
        let new = ConnId(9000 + n);
        pair.b
            .handle(now, Event::TcpConnectionConfirmed(new, endpoints(B, A)));
        let actions = pair.b.receive(now, new, &open_of_a(&pair, 65009));
        assert_eq!(
            notifications_on(&actions, new),
            vec![(
                error_code::OPEN_MESSAGE,
                crate::wire::open_subcode::BAD_PEER_AS
            )],
            "{actions:?}"
        );
        assert!(actions.contains(&Action::Close(new)), "{actions:?}");
        assert!(notifications_on(&actions, old).is_empty(), "{actions:?}");
        assert!(!actions.contains(&Action::Close(old)), "{actions:?}");
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::Down(_) | Action::StateChanged { .. }))
        );
        assert!(!pair.b.owns(new));
    }
    assert_eq!(pair.b.state(), State::Established);
    assert_eq!(pair.b.established_conn(), Some(old));
    assert_eq!(pair.b.counters().drops, drops);
    assert_eq!(pair.b.last_error().cloned(), last_error);
}

#[test]
fn new_connection_without_restart_collides() {
    let now = Instant::now();
    let mut pair = established_pair_with(now, false);
    let old = pair.b.established_conn().unwrap();
    let new = ConnId(9999);

    // The new connection loses at once, before any OPEN: an OPEN from us could make the peer
    // resolve the collision the other way.
    let actions = pair
        .b
        .handle(now, Event::TcpConnectionConfirmed(new, endpoints(B, A)));
    assert!(
        !actions
            .iter()
            // Octet 18 of a message is its type; 1 is OPEN.
            .any(|a| matches!(a, Action::Send { conn, data } if *conn == new && data.get(18) == Some(&1))),
        "{actions:?}"
    );
    assert_eq!(
        notifications_on(&actions, new),
        vec![(
            error_code::CEASE,
            cease_subcode::CONNECTION_COLLISION_RESOLUTION
        )],
        "{actions:?}"
    );
    assert!(actions.contains(&Action::Close(new)), "{actions:?}");

    // The Established session is untouched.
    assert!(!actions.contains(&Action::Close(old)), "{actions:?}");
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Down(_))),
        "{actions:?}"
    );
    assert_eq!(pair.b.state(), State::Established);
    assert_eq!(pair.b.established_conn(), Some(old));
}

#[test]
fn silent_new_connection_times_out() {
    let now = Instant::now();
    let mut pair = established_pair_with(now, true);
    let old = pair.b.established_conn().unwrap();
    let new = ConnId(9999);
    pair.b
        .handle(now, Event::TcpConnectionConfirmed(new, endpoints(B, A)));

    // Keepalives every 3 s keep the old connection up while the new one's large hold timer
    // (240 s) runs out.
    let mut closed = false;
    let mut at = now;
    for _ in 0..100 {
        at += Duration::from_secs(3);
        let a = pair.a.poll(at);
        pair.run(at, 'a', a, false);
        let actions = pair.b.poll(at);
        if actions.contains(&Action::Close(new)) {
            assert_eq!(
                notifications_on(&actions, new),
                vec![(error_code::HOLD_TIMER_EXPIRED, 0)]
            );
            closed = true;
        }
        assert!(!actions.contains(&Action::Close(old)), "{actions:?}");

        pair.run(at, 'b', actions, false);
        if closed {
            break;
        }
    }

    assert!(closed, "the silent connection was never closed");
    assert_eq!(pair.b.state(), State::Established);
    assert_eq!(pair.b.established_conn(), Some(old));
}

#[test]
fn down_reason_keeps_routes_only_when_graceful() {
    let hard = NotificationSummary {
        code: error_code::CEASE,
        subcode: cease_subcode::HARD_RESET,
        message: None,
    };
    let soft = NotificationSummary {
        code: error_code::HOLD_TIMER_EXPIRED,
        subcode: 0,
        message: None,
    };
    assert!(DownReason::ConnectionFailed.keeps_routes(false));
    assert!(!DownReason::BfdDown.keeps_routes(true));
    assert!(!DownReason::NotificationReceived(soft.clone()).keeps_routes(false));
    assert!(DownReason::NotificationReceived(soft).keeps_routes(true));
    assert!(!DownReason::NotificationReceived(hard).keeps_routes(true));
}

#[test]
fn hard_reset_wraps_administrative_shutdown_with_graceful_notification() {
    let now = Instant::now();
    let mut a_settings = settings(65000, [10, 0, 0, 1], B, 65001, false);
    let mut b_settings = settings(65001, [10, 0, 0, 2], A, 65000, true);
    let gr = Some(GracefulRestartAdvert {
        restart_time: 120,
        restarting: false,
    });
    a_settings.graceful_restart = gr;
    b_settings.graceful_restart = gr;
    let mut pair = Pair::new(a_settings, b_settings);
    let b = pair.b.handle(now, Event::ManualStart);
    pair.run(now, 'b', b, true);
    let a = pair.a.handle(now, Event::ManualStart);
    pair.run(now, 'a', a, true);
    assert!(pair.a.negotiated().unwrap().graceful_notification);

    let n =
        Notification::with_shutdown_communication(cease_subcode::ADMINISTRATIVE_SHUTDOWN, "bye");
    let actions = pair.a.handle(now, Event::ManualStop(n));
    pair.run(now, 'a', actions, false);
    let last = pair.sent_notifications('a').pop().unwrap();
    assert_eq!(
        (last.code, last.subcode),
        (error_code::CEASE, cease_subcode::HARD_RESET)
    );
    assert_eq!(last.shutdown_communication(), Some("bye"));
    match &pair.b.last_error().unwrap().reason {
        reason @ DownReason::NotificationReceived(_) => assert!(!reason.keeps_routes(true)),
        other => panic!("unexpected reason {other:?}"),
    }
}
