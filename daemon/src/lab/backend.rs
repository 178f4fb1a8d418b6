//! Router backends: what runs the routing on one lab router (FRR 8.4 or `hna-routed`), behind
//! one trait, and the protocol state they report, read from FRR-shaped JSON.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cluster::Router;
use super::error::LabError;
use super::process::ProcessRecord;
use super::state::{LabDir, Session};

/// The programs that can route a lab router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// FRR 8.4: zebra, ospfd, bfdd and bgpd, one instance per router (`-N`).
    Frr,
    /// This suite's daemon, `hna-routed run`, inspected with `hna-routectl`.
    HnaRouted,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Frr => "frr",
            BackendKind::HnaRouted => "hna-routed",
        }
    }

    pub fn backend(self) -> Box<dyn RouterBackend> {
        match self {
            BackendKind::Frr => Box::new(super::frr::FrrBackend),
            BackendKind::HnaRouted => Box::new(super::hna::HnaRoutedBackend),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The party that builds a router's Linux plane beyond the cabling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataplane {
    /// The lab: interface addresses and MTUs, bridges, VXLAN devices, and one namespace per
    /// L3VRF (`ROUTER-L3VRF`) holding that tenant's bridges and VXLAN devices. For routing
    /// daemons that only route, such as FRR.
    Lab,
    /// The daemon, from its configuration. The lab creates the router namespace, the cabled
    /// interfaces and the loopbacks under their configured names, up and without addresses,
    /// and the pods' ports in the router namespace.
    Daemon,
}

/// Programs and options the backends run with.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    pub hna_routed: PathBuf,
    pub hna_routectl: PathBuf,
    /// `--log-level` of `hna-routed`.
    pub log_level: Option<String>,
    /// Directory of the FRR daemons.
    pub frr_daemons: PathBuf,
    /// FRR logs its EVPN (zebra) and BGP update handling at debug level.
    pub frr_debug: bool,
    /// The lab builds every router's plane ([`Dataplane::Lab`]), whatever the backend does by
    /// itself: for a daemon that does not yet apply its interface configuration.
    pub lab_builds_plane: bool,
}

/// Names of the lab's namespaces: every name starts with the lab's prefix.
#[derive(Debug, Clone)]
pub struct Names {
    pub prefix: String,
}

impl Names {
    pub fn router(&self, router: &str) -> String {
        format!("{}{router}", self.prefix)
    }

    pub fn pod(&self, pod: &str) -> String {
        format!("{}{pod}", self.prefix)
    }

    /// Prefix of the per-L3VRF namespaces of a router (`--netns-prefix` of `hna-routed`).
    pub fn tenant_prefix(&self, router: &str) -> String {
        format!("{}{router}-", self.prefix)
    }

    pub fn tenant(&self, router: &str, l3vrf: &str) -> String {
        format!("{}{l3vrf}", self.tenant_prefix(router))
    }
}

/// The router a backend runs, with the lab's names, directory and settings.
pub struct RouterContext<'a> {
    pub router: &'a Router,
    pub names: &'a Names,
    pub dir: &'a LabDir,
    pub settings: &'a BackendSettings,
}

impl RouterContext<'_> {
    pub fn namespace(&self) -> String {
        self.names.router(&self.router.name)
    }

    /// Returns the configuration file the lab wrote: the router's file and the cluster's extra
    /// lines.
    pub fn config_file(&self) -> PathBuf {
        self.dir
            .configs()
            .join(format!("{}.nc-cli", self.router.name))
    }
}

/// The state a backend reports, by what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    OspfNeighbors,
    BfdPeers,
    BgpSummary,
    EvpnVni,
}

impl Query {
    pub const ALL: [Query; 4] = [
        Query::OspfNeighbors,
        Query::BfdPeers,
        Query::BgpSummary,
        Query::EvpnVni,
    ];

