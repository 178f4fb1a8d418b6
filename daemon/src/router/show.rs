//! Control commands (`show`, `clear`, `reload`) and metrics, read from the core's state.

use std::fmt::Write;

use hna_rib::VrfId;
use serde::Serialize;

use super::Router;
use crate::control::{Request, Response};
use crate::metrics::Metric;

/// Handles one control request.
pub(super) async fn handle(router: &mut Router, request: Request) -> Response {
    let words: Vec<&str> = request.command.iter().map(String::as_str).collect();
    let json = request.json;
    match words.as_slice() {
        ["show", "bfd", "peers"] => bfd_peers(router, json).await,
        ["show", "ip", "ospf", "neighbor"] => ospf_neighbors(router, json).await,
        ["show", "ip", "ospf", "database"] => ospf_database(router, json).await,
        ["show", "ip", "ospf", "interface"] => ospf_interfaces(router, json).await,
        ["show", "ip", "ospf", "statistics"] => ospf_statistics(router, json).await,
        ["show", "ip", "ospf", "graceful-restart"] => ospf_graceful_restart(router, json).await,
        ["show", "ip", "route"] => ip_route(router, VrfId::DEFAULT, "main", json),
        ["show", "ip", "route", "vrf", name] => match router.vrf_ids.get(*name).copied() {
            Some(vrf) => ip_route(router, vrf, name, json),
            None if *name == "main" => ip_route(router, VrfId::DEFAULT, "main", json),
            None => Response::error(format!(
                "l3vrf `{name}` not found; `show running-config` lists them"
            )),
        },
        ["show", "evpn", "vni"] => evpn_vni(router, json),
        ["show", "evpn", "mac"] => evpn_mac(router, None, json),
        ["show", "evpn", "mac", "vni", vni] => match vni.parse() {
            Ok(vni) => evpn_mac(router, Some(vni), json),
            Err(_) => Response::error(format!("invalid VNI `{vni}`: expected a number")),
        },
        ["show", "bgp", "summary"] => bgp_summary(router, json).await,
        ["show", "bgp", "neighbors"] => bgp_neighbors(router, None, json).await,
        ["show", "bgp", "neighbors", address] => match address.parse() {
            Ok(address) => bgp_neighbors(router, Some(address), json).await,
            Err(_) => Response::error(format!("invalid neighbor address `{address}`")),
        },
        ["show", "bgp", "ipv4", "unicast"] => {
            bgp_table(router, hna_bgp::AfiSafi::IPV4_UNICAST, None, json).await
        }
        ["show", "bgp", "l2vpn", "evpn"] => {
            bgp_table(router, hna_bgp::AfiSafi::L2VPN_EVPN, None, json).await
        }
        ["show", "bgp", "l2vpn", "evpn", "route-type", route_type] => {
            match evpn_route_type(route_type) {
                Some(route_type) => {
                    bgp_table(router, hna_bgp::AfiSafi::L2VPN_EVPN, Some(route_type), json).await
                }
                None => Response::error(format!(
                    "invalid route type `{route_type}`: expected 1 to 5, ead, macip, multicast, es or prefix"
                )),
            }
        }
        ["clear", "bgp", target] => clear_bgp(router, target).await,
        // The JSON form is the typed configuration, the same value a program can build.
        ["show", "running-config"] if json => Response::json(router.config()),
        ["show", "running-config"] => Response::text(crate::config::render(router.config())),
        ["reload"] => match router.reload().await {
            Ok(message) => Response::text(message),
            Err(message) => Response::error(message),
        },
        _ => Response::error(format!(
            "unknown command `{}`; see `hna-routectl --help`",
            words.join(" ")
        )),
    }
}

fn evpn_route_type(word: &str) -> Option<u8> {
    match word {
        "1" | "ead" => Some(1),
        "2" | "macip" => Some(2),
        "3" | "multicast" => Some(3),
        "4" | "es" => Some(4),
        "5" | "prefix" => Some(5),
        _ => None,
    }
}

fn bgp_handle(router: &Router) -> Result<&hna_bgp::Bgp, Response> {
    router
        .bgp
        .as_ref()
        .map(|bgp| bgp.handle())
        .ok_or_else(|| Response::error("BGP is not configured"))
}

