//! The cluster description: which routers run which configuration, how their interfaces are
//! cabled, which pods hang on which ports, and the reachability the pods must see.
//!
//! The file is TOML, next to the router configurations it names:
//!
//! ```toml
//! name = "seed"
//! extra = ["/ vrf main routing bfd desired-min-tx-interval 100"]   # appended to every router
//!
//! [[router]]
//! name = "leaf1"
//! role = "leaf"                  # leaf or hna: `--leaves` and `--hnas` pick the backend per role
//! config = "leaf1.nc-cli"        # relative to this file
//! extra = ["/ vrf main interface physical eth3 ipv4 address 10.0.100.1/24"]
//!
//! [[link]]
//! ends = ["leaf1:eth1", "hna1:pci-b0s4"]
//!
//! [[pod]]
//! name = "green1"
//! router = "hna1"
//! port = "vho-1000000000"        # the router-side port, a bridge member in the configuration
//! address = "10.60.0.1/16"
//! gateway = "10.60.0.254"
//!
//! [reachability.reach]           # every pod is a key: the pods it reaches; it reaches no other
//! green1 = ["green2", "green3"]
//!
//! [[reachability.address]]       # a ping to an address: one pod must reply, others never receive it
//! from = "green1"
//! address = "10.61.0.3"
//! answered-by = "green3"
//! never = ["red3"]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::error::LabError;
use crate::config::{self, Config, InterfaceKind};

/// Maximum length of a router or pod name: namespace names are prefixed and suffixed (`PREFIX-hna1-vrf100`)
/// and FRR puts the instance name into socket paths, which the kernel limits to 108 bytes.
const MAX_NODE_NAME: usize = 24;

/// The cluster file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ClusterFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    extra: Vec<String>,
    #[serde(rename = "router")]
    routers: Vec<RouterEntry>,
    #[serde(rename = "link", default)]
    links: Vec<LinkEntry>,
    #[serde(rename = "pod", default)]
    pods: Vec<PodEntry>,
    reachability: ReachabilityEntry,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RouterEntry {
    name: String,
    role: Role,
    config: PathBuf,
    #[serde(default)]
    extra: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkEntry {
    ends: [String; 2],
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PodEntry {
    name: String,
    router: String,
    port: String,
    address: Ipv4Net,
    gateway: Ipv4Addr,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReachabilityEntry {
    reach: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    address: Vec<AddressEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AddressEntry {
    from: String,
    address: Ipv4Addr,
    answered_by: String,
    #[serde(default)]
    never: Vec<String>,
}

/// The function of a router in the fabric. The lab picks a backend per role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Leaf,
    Hna,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Leaf => "leaf",
            Role::Hna => "hna",
        })
    }
}

/// A validated cluster: every router configuration loaded, every name resolved.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub description: Option<String>,
    /// The cluster file, as given.
    pub path: PathBuf,
    pub routers: Vec<Router>,
    pub links: Vec<Link>,
    pub pods: Vec<Pod>,
    pub expectations: Vec<Expectation>,
}

/// One router: its configuration as the lab runs it (the file plus the cluster's extra lines).
#[derive(Debug, Clone)]
pub struct Router {
    pub name: String,
    pub role: Role,
    /// The configuration file the cluster names.
    pub config_path: PathBuf,
    /// Lines of that file; the lab's extra lines follow them in `text`.
    pub original_lines: usize,
    /// The configuration text the daemons read: the file and then the extra lines.
    pub text: String,
    pub config: Config,
}

/// An interface of a router.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    pub router: String,
    pub interface: String,
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some((router, interface)) if !router.is_empty() && !interface.is_empty() => {
                Ok(Endpoint {
                    router: router.to_string(),
                    interface: interface.to_string(),
                })
            }
            _ => Err(format!(
                "invalid link end `{text}`; expected ROUTER:INTERFACE such as hna1:pci-b0s4"
            )),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.router, self.interface)
    }
}

