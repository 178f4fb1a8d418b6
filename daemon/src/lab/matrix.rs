//! The reachability matrix: one ping per row from a pod, and the pods' ICMP `InEchos` counters
//! (`/proc/net/snmp` of each pod namespace) read before and after, which tell which pod
//! received the echo request. A reply alone cannot tell green3 from red3, which share an
//! address.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Serialize;

use super::backend::Names;
use super::cluster::{Cluster, Expectation, Outcome};
use super::error::LabError;
use super::shell;

/// How long a verified probe waits for the echo reply. A request that is routed at all arrives
/// within milliseconds in the lab; the rest covers ARP resolution of the destination.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// The result of one row.
#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    #[serde(skip)]
    pub expectation: Expectation,
    pub label: String,
    pub expected: String,
    pub replied: bool,
    /// Pods whose `InEchos` counter grew during the probe.
    pub receivers: Vec<String>,
    pub pass: bool,
    /// Whether the routers' backends can build what the row needs (route leaking).
    pub buildable: bool,
    /// Whether the row needs routes leaked between two tenants.
    pub needs_leaking: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MatrixResult {
    pub rows: Vec<RowResult>,
}

impl MatrixResult {
    pub fn all_pass(&self) -> bool {
        self.rows.iter().all(|row| row.pass)
    }

    /// Returns whether every row the backends can build passes.
    pub fn buildable_pass(&self) -> bool {
        self.rows
            .iter()
            .filter(|row| row.buildable)
            .all(|row| row.pass)
    }

    /// Returns whether every row that needs no route leaking passes.
    pub fn unleaked_pass(&self) -> bool {
        self.rows
            .iter()
            .filter(|row| !row.needs_leaking)
            .all(|row| row.pass)
    }

    pub fn passed(&self) -> usize {
        self.rows.iter().filter(|row| row.pass).count()
    }
}

/// Reads the `InEchos` counter of the namespace's ICMP statistics.
pub fn in_echos(namespace: &str) -> Result<u64, LabError> {
    let text = shell::in_netns(namespace, || {
        std::fs::read_to_string("/proc/thread-self/net/snmp")
    })?
    .map_err(|error| {
        LabError::command(
            format!("read /proc/net/snmp in {namespace}"),
            error.to_string(),
        )
    })?;
    parse_in_echos(&text).ok_or_else(|| {
        LabError::command(
            format!("read /proc/net/snmp in {namespace}"),
            "no Icmp InEchos field",
        )
    })
}

/// Finds `InEchos` in the two `Icmp:` lines of `/proc/net/snmp` (names, then values).
fn parse_in_echos(snmp: &str) -> Option<u64> {
    let mut lines = snmp.lines().filter(|line| line.starts_with("Icmp:"));
    let names = lines.next()?;
    let values = lines.next()?;
    let index = names
        .split_whitespace()
        .position(|name| name == "InEchos")?;
    values.split_whitespace().nth(index)?.parse().ok()
}

/// Starts one ping from `namespace`. Its exit status is 0 when a reply came.
fn spawn_ping(namespace: &str, address: &str, timeout: Duration) -> Result<Child, LabError> {
    let timeout = format!("{:.3}", timeout.as_secs_f64());
    Command::new("ip")
        .args([
            "netns", "exec", namespace, "ping", "-n", "-q", "-c", "1", "-W", &timeout, address,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| LabError::command("ping", error.to_string()))
}

fn replied(child: Child) -> bool {
    child
        .wait_with_output()
        .is_ok_and(|output| output.status.success())
}

/// Probes every row in turn, reading the counters of every pod around each ping.
///
/// The rows run one at a time because the counters of one pod cannot tell two concurrent
/// requests apart.
pub fn verify(
    cluster: &Cluster,
    names: &Names,
    buildable: &dyn Fn(&Expectation) -> bool,
) -> Result<MatrixResult, LabError> {
    let mut rows = Vec::new();
    for expectation in &cluster.expectations {
        let before = counters(cluster, names)?;
        let child = spawn_ping(
            &names.pod(&expectation.from),
            &expectation.address.to_string(),
            PROBE_TIMEOUT,
        )?;
        let replied = replied(child);
        let after = counters(cluster, names)?;
        let receivers: Vec<String> = cluster
            .pods
            .iter()
            .zip(before.iter().zip(&after))
            .filter(|(_, (before, after))| after > before)
            .map(|(pod, _)| pod.name.clone())
            .collect();
        let pass = judge(&expectation.outcome, replied, &receivers);
        rows.push(RowResult {
            label: format!("{} -> {}", expectation.from, expectation.address),
            expected: describe(&expectation.outcome),
            expectation: expectation.clone(),
            replied,
            receivers,
            pass,
            buildable: buildable(expectation),
            needs_leaking: cluster.needs_leaking(expectation),
        });
    }
    Ok(MatrixResult { rows })
}

fn counters(cluster: &Cluster, names: &Names) -> Result<Vec<u64>, LabError> {
    cluster
        .pods
        .iter()
        .map(|pod| in_echos(&names.pod(&pod.name)))
        .collect()
}

/// Returns whether a probe's outcome matches the row.
fn judge(outcome: &Outcome, replied: bool, receivers: &[String]) -> bool {
    match outcome {
        Outcome::Reaches(pod) => replied && receivers == std::slice::from_ref(pod),
        Outcome::NeverReaches(pod) => !(replied && receivers.contains(pod)),
        Outcome::AnsweredBy { pod, never } => {
            replied
                && receivers.contains(pod)
                && !never.iter().any(|other| receivers.contains(other))
        }
    }
}

pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Reaches(pod) => format!("reaches {pod}"),
        Outcome::NeverReaches(pod) => format!("no reply from {pod}"),
        Outcome::AnsweredBy { pod, never } if never.is_empty() => format!("answered by {pod}"),
        Outcome::AnsweredBy { pod, never } => {
            format!("answered by {pod}, never {}", never.join(", "))
        }
    }
}