async fn bgp_summary(router: &Router, json: bool) -> Response {
    let bgp = match bgp_handle(router) {
        Ok(bgp) => bgp,
        Err(response) => return response,
    };
    let summary = match bgp.summary().await {
        Ok(summary) => summary,
        Err(error) => return Response::error(error.to_string()),
    };
    respond(json, &summary, |summary| {
        let mut out = format!(
            "BGP router identifier {}, local AS number {}\n\nNeighbor        AS         State        Up/Down   MsgRcvd MsgSent Family         PfxRcd PfxSnt\n",
            summary.router_id, summary.local_as
        );
        for neighbor in &summary.neighbors {
            let uptime = neighbor
                .uptime_secs
                .map_or("never".to_string(), format_uptime);
            let families = if neighbor.families.is_empty() {
                vec![None]
            } else {
                neighbor.families.iter().map(Some).collect()
            };
            for family in families {
                let _ = writeln!(
                    out,
                    "{:<15} {:<10} {:<12} {:<9} {:>7} {:>7} {:<14} {:>6} {:>6}{}",
                    neighbor.address,
                    neighbor.remote_as,
                    neighbor.state.to_string(),
                    uptime,
                    neighbor.messages_in,
                    neighbor.messages_out,
                    family.map_or("-", |f| f.afi_safi.as_str()),
                    family.map_or(0, |f| f.accepted),
                    family.map_or(0, |f| f.sent),
                    if neighbor.dynamic { " (dynamic)" } else { "" }
                );
            }
        }
        out
    })
}

fn format_uptime(seconds: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

async fn bgp_neighbors(router: &Router, address: Option<std::net::IpAddr>, json: bool) -> Response {
    let bgp = match bgp_handle(router) {
        Ok(bgp) => bgp,
        Err(response) => return response,
    };
    match bgp.neighbors(address).await {
        Ok(neighbors) if address.is_some() && neighbors.is_empty() => Response::error(format!(
            "neighbor {} not found",
            address.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))
        )),
        Ok(neighbors) => respond(json, &neighbors, |neighbors| {
            // The detail is long; its JSON form is the reference and the text lists it as YAML-like lines.
            let mut out = String::new();
            for neighbor in neighbors {
                let value = serde_json::to_value(neighbor).unwrap_or_default();
                write_value(&mut out, &value, 0);
                out.push('\n');
            }
            out
        }),
        Err(error) => Response::error(error.to_string()),
    }
}

/// Writes a JSON value as indented `key: value` lines.
fn write_value(out: &mut String, value: &serde_json::Value, indent: usize) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match value {
                    serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                        let _ = writeln!(out, "{:indent$}{key}:", "");
                        write_value(out, value, indent + 2);
                    }
                    _ => {
                        let _ = writeln!(out, "{:indent$}{key}: {}", "", scalar(value));
                    }
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                match item {
                    serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                        let _ = writeln!(out, "{:indent$}-", "");
                        write_value(out, item, indent + 2);
                    }
                    _ => {
                        let _ = writeln!(out, "{:indent$}- {}", "", scalar(item));
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{:indent$}{}", "", scalar(other));
        }
    }
}

fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

async fn bgp_table(
    router: &Router,
    afi_safi: hna_bgp::AfiSafi,
    route_type: Option<u8>,
    json: bool,
) -> Response {
    let bgp = match bgp_handle(router) {
        Ok(bgp) => bgp,
        Err(response) => return response,
    };
    let mut table = match bgp.table(afi_safi).await {
        Ok(table) => table,
        Err(error) => return Response::error(error.to_string()),
    };
    if let Some(route_type) = route_type {
        for rd in &mut table.route_distinguishers {
            rd.routes
                .retain(|route| route.route_type == Some(route_type));
        }
        table
            .route_distinguishers
            .retain(|rd| !rd.routes.is_empty());
    }
    respond(json, &table, |table| {
        let mut out = format!(
            "BGP table version, local router ID is {}, local AS {}\nStatus codes: * valid, > best, S stale, l local\n\n   Network                                        Next Hop        LocPrf Path\n",
            table.router_id, table.local_as
        );
        let write_route = |out: &mut String, route: &hna_bgp::rib::RouteSnapshot| {
            for path in &route.paths {
                let _ = writeln!(
                    out,
                    "{}{}{}{} {:<46} {:<15} {:>6} {}{}",
                    if path.valid { "*" } else { " " },
                    if path.best { ">" } else { " " },
                    if path.stale { "S" } else { " " },
                    if path.local { "l" } else { " " },
                    route.prefix,
                    path.next_hop.map_or("-".to_string(), |hop| hop.to_string()),
                    path.local_pref
                        .map_or(String::new(), |pref| pref.to_string()),
                    path.as_path,
                    if path.extended_communities.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", path.extended_communities.join(" "))
                    }
                );
            }
        };
        for route in &table.routes {
            write_route(&mut out, route);
        }
        for rd in &table.route_distinguishers {
            let _ = writeln!(out, "Route Distinguisher: {}", rd.rd);
            for route in &rd.routes {
                write_route(&mut out, route);
            }
        }
        out
    })
}

