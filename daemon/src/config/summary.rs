//! The summary that `hna-routed check-config` prints for a valid configuration.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::model::{Config, InterfaceKind, OutOfScopeKind};

/// Counts of what a configuration sets up, and its out-of-scope lines grouped by kind.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub hostname: Option<String>,
    pub interfaces: BTreeMap<String, usize>,
    pub l3vrfs: Vec<L3vrfSummary>,
    pub bgp: Option<BgpSummary>,
    pub ospf: Option<OspfSummary>,
    pub prefix_lists: usize,
    pub route_maps: usize,
    pub out_of_scope: Vec<OutOfScopeSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct L3vrfSummary {
    pub name: String,
    pub table_id: Option<u32>,
    pub l3vni: Option<u32>,
    pub bridges: usize,
    pub leaks_from: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BgpSummary {
    pub asn: Option<u32>,
    pub router_id: Option<String>,
    pub neighbors: usize,
    pub neighbor_groups: usize,
    pub listen_ranges: usize,
    pub advertise_all_vni: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct OspfSummary {
    pub router_id: Option<String>,
    pub networks: usize,
    pub interfaces_with_bfd: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutOfScopeSummary {
    pub kind: OutOfScopeKind,
    pub label: &'static str,
    pub lines: usize,
    pub first_line: usize,
}

impl Summary {
    pub fn of(config: &Config) -> Summary {
        let mut interfaces = BTreeMap::new();
        for interface in config.interfaces.values() {
            *interfaces
                .entry(interface.kind.keyword().to_string())
                .or_insert(0) += 1;
        }

        let l3vrfs = config
            .l3vrfs
            .iter()
            .map(|(name, vrf)| L3vrfSummary {
                name: name.clone(),
                table_id: vrf.table_id,
                l3vni: vrf.l3vni,
                bridges: config
                    .interfaces
                    .values()
                    .filter(|i| i.kind == InterfaceKind::Bridge && i.l3vrf.as_deref() == Some(name))
                    .count(),
                leaks_from: vrf.ipv4_unicast.import_l3vrfs.clone(),
            })
            .collect();

        let bgp = config.bgp.as_ref().map(|bgp| BgpSummary {
            asn: bgp.asn,
            router_id: bgp.router_id.map(|id| id.to_string()),
            neighbors: bgp.neighbors.len(),
            neighbor_groups: bgp.neighbor_groups.len(),
            listen_ranges: bgp.listen_ranges.len(),
            advertise_all_vni: bgp.advertise_all_vni,
        });

        let ospf = config.ospf.as_ref().map(|ospf| OspfSummary {
            router_id: ospf.router_id.map(|id| id.to_string()),
            networks: ospf.networks.len(),
            interfaces_with_bfd: config
                .routing_interfaces
                .values()
                .filter(|i| i.ospf.track_bfd == Some(true))
                .count(),
        });

        let mut by_kind: BTreeMap<OutOfScopeKind, OutOfScopeSummary> = BTreeMap::new();
        for item in &config.out_of_scope {
            by_kind
                .entry(item.kind)
                .and_modify(|summary| summary.lines += 1)
                .or_insert(OutOfScopeSummary {
                    kind: item.kind,
                    label: item.kind.label(),
                    lines: 1,
                    first_line: item.line,
                });
        }

        Summary {
            hostname: config.hostname.clone(),
            interfaces,
            l3vrfs,
            bgp,
            ospf,
            prefix_lists: config.prefix_lists.len(),
            route_maps: config.route_maps.len(),
            out_of_scope: by_kind.into_values().collect(),
        }
    }
}

/// Formats "1 line", "2 lines".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(hostname) = &self.hostname {
            writeln!(f, "hostname       {hostname}")?;
        }
        let interfaces: Vec<String> = self
            .interfaces
            .iter()
            .map(|(kind, count)| format!("{count} {kind}"))
            .collect();
        writeln!(
            f,
            "interfaces     {}",
            if interfaces.is_empty() {
                "none".to_string()
            } else {
                interfaces.join(", ")
            }
        )?;
        for vrf in &self.l3vrfs {
            let table = vrf.table_id.map_or("-".to_string(), |t| t.to_string());
            let l3vni = vrf.l3vni.map_or("-".to_string(), |v| v.to_string());
            write!(
                f,
                "l3vrf          {} (table {table}, L3VNI {l3vni}, {}",
                vrf.name,
                count(vrf.bridges, "bridge")
            )?;
            if !vrf.leaks_from.is_empty() {
                write!(f, ", imports routes of {}", vrf.leaks_from.join(", "))?;
            }
            writeln!(f, ")")?;
        }
        match &self.bgp {
            Some(bgp) => writeln!(
                f,
                "bgp            AS {}, router id {}, {}, {}, {}{}",
                bgp.asn.map_or("-".to_string(), |a| a.to_string()),
                bgp.router_id.as_deref().unwrap_or("-"),
                count(bgp.neighbors, "neighbor"),
                count(bgp.neighbor_groups, "neighbor group"),
                count(bgp.listen_ranges, "listen range"),
                if bgp.advertise_all_vni {
                    ", advertise-all-vni"
                } else {
                    ""
                }
            )?,
            None => writeln!(f, "bgp            not configured")?,
        }
        match &self.ospf {
            Some(ospf) => writeln!(
                f,
                "ospf           router id {}, {} in area 0, {} with BFD",
                ospf.router_id.as_deref().unwrap_or("-"),
                count(ospf.networks, "network"),
                count(ospf.interfaces_with_bfd, "interface")
            )?,
            None => writeln!(f, "ospf           not configured")?,
        }
        writeln!(
            f,
            "policy         {}, {}",
            count(self.prefix_lists, "prefix-list"),
            count(self.route_maps, "route-map")
        )?;
        let total: usize = self.out_of_scope.iter().map(|kind| kind.lines).sum();
        writeln!(
            f,
            "outside the routing suite's scope: {}",
            count(total, "line")
        )?;
        for kind in &self.out_of_scope {
            writeln!(
                f,
                "  {:<14} {} (first at line {})",
                kind.label,
                count(kind.lines, "line"),
                kind.first_line
            )?;
        }
        Ok(())
    }
}
