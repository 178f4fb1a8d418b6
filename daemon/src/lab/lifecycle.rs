//! Bringing a lab up, waiting for it to converge, reading its state, and taking it down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tracing::{info, warn};

use super::backend::{
    BackendKind, BackendSettings, Dataplane, Names, RouterBackend, RouterContext, RouterState,
};
use super::cluster::{Cluster, Expectation, Role, Router, valid_name};
use super::dataplane;
use super::error::LabError;
use super::expect::{self, Comparison, Expected};
use super::frr::{FRR_RUN_DIR, OSPFD_GR_FILE, foreign_ospfd_runs};
use super::matrix::{self, MatrixResult};
use super::process;
use super::shell;
use super::state::{LabDir, LabState, Session, Timings};

/// Grace period for daemons to exit after SIGTERM at `down`.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Timeout of one ping of the cheap convergence probe.
const QUICK_PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// Pause between two convergence probes that found nothing new.
const CONVERGE_POLL: Duration = Duration::from_millis(50);

/// Location and programs of a lab.
#[derive(Debug, Clone)]
pub struct LabOptions {
    pub cluster: PathBuf,
    /// Prepended to every namespace name, so that several labs (tests) can run at once.
    pub prefix: String,
    pub state_root: PathBuf,
    pub settings: BackendSettings,
}

/// The backend of each router role.
#[derive(Debug, Clone, Copy)]
pub struct Backends {
    pub leaves: BackendKind,
    pub hnas: BackendKind,
}

impl Backends {
    pub fn of(&self, role: Role) -> BackendKind {
        match role {
            Role::Leaf => self.leaves,
            Role::Hna => self.hnas,
        }
    }

    pub fn describe(&self) -> String {
        format!("leaves {}, HNAs {}", self.leaves, self.hnas)
    }
}

/// Times from the first daemon start, `None` for what did not happen before the deadline.
#[derive(Debug, Clone, Copy, Default)]
pub struct Convergence {
    pub sessions_up: Option<Duration>,
    /// Every row that needs no route leaking passed: the rows any backend can build.
    pub unleaked_rows: Option<Duration>,
    /// Every row that the backends can build passed.
    pub buildable_rows: Option<Duration>,
    /// Every row passed.
    pub matrix: Option<Duration>,
}

/// One router's reported state next to the expected one.
#[derive(Debug, Clone)]
pub struct RouterReport {
    pub name: String,
    pub role: Role,
    pub backend: BackendKind,
    pub state: RouterState,
    pub comparison: Comparison,
    /// Known backend defects the router's state shows.
    pub diagnostics: Vec<String>,
}

/// A lab that is up (or partly up), with its cluster and state.
pub struct Lab {
    pub cluster: Cluster,
    pub names: Names,
    pub session: Session,
    pub settings: BackendSettings,
    expected: BTreeMap<String, Expected>,
}

/// Counts of what `down` removed.
#[derive(Debug, Clone, Default)]
pub struct DownReport {
    pub processes: usize,
    /// Processes that ignored SIGTERM and were killed.
    pub killed: Vec<String>,
    pub namespaces: usize,
}