async fn clear_bgp(router: &Router, target: &str) -> Response {
    let bgp = match bgp_handle(router) {
        Ok(bgp) => bgp,
        Err(response) => return response,
    };
    let peer = match target {
        "*" | "all" => None,
        address => match address.parse() {
            Ok(address) => Some(address),
            Err(_) => {
                return Response::error(format!(
                    "invalid neighbor `{address}`: expected an address or `*`"
                ));
            }
        },
    };
    if let Some(address) = peer {
        match bgp.neighbors(Some(address)).await {
            Ok(neighbors) if neighbors.is_empty() => {
                return Response::error(format!(
                    "neighbor {address} not found; `show bgp summary` lists the neighbors"
                ));
            }
            Ok(_) => {}
            Err(error) => return Response::error(format!("BGP query failed: {error}")),
        }
    }
    bgp.clear(peer, hna_bgp::ClearKind::Hard);
    Response::text(format!(
        "BGP session{} reset",
        if peer.is_some() { "" } else { "s" }
    ))
}

fn respond<T: Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) -> Response {
    if json {
        Response::json(value)
    } else {
        Response::text(text(value))
    }
}

async fn bfd_peers(router: &Router, json: bool) -> Response {
    let sessions = router.underlay.bfd().sessions().await;
    respond(json, &sessions, |sessions| {
        let mut out = String::from(
            "Peer            Local           Interface  Type       State  Remote  TX(ms) RX(ms) Mult\n",
        );
        for session in sessions {
            let _ = writeln!(
                out,
                "{:<15} {:<15} {:<10} {:<10} {:<6} {:<7} {:>6} {:>6} {:>4}",
                session.peer,
                session
                    .local
                    .map_or("-".to_string(), |local| local.to_string()),
                session.interface.as_deref().unwrap_or("-"),
                if session.multihop {
                    "multihop"
                } else {
                    "single-hop"
                },
                format!("{:?}", session.state),
                format!("{:?}", session.remote_state),
                session.timers.tx_interval_us / 1000,
                session.timers.rx_interval_us / 1000,
                session.detect_multiplier,
            );
        }
        out
    })
}

async fn ospf_interfaces(router: &Router, json: bool) -> Response {
    let Some(handle) = router.underlay.ospf_handle() else {
        return Response::error("OSPF is not configured");
    };
    let interfaces = handle.interfaces().await;
    respond(json, &interfaces, |interfaces| {
        let mut out = String::from(
            "Interface  Address            Type          State          Cost DR              BDR             Nbrs Adj\n",
        );
        for interface in interfaces {
            let _ = writeln!(
                out,
                "{:<10} {:<18} {:<13} {:<14} {:>4} {:<15} {:<15} {:>4} {:>3}",
                interface.name,
                interface.address,
                format!("{:?}", interface.network_type),
                format!("{:?}", interface.state),
                interface.cost,
                interface.designated_router,
                interface.backup_designated_router,
                interface.neighbors,
                interface.adjacent_neighbors
            );
        }
        out
    })
}

async fn ospf_statistics(router: &Router, json: bool) -> Response {
    let Some(handle) = router.underlay.ospf_handle() else {
        return Response::error("OSPF is not configured");
    };
    let counters = handle.counters().await;
    respond(json, &counters, |counters| {
        let mut out = String::from("Packets received (decoded), by type:\n");
        for (packet_type, count) in &counters.received {
            let _ = writeln!(out, "  {packet_type:?}: {count}");
        }
        out.push_str("Packets sent, by type:\n");
        for (packet_type, count) in &counters.sent {
            let _ = writeln!(out, "  {packet_type:?}: {count}");
        }
        out.push_str("Packets dropped, by reason:\n");
        for (reason, count) in &counters.dropped {
            let _ = writeln!(out, "  {}: {count}", reason.name());
        }
        out.push_str("LSAs discarded, by reason:\n");
        for (reason, count) in &counters.lsas_discarded {
            let _ = writeln!(out, "  {reason:?}: {count}");
        }
        let restart = &counters.graceful_restart;
        let _ = writeln!(
            out,
            "Graceful restart: helped {} times, BFD Down ignored {} times",
            restart.helper_entered, restart.bfd_down_ignored
        );
        out
    })
}

