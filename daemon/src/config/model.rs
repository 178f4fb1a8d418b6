//! The typed configuration: what the path-style file means, independent of its syntax.
//!
//! Programs that link the crates can build a [`Config`] directly instead of parsing a file.
//! Fields left at their defaults mean "not configured"; the daemon applies the protocol defaults
//! (documented on each field) when it turns this into the protocol crates' own settings.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};
use serde::{Deserialize, Serialize};

/// A whole router configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub hostname: Option<String>,
    /// Every interface by name, whatever its kind and tenant.
    pub interfaces: BTreeMap<String, Interface>,
    pub l3vrfs: BTreeMap<String, L3Vrf>,
    pub bgp: Option<Bgp>,
    pub ospf: Option<Ospf>,
    pub bfd: BfdDefaults,
    /// Per-interface routing settings (`/ vrf main routing interface NAME ...`).
    pub routing_interfaces: BTreeMap<String, RoutingInterface>,
    pub prefix_lists: BTreeMap<String, PrefixList>,
    pub route_maps: BTreeMap<String, RouteMap>,
    /// Lines read and accepted but outside the routing suite's scope, in file order.
    pub out_of_scope: Vec<OutOfScopeLine>,
}

/// The kinds of interface the configuration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceKind {
    Physical,
    Loopback,
    /// A vhost-user port of the fast path towards a pod (virtio).
    Fpvhost,
    /// A kernel port of the fast path towards a pod (veth).
    Infrastructure,
    Vxlan,
    Bridge,
}

impl InterfaceKind {
    pub fn keyword(self) -> &'static str {
        match self {
            InterfaceKind::Physical => "physical",
            InterfaceKind::Loopback => "loopback",
            InterfaceKind::Fpvhost => "fpvhost",
            InterfaceKind::Infrastructure => "infrastructure",
            InterfaceKind::Vxlan => "vxlan",
            InterfaceKind::Bridge => "bridge",
        }
    }
}

/// One interface. `vxlan` is set for VXLAN interfaces and `bridge` for bridges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub kind: InterfaceKind,
    /// The L3VRF (tenant) the interface belongs to; `None` is the default VRF (`vrf main`).
    pub l3vrf: Option<String>,
    pub description: Option<String>,
    /// Bytes; the kernel's default applies when unset.
    pub mtu: Option<u32>,
    /// Interface addresses with their prefix lengths (for example 10.0.11.2/24).
    pub ipv4_addresses: Vec<Ipv4Net>,
    pub mac_address: Option<MacAddress>,
    pub vxlan: Option<Vxlan>,
    pub bridge: Option<Bridge>,
}

impl Interface {
    pub fn new(kind: InterfaceKind) -> Self {
        Interface {
            kind,
            l3vrf: None,
            description: None,
            mtu: None,
            ipv4_addresses: Vec::new(),
            mac_address: None,
            vxlan: match kind {
                InterfaceKind::Vxlan => Some(Vxlan::default()),
                _ => None,
            },
            bridge: match kind {
                InterfaceKind::Bridge => Some(Bridge::default()),
                _ => None,
            },
        }
    }
}

/// VXLAN settings (RFC 7348); the UDP port is the IANA one, 4789.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vxlan {
    /// 24-bit VXLAN network identifier.
    pub vni: Option<u32>,
    /// Local VTEP address (the loopback).
    pub local: Option<Ipv4Addr>,
    /// The underlay interface that holds `local`.
    pub link_interface: Option<String>,
    /// Data-plane MAC learning; EVPN fabrics turn it off and learn remote MACs from BGP.
    pub learning: Option<bool>,
}

/// Bridge settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    /// Member ports in configuration order.
    pub members: Vec<BridgeMember>,
    /// Whether gratuitous ARP creates neighbor entries (`always`), as the kernel's `arp_accept`.
    pub arp_accept_gratuitous: Option<String>,
    /// Base reachable time of neighbor entries, milliseconds.
    pub ipv4_base_reachable_time_ms: Option<u32>,
}

/// A bridge port and its per-port learning setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeMember {
    pub name: String,
    pub learning: Option<bool>,
}

