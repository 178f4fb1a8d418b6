//! Translation of a typed [`Config`] into an FRR 8.4 integrated configuration (`frr.conf`).
//!
//! It covers OSPFv2 area 0 with per-interface settings and `track bfd`, and a BFD profile with
//! the configuration's timers. BGP gets neighbor groups (FRR peer-groups), listen ranges,
//! update-source, route reflection, address families and EVPN (`advertise-all-vni`). Each L3VRF
//! becomes a BGP instance with its L3VNI, type-5 advertisement and route targets, and the
//! prefix-lists and route-maps follow.
//!
//! Statements FRR cannot express on this kernel are left out and listed in
//! [`FrrConfig::notes`]; the caller prints them.
//!
//! Every FRR daemon reads the whole file and skips the statements of the others. A block
//! therefore ends with `!`, never with `exit`: in a daemon that does not know the block (zebra
//! reading `bfd`), `exit` would leave the configuration mode and every later line would fail.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::PathBuf;

use crate::config::{
    AddressFamily, AutoRouteTarget, Bgp, Config, InterfaceKind, L3Vrf, NeighborSettings, Ospf,
    OspfAuthentication, OspfNetworkType, PolicyAction, RouteMapMatch, RouteMapSet,
};

/// Name of the BFD profile that carries the configuration's BFD timers.
pub const BFD_PROFILE: &str = "hna-config";

/// FRR 8.4's SPF throttle defaults in milliseconds (delay, hold, maximum hold), used for the
/// values a configuration leaves unset when it sets some of them.
const FRR_SPF_THROTTLE_MS: (u32, u32, u32) = (0, 50, 5000);

/// Kernel representation of the tenants where FRR runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VrfBackend {
    /// Linux VRF devices (`ip link add vrf100 type vrf table 100`).
    VrfDevice,
    /// One network namespace per L3VRF, named as the L3VRF, with zebra started with `-n`.
    /// FRR 8.4 leaks routes between such VRFs into the wrong namespace, so `l3vrf import` is
    /// left out.
    NetnsVrf,
}

#[derive(Debug, Clone)]
pub struct FrrOptions {
    /// `hostname` when the configuration sets none.
    pub hostname: String,
    pub log_file: PathBuf,
    pub vrf_backend: VrfBackend,
    /// Log EVPN handling in zebra and BGP updates at debug level.
    pub debug: bool,
}

/// An FRR configuration and what it needs to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrrConfig {
    pub text: String,
    /// Daemons to start after zebra, in order.
    pub daemons: Vec<&'static str>,
    /// Statements of the configuration that the FRR configuration leaves out, with the reason.
    pub notes: Vec<String>,
}

/// Translates `config` into an FRR integrated configuration.
pub fn translate(config: &Config, options: &FrrOptions) -> FrrConfig {
    let mut out = Out::default();
    let hostname = config
        .hostname
        .clone()
        .unwrap_or_else(|| options.hostname.clone());
    out.line(format_args!("frr defaults traditional"));
    out.line(format_args!("hostname {hostname}"));
    let level = if options.debug {
        "debugging"
    } else {
        "informational"
    };
    out.line(format_args!(
        "log file {} {level}",
        options.log_file.display()
    ));
    out.line(format_args!("log timestamp precision 3"));
    if options.debug {
        for line in [
            "debug zebra vxlan",
            "debug zebra events",
            "debug zebra rib",
            "debug bgp zebra",
            "debug bgp updates",
            "debug bgp neighbor-events",
        ] {
            out.line(format_args!("{line}"));
        }
    }
    out.line(format_args!("!"));

    translate_vrfs(config, &mut out);
    let uses_bfd = translate_bfd(config, &mut out);
    translate_interfaces(config, uses_bfd, &mut out);
    if let Some(ospf) = &config.ospf {
        translate_ospf(config, ospf, &mut out);
    }
    translate_policy(config, &mut out);
    if let Some(bgp) = &config.bgp {
        translate_bgp(config, bgp, uses_bfd, options.vrf_backend, &mut out);
    }

    let mut daemons = Vec::new();
    if config.ospf.is_some() {
        daemons.push("ospfd");
    }
    if uses_bfd {
        daemons.push("bfdd");
    }
    if config.bgp.is_some() {
        daemons.push("bgpd");
    }
    FrrConfig {
        text: out.text,
        daemons,
        notes: out.notes,
    }
}

