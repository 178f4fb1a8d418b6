//! Turns the typed configuration into the protocol crates' own settings, with the defaults the
//! configuration leaves to the daemon: router ids, the VTEP address, router MACs, and the names
//! of the kernel objects the daemon creates for tenants.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use hna_evpn::control::{
    AutoRouteTarget, DuplicateDetection, EvpnConfig, IpVrfConfig, MacVrfConfig,
};
use hna_evpn::{MacAddress, RouteDistinguisher, RouteTarget};

use crate::config::{self, Config, InterfaceKind, OspfAuthentication, OspfNetworkType, RdOrRt};

/// BFD timers used when the configuration sets none: FRR's defaults.
pub const DEFAULT_BFD_INTERVAL: Duration = Duration::from_millis(300);
pub const DEFAULT_BFD_MULTIPLIER: u8 = 3;

/// Returns the router id: the configured BGP or OSPF router id, else the first loopback address.
pub fn router_id(config: &Config) -> Option<Ipv4Addr> {
    config
        .bgp
        .as_ref()
        .and_then(|bgp| bgp.router_id)
        .or_else(|| config.ospf.as_ref().and_then(|ospf| ospf.router_id))
        .or_else(|| loopback_address(config))
}

/// Returns the first address of the first loopback interface.
pub fn loopback_address(config: &Config) -> Option<Ipv4Addr> {
    config
        .interfaces
        .values()
        .filter(|interface| interface.kind == InterfaceKind::Loopback)
        .flat_map(|interface| interface.ipv4_addresses.iter())
        .map(|address| address.addr())
        .next()
}

/// Returns the local VTEP address: the `local` of the VXLAN interfaces, else the loopback.
pub fn vtep_address(config: &Config) -> Option<Ipv4Addr> {
    config
        .interfaces
        .values()
        .filter_map(|interface| interface.vxlan.as_ref()?.local)
        .next()
        .or_else(|| loopback_address(config))
}

/// Returns this node's router MAC for symmetric IRB: a locally administered unicast address
/// built from the router id, so that it is stable across restarts and unique in the fabric.
pub fn router_mac(router_id: Ipv4Addr) -> MacAddress {
    let [a, b, c, d] = router_id.octets();
    MacAddress([0x02, 0x00, a, b, c, d])
}

/// Returns the name of the network namespace that contains an L3VRF's interfaces and routes.
pub fn vrf_namespace(prefix: &str, l3vrf: &str) -> String {
    format!("{prefix}{l3vrf}")
}

/// Returns the name of the bridge (SVI) that carries an L3VNI's router MAC in its tenant's
/// namespace: the kernel routes symmetric IRB traffic through it.
pub fn l3vni_bridge(l3vni: u32) -> String {
    format!("irb{l3vni}")
}

/// Converts a configured RD.
pub fn route_distinguisher(value: RdOrRt) -> RouteDistinguisher {
    match value {
        RdOrRt::As2 { asn, number } => RouteDistinguisher::As2 { asn, number },
        RdOrRt::Ipv4 { address, number } => RouteDistinguisher::Ipv4 { address, number },
        RdOrRt::As4 { asn, number } => RouteDistinguisher::As4 { asn, number },
    }
}

/// Converts a configured route target.
pub fn route_target(value: RdOrRt) -> RouteTarget {
    match value {
        RdOrRt::As2 { asn, number } => RouteTarget::As2 { asn, value: number },
        RdOrRt::Ipv4 { address, number } => RouteTarget::Ipv4 {
            address,
            value: number,
        },
        RdOrRt::As4 { asn, number } => RouteTarget::As4 { asn, value: number },
    }
}

/// Default OSPF grace period (RFC 3623), as FRR's.
pub const DEFAULT_OSPF_GRACE_PERIOD: Duration = Duration::from_secs(120);

/// Returns the OSPF grace period of the configuration.
pub fn ospf_grace_period(config: &Config) -> Duration {
    config
        .ospf
        .as_ref()
        .and_then(|ospf| ospf.graceful_restart.grace_period)
        .map_or(DEFAULT_OSPF_GRACE_PERIOD, |seconds| {
            Duration::from_secs(seconds.into())
        })
}