async fn ospf_graceful_restart(router: &Router, json: bool) -> Response {
    let Some(handle) = router.underlay.ospf_handle() else {
        return Response::error("OSPF is not configured");
    };
    let Some(state) = handle.graceful_restart().await else {
        return Response::error("OSPF stopped");
    };
    respond(json, &state, |state| {
        let mut out = String::new();
        let _ = writeln!(out, "Restarting: {}", state.restarting);
        if let Some(remaining) = state.grace_remaining_ms {
            let _ = writeln!(out, "Grace period left: {remaining} ms");
        }
        if let Some(exit) = state.last_exit {
            let _ = writeln!(out, "Last restart ended: {exit:?}");
        }
        let _ = writeln!(out, "Helper enabled: {}", state.helper_enabled);
        let _ = writeln!(out, "Strict LSA checking: {}", state.strict_lsa_checking);
        let helping: Vec<String> = state.helping.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "Helping: {}",
            if helping.is_empty() {
                "none".to_string()
            } else {
                helping.join(", ")
            }
        );
        out
    })
}

async fn ospf_neighbors(router: &Router, json: bool) -> Response {
    let Some(handle) = router.underlay.ospf_handle() else {
        return Response::error("OSPF is not configured");
    };
    let neighbors = handle.neighbors().await;
    respond(json, &neighbors, |neighbors| {
        let mut out = String::from(
            "Neighbor ID     Pri State      Role     Dead(ms) Address         Interface\n",
        );
        for neighbor in neighbors {
            let _ = writeln!(
                out,
                "{:<15} {:>3} {:<10} {:<8} {:>8} {:<15} {}",
                neighbor.neighbor_id,
                neighbor.priority,
                format!("{:?}", neighbor.state),
                neighbor.role,
                neighbor.dead_time_ms,
                neighbor.address,
                neighbor.interface
            );
        }
        out
    })
}

async fn ospf_database(router: &Router, json: bool) -> Response {
    let Some(handle) = router.underlay.ospf_handle() else {
        return Response::error("OSPF is not configured");
    };
    let database = handle.database().await;
    respond(json, &database, |database| {
        let mut out =
            String::from("Type            Link ID         ADV Router      Age  Seq#       CkSum\n");
        for lsa in database {
            let _ = writeln!(
                out,
                "{:<15} {:<15} {:<15} {:>4} 0x{:08x} 0x{:04x}",
                lsa.type_name,
                lsa.link_state_id,
                lsa.advertising_router,
                lsa.age,
                lsa.sequence,
                lsa.checksum
            );
        }
        out
    })
}

#[derive(Serialize)]
struct RouteLine {
    prefix: String,
    source: String,
    distance: u8,
    metric: u32,
    next_hops: Vec<String>,
}

fn ip_route(router: &Router, vrf: VrfId, name: &str, json: bool) -> Response {
    let routes: Vec<RouteLine> = router
        .rib
        .selected_routes(vrf)
        .filter(|route| route.prefix.addr().is_ipv4())
        .map(|route| RouteLine {
            prefix: route.prefix.to_string(),
            source: format!("{:?}", route.source).to_lowercase(),
            distance: route.distance,
            metric: route.metric,
            next_hops: route.next_hops.iter().map(|hop| hop.to_string()).collect(),
        })
        .collect();
    respond(json, &routes, |routes| {
        let mut out = format!("VRF {name}:\n");
        for route in routes {
            let _ = writeln!(
                out,
                "{:<10} {:<20} [{}/{}] {}",
                route.source,
                route.prefix,
                route.distance,
                route.metric,
                route.next_hops.join(", ")
            );
        }
        out
    })
}

fn evpn_vni(router: &Router, json: bool) -> Response {
    let Some(evpn) = router.overlay.control() else {
        return Response::error("EVPN is not configured");
    };
    let vnis = evpn.vnis();
    respond(json, &vnis, |vnis| {
        let mut out = String::from(
            "VNI       Type VxLAN IF     Bridge    VRF      RD                   Remote VTEPs\n",
        );
        for vni in vnis {
            let _ = writeln!(
                out,
                "{:<9} {:<4} {:<12} {:<9} {:<8} {:<20} {}",
                vni.vni,
                vni.kind,
                vni.vxlan_device.as_deref().unwrap_or("-"),
                vni.bridge.as_deref().unwrap_or("-"),
                vni.vrf.as_deref().unwrap_or("-"),
                vni.rd,
                vni.remote_vteps.join(" ")
            );
        }
        out
    })
}

