//! `hna-lab`: builds a cluster (by default the seed fabric) in network namespaces on this
//! machine, runs `hna-routed` or FRR on its routers, and checks it end to end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hna_routed::lab::{
    self, BackendKind, BackendSettings, Backends, Convergence, CutMode, Endpoint, Lab, LabError,
    LabOptions, MatrixResult, report,
};

#[derive(Debug, Parser)]
#[command(
    name = "hna-lab",
    version,
    about = "Build a fabric of routers and pods in network namespaces, route it with hna-routed or FRR, and check it"
)]
struct Cli {
    /// Cluster description (TOML): router configurations, cables, pods, expected reachability.
    /// Default: examples/seed/cluster.toml.
    #[arg(long, global = true)]
    cluster: Option<PathBuf>,
    /// Text put before every namespace name, so that several labs can run at once (for
    /// example `t1-`).
    #[arg(long, global = true, default_value = "")]
    prefix: String,
    /// Directory for the lab's state file, configurations and logs.
    #[arg(long, global = true, default_value = lab::DEFAULT_STATE_ROOT)]
    state_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the lab, start the routers, wait for convergence, print the state and the matrix.
    Up(UpArgs),
    /// Print the protocol state and the reachability matrix of the running lab.
    Status,
    /// `up`, check the matrix, optionally measure failovers and the all-FRR reference, then
    /// `down`; exits with 1 when any row differs from the expected matrix.
    Test(TestArgs),
    /// Measure traffic loss on the running lab.
    #[command(subcommand)]
    Failover(FailoverCommand),
    /// Bring the lab up and down several times and print the convergence times of each run.
    Bench(BenchArgs),
    /// Stop every process the lab started and delete every namespace it made.
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    /// FRR 8.4 (zebra, ospfd, bfdd, bgpd) with a configuration translated from ours.
    Frr,
    /// This suite's daemon.
    HnaRouted,
}

impl From<BackendArg> for BackendKind {
    fn from(arg: BackendArg) -> BackendKind {
        match arg {
            BackendArg::Frr => BackendKind::Frr,
            BackendArg::HnaRouted => BackendKind::HnaRouted,
        }
    }
}

#[derive(Debug, Clone, Args)]
struct UpArgs {
    /// Backend of the leaves.
    #[arg(long, value_enum, default_value = "hna-routed")]
    leaves: BackendArg,
    /// Backend of the HNAs.
    #[arg(long, value_enum, default_value = "hna-routed")]
    hnas: BackendArg,
    /// FRR on every router: the reference fabric.
    #[arg(long)]
    all_frr: bool,
    /// Seconds to wait for the sessions and the matrix after the daemons start.
    #[arg(long, default_value_t = 90)]
    timeout: u64,
    /// The hna-routed binary (default: next to hna-lab, then on the PATH).
    #[arg(long)]
    hna_routed: Option<PathBuf>,
    /// The hna-routectl binary (default: next to hna-lab, then on the PATH).
    #[arg(long)]
    hna_routectl: Option<PathBuf>,
    /// `--log-level` passed to hna-routed (error, warn, info, debug, trace).
    #[arg(long)]
    log_level: Option<String>,
    /// FRR logs its EVPN handling (zebra) and BGP updates at debug level.
    #[arg(long)]
    frr_debug: bool,
    /// The lab sets addresses and builds bridges, VXLAN devices and tenant namespaces on every
    /// router, also where hna-routed would do it from its configuration.
    #[arg(long)]
    lab_builds_plane: bool,
}

impl UpArgs {
    fn backends(&self) -> Backends {
        if self.all_frr {
            Backends {
                leaves: BackendKind::Frr,
                hnas: BackendKind::Frr,
            }
        } else {
            Backends {
                leaves: self.leaves.into(),
                hnas: self.hnas.into(),
            }
        }
    }
}

#[derive(Debug, Clone, Args)]
struct TestArgs {
    #[command(flatten)]
    up: UpArgs,
    /// Also bring up the all-FRR fabric afterwards and print its convergence time beside ours.
    #[arg(long)]
    reference: bool,
    /// Also measure an uplink cut (carrier loss, then silent loss) and a graceful restart.
    #[arg(long)]
    failover: bool,
}

