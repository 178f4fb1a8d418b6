//! The tables of one family: Loc-RIB destinations with every candidate path (the post-policy
//! Adj-RIB-In of each peer is its share of them), pre-policy paths for soft reconfiguration,
//! the index of routes by next hop, and the per-peer counters.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use hna_evpn::{EvpnRoute, EvpnRouteKey, RouteDistinguisher};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use tracing::debug;

use super::decision::{self, Candidate, DecisionStep};
use super::nexthop::{NO_NEXTHOP, NhId};
use super::out::Group;
use super::{LOCAL_SLOT, Path, PeerFamily, PeerSlot, RibEvent, Route, Shared};
use crate::message::{NlriList, PathAttributes, PathNlri};
use crate::policy::{RouteView, Verdict, blocked_by_rfc8212};
use crate::types::AfiSafi;
use crate::wire::{EncodeError, UpdatePacker};

/// The operations a family's table needs on its route keys.
pub(crate) trait FamilyKey: Ord + Clone + fmt::Debug {
    const AFI_SAFI: AfiSafi;

    /// Rebuilds the full route from the key and, for EVPN, the path's NLRI.
    fn to_route(&self, evpn: Option<&EvpnRoute>) -> Option<Route>;

    /// Returns the policy's view fields: IP prefix, EVPN route type and VNI.
    fn view_fields(
        &self,
        evpn: Option<&EvpnRoute>,
        attrs: &PathAttributes,
    ) -> (Option<IpNet>, Option<u8>, Option<u32>);

    /// Adds the route to an UPDATE under construction.
    fn push(
        &self,
        packer: &mut UpdatePacker,
        evpn: Option<&EvpnRoute>,
        path_id: Option<u32>,
    ) -> Result<(), EncodeError>;

    /// Builds the NLRI list of withdrawn routes.
    fn withdrawals(routes: Vec<(Self, Option<Box<EvpnRoute>>)>, path_id: Option<u32>) -> NlriList;

    /// Returns the route distinguisher of an EVPN route.
    fn rd(&self) -> Option<RouteDistinguisher> {
        None
    }

    /// Formats the route as FRR 8.4 shows it.
    fn display(&self) -> String;
}

impl FamilyKey for Ipv4Net {
    const AFI_SAFI: AfiSafi = AfiSafi::IPV4_UNICAST;

    fn to_route(&self, _: Option<&EvpnRoute>) -> Option<Route> {
        Some(Route::Ipv4(*self))
    }

    fn view_fields(
        &self,
        _: Option<&EvpnRoute>,
        _: &PathAttributes,
    ) -> (Option<IpNet>, Option<u8>, Option<u32>) {
        (Some(IpNet::V4(*self)), None, None)
    }

    fn push(
        &self,
        packer: &mut UpdatePacker,
        _: Option<&EvpnRoute>,
        path_id: Option<u32>,
    ) -> Result<(), EncodeError> {
        packer.push_ipv4(&PathNlri {
            path_id,
            nlri: *self,
        })
    }

    fn withdrawals(routes: Vec<(Self, Option<Box<EvpnRoute>>)>, path_id: Option<u32>) -> NlriList {
        NlriList::Ipv4(
            routes
                .into_iter()
                .map(|(nlri, _)| PathNlri { path_id, nlri })
                .collect(),
        )
    }

    fn display(&self) -> String {
        self.to_string()
    }
}

impl FamilyKey for Ipv6Net {
    const AFI_SAFI: AfiSafi = AfiSafi::IPV6_UNICAST;

    fn to_route(&self, _: Option<&EvpnRoute>) -> Option<Route> {
        Some(Route::Ipv6(*self))
    }

    fn view_fields(
        &self,
        _: Option<&EvpnRoute>,
        _: &PathAttributes,
    ) -> (Option<IpNet>, Option<u8>, Option<u32>) {
        (Some(IpNet::V6(*self)), None, None)
    }

    fn push(
        &self,
        packer: &mut UpdatePacker,
        _: Option<&EvpnRoute>,
        path_id: Option<u32>,
    ) -> Result<(), EncodeError> {
        packer.push_ipv6(&PathNlri {
            path_id,
            nlri: *self,
        })
    }

