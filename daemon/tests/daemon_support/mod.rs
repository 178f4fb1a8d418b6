//! Shared helpers of the `daemon_*` tests: `hna-routed` started in a test namespace under a
//! guard, `hna-routectl` against it, and a two-router EVPN fabric of our daemons.
//!
//! The fabric has two routers, r1 (10.0.0.1) and r2 (10.0.0.2), joined by a veth link `eth1`
//! (10.1.0.0/30) that runs OSPF point-to-point with BFD. They peer in iBGP between their
//! loopbacks, with l2vpn-evpn, ipv4-unicast and multihop BFD. Each router has tenant vrf100
//! (L3VNI 100) with bridge br10 (10.60.0.254/16, L2VNI 10), whose member `podN` leads to a pod
//! namespace (10.60.0.N/16). Optionally, an FRR 8.4 router "edge" (10.0.0.9, AS 65099) peers
//! in eBGP with r1 over a second link `eth2` (172.16.0.0/30) and originates 10.99.0.0/24 in
//! ipv4-unicast.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use hna_testkit::{Frr, Netns, run, scratch_dir, veth, wait_until, wait_until_ok};
use serde_json::Value;

pub const ROUTED: &str = env!("CARGO_BIN_EXE_hna-routed");
pub const ROUTECTL: &str = env!("CARGO_BIN_EXE_hna-routectl");

/// Port of the metrics endpoint, on 127.0.0.1 inside each router's namespace.
pub const METRICS_PORT: u16 = 9100;

/// How long a fabric may take to converge: OSPF Full, BGP Established, EVPN routes imported.
pub const CONVERGENCE: Duration = Duration::from_secs(60);

/// An `hna-routed` process in a test namespace, started as the lab starts it
/// (`nsenter --net=...`, so that its tenant namespaces are visible to the whole machine).
///
/// `Drop` stops it with SIGTERM (SIGKILL after a deadline) and deletes every namespace whose
/// name starts with its tenant prefix, which a graceful stop or a failed test may leave.
pub struct Daemon {
    child: Child,
    exited: Option<ExitStatus>,
    pub name: String,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
    pub netns_prefix: String,
}

impl Daemon {
    /// Writes `config` to `dir/NAME.nc-cli` and starts the daemon in `netns`, with the metrics
    /// endpoint on [`METRICS_PORT`] when `metrics` is set. Returns once the control socket
    /// responds.
    pub fn start(netns: &Netns, dir: &Path, name: &str, config: &str, metrics: bool) -> Daemon {
        let mut daemon = Daemon::spawn(netns, dir, name, config, metrics);
        let socket = daemon.socket.clone();
        wait_until_ok(
            Duration::from_secs(20),
            &format!("{name}'s control socket"),
            || {
                if let Some(status) = daemon.try_exit() {
                    panic!(
                        "{name} exited at start with {status}:\n{}",
                        daemon.log_text()
                    );
                }
                match hna_routed::control::request(
                    &socket,
                    &request(&["show", "running-config"], false),
                    Duration::from_secs(5),
                ) {
                    Ok(response) if response.ok => Ok(()),
                    Ok(response) => Err(response.output),
                    Err(error) => Err(error.to_string()),
                }
            },
        );
        daemon
    }

