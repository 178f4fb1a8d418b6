//! Shared helpers of the BFD tests: our instance running inside a namespace, a two-namespace
//! topology with loopbacks routed for multihop, and silent link cuts. Included by the `bfd_*`
//! test files with `#[path]`.

#![allow(dead_code)]

use std::future::Future;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hna_bfd::{Bfd, BfdConfig, SessionSnapshot, State, StateChange, Subscription};
use hna_testkit::{Netns, veth, wait_until};

/// Our BFD instance on a thread of its own inside a namespace, as the daemon runs it
/// (`Bfd::spawn_on_thread` with SCHED_FIFO), and a runtime for the test thread to wait on it.
pub struct Ours {
    pub bfd: Bfd,
    runtime: tokio::runtime::Runtime,
}

/// SCHED_FIFO priority of the instance thread in the tests: detection times of 150 ms are
/// measured while other tests and compilers load the machine.
const REALTIME_PRIORITY: u8 = 10;

impl Ours {
    /// Starts an instance in `ns`. Its thread is created from a thread inside the namespace, so
    /// the instance's sockets belong to the namespace.
    pub fn start(ns: &Netns) -> Ours {
        let config = BfdConfig {
            realtime_priority: Some(REALTIME_PRIORITY),
            ..BfdConfig::default()
        };
        let bfd = ns
            .spawn(move || Bfd::spawn_on_thread(config))
            .join()
            .expect("thread in the namespace")
            .expect("BFD sockets open in the namespace");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Ours { bfd, runtime }
    }

    /// Runs a future on the test's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Returns the snapshots of every session.
    pub fn sessions(&self) -> Vec<SessionSnapshot> {
        self.block_on(self.bfd.sessions())
    }

    /// Returns the snapshot of the session with `peer`, on the given hop type.
    pub fn session(&self, peer: IpAddr, multihop: bool) -> Option<SessionSnapshot> {
        self.sessions()
            .into_iter()
            .find(|session| session.peer == peer && session.multihop == multihop)
    }

    /// Waits for the next state change of `subscription` that reaches `state`; panics after
    /// `timeout` with the changes seen.
    pub fn wait_for_state(
        &self,
        subscription: &mut Subscription,
        state: State,
        timeout: Duration,
    ) -> StateChange {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next =
                self.block_on(async { tokio::time::timeout(left, subscription.recv()).await });
            match next {
                Ok(Some(change)) if change.state == state => return change,
                Ok(Some(change)) => seen.push(change),
                Ok(None) => {
                    panic!("BFD instance stopped while waiting for {state}; changes seen: {seen:?}")
                }
                Err(_) => panic!(
                    "timed out after {timeout:?} waiting for {state}; changes seen: {seen:?}"
                ),
            }
        }
    }
}

/// Two namespaces joined by a veth pair `eth0` with 10.0.1.1/30 on `a` and 10.0.1.2/30 on `b`,
/// and loopbacks 192.0.2.1 (`a`) and 192.0.2.2 (`b`) reachable through static routes, for
/// multihop sessions.
pub struct Pair {
    pub a: Netns,
    pub b: Netns,
}

pub const LINK_A: &str = "10.0.1.1";
pub const LINK_B: &str = "10.0.1.2";
pub const LOOPBACK_A: &str = "192.0.2.1";
pub const LOOPBACK_B: &str = "192.0.2.2";

impl Pair {
    pub fn new(tag: &str) -> Pair {
        let a = Netns::new(&format!("{tag}-a"));
        let b = Netns::new(&format!("{tag}-b"));
        veth(&a, "eth0", &b, "eth0", 1500);
        a.ip(&["addr", "add", &format!("{LINK_A}/30"), "dev", "eth0"]);
        b.ip(&["addr", "add", &format!("{LINK_B}/30"), "dev", "eth0"]);
        a.ip(&["addr", "add", &format!("{LOOPBACK_A}/32"), "dev", "lo"]);
        b.ip(&["addr", "add", &format!("{LOOPBACK_B}/32"), "dev", "lo"]);
        a.ip(&["route", "add", &format!("{LOOPBACK_B}/32"), "via", LINK_B]);
        b.ip(&["route", "add", &format!("{LOOPBACK_A}/32"), "via", LINK_A]);
        assert!(
            a.ping(LINK_B, 2),
            "link between the namespaces does not carry ping"
        );
        assert!(
            a.sh(&format!(
                "ping -n -q -c 1 -W 2 -I {LOOPBACK_A} {LOOPBACK_B} >/dev/null && echo ok"
            ))
            .contains("ok")
        );
        Pair { a, b }
    }

    /// Drops every frame both ways on the link while both ends keep carrier: a silent failure.
    /// `b`'s egress is cut first. The returned time is taken just before that command starts,
    /// so it is no later than the moment `a` stops receiving, and a delay measured from it is
    /// never shorter than the real one.
    pub fn cut(&self) -> Instant {
        let started = Instant::now();
        for ns in [&self.b, &self.a] {
            ns.exec_ok(
                "tc",
                &[
                    "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "8bit", "burst", "10",
                    "latency", "1ms",
                ],
            );
        }
        started
    }

    /// Removes the dropping qdiscs again.
    pub fn restore(&self) {
        for ns in [&self.a, &self.b] {
            ns.exec_ok("tc", &["qdisc", "del", "dev", "eth0", "root"]);
        }
    }
}

/// Waits until our session with `peer` runs with a detection time of `detection_time_us`, which
/// happens once the Poll Sequence for the fast timers has ended.
pub fn wait_fast_timers(ours: &Ours, peer: IpAddr, multihop: bool, detection_time_us: u64) {
    wait_until(Duration::from_secs(5), "fast timers in force", || {
        let session = ours.session(peer, multihop)?;
        (session.timers.detection_time_us == detection_time_us && session.state == State::Up)
            .then_some(())
    });
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("valid address")
}

pub fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}
