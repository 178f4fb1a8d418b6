//! Serializable copies of a Loc-RIB for `show bgp ipv4 unicast` and `show bgp l2vpn evpn`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use hna_evpn::{EvpnRoute, EvpnRouteKey, RouteDistinguisher};
use serde::Serialize;

use super::table::{FamilyKey, StoredPath, Table};
use super::{LOCAL_SLOT, PeerSlot, Shared};
use crate::message::{AsPath, AsSegmentType, Origin, PathAttributes};
use crate::types::AfiSafi;

/// The Loc-RIB of one family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSnapshot {
    pub afi_safi: String,
    pub router_id: Ipv4Addr,
    pub local_as: u32,
    /// The routes of an IP family, in prefix order; empty for EVPN.
    pub routes: Vec<RouteSnapshot>,
    /// The routes of EVPN grouped by route distinguisher, in RD order; empty for IP families.
    pub route_distinguishers: Vec<RdSnapshot>,
}

/// The EVPN routes of one route distinguisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RdSnapshot {
    pub rd: String,
    pub routes: Vec<RouteSnapshot>,
}

/// One route with every candidate path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteSnapshot {
    /// The prefix, or the EVPN route key as FRR 8.4 prints it (`[2]:[0]:[48]:[mac]:[32]:[ip]`).
    pub prefix: String,
    /// The route distinguisher of an EVPN route.
    pub rd: Option<String>,
    pub route_type: Option<u8>,
    /// The decision step that chose the best path, when there is one.
    pub selection_reason: Option<String>,
    pub paths: Vec<PathSnapshot>,
}

/// One path of a route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathSnapshot {
    pub best: bool,
    /// Whether the next hop is reachable, so the path may be selected.
    pub valid: bool,
    pub stale: bool,
    /// Originated by this router.
    pub local: bool,
    /// The address of the peer the path came from.
    pub peer: Option<IpAddr>,
    pub peer_id: Option<u32>,
    pub path_id: Option<u32>,
    pub next_hop: Option<IpAddr>,
    pub igp_metric: Option<u32>,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    pub as_path: String,
    pub origin: String,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub communities: Vec<String>,
    pub extended_communities: Vec<String>,
    /// EVPN: the ESI and labels (VNIs) the path's NLRI carries.
    pub esi: Option<String>,
    pub labels: Vec<u32>,
}

impl TableSnapshot {
    pub(crate) fn empty(afi_safi: AfiSafi, sh: &Shared) -> TableSnapshot {
        TableSnapshot {
            afi_safi: afi_safi.to_string(),
            router_id: sh.local.router_id,
            local_as: sh.local.asn,
            routes: Vec::new(),
            route_distinguishers: Vec::new(),
        }
    }
}

impl<K: FamilyKey> Table<K> {
    pub(crate) fn snapshot(&self, sh: &Shared) -> TableSnapshot {
        let mut snapshot = TableSnapshot::empty(K::AFI_SAFI, sh);
        let mut by_rd: BTreeMap<RouteDistinguisher, Vec<RouteSnapshot>> = BTreeMap::new();
        for (key, dest) in &self.dests {
            let best = dest.best_index();
            let route = RouteSnapshot {
                prefix: key.display(),
                rd: key.rd().map(|rd| rd.to_string()),
                route_type: dest
                    .paths
                    .first()
                    .and_then(|p| p.evpn.as_ref())
                    .map(|r| r.route_type()),
                selection_reason: best.map(|_| format!("{:?}", dest.step)),
                paths: dest
                    .paths
                    .iter()
                    .enumerate()
                    .map(|(i, p)| path_snapshot(p, best == Some(i), sh))
                    .collect(),
            };
            match key.rd() {
                Some(rd) => by_rd.entry(rd).or_default().push(route),
                None if K::AFI_SAFI == AfiSafi::L2VPN_EVPN => {}
                None => snapshot.routes.push(route),
            }
        }
        snapshot.route_distinguishers = by_rd
            .into_iter()
            .map(|(rd, routes)| RdSnapshot {
                rd: rd.to_string(),
                routes,
            })
            .collect();
        snapshot
    }
}

impl<K: FamilyKey> Table<K> {
    /// Returns the routes in the Adj-RIB-Out of the peer's update group, as of the last
    /// encoding pass.
    pub(crate) fn advertised_snapshot(&self, slot: PeerSlot) -> Vec<RouteSnapshot> {
        let Some(group) = self.groups.iter().find(|g| g.members.contains(&slot)) else {
            return Vec::new();
        };
        group
            .adj_out
            .iter()
            .map(|(key, route)| {
                let mut path = attributes_snapshot(&route.attributes, route.evpn.as_deref());
                path.best = true;
                path.valid = true;
                path.next_hop = route.next_hop;
                RouteSnapshot {
                    prefix: key.display(),
                    rd: key.rd().map(|rd| rd.to_string()),
                    route_type: route.evpn.as_ref().map(|r| r.route_type()),
                    selection_reason: None,
                    paths: vec![path],
                }
            })
            .collect()
    }

    /// Returns the routes accepted from a peer (after inbound policy), with its paths only.
    pub(crate) fn received_snapshot(&self, sh: &Shared, slot: PeerSlot) -> Vec<RouteSnapshot> {
        let mut routes = Vec::new();
        for (key, dest) in &self.dests {
            let best = dest.best_index();
            let paths: Vec<PathSnapshot> = dest
                .paths
                .iter()
                .enumerate()
                .filter(|(_, p)| p.peer == slot)
                .map(|(i, p)| path_snapshot(p, best == Some(i), sh))
                .collect();
            if paths.is_empty() {
                continue;
            }
            routes.push(RouteSnapshot {
                prefix: key.display(),
                rd: key.rd().map(|rd| rd.to_string()),
                route_type: dest
                    .paths
                    .first()
                    .and_then(|p| p.evpn.as_ref())
                    .map(|r| r.route_type()),
                selection_reason: None,
                paths,
            });
        }
        routes
    }
}