    fn withdrawals(routes: Vec<(Self, Option<Box<EvpnRoute>>)>, path_id: Option<u32>) -> NlriList {
        NlriList::Ipv6(
            routes
                .into_iter()
                .map(|(nlri, _)| PathNlri { path_id, nlri })
                .collect(),
        )
    }

    fn display(&self) -> String {
        self.to_string()
    }
}

impl FamilyKey for EvpnRouteKey {
    const AFI_SAFI: AfiSafi = AfiSafi::L2VPN_EVPN;

    fn to_route(&self, evpn: Option<&EvpnRoute>) -> Option<Route> {
        evpn.map(|r| Route::Evpn(r.clone()))
    }

    fn view_fields(
        &self,
        evpn: Option<&EvpnRoute>,
        attrs: &PathAttributes,
    ) -> (Option<IpNet>, Option<u8>, Option<u32>) {
        let Some(route) = evpn else {
            return (None, None, None);
        };
        let (prefix, vni) = match route {
            EvpnRoute::MacIp(r) => (r.ip.map(IpNet::from), Some(r.label1.vni())),
            EvpnRoute::IpPrefix(r) => (Some(r.value.prefix()), Some(r.label.vni())),
            EvpnRoute::InclusiveMulticast(_) => {
                (None, attrs.pmsi_tunnel.as_ref().map(|p| p.label.vni()))
            }
            EvpnRoute::EthernetAd(r) => (None, Some(r.label.vni())),
            _ => (None, None),
        };
        (prefix, Some(route.route_type()), vni)
    }

    fn push(
        &self,
        packer: &mut UpdatePacker,
        evpn: Option<&EvpnRoute>,
        path_id: Option<u32>,
    ) -> Result<(), EncodeError> {
        match evpn {
            Some(route) => packer.push_evpn(&PathNlri {
                path_id,
                nlri: route.clone(),
            }),
            None => Ok(()),
        }
    }

    fn withdrawals(routes: Vec<(Self, Option<Box<EvpnRoute>>)>, path_id: Option<u32>) -> NlriList {
        NlriList::Evpn(
            routes
                .into_iter()
                .filter_map(|(_, r)| {
                    r.map(|nlri| PathNlri {
                        path_id,
                        nlri: *nlri,
                    })
                })
                .collect(),
        )
    }

    fn rd(&self) -> Option<RouteDistinguisher> {
        match self {
            EvpnRouteKey::EthernetAd { rd, .. }
            | EvpnRouteKey::MacIp { rd, .. }
            | EvpnRouteKey::InclusiveMulticast { rd, .. }
            | EvpnRouteKey::EthernetSegment { rd, .. }
            | EvpnRouteKey::IpPrefix { rd, .. } => Some(*rd),
            EvpnRouteKey::Unknown { .. } => None,
        }
    }

    fn display(&self) -> String {
        super::snapshot::evpn_key_display(self)
    }
}

/// A route as received: its key, add-path identifier and, for EVPN, the whole NLRI.
#[derive(Debug, Clone)]
pub(crate) struct Incoming<K> {
    pub(crate) key: K,
    pub(crate) path_id: Option<u32>,
    pub(crate) evpn: Option<Box<EvpnRoute>>,
}

impl<K> Incoming<K> {
    pub(crate) fn plain(key: K) -> Incoming<K> {
        Incoming {
            key,
            path_id: None,
            evpn: None,
        }
    }
}

impl Incoming<Ipv4Net> {
    pub(crate) fn from_ipv4(list: &[PathNlri<Ipv4Net>]) -> Vec<Incoming<Ipv4Net>> {
        list.iter()
            .map(|n| Incoming {
                key: n.nlri,
                path_id: n.path_id,
                evpn: None,
            })
            .collect()
    }
}

impl Incoming<Ipv6Net> {
    pub(crate) fn from_ipv6(list: &[PathNlri<Ipv6Net>]) -> Vec<Incoming<Ipv6Net>> {
        list.iter()
            .map(|n| Incoming {
                key: n.nlri,
                path_id: n.path_id,
                evpn: None,
            })
            .collect()
    }
}

impl Incoming<EvpnRouteKey> {
    pub(crate) fn evpn(route: EvpnRoute) -> Incoming<EvpnRouteKey> {
        Incoming {
            key: route.key(),
            path_id: None,
            evpn: Some(Box::new(route)),
        }
    }