/// Returns the OSPF instance's settings, or `None` when OSPF is not configured.
pub fn ospf(config: &Config) -> Option<hna_ospf::Config> {
    ospf_restarting(config, None)
}

/// Returns the OSPF instance's settings for a start `since_graceful_stop` after a graceful stop:
/// within the grace period the instance restarts gracefully (RFC 3623 section 2) for the time
/// left.
pub fn ospf_restarting(
    config: &Config,
    since_graceful_stop: Option<Duration>,
) -> Option<hna_ospf::Config> {
    let ospf = config.ospf.as_ref()?;
    let mut settings = hna_ospf::Config::new(ospf.router_id.or_else(|| router_id(config))?);
    let grace_period = ospf_grace_period(config);
    settings.graceful_restart.restart_enabled = ospf.graceful_restart.enabled.unwrap_or(false);
    settings.graceful_restart.helper_enabled = ospf.graceful_restart.helper.unwrap_or(true);
    settings.graceful_restart.grace_period = grace_period;
    if let Some(elapsed) = since_graceful_stop.filter(|_| settings.graceful_restart.restart_enabled)
    {
        if elapsed < grace_period {
            settings.graceful_restart.restarting = true;
            settings.graceful_restart.grace_period = grace_period - elapsed;
        }
    }
    for network in &ospf.networks {
        settings = settings.network(network.prefix);
    }
    if let Some(delay) = ospf.spf_delay_ms {
        settings.spf_throttle.initial_delay = Duration::from_millis(delay.into());
    }
    if let Some(hold) = ospf.spf_hold_ms {
        settings.spf_throttle.hold = Duration::from_millis(hold.into());
    }
    if let Some(maximum) = ospf.spf_max_hold_ms {
        settings.spf_throttle.maximum = Duration::from_millis(maximum.into());
    }
    if let Some(interval) = ospf.lsa_min_interval_ms {
        settings.lsa_throttle.min_ls_interval = Duration::from_millis(interval.into());
    }
    if let Some(arrival) = ospf.lsa_min_arrival_ms {
        settings.lsa_throttle.min_ls_arrival = Duration::from_millis(arrival.into());
    }
    for (name, routing) in &config.routing_interfaces {
        let defaults = hna_ospf::InterfaceConfig::default();
        let ospf = &routing.ospf;
        let interface = hna_ospf::InterfaceConfig {
            network_type: match ospf.network_type {
                Some(OspfNetworkType::PointToPoint) => hna_ospf::NetworkType::PointToPoint,
                Some(OspfNetworkType::Broadcast) => hna_ospf::NetworkType::Broadcast,
                None => defaults.network_type,
            },
            cost: ospf.cost.unwrap_or(defaults.cost),
            hello_interval: ospf.hello_interval.unwrap_or(defaults.hello_interval),
            // RFC 2328 appendix C.3: the dead interval defaults to four hello intervals.
            dead_interval: ospf.dead_interval.unwrap_or_else(|| {
                ospf.hello_interval
                    .map_or(defaults.dead_interval, |hello| u32::from(hello) * 4)
            }),
            retransmit_interval: ospf
                .retransmit_interval
                .unwrap_or(defaults.retransmit_interval),
            priority: ospf.priority.unwrap_or(defaults.priority),
            authentication: match &ospf.authentication {
                None => hna_ospf::Authentication::Null,
                Some(OspfAuthentication::Simple { password }) => hna_ospf::Authentication::Simple {
                    password: password.as_bytes().to_vec(),
                },
                Some(OspfAuthentication::Md5 { key_id, key }) => hna_ospf::Authentication::Md5 {
                    key_id: *key_id,
                    key: key.as_bytes().to_vec(),
                },
                Some(OspfAuthentication::HmacSha256 { key_id, key }) => {
                    hna_ospf::Authentication::HmacSha256 {
                        key_id: *key_id,
                        key: key.as_bytes().to_vec(),
                    }
                }
            },
            track_bfd: ospf.track_bfd.unwrap_or(false),
            passive: ospf.passive.unwrap_or(false),
            ..defaults
        };
        settings = settings.interface(name, interface);
    }
    Some(settings)
}