fn evpn_mac(router: &Router, vni: Option<u32>, json: bool) -> Response {
    let Some(evpn) = router.overlay.control() else {
        return Response::error("EVPN is not configured");
    };
    let macs = evpn.macs(vni);
    respond(json, &macs, |macs| {
        let mut out =
            String::from("VNI       MAC               Type    VTEP            Seq  IPs\n");
        for mac in macs {
            let _ = writeln!(
                out,
                "{:<9} {:<17} {:<7} {:<15} {:>4} {}{}",
                mac.vni,
                mac.mac,
                mac.kind,
                mac.vtep.as_deref().unwrap_or("-"),
                mac.sequence,
                mac.ips.join(" "),
                if mac.frozen {
                    " (frozen: duplicate)"
                } else {
                    ""
                }
            );
        }
        out
    })
}

/// Builds the metrics from the same snapshots the `show` commands use.
pub(super) async fn metrics(router: &mut Router) -> Vec<Metric> {
    let mut metrics = Vec::new();

    let mut bfd_up = Metric::gauge("bfd_session_up", "1 when the BFD session is Up");
    let mut bfd_packets = Metric::counter(
        "bfd_packets_received",
        "BFD control packets received per session",
    );
    for session in router.underlay.bfd().sessions().await {
        let peer = session.peer.to_string();
        let labels = [
            ("peer", peer.as_str()),
            ("multihop", if session.multihop { "true" } else { "false" }),
        ];
        bfd_up.sample(&labels, u64::from(session.state == hna_bfd::State::Up));
        bfd_packets.sample(&labels, session.counters.packets_in);
    }
    metrics.extend([bfd_up, bfd_packets]);

    if let Some(handle) = router.underlay.ospf_handle() {
        let mut full = Metric::gauge("ospf_neighbor_full", "1 when the OSPF neighbor is Full");
        for neighbor in handle.neighbors().await {
            let id = neighbor.neighbor_id.to_string();
            full.sample(
                &[
                    ("neighbor", id.as_str()),
                    ("interface", neighbor.interface.as_str()),
                ],
                u64::from(neighbor.state == hna_ospf::NeighborState::Full),
            );
        }
        let mut dropped =
            Metric::counter("ospf_packets_dropped", "OSPF packets dropped, by reason");
        for (reason, count) in handle.counters().await.dropped {
            let reason = format!("{reason:?}");
            dropped.sample(&[("reason", reason.as_str())], count);
        }
        metrics.extend([full, dropped]);
    }

    if let Some(bgp) = &router.bgp {
        metrics.extend(bgp_metrics(bgp.handle()).await);
    }

    // `show ip route` lists IPv4 only, so the family label separates its routes from IPv6 ones
    // (the link-local prefixes of every interface, for example).
    let mut routes = Metric::gauge(
        "routes",
        "Selected routes per VRF, source and address family",
    );
    let vrfs: Vec<(VrfId, String)> = router
        .rib
        .vrfs()
        .map(|(id, name)| (id, name.to_string()))
        .collect();
    for (vrf, name) in vrfs {
        let mut counts = std::collections::BTreeMap::<(String, &str), u64>::new();
        for route in router.rib.selected_routes(vrf) {
            let family = if route.prefix.addr().is_ipv4() {
                "ipv4"
            } else {
                "ipv6"
            };
            *counts
                .entry((format!("{:?}", route.source).to_lowercase(), family))
                .or_default() += 1;
        }
        for ((source, family), count) in counts {
            routes.sample(
                &[
                    ("vrf", name.as_str()),
                    ("source", source.as_str()),
                    ("family", family),
                ],
                count,
            );
        }
    }
    metrics.push(routes);

    if let Some(evpn) = router.overlay.control() {
        let counters = evpn.counters();
        let mut evpn_metric = Metric::counter("evpn_events", "EVPN control-plane events, by kind");
        for (kind, value) in [
            ("mac_moves", counters.mac_moves),
            ("duplicates_frozen", counters.duplicates_frozen),
            ("invalid_type5", counters.invalid_type5),
            ("unmatched_route_targets", counters.unmatched_route_targets),
        ] {
            evpn_metric.sample(&[("kind", kind)], value);
        }
        let mut macs = Metric::gauge("evpn_macs", "MACs per VNI and kind");
        for vni in evpn.vnis().into_iter().filter(|vni| vni.kind == "L2") {
            let id = vni.vni.to_string();
            macs.sample(
                &[("vni", id.as_str()), ("kind", "local")],
                vni.local_macs as u64,
            );
            macs.sample(
                &[("vni", id.as_str()), ("kind", "remote")],
                vni.remote_macs as u64,
            );
        }
        metrics.extend([evpn_metric, macs]);
    }
    metrics
}