#[derive(Default)]
struct Out {
    text: String,
    notes: Vec<String>,
}

impl Out {
    fn line(&mut self, args: std::fmt::Arguments) {
        self.text
            .write_fmt(args)
            .expect("writing to a String cannot fail");
        self.text.push('\n');
    }

    fn note(&mut self, note: String) {
        self.line(format_args!("! not translated: {note}"));
        self.notes.push(note);
    }
}

/// Returns whether any OSPF interface or BGP neighbor tracks BFD.
fn wants_bfd(config: &Config) -> bool {
    let ospf = config
        .routing_interfaces
        .values()
        .any(|interface| interface.ospf.track_bfd == Some(true));
    let bgp = config.bgp.as_ref().is_some_and(|bgp| {
        bgp.neighbors
            .values()
            .chain(bgp.neighbor_groups.values())
            .any(|settings| settings.track_bfd == Some(true))
    });
    ospf || bgp
}

fn translate_vrfs(config: &Config, out: &mut Out) {
    for (name, vrf) in &config.l3vrfs {
        let Some(l3vni) = vrf.l3vni else { continue };
        out.line(format_args!("vrf {name}"));
        out.line(format_args!(" vni {l3vni}"));
        out.line(format_args!("exit-vrf"));
        out.line(format_args!("!"));
    }
}

/// Writes the BFD profile; returns whether BFD is used at all.
fn translate_bfd(config: &Config, out: &mut Out) -> bool {
    if !wants_bfd(config) {
        return false;
    }
    let bfd = &config.bfd;
    if bfd.desired_min_tx_ms.is_none()
        && bfd.required_min_rx_ms.is_none()
        && bfd.detect_multiplier.is_none()
    {
        return true;
    }
    out.line(format_args!("bfd"));
    out.line(format_args!(" profile {BFD_PROFILE}"));
    if let Some(tx) = bfd.desired_min_tx_ms {
        out.line(format_args!("  transmit-interval {tx}"));
    }
    if let Some(rx) = bfd.required_min_rx_ms {
        out.line(format_args!("  receive-interval {rx}"));
    }
    if let Some(multiplier) = bfd.detect_multiplier {
        out.line(format_args!("  detect-multiplier {multiplier}"));
    }
    out.line(format_args!("!"));
    true
}

fn has_bfd_profile(config: &Config) -> bool {
    let bfd = &config.bfd;
    bfd.desired_min_tx_ms.is_some()
        || bfd.required_min_rx_ms.is_some()
        || bfd.detect_multiplier.is_some()
}

fn translate_interfaces(config: &Config, uses_bfd: bool, out: &mut Out) {
    for (name, routing) in &config.routing_interfaces {
        let ospf = &routing.ospf;
        out.line(format_args!("interface {name}"));
        match ospf.network_type {
            Some(OspfNetworkType::PointToPoint) => {
                out.line(format_args!(" ip ospf network point-to-point"))
            }
            Some(OspfNetworkType::Broadcast) => {
                out.line(format_args!(" ip ospf network broadcast"))
            }
            None => {}
        }
        if let Some(hello) = ospf.hello_interval {
            out.line(format_args!(" ip ospf hello-interval {hello}"));
        }
        if let Some(dead) = ospf.dead_interval {
            out.line(format_args!(" ip ospf dead-interval {dead}"));
        }
        if let Some(retransmit) = ospf.retransmit_interval {
            out.line(format_args!(" ip ospf retransmit-interval {retransmit}"));
        }
        if let Some(cost) = ospf.cost {
            out.line(format_args!(" ip ospf cost {cost}"));
        }
        if let Some(priority) = ospf.priority {
            out.line(format_args!(" ip ospf priority {priority}"));
        }
        match &ospf.authentication {
            Some(OspfAuthentication::Simple { password }) => {
                out.line(format_args!(" ip ospf authentication"));
                out.line(format_args!(" ip ospf authentication-key {password}"));
            }
            Some(OspfAuthentication::Md5 { key_id, key }) => {
                out.line(format_args!(" ip ospf authentication message-digest"));
                out.line(format_args!(
                    " ip ospf message-digest-key {key_id} md5 {key}"
                ));
            }
            Some(OspfAuthentication::HmacSha256 { .. }) => {
                out.note(format!(
                    "OSPF HMAC-SHA-256 authentication on {name}: FRR 8.4 ospfd has only simple and MD5"
                ));
            }
            None => {}
        }
        if uses_bfd && ospf.track_bfd == Some(true) {
            out.line(format_args!(" ip ospf bfd"));
            if has_bfd_profile(config) {
                out.line(format_args!(" ip ospf bfd profile {BFD_PROFILE}"));
            }
        }
        out.line(format_args!("!"));
    }
}

