//! `hna-lab`: a fabric of routers and pods in network namespaces on one machine.
//!
//! The lab is built from a cluster description (router configurations, cables, pods, expected
//! reachability), and FRR 8.4 or `hna-routed` routes it, chosen per router role. The check is
//! end to end: protocol state against what the configurations imply, and a reachability matrix
//! whose receivers the pods' ICMP counters identify.
//!
//! Everything the lab makes is recorded in a state file under `/run/hna-lab`, and `down`
//! removes exactly that.

mod backend;
pub mod cluster;
mod dataplane;
mod error;
mod expect;
mod failover;
mod frr;
pub mod frr_config;
mod hna;
mod lifecycle;
mod matrix;
mod process;
pub mod report;
mod shell;
mod state;

pub use backend::{
    BackendKind, BackendSettings, BfdPeer, BgpPeer, Dataplane, EvpnVni, Names, OspfNeighbor, Query,
    RouterBackend, RouterContext, RouterState,
};
pub use cluster::{Cluster, Endpoint, Expectation, Outcome, Role};
pub use error::LabError;
pub use expect::{Comparison, Expected};
pub use failover::{CutMode, Flow, LinkCutReport, PingLoss, RestartReport, link_cut, restart};
pub use lifecycle::{Backends, Convergence, DownReport, Lab, LabOptions, RouterReport};
pub use matrix::{MatrixResult, RowResult};
pub use process::ProcessRecord;
pub use shell::find_program;
pub use state::{DEFAULT_STATE_ROOT, LabState, Timings};

/// The seed fabric's cluster file in this source tree.
pub const SEED_CLUSTER: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/seed/cluster.toml");

/// Directory of the FRR daemons in Debian's `frr` package.
pub const FRR_DAEMONS: &str = "/usr/lib/frr";