    /// Returns the command words, which FRR's vtysh and `hna-routectl show` share.
    pub fn words(self) -> &'static [&'static str] {
        match self {
            Query::OspfNeighbors => &["show", "ip", "ospf", "neighbor"],
            Query::BfdPeers => &["show", "bfd", "peers"],
            Query::BgpSummary => &["show", "bgp", "summary"],
            Query::EvpnVni => &["show", "evpn", "vni"],
        }
    }
}

/// A routing backend for one lab router.
pub trait RouterBackend {
    fn kind(&self) -> BackendKind;

    fn dataplane(&self) -> Dataplane;

    /// Returns whether the backend can leak routes between L3VRFs (`l3vrf import`) on this lab.
    fn supports_route_leaking(&self) -> bool;

    /// Writes what the backend needs besides the lab's configuration file, and returns
    /// statements of the configuration it leaves out, for the report.
    fn prepare(&self, context: &RouterContext) -> Result<Vec<String>, LabError>;

    /// Starts the routing daemons and returns when they accept queries. Each started process
    /// is recorded in `session` as soon as it runs, so that a failure part way leaves nothing
    /// that `down` does not know.
    fn start(&self, context: &RouterContext, session: &mut Session) -> Result<(), LabError>;

    /// Returns the JSON of one query, with the fields FRR 8.4 gives (see [`RouterState`]);
    /// `null` is an empty output.
    fn query(&self, context: &RouterContext, query: Query) -> Result<Value, LabError>;

    /// Restarts the routing control plane gracefully (RFC 4724 on the BGP side), replacing
    /// the restarted processes in `session`.
    fn restart(&self, context: &RouterContext, session: &mut Session) -> Result<(), LabError>;

    /// Removes what `start` made besides processes and namespaces; called by `down`.
    fn clean_up(&self, context: &RouterContext, session: &mut Session);

    /// Returns the known defects of the backend that the router's current state shows, one
    /// sentence each, so that a failing row can be traced to the backend and not to the lab.
    fn diagnose(&self, _context: &RouterContext) -> Vec<String> {
        Vec::new()
    }
}

/// Records the process `pid` of `program` on the session's router, failing when it is gone.
pub fn record_process(
    session: &mut Session,
    router: &str,
    program: &str,
    pid: i32,
) -> Result<ProcessRecord, LabError> {
    let record = ProcessRecord::new(router, program, pid).ok_or_else(|| LabError::Start {
        router: router.to_string(),
        backend: "process",
        message: format!("{program} (pid {pid}) exited right after starting"),
    })?;
    session.update(|state| state.processes.push(record.clone()))?;
    Ok(record)
}

/// An OSPF neighbor as a router reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OspfNeighbor {
    pub router_id: String,
    pub address: String,
    pub interface: String,
    /// `Full`, `2-Way`, `ExStart`, ...
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BfdPeer {
    pub peer: String,
    pub local: String,
    pub interface: String,
    pub multihop: bool,
    /// `up`, `down`, `init`, `adm-down`
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BgpPeer {
    pub address: String,
    pub state: String,
    /// Address families that list the peer, in hna-routed's names (`l2vpn-evpn`,
    /// `ipv4-unicast`, ...) whichever router printed them.
    pub families: Vec<String>,
    pub prefixes_received: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvpnVni {
    pub vni: u32,
    /// `L2` or `L3`.
    pub kind: String,
    pub vxlan_interface: String,
    pub tenant: String,
    /// Remote VTEPs of an L2VNI (from type-3 routes); `None` for an L3VNI.
    pub remote_vteps: Option<u64>,
    pub macs: Option<u64>,
}

/// The protocol state of one router. A query that failed is kept as its error message.
#[derive(Debug, Clone, Serialize)]
pub struct RouterState {
    pub ospf: Result<Vec<OspfNeighbor>, String>,
    pub bfd: Result<Vec<BfdPeer>, String>,
    pub bgp: Result<Vec<BgpPeer>, String>,
    pub evpn: Result<Vec<EvpnVni>, String>,
}

impl RouterState {
    /// Queries every part of the state.
    pub fn read(backend: &dyn RouterBackend, context: &RouterContext) -> RouterState {
        let query = |query: Query| {
            backend
                .query(context, query)
                .map_err(|error| error.to_string())
        };
        RouterState {
            ospf: query(Query::OspfNeighbors).and_then(|json| parse_ospf_neighbors(&json)),
            bfd: query(Query::BfdPeers).and_then(|json| parse_bfd_peers(&json)),
            bgp: query(Query::BgpSummary).and_then(|json| parse_bgp_summary(&json)),
            evpn: query(Query::EvpnVni).and_then(|json| parse_evpn_vnis(&json)),
        }
    }
}

fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(flag)) => flag.to_string(),
        _ => String::new(),
    }
}