fn translate_ospf(config: &Config, ospf: &Ospf, out: &mut Out) {
    out.line(format_args!("router ospf"));
    if let Some(router_id) = ospf.router_id {
        out.line(format_args!(" ospf router-id {router_id}"));
    }
    out.line(format_args!(" log-adjacency-changes detail"));
    for network in &ospf.networks {
        out.line(format_args!(
            " network {} area {}",
            network.prefix, network.area
        ));
    }
    // A loopback never has a neighbor; its address is announced as a stub network.
    let passive: BTreeSet<&String> = config
        .interfaces
        .iter()
        .filter(|(_, interface)| interface.kind == InterfaceKind::Loopback)
        .map(|(name, _)| name)
        .chain(
            config
                .routing_interfaces
                .iter()
                .filter(|(_, routing)| routing.ospf.passive == Some(true))
                .map(|(name, _)| name),
        )
        .collect();
    for name in passive {
        out.line(format_args!(" passive-interface {name}"));
    }
    if ospf.spf_delay_ms.is_some() || ospf.spf_hold_ms.is_some() || ospf.spf_max_hold_ms.is_some() {
        let (delay, hold, max_hold) = FRR_SPF_THROTTLE_MS;
        out.line(format_args!(
            " timers throttle spf {} {} {}",
            ospf.spf_delay_ms.unwrap_or(delay),
            ospf.spf_hold_ms.unwrap_or(hold),
            ospf.spf_max_hold_ms.unwrap_or(max_hold)
        ));
    }
    if let Some(interval) = ospf.lsa_min_interval_ms {
        out.line(format_args!(" timers throttle lsa all {interval}"));
    }
    if let Some(arrival) = ospf.lsa_min_arrival_ms {
        out.line(format_args!(" timers lsa min-arrival {arrival}"));
    }
    // FRR 8.4 leaves opaque LSAs and the graceful restart helper off; both are needed to help
    // a neighbor that restarts (RFC 3623). Restarting itself is not configured: ospfd 8.4 reads
    // a configured grace period at its first start as a restart and withholds its router-LSA.
    if ospf.graceful_restart.helper != Some(false) {
        out.line(format_args!(" capability opaque"));
        out.line(format_args!(" graceful-restart helper enable"));
    }
    out.line(format_args!("!"));
}

fn action(action: Option<PolicyAction>) -> &'static str {
    match action {
        Some(PolicyAction::Deny) => "deny",
        // The parser requires a policy on every entry; permit is FRR's default as well.
        Some(PolicyAction::Permit) | None => "permit",
    }
}

fn community_text(value: u32) -> String {
    format!("{}:{}", value >> 16, value & 0xFFFF)
}