/// Builds the BGP metrics from `show bgp neighbors`: per neighbor, the session state, prefix
/// counts per family, messages by type, and the errors (malformed UPDATEs, session drops).
async fn bgp_metrics(bgp: &hna_bgp::Bgp) -> Vec<Metric> {
    let neighbors = match bgp.neighbors(None).await {
        Ok(neighbors) => neighbors,
        Err(error) => {
            tracing::warn!(%error, "no BGP metrics: the instance did not respond");
            return Vec::new();
        }
    };
    let mut established = Metric::gauge(
        "bgp_session_established",
        "1 when the BGP session is Established",
    );
    let mut uptime = Metric::gauge(
        "bgp_session_uptime_seconds",
        "Seconds since the BGP session reached Established; 0 when it is not",
    );
    let mut transitions = Metric::counter(
        "bgp_established_transitions",
        "Times the BGP session reached Established",
    );
    let mut drops = Metric::counter(
        "bgp_session_drops",
        "Times the BGP session left Established",
    );
    let mut received = Metric::gauge(
        "bgp_prefixes_received",
        "Paths received from the neighbor, before inbound policy",
    );
    let mut accepted = Metric::gauge(
        "bgp_prefixes_accepted",
        "Paths received from the neighbor and accepted by inbound policy",
    );
    let mut sent = Metric::gauge("bgp_prefixes_sent", "Paths advertised to the neighbor");
    let mut messages_in = Metric::counter(
        "bgp_messages_received",
        "BGP messages received, by message type",
    );
    let mut messages_out =
        Metric::counter("bgp_messages_sent", "BGP messages sent, by message type");
    let mut malformed = Metric::counter(
        "bgp_malformed_updates",
        "Malformed UPDATE messages received, by the RFC 7606 action taken",
    );

    for neighbor in &neighbors {
        let peer = neighbor.summary.address.to_string();
        let labels = [("peer", peer.as_str())];
        let is_established = neighbor.summary.state == hna_bgp::session::State::Established;
        established.sample(&labels, u64::from(is_established));
        uptime.sample(&labels, neighbor.summary.uptime_secs.unwrap_or(0));
        transitions.sample(&labels, neighbor.counters.established_transitions);
        drops.sample(&labels, neighbor.counters.drops);
        for family in &neighbor.summary.families {
            let labels = [
                ("peer", peer.as_str()),
                ("afi_safi", family.afi_safi.as_str()),
            ];
            received.sample(&labels, family.received);
            accepted.sample(&labels, family.accepted);
            sent.sample(&labels, family.sent);
        }
        let counters = &neighbor.counters;
        for (kind, count_in, count_out) in [
            ("open", counters.opens_in, counters.opens_out),
            ("update", counters.updates_in, counters.updates_out),
            ("keepalive", counters.keepalives_in, counters.keepalives_out),
            (
                "notification",
                counters.notifications_in,
                counters.notifications_out,
            ),
            (
                "route_refresh",
                counters.route_refreshes_in,
                counters.route_refreshes_out,
            ),
        ] {
            let labels = [("peer", peer.as_str()), ("type", kind)];
            messages_in.sample(&labels, count_in);
            messages_out.sample(&labels, count_out);
        }
        let errors = &neighbor.malformed_updates;
        for (action, count) in [
            ("treat_as_withdraw", errors.treat_as_withdraw),
            ("attribute_discard", errors.attribute_discard),
            ("afi_safi_disable", errors.afi_safi_disable),
            ("session_reset", errors.session_reset),
        ] {
            malformed.sample(&[("peer", peer.as_str()), ("action", action)], count);
        }
    }
    vec![
        established,
        uptime,
        transitions,
        drops,
        received,
        accepted,
        sent,
        messages_in,
        messages_out,
        malformed,
    ]
}
