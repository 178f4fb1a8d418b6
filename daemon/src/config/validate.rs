//! Checks that need the whole file: names used before or after their definition, required
//! settings, and values that must agree with each other.

use std::collections::BTreeMap;

use super::error::{ConfigError, Position};
use super::model::{Config, InterfaceKind, RdOrRt};
use super::parser::{Origins, Reference, ReferenceKind};

pub(super) fn validate(
    config: &Config,
    references: &[Reference],
    origins: &Origins,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    check_references(config, references, &mut errors);
    check_interfaces(config, origins, &mut errors);
    check_l3vrfs(config, origins, &mut errors);
    check_ospf_timers(config, origins, &mut errors);
    check_bgp(config, origins, &mut errors);
    check_policy(config, origins, &mut errors);
    errors
}

fn check_references(config: &Config, references: &[Reference], errors: &mut Vec<ConfigError>) {
    for reference in references {
        let defined = match reference.kind {
            ReferenceKind::Interface => config.interfaces.contains_key(&reference.name),
            ReferenceKind::L3vrf => config.l3vrfs.contains_key(&reference.name),
            ReferenceKind::PrefixList => config.prefix_lists.contains_key(&reference.name),
            ReferenceKind::RouteMap => config.route_maps.contains_key(&reference.name),
            ReferenceKind::NeighborGroup => config
                .bgp
                .as_ref()
                .is_some_and(|bgp| bgp.neighbor_groups.contains_key(&reference.name)),
        };
        if !defined {
            let kind = reference.kind.label();
            errors.push(ConfigError::new(
                reference.position,
                format!("{kind} `{}` is not defined", reference.name),
                format!("the name of a {kind} defined in this file"),
            ));
        }
    }
}

fn check_interfaces(config: &Config, origins: &Origins, errors: &mut Vec<ConfigError>) {
    let position = |name: &str| origins.interfaces.get(name).copied().unwrap_or_default();
    let mut vnis: BTreeMap<u32, &str> = BTreeMap::new();
    let mut bridge_of: BTreeMap<&str, &str> = BTreeMap::new();

    for (name, interface) in &config.interfaces {
        if let Some(vxlan) = &interface.vxlan {
            match vxlan.vni {
                None => errors.push(ConfigError::new(
                    position(name),
                    format!("vxlan `{name}` has no vni"),
                    format!("`/ vrf main interface vxlan {name} vni NUMBER`"),
                )),
                Some(vni) => {
                    if let Some(other) = vnis.insert(vni, name) {
                        errors.push(ConfigError::new(
                            position(name),
                            format!("vni {vni} is used by vxlan `{other}` and `{name}`"),
                            "one vxlan interface per VNI",
                        ));
                    }
                }
            }
            if vxlan.local.is_none() {
                errors.push(ConfigError::new(
                    position(name),
                    format!("vxlan `{name}` has no local address"),
                    format!("`/ vrf main interface vxlan {name} local ADDRESS` (the loopback)"),
                ));
            }
        }
        if let Some(bridge) = &interface.bridge {
            for member in &bridge.members {
                if let Some(member_interface) = config.interfaces.get(&member.name) {
                    if matches!(
                        member_interface.kind,
                        InterfaceKind::Bridge | InterfaceKind::Loopback
                    ) {
                        errors.push(ConfigError::new(
                            position(name),
                            format!("`{}` cannot be a port of bridge `{name}`", member.name),
                            "a physical, fpvhost, infrastructure or vxlan interface",
                        ));
                    }
                }
                if let Some(other) = bridge_of.insert(&member.name, name) {
                    errors.push(ConfigError::new(
                        position(name),
                        format!("`{}` is a port of both `{other}` and `{name}`", member.name),
                        "each port in one bridge",
                    ));
                }
            }
        }
    }
}

/// The hello interval when a configuration sets none (RFC 2328 appendix C.3, FRR's default).
const DEFAULT_HELLO_INTERVAL: u32 = 10;

fn check_ospf_timers(config: &Config, origins: &Origins, errors: &mut Vec<ConfigError>) {
    for (name, interface) in &config.routing_interfaces {
        let Some(dead) = interface.ospf.dead_interval else {
            continue;
        };
        let hello = interface
            .ospf
            .hello_interval
            .map_or(DEFAULT_HELLO_INTERVAL, u32::from);
        // Below the hello interval, the neighbor is declared down between two Hellos.
        if dead <= hello {
            errors.push(ConfigError::new(
                origins
                    .dead_intervals
                    .get(name)
                    .copied()
                    .unwrap_or_default(),
                format!(
                    "dead interval {dead} s of `{name}` is not above its hello interval {hello} s"
                ),
                "a dead interval of several hello intervals (4 by default)",
            ));
        }
    }
}