    /// Starts the daemon without waiting for it: for tests of a start that must fail.
    pub fn spawn(netns: &Netns, dir: &Path, name: &str, config: &str, metrics: bool) -> Daemon {
        let config_path = dir.join(format!("{name}.nc-cli"));
        std::fs::write(&config_path, config).expect("write the configuration");
        // The control socket's directory gets mode 0700, so it must be the daemon's own.
        let socket = dir.join(name).join("control.sock");
        let log = dir.join(format!("{name}.log"));
        let netns_prefix = format!("{}-", netns.name());
        let log_file = std::fs::File::create(&log).expect("create the daemon's log");

        let mut command = Command::new("nsenter");
        command
            .arg(format!("--net=/run/netns/{}", netns.name()))
            .arg("--")
            .arg(ROUTED)
            .arg("run")
            .arg("--config")
            .arg(&config_path)
            .arg("--control-socket")
            .arg(&socket)
            .arg("--netns-prefix")
            .arg(&netns_prefix)
            .args(["--log-level", "info"]);
        if metrics {
            command
                .arg("--metrics-listen")
                .arg(format!("127.0.0.1:{METRICS_PORT}"));
        }
        command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone the log file"))
            .stderr(log_file);
        // The daemon must not get the test harness's SIGINT from a terminal.
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        // nsenter execs the daemon, so the child's pid is the daemon's.
        let child = command.spawn().expect("start nsenter hna-routed");
        Daemon {
            child,
            exited: None,
            name: name.to_string(),
            config: config_path,
            socket,
            log,
            netns_prefix,
        }
    }

    /// Returns the exit status once the process has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("wait for the daemon");
        }
        self.exited
    }

    /// Waits up to `timeout` for the process to exit and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let name = self.name.clone();
        wait_until(timeout, &format!("{name} to exit"), || self.try_exit())
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "cannot signal {}", self.name);
    }

    /// Stops the daemon with SIGTERM and returns its exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(Duration::from_secs(20))
    }

    /// Returns the namespace of tenant `l3vrf`.
    pub fn tenant(&self, l3vrf: &str) -> String {
        format!("{}{l3vrf}", self.netns_prefix)
    }

    /// Replaces the configuration file (a reload reads it).
    pub fn write_config(&self, text: &str) {
        std::fs::write(&self.config, text).expect("write the configuration");
    }

    /// Runs `hna-routectl --socket SOCKET ARGS...` as root.
    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(ROUTECTL)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run hna-routectl")
    }

    /// Runs `hna-routectl --json ARGS...`, asserts that it succeeded and returns the parsed
    /// output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let output = self.ctl(&full);
        assert!(
            output.status.success(),
            "`hna-routectl --json {}` on {} failed: {}",
            args.join(" "),
            self.name,
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "`hna-routectl --json {}` on {} printed no JSON ({error}):\n{}",
                args.join(" "),
                self.name,
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Returns the BGP neighbor `address` of `show bgp neighbors ADDRESS`.
    pub fn neighbor(&self, address: &str) -> Value {
        let neighbors = self.json(&["show", "bgp", "neighbors", address]);
        assert_eq!(
            neighbors.as_array().map(Vec::len),
            Some(1),
            "{}: show bgp neighbors {address}: {neighbors}",
            self.name
        );
        neighbors[0].clone()
    }

    /// Waits until the BGP session with `address` is Established and returns its detail.
    pub fn wait_established(&self, address: &str, timeout: Duration) -> Value {
        wait_until_ok(
            timeout,
            &format!("{}: BGP session with {address} Established", self.name),
            || {
                let neighbor = self.neighbor(address);
                if neighbor["state"] == "Established" {
                    Ok(neighbor)
                } else {
                    Err(neighbor["state"].clone())
                }
            },
        )
    }

    /// Starts the daemon again in `netns` with its configuration file, once it has exited, and
    /// returns when the control socket responds. The log starts anew.
    pub fn restart(&mut self, netns: &Netns, dir: &Path) {
        assert!(self.try_exit().is_some(), "{} is still running", self.name);
        let config = std::fs::read_to_string(&self.config).expect("read the configuration");
        let mut restarted = Daemon::start(netns, dir, &self.name, &config, false);
        std::mem::swap(self, &mut restarted);
        // `restarted` now contains the exited process. Its Drop would delete the tenant namespaces
        // that the new process adopted, so it is not run.
        std::mem::forget(restarted);
    }

    /// Returns the daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Returns the namespaces of this daemon's tenants that `ip netns list` shows.
    pub fn tenant_namespaces(&self) -> Vec<String> {
        namespaces()
            .into_iter()
            .filter(|name| name.starts_with(&self.netns_prefix))
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            // SAFETY: sending a signal has no memory-safety preconditions.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let deadline = std::time::Instant::now() + Duration::from_secs(15);
            while self.try_exit().is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.try_exit().is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        if std::thread::panicking() {
            let log = self.log_text();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- last lines of {} ({}) ---",
                self.name,
                self.log.display()
            );
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
        for name in self.tenant_namespaces() {
            let _ = run("ip", &["netns", "del", &name]);
        }
    }
}