    pub(crate) fn from_evpn(list: &[PathNlri<EvpnRoute>]) -> Vec<Incoming<EvpnRouteKey>> {
        list.iter()
            .map(|n| Incoming {
                key: n.nlri.key(),
                path_id: n.path_id,
                evpn: Some(Box::new(n.nlri.clone())),
            })
            .collect()
    }
}

/// One path in the Loc-RIB: 40 octets plus the shared attributes.
#[derive(Debug)]
pub(crate) struct StoredPath {
    /// Interned attributes without NEXT_HOP.
    pub(crate) attributes: Arc<PathAttributes>,
    /// The whole EVPN NLRI (labels and ESI belong to the path); `None` in other families.
    pub(crate) evpn: Option<Box<EvpnRoute>>,
    pub(crate) path_id: Option<u32>,
    pub(crate) peer: PeerSlot,
    pub(crate) nexthop: NhId,
    pub(crate) stale: bool,
}

impl StoredPath {
    fn same_content(&self, other: &StoredPath) -> bool {
        Arc::ptr_eq(&self.attributes, &other.attributes)
            && self.nexthop == other.nexthop
            && self.evpn == other.evpn
    }
}

const NO_BEST: u32 = u32::MAX;

/// A route of the Loc-RIB with its candidate paths.
#[derive(Debug)]
pub(crate) struct Dest {
    pub(crate) paths: Vec<StoredPath>,
    /// Index of the best path in `paths`, or `NO_BEST`.
    best: u32,
    pub(crate) step: DecisionStep,
}

impl Dest {
    pub(crate) fn best(&self) -> Option<&StoredPath> {
        self.paths.get(self.best as usize)
    }

    pub(crate) fn best_index(&self) -> Option<usize> {
        (self.best != NO_BEST).then_some(self.best as usize)
    }
}

/// A path as received, before inbound policy (soft reconfiguration inbound).
#[derive(Debug, Clone)]
struct PrePolicyPath {
    attributes: Arc<PathAttributes>,
    next_hop: Option<IpAddr>,
    evpn: Option<Box<EvpnRoute>>,
}

/// The state a table keeps about one peer.
#[derive(Debug)]
pub(crate) struct PeerTableState<K> {
    /// Paths of the peer in the Loc-RIB, stale ones included.
    pub(crate) accepted: u64,
    pub(crate) stale: u64,
    /// Routes the inbound policy denied, for the received count.
    filtered: BTreeSet<(K, Option<u32>)>,
    pre_policy: Option<BTreeMap<(K, Option<u32>), PrePolicyPath>>,
}

impl<K> Default for PeerTableState<K> {
    fn default() -> Self {
        PeerTableState {
            accepted: 0,
            stale: 0,
            filtered: BTreeSet::new(),
            pre_policy: None,
        }
    }
}

/// The RIBs of one family.
#[derive(Debug)]
pub(crate) struct Table<K: FamilyKey> {
    pub(crate) dests: BTreeMap<K, Dest>,
    /// The routes with at least one path through each next hop.
    by_nexthop: HashMap<NhId, BTreeSet<K>>,
    pub(crate) peers: HashMap<PeerSlot, PeerTableState<K>>,
    pub(crate) groups: Vec<Group<K>>,
    pub(crate) next_group_id: u64,
    /// Routes whose best path changed since the update groups last looked, possibly repeated.
    /// A vector, sorted and deduplicated at flush, costs less per change than a set.
    pub(crate) dirty: Vec<K>,
    scratch: Vec<Candidate>,
}