/// A 48-bit Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MacAddress(pub [u8; 6]);

impl FromStr for MacAddress {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let mut bytes = [0u8; 6];
        let mut parts = text.split(':');
        for byte in &mut bytes {
            let part = parts.next().ok_or(())?;
            if part.len() != 2 {
                return Err(());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| ())?;
        }
        if parts.next().is_some() {
            return Err(());
        }
        Ok(MacAddress(bytes))
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// A route distinguisher or route target value as written: `ASN:NN` or `IPv4:NN` (RFC 4364
/// section 4.2 types 0, 1 and 2; a 4-octet ASN selects type 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RdOrRt {
    /// Type 0: 2-octet ASN and 4-octet number.
    As2 { asn: u16, number: u32 },
    /// Type 1: IPv4 address and 2-octet number.
    Ipv4 { address: Ipv4Addr, number: u16 },
    /// Type 2: 4-octet ASN and 2-octet number.
    As4 { asn: u32, number: u16 },
}

impl FromStr for RdOrRt {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let (admin, number) = text.rsplit_once(':').ok_or(())?;
        if let Ok(address) = admin.parse::<Ipv4Addr>() {
            return Ok(RdOrRt::Ipv4 {
                address,
                number: number.parse().map_err(|_| ())?,
            });
        }
        let asn: u32 = admin.parse().map_err(|_| ())?;
        match u16::try_from(asn) {
            Ok(asn) => Ok(RdOrRt::As2 {
                asn,
                number: number.parse().map_err(|_| ())?,
            }),
            Err(_) => Ok(RdOrRt::As4 {
                asn,
                number: number.parse().map_err(|_| ())?,
            }),
        }
    }
}

impl fmt::Display for RdOrRt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdOrRt::As2 { asn, number } => write!(f, "{asn}:{number}"),
            RdOrRt::Ipv4 { address, number } => write!(f, "{address}:{number}"),
            RdOrRt::As4 { asn, number } => write!(f, "{asn}:{number}"),
        }
    }
}

/// A tenant's routing instance (IP-VRF), bound to an L3VNI for EVPN symmetric IRB.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct L3Vrf {
    pub description: Option<String>,
    /// Kernel routing table of the tenant.
    pub table_id: Option<u32>,
    pub l3vni: Option<u32>,
    pub ipv4_unicast: VrfIpv4Unicast,
    pub evpn: VrfEvpn,
}

/// BGP ipv4-unicast settings of an L3VRF.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrfIpv4Unicast {
    pub export_route_targets: Vec<RdOrRt>,
    pub import_route_targets: Vec<RdOrRt>,
    pub export_route_distinguisher: Option<RdOrRt>,
    pub redistribute_connected: bool,
    /// Other L3VRFs whose routes are leaked into this one.
    pub import_l3vrfs: Vec<String>,
    /// Route-map applied to leaked routes; without one every route of `import_l3vrfs` is leaked.
    pub import_route_map: Option<String>,
}

/// How route targets are derived when none are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AutoRouteTarget {
    /// RFC 8365 section 5.1.2.1: the AS number and the VNI with the type-1 (VID/VNI) bits.
    Rfc8365,
}

/// BGP l2vpn-evpn settings of an L3VRF.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrfEvpn {
    /// Originate type-5 routes from the VRF's ipv4-unicast routes.
    pub advertise_ipv4_unicast: bool,
    /// Route-map that filters the type-5 origination.
    pub advertise_route_map: Option<String>,
    pub auto_route_target: Option<AutoRouteTarget>,
    pub export_route_distinguisher: Option<RdOrRt>,
    pub export_route_targets: Vec<RdOrRt>,
    pub import_route_targets: Vec<RdOrRt>,
    /// Import EVPN routes into this VRF (by its route targets).
    pub import: bool,
}

/// BGP address families this suite knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressFamily {
    Ipv4Unicast,
    Ipv6Unicast,
    L2vpnEvpn,
}

