//! `hna-routed`: the hna-routing daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hna_routed::config::{self, Summary};

#[derive(Debug, Parser)]
#[command(
    name = "hna-routed",
    version,
    about = "The hna-routing daemon: BGP/EVPN, OSPFv2 and BFD for an HNA node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon in the current network namespace.
    Run(RunArgs),
    /// Validate a configuration file and print a summary of what it sets up.
    CheckConfig {
        /// Path-style configuration file (`/ vrf main routing bgp ...`).
        file: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Path-style configuration file; re-read on SIGHUP and `hna-routectl reload`.
    #[arg(long, short)]
    config: PathBuf,
    /// Control socket for `hna-routectl` (root only).
    #[arg(long, default_value = hna_routed::control::DEFAULT_SOCKET)]
    control_socket: PathBuf,
    /// Address and port of the Prometheus endpoint (`GET /metrics`); none when unset.
    #[arg(long)]
    metrics_listen: Option<std::net::SocketAddr>,
    /// Prefix of the network namespaces created for tenants (L3VRFs), so that several daemons
    /// can share one machine.
    #[arg(long, default_value = "")]
    netns_prefix: String,
    /// Log filter (trace, debug, info, warn, error, or tracing directives); RUST_LOG overrides it.
    #[arg(long, default_value = "info")]
    log_level: String,
    /// Write logs as JSON lines.
    #[arg(long)]
    log_json: bool,
}

/// Exit status for an invalid configuration. It is the same as clap's status for a usage error
/// because both mean that the input must be fixed.
const EXIT_INVALID_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file, json } => {
            hna_routed::logging::restore_sigpipe();
            check_config(&file, json)
        }
        Command::Run(args) => run(args),
    }
}

fn check_config(file: &std::path::Path, json: bool) -> ExitCode {
    match config::load(file) {
        Ok(config) => {
            // A truncated or emptied file is valid, but loading it undoes everything.
            if config.interfaces.is_empty()
                && config.l3vrfs.is_empty()
                && config.bgp.is_none()
                && config.ospf.is_none()
            {
                eprintln!(
                    "{}: warning: no routing statement; a reload with it removes every \
                     interface, VRF and protocol the daemon set up",
                    file.display()
                );
            }
            let summary = Summary::of(&config);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&summary).expect("summary serialises")
                );
            } else {
                println!("{}: valid", file.display());
                print!("{summary}");
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            let count = errors.errors.len();
            eprintln!(
                "{}: {count} {}, configuration rejected",
                file.display(),
                if count == 1 { "error" } else { "errors" }
            );
            ExitCode::from(EXIT_INVALID_CONFIG)
        }
    }
}

fn run(args: RunArgs) -> ExitCode {
    if let Err(error) = hna_routed::logging::init(&args.log_level, args.log_json) {
        eprintln!("hna-routed: {error}");
        return ExitCode::from(EXIT_INVALID_CONFIG);
    }
    let config = match config::load(&args.config) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "{}: configuration rejected, not starting",
                args.config.display()
            );
            return ExitCode::from(EXIT_INVALID_CONFIG);
        }
    };
    let options = hna_routed::daemon::DaemonOptions {
        config_path: args.config,
        control_socket: args.control_socket,
        metrics_listen: args.metrics_listen,
        netns_prefix: args.netns_prefix,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hna-routed: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(hna_routed::daemon::run(config, options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "hna-routed stopped on an error");
            eprintln!("hna-routed: {error}");
            ExitCode::FAILURE
        }
    }
}