/// Builds a control request from words.
pub fn request(words: &[&str], json: bool) -> hna_routed::control::Request {
    hna_routed::control::Request {
        command: words.iter().map(|word| word.to_string()).collect(),
        json,
    }
}

/// Returns the namespaces `ip netns list` shows.
pub fn namespaces() -> Vec<String> {
    let output = run("ip", &["netns", "list"]);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Fetches `GET /metrics` from the daemon's endpoint inside `netns`, over plain HTTP/1.1 from a
/// thread in that namespace, and returns the body.
pub fn scrape_metrics(netns: &Netns) -> String {
    let response = netns
        .spawn(|| -> std::io::Result<String> {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", METRICS_PORT))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream.write_all(
                b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            )?;
            let mut response = String::new();
            stream.read_to_string(&mut response)?;
            Ok(response)
        })
        .join()
        .expect("metrics thread")
        .expect("fetch /metrics");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP header end in {response:?}"));
    assert!(head.starts_with("HTTP/1.1 200"), "metrics response: {head}");
    body.to_string()
}

/// Returns the value of the sample `name{labels}` in a Prometheus text exposition, where
/// `labels` is the exact label set as printed (`peer="10.0.0.2"`), or `None` when absent.
pub fn metric(text: &str, name: &str, labels: &str) -> Option<f64> {
    let key = if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{labels}}}")
    };
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (sample, value) = line.rsplit_once(' ')?;
            (sample == key).then(|| value.parse().ok())?
        })
}

/// Options of the two-router fabric.
#[derive(Default)]
pub struct FabricOptions {
    /// Start the FRR router "edge" peering with r1 in eBGP, ipv4-unicast.
    pub edge: bool,
    /// Serve metrics on both routers.
    pub metrics: bool,
    /// Enable BGP and OSPF graceful restart on both routers.
    pub graceful_restart: bool,
}