/// Returns the BFD parameters of every session the configuration requests.
pub fn bfd_params(config: &Config) -> hna_bfd::SessionParams {
    let bfd = &config.bfd;
    let tx = bfd
        .desired_min_tx_ms
        .map_or(DEFAULT_BFD_INTERVAL, |ms| Duration::from_millis(ms.into()));
    let rx = bfd
        .required_min_rx_ms
        .map_or(DEFAULT_BFD_INTERVAL, |ms| Duration::from_millis(ms.into()));
    let multiplier = bfd.detect_multiplier.unwrap_or(DEFAULT_BFD_MULTIPLIER);
    // The configuration reader bounds every value to what SessionParams accepts.
    hna_bfd::SessionParams::new(tx, rx, multiplier)
        .expect("BFD timers validated by the configuration reader")
}

/// Returns the EVPN control plane's settings, or `None` without BGP or a VTEP address.
///
/// An L2VNI is a VXLAN interface that is a member of a bridge and whose VNI is no tenant's
/// L3VNI. L2VNIs are only active with `advertise-all-vni`, as in FRR.
pub fn evpn(config: &Config) -> Option<EvpnConfig> {
    let bgp = config.bgp.as_ref()?;
    let router_id = router_id(config)?;
    let vtep = vtep_address(config)?;
    let asn = bgp.asn?;
    let l3vnis: BTreeMap<u32, &str> = config
        .l3vrfs
        .iter()
        .filter_map(|(name, vrf)| Some((vrf.l3vni?, name.as_str())))
        .collect();

    let mut mac_vrfs = Vec::new();
    if bgp.advertise_all_vni {
        for (name, interface) in &config.interfaces {
            let Some(vni) = interface.vxlan.as_ref().and_then(|vxlan| vxlan.vni) else {
                continue;
            };
            if l3vnis.contains_key(&vni) {
                continue;
            }
            let Some((bridge_name, bridge)) = config.interfaces.iter().find(|(_, candidate)| {
                candidate
                    .bridge
                    .as_ref()
                    .is_some_and(|b| b.members.iter().any(|member| member.name == *name))
            }) else {
                continue;
            };
            let tenant = bridge.l3vrf.clone();
            let auto = tenant
                .as_deref()
                .and_then(|vrf| config.l3vrfs.get(vrf))
                .and_then(|vrf| vrf.evpn.auto_route_target)
                .map_or(AutoRouteTarget::AsVni, |_| AutoRouteTarget::Rfc8365);
            mac_vrfs.push(MacVrfConfig {
                vni,
                bridge: bridge_name.clone(),
                vxlan_device: name.clone(),
                ip_vrf: tenant
                    .filter(|vrf| config.l3vrfs.get(vrf).is_some_and(|v| v.l3vni.is_some())),
                rd: None,
                export_route_targets: Vec::new(),
                import_route_targets: Vec::new(),
                auto_route_target: auto,
            });
        }
    }

    let ip_vrfs = config
        .l3vrfs
        .iter()
        .filter_map(|(name, vrf)| {
            let l3vni = vrf.l3vni?;
            Some(IpVrfConfig {
                name: name.clone(),
                l3vni,
                router_mac: router_mac(router_id),
                rd: vrf.evpn.export_route_distinguisher.map(route_distinguisher),
                export_route_targets: vrf
                    .evpn
                    .export_route_targets
                    .iter()
                    .copied()
                    .map(route_target)
                    .collect(),
                import_route_targets: vrf
                    .evpn
                    .import_route_targets
                    .iter()
                    .copied()
                    .map(route_target)
                    .collect(),
                auto_route_target: match vrf.evpn.auto_route_target {
                    Some(config::AutoRouteTarget::Rfc8365) => AutoRouteTarget::Rfc8365,
                    None => AutoRouteTarget::AsVni,
                },
                advertise_ipv4_unicast: vrf.evpn.advertise_ipv4_unicast,
                advertise_route_map: vrf.evpn.advertise_route_map.clone(),
                redistribute_connected: vrf.ipv4_unicast.redistribute_connected,
                import_vrfs: vrf.ipv4_unicast.import_l3vrfs.clone(),
                import_route_map: vrf.ipv4_unicast.import_route_map.clone(),
            })
        })
        .collect();

    Some(EvpnConfig {
        asn,
        router_id,
        vtep,
        mac_vrfs,
        ip_vrfs,
        duplicate_detection: DuplicateDetection::default(),
    })
}

