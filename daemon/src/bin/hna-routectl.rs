//! `hna-routectl`: inspect and control a running `hna-routed` through its control socket.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use hna_routed::control::{self, Request};

#[derive(Debug, Parser)]
#[command(
    name = "hna-routectl",
    version,
    about = "Inspect and control hna-routed"
)]
struct Cli {
    /// Control socket of the daemon.
    #[arg(long, global = true, default_value = control::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Print JSON instead of text (show commands).
    #[arg(long, global = true)]
    json: bool,
    /// Seconds to wait for the daemon's response.
    #[arg(long, global = true, default_value_t = 10)]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show protocol and routing state.
    #[command(subcommand)]
    Show(Show),
    /// Reset BGP sessions.
    #[command(subcommand)]
    Clear(Clear),
    /// Re-read the configuration file and apply only what changed.
    Reload,
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Subcommand)]
enum Show {
    /// BGP state.
    #[command(subcommand)]
    Bgp(ShowBgp),
    /// IP routing state.
    #[command(subcommand)]
    Ip(ShowIp),
    /// EVPN state.
    #[command(subcommand)]
    Evpn(ShowEvpn),
    /// BFD state.
    #[command(subcommand)]
    Bfd(ShowBfd),
    /// The configuration in effect, in the path-style format.
    RunningConfig,
}

#[derive(Debug, Subcommand)]
enum ShowBgp {
    /// One line per neighbor: state, uptime, prefixes received.
    Summary,
    /// Neighbor details, for all neighbors or one.
    Neighbors { address: Option<String> },
    /// The l2vpn-evpn table, optionally one route type.
    L2vpn {
        #[arg(value_parser = ["evpn"])]
        family: String,
        /// Route type: 1-5, or ead, macip, multicast, es, prefix.
        #[arg(long = "route-type")]
        route_type: Option<String>,
    },
    /// The ipv4-unicast table.
    Ipv4 {
        #[arg(value_parser = ["unicast"])]
        family: String,
    },
}

#[derive(Debug, Subcommand)]
enum ShowIp {
    /// OSPF state.
    #[command(subcommand)]
    Ospf(ShowOspf),
    /// Routes of the default VRF or of one L3VRF.
    Route {
        #[arg(long)]
        vrf: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ShowOspf {
    /// Neighbors and their states.
    Neighbor,
    /// The link-state database.
    Database,
    /// Interfaces: network type, state, cost, designated routers.
    Interface,
    /// Packets sent, received and dropped (by reason), LSAs discarded, graceful restart events.
    Statistics,
    /// Graceful restart (RFC 3623): restarting or not, neighbors being helped.
    GracefulRestart,
}

#[derive(Debug, Subcommand)]
enum ShowEvpn {
    /// L2VNIs and L3VNIs of this node.
    Vni,
    /// Local and remote MAC addresses, for all VNIs or one.
    Mac {
        #[arg(long)]
        vni: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
enum ShowBfd {
    /// BFD sessions.
    Peers,
}

#[derive(Debug, Subcommand)]
enum Clear {
    /// Reset one BGP session, or all with `*`.
    Bgp { neighbor: String },
}

impl Command {
    /// The command as the words the daemon matches, as an operator would type them.
    fn words(&self) -> Vec<String> {
        let words: Vec<&str> = match self {
            Command::Show(show) => {
                let mut words = vec!["show"];
                match show {
                    Show::Bgp(ShowBgp::Summary) => words.extend(["bgp", "summary"]),
                    Show::Bgp(ShowBgp::Neighbors { address }) => {
                        words.extend(["bgp", "neighbors"]);
                        words.extend(address.as_deref());
                    }
                    Show::Bgp(ShowBgp::L2vpn { route_type, .. }) => {
                        words.extend(["bgp", "l2vpn", "evpn"]);
                        if let Some(route_type) = route_type {
                            words.extend(["route-type", route_type.as_str()]);
                        }
                    }
                    Show::Bgp(ShowBgp::Ipv4 { .. }) => words.extend(["bgp", "ipv4", "unicast"]),
                    Show::Ip(ShowIp::Ospf(ShowOspf::Neighbor)) => {
                        words.extend(["ip", "ospf", "neighbor"])
                    }
                    Show::Ip(ShowIp::Ospf(ShowOspf::Database)) => {
                        words.extend(["ip", "ospf", "database"])
                    }
                    Show::Ip(ShowIp::Ospf(ShowOspf::Interface)) => {
                        words.extend(["ip", "ospf", "interface"])
                    }
                    Show::Ip(ShowIp::Ospf(ShowOspf::Statistics)) => {
                        words.extend(["ip", "ospf", "statistics"])
                    }
                    Show::Ip(ShowIp::Ospf(ShowOspf::GracefulRestart)) => {
                        words.extend(["ip", "ospf", "graceful-restart"])
                    }
                    Show::Ip(ShowIp::Route { vrf }) => {
                        words.extend(["ip", "route"]);
                        if let Some(vrf) = vrf {
                            words.extend(["vrf", vrf.as_str()]);
                        }
                    }
                    Show::Evpn(ShowEvpn::Vni) => words.extend(["evpn", "vni"]),
                    Show::Evpn(ShowEvpn::Mac { .. }) => words.extend(["evpn", "mac"]),
                    Show::Bfd(ShowBfd::Peers) => words.extend(["bfd", "peers"]),
                    Show::RunningConfig => words.push("running-config"),
                }
                words
            }
            Command::Clear(Clear::Bgp { neighbor }) => vec!["clear", "bgp", neighbor.as_str()],
            Command::Reload => vec!["reload"],
            Command::Completions { .. } => Vec::new(),
        };
        let mut words: Vec<String> = words.into_iter().map(str::to_string).collect();
        if let Command::Show(Show::Evpn(ShowEvpn::Mac { vni: Some(vni) })) = self {
            words.extend(["vni".to_string(), vni.to_string()]);
        }
        words
    }
}

fn main() -> ExitCode {
    hna_routed::logging::restore_sigpipe();
    let cli = Cli::parse();
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "hna-routectl",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }

    let request = Request {
        command: cli.command.words(),
        json: cli.json,
    };
    match control::request(&cli.socket, &request, Duration::from_secs(cli.timeout)) {
        Ok(response) if response.ok => {
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(response.output.as_bytes());
            if !response.output.ends_with('\n') {
                let _ = stdout.write_all(b"\n");
            }
            ExitCode::SUCCESS
        }
        Ok(response) => {
            eprintln!("hna-routectl: {}", response.output);
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("hna-routectl: {error}");
            ExitCode::FAILURE
        }
    }
}