fn translate_policy(config: &Config, out: &mut Out) {
    for (name, list) in &config.prefix_lists {
        for (seq, entry) in &list.entries {
            let Some(prefix) = entry.prefix else { continue };
            let mut line = format!(
                "ip prefix-list {name} seq {seq} {} {prefix}",
                action(entry.action)
            );
            if let Some(ge) = entry.ge {
                let _ = write!(line, " ge {ge}");
            }
            if let Some(le) = entry.le {
                let _ = write!(line, " le {le}");
            }
            out.line(format_args!("{line}"));
        }
    }
    if !config.prefix_lists.is_empty() {
        out.line(format_args!("!"));
    }

    // FRR matches communities and route targets through named lists, one per route-map entry.
    for (name, map) in &config.route_maps {
        for (seq, entry) in &map.entries {
            for condition in &entry.matches {
                match condition {
                    RouteMapMatch::Community(value) => out.line(format_args!(
                        "bgp community-list standard {name}-{seq}-community permit {}",
                        community_text(*value)
                    )),
                    RouteMapMatch::ExtendedCommunityRouteTarget(rt) => out.line(format_args!(
                        "bgp extcommunity-list standard {name}-{seq}-rt permit rt {rt}"
                    )),
                    _ => {}
                }
            }
        }
    }

    for (name, map) in &config.route_maps {
        for (seq, entry) in &map.entries {
            out.line(format_args!(
                "route-map {name} {} {seq}",
                action(entry.action)
            ));
            for condition in &entry.matches {
                match condition {
                    RouteMapMatch::IpAddressPrefixList(list) => {
                        out.line(format_args!(" match ip address prefix-list {list}"))
                    }
                    RouteMapMatch::SourceL3vrf(vrf) => {
                        out.line(format_args!(" match source-vrf {vrf}"))
                    }
                    RouteMapMatch::EvpnRouteType(route_type) => {
                        let keyword = match route_type {
                            1 => "ead",
                            2 => "macip",
                            3 => "multicast",
                            4 => "es",
                            _ => "prefix",
                        };
                        out.line(format_args!(" match evpn route-type {keyword}"))
                    }
                    RouteMapMatch::EvpnVni(vni) => out.line(format_args!(" match evpn vni {vni}")),
                    RouteMapMatch::Community(_) => {
                        out.line(format_args!(" match community {name}-{seq}-community"))
                    }
                    RouteMapMatch::ExtendedCommunityRouteTarget(_) => {
                        out.line(format_args!(" match extcommunity {name}-{seq}-rt"))
                    }
                }
            }
            for set in &entry.sets {
                match set {
                    RouteMapSet::LocalPreference(value) => {
                        out.line(format_args!(" set local-preference {value}"))
                    }
                    RouteMapSet::Med(value) => out.line(format_args!(" set metric {value}")),
                    RouteMapSet::Community { values, additive } => {
                        let values: Vec<String> =
                            values.iter().map(|value| community_text(*value)).collect();
                        let additive = if *additive { " additive" } else { "" };
                        out.line(format_args!(
                            " set community {}{additive}",
                            values.join(" ")
                        ))
                    }
                    RouteMapSet::ExtendedCommunityRouteTarget(rt) => {
                        out.line(format_args!(" set extcommunity rt {rt}"))
                    }
                    RouteMapSet::IpNextHop(address) => {
                        out.line(format_args!(" set ip next-hop {address}"))
                    }
                }
            }
            out.line(format_args!("!"));
        }
    }
}

/// Writes the session settings of a neighbor or peer-group (`key`).
fn neighbor_settings(key: &str, settings: &NeighborSettings, bfd_profile: bool, out: &mut Out) {
    if let Some(description) = &settings.description {
        out.line(format_args!(" neighbor {key} description {description}"));
    }
    if let Some(source) = &settings.update_source {
        out.line(format_args!(" neighbor {key} update-source {source}"));
    }
    if settings.track_bfd == Some(true) {
        out.line(format_args!(" neighbor {key} bfd"));
        if bfd_profile {
            out.line(format_args!(" neighbor {key} bfd profile {BFD_PROFILE}"));
        }
    }
    if let Some(password) = &settings.password {
        out.line(format_args!(" neighbor {key} password {password}"));
    }
    if let Some(hops) = settings.ttl_security_hops {
        out.line(format_args!(" neighbor {key} ttl-security hops {hops}"));
    }
    match (settings.keepalive_interval, settings.hold_time) {
        (None, None) => {}
        // RFC 4271 section 10 suggests a keepalive of one third of the hold time.
        (keepalive, hold) => {
            let hold = hold.unwrap_or_else(|| keepalive.unwrap_or(60).saturating_mul(3));
            let keepalive = keepalive.unwrap_or(hold / 3);
            out.line(format_args!(" neighbor {key} timers {keepalive} {hold}"));
        }
    }
    if let Some(connect) = settings.connect_retry_interval {
        out.line(format_args!(" neighbor {key} timers connect {connect}"));
    }
    if settings.passive == Some(true) {
        out.line(format_args!(" neighbor {key} passive"));
    }
    if settings.shutdown == Some(true) {
        out.line(format_args!(" neighbor {key} shutdown"));
    }
}