/// Returns the configuration of router `n` (1 or 2) of the fabric, peering with router
/// `3 - n`, and with the FRR edge router when `edge` is set (r1 only).
pub fn router_config(n: u8, options: &FabricOptions) -> String {
    let peer = 3 - n;
    let mut text = format!(
        "# Router r{n} of the daemon test fabric\n\
/ vrf main interface loopback loop0 ipv4 address 10.0.0.{n}/32\n\
/ vrf main interface physical eth1 description \"link to r{peer}\"\n\
/ vrf main interface physical eth1 ipv4 address 10.1.0.{n}/30\n\
/ vrf main interface physical pod{n} description \"pod {n}\"\n\
# Tenant vrf100 with one subnet\n\
/ vrf main l3vrf vrf100 table-id 100\n\
/ vrf main l3vrf vrf100 routing bgp l3vni 100\n\
/ vrf main l3vrf vrf100 routing bgp address-family ipv4-unicast redistribute connected\n\
/ vrf main l3vrf vrf100 routing bgp address-family l2vpn-evpn advertisement ipv4-unicast\n\
/ vrf main l3vrf vrf100 routing bgp address-family l2vpn-evpn auto-route-target rfc8365\n\
/ vrf main l3vrf vrf100 routing bgp address-family l2vpn-evpn export route-distinguisher 10.0.0.{n}:100\n\
/ vrf main interface vxlan vx100 vni 100\n\
/ vrf main interface vxlan vx100 local 10.0.0.{n}\n\
/ vrf main interface vxlan vx100 link-interface loop0\n\
/ vrf main interface vxlan vx100 learning false\n\
/ vrf main l3vrf vrf100 interface bridge br10 ipv4 address 10.60.0.254/16\n\
/ vrf main l3vrf vrf100 interface bridge br10 ethernet mac-address 00:00:00:00:01:01\n\
/ vrf main l3vrf vrf100 interface bridge br10 link-interface pod{n}\n\
/ vrf main interface vxlan vx10 vni 10\n\
/ vrf main interface vxlan vx10 local 10.0.0.{n}\n\
/ vrf main interface vxlan vx10 link-interface loop0\n\
/ vrf main interface vxlan vx10 learning false\n\
/ vrf main l3vrf vrf100 interface bridge br10 link-interface vx10 learning false\n\
# BGP\n\
/ vrf main routing bgp as 65500\n\
/ vrf main routing bgp router-id 10.0.0.{n}\n\
/ vrf main routing bgp address-family l2vpn-evpn advertise-all-vni true\n\
/ vrf main routing bgp neighbor 10.0.0.{peer} remote-as 65500\n\
/ vrf main routing bgp neighbor 10.0.0.{peer} neighbor-description r{peer}\n\
/ vrf main routing bgp neighbor 10.0.0.{peer} update-source loop0\n\
/ vrf main routing bgp neighbor 10.0.0.{peer} timers connect-retry-interval 1\n\
/ vrf main routing bgp neighbor 10.0.0.{peer} address-family ipv4-unicast\n\
/ vrf main routing bgp neighbor 10.0.0.{peer} address-family l2vpn-evpn\n\
/ vrf main routing bgp neighbor 10.0.0.{peer} track bfd\n\
# OSPF\n\
/ vrf main routing ospf router-id 10.0.0.{n}\n\
/ vrf main routing ospf network 10.0.0.0/8 area 0\n\
/ vrf main routing interface eth1 ip ospf network-type point-to-point hello-interval 1 dead-interval 4\n\
/ vrf main routing interface eth1 ip ospf track bfd\n\
/ vrf main routing bfd detection-multiplier 5\n"
    );
    if options.graceful_restart {
        text.push_str(
            "/ vrf main routing bgp graceful-restart enabled true\n\
/ vrf main routing bgp graceful-restart restart-time 120\n\
/ vrf main routing ospf graceful-restart enabled true grace-period 120\n",
        );
    }
    if n == 1 && options.edge {
        text.push_str(
            "# The FRR edge router\n\
/ vrf main interface physical eth2 ipv4 address 172.16.0.1/30\n\
/ vrf main routing bgp ebgp-requires-policy false\n\
/ vrf main routing bgp neighbor 172.16.0.2 remote-as 65099\n\
/ vrf main routing bgp neighbor 172.16.0.2 neighbor-description edge\n\
/ vrf main routing bgp neighbor 172.16.0.2 timers connect-retry-interval 1\n\
/ vrf main routing bgp neighbor 172.16.0.2 address-family ipv4-unicast\n\
/ vrf main routing bgp neighbor 172.16.0.2 address-family l2vpn-evpn enabled false\n",
        );
    }
    text
}

/// FRR configuration of the edge router: eBGP with r1 over `eth2`, originating 10.99.0.0/24.
pub const EDGE_CONFIG: &str = "\
router bgp 65099
 bgp router-id 10.0.0.9
 no bgp default ipv4-unicast
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 172.16.0.1 remote-as 65500
 neighbor 172.16.0.1 timers connect 1
 address-family ipv4 unicast
  network 10.99.0.0/24
  neighbor 172.16.0.1 activate
 exit-address-family
";

/// The two-router fabric. Fields drop in order: the daemons and FRR stop before their
/// namespaces go.
pub struct Fabric {
    pub r1: Daemon,
    pub r2: Daemon,
    pub edge: Option<Frr>,
    pub edge_ns: Option<Netns>,
    pub pods: [Netns; 2],
    pub ns: [Netns; 2],
    pub dir: PathBuf,
}

