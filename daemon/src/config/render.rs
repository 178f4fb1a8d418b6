//! Writes a [`Config`] back in the path-style format, one leaf per line, in a fixed order, so
//! that parsing the output gives the same configuration (`show running-config`).

use std::fmt::Write;

use super::model::*;

/// Renders `config` as path-style statements. Lines outside the suite's scope come last, as
/// they were read.
pub fn render(config: &Config) -> String {
    let mut out = String::new();
    if let Some(hostname) = &config.hostname {
        line(
            &mut out,
            format_args!("/ system hostname {}", quote(hostname)),
        );
    }
    render_interfaces(config, &mut out, None);
    for (name, vrf) in &config.l3vrfs {
        render_l3vrf(config, name, vrf, &mut out);
    }
    render_policy(config, &mut out);
    if let Some(bgp) = &config.bgp {
        render_bgp(bgp, &mut out);
    }
    if let Some(ospf) = &config.ospf {
        render_ospf(ospf, &mut out);
    }
    render_routing_interfaces(config, &mut out);
    render_bfd(&config.bfd, &mut out);
    if !config.out_of_scope.is_empty() {
        out.push_str("# outside the routing suite's scope\n");
        for item in &config.out_of_scope {
            line(&mut out, format_args!("{}", item.text));
        }
    }
    out
}

fn line(out: &mut String, args: std::fmt::Arguments) {
    out.write_fmt(args)
        .expect("writing to a String cannot fail");
    out.push('\n');
}

fn quote(text: &str) -> String {
    if !text.is_empty() && !text.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        return text.to_string();
    }
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

fn render_interfaces(config: &Config, out: &mut String, l3vrf: Option<&str>) {
    for (name, interface) in config
        .interfaces
        .iter()
        .filter(|(_, i)| i.l3vrf.as_deref() == l3vrf)
    {
        let prefix = match l3vrf {
            None => format!("/ vrf main interface {} {name}", interface.kind.keyword()),
            Some(vrf) => format!(
                "/ vrf main l3vrf {vrf} interface {} {name}",
                interface.kind.keyword()
            ),
        };
        line(out, format_args!("{prefix}"));
        if let Some(description) = &interface.description {
            line(
                out,
                format_args!("{prefix} description {}", quote(description)),
            );
        }
        if let Some(mtu) = interface.mtu {
            line(out, format_args!("{prefix} mtu {mtu}"));
        }
        for address in &interface.ipv4_addresses {
            line(out, format_args!("{prefix} ipv4 address {address}"));
        }
        if let Some(mac) = interface.mac_address {
            line(out, format_args!("{prefix} ethernet mac-address {mac}"));
        }
        if let Some(vxlan) = &interface.vxlan {
            if let Some(vni) = vxlan.vni {
                line(out, format_args!("{prefix} vni {vni}"));
            }
            if let Some(local) = vxlan.local {
                line(out, format_args!("{prefix} local {local}"));
            }
            if let Some(link) = &vxlan.link_interface {
                line(out, format_args!("{prefix} link-interface {link}"));
            }
            if let Some(learning) = vxlan.learning {
                line(out, format_args!("{prefix} learning {learning}"));
            }
        }
        if let Some(bridge) = &interface.bridge {
            if let Some(value) = &bridge.arp_accept_gratuitous {
                line(
                    out,
                    format_args!("{prefix} network-stack ipv4 arp-accept-gratuitous {value}"),
                );
            }
            if let Some(time) = bridge.ipv4_base_reachable_time_ms {
                line(
                    out,
                    format_args!("{prefix} network-stack neighbor ipv4-base-reachable-time {time}"),
                );
            }
            for member in &bridge.members {
                match member.learning {
                    Some(learning) => line(
                        out,
                        format_args!(
                            "{prefix} link-interface {} learning {learning}",
                            member.name
                        ),
                    ),
                    None => line(out, format_args!("{prefix} link-interface {}", member.name)),
                }
            }
        }
    }
}