fn check_l3vrfs(config: &Config, origins: &Origins, errors: &mut Vec<ConfigError>) {
    let mut l3vnis: BTreeMap<u32, &str> = BTreeMap::new();
    let mut table_ids: BTreeMap<u32, &str> = BTreeMap::new();
    let mut evpn_rds: Vec<(&RdOrRt, &str)> = Vec::new();
    for (name, vrf) in &config.l3vrfs {
        let position = origins.l3vrfs.get(name).copied().unwrap_or_default();
        // The RD is what keeps the routes of different VRFs apart (RFC 4364), so type-5 routes
        // of two VRFs under one RD would be the same routes to every peer.
        if let Some(rd) = &vrf.evpn.export_route_distinguisher {
            if let Some((_, other)) = evpn_rds.iter().find(|(seen, _)| *seen == rd) {
                errors.push(ConfigError::new(
                    position,
                    format!("route distinguisher {rd} is used by l3vrf `{other}` and `{name}`"),
                    "one route distinguisher per l3vrf",
                ));
            }
            evpn_rds.push((rd, name));
        }
        if let Some(l3vni) = vrf.l3vni {
            let has_device = config
                .interfaces
                .values()
                .any(|i| i.vxlan.as_ref().is_some_and(|v| v.vni == Some(l3vni)));
            if !has_device {
                errors.push(ConfigError::new(
                    position,
                    format!(
                        "l3vrf `{name}` has l3vni {l3vni} but no vxlan interface carries that vni"
                    ),
                    format!("`/ vrf main interface vxlan NAME vni {l3vni}`"),
                ));
            }
            // A VNI is either a subnet's L2VNI (its vxlan interface is a bridge port) or a
            // tenant's L3VNI (RFC 9135 symmetric IRB), never both.
            for (vxlan_name, _) in config.interfaces.iter().filter(|(_, interface)| {
                interface
                    .vxlan
                    .as_ref()
                    .is_some_and(|vxlan| vxlan.vni == Some(l3vni))
            }) {
                let bridge = config.interfaces.iter().find(|(_, interface)| {
                    interface.bridge.as_ref().is_some_and(|bridge| {
                        bridge
                            .members
                            .iter()
                            .any(|member| &member.name == vxlan_name)
                    })
                });
                if let Some((bridge_name, _)) = bridge {
                    errors.push(ConfigError::new(
                        position,
                        format!(
                            "l3vni {l3vni} of l3vrf `{name}` is the L2VNI of bridge \
                             `{bridge_name}` (vxlan `{vxlan_name}` is its port)"
                        ),
                        "an l3vni on a vxlan interface of its own, outside every bridge",
                    ));
                }
            }
            if let Some(other) = l3vnis.insert(l3vni, name) {
                errors.push(ConfigError::new(
                    position,
                    format!("l3vni {l3vni} is used by l3vrf `{other}` and `{name}`"),
                    "one l3vrf per L3VNI",
                ));
            }
        }
        if let Some(table) = vrf.table_id {
            if let Some(other) = table_ids.insert(table, name) {
                errors.push(ConfigError::new(
                    position,
                    format!("table-id {table} is used by l3vrf `{other}` and `{name}`"),
                    "one table per l3vrf",
                ));
            }
        }
    }
}

fn check_bgp(config: &Config, origins: &Origins, errors: &mut Vec<ConfigError>) {
    let Some(bgp) = &config.bgp else { return };
    let bgp_position = origins.bgp.unwrap_or_default();
    if bgp.asn.is_none() {
        errors.push(ConfigError::new(
            bgp_position,
            "bgp has no AS number",
            "`/ vrf main routing bgp as NUMBER`",
        ));
    }
    for (address, neighbor) in &bgp.neighbors {
        let group_as = neighbor
            .group
            .as_ref()
            .and_then(|g| bgp.neighbor_groups.get(g))
            .and_then(|g| g.remote_as);
        if neighbor.remote_as.or(group_as).is_none() {
            let position = origins
                .neighbors
                .get(&address.to_string())
                .copied()
                .unwrap_or(bgp_position);
            errors.push(ConfigError::new(position, format!("neighbor {address} has no remote-as"), format!("`/ vrf main routing bgp neighbor {address} remote-as NUMBER` or a neighbor-group with one")));
        }
    }
    for range in &bgp.listen_ranges {
        if let Some(group) = bgp.neighbor_groups.get(&range.group) {
            if group.remote_as.is_none() {
                errors.push(ConfigError::new(
                    bgp_position,
                    format!(
                        "neighbor-group `{}` of listen range {} has no remote-as",
                        range.group, range.prefix
                    ),
                    format!(
                        "`/ vrf main routing bgp neighbor-group {} remote-as NUMBER`",
                        range.group
                    ),
                ));
            }
        }
    }
}

fn check_policy(config: &Config, origins: &Origins, errors: &mut Vec<ConfigError>) {
    for (name, list) in &config.prefix_lists {
        for (seq, entry) in &list.entries {
            let position = origins
                .prefix_list_entries
                .get(&(name.clone(), *seq))
                .copied()
                .unwrap_or_default();
            let Some(prefix) = entry.prefix else {
                errors.push(ConfigError::new(
                    position,
                    format!("ipv4-prefix-list `{name}` seq {seq} has no address"),
                    "`address PREFIX`",
                ));
                continue;
            };
            if entry.action.is_none() {
                errors.push(ConfigError::new(
                    position,
                    format!("ipv4-prefix-list `{name}` seq {seq} has no policy"),
                    "`policy permit` or `policy deny`",
                ));
            }
            let length = prefix.prefix_len();
            let ge = entry.ge.unwrap_or(length);
            let le = entry
                .le
                .unwrap_or(if entry.ge.is_some() { 32 } else { length });
            if ge < length || le < ge {
                errors.push(ConfigError::new(position, format!("ipv4-prefix-list `{name}` seq {seq}: ge {ge} and le {le} do not fit prefix length {length}"), format!("{length} <= ge <= le <= 32")));
            }
        }
    }
    for (name, map) in &config.route_maps {
        for (seq, entry) in &map.entries {
            if entry.action.is_none() {
                let position: Position = origins
                    .route_map_entries
                    .get(&(name.clone(), *seq))
                    .copied()
                    .unwrap_or_default();
                errors.push(ConfigError::new(
                    position,
                    format!("route-map `{name}` seq {seq} has no policy"),
                    "`policy permit` or `policy deny`",
                ));
            }
        }
    }
}
