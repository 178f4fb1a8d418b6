//! Snapshots for `show evpn vni` and `show evpn mac`.

use serde::Serialize;

/// One VNI: an L2VNI (MAC-VRF) or an L3VNI (IP-VRF).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VniSnapshot {
    pub vni: u32,
    /// `L2` or `L3`.
    pub kind: &'static str,
    pub vxlan_device: Option<String>,
    pub bridge: Option<String>,
    pub vrf: Option<String>,
    pub rd: String,
    pub export_route_targets: Vec<String>,
    pub import_route_targets: Vec<String>,
    pub local_macs: usize,
    pub remote_macs: usize,
    /// Remote VTEPs: the flood list of an L2VNI, the next hops of an L3VNI's routes.
    pub remote_vteps: Vec<String>,
    pub router_mac: Option<String>,
}

/// One MAC of an L2VNI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MacSnapshot {
    pub vni: u32,
    pub mac: String,
    /// `local`, `local-inactive` (lost to a remote VTEP, not advertised) or `remote`.
    pub kind: &'static str,
    pub vtep: Option<String>,
    /// MAC mobility sequence number (RFC 7432 section 15).
    pub sequence: u32,
    pub sticky: bool,
    /// Frozen by duplicate address detection.
    pub frozen: bool,
    /// IP addresses bound to the MAC (neighbor entries).
    pub ips: Vec<String>,
}
