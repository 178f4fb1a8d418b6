//! Failover measurements while a pod pings another every 10 ms: an uplink of an HNA cut (carrier
//! lost, or a silent loss that only BFD detects), and a graceful restart of an HNA's routing
//! daemons. The loss window is the longest run of unanswered echo requests times the interval.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::info;

use super::backend::{Query, RouterContext, parse_ospf_neighbors};
use super::cluster::{Endpoint, Outcome, Role};
use super::error::LabError;
use super::lifecycle::Lab;
use super::shell;

/// Interval between echo requests of a failover measurement.
pub const PING_INTERVAL: Duration = Duration::from_millis(10);

/// Replies that show the flow runs before the event.
const BASELINE_REPLIES: usize = 100;

/// Replies after the event that show the flow runs again (one second at 10 ms).
const RECOVERY_REPLIES: usize = 100;

const BASELINE_TIMEOUT: Duration = Duration::from_secs(10);
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(30);
const RECONVERGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The kind of link failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CutMode {
    /// The far end goes down, so the near end loses carrier and the router gets a link-down event.
    Carrier,
    /// Both ends drop every frame (a tbf qdisc with a tiny bucket) while the carrier stays up;
    /// only BFD or the OSPF dead interval notice. This kernel has neither netem nor gact.
    Silent,
}

/// The pods whose traffic is measured.
#[derive(Debug, Clone, Serialize)]
pub struct Flow {
    pub from: String,
    pub to: String,
    pub address: Ipv4Addr,
}

/// Loss statistics of one ping run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PingLoss {
    pub transmitted: u64,
    pub received: u64,
    /// Requests without a reply.
    pub lost: u64,
    /// The maximum number of consecutive requests without a reply.
    pub longest_gap: u64,
}