impl Fabric {
    /// Builds the namespaces and links, starts both daemons (and FRR), and returns once the
    /// fabric has converged: see [`Fabric::wait_converged`].
    pub fn start(tag: &str, options: FabricOptions) -> Fabric {
        let dir = scratch_dir(tag);
        let r1 = Netns::new(&format!("{tag}-r1"));
        let r2 = Netns::new(&format!("{tag}-r2"));
        let pod1 = Netns::new(&format!("{tag}-p1"));
        let pod2 = Netns::new(&format!("{tag}-p2"));
        veth(&r1, "eth1", &r2, "eth1", 1500);
        for (n, (router, pod)) in [(&r1, &pod1), (&r2, &pod2)].into_iter().enumerate() {
            let n = n + 1;
            veth(router, &format!("pod{n}"), pod, "eth0", 1500);
            pod.ip(&["addr", "add", &format!("10.60.0.{n}/16"), "dev", "eth0"]);
            pod.ip(&["route", "add", "default", "via", "10.60.0.254"]);
        }
        let (edge_ns, edge) = if options.edge {
            let edge_ns = Netns::new(&format!("{tag}-e"));
            veth(&r1, "eth2", &edge_ns, "eth2", 1500);
            edge_ns.ip(&["addr", "add", "172.16.0.2/30", "dev", "eth2"]);
            let frr = Frr::start(&edge_ns, &["bgpd"], EDGE_CONFIG);
            (Some(edge_ns), Some(frr))
        } else {
            (None, None)
        };

        let d1 = Daemon::start(
            &r1,
            &dir,
            "r1",
            &router_config(1, &options),
            options.metrics,
        );
        let d2 = Daemon::start(
            &r2,
            &dir,
            "r2",
            &router_config(2, &options),
            options.metrics,
        );
        let fabric = Fabric {
            r1: d1,
            r2: d2,
            edge,
            edge_ns,
            pods: [pod1, pod2],
            ns: [r1, r2],
            dir,
        };
        fabric.wait_converged();
        fabric
    }

    /// Waits until OSPF is Full and BGP Established both ways (and with the edge), the pods
    /// reach each other through VXLAN, and each router has the other's pod MAC as a remote MAC.
    pub fn wait_converged(&self) {
        for daemon in [&self.r1, &self.r2] {
            wait_until_ok(
                CONVERGENCE,
                &format!("{}: OSPF neighbor Full", daemon.name),
                || {
                    let neighbors = daemon.json(&["show", "ip", "ospf", "neighbor"]);
                    if neighbors[0]["state"] == "Full" {
                        Ok(())
                    } else {
                        Err(neighbors)
                    }
                },
            );
        }
        self.r1.wait_established("10.0.0.2", CONVERGENCE);
        self.r2.wait_established("10.0.0.1", CONVERGENCE);
        if self.edge.is_some() {
            self.r1.wait_established("172.16.0.2", CONVERGENCE);
        }
        for daemon in [&self.r1, &self.r2] {
            wait_until_ok(
                CONVERGENCE,
                &format!("{}: both BFD sessions Up", daemon.name),
                || {
                    let sessions = daemon.json(&["show", "bfd", "peers"]);
                    let up = sessions
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|session| session["state"] == "up")
                        .count();
                    if up == 2 { Ok(()) } else { Err(sessions) }
                },
            );
        }
        // The bridges learn the pods' MACs from their first packets, and EVPN advertises them.
        // The ping succeeds once each router has installed the other pod's MAC.
        wait_until(CONVERGENCE, "pod1 to reach pod2 across VXLAN", || {
            self.pods[0].ping("10.60.0.2", 1).then_some(())
        });
        for (daemon, pod) in [(&self.r1, &self.pods[1]), (&self.r2, &self.pods[0])] {
            let mac = pod_mac(pod);
            wait_until_ok(
                CONVERGENCE,
                &format!("{}: remote MAC {mac}", daemon.name),
                || {
                    let macs = daemon.json(&["show", "evpn", "mac"]);
                    let found = macs
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|entry| entry["mac"] == mac.as_str() && entry["kind"] == "remote");
                    if found { Ok(()) } else { Err(macs) }
                },
            );
        }
    }
}