fn validate_prefix(prefix: &str) -> Result<(), LabError> {
    if prefix.is_empty() || (prefix.len() <= 16 && valid_name(prefix.trim_end_matches(['-', '_'])))
    {
        Ok(())
    } else {
        Err(LabError::Usage(format!(
            "invalid prefix `{prefix}`; expected up to 16 letters, digits, `-` or `_`, such as `t1-`"
        )))
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

impl Lab {
    /// Builds the dataplane and starts every router's daemons; does not wait for convergence.
    ///
    /// When anything fails, whatever was made is removed again before the error returns.
    pub fn up(options: &LabOptions, backends: Backends) -> Result<Lab, LabError> {
        validate_prefix(&options.prefix)?;
        let cluster = Cluster::load(&options.cluster)?;
        let dir = LabDir::new(&options.state_root, &options.prefix, &cluster.name);
        if dir.exists() {
            return Err(LabError::AlreadyUp {
                state_dir: dir.root,
            });
        }
        dir.create()?;
        let state = LabState {
            cluster_name: cluster.name.clone(),
            cluster_file: std::fs::canonicalize(&options.cluster)
                .unwrap_or_else(|_| options.cluster.clone()),
            prefix: options.prefix.clone(),
            backends: cluster
                .routers
                .iter()
                .map(|router| (router.name.clone(), backends.of(router.role)))
                .collect(),
            namespaces: Vec::new(),
            daemon_namespaces: Vec::new(),
            processes: Vec::new(),
            frr_instances: Vec::new(),
            created_ospfd_gr_file: false,
            daemons_started_ms: None,
            timings: Timings::default(),
        };
        let session = Session { dir, state };
        session.dir.save(&session.state)?;
        let mut lab = Lab::new(cluster, session, options);
        match lab.build_and_start() {
            Ok(()) => Ok(lab),
            Err(error) => {
                warn!(%error, "bringing the lab up failed; removing what was made");
                if let Err(down_error) = lab.down() {
                    warn!(error = %down_error, "removing the partial lab failed; run `hna-lab down`");
                }
                Err(error)
            }
        }
    }

    fn new(cluster: Cluster, session: Session, options: &LabOptions) -> Lab {
        let expected = expect::expected_state(&cluster);
        Lab {
            names: Names {
                prefix: options.prefix.clone(),
            },
            cluster,
            session,
            settings: options.settings.clone(),
            expected,
        }
    }

    /// Opens the lab that `up` left for this cluster file and prefix.
    pub fn open(options: &LabOptions) -> Result<Lab, LabError> {
        validate_prefix(&options.prefix)?;
        let cluster = Cluster::load(&options.cluster)?;
        let dir = LabDir::new(&options.state_root, &options.prefix, &cluster.name);
        let state = dir.load()?;
        Ok(Lab::new(cluster, Session { dir, state }, options))
    }

    /// Takes down the lab of a cluster file and prefix from its state file alone, so that it
    /// works even when the cluster's configurations have changed since `up`.
    pub fn down_by_name(options: &LabOptions) -> Result<DownReport, LabError> {
        validate_prefix(&options.prefix)?;
        let name = read_cluster_name(&options.cluster)?;
        let dir = LabDir::new(&options.state_root, &options.prefix, &name);
        let state = dir.load()?;
        tear_down(&mut Session { dir, state })
    }

    pub fn backend_kind(&self, router: &str) -> BackendKind {
        self.session
            .state
            .backends
            .get(router)
            .copied()
            .unwrap_or(BackendKind::HnaRouted)
    }

    pub fn backend(&self, router: &str) -> Box<dyn RouterBackend> {
        self.backend_kind(router).backend()
    }

    pub fn context<'a>(&'a self, router: &'a Router) -> RouterContext<'a> {
        RouterContext {
            router,
            names: &self.names,
            dir: &self.session.dir,
            settings: &self.settings,
        }
    }

    /// Returns whether the backends of the routers a row crosses can build it.
    pub fn buildable(&self, expectation: &Expectation) -> bool {
        if !self.cluster.needs_leaking(expectation) {
            return true;
        }
        let pods = [Some(expectation.from.as_str()), expectation.responder()];
        pods.into_iter()
            .flatten()
            .filter_map(|pod| self.cluster.pod(pod))
            .all(|pod| self.backend(&pod.router).supports_route_leaking())
    }

    fn build_and_start(&mut self) -> Result<(), LabError> {
        let modes: BTreeMap<String, Dataplane> = self
            .cluster
            .routers
            .iter()
            .map(|router| {
                let mode = if self.settings.lab_builds_plane {
                    Dataplane::Lab
                } else {
                    self.backend(&router.name).dataplane()
                };
                (router.name.clone(), mode)
            })
            .collect();

        // Namespaces that the daemons create are recorded first, so that `down` removes them
        // whatever happens next.
        let daemon_namespaces: Vec<String> = self
            .cluster
            .routers
            .iter()
            .filter(|router| modes[&router.name] == Dataplane::Daemon)
            .flat_map(|router| {
                router
                    .config
                    .l3vrfs
                    .keys()
                    .map(|l3vrf| self.names.tenant(&router.name, l3vrf))
            })
            .collect();
        self.session
            .update(|state| state.daemon_namespaces = daemon_namespaces)?;

        for router in &self.cluster.routers {
            let path = self
                .session
                .dir
                .configs()
                .join(format!("{}.nc-cli", router.name));
            std::fs::write(&path, &router.text)?;
            for note in self.backend(&router.name).prepare(&self.context(router))? {
                info!(router = %router.name, backend = %self.backend_kind(&router.name), note, "configuration statement left out");
            }
        }

        let started = Instant::now();
        dataplane::build(&self.cluster, &self.names, &modes, &mut self.session)?;
        info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "namespaces, cables and pods ready"
        );

        // Leaves first: the HNAs' sessions go to them.
        let mut routers: Vec<&Router> = self.cluster.routers.iter().collect();
        routers.sort_by_key(|router| router.role);
        self.session
            .update(|state| state.daemons_started_ms = Some(now_ms()))?;
        for router in routers {
            let backend = self.backend(&router.name);
            let context = RouterContext {
                router,
                names: &self.names,
                dir: &self.session.dir.clone(),
                settings: &self.settings,
            };
            backend.start(&context, &mut self.session)?;
            info!(router = %router.name, backend = %backend.kind(), "router started");
        }
        Ok(())
    }

    /// Time since the first daemon started.
    pub fn since_start(&self) -> Duration {
        let started = self.session.state.daemons_started_ms.unwrap_or_else(now_ms);
        Duration::from_millis(now_ms().saturating_sub(started))
    }

    /// Reads every router's state and compares it with the expected one.
    pub fn router_reports(&self) -> Vec<RouterReport> {
        self.cluster
            .routers
            .iter()
            .map(|router| {
                let backend = self.backend(&router.name);
                let state = RouterState::read(backend.as_ref(), &self.context(router));
                let comparison = expect::compare(&self.expected[&router.name], &state);
                let diagnostics = backend.diagnose(&self.context(router));
                RouterReport {
                    name: router.name.clone(),
                    role: router.role,
                    backend: backend.kind(),
                    state,
                    comparison,
                    diagnostics,
                }
            })
            .collect()
    }

    /// Returns whether every router reports the expected sessions and VNIs.
    pub fn sessions_up(&self) -> bool {
        self.cluster
            .routers
            .iter()
            .all(|router| self.router_converged(router))
    }

    /// Returns whether one router reports the expected sessions and VNIs.
    pub fn router_converged(&self, router: &Router) -> bool {
        let backend = self.backend(&router.name);
        let state = RouterState::read(backend.as_ref(), &self.context(router));
        expect::compare(&self.expected[&router.name], &state).converged()
    }

    /// Probes every row of the matrix with the pods' counters.
    pub fn verify_matrix(&self) -> Result<MatrixResult, LabError> {
        matrix::verify(&self.cluster, &self.names, &|row| self.buildable(row))
    }

    /// Waits until the sessions are up and the matrix passes, or `timeout` passes, and records
    /// the times from the first daemon start in the state file.
    ///
    /// The sessions are polled on a thread of their own, so that the matrix probes, which take
    /// seconds, do not delay their time.
    pub fn converge(&mut self, timeout: Duration) -> Result<Convergence, LabError> {
        let deadline = Instant::now() + timeout;
        let this = &*self;
        let (sessions_up, rows) = std::thread::scope(|scope| {
            let sessions = scope.spawn(move || {
                loop {
                    if this.sessions_up() {
                        let at = this.since_start();
                        info!(
                            seconds = at.as_secs_f64(),
                            "every OSPF, BFD and BGP session is up and every VNI present"
                        );
                        return Some(at);
                    }
                    if Instant::now() >= deadline {
                        return None;
                    }
                    std::thread::sleep(CONVERGE_POLL);
                }
            });
            let rows = this.wait_for_matrix(deadline);
            (sessions.join().unwrap_or(None), rows)
        });
        let result = Convergence {
            sessions_up,
            ..rows?
        };
        let millis =
            |duration: Option<Duration>| duration.map(|duration| duration.as_millis() as u64);
        self.session.update(|state| {
            state.timings = Timings {
                sessions_up_ms: millis(result.sessions_up),
                unleaked_rows_ms: millis(result.unleaked_rows),
                buildable_rows_ms: millis(result.buildable_rows),
                matrix_ms: millis(result.matrix),
            }
        })?;
        Ok(result)
    }

    /// Probes the matrix until every row the backends can build passes, or the deadline.
    ///
    /// A cheap round (every row that expects a reply pinged at once, replies only) runs until
    /// it passes, and then a verified round confirms it. The time recorded is the end of the cheap
    /// round.
    fn wait_for_matrix(&self, deadline: Instant) -> Result<Convergence, LabError> {
        let mut result = Convergence::default();
        let all_buildable = self
            .cluster
            .expectations
            .iter()
            .all(|row| self.buildable(row));
        loop {
            let answered = matrix::quick_round(
                &self.cluster,
                &self.names,
                &|row| self.buildable(row),
                QUICK_PROBE_TIMEOUT,
            )?;
            if answered {
                let at = self.since_start();
                let verified = self.verify_matrix()?;
                if result.unleaked_rows.is_none() && verified.unleaked_pass() {
                    result.unleaked_rows = Some(at);
                }
                if verified.buildable_pass() {
                    result.buildable_rows = Some(at);
                    info!(
                        seconds = at.as_secs_f64(),
                        "every row the backends can build passes"
                    );
                }
                if verified.all_pass() {
                    result.matrix = Some(at);
                    info!(seconds = at.as_secs_f64(), "every row of the matrix passes");
                }
            }
            let done =
                result.buildable_rows.is_some() && (result.matrix.is_some() || !all_buildable);
            if done || Instant::now() >= deadline {
                return Ok(result);
            }
            std::thread::sleep(CONVERGE_POLL);
        }
    }

    /// Stops every process the lab started and deletes every namespace it made.
    pub fn down(mut self) -> Result<DownReport, LabError> {
        let running = self
            .session
            .state
            .processes
            .iter()
            .filter(|process| process.is_alive())
            .count();
        for router in &self.cluster.routers {
            let backend = self.backend(&router.name);
            let dir = self.session.dir.clone();
            let context = RouterContext {
                router,
                names: &self.names,
                dir: &dir,
                settings: &self.settings,
            };
            // Processes first: an FRR run directory must outlive its daemons.
            let own: Vec<_> = self
                .session
                .state
                .processes
                .iter()
                .filter(|process| process.router == router.name)
                .cloned()
                .collect();
            process::stop_all(&own, STOP_GRACE);
            backend.clean_up(&context, &mut self.session);
        }
        let mut report = tear_down(&mut self.session)?;
        report.processes = running;
        Ok(report)
    }

    /// Statements each backend leaves out of the configuration, by router.
    pub fn notes(&self) -> Vec<(String, String)> {
        let mut notes = Vec::new();
        for router in &self.cluster.routers {
            if self.backend_kind(&router.name) == BackendKind::Frr {
                let options = super::frr_config::FrrOptions {
                    hostname: router.name.clone(),
                    log_file: PathBuf::new(),
                    vrf_backend: super::frr_config::VrfBackend::NetnsVrf,
                    debug: false,
                };
                for note in super::frr_config::translate(&router.config, &options).notes {
                    notes.push((router.name.clone(), note));
                }
            }
        }
        notes
    }
}

/// Removes everything the state records: processes, FRR path spaces, the ospfd file the lab
/// created, namespaces, and the lab directory.
fn tear_down(session: &mut Session) -> Result<DownReport, LabError> {
    let mut report = DownReport::default();
    let processes: Vec<_> = session.state.processes.iter().rev().cloned().collect();
    report.processes = processes
        .iter()
        .filter(|process| process.is_alive())
        .count();
    for process in process::stop_all(&processes, STOP_GRACE) {
        report.killed.push(format!(
            "{} {} (pid {})",
            process.router, process.program, process.pid
        ));
    }
    for instance in &session.state.frr_instances {
        let _ = std::fs::remove_dir_all(Path::new(FRR_RUN_DIR).join(instance));
    }
    if session.state.created_ospfd_gr_file && !foreign_ospfd_runs(&session.state.processes) {
        let _ = std::fs::remove_file(OSPFD_GR_FILE);
    }
    let namespaces: Vec<String> = session
        .state
        .daemon_namespaces
        .iter()
        .chain(session.state.namespaces.iter().rev())
        .cloned()
        .collect();
    for namespace in namespaces {
        if !shell::netns_exists(&namespace) {
            continue;
        }
        let pids = shell::output("ip", &["netns", "pids", &namespace])
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string());
        if let Ok(pids) = pids.as_ref().map(String::as_str)
            && !pids.is_empty()
        {
            warn!(
                namespace,
                pids,
                "processes the lab did not start still run in the namespace; it goes away when they exit"
            );
        }
        shell::run("ip", &["netns", "del", &namespace])?;
        report.namespaces += 1;
    }
    session.dir.remove()?;
    Ok(report)
}

/// Reads only the `name` of a cluster file.
fn read_cluster_name(path: &Path) -> Result<String, LabError> {
    #[derive(Deserialize)]
    struct NameOnly {
        name: String,
    }
    let text = std::fs::read_to_string(path).map_err(|source| LabError::ClusterRead {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed: NameOnly = toml::from_str(&text).map_err(|error| LabError::ClusterSyntax {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    Ok(parsed.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_validation() {
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("t1-").is_ok());
        assert!(validate_prefix("lab_").is_ok());
        assert!(validate_prefix("a/b").is_err());
        assert!(validate_prefix("-x").is_err());
        assert!(validate_prefix("0123456789abcdefg").is_err());
    }
}