/// A point-to-point cable (a veth pair in the lab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub ends: [Endpoint; 2],
}

/// A pod: a namespace with one interface, `eth0`, cabled to a router port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    pub name: String,
    pub router: String,
    pub port: String,
    pub address: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// The bridge the port is a member of, in the router's configuration.
    pub bridge: String,
    /// The L3VRF of that bridge; `None` for a bridge of the default VRF.
    pub l3vrf: Option<String>,
    /// The tenant across routers: the L3VRF's L3VNI, or its name when it has none.
    pub tenant: Option<String>,
}

/// One row of the expected reachability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub from: String,
    pub address: Ipv4Addr,
    pub outcome: Outcome,
}

/// The outcome a ping from a pod to an address must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The pod owning the address replies, and no other pod receives the request.
    Reaches(String),
    /// The pod does not answer: the request never reaches it, or no reply comes back. A route
    /// leaked one way only forwards the request (in the seed, green 10.61 pods to red 10.62),
    /// which the configuration allows; another pod with the same address may reply.
    NeverReaches(String),
    /// `pod` replies, and none of `never` receives the request.
    AnsweredBy { pod: String, never: Vec<String> },
}

impl Expectation {
    /// The pod that must answer, if any.
    pub fn responder(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Reaches(pod) | Outcome::AnsweredBy { pod, .. } => Some(pod),
            Outcome::NeverReaches(_) => None,
        }
    }
}

impl Cluster {
    /// Reads and validates a cluster file and every router configuration it names.
    pub fn load(path: &Path) -> Result<Cluster, LabError> {
        let text = std::fs::read_to_string(path).map_err(|source| LabError::ClusterRead {
            path: path.to_path_buf(),
            source,
        })?;
        let file: ClusterFile = toml::from_str(&text).map_err(|error| LabError::ClusterSyntax {
            path: path.to_path_buf(),
            message: error.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Builder {
            path,
            problems: Vec::new(),
        }
        .build(file, dir)
    }

    pub fn router(&self, name: &str) -> Option<&Router> {
        self.routers.iter().find(|router| router.name == name)
    }

    pub fn pod(&self, name: &str) -> Option<&Pod> {
        self.pods.iter().find(|pod| pod.name == name)
    }

    /// Returns the links with one end on `router`, as (local end, remote end).
    pub fn links_of<'a>(
        &'a self,
        router: &'a str,
    ) -> impl Iterator<Item = (&'a Endpoint, &'a Endpoint)> + 'a {
        self.links.iter().filter_map(move |link| {
            let [a, b] = &link.ends;
            if a.router == router {
                Some((a, b))
            } else if b.router == router {
                Some((b, a))
            } else {
                None
            }
        })
    }

    /// Returns the router that owns `address` on one of its interfaces.
    pub fn router_with_address(&self, address: Ipv4Addr) -> Option<&Router> {
        self.routers.iter().find(|router| {
            router.config.interfaces.values().any(|interface| {
                interface
                    .ipv4_addresses
                    .iter()
                    .any(|net| net.addr() == address)
            })
        })
    }

    /// Returns whether the row needs route leaking between two tenants to pass: a pod reaching
    /// a pod of another tenant.
    pub fn needs_leaking(&self, expectation: &Expectation) -> bool {
        let Some(responder) = expectation.responder() else {
            return false;
        };
        match (self.pod(&expectation.from), self.pod(responder)) {
            (Some(from), Some(to)) => from.tenant != to.tenant,
            _ => false,
        }
    }
}

struct Builder<'p> {
    path: &'p Path,
    problems: Vec<String>,
}

