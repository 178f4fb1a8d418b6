//! The state file: everything a running lab made (namespaces, processes, FRR run directories),
//! written after each step so that `down` removes exactly that, even after an interrupted `up`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::backend::BackendKind;
use super::error::LabError;
use super::process::ProcessRecord;

const STATE_FILE: &str = "state.json";

/// Default parent of the lab directories; on tmpfs, so it disappears with the namespaces at
/// reboot.
pub const DEFAULT_STATE_ROOT: &str = "/run/hna-lab";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub cluster_name: String,
    pub cluster_file: PathBuf,
    pub prefix: String,
    pub backends: BTreeMap<String, BackendKind>,
    /// Namespaces the lab created, in creation order.
    pub namespaces: Vec<String>,
    /// Namespaces the daemons create (one per L3VRF); removed if they are left over.
    pub daemon_namespaces: Vec<String>,
    /// Started processes, in start order; stopped in reverse order.
    pub processes: Vec<ProcessRecord>,
    /// FRR path spaces (`/var/run/frr/NAME`) the lab created.
    pub frr_instances: Vec<String>,
    /// Whether the lab's ospfd instances created `/var/run/frr/ospfd-gr.json` (a path FRR 8.4
    /// does not put under `-N`).
    pub created_ospfd_gr_file: bool,
    /// Milliseconds since the Unix epoch when the first routing daemon started.
    pub daemons_started_ms: Option<u64>,
    pub timings: Timings,
}

/// Convergence times measured by `up`, in milliseconds from the first daemon start.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timings {
    pub sessions_up_ms: Option<u64>,
    /// The rows that need no route leaking all held.
    pub unleaked_rows_ms: Option<u64>,
    /// The rows the backends can build all held.
    pub buildable_rows_ms: Option<u64>,
    /// Every row held.
    pub matrix_ms: Option<u64>,
}

/// The directory of one lab: `ROOT/PREFIXCLUSTER`.
#[derive(Debug, Clone)]
pub struct LabDir {
    pub root: PathBuf,
}

impl LabDir {
    pub fn new(state_root: &Path, prefix: &str, cluster_name: &str) -> LabDir {
        LabDir {
            root: state_root.join(format!("{prefix}{cluster_name}")),
        }
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join(STATE_FILE)
    }

    pub fn configs(&self) -> PathBuf {
        self.root.join("configs")
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Per-router directories for control sockets.
    pub fn run(&self, router: &str) -> PathBuf {
        self.root.join("run").join(router)
    }

    /// Per-router mount points for the private `/run/netns` of FRR with namespace VRFs.
    pub fn netns_view(&self, router: &str) -> PathBuf {
        self.root.join("netns-view").join(router)
    }

    pub fn exists(&self) -> bool {
        self.state_file().exists()
    }

    /// Creates the directory tree, readable by daemons that run as other users (FRR as `frr`).
    pub fn create(&self) -> Result<(), LabError> {
        use std::os::unix::fs::PermissionsExt;

        for dir in [
            self.root.parent().unwrap_or(&self.root),
            &self.root,
            &self.configs(),
            &self.logs(),
            &self.root.join("run"),
        ] {
            std::fs::create_dir_all(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    }

    pub fn load(&self) -> Result<LabState, LabError> {
        let path = self.state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(LabError::NotUp { path });
            }
            Err(error) => return Err(error.into()),
        };
        serde_json::from_str(&text).map_err(|error| LabError::State {
            path,
            message: error.to_string(),
        })
    }

    /// Writes the state file atomically (a temporary file renamed over the old one).
    pub fn save(&self, state: &LabState) -> Result<(), LabError> {
        let path = self.state_file();
        let temporary = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(state).map_err(|error| LabError::State {
            path: path.clone(),
            message: error.to_string(),
        })?;
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, &path)?;
        Ok(())
    }

    pub fn remove(&self) -> Result<(), LabError> {
        match std::fs::remove_dir_all(&self.root) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
            _ => Ok(()),
        }
    }
}

/// A lab's state with its directory: every change is written to the state file at once.
#[derive(Debug)]
pub struct Session {
    pub dir: LabDir,
    pub state: LabState,
}

impl Session {
    /// Applies `change` to the state and saves it.
    pub fn update(&mut self, change: impl FnOnce(&mut LabState)) -> Result<(), LabError> {
        change(&mut self.state);
        self.dir.save(&self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_round_trips() {
        let root = std::env::temp_dir().join(format!("hna-lab-state-{}", std::process::id()));
        let dir = LabDir::new(&root, "t1-", "seed");
        dir.create().unwrap();
        let state = LabState {
            cluster_name: "seed".into(),
            cluster_file: "/x/cluster.toml".into(),
            prefix: "t1-".into(),
            backends: BTreeMap::from([("leaf1".to_string(), BackendKind::Frr)]),
            namespaces: vec!["t1-leaf1".into()],
            daemon_namespaces: vec![],
            processes: vec![ProcessRecord {
                router: "leaf1".into(),
                program: "zebra".into(),
                pid: 7,
                start_time: 9,
            }],
            frr_instances: vec!["t1-leaf1".into()],
            created_ospfd_gr_file: false,
            daemons_started_ms: Some(1),
            timings: Timings::default(),
        };
        dir.save(&state).unwrap();
        let loaded = dir.load().unwrap();
        assert_eq!(loaded.namespaces, state.namespaces);
        assert_eq!(loaded.processes, state.processes);
        assert_eq!(loaded.backends, state.backends);
        dir.remove().unwrap();
        assert!(matches!(dir.load(), Err(LabError::NotUp { .. })));
        let _ = std::fs::remove_dir_all(root);
    }
}