fn render_l3vrf(config: &Config, name: &str, vrf: &L3Vrf, out: &mut String) {
    let prefix = format!("/ vrf main l3vrf {name}");
    line(out, format_args!("{prefix}"));
    if let Some(description) = &vrf.description {
        line(
            out,
            format_args!("{prefix} description {}", quote(description)),
        );
    }
    if let Some(table) = vrf.table_id {
        line(out, format_args!("{prefix} table-id {table}"));
    }
    if let Some(l3vni) = vrf.l3vni {
        line(out, format_args!("{prefix} routing bgp l3vni {l3vni}"));
    }
    let unicast = &vrf.ipv4_unicast;
    let af = format!("{prefix} routing bgp address-family ipv4-unicast");
    for rt in &unicast.export_route_targets {
        line(out, format_args!("{af} l3vpn export route-target {rt}"));
    }
    if let Some(rd) = unicast.export_route_distinguisher {
        line(
            out,
            format_args!("{af} l3vpn export route-distinguisher {rd}"),
        );
    }
    for rt in &unicast.import_route_targets {
        line(out, format_args!("{af} l3vpn import route-target {rt}"));
    }
    if unicast.redistribute_connected {
        line(out, format_args!("{af} redistribute connected"));
    }
    for source in &unicast.import_l3vrfs {
        line(out, format_args!("{af} l3vrf import l3vrf {source}"));
    }
    if let Some(map) = &unicast.import_route_map {
        line(out, format_args!("{af} l3vrf import route-map {map}"));
    }
    let evpn = &vrf.evpn;
    let af = format!("{prefix} routing bgp address-family l2vpn-evpn");
    if evpn.advertise_ipv4_unicast {
        match &evpn.advertise_route_map {
            Some(map) => line(
                out,
                format_args!("{af} advertisement ipv4-unicast route-map {map}"),
            ),
            None => line(out, format_args!("{af} advertisement ipv4-unicast")),
        }
    }
    if evpn.auto_route_target.is_some() {
        line(out, format_args!("{af} auto-route-target rfc8365"));
    }
    if let Some(rd) = evpn.export_route_distinguisher {
        line(out, format_args!("{af} export route-distinguisher {rd}"));
    }
    for rt in &evpn.export_route_targets {
        line(out, format_args!("{af} export route-target {rt}"));
    }
    if evpn.import {
        line(out, format_args!("{af} import"));
    }
    for rt in &evpn.import_route_targets {
        line(out, format_args!("{af} import route-target {rt}"));
    }
    render_interfaces(config, out, Some(name));
}

fn render_policy(config: &Config, out: &mut String) {
    for (name, list) in &config.prefix_lists {
        for (seq, entry) in &list.entries {
            let mut text = format!("/ routing ipv4-prefix-list {name} seq {seq}");
            if let Some(prefix) = entry.prefix {
                let _ = write!(text, " address {prefix}");
            }
            if let Some(action) = entry.action {
                let _ = write!(text, " policy {}", action_keyword(action));
            }
            if let Some(ge) = entry.ge {
                let _ = write!(text, " ge {ge}");
            }
            if let Some(le) = entry.le {
                let _ = write!(text, " le {le}");
            }
            line(out, format_args!("{text}"));
        }
    }
    for (name, map) in &config.route_maps {
        for (seq, entry) in &map.entries {
            let prefix = format!("/ routing route-map {name} seq {seq}");
            match entry.action {
                Some(action) => line(
                    out,
                    format_args!("{prefix} policy {}", action_keyword(action)),
                ),
                None => line(out, format_args!("{prefix}")),
            }
            for condition in &entry.matches {
                let text = match condition {
                    RouteMapMatch::IpAddressPrefixList(list) => {
                        format!("ip address prefix-list {list}")
                    }
                    RouteMapMatch::SourceL3vrf(vrf) => format!("source-l3vrf {vrf}"),
                    RouteMapMatch::EvpnRouteType(route_type) => {
                        format!("evpn route-type {route_type}")
                    }
                    RouteMapMatch::EvpnVni(vni) => format!("evpn vni {vni}"),
                    RouteMapMatch::Community(value) => {
                        format!("community {}", community_text(*value))
                    }
                    RouteMapMatch::ExtendedCommunityRouteTarget(rt) => {
                        format!("extended-community rt {rt}")
                    }
                };
                line(out, format_args!("{prefix} match {text}"));
            }
            for action in &entry.sets {
                let text = match action {
                    RouteMapSet::LocalPreference(value) => format!("local-preference {value}"),
                    RouteMapSet::Med(value) => format!("med {value}"),
                    RouteMapSet::Community { values, additive } => {
                        let values: Vec<String> =
                            values.iter().map(|v| community_text(*v)).collect();
                        format!(
                            "community {}{}",
                            values.join(" "),
                            if *additive { " additive" } else { "" }
                        )
                    }
                    RouteMapSet::ExtendedCommunityRouteTarget(rt) => {
                        format!("extended-community rt {rt}")
                    }
                    RouteMapSet::IpNextHop(address) => format!("ip next-hop {address}"),
                };
                line(out, format_args!("{prefix} set {text}"));
            }
        }
    }
}