/// Returns the MAC address of a pod's `eth0`.
pub fn pod_mac(pod: &Netns) -> String {
    let link = pod.ip_json(&["link", "show", "eth0"]);
    link[0]["address"]
        .as_str()
        .expect("eth0 has an address")
        .to_string()
}

/// A BGP session's counters and uptime, to tell whether it flapped between two reads.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionMark {
    pub state: String,
    pub uptime_secs: u64,
    pub established_transitions: u64,
    pub drops: u64,
    pub notifications_in: u64,
    pub notifications_out: u64,
    pub opens_in: u64,
}

impl SessionMark {
    pub fn of(neighbor: &Value) -> SessionMark {
        let counter = |name: &str| neighbor["counters"][name].as_u64().unwrap_or(u64::MAX);
        SessionMark {
            state: neighbor["state"].as_str().unwrap_or("?").to_string(),
            uptime_secs: neighbor["uptime_secs"].as_u64().unwrap_or(0),
            established_transitions: counter("established_transitions"),
            drops: counter("drops"),
            notifications_in: counter("notifications_in"),
            notifications_out: counter("notifications_out"),
            opens_in: counter("opens_in"),
        }
    }

    /// Asserts that `later` is the same session as `self`, still Established: no transition,
    /// no drop, no NOTIFICATION, no new OPEN, and an uptime that did not go back.
    pub fn assert_unchanged(&self, later: &SessionMark, what: &str) {
        assert_eq!(later.state, "Established", "{what}: state {later:?}");
        assert_eq!(
            later.established_transitions, self.established_transitions,
            "{what}: the session was established again"
        );
        assert_eq!(later.drops, self.drops, "{what}: the session dropped");
        assert_eq!(
            later.notifications_in, self.notifications_in,
            "{what}: a NOTIFICATION was received"
        );
        assert_eq!(
            later.notifications_out, self.notifications_out,
            "{what}: a NOTIFICATION was sent"
        );
        assert_eq!(later.opens_in, self.opens_in, "{what}: a new OPEN arrived");
        assert!(
            later.uptime_secs >= self.uptime_secs,
            "{what}: uptime went from {} to {} s",
            self.uptime_secs,
            later.uptime_secs
        );
    }
}

/// The OSPF adjacencies and BFD sessions of a router, to tell whether any flapped.
#[derive(Debug, Clone, PartialEq)]
pub struct UnderlayMark {
    /// (neighbor id, state) of each OSPF neighbor.
    pub ospf: Vec<(String, String)>,
    /// (peer, state, up count, down count) of each BFD session.
    pub bfd: Vec<(String, String, u64, u64)>,
}

impl UnderlayMark {
    pub fn of(daemon: &Daemon) -> UnderlayMark {
        let ospf = daemon
            .json(&["show", "ip", "ospf", "neighbor"])
            .as_array()
            .into_iter()
            .flatten()
            .map(|neighbor| {
                (
                    neighbor["neighbor_id"].as_str().unwrap_or("?").to_string(),
                    neighbor["state"].as_str().unwrap_or("?").to_string(),
                )
            })
            .collect();
        let bfd = daemon
            .json(&["show", "bfd", "peers"])
            .as_array()
            .into_iter()
            .flatten()
            .map(|session| {
                (
                    session["peer"].as_str().unwrap_or("?").to_string(),
                    session["state"].as_str().unwrap_or("?").to_string(),
                    session["counters"]["up_count"].as_u64().unwrap_or(u64::MAX),
                    session["counters"]["down_count"]
                        .as_u64()
                        .unwrap_or(u64::MAX),
                )
            })
            .collect();
        UnderlayMark { ospf, bfd }
    }
}