#[derive(Debug, Clone, Args)]
struct BenchArgs {
    #[command(flatten)]
    up: UpArgs,
    /// Number of bring-ups.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

#[derive(Debug, Subcommand)]
enum FailoverCommand {
    /// Cut an HNA uplink while a pod pings across the fabric every 10 ms; print the loss window.
    LinkCut {
        /// The router end of the link, ROUTER:INTERFACE (default: the uplink carrying the flow
        /// of the first HNA).
        #[arg(long)]
        link: Option<Endpoint>,
        #[arg(long, value_enum, default_value = "carrier")]
        mode: ModeArg,
        /// The pinging pod (default: the first pod on the router).
        #[arg(long)]
        from: Option<String>,
        /// The pinged pod (default: the first pod on another router that `from` reaches).
        #[arg(long)]
        to: Option<String>,
    },
    /// Restart a router's routing daemons gracefully while a pod pings; print the lost pings.
    Restart {
        /// Default: the first HNA.
        #[arg(long)]
        router: Option<String>,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    /// The far end goes down: the router loses carrier.
    Carrier,
    /// Every frame is dropped both ways while the carrier stays up: only BFD notices.
    Silent,
}

impl From<ModeArg> for CutMode {
    fn from(mode: ModeArg) -> CutMode {
        match mode {
            ModeArg::Carrier => CutMode::Carrier,
            ModeArg::Silent => CutMode::Silent,
        }
    }
}

fn main() -> ExitCode {
    hna_routed::logging::restore_sigpipe();
    let cli = Cli::parse();
    if let Err(error) = hna_routed::logging::init("info", false) {
        eprintln!("hna-lab: {error}");
    }
    match run(&cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("hna-lab: {error}");
            ExitCode::FAILURE
        }
    }
}

fn default_cluster() -> PathBuf {
    let local = Path::new("examples/seed/cluster.toml");
    if local.exists() {
        local.to_path_buf()
    } else {
        PathBuf::from(lab::SEED_CLUSTER)
    }
}

fn options(cli: &Cli, up: Option<&UpArgs>) -> LabOptions {
    let program = |given: Option<&PathBuf>, name: &str| {
        given
            .cloned()
            .or_else(|| lab::find_program(name))
            .unwrap_or_else(|| PathBuf::from(name))
    };
    LabOptions {
        cluster: cli.cluster.clone().unwrap_or_else(default_cluster),
        prefix: cli.prefix.clone(),
        state_root: cli.state_dir.clone(),
        settings: BackendSettings {
            hna_routed: program(up.and_then(|up| up.hna_routed.as_ref()), "hna-routed"),
            hna_routectl: program(up.and_then(|up| up.hna_routectl.as_ref()), "hna-routectl"),
            log_level: up.and_then(|up| up.log_level.clone()),
            frr_daemons: PathBuf::from(lab::FRR_DAEMONS),
            frr_debug: up.is_some_and(|up| up.frr_debug),
            lab_builds_plane: up.is_some_and(|up| up.lab_builds_plane),
        },
    }
}

fn run(cli: &Cli) -> Result<ExitCode, LabError> {
    match &cli.command {
        Command::Up(up) => {
            let (_, matrix) = up_and_report(&options(cli, Some(up)), up)?;
            Ok(if matrix.all_pass() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Status => {
            let lab = Lab::open(&options(cli, None))?;
            print_status(&lab)?;
            let timings = &lab.session.state.timings;
            let ms = |value: Option<u64>| value.map(Duration::from_millis);
            let convergence = Convergence {
                sessions_up: ms(timings.sessions_up_ms),
                unleaked_rows: ms(timings.unleaked_rows_ms),
                buildable_rows: ms(timings.buildable_rows_ms),
                matrix: ms(timings.matrix_ms),
            };
            let matrix = lab.verify_matrix()?;
            print_convergence(&lab, "recorded by `up`", &convergence, &matrix);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(bench) => run_bench(cli, bench),
        Command::Test(test) => run_test(cli, test),
        Command::Failover(command) => {
            let mut lab = Lab::open(&options(cli, None))?;
            match command {
                FailoverCommand::LinkCut {
                    link,
                    mode,
                    from,
                    to,
                } => {
                    let result = lab::link_cut(
                        &mut lab,
                        link.as_ref(),
                        (*mode).into(),
                        from.as_deref(),
                        to.as_deref(),
                    )?;
                    print!("{}", report::format_link_cut(&result));
                }
                FailoverCommand::Restart { router, from, to } => {
                    let result =
                        lab::restart(&mut lab, router.as_deref(), from.as_deref(), to.as_deref())?;
                    print!("{}", report::format_restart(&result));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Down => {
            let result = Lab::down_by_name(&options(cli, None))?;
            println!(
                "down: stopped {}, deleted {}",
                counted(result.processes, "process", "processes"),
                counted(result.namespaces, "namespace", "namespaces")
            );
            for process in &result.killed {
                println!("  {process} ignored SIGTERM and was killed");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Brings the lab up, waits, prints everything; returns the lab (still up) and its matrix.
fn up_and_report(options: &LabOptions, up: &UpArgs) -> Result<(Lab, MatrixResult), LabError> {
    let backends = up.backends();
    println!(
        "hna-lab: cluster {} ({}), {}",
        options.cluster.display(),
        if options.prefix.is_empty() {
            "no prefix"
        } else {
            &options.prefix
        },
        backends.describe()
    );
    let mut lab = Lab::up(options, backends)?;
    let convergence = lab.converge(Duration::from_secs(up.timeout))?;
    let matrix = print_status(&lab)?;
    print_convergence(&lab, &backends.describe(), &convergence, &matrix);
    Ok((lab, matrix))
}

fn print_status(lab: &Lab) -> Result<MatrixResult, LabError> {
    let reports = lab.router_reports();
    println!();
    print!("{}", report::format_state(&reports));
    let matrix = lab.verify_matrix()?;
    println!();
    print!("{}", report::format_matrix(&matrix));
    let notes = lab.notes();
    if !notes.is_empty() {
        println!("\n== Configuration statements the backends leave out");
        for (router, note) in notes {
            println!("{router}: {note}");
        }
    }
    Ok(matrix)
}

fn print_convergence(lab: &Lab, label: &str, convergence: &Convergence, matrix: &MatrixResult) {
    let buildable = matrix.rows.iter().filter(|row| row.buildable).count();
    println!();
    print!(
        "{}",
        report::format_convergence(
            &format!("Time from the first daemon start ({label})"),
            convergence,
            matrix.rows.len(),
            buildable
        )
    );
    println!(
        "state, configurations and logs: {}",
        lab.session.dir.root.display()
    );
}

/// Brings the lab up `runs` times, each time until it converges or times out, and prints the
/// times of every run and their range.
fn run_bench(cli: &Cli, bench: &BenchArgs) -> Result<ExitCode, LabError> {
    let options = options(cli, Some(&bench.up));
    let backends = bench.up.backends();
    let mut results = Vec::new();
    for run in 1..=bench.runs {
        let mut lab = Lab::up(&options, backends)?;
        let convergence = lab.converge(Duration::from_secs(bench.up.timeout));
        let diagnostics: Vec<String> = match &convergence {
            Ok(convergence) if convergence.buildable_rows.is_none() => lab
                .router_reports()
                .into_iter()
                .flat_map(|report| {
                    report
                        .diagnostics
                        .into_iter()
                        .map(move |line| format!("{}: {line}", report.name))
                })
                .collect(),
            _ => Vec::new(),
        };
        lab.down()?;
        let convergence = convergence?;
        println!(
            "run {run}: sessions {}, rows without leaking {}, buildable rows {}, whole matrix {}",
            report::seconds(convergence.sessions_up),
            report::seconds(convergence.unleaked_rows),
            report::seconds(convergence.buildable_rows),
            report::seconds(convergence.matrix)
        );
        for line in diagnostics {
            println!("  {line}");
        }
        results.push(convergence);
    }
    println!("\n{} runs, {}:", results.len(), backends.describe());
    let summary = |name: &str, pick: &dyn Fn(&Convergence) -> Option<Duration>| {
        let mut times: Vec<Duration> = results.iter().filter_map(pick).collect();
        times.sort();
        match (times.first(), times.get(times.len() / 2), times.last()) {
            (Some(min), Some(median), Some(max)) => println!(
                "  {name}: reached in {} of {} runs; min {:.2} s, median {:.2} s, max {:.2} s",
                times.len(),
                results.len(),
                min.as_secs_f64(),
                median.as_secs_f64(),
                max.as_secs_f64()
            ),
            _ => println!("  {name}: reached in none of {} runs", results.len()),
        }
    };
    summary("sessions up", &|convergence| convergence.sessions_up);
    summary("rows without leaking", &|convergence| {
        convergence.unleaked_rows
    });
    summary("rows the backends can build", &|convergence| {
        convergence.buildable_rows
    });
    summary("whole matrix", &|convergence| convergence.matrix);
    Ok(ExitCode::SUCCESS)
}

fn run_test(cli: &Cli, test: &TestArgs) -> Result<ExitCode, LabError> {
    let options = options(cli, Some(&test.up));
    let (mut lab, matrix) = up_and_report(&options, &test.up)?;
    let ours = lab.session.state.timings.clone();
    let ours_label = test.up.backends().describe();
    if test.failover {
        println!();
        for mode in [CutMode::Carrier, CutMode::Silent] {
            match lab::link_cut(&mut lab, None, mode, None, None) {
                Ok(result) => print!("{}", report::format_link_cut(&result)),
                Err(error) => println!("link cut ({mode:?}) failed: {error}"),
            }
        }
        match lab::restart(&mut lab, None, None, None) {
            Ok(result) => print!("{}", report::format_restart(&result)),
            Err(error) => println!("graceful restart failed: {error}"),
        }
    }
    let down = lab.down()?;
    println!(
        "\ndown: stopped {}, deleted {}",
        counted(down.processes, "process", "processes"),
        counted(down.namespaces, "namespace", "namespaces")
    );

    if test.reference {
        let reference = UpArgs {
            all_frr: true,
            ..test.up.clone()
        };
        println!("\n==== Reference: the same cluster with FRR on every router");
        let (reference_lab, reference_matrix) = up_and_report(&options, &reference)?;
        let theirs = reference_lab.session.state.timings.clone();
        reference_lab.down()?;
        let buildable = reference_matrix
            .rows
            .iter()
            .filter(|row| row.buildable)
            .count();
        let ms = |value: Option<u64>| {
            value.map_or_else(
                || "not reached".to_string(),
                |ms| format!("{:.2} s", ms as f64 / 1000.0),
            )
        };
        let unleaked = matrix.rows.iter().filter(|row| !row.needs_leaking).count();
        println!("\n==== Time from the first daemon start to the matrix passing");
        println!(
            "{ours_label}: the {unleaked} rows without leaking {}, the whole matrix ({} rows) {}",
            ms(ours.unleaked_rows_ms),
            matrix.rows.len(),
            ms(ours.matrix_ms)
        );
        if buildable < reference_matrix.rows.len() {
            println!(
                "all FRR: the {unleaked} rows without leaking {}; only {buildable} of {} rows can pass (no route leaking between \
                 namespace VRFs)",
                ms(theirs.unleaked_rows_ms),
                reference_matrix.rows.len()
            );
        } else {
            println!(
                "all FRR: the {unleaked} rows without leaking {}, the whole matrix {}",
                ms(theirs.unleaked_rows_ms),
                ms(theirs.matrix_ms)
            );
        }
    }

    if matrix.all_pass() {
        println!("\ntest: every row of the matrix holds");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "\ntest: {} of {} rows differ from the expected matrix",
            matrix.rows.len() - matrix.passed(),
            matrix.rows.len()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// Returns `count` followed by the singular or plural noun: "1 process", "4 processes".
fn counted(count: usize, singular: &str, plural: &str) -> String {
    format!("{count} {}", if count == 1 { singular } else { plural })
}