/// Returns the address a BGP session with `update_source` as source binds to: the interface's
/// first address.
pub fn interface_address(config: &Config, interface: &str) -> Option<IpAddr> {
    config
        .interfaces
        .get(interface)?
        .ipv4_addresses
        .first()
        .map(|address| IpAddr::V4(address.addr()))
}

/// Converts the prefix-lists and route-maps for the BGP policy engine (which also serves the EVPN
/// control plane's route-maps).
pub fn policy(config: &Config) -> hna_bgp::policy::PolicySet {
    use hna_bgp::policy::{
        Action, Match, PolicySet, PrefixList, PrefixListEntry, RouteMap, RouteMapEntry, Set,
    };

    let action = |action: Option<config::PolicyAction>| match action {
        Some(config::PolicyAction::Permit) => Action::Permit,
        // The reader rejects entries without a policy; deny is the safe reading of none.
        Some(config::PolicyAction::Deny) | None => Action::Deny,
    };

    let prefix_lists = config
        .prefix_lists
        .iter()
        .map(|(name, list)| {
            let entries = list
                .entries
                .iter()
                .filter_map(|(seq, entry)| {
                    Some(PrefixListEntry {
                        seq: *seq,
                        action: action(entry.action),
                        prefix: ipnet::IpNet::V4(entry.prefix?),
                        ge: entry.ge,
                        le: entry.le,
                    })
                })
                .collect();
            (name.clone(), PrefixList::new(entries))
        })
        .collect();

    let route_maps = config
        .route_maps
        .iter()
        .map(|(name, map)| {
            let entries = map
                .entries
                .iter()
                .map(|(seq, entry)| RouteMapEntry {
                    seq: *seq,
                    action: action(entry.action),
                    matches: entry
                        .matches
                        .iter()
                        .map(|condition| match condition {
                            config::RouteMapMatch::IpAddressPrefixList(list) => {
                                Match::PrefixList(list.clone())
                            }
                            config::RouteMapMatch::SourceL3vrf(vrf) => {
                                Match::SourceL3vrf(vrf.clone())
                            }
                            config::RouteMapMatch::EvpnRouteType(route_type) => {
                                Match::EvpnRouteType(*route_type)
                            }
                            config::RouteMapMatch::EvpnVni(vni) => Match::EvpnVni(*vni),
                            config::RouteMapMatch::Community(value) => {
                                Match::Community(vec![hna_bgp::Community(*value)])
                            }
                            config::RouteMapMatch::ExtendedCommunityRouteTarget(rt) => {
                                Match::RouteTarget(vec![route_target(*rt)])
                            }
                        })
                        .collect(),
                    sets: entry
                        .sets
                        .iter()
                        .map(|action| match action {
                            config::RouteMapSet::LocalPreference(value) => {
                                Set::LocalPreference(*value)
                            }
                            config::RouteMapSet::Med(value) => Set::Med(*value),
                            config::RouteMapSet::Community { values, additive } => Set::Community {
                                communities: values
                                    .iter()
                                    .map(|value| hna_bgp::Community(*value))
                                    .collect(),
                                additive: *additive,
                            },
                            config::RouteMapSet::ExtendedCommunityRouteTarget(rt) => {
                                Set::RouteTargetAdd(vec![route_target(*rt)])
                            }
                            config::RouteMapSet::IpNextHop(address) => {
                                Set::NextHop(IpAddr::V4(*address))
                            }
                        })
                        .collect(),
                })
                .collect();
            (name.clone(), RouteMap::new(entries))
        })
        .collect();

    PolicySet {
        prefix_lists,
        route_maps,
    }
}