fn community_text(value: u32) -> String {
    format!("{}:{}", value >> 16, value & 0xFFFF)
}

fn action_keyword(action: PolicyAction) -> &'static str {
    match action {
        PolicyAction::Permit => "permit",
        PolicyAction::Deny => "deny",
    }
}

fn render_bgp(bgp: &Bgp, out: &mut String) {
    let prefix = "/ vrf main routing bgp";
    line(out, format_args!("{prefix}"));
    if let Some(asn) = bgp.asn {
        line(out, format_args!("{prefix} as {asn}"));
    }
    if let Some(id) = bgp.router_id {
        line(out, format_args!("{prefix} router-id {id}"));
    }
    if let Some(value) = bgp.ebgp_requires_policy {
        line(out, format_args!("{prefix} ebgp-requires-policy {value}"));
    }
    if let Some(id) = bgp.cluster_id {
        line(out, format_args!("{prefix} cluster-id {id}"));
    }
    if bgp.advertise_all_vni {
        line(
            out,
            format_args!("{prefix} address-family l2vpn-evpn advertise-all-vni true"),
        );
    }
    let restart = &bgp.graceful_restart;
    if let Some(enabled) = restart.enabled {
        line(
            out,
            format_args!("{prefix} graceful-restart enabled {enabled}"),
        );
    }
    if let Some(time) = restart.restart_time {
        line(
            out,
            format_args!("{prefix} graceful-restart restart-time {time}"),
        );
    }
    if let Some(time) = restart.stale_routes_time {
        line(
            out,
            format_args!("{prefix} graceful-restart stale-routes-time {time}"),
        );
    }
    for (name, group) in &bgp.neighbor_groups {
        render_neighbor(&format!("{prefix} neighbor-group {name}"), group, out);
    }
    for range in &bgp.listen_ranges {
        line(
            out,
            format_args!(
                "{prefix} listen neighbor-range {} neighbor-group {}",
                range.prefix, range.group
            ),
        );
    }
    for (address, neighbor) in &bgp.neighbors {
        render_neighbor(&format!("{prefix} neighbor {address}"), neighbor, out);
    }
}

fn render_neighbor(prefix: &str, settings: &NeighborSettings, out: &mut String) {
    line(out, format_args!("{prefix}"));
    if let Some(group) = &settings.group {
        line(out, format_args!("{prefix} neighbor-group {group}"));
    }
    if let Some(asn) = settings.remote_as {
        line(out, format_args!("{prefix} remote-as {asn}"));
    }
    if let Some(description) = &settings.description {
        line(
            out,
            format_args!("{prefix} neighbor-description {}", quote(description)),
        );
    }
    if let Some(source) = &settings.update_source {
        line(out, format_args!("{prefix} update-source {source}"));
    }
    for (family, af) in &settings.address_families {
        let af_prefix = format!("{prefix} address-family {}", family.keyword());
        line(out, format_args!("{af_prefix}"));
        if let Some(enabled) = af.enabled {
            line(out, format_args!("{af_prefix} enabled {enabled}"));
        }
        if let Some(client) = af.route_reflector_client {
            line(
                out,
                format_args!("{af_prefix} route-reflector-client {client}"),
            );
        }
        if let Some(map) = &af.route_map_in {
            line(out, format_args!("{af_prefix} route-map in {map}"));
        }
        if let Some(map) = &af.route_map_out {
            line(out, format_args!("{af_prefix} route-map out {map}"));
        }
        if let Some(maximum) = af.maximum_prefix {
            line(out, format_args!("{af_prefix} maximum-prefix {maximum}"));
        }
        if let Some(soft) = af.soft_reconfiguration_inbound {
            line(
                out,
                format_args!("{af_prefix} soft-reconfiguration-inbound {soft}"),
            );
        }
        if let Some(value) = af.next_hop_self {
            line(out, format_args!("{af_prefix} next-hop-self {value}"));
        }
    }
    if let Some(track) = settings.track_bfd {
        line(out, format_args!("{prefix} track bfd {track}"));
    }
    if let Some(password) = &settings.password {
        line(out, format_args!("{prefix} password {}", quote(password)));
    }
    if let Some(hops) = settings.ttl_security_hops {
        line(out, format_args!("{prefix} ttl-security hops {hops}"));
    }
    if let Some(value) = settings.keepalive_interval {
        line(
            out,
            format_args!("{prefix} timers keepalive-interval {value}"),
        );
    }
    if let Some(value) = settings.hold_time {
        line(out, format_args!("{prefix} timers hold-time {value}"));
    }
    if let Some(value) = settings.connect_retry_interval {
        line(
            out,
            format_args!("{prefix} timers connect-retry-interval {value}"),
        );
    }
    if let Some(value) = settings.passive {
        line(out, format_args!("{prefix} passive {value}"));
    }
    if let Some(value) = settings.shutdown {
        line(out, format_args!("{prefix} shutdown {value}"));
    }
}