/// Returns the address families a neighbor or group activates, after inheriting from its group.
///
/// A family named without `enabled` is enabled. A neighbor that names no family at all, in
/// itself or its group, runs ipv4-unicast, the BGP default.
fn active_families(
    own: &NeighborSettings,
    group: Option<&NeighborSettings>,
) -> BTreeSet<AddressFamily> {
    let mut families = BTreeSet::new();
    let named = own.address_families.keys().chain(
        group
            .into_iter()
            .flat_map(|group| group.address_families.keys()),
    );
    for family in named {
        let enabled = own
            .address_families
            .get(family)
            .and_then(|af| af.enabled)
            .or_else(|| {
                group
                    .and_then(|group| group.address_families.get(family))
                    .and_then(|af| af.enabled)
            })
            .unwrap_or(true);
        if enabled {
            families.insert(*family);
        }
    }
    if own.address_families.is_empty()
        && group.is_none_or(|group| group.address_families.is_empty())
    {
        families.insert(AddressFamily::Ipv4Unicast);
    }
    families
}

fn translate_bgp(
    config: &Config,
    bgp: &Bgp,
    uses_bfd: bool,
    vrf_backend: VrfBackend,
    out: &mut Out,
) {
    let Some(asn) = bgp.asn else {
        out.note("BGP without an AS number".to_string());
        return;
    };
    let bfd_profile = uses_bfd && has_bfd_profile(config);
    out.line(format_args!("router bgp {asn}"));
    if let Some(router_id) = bgp.router_id {
        out.line(format_args!(" bgp router-id {router_id}"));
    }
    out.line(format_args!(" bgp log-neighbor-changes"));
    out.line(format_args!(" no bgp default ipv4-unicast"));
    if bgp.ebgp_requires_policy == Some(false) {
        out.line(format_args!(" no bgp ebgp-requires-policy"));
    }
    if let Some(cluster_id) = bgp.cluster_id {
        out.line(format_args!(" bgp cluster-id {cluster_id}"));
    }
    let restart = &bgp.graceful_restart;
    if restart.enabled == Some(true) {
        out.line(format_args!(" bgp graceful-restart"));
        // Tells the peers (F bit, RFC 4724 section 3) and zebra that forwarding state survives
        // a bgpd restart, so zebra keeps the routes of a restarting bgpd.
        out.line(format_args!(" bgp graceful-restart preserve-fw-state"));
        if let Some(time) = restart.restart_time {
            out.line(format_args!(" bgp graceful-restart restart-time {time}"));
        }
        if let Some(time) = restart.stale_routes_time {
            out.line(format_args!(" bgp graceful-restart stalepath-time {time}"));
        }
    }
    for (name, group) in &bgp.neighbor_groups {
        out.line(format_args!(" neighbor {name} peer-group"));
        if let Some(remote_as) = group.remote_as {
            out.line(format_args!(" neighbor {name} remote-as {remote_as}"));
        }
        neighbor_settings(name, group, bfd_profile, out);
    }
    for range in &bgp.listen_ranges {
        out.line(format_args!(
            " bgp listen range {} peer-group {}",
            range.prefix, range.group
        ));
    }
    for (address, neighbor) in &bgp.neighbors {
        match (&neighbor.group, neighbor.remote_as) {
            (Some(group), remote_as) => {
                if let Some(remote_as) = remote_as {
                    out.line(format_args!(" neighbor {address} remote-as {remote_as}"));
                }
                out.line(format_args!(" neighbor {address} peer-group {group}"));
            }
            (None, Some(remote_as)) => {
                out.line(format_args!(" neighbor {address} remote-as {remote_as}"))
            }
            (None, None) => {
                out.note(format!(
                    "BGP neighbor {address} without remote-as or neighbor-group"
                ));
                continue;
            }
        }
        neighbor_settings(&address.to_string(), neighbor, bfd_profile, out);
    }

    for family in [
        AddressFamily::Ipv4Unicast,
        AddressFamily::Ipv6Unicast,
        AddressFamily::L2vpnEvpn,
    ] {
        let mut lines = Vec::new();
        let keys = bgp
            .neighbor_groups
            .iter()
            .map(|(name, settings)| (name.clone(), settings, None))
            .chain(bgp.neighbors.iter().map(|(address, settings)| {
                let group = settings
                    .group
                    .as_ref()
                    .and_then(|name| bgp.neighbor_groups.get(name));
                (address.to_string(), settings, group)
            }));
        for (key, settings, group) in keys {
            // A member inherits activation from its peer-group in FRR, so only a difference is written.
            let active = active_families(settings, group).contains(&family);
            let group_active =
                group.is_some_and(|group| active_families(group, None).contains(&family));
            if active && !group_active {
                lines.push(format!("  neighbor {key} activate"));
            } else if !active && group_active {
                lines.push(format!("  no neighbor {key} activate"));
            }
            if let Some(af) = settings.address_families.get(&family) {
                if af.route_reflector_client == Some(true) {
                    lines.push(format!("  neighbor {key} route-reflector-client"));
                }
                if let Some(map) = &af.route_map_in {
                    lines.push(format!("  neighbor {key} route-map {map} in"));
                }
                if let Some(map) = &af.route_map_out {
                    lines.push(format!("  neighbor {key} route-map {map} out"));
                }
                if let Some(maximum) = af.maximum_prefix {
                    lines.push(format!("  neighbor {key} maximum-prefix {maximum}"));
                }
                if af.soft_reconfiguration_inbound == Some(true) {
                    lines.push(format!("  neighbor {key} soft-reconfiguration inbound"));
                }
                if af.next_hop_self == Some(true) {
                    lines.push(format!("  neighbor {key} next-hop-self"));
                }
            }
        }
        if family == AddressFamily::L2vpnEvpn {
            if bgp.advertise_all_vni {
                lines.push("  advertise-all-vni".to_string());
            }
            if config
                .l3vrfs
                .values()
                .any(|vrf| vrf.evpn.auto_route_target == Some(AutoRouteTarget::Rfc8365))
            {
                lines.push("  autort rfc8365-compatible".to_string());
            }
        }
        if lines.is_empty() {
            continue;
        }
        let keyword = match family {
            AddressFamily::Ipv4Unicast => "ipv4 unicast",
            AddressFamily::Ipv6Unicast => "ipv6 unicast",
            AddressFamily::L2vpnEvpn => "l2vpn evpn",
        };
        out.line(format_args!(" !"));
        out.line(format_args!(" address-family {keyword}"));
        for line in lines {
            out.line(format_args!("{line}"));
        }
        out.line(format_args!(" exit-address-family"));
    }
    out.line(format_args!("!"));

    for (name, vrf) in &config.l3vrfs {
        translate_bgp_vrf(bgp, asn, name, vrf, vrf_backend, out);
    }
}