impl Builder<'_> {
    fn build(mut self, file: ClusterFile, dir: &Path) -> Result<Cluster, LabError> {
        if !valid_name(&file.name) {
            self.problem(format!("invalid cluster name `{}`; {NAME_FORM}", file.name));
        }
        let routers = self.routers(&file, dir)?;
        let links = self.links(&file, &routers);
        let pods = self.pods(&file, &routers, &links);
        let expectations = self.expectations(&file, &pods);
        if !self.problems.is_empty() {
            return Err(LabError::Cluster {
                path: self.path.to_path_buf(),
                message: self.problems.join("; "),
            });
        }
        Ok(Cluster {
            name: file.name,
            description: file.description,
            path: self.path.to_path_buf(),
            routers,
            links,
            pods,
            expectations,
        })
    }

    fn problem(&mut self, message: String) {
        self.problems.push(message);
    }

    fn routers(&mut self, file: &ClusterFile, dir: &Path) -> Result<Vec<Router>, LabError> {
        if file.routers.is_empty() {
            self.problem("no [[router]] entries".to_string());
        }
        let mut routers: Vec<Router> = Vec::new();
        for entry in &file.routers {
            if !valid_name(&entry.name) {
                self.problem(format!("invalid router name `{}`; {NAME_FORM}", entry.name));
                continue;
            }
            if routers.iter().any(|router| router.name == entry.name) {
                self.problem(format!("router `{}` is defined twice", entry.name));
                continue;
            }
            let config_path = dir.join(&entry.config);
            let original =
                std::fs::read_to_string(&config_path).map_err(|source| LabError::ClusterRead {
                    path: config_path.clone(),
                    source,
                })?;
            let original_lines = original.lines().count();
            let text = with_extra_lines(&original, file.extra.iter().chain(&entry.extra));
            let config =
                config::parse(&text, &config_path).map_err(|errors| LabError::RouterConfig {
                    router: entry.name.clone(),
                    original_lines,
                    errors,
                })?;
            routers.push(Router {
                name: entry.name.clone(),
                role: entry.role,
                config_path,
                original_lines,
                text,
                config,
            });
        }
        Ok(routers)
    }

    fn links(&mut self, file: &ClusterFile, routers: &[Router]) -> Vec<Link> {
        let mut used = BTreeSet::new();
        let mut links = Vec::new();
        for entry in &file.links {
            let mut ends = Vec::new();
            for text in &entry.ends {
                match text.parse::<Endpoint>() {
                    Ok(end) => ends.push(end),
                    Err(message) => self.problem(message),
                }
            }
            let [a, b] = match <[Endpoint; 2]>::try_from(ends) {
                Ok(ends) => ends,
                Err(_) => continue,
            };
            if a.router == b.router {
                self.problem(format!("link {a} - {b} connects a router to itself"));
            }
            for end in [&a, &b] {
                self.check_link_end(end, routers);
                if !used.insert(end.clone()) {
                    self.problem(format!("interface {end} is cabled twice"));
                }
            }
            links.push(Link { ends: [a, b] });
        }
        links
    }

    fn check_link_end(&mut self, end: &Endpoint, routers: &[Router]) {
        let Some(router) = routers.iter().find(|router| router.name == end.router) else {
            self.problem(format!("link end {end} names an unknown router"));
            return;
        };
        match router.config.interfaces.get(&end.interface) {
            Some(interface) if interface.kind == InterfaceKind::Physical => {}
            Some(interface) => self.problem(format!(
                "link end {end} is a {} interface; links join physical interfaces",
                interface.kind.keyword()
            )),
            None => self.problem(format!(
                "link end {end}: the configuration {} defines no interface `{}`",
                router.config_path.display(),
                end.interface
            )),
        }
    }

    fn pods(&mut self, file: &ClusterFile, routers: &[Router], links: &[Link]) -> Vec<Pod> {
        let mut pods: Vec<Pod> = Vec::new();
        for entry in &file.pods {
            if !valid_name(&entry.name) {
                self.problem(format!("invalid pod name `{}`; {NAME_FORM}", entry.name));
                continue;
            }
            if pods.iter().any(|pod| pod.name == entry.name)
                || routers.iter().any(|router| router.name == entry.name)
            {
                self.problem(format!(
                    "pod name `{}` is already used by another pod or router",
                    entry.name
                ));
                continue;
            }
            if !entry.address.contains(&entry.gateway) || entry.address.addr() == entry.gateway {
                self.problem(format!(
                    "pod {}: gateway {} is not another address of its subnet {}",
                    entry.name,
                    entry.gateway,
                    entry.address.trunc()
                ));
            }
            let Some(router) = routers.iter().find(|router| router.name == entry.router) else {
                self.problem(format!(
                    "pod {} is on an unknown router `{}`",
                    entry.name, entry.router
                ));
                continue;
            };
            let port_taken = pods
                .iter()
                .any(|pod| pod.router == entry.router && pod.port == entry.port)
                || links
                    .iter()
                    .flat_map(|link| &link.ends)
                    .any(|end| end.router == entry.router && end.interface == entry.port);
            if port_taken {
                self.problem(format!(
                    "port {}:{} of pod {} is already cabled",
                    entry.router, entry.port, entry.name
                ));
            }
            match pod_bridge(&router.config, &entry.port) {
                Ok((bridge, l3vrf)) => {
                    let tenant = l3vrf.as_ref().map(|name| {
                        router
                            .config
                            .l3vrfs
                            .get(name)
                            .and_then(|vrf| vrf.l3vni)
                            .map_or_else(|| name.clone(), |vni| format!("l3vni {vni}"))
                    });
                    pods.push(Pod {
                        name: entry.name.clone(),
                        router: entry.router.clone(),
                        port: entry.port.clone(),
                        address: entry.address,
                        gateway: entry.gateway,
                        bridge,
                        l3vrf,
                        tenant,
                    });
                }
                Err(message) => {
                    self.problem(format!("pod {} on {}: {message}", entry.name, entry.router))
                }
            }
        }
        pods
    }

    fn expectations(&mut self, file: &ClusterFile, pods: &[Pod]) -> Vec<Expectation> {
        let known = |name: &str| pods.iter().any(|pod| pod.name == name);
        for (from, targets) in &file.reachability.reach {
            if !known(from) {
                self.problem(format!("reachability row `{from}` names an unknown pod"));
            }
            for target in targets {
                if !known(target) {
                    self.problem(format!(
                        "reachability row `{from}` names an unknown pod `{target}`"
                    ));
                } else if target == from {
                    self.problem(format!("reachability row `{from}` lists the pod itself"));
                }
            }
        }
        let mut expectations = Vec::new();
        for from in pods {
            let Some(targets) = file.reachability.reach.get(&from.name) else {
                self.problem(format!(
                    "pod {} has no row in [reachability.reach]; give every pod a row (an empty list if it reaches none)",
                    from.name
                ));
                continue;
            };
            for to in pods.iter().filter(|to| to.name != from.name) {
                let outcome = if targets.contains(&to.name) {
                    Outcome::Reaches(to.name.clone())
                } else {
                    Outcome::NeverReaches(to.name.clone())
                };
                expectations.push(Expectation {
                    from: from.name.clone(),
                    address: to.address.addr(),
                    outcome,
                });
            }
        }
        for entry in &file.reachability.address {
            for name in std::iter::once(&entry.from)
                .chain([&entry.answered_by])
                .chain(&entry.never)
            {
                if !known(name) {
                    self.problem(format!(
                        "reachability address row names an unknown pod `{name}`"
                    ));
                }
            }
            expectations.push(Expectation {
                from: entry.from.clone(),
                address: entry.address,
                outcome: Outcome::AnsweredBy {
                    pod: entry.answered_by.clone(),
                    never: entry.never.clone(),
                },
            });
        }
        expectations
    }
}

