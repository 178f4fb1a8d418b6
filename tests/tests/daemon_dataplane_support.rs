//! Shared helpers of the dataplane tests: the underlay namespace of the seed's router hna1 with
//! its uplinks and pods, the dataplane and Linux plane driving it, and readers of the kernel's
//! state through `ip -j` and `bridge -j`. Included by the `daemon_dataplane_*` test files with
//! `#[path]`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use hna_rib::MacAddr;
use hna_rib::linux::{LinuxPlane, Namespace};
use hna_routed::config::{self, Config};
use hna_routed::dataplane::{Dataplane, DataplaneOptions, DataplaneReport};
use hna_routed::settings;
use hna_testkit::{Netns, run, run_ok, unique_name, veth, wait_until};
use serde_json::Value;

/// The pods' ports of hna1 in the seed configuration.
pub const POD_PORTS: [&str; 3] = ["vho-1000000000", "vho-1000000001", "veth-1000000002"];

/// The physical interfaces of hna1 in the seed configuration.
pub const UPLINKS: [&str; 2] = ["pci-b0s4", "pci-b0s5"];

/// Returns the seed configuration of hna1.
pub fn seed_config() -> Config {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seed/hna1.nc-cli");
    config::load(&path)
        .unwrap_or_else(|errors| panic!("the seed configuration does not load: {errors}"))
}

/// Deletes the tenant namespaces the dataplane may have created, even when a test fails.
pub struct TenantGuard(pub Vec<String>);

impl Drop for TenantGuard {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = run("ip", &["netns", "del", name]);
        }
    }
}

/// Router hna1: its underlay namespace with veth uplinks to a leaf namespace and veth ports to
/// pod namespaces, created as the lab or the CNI does, and the dataplane applied from there.
/// Fields drop in order: the plane's sockets close before the namespaces go.
pub struct Hna1 {
    pub dataplane: Dataplane,
    pub plane: LinuxPlane,
    pub options: DataplaneOptions,
    pub tenants: TenantGuard,
    pub pods: BTreeMap<String, Netns>,
    pub leaf: Netns,
    pub underlay: Netns,
}

impl Hna1 {
    /// Builds the underlay with the uplinks `uplinks` and the pods' ports `ports` (all of the
    /// seed's when a test does not say otherwise).
    pub fn new(tag: &str, uplinks: &[&str], ports: &[&str]) -> Hna1 {
        let underlay = Netns::new(tag);
        let leaf = Netns::new(&format!("{tag}-leaf"));
        for (index, uplink) in uplinks.iter().enumerate() {
            veth(&underlay, uplink, &leaf, &format!("eth{index}"), 1500);
        }
        let mut hna = Hna1 {
            dataplane: Dataplane::new(),
            plane: underlay
                .spawn(|| LinuxPlane::new().expect("create Linux plane"))
                .join()
                .expect("plane thread"),
            options: options(&underlay, tag),
            tenants: TenantGuard(Vec::new()),
            pods: BTreeMap::new(),
            leaf,
            underlay,
        };
        hna.tenants.0 = ["vrf100", "vrf101"]
            .iter()
            .map(|l3vrf| hna.tenant(l3vrf))
            .collect();
        for port in ports {
            hna.add_pod(tag, port);
        }
        hna
    }

    /// Creates the pod behind port `port`: a namespace whose `eth0` is the other end of the port.
    pub fn add_pod(&mut self, tag: &str, port: &str) {
        let pod = Netns::new(&format!("{tag}-pod{}", &port[port.len() - 2..]));
        veth(&self.underlay, port, &pod, "eth0", 1500);
        self.pods.insert(port.to_string(), pod);
    }

    /// Returns the namespace name of tenant `l3vrf`.
    pub fn tenant(&self, l3vrf: &str) -> String {
        settings::vrf_namespace(&self.options.namespace_prefix, l3vrf)
    }

    /// Replaces the dataplane and the plane with new ones, as a restarted daemon has, leaving
    /// the kernel as it is.
    pub fn restart(&mut self) {
        self.dataplane = Dataplane::new();
        self.plane = self
            .underlay
            .spawn(|| LinuxPlane::new().expect("create Linux plane"))
            .join()
            .expect("plane thread");
    }

    pub fn apply(&mut self, config: &Config) -> DataplaneReport {
        self.dataplane
            .apply(config, &self.options, &mut self.plane)
            .expect("apply the configuration")
    }
}

/// Options with a namespace prefix unique to this test and hna1's router MAC.
pub fn options(underlay: &Netns, tag: &str) -> DataplaneOptions {
    let router_mac = settings::router_mac("10.0.0.1".parse().unwrap());
    DataplaneOptions {
        underlay: Namespace::named(underlay.name()),
        namespace_prefix: format!("{}-", unique_name(tag)),
        router_mac: MacAddr(router_mac.0),
    }
}