fn count(value: &Value, key: &str) -> Option<u64> {
    value.get(key).and_then(Value::as_u64)
}

/// Reads `show ip ospf neighbor` JSON in either of two shapes. FRR 8.4 prints `{"neighbors":
/// {ROUTER-ID: [{"converged" | "nbrState", "address", "ifaceName": "IFNAME:ADDRESS"}]}}`, where
/// the state is `converged`, or `nbrState` without its role suffix (`Full/-`). hna-routed prints
/// `[{"neighbor_id", "state", "address", "interface"}]`.
pub fn parse_ospf_neighbors(json: &Value) -> Result<Vec<OspfNeighbor>, String> {
    if json.is_null() {
        return Ok(Vec::new());
    }
    if let Some(entries) = json.as_array() {
        return Ok(entries
            .iter()
            .map(|entry| OspfNeighbor {
                router_id: text(entry, "neighbor_id"),
                address: text(entry, "address"),
                interface: text(entry, "interface"),
                state: text(entry, "state"),
            })
            .collect());
    }
    let neighbors = json
        .get("neighbors")
        .and_then(Value::as_object)
        .ok_or("no `neighbors` object")?;
    let mut result = Vec::new();
    for (router_id, entries) in neighbors {
        for entry in entries
            .as_array()
            .ok_or("a neighbor entry is not an array")?
        {
            let state = [
                text(entry, "converged"),
                text(entry, "nbrState"),
                text(entry, "state"),
            ]
            .into_iter()
            .find(|state| !state.is_empty())
            .unwrap_or_default();
            let state = state.split('/').next().unwrap_or_default().to_string();
            let interface = text(entry, "ifaceName")
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string();
            result.push(OspfNeighbor {
                router_id: router_id.clone(),
                address: text(entry, "address"),
                interface,
                state,
            });
        }
    }
    Ok(result)
}

/// Reads `show bfd peers` JSON: an array of `{"peer", "local", "interface", "multihop"}` with
/// the state in `status` (FRR 8.4: `up`, `down`, `init`, `adm-down`) or `state` (hna-routed:
/// `up`, `down`, `init`, `admin_down`). A missing local address or interface is empty.
pub fn parse_bfd_peers(json: &Value) -> Result<Vec<BfdPeer>, String> {
    if json.is_null() {
        return Ok(Vec::new());
    }
    let peers = json.as_array().ok_or("not an array of peers")?;
    Ok(peers
        .iter()
        .map(|peer| {
            let status = [text(peer, "status"), text(peer, "state")]
                .into_iter()
                .find(|state| !state.is_empty())
                .unwrap_or_default();
            BfdPeer {
                peer: text(peer, "peer"),
                local: text(peer, "local"),
                interface: text(peer, "interface"),
                multihop: peer
                    .get("multihop")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                status: status.to_lowercase(),
            }
        })
        .collect())
}