fn path_snapshot(path: &StoredPath, best: bool, sh: &Shared) -> PathSnapshot {
    let peer = (path.peer != LOCAL_SLOT)
        .then(|| sh.peers.get(path.peer))
        .flatten();
    let mut snapshot = attributes_snapshot(&path.attributes, path.evpn.as_deref());
    snapshot.best = best;
    snapshot.valid = sh.nexthops.reachable(path.nexthop);
    snapshot.stale = path.stale;
    snapshot.local = path.peer == LOCAL_SLOT;
    snapshot.peer = peer.map(|p| p.info.address);
    snapshot.peer_id = peer.map(|p| p.info.id.0);
    snapshot.path_id = path.path_id;
    snapshot.next_hop = sh.nexthops.address(path.nexthop);
    snapshot.igp_metric = sh.nexthops.reported_metric(path.nexthop);
    snapshot
}

/// Builds the attribute fields of a path's snapshot, leaving the path's state unset.
fn attributes_snapshot(a: &PathAttributes, evpn: Option<&EvpnRoute>) -> PathSnapshot {
    let (esi, labels) = match evpn {
        Some(EvpnRoute::MacIp(r)) => (
            Some(r.esi.to_string()),
            std::iter::once(r.label1.vni())
                .chain(r.label2.map(|l| l.vni()))
                .collect(),
        ),
        Some(EvpnRoute::IpPrefix(r)) => (Some(r.esi.to_string()), vec![r.label.vni()]),
        Some(EvpnRoute::EthernetAd(r)) => (Some(r.esi.to_string()), vec![r.label.vni()]),
        Some(EvpnRoute::EthernetSegment(r)) => (Some(r.esi.to_string()), Vec::new()),
        _ => (None, Vec::new()),
    };
    PathSnapshot {
        best: false,
        valid: false,
        stale: false,
        local: false,
        peer: None,
        peer_id: None,
        path_id: None,
        next_hop: a.next_hop.map(IpAddr::V4),
        igp_metric: None,
        local_pref: a.local_pref,
        med: a.med,
        as_path: a.as_path.as_ref().map(format_as_path).unwrap_or_default(),
        origin: match a.origin {
            Some(Origin::Igp) => "IGP",
            Some(Origin::Egp) => "EGP",
            Some(Origin::Incomplete) | None => "incomplete",
        }
        .to_string(),
        originator_id: a.originator_id,
        cluster_list: a.cluster_list.clone().unwrap_or_default(),
        communities: a
            .communities
            .iter()
            .flatten()
            .map(|c| format!("{}:{}", c.0 >> 16, c.0 & 0xffff))
            .collect(),
        extended_communities: a
            .extended_communities
            .iter()
            .flatten()
            .map(|c| c.to_string())
            .collect(),
        esi,
        labels,
    }
}

/// Formats an AS path as FRR does: sequences space-separated, sets in braces, confederation
/// segments in parentheses.
pub(crate) fn format_as_path(path: &AsPath) -> String {
    let join = |asns: &[u32], sep: &str| {
        asns.iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(sep)
    };
    path.segments
        .iter()
        .map(|s| match s.segment_type {
            AsSegmentType::Sequence => join(&s.asns, " "),
            AsSegmentType::Set => format!("{{{}}}", join(&s.asns, ",")),
            AsSegmentType::ConfedSequence => format!("({})", join(&s.asns, " ")),
            AsSegmentType::ConfedSet => format!("[{}]", join(&s.asns, ",")),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn ip_bits(ip: &IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

/// Formats an EVPN route key as FRR 8.4 prints the prefix of `show bgp l2vpn evpn`.
pub(crate) fn evpn_key_display(key: &EvpnRouteKey) -> String {
    match key {
        EvpnRouteKey::EthernetAd {
            esi, ethernet_tag, ..
        } => format!("[1]:[{}]:[{esi}]", ethernet_tag.0),
        EvpnRouteKey::MacIp {
            ethernet_tag,
            mac,
            ip,
            ..
        } => match ip {
            Some(ip) => format!(
                "[2]:[{}]:[48]:[{mac}]:[{}]:[{ip}]",
                ethernet_tag.0,
                ip_bits(ip)
            ),
            None => format!("[2]:[{}]:[48]:[{mac}]", ethernet_tag.0),
        },
        EvpnRouteKey::InclusiveMulticast {
            ethernet_tag,
            originating_ip,
            ..
        } => format!(
            "[3]:[{}]:[{}]:[{originating_ip}]",
            ethernet_tag.0,
            ip_bits(originating_ip)
        ),
        EvpnRouteKey::EthernetSegment {
            esi,
            originating_ip,
            ..
        } => format!(
            "[4]:[{esi}]:[{}]:[{originating_ip}]",
            ip_bits(originating_ip)
        ),
        EvpnRouteKey::IpPrefix {
            ethernet_tag,
            prefix,
            ..
        } => format!(
            "[5]:[{}]:[{}]:[{}]",
            ethernet_tag.0,
            prefix.prefix_len(),
            prefix.addr()
        ),
        EvpnRouteKey::Unknown { route_type, .. } => format!("[{route_type}]"),
    }
}