fn render_ospf(ospf: &Ospf, out: &mut String) {
    let prefix = "/ vrf main routing ospf";
    line(out, format_args!("{prefix}"));
    if let Some(id) = ospf.router_id {
        line(out, format_args!("{prefix} router-id {id}"));
    }
    for network in &ospf.networks {
        line(
            out,
            format_args!(
                "{prefix} network {} area {}",
                network.prefix,
                u32::from(network.area)
            ),
        );
    }
    let timers = [
        ("spf-delay", ospf.spf_delay_ms),
        ("spf-hold", ospf.spf_hold_ms),
        ("spf-max-hold", ospf.spf_max_hold_ms),
        ("lsa-min-interval", ospf.lsa_min_interval_ms),
        ("lsa-min-arrival", ospf.lsa_min_arrival_ms),
    ];
    for (name, value) in timers {
        if let Some(value) = value {
            line(out, format_args!("{prefix} timers {name} {value}"));
        }
    }
    let restart = &ospf.graceful_restart;
    if let Some(enabled) = restart.enabled {
        line(
            out,
            format_args!("{prefix} graceful-restart enabled {enabled}"),
        );
    }
    if let Some(period) = restart.grace_period {
        line(
            out,
            format_args!("{prefix} graceful-restart grace-period {period}"),
        );
    }
    if let Some(helper) = restart.helper {
        line(
            out,
            format_args!("{prefix} graceful-restart helper {helper}"),
        );
    }
}

fn render_routing_interfaces(config: &Config, out: &mut String) {
    for (name, settings) in &config.routing_interfaces {
        let prefix = format!("/ vrf main routing interface {name} ip ospf");
        let ospf = &settings.ospf;
        if let Some(track) = ospf.track_bfd {
            line(out, format_args!("{prefix} track bfd {track}"));
        }
        if let Some(network_type) = ospf.network_type {
            let keyword = match network_type {
                OspfNetworkType::Broadcast => "broadcast",
                OspfNetworkType::PointToPoint => "point-to-point",
            };
            line(out, format_args!("{prefix} network-type {keyword}"));
        }
        if let Some(cost) = ospf.cost {
            line(out, format_args!("{prefix} cost {cost}"));
        }
        if let Some(value) = ospf.hello_interval {
            line(out, format_args!("{prefix} hello-interval {value}"));
        }
        if let Some(value) = ospf.dead_interval {
            line(out, format_args!("{prefix} dead-interval {value}"));
        }
        if let Some(value) = ospf.retransmit_interval {
            line(out, format_args!("{prefix} retransmit-interval {value}"));
        }
        if let Some(value) = ospf.priority {
            line(out, format_args!("{prefix} priority {value}"));
        }
        if let Some(value) = ospf.passive {
            line(out, format_args!("{prefix} passive {value}"));
        }
        match &ospf.authentication {
            None => {}
            Some(OspfAuthentication::Simple { password }) => line(
                out,
                format_args!("{prefix} authentication simple {}", quote(password)),
            ),
            Some(OspfAuthentication::Md5 { key_id, key }) => line(
                out,
                format_args!(
                    "{prefix} authentication message-digest key-id {key_id} key {}",
                    quote(key)
                ),
            ),
            Some(OspfAuthentication::HmacSha256 { key_id, key }) => line(
                out,
                format_args!(
                    "{prefix} authentication hmac-sha-256 key-id {key_id} key {}",
                    quote(key)
                ),
            ),
        }
    }
}

fn render_bfd(bfd: &BfdDefaults, out: &mut String) {
    let prefix = "/ vrf main routing bfd";
    if let Some(value) = bfd.desired_min_tx_ms {
        line(
            out,
            format_args!("{prefix} desired-min-tx-interval {value}"),
        );
    }
    if let Some(value) = bfd.required_min_rx_ms {
        line(
            out,
            format_args!("{prefix} required-min-rx-interval {value}"),
        );
    }
    if let Some(value) = bfd.detect_multiplier {
        line(out, format_args!("{prefix} detection-multiplier {value}"));
    }
}