impl<K: FamilyKey> Table<K> {
    pub(crate) fn new() -> Table<K> {
        Table {
            dests: BTreeMap::new(),
            by_nexthop: HashMap::new(),
            peers: HashMap::new(),
            groups: Vec::new(),
            next_group_id: 1,
            dirty: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Prepares the per-peer state of a family that came up.
    pub(crate) fn peer_family_up(&mut self, sh: &Shared, slot: PeerSlot) {
        let soft = sh
            .peers
            .get(slot)
            .and_then(|p| p.family(K::AFI_SAFI))
            .is_some_and(|f| f.soft_reconfiguration_inbound);
        let state = self.peers.entry(slot).or_default();
        state.filtered.clear();
        state.pre_policy = soft.then(BTreeMap::new);
    }

    /// Removes a peer's paths, or marks them stale when `keep_stale`, and stops sending to it.
    pub(crate) fn peer_family_down(&mut self, sh: &mut Shared, slot: PeerSlot, keep_stale: bool) {
        self.leave_group(sh, slot);
        let Some(state) = self.peers.get_mut(&slot) else {
            return;
        };
        state.filtered.clear();
        state.pre_policy = None;

        if keep_stale {
            let mut marked = 0;
            for dest in self.dests.values_mut() {
                for path in dest.paths.iter_mut().filter(|p| p.peer == slot && !p.stale) {
                    path.stale = true;
                    marked += 1;
                }
            }
            state.stale += marked;
            debug!(peer_slot = slot, afi_safi = %K::AFI_SAFI, marked, "paths kept as stale");
            return;
        }
        let keys: Vec<(K, Option<u32>)> = self.paths_of(slot, |_| true);
        for (key, path_id) in keys {
            self.remove_path(sh, &key, slot, path_id);
        }
        self.peers.remove(&slot);
    }

    /// Returns the (route, path id) of every path of `slot` that satisfies `filter`.
    fn paths_of(
        &self,
        slot: PeerSlot,
        filter: impl Fn(&StoredPath) -> bool,
    ) -> Vec<(K, Option<u32>)> {
        let mut found = Vec::new();
        for (key, dest) in &self.dests {
            for path in dest.paths.iter().filter(|p| p.peer == slot && filter(p)) {
                found.push((key.clone(), path.path_id));
            }
        }
        found
    }

    /// Removes the stale paths of a peer.
    pub(crate) fn sweep_stale(&mut self, sh: &mut Shared, slot: PeerSlot) {
        if self.peers.get(&slot).is_none_or(|s| s.stale == 0) {
            return;
        }
        let keys = self.paths_of(slot, |p| p.stale);
        debug!(peer_slot = slot, afi_safi = %K::AFI_SAFI, swept = keys.len(), "stale paths swept");
        for (key, path_id) in keys {
            self.remove_path(sh, &key, slot, path_id);
        }
        let up = sh.peers.get(slot).is_some_and(|p| p.up);
        if !up && self.peers.get(&slot).is_some_and(|s| s.accepted == 0) {
            self.peers.remove(&slot);
        }
    }

    pub(crate) fn peer_has_paths(&self, slot: PeerSlot) -> bool {
        self.peers.get(&slot).is_some_and(|s| s.accepted > 0)
    }

    /// Returns the limit when the peer has more accepted paths than its maximum-prefix.
    pub(crate) fn over_limit(&self, sh: &Shared, slot: PeerSlot) -> Option<u32> {
        let limit = sh.peers.get(slot)?.family(K::AFI_SAFI)?.maximum_prefix?;
        let accepted = self.peers.get(&slot)?.accepted;
        (accepted > limit as u64).then_some(limit)
    }

    /// Returns received, accepted and advertised path counts of a peer.
    pub(crate) fn counts(&self, slot: PeerSlot) -> Option<(u64, u64, u64)> {
        let state = self.peers.get(&slot)?;
        let received = match &state.pre_policy {
            Some(pre) => pre.len() as u64,
            None => state.accepted + state.filtered.len() as u64,
        };
        let sent = self
            .groups
            .iter()
            .find(|g| g.members.contains(&slot))
            .map_or(0, |g| g.adj_out.len() as u64);
        Some((received, state.accepted, sent))
    }

    /// Applies announcements from a peer: pre-policy storage, inbound policy, then the
    /// Loc-RIB and decision.
    pub(crate) fn announce(
        &mut self,
        sh: &mut Shared,
        slot: PeerSlot,
        routes: Vec<Incoming<K>>,
        attrs: &Arc<PathAttributes>,
        next_hop: Option<IpAddr>,
    ) {
        let Some(family) = sh
            .peers
            .get(slot)
            .and_then(|p| p.family(K::AFI_SAFI))
            .cloned()
        else {
            debug!(peer_slot = slot, afi_safi = %K::AFI_SAFI, routes = routes.len(), "routes of a family not negotiated ignored");
            return;
        };
        for route in routes {
            if !usable_evpn(route.evpn.as_deref()) {
                self.withdraw_one(sh, slot, route);
                continue;
            }
            if let Some(pre) = self.peers.entry(slot).or_default().pre_policy.as_mut() {
                pre.insert(
                    (route.key.clone(), route.path_id),
                    PrePolicyPath {
                        attributes: attrs.clone(),
                        next_hop,
                        evpn: route.evpn.clone(),
                    },
                );
            }
            self.accept(sh, slot, &family, route, attrs, next_hop);
        }
    }

    /// Runs the inbound policy on one route and stores the result.
    fn accept(
        &mut self,
        sh: &mut Shared,
        slot: PeerSlot,
        family: &PeerFamily,
        route: Incoming<K>,
        attrs: &Arc<PathAttributes>,
        next_hop: Option<IpAddr>,
    ) {
        let ebgp = sh.peers.get(slot).is_some_and(|p| p.ebgp);
        let blocked = blocked_by_rfc8212(
            sh.local.ebgp_requires_policy,
            ebgp,
            family.route_map_in.as_deref(),
        );
        let verdict = if blocked {
            Verdict::Deny
        } else if let Some(map) = &family.route_map_in {
            let (prefix, evpn_route_type, vni) =
                route.key.view_fields(route.evpn.as_deref(), attrs);
            sh.policy.apply(
                map,
                &RouteView {
                    prefix,
                    source_l3vrf: None,
                    evpn_route_type,
                    vni,
                    next_hop,
                    attributes: attrs,
                },
            )
        } else {
            Verdict::Unchanged
        };

        let state = self.peers.entry(slot).or_default();
        let filter_key = (route.key.clone(), route.path_id);
        let (attributes, next_hop) = match verdict {
            Verdict::Deny => {
                state.filtered.insert(filter_key);
                self.remove_path(sh, &route.key, slot, route.path_id);
                return;
            }
            Verdict::Unchanged => (attrs.clone(), next_hop),
            Verdict::Changed(result) => {
                let mut a = result.attributes;
                a.next_hop = None;
                (sh.interner.intern(a), result.next_hop)
            }
        };
        state.filtered.remove(&filter_key);
        let nexthop = match next_hop {
            Some(address) => {
                let track = !address.is_unspecified() && !is_local_address(sh, address);
                sh.nexthops.acquire(address, track, &mut sh.events)
            }
            None => NO_NEXTHOP,
        };
        let path = StoredPath {
            attributes,
            evpn: route.evpn,
            path_id: route.path_id,
            peer: slot,
            nexthop,
            stale: false,
        };
        self.set_path(sh, route.key, path);
    }

    /// Applies withdrawals from a peer.
    pub(crate) fn withdraw(&mut self, sh: &mut Shared, slot: PeerSlot, routes: Vec<Incoming<K>>) {
        for route in routes {
            self.withdraw_one(sh, slot, route);
        }
    }

    fn withdraw_one(&mut self, sh: &mut Shared, slot: PeerSlot, route: Incoming<K>) {
        if let Some(state) = self.peers.get_mut(&slot) {
            let key = (route.key, route.path_id);
            state.filtered.remove(&key);
            if let Some(pre) = state.pre_policy.as_mut() {
                pre.remove(&key);
            }
            self.remove_path(sh, &key.0, slot, key.1);
        }
    }

    /// Re-runs the inbound policy over the kept pre-policy paths of a peer.
    pub(crate) fn reapply_inbound(&mut self, sh: &mut Shared, slot: PeerSlot) {
        let Some(family) = sh
            .peers
            .get(slot)
            .and_then(|p| p.family(K::AFI_SAFI))
            .cloned()
        else {
            return;
        };
        let Some(pre) = self.peers.get(&slot).and_then(|s| s.pre_policy.clone()) else {
            return;
        };
        for ((key, path_id), p) in pre {
            let route = Incoming {
                key,
                path_id,
                evpn: p.evpn,
            };
            self.accept(sh, slot, &family, route, &p.attributes, p.next_hop);
        }
    }

    /// Adds or replaces a locally originated path.
    pub(crate) fn originate(
        &mut self,
        sh: &mut Shared,
        route: Incoming<K>,
        attrs: &Arc<PathAttributes>,
        next_hop: Option<IpAddr>,
    ) {
        let nexthop = match next_hop {
            Some(address) => sh.nexthops.acquire(address, false, &mut sh.events),
            None => NO_NEXTHOP,
        };
        let path = StoredPath {
            attributes: attrs.clone(),
            evpn: route.evpn,
            path_id: None,
            peer: LOCAL_SLOT,
            nexthop,
            stale: false,
        };
        self.set_path(sh, route.key, path);
    }

    pub(crate) fn withdraw_local(&mut self, sh: &mut Shared, key: &K) {
        self.remove_path(sh, key, LOCAL_SLOT, None);
    }

    /// Inserts `path`, replacing the path of the same peer and path id, and re-runs the
    /// decision for the route.
    fn set_path(&mut self, sh: &mut Shared, key: K, path: StoredPath) {
        let slot = path.peer;
        let new_nexthop = path.nexthop;
        let dest = self.dests.entry(key.clone()).or_insert_with(|| Dest {
            paths: Vec::with_capacity(1),
            best: NO_BEST,
            step: DecisionStep::OnlyPath,
        });
        let existing = dest
            .paths
            .iter()
            .position(|p| p.peer == slot && p.path_id == path.path_id);
        let mut force = false;
        let mut released = None;
        match existing {
            Some(i) => {
                let old = &mut dest.paths[i];
                let was_stale = old.stale;
                if old.same_content(&path) {
                    // A refresh of the same path: only the stale mark may go.
                    old.stale = false;
                    sh.nexthops.release(path.nexthop, &mut sh.events);
                    if was_stale && let Some(s) = self.peers.get_mut(&slot) {
                        s.stale = s.stale.saturating_sub(1);
                    }
                    return;
                }
                if was_stale && let Some(s) = self.peers.get_mut(&slot) {
                    s.stale = s.stale.saturating_sub(1);
                }
                force = dest.best == i as u32;
                let old = std::mem::replace(&mut dest.paths[i], path);
                if old.nexthop == new_nexthop {
                    // The new path took its own reference on the same next hop.
                    sh.nexthops.release(old.nexthop, &mut sh.events);
                } else {
                    released = Some(old.nexthop);
                }
            }
            None => {
                // Grow by one: the default doubling starts at four elements, which would more
                // than double the memory of the common route with two paths.
                dest.paths.reserve_exact(1);
                dest.paths.push(path);
                if slot != LOCAL_SLOT {
                    self.peers.entry(slot).or_default().accepted += 1;
                }
            }
        }
        if new_nexthop != NO_NEXTHOP {
            self.by_nexthop
                .entry(new_nexthop)
                .or_default()
                .insert(key.clone());
        }
        if let Some(old_nexthop) = released {
            self.unindex_nexthop(sh, &key, old_nexthop);
        }
        self.decide(sh, &key, force, None);
    }

    /// Removes the path of `slot` with `path_id` from a route, if present.
    fn remove_path(&mut self, sh: &mut Shared, key: &K, slot: PeerSlot, path_id: Option<u32>) {
        let Some(dest) = self.dests.get_mut(key) else {
            return;
        };
        let Some(i) = dest
            .paths
            .iter()
            .position(|p| p.peer == slot && p.path_id == path_id)
        else {
            return;
        };
        let was_best = dest.best == i as u32;
        let old = dest.paths.swap_remove(i);
        // swap_remove moved the last path into `i`: keep `best` pointing at the same path.
        if was_best {
            dest.best = NO_BEST;
        } else if dest.best == dest.paths.len() as u32 {
            dest.best = i as u32;
        }
        if slot != LOCAL_SLOT
            && let Some(s) = self.peers.get_mut(&slot)
        {
            s.accepted = s.accepted.saturating_sub(1);
            if old.stale {
                s.stale = s.stale.saturating_sub(1);
            }
        }
        self.unindex_nexthop(sh, key, old.nexthop);
        self.decide(sh, key, was_best, old.evpn.as_deref());
    }

    /// Drops one path's reference to `nexthop` and unindexes the route when no other path of
    /// it uses that next hop.
    fn unindex_nexthop(&mut self, sh: &mut Shared, key: &K, nexthop: NhId) {
        if nexthop == NO_NEXTHOP {
            return;
        }
        sh.nexthops.release(nexthop, &mut sh.events);
        let still_used = self
            .dests
            .get(key)
            .is_some_and(|d| d.paths.iter().any(|p| p.nexthop == nexthop));
        if !still_used && let Some(set) = self.by_nexthop.get_mut(&nexthop) {
            set.remove(key);
            if set.is_empty() {
                self.by_nexthop.remove(&nexthop);
            }
        }
    }

    /// Re-runs the decision for the routes with a path through `nexthop`.
    pub(crate) fn rerun_nexthop(&mut self, sh: &mut Shared, nexthop: NhId) {
        let Some(keys) = self.by_nexthop.get(&nexthop) else {
            return;
        };
        let keys: Vec<K> = keys.iter().cloned().collect();
        for key in keys {
            self.decide(sh, &key, false, None);
        }
    }

    /// Runs the decision process for one route. `force` reports a change even when the same
    /// path stays best, because its content changed. Removes the route when it has no path;
    /// `removed` is the EVPN NLRI of a path just removed, to name the route in the event.
    fn decide(&mut self, sh: &mut Shared, key: &K, force: bool, removed: Option<&EvpnRoute>) {
        let Some(dest) = self.dests.get_mut(key) else {
            return;
        };
        let old_best = dest.best;
        self.scratch.clear();
        for (i, path) in dest.paths.iter().enumerate() {
            if let Some(c) = decision::candidate(i, path, sh) {
                self.scratch.push(c);
            }
        }
        match decision::select(&mut self.scratch, dest.paths.len()) {
            Some((index, step)) => {
                dest.best = index as u32;
                dest.step = step;
            }
            None => dest.best = NO_BEST,
        }
        if dest.best == old_best && !force {
            return;
        }
        let best = dest.best().map(|p| Arc::new(make_path(key, p, sh)));
        let route = match &best {
            Some(p) => Some(p.route.clone()),
            None => dest
                .paths
                .first()
                .and_then(|p| key.to_route(p.evpn.as_deref()))
                .or_else(|| key.to_route(removed)),
        };
        if dest.paths.is_empty() {
            self.dests.remove(key);
        }
        if old_best == NO_BEST && best.is_none() && !force {
            return;
        }
        if let Some(route) = route {
            sh.events.push(RibEvent::BestChanged {
                afi_safi: K::AFI_SAFI,
                route,
                best,
            });
        } else {
            debug!(?key, "best path removed for a route without a stored NLRI");
        }
        if !self.groups.is_empty() {
            self.dirty.push(key.clone());
        }
    }
}

/// Whether the EVPN NLRI (if any) may enter the RIB: RFC 7606 section 5.4 discards unknown
/// route types, and RFC 9136 section 3.1 treats a type-5 route with both ESI and gateway set
/// as withdrawn.
fn usable_evpn(evpn: Option<&EvpnRoute>) -> bool {
    match evpn {
        Some(EvpnRoute::Unknown { .. }) => false,
        Some(route) => route.validate().is_ok(),
        None => true,
    }
}

/// Whether `address` is one of ours: the router id or our end of a session.
pub(crate) fn is_local_address(sh: &Shared, address: IpAddr) -> bool {
    address == IpAddr::V4(sh.local.router_id) || sh.peers.is_local_address(address)
}

/// Builds the public view of a stored path.
pub(crate) fn make_path<K: FamilyKey>(key: &K, path: &StoredPath, sh: &Shared) -> Path {
    Path {
        route: key
            .to_route(path.evpn.as_deref())
            .unwrap_or_else(|| Route::Ipv4(Ipv4Net::default())),
        attributes: path.attributes.clone(),
        source: (path.peer != LOCAL_SLOT)
            .then(|| sh.peers.get(path.peer).map(|p| p.info.id))
            .flatten(),
        external: path.peer != LOCAL_SLOT && sh.peers.get(path.peer).is_some_and(|p| p.ebgp),
        next_hop: sh.nexthops.address(path.nexthop),
        igp_metric: sh.nexthops.reported_metric(path.nexthop),
        stale: path.stale,
        path_id: path.path_id,
    }
}