/// Returns every link of namespace `namespace` by name, as `ip -j -d link show` lists them.
pub fn links(namespace: &str) -> BTreeMap<String, Value> {
    let json: Value = serde_json::from_str(&run_ok(
        "ip",
        &["-j", "-d", "-n", namespace, "link", "show"],
    ))
    .unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|link| (link["ifname"].as_str().unwrap().to_string(), link.clone()))
        .collect()
}

/// Returns the ifindex of every link of `namespace`, by name.
pub fn ifindexes(namespace: &str) -> BTreeMap<String, u64> {
    links(namespace)
        .into_iter()
        .map(|(name, link)| (name, link["ifindex"].as_u64().unwrap()))
        .collect()
}

/// Returns the IPv4 addresses of `device` in `namespace`, as `ADDRESS/LENGTH`.
pub fn addresses(namespace: &str, device: &str) -> Vec<String> {
    let json: Value = serde_json::from_str(&run_ok(
        "ip",
        &["-j", "-4", "-n", namespace, "addr", "show", "dev", device],
    ))
    .unwrap();
    json[0]["addr_info"]
        .as_array()
        .map(|addresses| {
            addresses
                .iter()
                .map(|address| {
                    format!(
                        "{}/{}",
                        address["local"].as_str().unwrap(),
                        address["prefixlen"]
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Returns the bridge of every bridge port of `namespace`, as `bridge -j link show` lists them.
pub fn bridge_ports(namespace: &str) -> BTreeMap<String, String> {
    let json: Value =
        serde_json::from_str(&run_ok("bridge", &["-j", "-n", namespace, "link", "show"])).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|port| {
            (
                port["ifname"].as_str().unwrap().to_string(),
                port["master"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Returns the value of sysctl `key` in `namespace`.
pub fn sysctl(namespace: &str, key: &str) -> String {
    run_ok("ip", &["netns", "exec", namespace, "sysctl", "-n", key])
        .trim()
        .to_string()
}

/// Returns the namespaces `ip netns list` shows.
pub fn namespaces() -> Vec<String> {
    run_ok("ip", &["netns", "list"])
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// `ip monitor link address` in one namespace, bracketed by a marker link: the marker's first
/// event shows that the monitor listens, and its removal that every earlier event was read.
pub struct LinkMonitor {
    namespace: String,
    child: Child,
    lines: Receiver<String>,
}

const MARKER: &str = "dpmark0";
const MARKER_PEER: &str = "dpmark1";

impl LinkMonitor {
    /// Starts the monitor and returns once it reports the marker. It first waits until no IPv6
    /// address of the namespace is tentative, because duplicate address detection ends with an
    /// address event of its own, up to seconds after a link comes up.
    pub fn start(namespace: &str) -> LinkMonitor {
        wait_until(
            Duration::from_secs(10),
            "IPv6 duplicate address detection to end",
            || {
                let tentative = run_ok("ip", &["-6", "-n", namespace, "addr", "show", "tentative"]);
                tentative.trim().is_empty().then_some(())
            },
        );
        let mut child = Command::new("ip")
            .args(["-n", namespace, "monitor", "link", "address"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start ip monitor");
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let monitor = LinkMonitor {
            namespace: namespace.to_string(),
            child,
            lines,
        };
        run_ok(
            "ip",
            &[
                "-n",
                namespace,
                "link",
                "add",
                MARKER,
                "type",
                "veth",
                "peer",
                "name",
                MARKER_PEER,
            ],
        );
        // The monitor may subscribe after the marker appeared: change the marker's MTU (which
        // the kernel reports even for a link that is down) until the monitor reports it.
        for attempt in 0..50 {
            run_ok(
                "ip",
                &[
                    "-n",
                    namespace,
                    "link",
                    "set",
                    MARKER,
                    "mtu",
                    &(1400 + attempt).to_string(),
                ],
            );
            if monitor.saw_within(Duration::from_millis(200), |line| line.contains(MARKER)) {
                return monitor;
            }
        }
        panic!("ip monitor in {namespace} never reported the marker link");
    }

    /// Returns whether a line matching `done` arrives within `timeout`; other lines are dropped,
    /// since they come before the monitor is known to listen.
    fn saw_within(&self, timeout: Duration, done: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if done(&line) => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    }

    /// Removes the marker and returns the event lines seen since the monitor started, without
    /// the marker's own and without continuation lines.
    pub fn finish(mut self) -> Vec<String> {
        run_ok("ip", &["-n", &self.namespace, "link", "del", MARKER]);
        let seen = self.read_until(|line| line.starts_with("Deleted") && line.contains(MARKER));
        let _ = self.child.kill();
        let _ = self.child.wait();
        seen.into_iter()
            .filter(|line| !line.starts_with(char::is_whitespace) && !line.contains("dpmark"))
            .collect()
    }

    fn read_until(&self, done: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if done(&line) => return seen,
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "ip monitor in {} timed out; lines so far: {seen:?}",
                    self.namespace
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("ip monitor in {} stopped; lines: {seen:?}", self.namespace)
                }
            }
        }
    }
}

impl Drop for LinkMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