/// Reads `show bgp summary` JSON: `{FAMILY: {"peers": {ADDRESS: {"state", "pfxRcd"}}}}` (FRR),
/// one `{"peers": ...}` object, or an array of `{"neighbor" | "address" | "peer", "state",
/// "prefixes_received"}`. A peer in several families is listed once.
pub fn parse_bgp_summary(json: &Value) -> Result<Vec<BgpPeer>, String> {
    if json.is_null() {
        return Ok(Vec::new());
    }
    if let Some(entries) = json.as_array() {
        return Ok(entries
            .iter()
            .map(|entry| BgpPeer {
                address: ["neighbor", "address", "peer"]
                    .iter()
                    .map(|key| text(entry, key))
                    .find(|text| !text.is_empty())
                    .unwrap_or_default(),
                state: text(entry, "state"),
                families: entry
                    .get("families")
                    .and_then(Value::as_array)
                    .map(|families| {
                        families
                            .iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
                prefixes_received: count(entry, "prefixes_received")
                    .or_else(|| count(entry, "pfxRcd")),
            })
            .collect());
    }
    let object = json.as_object().ok_or("not an object")?;
    if let Some(neighbors) = object.get("neighbors").and_then(Value::as_array) {
        // hna-routed: `{"neighbors": [{"address", "state", "families": [{"afi_safi",
        // "received", ...}]}]}`.
        return Ok(neighbors
            .iter()
            .map(|neighbor| {
                let families = neighbor.get("families").and_then(Value::as_array);
                BgpPeer {
                    address: text(neighbor, "address"),
                    state: text(neighbor, "state"),
                    families: families
                        .map(|list| list.iter().map(|family| text(family, "afi_safi")).collect())
                        .unwrap_or_default(),
                    prefixes_received: families.map(|list| {
                        list.iter()
                            .filter_map(|family| count(family, "received"))
                            .sum()
                    }),
                }
            })
            .collect());
    }
    let mut tables: Vec<(String, &serde_json::Map<String, Value>)> = Vec::new();
    if let Some(peers) = object.get("peers").and_then(Value::as_object) {
        tables.push((String::new(), peers));
    }
    for (family, value) in object {
        if let Some(peers) = value.get("peers").and_then(Value::as_object) {
            tables.push((family_name(family), peers));
        }
    }
    let mut result: Vec<BgpPeer> = Vec::new();
    for (family, peers) in tables {
        for (address, peer) in peers {
            let prefixes = count(peer, "pfxRcd");
            match result.iter_mut().find(|known| &known.address == address) {
                Some(known) => {
                    if !family.is_empty() {
                        known.families.push(family.clone());
                    }
                    if let (Some(total), Some(more)) = (known.prefixes_received.as_mut(), prefixes)
                    {
                        *total += more;
                    }
                }
                None => result.push(BgpPeer {
                    address: address.clone(),
                    state: text(peer, "state"),
                    families: if family.is_empty() {
                        Vec::new()
                    } else {
                        vec![family.clone()]
                    },
                    prefixes_received: prefixes,
                }),
            }
        }
    }
    Ok(result)
}

/// Returns hna-routed's name for one of FRR's address-family keys (`l2VpnEvpn` is
/// `l2vpn-evpn`), so that the lab's tables read the same for both. Other keys are kept.
fn family_name(frr: &str) -> String {
    match frr {
        "ipv4Unicast" => "ipv4-unicast",
        "ipv6Unicast" => "ipv6-unicast",
        "l2VpnEvpn" => "l2vpn-evpn",
        other => other,
    }
    .to_string()
}

/// Reads `show evpn vni` JSON in either of two shapes. FRR 8.4 prints `{VNI: {"vni", "type",
/// "vxlanIf", "tenantVrf", "numRemoteVteps", "numMacs"}}`, with `numRemoteVteps` "n/a" for an
/// L3VNI. hna-routed prints `[{"vni", "kind", "vxlan_device", "vrf", "remote_vteps": [...],
/// "local_macs", "remote_macs"}]`; only an L2VNI's remote VTEPs (its flood list) are counted.
pub fn parse_evpn_vnis(json: &Value) -> Result<Vec<EvpnVni>, String> {
    if json.is_null() {
        return Ok(Vec::new());
    }
    if let Some(entries) = json.as_array() {
        let mut result = Vec::new();
        for entry in entries {
            let vni = count(entry, "vni")
                .and_then(|vni| u32::try_from(vni).ok())
                .ok_or("a VNI entry has no number")?;
            let kind = text(entry, "kind");
            let remote_vteps = entry
                .get("remote_vteps")
                .and_then(Value::as_array)
                .map(|list| list.len() as u64)
                .filter(|_| kind == "L2");
            let macs = match (count(entry, "local_macs"), count(entry, "remote_macs")) {
                (None, None) => None,
                (local, remote) => Some(local.unwrap_or(0) + remote.unwrap_or(0)),
            };
            result.push(EvpnVni {
                vni,
                kind,
                vxlan_interface: text(entry, "vxlan_device"),
                tenant: text(entry, "vrf"),
                remote_vteps,
                macs,
            });
        }
        result.sort_by_key(|vni| vni.vni);
        return Ok(result);
    }
    let object = json.as_object().ok_or("not an object")?;
    let mut result = Vec::new();
    for (key, entry) in object {
        let vni = entry
            .get("vni")
            .and_then(Value::as_u64)
            .or_else(|| key.parse().ok())
            .and_then(|vni| u32::try_from(vni).ok())
            .ok_or_else(|| format!("VNI entry `{key}` has no number"))?;
        result.push(EvpnVni {
            vni,
            kind: text(entry, "type"),
            vxlan_interface: text(entry, "vxlanIf"),
            tenant: text(entry, "tenantVrf"),
            remote_vteps: count(entry, "numRemoteVteps"),
            macs: count(entry, "numMacs"),
        });
    }
    result.sort_by_key(|vni| vni.vni);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ospf_neighbors_parse_frr_json() {
        let json = serde_json::json!({"neighbors": {"10.0.0.1": [
            {"nbrState": "Full/-", "converged": "Full", "address": "10.0.11.2", "ifaceName": "eth1:10.0.11.1"}
        ], "10.0.0.202": [{"nbrState": "Init/-", "address": "10.0.100.2", "ifaceName": "eth3:10.0.100.1"}]}});
        let neighbors = parse_ospf_neighbors(&json).unwrap();
        assert_eq!(neighbors.len(), 2);
        assert_eq!(
            neighbors[0],
            OspfNeighbor {
                router_id: "10.0.0.1".into(),
                address: "10.0.11.2".into(),
                interface: "eth1".into(),
                state: "Full".into()
            }
        );
        assert_eq!(neighbors[1].state, "Init");
    }

    #[test]
    fn bgp_summary_merges_families() {
        let json = serde_json::json!({
            "ipv4Unicast": {"peers": {"10.0.0.1": {"state": "Established", "pfxRcd": 1}}},
            "l2VpnEvpn": {"peers": {"10.0.0.1": {"state": "Established", "pfxRcd": 10}, "10.0.0.2": {"state": "Active"}}}
        });
        let peers = parse_bgp_summary(&json).unwrap();
        assert_eq!(peers.len(), 2);
        assert_eq!(peers[0].families, vec!["ipv4-unicast", "l2vpn-evpn"]);
        assert_eq!(peers[0].prefixes_received, Some(11));
        assert_eq!(peers[1].state, "Active");
    }

    #[test]
    fn bgp_summary_accepts_single_table() {
        let json =
            serde_json::json!({"peers": {"10.0.0.201": {"state": "Established", "pfxRcd": 3}}});
        let peers = parse_bgp_summary(&json).unwrap();
        assert_eq!(peers.len(), 1);
        assert!(peers[0].families.is_empty());
    }

    #[test]
    fn evpn_vnis_parse_l2_and_l3() {
        let json = serde_json::json!({
            "10000": {"vni": 10000, "type": "L2", "vxlanIf": "vx10000", "numMacs": 2, "numRemoteVteps": 1, "tenantVrf": "vrf100"},
            "100": {"vni": 100, "type": "L3", "vxlanIf": "vx100", "numMacs": 0, "numRemoteVteps": "n/a", "tenantVrf": "vrf100"}
        });
        let vnis = parse_evpn_vnis(&json).unwrap();
        assert_eq!(vnis[0].vni, 100);
        assert_eq!(vnis[0].remote_vteps, None);
        assert_eq!(vnis[1].remote_vteps, Some(1));
        assert_eq!(vnis[1].tenant, "vrf100");
    }

    #[test]
    fn bfd_peers_parse_array() {
        let json = serde_json::json!([
            {"multihop": false, "peer": "10.0.11.2", "local": "10.0.11.1", "interface": "eth1", "status": "up"},
            {"multihop": true, "peer": "10.0.0.1", "local": "10.0.0.201", "status": "down"}
        ]);
        let peers = parse_bfd_peers(&json).unwrap();
        assert!(!peers[0].multihop);
        assert!(peers[1].multihop);
        assert_eq!(peers[1].interface, "");
    }

    #[test]
    fn hna_routed_shapes_parse() {
        let ospf = serde_json::json!([{"neighbor_id": "10.0.0.201", "priority": 1, "state": "Full", "role": "", "dead_time_ms": 3000, "address": "10.0.11.1", "interface": "pci-b0s4"}]);
        let neighbors = parse_ospf_neighbors(&ospf).unwrap();
        assert_eq!(
            neighbors,
            vec![OspfNeighbor {
                router_id: "10.0.0.201".into(),
                address: "10.0.11.1".into(),
                interface: "pci-b0s4".into(),
                state: "Full".into()
            }]
        );

        let bfd = serde_json::json!([{"peer": "10.0.11.1", "local": null, "interface": "pci-b0s4", "multihop": false, "state": "up"}]);
        let peers = parse_bfd_peers(&bfd).unwrap();
        assert_eq!(peers[0].status, "up");
        assert_eq!(peers[0].local, "");

        let evpn = serde_json::json!([
            {"vni": 10000, "kind": "L2", "vxlan_device": "vx10000", "vrf": "vrf100", "remote_vteps": ["10.0.0.2"], "local_macs": 2, "remote_macs": 1},
            {"vni": 100, "kind": "L3", "vxlan_device": "vx100", "vrf": "vrf100", "remote_vteps": ["10.0.0.2"], "local_macs": 0, "remote_macs": 0}
        ]);
        let vnis = parse_evpn_vnis(&evpn).unwrap();
        assert_eq!(vnis[0].vni, 100);
        assert_eq!(
            vnis[0].remote_vteps, None,
            "an L3VNI's next hops are not a flood list"
        );
        assert_eq!(vnis[1].remote_vteps, Some(1));
        assert_eq!(vnis[1].macs, Some(3));

        let bgp = serde_json::json!([{"neighbor": "10.0.0.201", "state": "Established", "prefixes_received": 4}]);
        let peers = parse_bgp_summary(&bgp).unwrap();
        assert_eq!(peers[0].address, "10.0.0.201");
        assert_eq!(peers[0].prefixes_received, Some(4));
    }

    #[test]
    fn empty_answers_are_empty_lists() {
        assert!(parse_evpn_vnis(&Value::Null).unwrap().is_empty());
        assert!(parse_ospf_neighbors(&Value::Null).unwrap().is_empty());
        assert!(parse_bfd_peers(&Value::Null).unwrap().is_empty());
        assert!(parse_bgp_summary(&Value::Null).unwrap().is_empty());
    }

    #[test]
    fn names_carry_prefix() {
        let names = Names {
            prefix: "t7-".into(),
        };
        assert_eq!(names.router("hna1"), "t7-hna1");
        assert_eq!(names.tenant("hna1", "vrf100"), "t7-hna1-vrf100");
        assert_eq!(names.tenant_prefix("hna1"), "t7-hna1-");
    }
}