impl AddressFamily {
    pub fn keyword(self) -> &'static str {
        match self {
            AddressFamily::Ipv4Unicast => "ipv4-unicast",
            AddressFamily::Ipv6Unicast => "ipv6-unicast",
            AddressFamily::L2vpnEvpn => "l2vpn-evpn",
        }
    }
}

/// The BGP instance of the default VRF.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bgp {
    pub asn: Option<u32>,
    pub router_id: Option<Ipv4Addr>,
    /// RFC 8212: eBGP sessions exchange no routes without policy. Default true.
    pub ebgp_requires_policy: Option<bool>,
    /// Originate EVPN routes for every L2VNI and L3VNI of the node.
    pub advertise_all_vni: bool,
    pub listen_ranges: Vec<ListenRange>,
    pub neighbor_groups: BTreeMap<String, NeighborSettings>,
    pub neighbors: BTreeMap<IpAddr, NeighborSettings>,
    pub graceful_restart: GracefulRestart,
    /// Cluster id for route reflection; the router id when unset (RFC 4456 section 7).
    pub cluster_id: Option<Ipv4Addr>,
}

/// A dynamic-neighbor listen range: connections from `prefix` become neighbors of `group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenRange {
    pub prefix: IpNet,
    pub group: String,
}

/// Settings of a neighbor or a neighbor group. A neighbor inherits what it leaves unset from
/// its group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighborSettings {
    /// The group a neighbor belongs to (unused on groups).
    pub group: Option<String>,
    pub remote_as: Option<u32>,
    pub description: Option<String>,
    /// Interface whose address is the session's source (a loopback for iBGP).
    pub update_source: Option<String>,
    pub address_families: BTreeMap<AddressFamily, NeighborAddressFamily>,
    pub track_bfd: Option<bool>,
    /// TCP-MD5 password (RFC 2385).
    pub password: Option<String>,
    /// GTSM (RFC 5082): accept only packets whose TTL shows at most this many hops.
    pub ttl_security_hops: Option<u8>,
    /// Seconds.
    pub keepalive_interval: Option<u16>,
    /// Seconds; 0 or at least 3 (RFC 4271 section 4.2).
    pub hold_time: Option<u16>,
    /// Seconds between connection attempts.
    pub connect_retry_interval: Option<u16>,
    /// Never open a connection, only accept one.
    pub passive: Option<bool>,
    pub shutdown: Option<bool>,
}

/// Per-neighbor, per-address-family settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeighborAddressFamily {
    /// Whether the family is negotiated; a family named in the configuration without
    /// `enabled` is enabled.
    pub enabled: Option<bool>,
    pub route_reflector_client: Option<bool>,
    pub route_map_in: Option<String>,
    pub route_map_out: Option<String>,
    pub maximum_prefix: Option<u32>,
    pub soft_reconfiguration_inbound: Option<bool>,
    pub next_hop_self: Option<bool>,
}

/// Graceful restart (RFC 4724).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GracefulRestart {
    pub enabled: Option<bool>,
    /// Seconds a peer should keep our routes while we restart. Default 120.
    pub restart_time: Option<u16>,
    /// Seconds we keep a restarting peer's routes after the session is back. Default 360.
    pub stale_routes_time: Option<u16>,
}

/// The OSPFv2 instance of the default VRF (area 0 only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ospf {
    pub router_id: Option<Ipv4Addr>,
    pub networks: Vec<OspfNetwork>,
    /// SPF throttle, milliseconds: first delay, hold, maximum hold.
    pub spf_delay_ms: Option<u32>,
    pub spf_hold_ms: Option<u32>,
    pub spf_max_hold_ms: Option<u32>,
    /// Minimum interval between originations of the same LSA (MinLSInterval), milliseconds.
    pub lsa_min_interval_ms: Option<u32>,
    /// Minimum interval between accepted copies of the same LSA (MinLSArrival), milliseconds.
    pub lsa_min_arrival_ms: Option<u32>,
    pub graceful_restart: OspfGracefulRestart,
}

/// OSPF graceful restart (RFC 3623).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OspfGracefulRestart {
    /// Restart gracefully when the daemon stops with graceful restart. Default false.
    pub enabled: Option<bool>,
    /// Seconds neighbors keep our adjacencies while we restart. Default 120.
    pub grace_period: Option<u16>,
    /// Help restarting neighbors. Default true.
    pub helper: Option<bool>,
}