fn translate_bgp_vrf(
    bgp: &Bgp,
    asn: u32,
    name: &str,
    vrf: &L3Vrf,
    vrf_backend: VrfBackend,
    out: &mut Out,
) {
    out.line(format_args!("router bgp {asn} vrf {name}"));
    if let Some(router_id) = bgp.router_id {
        out.line(format_args!(" bgp router-id {router_id}"));
    }
    out.line(format_args!(" bgp log-neighbor-changes"));
    if bgp.ebgp_requires_policy == Some(false) {
        out.line(format_args!(" no bgp ebgp-requires-policy"));
    }

    let unicast = &vrf.ipv4_unicast;
    out.line(format_args!(" !"));
    out.line(format_args!(" address-family ipv4 unicast"));
    if unicast.redistribute_connected {
        out.line(format_args!("  redistribute connected"));
    }
    if let Some(rd) = unicast.export_route_distinguisher {
        out.line(format_args!("  rd vpn export {rd}"));
    }
    for rt in &unicast.import_route_targets {
        out.line(format_args!("  rt vpn import {rt}"));
    }
    for rt in &unicast.export_route_targets {
        out.line(format_args!("  rt vpn export {rt}"));
    }
    if !unicast.import_l3vrfs.is_empty() {
        match vrf_backend {
            VrfBackend::VrfDevice => {
                if let Some(map) = &unicast.import_route_map {
                    out.line(format_args!("  import vrf route-map {map}"));
                }
                for source in &unicast.import_l3vrfs {
                    out.line(format_args!("  import vrf {source}"));
                }
            }
            VrfBackend::NetnsVrf => out.note(format!(
                "l3vrf {name} import from {}: FRR 8.4 installs routes leaked between network-namespace VRFs \
                 with an interface of the wrong namespace",
                unicast.import_l3vrfs.join(", ")
            )),
        }
    }
    out.line(format_args!(" exit-address-family"));

    let evpn = &vrf.evpn;
    out.line(format_args!(" !"));
    out.line(format_args!(" address-family l2vpn evpn"));
    if evpn.advertise_ipv4_unicast {
        match &evpn.advertise_route_map {
            Some(map) => out.line(format_args!("  advertise ipv4 unicast route-map {map}")),
            None => out.line(format_args!("  advertise ipv4 unicast")),
        }
    }
    if let Some(rd) = evpn.export_route_distinguisher {
        out.line(format_args!("  rd {rd}"));
    }
    for rt in &evpn.import_route_targets {
        out.line(format_args!("  route-target import {rt}"));
    }
    for rt in &evpn.export_route_targets {
        out.line(format_args!("  route-target export {rt}"));
    }
    out.line(format_args!(" exit-address-family"));
    out.line(format_args!("!"));
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn seed(router: &str) -> Config {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../examples/seed/{router}.nc-cli"));
        crate::config::load(&path).expect("seed configuration loads")
    }

    fn options(vrf_backend: VrfBackend) -> FrrOptions {
        FrrOptions {
            hostname: "router".into(),
            log_file: "/tmp/frr.log".into(),
            vrf_backend,
            debug: false,
        }
    }

    fn has_line(text: &str, line: &str) -> bool {
        text.lines().any(|candidate| candidate == line)
    }

    #[test]
    fn leaf_translates_to_route_reflector_with_listen_range() {
        let frr = translate(&seed("leaf1"), &options(VrfBackend::NetnsVrf));
        let text = &frr.text;
        for line in [
            "hostname leaf1",
            "router bgp 65500",
            " bgp router-id 10.0.0.201",
            " no bgp ebgp-requires-policy",
            " neighbor HNAs peer-group",
            " neighbor HNAs remote-as 65500",
            " neighbor HNAs update-source loop0",
            " neighbor HNAs bfd",
            " bgp listen range 10.0.0.0/16 peer-group HNAs",
            " address-family l2vpn evpn",
            "  neighbor HNAs activate",
            "  neighbor HNAs route-reflector-client",
            "router ospf",
            " ospf router-id 10.0.0.201",
            " network 10.0.0.0/16 area 0.0.0.0",
            " passive-interface loop0",
            "interface eth1",
            " ip ospf bfd",
        ] {
            assert!(has_line(text, line), "missing `{line}` in:\n{text}");
        }
        assert!(
            !text.contains("address-family ipv4 unicast"),
            "ipv4-unicast is disabled for the group:\n{text}"
        );
        assert_eq!(frr.daemons, vec!["ospfd", "bfdd", "bgpd"]);
        assert!(frr.notes.is_empty(), "{:?}", frr.notes);
        assert!(
            !text.lines().any(|line| line.trim() == "exit"),
            "a block ends with `!`, never `exit`:\n{text}"
        );
    }

    #[test]
    fn hna_translates_tenants_with_l3vni_and_type5() {
        let frr = translate(&seed("hna1"), &options(VrfBackend::NetnsVrf));
        let text = &frr.text;
        for line in [
            "vrf vrf100",
            " vni 100",
            "vrf vrf101",
            " vni 101",
            " neighbor 10.0.0.201 remote-as 65500",
            " neighbor 10.0.0.201 update-source loop0",
            " neighbor 10.0.0.201 bfd",
            "  neighbor 10.0.0.201 activate",
            "  advertise-all-vni",
            "  autort rfc8365-compatible",
            "router bgp 65500 vrf vrf100",
            "  redistribute connected",
            "  advertise ipv4 unicast route-map rm100-export",
            "  rd 65500:100",
            "ip prefix-list pl100-export seq 10000 permit 10.60.0.0/16",
            "route-map rm100-import permit 10000",
            " match ip address prefix-list pl100-import",
            " match source-vrf vrf101",
            "interface pci-b0s4",
        ] {
            assert!(has_line(text, line), "missing `{line}` in:\n{text}");
        }
    }

    #[test]
    fn netns_vrfs_leave_out_leaking_with_a_note() {
        let frr = translate(&seed("hna1"), &options(VrfBackend::NetnsVrf));
        assert!(!frr.text.contains("import vrf"), "{}", frr.text);
        assert_eq!(frr.notes.len(), 2, "{:?}", frr.notes);
        assert!(
            frr.notes[0].contains("l3vrf vrf100 import from vrf101"),
            "{:?}",
            frr.notes
        );
    }

    #[test]
    fn vrf_devices_translate_leaking() {
        let frr = translate(&seed("hna1"), &options(VrfBackend::VrfDevice));
        assert!(
            has_line(&frr.text, "  import vrf route-map rm100-import"),
            "{}",
            frr.text
        );
        assert!(has_line(&frr.text, "  import vrf vrf101"), "{}", frr.text);
        assert!(frr.notes.is_empty(), "{:?}", frr.notes);
    }

    #[test]
    fn lab_timers_translate_to_frr_timers() {
        let mut text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seed/hna1.nc-cli"),
        )
        .unwrap();
        text.push_str(
            "/ vrf main routing bfd desired-min-tx-interval 100 required-min-rx-interval 100 detection-multiplier 3\n\
             / vrf main routing ospf timers spf-delay 0 spf-hold 50 lsa-min-interval 100 lsa-min-arrival 50\n\
             / vrf main routing interface pci-b0s4 ip ospf network-type point-to-point hello-interval 1 dead-interval 4\n\
             / vrf main routing bgp graceful-restart enabled true restart-time 90\n\
             / vrf main routing bgp neighbor 10.0.0.201 timers connect-retry-interval 5\n",
        );
        let config = crate::config::parse(&text, Path::new("hna1.nc-cli")).unwrap();
        let frr = translate(&config, &options(VrfBackend::NetnsVrf));
        for line in [
            "bfd",
            " profile hna-config",
            "  transmit-interval 100",
            "  receive-interval 100",
            "  detect-multiplier 3",
            " ip ospf bfd profile hna-config",
            " neighbor 10.0.0.201 bfd profile hna-config",
            " ip ospf network point-to-point",
            " ip ospf hello-interval 1",
            " ip ospf dead-interval 4",
            " timers throttle spf 0 50 5000",
            " timers throttle lsa all 100",
            " timers lsa min-arrival 50",
            " bgp graceful-restart",
            " bgp graceful-restart restart-time 90",
            " neighbor 10.0.0.201 timers connect 5",
        ] {
            assert!(
                has_line(&frr.text, line),
                "missing `{line}` in:\n{}",
                frr.text
            );
        }
    }

    #[test]
    fn neighbor_without_families_runs_ipv4_unicast() {
        let text = "/ vrf main routing bgp as 65001\n/ vrf main routing bgp neighbor 192.0.2.1 remote-as 65002\n";
        let config = crate::config::parse(text, Path::new("x")).unwrap();
        let frr = translate(&config, &options(VrfBackend::VrfDevice));
        assert!(
            has_line(&frr.text, " address-family ipv4 unicast"),
            "{}",
            frr.text
        );
        assert!(
            has_line(&frr.text, "  neighbor 192.0.2.1 activate"),
            "{}",
            frr.text
        );
        assert_eq!(frr.daemons, vec!["bgpd"]);
    }
}