const NAME_FORM: &str = "expected 1 to 24 characters among letters, digits, `-` and `_`, starting with a letter or digit";

/// Returns whether `name` can be part of a namespace name and of an FRR instance name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NODE_NAME
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Appends the lab's lines after the configuration file's own, under a comment that marks them.
fn with_extra_lines<'a>(original: &str, extra: impl Iterator<Item = &'a String>) -> String {
    let mut text = original.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let mut extra = extra.peekable();
    if extra.peek().is_some() {
        text.push_str("# Lines added by hna-lab\n");
        for line in extra {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

/// Finds the bridge that has `port` as a member, and that bridge's L3VRF.
fn pod_bridge(config: &Config, port: &str) -> Result<(String, Option<String>), String> {
    match config.interfaces.get(port) {
        Some(interface)
            if matches!(
                interface.kind,
                InterfaceKind::Fpvhost | InterfaceKind::Infrastructure | InterfaceKind::Physical
            ) => {}
        Some(interface) => {
            return Err(format!(
                "port {port} is a {} interface; pods attach to fpvhost, infrastructure or physical ports",
                interface.kind.keyword()
            ));
        }
        None => return Err(format!("the configuration defines no port `{port}`")),
    }
    config
        .interfaces
        .iter()
        .find(|(_, interface)| {
            interface
                .bridge
                .as_ref()
                .is_some_and(|bridge| bridge.members.iter().any(|member| member.name == port))
        })
        .map(|(name, interface)| (name.clone(), interface.l3vrf.clone()))
        .ok_or_else(|| format!("port {port} is not a member of any bridge"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seed/cluster.toml")
    }

    fn write_cluster(dir: &Path, cluster: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        for router in ["leaf1", "leaf2", "hna1", "hna2"] {
            std::fs::copy(
                seed_path().with_file_name(format!("{router}.nc-cli")),
                dir.join(format!("{router}.nc-cli")),
            )
            .unwrap();
        }
        let path = dir.join("cluster.toml");
        std::fs::write(&path, cluster).unwrap();
        path
    }

    fn scratch(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("hna-lab-cluster-{tag}-{}", std::process::id()))
    }

    #[test]
    fn seed_cluster_loads_with_every_pod_pair() {
        let cluster = Cluster::load(&seed_path()).expect("seed cluster");
        assert_eq!(cluster.routers.len(), 4);
        assert_eq!(cluster.links.len(), 5);
        assert_eq!(cluster.pods.len(), 6);
        let pairs = cluster
            .expectations
            .iter()
            .filter(|row| !matches!(row.outcome, Outcome::AnsweredBy { .. }))
            .count();
        assert_eq!(pairs, 30, "every ordered pair of six pods");
        let green1 = cluster.pod("green1").unwrap();
        assert_eq!(green1.bridge, "br10000");
        assert_eq!(green1.l3vrf.as_deref(), Some("vrf100"));
        let red3 = cluster.pod("red3").unwrap();
        assert_eq!(red3.bridge, "br10101");
        assert_eq!(red3.tenant.as_deref(), Some("l3vni 101"));
    }

    #[test]
    fn seed_cluster_isolation_row_names_green3_not_red3() {
        let cluster = Cluster::load(&seed_path()).unwrap();
        let row = cluster
            .expectations
            .iter()
            .find(|row| {
                row.from == "green1"
                    && row.address == Ipv4Addr::new(10, 61, 0, 3)
                    && matches!(row.outcome, Outcome::AnsweredBy { .. })
            })
            .expect("isolation row");
        assert_eq!(
            row.outcome,
            Outcome::AnsweredBy {
                pod: "green3".into(),
                never: vec!["red3".into()]
            }
        );
        let to_red3 = cluster.expectations.iter().find(|row| {
            row.from == "green1" && row.outcome == Outcome::NeverReaches("red3".into())
        });
        assert!(to_red3.is_some(), "green1 must never reach red3");
    }

    #[test]
    fn seed_cluster_leak_rows_are_cross_tenant() {
        let cluster = Cluster::load(&seed_path()).unwrap();
        let leaking: Vec<String> = cluster
            .expectations
            .iter()
            .filter(|row| cluster.needs_leaking(row))
            .map(|row| format!("{}>{}", row.from, row.responder().unwrap()))
            .collect();
        for pair in ["green1>red1", "green2>red2", "red1>green1", "red2>green2"] {
            assert!(
                leaking.contains(&pair.to_string()),
                "{pair} needs leaking: {leaking:?}"
            );
        }
        assert!(!leaking.contains(&"green1>green3".to_string()));
        assert_eq!(leaking.len(), 8);
    }

    #[test]
    fn seed_cluster_extra_lines_follow_the_file() {
        let cluster = Cluster::load(&seed_path()).unwrap();
        let leaf1 = cluster.router("leaf1").unwrap();
        assert!(
            leaf1.config.interfaces.contains_key("eth3"),
            "leaf-leaf link interface from extra lines"
        );
        let marker = leaf1
            .text
            .lines()
            .position(|line| line == "# Lines added by hna-lab")
            .unwrap();
        assert_eq!(marker, leaf1.original_lines);
    }

    #[test]
    fn cluster_with_unknown_port_is_rejected() {
        let dir = scratch("port");
        let path = write_cluster(
            &dir,
            r#"
name = "bad"
[[router]]
name = "hna1"
role = "hna"
config = "hna1.nc-cli"
[[pod]]
name = "p1"
router = "hna1"
port = "vho-9"
address = "10.60.0.1/16"
gateway = "10.60.0.254"
[reachability.reach]
p1 = []
"#,
        );
        let error = Cluster::load(&path).unwrap_err().to_string();
        assert!(error.contains("defines no port `vho-9`"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn cluster_without_reach_row_is_rejected() {
        let dir = scratch("row");
        let path = write_cluster(
            &dir,
            r#"
name = "bad"
[[router]]
name = "hna1"
role = "hna"
config = "hna1.nc-cli"
[[pod]]
name = "p1"
router = "hna1"
port = "vho-1000000000"
address = "10.60.0.1/16"
gateway = "10.60.0.254"
[[pod]]
name = "p2"
router = "hna1"
port = "vho-1000000001"
address = "10.60.0.2/16"
gateway = "10.60.0.254"
[reachability.reach]
p1 = ["p2"]
"#,
        );
        let error = Cluster::load(&path).unwrap_err().to_string();
        assert!(error.contains("pod p2 has no row"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn cluster_link_to_bridge_is_rejected() {
        let dir = scratch("link");
        let path = write_cluster(
            &dir,
            r#"
name = "bad"
[[router]]
name = "hna1"
role = "hna"
config = "hna1.nc-cli"
[[router]]
name = "leaf1"
role = "leaf"
config = "leaf1.nc-cli"
[[link]]
ends = ["leaf1:eth1", "hna1:br10000"]
[reachability.reach]
"#,
        );
        let error = Cluster::load(&path).unwrap_err().to_string();
        assert!(error.contains("is a bridge interface"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn cluster_extra_line_error_names_router() {
        let dir = scratch("extra");
        let path = write_cluster(
            &dir,
            r#"
name = "bad"
extra = ["/ vrf main routing bgp neighbor 10.0.0.9 remote-as x"]
[[router]]
name = "hna1"
role = "hna"
config = "hna1.nc-cli"
[reachability.reach]
"#,
        );
        let error = Cluster::load(&path).unwrap_err().to_string();
        assert!(error.contains("router hna1"), "{error}");
        assert!(error.contains("AS number"), "{error}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn endpoint_parses_router_and_interface() {
        assert_eq!(
            "hna1:pci-b0s4".parse::<Endpoint>().unwrap(),
            Endpoint {
                router: "hna1".into(),
                interface: "pci-b0s4".into()
            }
        );
        assert!("hna1".parse::<Endpoint>().is_err());
        assert!(":eth1".parse::<Endpoint>().is_err());
    }
}
