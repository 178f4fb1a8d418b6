//! The lab end to end with FRR 8.4 on every router. The seed fabric comes up under a unique
//! prefix, and the tests check its sessions, the reachability rows that FRR can build and the
//! failover measurements. `down` must then leave no namespace, process or file behind.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use hna_routed::lab::{
    self, BackendKind, BackendSettings, Backends, CutMode, Lab, LabOptions, Outcome, ProcessRecord,
    RouterReport, RowResult,
};
use hna_testkit::{require_program, require_root, run_ok, scratch_dir};

/// Deadline for the sessions and the matrix after the daemons start. FRR converges in about
/// 6 s here; its BGP connect retry (5 s) can add a few seconds.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(60);

fn options(tag: &str) -> LabOptions {
    LabOptions {
        cluster: PathBuf::from(lab::SEED_CLUSTER),
        // Namespace names start with it; short, because FRR puts it into socket paths.
        prefix: format!("{tag}{}-", std::process::id() % 100_000),
        state_root: scratch_dir(tag),
        settings: BackendSettings {
            hna_routed: lab::find_program("hna-routed")
                .unwrap_or_else(|| PathBuf::from("hna-routed")),
            hna_routectl: lab::find_program("hna-routectl")
                .unwrap_or_else(|| PathBuf::from("hna-routectl")),
            log_level: None,
            frr_daemons: PathBuf::from(lab::FRR_DAEMONS),
            frr_debug: false,
            lab_builds_plane: false,
        },
    }
}

/// Takes the lab down when the test ends, also when it panics.
struct LabGuard(Option<Lab>);

impl LabGuard {
    fn lab(&mut self) -> &mut Lab {
        self.0.as_mut().expect("lab is up")
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        if let Some(lab) = self.0.take()
            && let Err(error) = lab.down()
        {
            eprintln!("taking the lab down failed: {error}");
        }
    }
}

fn namespaces_with_prefix(prefix: &str) -> Vec<String> {
    run_ok("ip", &["netns", "list"])
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| name.starts_with(prefix))
        .map(String::from)
        .collect()
}

/// Returns whether the FRR 8.4 defect that drops a VTEP's router MAC explains a failed row: the
/// row is routed between two subnets on different routers, and one of them reports the defect.
fn explained_by_router_mac_defect(lab: &Lab, row: &RowResult, reports: &[RouterReport]) -> bool {
    let expectation = &row.expectation;
    let (Some(from), Some(to)) = (
        lab.cluster.pod(&expectation.from),
        expectation.responder().and_then(|pod| lab.cluster.pod(pod)),
    ) else {
        return false;
    };
    let routed_across = from.router != to.router && from.bridge != to.bridge;
    let defect = |router: &str| {
        reports
            .iter()
            .any(|report| report.name == router && !report.diagnostics.is_empty())
    };
    routed_across && (defect(&from.router) || defect(&to.router))
}