/// Pings every row that expects a reply, all at once, and returns whether every reply came.
///
/// This is the cheap test used while waiting for convergence; it does not look at counters,
/// so [`verify`] must confirm a round that passes.
pub fn quick_round(
    cluster: &Cluster,
    names: &Names,
    rows: &dyn Fn(&Expectation) -> bool,
    timeout: Duration,
) -> Result<bool, LabError> {
    let mut children = Vec::new();
    for expectation in cluster
        .expectations
        .iter()
        .filter(|row| row.responder().is_some() && rows(row))
    {
        children.push(spawn_ping(
            &names.pod(&expectation.from),
            &expectation.address.to_string(),
            timeout,
        )?);
    }
    // Every ping is waited for, so none outlives the round.
    let replies: Vec<bool> = children.into_iter().map(replied).collect();
    Ok(replies.into_iter().all(|ok| ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNMP: &str = "Ip: Forwarding DefaultTTL\nIp: 2 64\nIcmp: InMsgs InErrors InCsumErrors InDestUnreachs InTimeExcds InParmProbs InSrcQuenchs InRedirects InEchos InEchoReps\nIcmp: 7 0 0 0 0 0 0 0 4 3\nIcmpMsg: InType0\nIcmpMsg: 3\n";

    #[test]
    fn in_echos_is_read_by_field_name() {
        assert_eq!(parse_in_echos(SNMP), Some(4));
        assert_eq!(parse_in_echos("Ip: a\nIp: 1\n"), None);
    }

    #[test]
    fn reaches_needs_reply_from_that_pod_alone() {
        let outcome = Outcome::Reaches("green3".into());
        assert!(judge(&outcome, true, &["green3".into()]));
        assert!(
            !judge(&outcome, true, &["red3".into()]),
            "another pod answered"
        );
        assert!(
            !judge(&outcome, true, &["green3".into(), "red3".into()]),
            "the request reached two pods"
        );
        assert!(
            !judge(&outcome, false, &["green3".into()]),
            "no reply came back"
        );
    }

    #[test]
    fn never_reaches_allows_another_owner_to_answer() {
        let outcome = Outcome::NeverReaches("red3".into());
        assert!(judge(&outcome, true, &["green3".into()]));
        assert!(judge(&outcome, false, &[]));
        assert!(
            !judge(&outcome, true, &["red3".into()]),
            "the pod received the request and a reply came back"
        );
    }

    #[test]
    fn never_reaches_allows_a_one_way_leak() {
        // A route leaked one way forwards the request; the reply has no way back.
        let outcome = Outcome::NeverReaches("red1".into());
        assert!(judge(&outcome, false, &["red1".into()]));
    }

    #[test]
    fn answered_by_rejects_the_forbidden_pod() {
        let outcome = Outcome::AnsweredBy {
            pod: "green3".into(),
            never: vec!["red3".into()],
        };
        assert!(judge(&outcome, true, &["green3".into()]));
        assert!(!judge(&outcome, true, &["green3".into(), "red3".into()]));
        assert!(!judge(&outcome, false, &[]));
    }
}
