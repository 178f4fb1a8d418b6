//! `hna-routed`: the hna-routing daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hna_routed::config::{self, Summary};

#[derive(Debug, Parser)]
#[command(name = "hna-routed", version, about = "The hna-routing daemon: BGP/EVPN, OSPFv2 and BFD for an HNA node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a configuration file and print a summary of what it sets up.
    CheckConfig {
        /// Path-style configuration file (`/ vrf main routing bgp ...`).
        file: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Exit status for an invalid configuration. It is the same as clap's status for a usage error
/// because both mean that the input must be fixed.
const EXIT_INVALID_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file, json } => check_config(&file, json),
    }
}

fn check_config(file: &std::path::Path, json: bool) -> ExitCode {
    match config::load(file) {
        Ok(config) => {
            let summary = Summary::of(&config);
            if json {
                println!("{}", serde_json::to_string_pretty(&summary).expect("summary serialises"));
            } else {
                println!("{}: valid", file.display());
                print!("{summary}");
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{}: {} errors, configuration rejected", file.display(), errors.errors.len());
            ExitCode::from(EXIT_INVALID_CONFIG)
        }
    }
}