#[test]
fn lab_all_frr_seed_then_down() {
    require_root();
    require_program(&format!("{}/zebra", lab::FRR_DAEMONS), "frr");
    let options = options("lf");
    let prefix = options.prefix.clone();
    let state_root = options.state_root.clone();

    let mut guard = LabGuard(Some(
        Lab::up(
            &options,
            Backends {
                leaves: BackendKind::Frr,
                hnas: BackendKind::Frr,
            },
        )
        .expect("lab up"),
    ));
    let lab = guard.lab();
    let namespaces = namespaces_with_prefix(&prefix);
    assert_eq!(
        namespaces.len(),
        4 + 4 + 6,
        "4 routers, 2 tenants on each HNA, 6 pods: {namespaces:?}"
    );
    assert!(
        namespaces.contains(&format!("{prefix}hna2-vrf101")),
        "{namespaces:?}"
    );

    let convergence = lab
        .converge(CONVERGE_TIMEOUT)
        .expect("convergence probes run");
    let reports = lab.router_reports();
    for report in &reports {
        assert!(
            report.comparison.converged(),
            "{} has not converged: {:?}",
            report.name,
            report.comparison.missing
        );
        for diagnostic in &report.diagnostics {
            eprintln!("{}: {diagnostic}", report.name);
        }
    }
    assert!(
        convergence.sessions_up.is_some(),
        "sessions not up within {CONVERGE_TIMEOUT:?}"
    );

    let matrix = lab.verify_matrix().expect("matrix probes run");
    assert_eq!(
        matrix.rows.len(),
        32,
        "30 ordered pod pairs and 2 rows for 10.61.0.3"
    );
    let unbuildable: BTreeSet<String> = matrix
        .rows
        .iter()
        .filter(|row| !row.buildable)
        .map(|row| row.label.clone())
        .collect();
    assert_eq!(
        unbuildable.len(),
        8,
        "FRR cannot leak between namespace VRFs: {unbuildable:?}"
    );
    for row in &matrix.rows {
        match &row.expectation.outcome {
            // Tenant isolation must pass whatever else fails.
            Outcome::NeverReaches(pod) => assert!(
                row.pass,
                "{}: {pod} must never receive the request: {:?}",
                row.label, row.receivers
            ),
            Outcome::AnsweredBy { never, .. } => {
                for pod in never {
                    assert!(
                        !row.receivers.contains(pod),
                        "{}: {pod} received the request",
                        row.label
                    );
                }
            }
            Outcome::Reaches(_) => {}
        }
        if !row.buildable {
            assert!(
                row.needs_leaking,
                "{} is unbuildable without needing a leak",
                row.label
            );
            continue;
        }
        assert!(
            row.pass || explained_by_router_mac_defect(lab, row, &reports),
            "{}: expected {}, got reply {} received by {:?}",
            row.label,
            row.expected,
            row.replied,
            row.receivers
        );
    }

    // Failover mechanics on a flow that stays inside one L2VNI, so that the router-MAC defect
    // cannot stop it: an uplink of hna1 loses carrier, then hna1's bgpd restarts.
    let cut = lab::link_cut(lab, None, CutMode::Carrier, Some("red1"), Some("red2"))
        .expect("link cut runs");
    assert_eq!(cut.link.0.router, "hna1");
    assert!(cut.chosen_by_traffic);
    assert!(
        cut.recovered,
        "red1 -> red2 did not recover after the cut: {:?}",
        cut.loss
    );
    assert!(
        cut.detected_after.is_some(),
        "hna1's OSPF neighbor on {} stayed Full",
        cut.link.0.interface
    );
    assert!(
        cut.restored_after.is_some(),
        "sessions did not come back after the link was restored"
    );

    let restart =
        lab::restart(lab, Some("hna1"), Some("red1"), Some("red2")).expect("restart runs");
    assert!(
        restart.sessions_back_after.is_some(),
        "hna1's sessions did not come back after the restart"
    );
    assert!(
        restart.recovered,
        "red1 -> red2 did not recover after the restart: {:?}",
        restart.loss
    );

    let processes: Vec<ProcessRecord> = guard.lab().session.state.processes.clone();
    assert_eq!(
        processes.len(),
        16,
        "zebra, ospfd, bfdd and bgpd on four routers"
    );
    let report = guard.0.take().expect("lab is up").down().expect("lab down");
    assert_eq!(report.namespaces, 14);
    assert!(
        report.killed.is_empty(),
        "processes ignored SIGTERM: {:?}",
        report.killed
    );
    for process in &processes {
        assert!(
            !process.is_alive(),
            "{} {} (pid {}) still runs",
            process.router,
            process.program,
            process.pid
        );
    }
    assert!(
        namespaces_with_prefix(&prefix).is_empty(),
        "namespaces left: {:?}",
        namespaces_with_prefix(&prefix)
    );
    let frr_left: Vec<_> = std::fs::read_dir("/var/run/frr")
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        frr_left.is_empty(),
        "FRR run directories left: {frr_left:?}"
    );
    let lab_dir = state_root.join(format!("{prefix}seed"));
    assert!(!lab_dir.exists(), "{} still exists", lab_dir.display());
}

#[test]
fn lab_failed_start_removes_what_it_made() {
    require_root();
    let mut options = options("lh");
    options.settings.hna_routed = PathBuf::from("/nonexistent/hna-routed");
    let prefix = options.prefix.clone();

    let error = match Lab::up(
        &options,
        Backends {
            leaves: BackendKind::HnaRouted,
            hnas: BackendKind::HnaRouted,
        },
    ) {
        Ok(lab) => {
            let _ = lab.down();
            panic!("a missing hna-routed must fail the start");
        }
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains("/nonexistent/hna-routed not found"),
        "{error}"
    );
    assert!(
        namespaces_with_prefix(&prefix).is_empty(),
        "namespaces left: {:?}",
        namespaces_with_prefix(&prefix)
    );
    assert!(
        !options.state_root.join(format!("{prefix}seed")).exists(),
        "lab directory left"
    );
}

#[test]
fn lab_refuses_namespace_it_did_not_make() {
    require_root();
    let options = options("lx");
    let foreign = format!("{}leaf1", options.prefix);
    run_ok("ip", &["netns", "add", &foreign]);

    let result = Lab::up(
        &options,
        Backends {
            leaves: BackendKind::Frr,
            hnas: BackendKind::Frr,
        },
    );
    let still_there = namespaces_with_prefix(&options.prefix);
    run_ok("ip", &["netns", "del", &foreign]);

    let error = match result {
        Ok(lab) => {
            let _ = lab.down();
            panic!("an existing namespace must stop `up`");
        }
        Err(error) => error.to_string(),
    };
    assert!(
        error.contains(&format!("namespace {foreign} already exists")),
        "{error}"
    );
    assert_eq!(
        still_there,
        vec![foreign],
        "`up` must neither delete the foreign namespace nor leave its own"
    );
}