/// `network PREFIX area AREA`: interfaces with an address inside `prefix` run OSPF in `area`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OspfNetwork {
    pub prefix: Ipv4Net,
    pub area: Ipv4Addr,
}

/// Routing settings of one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingInterface {
    pub ospf: OspfInterface,
}

/// OSPF settings of one interface; unset fields take RFC 2328 appendix C.3 defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OspfInterface {
    pub track_bfd: Option<bool>,
    pub network_type: Option<OspfNetworkType>,
    pub cost: Option<u16>,
    /// Seconds.
    pub hello_interval: Option<u16>,
    /// Seconds.
    pub dead_interval: Option<u32>,
    /// Seconds.
    pub retransmit_interval: Option<u16>,
    pub priority: Option<u8>,
    pub authentication: Option<OspfAuthentication>,
    pub passive: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OspfNetworkType {
    Broadcast,
    PointToPoint,
}

/// OSPF packet authentication (RFC 2328 appendix D, RFC 5709).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OspfAuthentication {
    Simple { password: String },
    Md5 { key_id: u8, key: String },
    HmacSha256 { key_id: u8, key: String },
}

/// Default BFD timers for every session the configuration asks for (`track bfd`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdDefaults {
    /// Milliseconds. Default 300.
    pub desired_min_tx_ms: Option<u32>,
    /// Milliseconds. Default 300.
    pub required_min_rx_ms: Option<u32>,
    /// Default 3.
    pub detect_multiplier: Option<u8>,
}

/// `permit` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyAction {
    Permit,
    Deny,
}

/// An IPv4 prefix-list: entries tried in sequence order; no match denies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixList {
    pub entries: BTreeMap<u32, PrefixListEntry>,
}

/// One prefix-list entry: `address` matches itself, or with `ge`/`le` the more specific
/// prefixes inside it whose length lies in [ge, le].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixListEntry {
    pub prefix: Option<Ipv4Net>,
    pub action: Option<PolicyAction>,
    pub ge: Option<u8>,
    pub le: Option<u8>,
}

/// A route-map: entries tried in sequence order; no matching entry denies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteMap {
    pub entries: BTreeMap<u32, RouteMapEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteMapEntry {
    pub action: Option<PolicyAction>,
    pub matches: Vec<RouteMapMatch>,
    pub sets: Vec<RouteMapSet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteMapMatch {
    IpAddressPrefixList(String),
    /// The L3VRF a leaked route comes from.
    SourceL3vrf(String),
    EvpnRouteType(u8),
    EvpnVni(u32),
    /// A standard community `ASN:VALUE` carried by the route.
    Community(u32),
    /// A route target carried by the route.
    ExtendedCommunityRouteTarget(RdOrRt),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteMapSet {
    LocalPreference(u32),
    Med(u32),
    /// Replace the standard communities, or add to them with `additive`.
    Community {
        values: Vec<u32>,
        additive: bool,
    },
    /// Add a route target.
    ExtendedCommunityRouteTarget(RdOrRt),
    IpNextHop(Ipv4Addr),
}

/// Topics of lines the routing suite reads without acting on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutOfScopeKind {
    /// Commands to the configuration shell, such as `load startup`.
    ShellCommand,
    FastPath,
    Firewall,
    Kpi,
    License,
    /// Other system settings (hostname is read; the rest is not the router's).
    System,
}

impl OutOfScopeKind {
    pub fn label(self) -> &'static str {
        match self {
            OutOfScopeKind::ShellCommand => "shell command",
            OutOfScopeKind::FastPath => "fast path",
            OutOfScopeKind::Firewall => "firewall",
            OutOfScopeKind::Kpi => "KPI export",
            OutOfScopeKind::License => "license",
            OutOfScopeKind::System => "system",
        }
    }
}

/// A line outside the suite's scope, kept for the summary and for `show running-config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfScopeLine {
    pub kind: OutOfScopeKind,
    pub line: usize,
    pub text: String,
}
