//! OSPF graceful restart (RFC 3623) against FRR 8.4 ospfd, with hello 1 s and dead 4 s, each
//! side away for 5 s, longer than the dead interval:
//! - our instance restarts while FRR helps: FRR's kernel route to our loopback never goes;
//! - FRR restarts while our instance helps: our routing table keeps FRR's loopback;
//! - the control: FRR without the helper loses the route during the same restart.
//!
//! FRR 8.4.4 leaves both the opaque capability and the helper off by default, so its
//! configuration here enables `capability opaque` and `graceful-restart helper enable`.
//!
//! Topology: ours (10.0.0.1) --eth1, point-to-point-- FRR (10.0.0.2).

#[path = "ospf_support.rs"]
mod support;

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hna_ospf::{NeighborState, NetworkType, RestartExitReason};
use hna_testkit::{Frr, Netns, veth, wait_until, wait_until_ok};
use support::{Ours, frr_lsdb, frr_ospf_config, our_config};

/// How long each side stays away, longer than the 4 s dead interval.
const DOWNTIME: Duration = Duration::from_secs(5);
const GRACE_PERIOD: Duration = Duration::from_secs(60);
/// Interval of the route polls.
const POLL: Duration = Duration::from_millis(20);

fn addr(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

struct Lab {
    // Field order is drop order: our instance and FRR stop before their namespaces go.
    ours: Ours,
    frr: Frr,
    ns_ours: Netns,
    ns_frr: Netns,
}

fn build(tag: &str, frr_helper: bool) -> Lab {
    let a = Netns::new(&format!("{tag}-a"));
    let b = Netns::new(&format!("{tag}-b"));
    veth(&a, "eth1", &b, "eth1", 1500);
    a.ip(&["addr", "add", "10.0.12.1/24", "dev", "eth1"]);
    b.ip(&["addr", "add", "10.0.12.2/24", "dev", "eth1"]);
    a.ip(&["addr", "add", "10.0.0.1/32", "dev", "lo"]);
    b.ip(&["addr", "add", "10.0.0.2/32", "dev", "lo"]);

    let p2p: &[&str] = &["ip ospf network point-to-point"];
    let config = frr_ospf_config("10.0.0.2", &[("eth1", p2p)])
        + "debug ospf graceful-restart\n"
        + "router ospf\n capability opaque\n"
        + if frr_helper {
            " graceful-restart helper enable\n!\n"
        } else {
            "!\n"
        };
    let frr = Frr::start(&b, &["ospfd"], &config);
    let ours = Ours::start(&a, our_config("10.0.0.1", NetworkType::PointToPoint));
    Lab {
        ours,
        frr,
        ns_ours: a,
        ns_frr: b,
    }
}

fn frr_neighbor(frr: &Frr) -> serde_json::Value {
    frr.json("show ip ospf neighbor 10.0.0.1 detail json")
}

/// Returns FRR's state of its neighbor 10.0.0.1, "absent" when it has none.
fn frr_neighbor_state(frr: &Frr) -> String {
    let json = frr.json("show ip ospf neighbor json");
    let entry = &json["neighbors"]["10.0.0.1"][0];
    entry["converged"]
        .as_str()
        .or_else(|| entry["nbrState"].as_str())
        .unwrap_or("absent")
        .to_string()
}

fn wait_converged(lab: &Lab) {
    wait_until_ok(
        Duration::from_secs(30),
        "our neighbor 10.0.0.2 Full",
        || match lab.ours.neighbor_state(addr("10.0.0.2")) {
            Some(NeighborState::Full) => Ok(()),
            other => Err(other),
        },
    );
    wait_until_ok(
        Duration::from_secs(10),
        "FRR's neighbor 10.0.0.1 Full",
        || {
            let state = frr_neighbor_state(&lab.frr);
            if state.starts_with("Full") {
                Ok(())
            } else {
                Err(state)
            }
        },
    );
    wait_until_ok(Duration::from_secs(20), "identical LSDBs", || {
        let ours = lab.ours.lsdb();
        let theirs = frr_lsdb(&lab.frr.json("show ip ospf database json"));
        if ours == theirs && ours.len() == 2 {
            Ok(())
        } else {
            Err((ours, theirs))
        }
    });
}

/// Polls a condition every [`POLL`] on its own thread until stopped, counting the polls and
/// the misses.
struct Poller {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<(u32, u32)>>,
}

impl Poller {
    fn start(mut probe: impl FnMut() -> bool + Send + 'static) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut polls, mut misses) = (0, 0);
            // Bounded: no restart here takes two minutes.
            let end = Instant::now() + Duration::from_secs(120);
            while !flag.load(Ordering::Relaxed) && Instant::now() < end {
                polls += 1;
                if !probe() {
                    misses += 1;
                }
                std::thread::sleep(POLL);
            }
            (polls, misses)
        });
        Poller {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops polling and returns (polls, misses).
    fn finish(mut self) -> (u32, u32) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("poller thread")
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Returns true when the kernel of namespace `ns` has a route to `prefix`.
fn kernel_has_route(ns: &str, prefix: &str) -> bool {
    let output = Command::new("ip")
        .args(["-j", "-n", ns, "route", "show", prefix])
        .output();
    let Ok(output) = output else { return false };
    let routes: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    routes.as_array().is_some_and(|routes| !routes.is_empty())
}

/// Keeps checking for `downtime` that FRR keeps the adjacency of the absent instance Full and
/// helps it; returns FRR's last neighbor detail.
fn frr_helps_throughout(frr: &Frr, downtime: Duration) -> serde_json::Value {
    let end = Instant::now() + downtime;
    let mut last = serde_json::Value::Null;
    while Instant::now() < end {
        let state = frr_neighbor_state(frr);
        assert!(
            state.starts_with("Full"),
            "FRR dropped the restarting neighbor: {state}"
        );
        last = frr_neighbor(frr);
        assert_eq!(
            last["10.0.0.1"][0]["grHelperStatus"], "Inprogress",
            "{last}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    last
}

#[test]
fn ospf_graceful_restart_frr_helps_us() {
    let mut lab = build("ospf-gr-us", true);
    wait_converged(&lab);
    let own_before = lab
        .ours
        .lsdb()
        .into_iter()
        .find(|lsa| lsa.0 == 1 && lsa.2 == addr("10.0.0.1"))
        .unwrap();
    wait_until(
        Duration::from_secs(10),
        "FRR's kernel route to 10.0.0.1",
        || kernel_has_route(lab.ns_frr.name(), "10.0.0.1/32").then_some(()),
    );
    let ns = lab.ns_frr.name().to_string();
    let poller = Poller::start(move || kernel_has_route(&ns, "10.0.0.1/32"));

    // Planned restart: the grace-LSA is acknowledged, FRR helps past its dead interval.
    let outcome = lab.ours.graceful_stop(GRACE_PERIOD);
    assert!(outcome.unacknowledged.is_empty(), "{outcome:?}");
    println!(
        "grace-LSA acknowledged after {} ms",
        outcome.waited.as_millis()
    );
    wait_until_ok(Duration::from_secs(3), "FRR in helper mode", || {
        let detail = frr_neighbor(&lab.frr);
        if detail["10.0.0.1"][0]["grHelperStatus"] == "Inprogress" {
            Ok(())
        } else {
            Err(detail)
        }
    });
    let last = frr_helps_throughout(&lab.frr, DOWNTIME);
    assert_eq!(
        last["10.0.0.1"][0]["grRestartReason"], "Software restart",
        "{last}"
    );

    // The next instance starts in graceful restart with the grace period left.
    let mut config = our_config("10.0.0.1", NetworkType::PointToPoint);
    config.graceful_restart.restarting = true;
    config.graceful_restart.grace_period = GRACE_PERIOD - DOWNTIME;
    lab.ours = Ours::start(&lab.ns_ours, config);
    let status = wait_until_ok(
        Duration::from_secs(20),
        "our graceful restart to end",
        || {
            let status = lab.ours.graceful_restart();
            if status.restarting {
                assert!(
                    lab.ours.routes().routes.is_empty(),
                    "routes published while restarting"
                );
                Err(status)
            } else {
                Ok(status)
            }
        },
    );
    assert_eq!(
        status.last_exit,
        Some(RestartExitReason::AdjacenciesRestored)
    );
    wait_converged(&lab);
    let (polls, misses) = poller.finish();
    println!("FRR's route to our loopback: {misses} misses in {polls} polls");
    assert_eq!(
        misses, 0,
        "FRR lost its route to our loopback during the restart"
    );
    assert!(polls > 200, "only {polls} polls");

    let own_after = lab
        .ours
        .lsdb()
        .into_iter()
        .find(|lsa| lsa.0 == 1 && lsa.2 == addr("10.0.0.1"))
        .unwrap();
    assert!(
        own_after.3 > own_before.3,
        "router-LSA {:#x} not above {:#x}",
        own_after.3,
        own_before.3
    );
    let route = wait_until(Duration::from_secs(5), "our route to 10.0.0.2/32", || {
        lab.ours
            .routes()
            .get(&"10.0.0.2/32".parse().unwrap())
            .cloned()
    });
    assert_eq!(
        route.next_hops.iter().next().unwrap().address,
        Some(addr("10.0.12.2"))
    );
    let detail = frr_neighbor(&lab.frr);
    let neighbor = &detail["10.0.0.1"][0];
    assert_eq!(neighbor["grHelperStatus"], "None", "{detail}");
    assert_eq!(
        neighbor["helperExitReason"], "Successful graceful restart",
        "{detail}"
    );
}

#[test]
fn ospf_graceful_restart_we_help_frr() {
    let mut lab = build("ospf-gr-frr", true);
    wait_converged(&lab);
    // Enabled once converged: FRR 8.4.4 records graceful restart as enabled at once, and an ospfd
    // that starts with it configured treats its first start as a restart.
    lab.frr
        .configure(&["router ospf", "graceful-restart grace-period 60"]);
    let loopback = "10.0.0.2/32".parse().unwrap();
    wait_until(
        Duration::from_secs(10),
        "our route to FRR's loopback",
        || lab.ours.routes().get(&loopback).cloned(),
    );
    let routes = lab.ours.routes.clone();
    let poller = Poller::start(move || routes.lock().unwrap().get(&loopback).is_some());

    // FRR prepares (floods its grace-LSA and waits for our acknowledgment), then ospfd dies.
    lab.frr.vtysh("graceful-restart prepare ip ospf");
    let helper = wait_until(Duration::from_secs(5), "our helper mode", || {
        lab.ours
            .neighbors()
            .into_iter()
            .find(|n| n.neighbor_id == addr("10.0.0.2"))
            .and_then(|n| n.helper)
    });
    assert!(helper.grace_remaining_ms > 50_000, "{helper:?}");
    lab.frr.kill_daemon("ospfd");

    let end = Instant::now() + DOWNTIME;
    while Instant::now() < end {
        assert_eq!(
            lab.ours.neighbor_state(addr("10.0.0.2")),
            Some(NeighborState::Full)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(lab.ours.graceful_restart().helping, vec![addr("10.0.0.2")]);

    lab.frr.restart_daemon(&lab.ns_frr, "ospfd");
    wait_until_ok(Duration::from_secs(30), "our helper mode to end", || {
        let status = lab.ours.graceful_restart();
        if status.helping.is_empty() {
            Ok(())
        } else {
            Err(status)
        }
    });
    wait_converged(&lab);
    let exit = wait_until(
        Duration::from_secs(30),
        "FRR to leave graceful restart",
        || {
            let log = lab.frr.log();
            log.lines()
                .find(|line| line.contains("GR: exiting graceful restart"))
                .map(str::to_string)
        },
    );
    println!("FRR: {exit}");
    assert!(
        exit.contains("all adjacencies were reestablished"),
        "{exit}"
    );
    let (polls, misses) = poller.finish();
    println!("our route to FRR's loopback: {misses} misses in {polls} polls");
    assert_eq!(
        misses, 0,
        "our routing table lost FRR's loopback during its restart"
    );
    assert!(polls > 200, "only {polls} polls");

    let counters = lab.ours.counters().graceful_restart;
    println!("our graceful restart counters: {counters:?}");
    assert_eq!(counters.helper_entered, 1);
    assert_eq!(counters.helper_exits.values().sum::<u64>(), 1);
    assert_eq!(
        counters
            .helper_exits
            .get(&hna_ospf::HelperExitReason::GraceLsaFlushed),
        Some(&1),
        "{counters:?}"
    );
}

#[test]
fn ospf_graceful_restart_without_helper_loses_route() {
    // The control case: FRR does not help, so the same restart withdraws our loopback, which
    // shows that the route polls above detect a loss.
    let mut lab = build("ospf-gr-none", false);
    wait_converged(&lab);
    wait_until(
        Duration::from_secs(10),
        "FRR's kernel route to 10.0.0.1",
        || kernel_has_route(lab.ns_frr.name(), "10.0.0.1/32").then_some(()),
    );
    let ns = lab.ns_frr.name().to_string();
    let poller = Poller::start(move || kernel_has_route(&ns, "10.0.0.1/32"));

    lab.ours.graceful_stop(GRACE_PERIOD);
    wait_until_ok(
        Duration::from_secs(DOWNTIME.as_secs() + 2),
        "FRR to drop us",
        || {
            let state = frr_neighbor_state(&lab.frr);
            if state == "absent" {
                Ok(())
            } else {
                Err(state)
            }
        },
    );

    let mut config = our_config("10.0.0.1", NetworkType::PointToPoint);
    config.graceful_restart.restarting = true;
    config.graceful_restart.grace_period = GRACE_PERIOD - DOWNTIME;
    lab.ours = Ours::start(&lab.ns_ours, config);
    let status = wait_until_ok(
        Duration::from_secs(20),
        "our graceful restart to end",
        || {
            let status = lab.ours.graceful_restart();
            if status.restarting {
                Err(status)
            } else {
                Ok(status)
            }
        },
    );
    println!("our graceful restart ended: {:?}", status.last_exit);
    wait_converged(&lab);
    wait_until(
        Duration::from_secs(10),
        "FRR's route to our loopback to return",
        || kernel_has_route(lab.ns_frr.name(), "10.0.0.1/32").then_some(()),
    );
    let (polls, misses) = poller.finish();
    println!("without a helper, FRR's route to our loopback: {misses} misses in {polls} polls");
    assert!(misses > 0, "FRR kept the route without helping");
}
