//! Settings of the EVPN control plane: the VTEP, its MAC-VRFs (one per L2VNI) and IP-VRFs (one
//! per L3VNI), and how route distinguishers and route targets are derived when not configured.

use std::net::Ipv4Addr;
use std::time::Duration;

use serde::Serialize;

use crate::{MacAddress, RouteDistinguisher, RouteTarget};

/// How route targets are derived for a VNI that has none configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AutoRouteTarget {
    /// `ASN:VNI`, FRR's default: a two-octet AS route target whose value is the VNI.
    AsVni,
    /// RFC 8365 section 5.1.2.1: the two-octet AS as global administrator and, as local
    /// administrator, A = 0 (derived), Type = 1 (VXLAN), D-ID = 0 and the 24-bit VNI.
    Rfc8365,
}

impl AutoRouteTarget {
    /// Derives the route target of `vni` for `asn`. A four-octet AS (above 65535) cannot fill
    /// the two-octet global administrator, so RFC 6793's AS_TRANS (23456) stands in for it, as
    /// FRR does.
    pub fn derive(self, asn: u32, vni: u32) -> RouteTarget {
        let asn = u16::try_from(asn).unwrap_or(23456);
        match self {
            AutoRouteTarget::AsVni => RouteTarget::As2 { asn, value: vni },
            AutoRouteTarget::Rfc8365 => RouteTarget::As2 {
                asn,
                value: RFC8365_TYPE_VXLAN | (vni & 0x00FF_FFFF),
            },
        }
    }
}

/// The local administrator bits of an RFC 8365 derived route target: A = 0, Type = 1 (VXLAN),
/// D-ID = 0, so only bit 28 is set above the VNI.
const RFC8365_TYPE_VXLAN: u32 = 1 << 28;

/// Returns the route targets accepted on import for an automatic setting: both derivations,
/// so that a peer exporting either form (FRR's default or RFC 8365) is imported.
pub fn auto_import_targets(asn: u32, vni: u32) -> Vec<RouteTarget> {
    vec![
        AutoRouteTarget::AsVni.derive(asn, vni),
        AutoRouteTarget::Rfc8365.derive(asn, vni),
    ]
}

/// Duplicate address detection (RFC 7432 section 15.1): a MAC that moves `max_moves` times
/// within `window` is frozen, so that a loop or a misconfigured host cannot make the fabric
/// chase it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateDetection {
    pub max_moves: u32,
    pub window: Duration,
    /// How long a frozen MAC stays frozen; `None` keeps it frozen until reconfiguration.
    pub freeze_time: Option<Duration>,
}

impl Default for DuplicateDetection {
    /// FRR's defaults: 5 moves in 180 seconds; frozen entries are released after the same window.
    fn default() -> Self {
        DuplicateDetection {
            max_moves: 5,
            window: Duration::from_secs(180),
            freeze_time: Some(Duration::from_secs(180)),
        }
    }
}

/// One L2VNI: a VXLAN device attached to a bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacVrfConfig {
    pub vni: u32,
    /// The bridge whose ports the local MACs are learned on and that carries the subnet's
    /// gateway address (the SVI).
    pub bridge: String,
    pub vxlan_device: String,
    /// The IP-VRF (tenant) the bridge belongs to, for symmetric IRB (RFC 9135).
    pub ip_vrf: Option<String>,
    /// `None`: router-id:index (RFC 7432 section 7.9).
    pub rd: Option<RouteDistinguisher>,
    /// Empty: derived with `auto_route_target` (export) and both forms (import).
    pub export_route_targets: Vec<RouteTarget>,
    pub import_route_targets: Vec<RouteTarget>,
    pub auto_route_target: AutoRouteTarget,
}

/// One IP-VRF, bound to an L3VNI for symmetric IRB and type-5 routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpVrfConfig {
    pub name: String,
    pub l3vni: u32,
    /// This VTEP's router MAC in the IP-VRF: the inner destination MAC of routed traffic sent to
    /// us (RFC 9135 section 4.1). It must be unicast and not zero.
    pub router_mac: MacAddress,
    /// `None`: router-id:index.
    pub rd: Option<RouteDistinguisher>,
    pub export_route_targets: Vec<RouteTarget>,
    pub import_route_targets: Vec<RouteTarget>,
    pub auto_route_target: AutoRouteTarget,
    /// Originate type-5 routes for the VRF's routes.
    pub advertise_ipv4_unicast: bool,
    /// Route-map that filters the type-5 origination.
    pub advertise_route_map: Option<String>,
    /// The VRF's connected subnets are part of its BGP routes (advertised and leakable).
    pub redistribute_connected: bool,
    /// Other IP-VRFs whose routes are leaked into this one.
    pub import_vrfs: Vec<String>,
    /// Route-map that filters the leaked routes; without it, every route is leaked.
    pub import_route_map: Option<String>,
}

/// The whole EVPN configuration of one VTEP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvpnConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// The local VTEP address: next hop of every route we originate and PMSI tunnel endpoint.
    pub vtep: Ipv4Addr,
    pub mac_vrfs: Vec<MacVrfConfig>,
    pub ip_vrfs: Vec<IpVrfConfig>,
    pub duplicate_detection: DuplicateDetection,
}