/// Returns the BGP instance's settings, or `None` when BGP is not configured.
///
/// `update-source NAME` names an interface; the session binds to its first address.
pub fn bgp(config: &Config) -> Option<hna_bgp::config::BgpConfig> {
    use hna_bgp::config::{
        BgpConfig, FamilySettings, GracefulRestartConfig, ListenRange, NeighborSettings,
    };

    let bgp = config.bgp.as_ref()?;
    let mut settings = BgpConfig::new(bgp.asn?, router_id(config)?);
    settings.cluster_id = bgp.cluster_id;
    // RFC 8212 makes policy mandatory for eBGP unless configured otherwise, as FRR 8.4 does.
    settings.ebgp_requires_policy = bgp.ebgp_requires_policy.unwrap_or(true);
    let defaults = GracefulRestartConfig::default();
    settings.graceful_restart = GracefulRestartConfig {
        enabled: bgp.graceful_restart.enabled.unwrap_or(false),
        restart_time: bgp
            .graceful_restart
            .restart_time
            .unwrap_or(defaults.restart_time),
        stale_routes_time: bgp
            .graceful_restart
            .stale_routes_time
            .unwrap_or(defaults.stale_routes_time),
        ..defaults
    };
    settings.policy = std::sync::Arc::new(policy(config));

    let convert = |neighbor: &config::NeighborSettings| NeighborSettings {
        group: neighbor.group.clone(),
        remote_as: neighbor.remote_as,
        description: neighbor.description.clone(),
        update_source: neighbor
            .update_source
            .as_deref()
            .and_then(|name| interface_address(config, name)),
        families: neighbor
            .address_families
            .iter()
            .map(|(family, af)| {
                let afi_safi = match family {
                    config::AddressFamily::Ipv4Unicast => hna_bgp::AfiSafi::IPV4_UNICAST,
                    config::AddressFamily::Ipv6Unicast => hna_bgp::AfiSafi::IPV6_UNICAST,
                    config::AddressFamily::L2vpnEvpn => hna_bgp::AfiSafi::L2VPN_EVPN,
                };
                let settings = FamilySettings {
                    enabled: af.enabled,
                    route_reflector_client: af.route_reflector_client,
                    route_map_in: af.route_map_in.clone(),
                    route_map_out: af.route_map_out.clone(),
                    maximum_prefix: af.maximum_prefix,
                    soft_reconfiguration_inbound: af.soft_reconfiguration_inbound,
                    next_hop_self: af.next_hop_self,
                    add_path: None,
                };
                (afi_safi, settings)
            })
            .collect(),
        track_bfd: neighbor.track_bfd,
        password: neighbor.password.clone(),
        ttl_security_hops: neighbor.ttl_security_hops,
        hold_time: neighbor.hold_time,
        keepalive: neighbor.keepalive_interval,
        connect_retry: neighbor.connect_retry_interval,
        passive: neighbor.passive,
        shutdown: neighbor.shutdown,
        ..NeighborSettings::default()
    };
    settings.groups = bgp
        .neighbor_groups
        .iter()
        .map(|(name, group)| (name.clone(), convert(group)))
        .collect();
    settings.neighbors = bgp
        .neighbors
        .iter()
        .map(|(address, neighbor)| (*address, convert(neighbor)))
        .collect();
    settings.listen_ranges = bgp
        .listen_ranges
        .iter()
        .map(|range| ListenRange {
            prefix: range.prefix,
            group: range.group.clone(),
        })
        .collect();
    Some(settings)
}

/// Returns the BGP restart time peers keep our routes for (RFC 4724), or zero without graceful
/// restart.
pub fn bgp_restart_time(config: &Config) -> Duration {
    let Some(bgp) = &config.bgp else {
        return Duration::ZERO;
    };
    if bgp.graceful_restart.enabled != Some(true) {
        return Duration::ZERO;
    }
    Duration::from_secs(bgp.graceful_restart.restart_time.unwrap_or(120).into())
}