impl PingLoss {
    pub fn window(&self) -> Duration {
        PING_INTERVAL * self.longest_gap as u32
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkCutReport {
    pub flow: Flow,
    /// The router end of the cut link, then the far end.
    pub link: (Endpoint, Endpoint),
    pub mode: CutMode,
    /// Whether the link was chosen as the one carrying the flow.
    pub chosen_by_traffic: bool,
    pub loss: PingLoss,
    /// From the cut to the router's OSPF neighbor on that link leaving Full.
    pub detected_after: Option<Duration>,
    /// Whether the flow ran again, for a second, before the deadline.
    pub recovered: bool,
    /// From the restore to every session up again.
    pub restored_after: Option<Duration>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestartReport {
    pub router: String,
    pub flow: Flow,
    pub loss: PingLoss,
    /// From the restart to the router's sessions all up again.
    pub sessions_back_after: Option<Duration>,
    /// Whether the flow ran again, for a second, before the deadline.
    pub recovered: bool,
}

/// A ping running in the background, at [`PING_INTERVAL`].
struct PingRun {
    child: Child,
    received: Arc<Mutex<Vec<u32>>>,
    reader: JoinHandle<String>,
}

impl PingRun {
    fn start(namespace: &str, address: Ipv4Addr) -> Result<PingRun, LabError> {
        let interval = format!("{:.3}", PING_INTERVAL.as_secs_f64());
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                namespace,
                "ping",
                "-n",
                "-i",
                &interval,
                "-W",
                "1",
                &address.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| LabError::command("ping", error.to_string()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        let reader = std::thread::spawn(move || {
            let mut summary = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match reply_sequence(&line) {
                    Some(sequence) => sink
                        .lock()
                        .expect("ping reply list lock poisoned")
                        .push(sequence),
                    None => {
                        summary.push_str(&line);
                        summary.push('\n');
                    }
                }
            }
            summary
        });
        Ok(PingRun {
            child,
            received,
            reader,
        })
    }

    fn replies(&self) -> usize {
        self.received.lock().expect("lock").len()
    }

    /// Waits until `count` more replies than `since` arrived; false at the deadline.
    fn wait_replies(&self, since: usize, count: usize, timeout: Duration) -> bool {
        shell::poll_until(timeout, || (self.replies() >= since + count).then_some(())).is_some()
    }

    /// Stops the ping (SIGINT, so that it prints its summary) and analyses what it saw.
    fn stop(mut self) -> PingLoss {
        // SAFETY: kill has no memory-safety preconditions; the child is ours and not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        let summary = self.reader.join().unwrap_or_default();
        let received = self.received.lock().expect("lock").clone();
        analyse(&received, transmitted(&summary))
    }
}

/// Returns the `icmp_seq` of a reply line (`64 bytes from 10.61.0.3: icmp_seq=12 ttl=62 time=0.1 ms`).
fn reply_sequence(line: &str) -> Option<u32> {
    if !line.contains("bytes from") {
        return None;
    }
    let start = line.find("icmp_seq=")? + "icmp_seq=".len();
    line[start..].split_whitespace().next()?.parse().ok()
}

/// Returns the `N` of `N packets transmitted` in ping's summary.
fn transmitted(summary: &str) -> u64 {
    summary
        .lines()
        .find_map(|line| {
            line.split(" packets transmitted")
                .next()
                .filter(|_| line.contains(" packets transmitted"))?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// Counts the unanswered requests and the longest run of them. The last request may still be in
/// flight when the ping stops, so a single unanswered request at the end is not counted.
fn analyse(received: &[u32], transmitted: u64) -> PingLoss {
    let mut sequences: Vec<u32> = received.to_vec();
    sequences.sort_unstable();
    sequences.dedup();
    let mut lost = 0;
    let mut longest_gap = 0;
    let mut previous = 0;
    for &sequence in &sequences {
        let gap = u64::from(sequence.saturating_sub(previous + 1));
        lost += gap;
        longest_gap = longest_gap.max(gap);
        previous = sequence;
    }
    let trailing = transmitted.saturating_sub(u64::from(previous));
    if trailing > 1 {
        lost += trailing;
        longest_gap = longest_gap.max(trailing);
    }
    PingLoss {
        transmitted,
        received: sequences.len() as u64,
        lost,
        longest_gap,
    }
}

/// Picks the flow: `from` (default: the first pod of `router`) to `to` (default: the first pod
/// on another router that `from` must reach).
fn choose_flow(
    lab: &Lab,
    router: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Flow, LabError> {
    let cluster = &lab.cluster;
    let from = match from {
        Some(name) => cluster
            .pod(name)
            .ok_or_else(|| LabError::Usage(format!("unknown pod `{name}`")))?,
        None => cluster
            .pods
            .iter()
            .find(|pod| pod.router == router)
            .ok_or_else(|| LabError::Usage(format!("router {router} has no pod; pass --from")))?,
    };
    let reachable = |name: &str| {
        cluster
            .expectations
            .iter()
            .any(|row| row.from == from.name && row.outcome == Outcome::Reaches(name.to_string()))
    };
    let to = match to {
        Some(name) => cluster
            .pod(name)
            .ok_or_else(|| LabError::Usage(format!("unknown pod `{name}`")))?,
        None => cluster
            .pods
            .iter()
            .find(|pod| pod.router != from.router && reachable(&pod.name))
            .ok_or_else(|| {
                LabError::Usage(format!(
                    "{} reaches no pod on another router; pass --to",
                    from.name
                ))
            })?,
    };
    Ok(Flow {
        from: from.name.clone(),
        to: to.name.clone(),
        address: to.address.addr(),
    })
}

/// Returns the first HNA with at least two links: the router whose uplink a cut measures by default.
fn default_router(lab: &Lab) -> Result<String, LabError> {
    lab.cluster
        .routers
        .iter()
        .find(|router| router.role == Role::Hna && lab.cluster.links_of(&router.name).count() >= 2)
        .map(|router| router.name.clone())
        .ok_or_else(|| LabError::Usage("no HNA has two uplinks; pass --link".into()))
}

/// Packets sent and received on an interface.
fn packet_count(namespace: &str, interface: &str) -> u64 {
    let Ok(json) = shell::ip_json(namespace, &["-s", "link", "show", "dev", interface]) else {
        return 0;
    };
    let stats = &json[0]["stats64"];
    stats["rx"]["packets"].as_u64().unwrap_or(0) + stats["tx"]["packets"].as_u64().unwrap_or(0)
}

fn ospf_full_on(lab: &Lab, context: &RouterContext, interface: &str) -> bool {
    let backend = lab.backend(&context.router.name);
    backend
        .query(context, Query::OspfNeighbors)
        .ok()
        .and_then(|json| parse_ospf_neighbors(&json).ok())
        .is_some_and(|neighbors| {
            neighbors
                .iter()
                .any(|neighbor| neighbor.interface == interface && neighbor.state == "Full")
        })
}

fn set_cut(namespace: &str, interface: &str, mode: CutMode, cut: bool) -> Result<(), LabError> {
    match (mode, cut) {
        (CutMode::Carrier, true) => {
            shell::ip(namespace, &["link", "set", interface, "down"]).map(|_| ())
        }
        (CutMode::Carrier, false) => {
            shell::ip(namespace, &["link", "set", interface, "up"]).map(|_| ())
        }
        // A token bucket of 8 bit/s with a 10-byte burst passes no frame.
        (CutMode::Silent, true) => shell::run(
            "tc",
            &[
                "-n", namespace, "qdisc", "add", "dev", interface, "root", "tbf", "rate", "8bit",
                "burst", "10", "latency", "1ms",
            ],
        )
        .map(|_| ()),
        (CutMode::Silent, false) => shell::run(
            "tc",
            &["-n", namespace, "qdisc", "del", "dev", interface, "root"],
        )
        .map(|_| ()),
    }
}

/// Cuts one uplink of an HNA while a pod pings across the fabric, and measures the loss.
///
/// Without `link`, the uplink that carries the flow is cut (the one whose packet counters grow
/// most while the ping runs), so that the measurement covers a failover and not an unused path.
pub fn link_cut(
    lab: &mut Lab,
    link: Option<&Endpoint>,
    mode: CutMode,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<LinkCutReport, LabError> {
    let router_name = match link {
        Some(end) => end.router.clone(),
        None => default_router(lab)?,
    };
    let router = lab
        .cluster
        .router(&router_name)
        .ok_or_else(|| LabError::Usage(format!("router `{router_name}` not found in the cluster")))?
        .clone();
    let flow = choose_flow(lab, &router_name, from, to)?;
    let namespace = lab.names.router(&router_name);
    let uplinks: Vec<(Endpoint, Endpoint)> = lab
        .cluster
        .links_of(&router_name)
        .map(|(near, far)| (near.clone(), far.clone()))
        .collect();

    let ping = PingRun::start(&lab.names.pod(&flow.from), flow.address)?;
    if !ping.wait_replies(0, BASELINE_REPLIES, BASELINE_TIMEOUT) {
        ping.stop();
        return Err(LabError::Timeout {
            what: format!("echo replies from {} to {}", flow.to, flow.from),
            seconds: BASELINE_TIMEOUT.as_secs_f64(),
        });
    }
    let (near, far, chosen_by_traffic) = match link {
        Some(end) => {
            let (near, far) = uplinks
                .iter()
                .find(|(near, _)| near.interface == end.interface)
                .cloned()
                .ok_or_else(|| LabError::Usage(format!("{end} is not cabled")))?;
            (near, far, false)
        }
        None => {
            let before: Vec<u64> = uplinks
                .iter()
                .map(|(near, _)| packet_count(&namespace, &near.interface))
                .collect();
            let seen = ping.replies();
            ping.wait_replies(seen, BASELINE_REPLIES, BASELINE_TIMEOUT);
            let busiest = uplinks
                .iter()
                .zip(before)
                .map(|((near, far), before)| {
                    (
                        packet_count(&namespace, &near.interface).saturating_sub(before),
                        near,
                        far,
                    )
                })
                .max_by_key(|(count, _, _)| *count)
                .ok_or_else(|| LabError::Usage(format!("{router_name} has no cabled interface")))?;
            (busiest.1.clone(), busiest.2.clone(), true)
        }
    };
    info!(near = %near, far = %far, ?mode, "cutting the link");

    let far_namespace = lab.names.router(&far.router);
    let context = lab.context(&router);
    let cut_at = Instant::now();
    let replies_at_cut = ping.replies();
    let cut = set_cut(&far_namespace, &far.interface, mode, true).and_then(|()| {
        if mode == CutMode::Silent {
            set_cut(&namespace, &near.interface, mode, true)
        } else {
            Ok(())
        }
    });
    if let Err(error) = cut {
        ping.stop();
        return Err(error);
    }
    let mut detected_after = None;
    let recovered = shell::poll_until(RECOVERY_TIMEOUT, || {
        if detected_after.is_none() && !ospf_full_on(lab, &context, &near.interface) {
            detected_after = Some(cut_at.elapsed());
        }
        (detected_after.is_some() && ping.replies() >= replies_at_cut + RECOVERY_REPLIES)
            .then_some(())
    });
    let loss = ping.stop();
    let recovered = recovered.is_some();

    let restore_at = Instant::now();
    set_cut(&far_namespace, &far.interface, mode, false)?;
    if mode == CutMode::Silent {
        set_cut(&namespace, &near.interface, mode, false)?;
    }
    let restored_after = shell::poll_until(RECONVERGE_TIMEOUT, || {
        lab.sessions_up().then(|| restore_at.elapsed())
    });
    Ok(LinkCutReport {
        flow,
        link: (near, far),
        mode,
        chosen_by_traffic,
        loss,
        detected_after,
        recovered,
        restored_after,
    })
}

/// Restarts a router's routing daemons gracefully while a pod on it pings across the fabric.
pub fn restart(
    lab: &mut Lab,
    router: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<RestartReport, LabError> {
    let router_name = match router {
        Some(name) => name.to_string(),
        None => default_router(lab)?,
    };
    let router = lab
        .cluster
        .router(&router_name)
        .ok_or_else(|| LabError::Usage(format!("router `{router_name}` not found in the cluster")))?
        .clone();
    let flow = choose_flow(lab, &router_name, from, to)?;
    let ping = PingRun::start(&lab.names.pod(&flow.from), flow.address)?;
    if !ping.wait_replies(0, BASELINE_REPLIES, BASELINE_TIMEOUT) {
        ping.stop();
        return Err(LabError::Timeout {
            what: format!("echo replies from {} to {}", flow.to, flow.from),
            seconds: BASELINE_TIMEOUT.as_secs_f64(),
        });
    }

    let backend = lab.backend(&router_name);
    let dir = lab.session.dir.clone();
    let restarted_at = Instant::now();
    let result = {
        let context = RouterContext {
            router: &router,
            names: &lab.names,
            dir: &dir,
            settings: &lab.settings,
        };
        backend.restart(&context, &mut lab.session)
    };
    if let Err(error) = result {
        ping.stop();
        return Err(error);
    }
    info!(router = %router_name, "routing daemons restarted; waiting for the sessions");
    let sessions_back_after = shell::poll_until(RECONVERGE_TIMEOUT, || {
        lab.router_converged(&router)
            .then(|| restarted_at.elapsed())
    });
    let seen = ping.replies();
    let recovered = ping.wait_replies(seen, RECOVERY_REPLIES, RECOVERY_TIMEOUT);
    let loss = ping.stop();
    Ok(RestartReport {
        router: router_name,
        flow,
        loss,
        sessions_back_after,
        recovered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines_give_sequence_numbers() {
        assert_eq!(
            reply_sequence("64 bytes from 10.61.0.3: icmp_seq=12 ttl=62 time=0.101 ms"),
            Some(12)
        );
        assert_eq!(
            reply_sequence("PING 10.61.0.3 (10.61.0.3) 56(84) bytes of data."),
            None
        );
        assert_eq!(
            reply_sequence("From 10.60.0.254 icmp_seq=3 Destination Host Unreachable"),
            None
        );
    }

    #[test]
    fn summary_gives_transmitted_count() {
        let summary = "--- 10.61.0.3 ping statistics ---\n1204 packets transmitted, 1170 received, 2.8% packet loss, time 12040ms\n";
        assert_eq!(transmitted(summary), 1204);
        assert_eq!(transmitted("nothing"), 0);
    }

    #[test]
    fn analysis_finds_longest_gap() {
        let received: Vec<u32> = (1..=10).chain(14..=20).chain(22..=30).collect();
        let loss = analyse(&received, 31);
        assert_eq!(loss.lost, 4);
        assert_eq!(loss.longest_gap, 3);
        assert_eq!(loss.received, 26);
        assert_eq!(loss.window(), Duration::from_millis(30));
    }

    #[test]
    fn analysis_counts_loss_until_the_end() {
        let received: Vec<u32> = (1..=100).collect();
        let loss = analyse(&received, 2000);
        assert_eq!(loss.lost, 1900);
        assert_eq!(loss.longest_gap, 1900);
        let in_flight = analyse(&received, 101);
        assert_eq!(in_flight.lost, 0, "the last request may still be in flight");
    }

    #[test]
    fn analysis_of_unbroken_flow_is_zero() {
        let received: Vec<u32> = (1..=100).collect();
        assert_eq!(
            analyse(&received, 100),
            PingLoss {
                transmitted: 100,
                received: 100,
                lost: 0,
                longest_gap: 0
            }
        );
    }
}
