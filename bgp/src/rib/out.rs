//! Adj-RIB-Out with update groups, after FRR's: the peers of a family that would be sent the
//! same UPDATEs share one computation of the outbound attributes and one encoding of each
//! message. Peers are alike when they have the same peer type, reflection role, outbound
//! route-map, next-hop rewriting, local address and encoding context.
//!
//! Advertisement rules: RFC 4271 section 9.2 (iBGP split horizon, eBGP AS_PATH prepend and
//! next hop), RFC 4456 section 6 (what a reflector sends to clients and non-clients) and
//! section 8 (ORIGINATOR_ID, CLUSTER_LIST), RFC 1997 well-known communities, RFC 6793 AS4_PATH
//! towards peers without 4-octet AS support, RFC 8212.
//!
//! A route goes to every member of a group, including the peer it was learned from when that
//! peer is a member: that peer drops it by its own loop detection (AS_PATH for eBGP,
//! ORIGINATOR_ID for a reflector's client), as FRR 8.4 does for groups of several peers.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use hna_evpn::EvpnRoute;
use serde::Serialize;
use tracing::debug;

use super::attrs::{prepend_as, strip_confederation};
use super::decision::DEFAULT_LOCAL_PREF;
use super::nexthop::NhId;
use super::table::{FamilyKey, Table};
use super::{LOCAL_SLOT, PeerSlot, Shared};
use crate::message::{AsPath, Community, MpNextHop, PathAttributes, attr_flags};
use crate::policy::{RouteView, Verdict, blocked_by_rfc8212};
use crate::types::AfiSafi;
use crate::wire::{SessionContext, UpdatePacker, encode_end_of_rib, pack_withdrawals};

/// The settings that make two peers receive the same UPDATEs in a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupKey {
    pub(crate) ebgp: bool,
    pub(crate) route_reflector_client: bool,
    pub(crate) route_map_out: Option<String>,
    pub(crate) next_hop_self: bool,
    /// The next hop written for eBGP, `next_hop_self` and local routes without a next hop.
    pub(crate) local_address: IpAddr,
    pub(crate) context: SessionContext,
}

/// A route as advertised to a group.
#[derive(Debug, Clone)]
pub(crate) struct OutRoute {
    /// Interned; NEXT_HOP is set for IPv4 unicast only.
    pub(crate) attributes: Arc<PathAttributes>,
    /// The next hop of MP_REACH_NLRI (and of NEXT_HOP for IPv4 unicast).
    pub(crate) next_hop: Option<IpAddr>,
    /// The whole EVPN NLRI advertised, also needed to withdraw it.
    pub(crate) evpn: Option<Box<EvpnRoute>>,
}

impl OutRoute {
    fn same(&self, other: &OutRoute) -> bool {
        Arc::ptr_eq(&self.attributes, &other.attributes)
            && self.next_hop == other.next_hop
            && self.evpn == other.evpn
    }
}

/// An update group of one family.
#[derive(Debug)]
pub(crate) struct Group<K> {
    id: u64,
    key: GroupKey,
    pub(crate) members: Vec<PeerSlot>,
    /// The routes sent to the members, after outbound policy.
    pub(crate) adj_out: BTreeMap<K, OutRoute>,
    /// Messages encoded for the group, each shared by every member.
    messages_encoded: u64,
}

/// An update group for `show` and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateGroupSnapshot {
    pub id: u64,
    pub afi_safi: String,
    pub members: Vec<u32>,
    pub ebgp: bool,
    pub route_reflector_client: bool,
    pub route_map_out: Option<String>,
    pub next_hop_self: bool,
    pub local_address: IpAddr,
    /// Routes in the group's Adj-RIB-Out.
    pub advertised: u64,
    /// UPDATE messages encoded once for all members, End-of-RIB markers excluded.
    pub messages_encoded: u64,
}

/// The outbound attributes computed for one (attributes, source peer, next hop) triple, kept
/// for the length of one pass when the group has no route-map (which may look at the route).
type OutCache = HashMap<(usize, PeerSlot, NhId), Option<(Arc<PathAttributes>, Option<IpAddr>)>>;

impl<K: FamilyKey> Table<K> {
    fn group_key(sh: &Shared, slot: PeerSlot) -> Option<GroupKey> {
        let peer = sh.peers.get(slot)?;
        let family = peer.family(K::AFI_SAFI)?;
        Some(GroupKey {
            ebgp: peer.ebgp,
            route_reflector_client: family.route_reflector_client,
            route_map_out: family.route_map_out.clone(),
            next_hop_self: family.next_hop_self,
            local_address: peer.info.local_address,
            context: peer.info.send_context.clone(),
        })
    }

    /// Removes a peer from its update group; a group left empty is dropped with its
    /// Adj-RIB-Out.
    pub(crate) fn leave_group(&mut self, _sh: &mut Shared, slot: PeerSlot) {
        for group in &mut self.groups {
            group.members.retain(|&m| m != slot);
        }
        self.groups.retain(|g| !g.members.is_empty());
        if self.groups.is_empty() {
            self.dirty.clear();
        }
    }

    /// Puts a peer that came up in its update group, creating the group when none matches,
    /// and queues the group's whole Adj-RIB-Out for it, then End-of-RIB.
    pub(crate) fn join_group_and_dump(&mut self, sh: &mut Shared, slot: PeerSlot) {
        let Some(key) = Self::group_key(sh, slot) else {
            return;
        };
        // Bring every group up to date first, so that a joining member and the others agree
        // on what was sent.
        self.flush(sh);
        let index = match self.groups.iter().position(|g| g.key == key) {
            Some(i) => {
                self.groups[i].members.push(slot);
                i
            }
            None => {
                let id = self.next_group_id;
                self.next_group_id += 1;
                let mut group = Group {
                    id,
                    key,
                    members: vec![slot],
                    adj_out: BTreeMap::new(),
                    messages_encoded: 0,
                };
                let keys: Vec<K> = self.dests.keys().cloned().collect();
                let mut cache = OutCache::new();
                for k in keys {
                    if let Some(route) = self.compute_out(sh, &group.key, &k, &mut cache) {
                        group.adj_out.insert(k, route);
                    }
                }
                debug!(group = id, afi_safi = %K::AFI_SAFI, routes = group.adj_out.len(), "update group created");
                self.groups.push(group);
                self.groups.len() - 1
            }
        };
        self.dump_to(sh, index, slot);
    }

    /// Queues the whole Adj-RIB-Out again for a peer that sent ROUTE-REFRESH.
    pub(crate) fn refresh_peer(&mut self, sh: &mut Shared, slot: PeerSlot) {
        self.flush(sh);
        if let Some(index) = self.groups.iter().position(|g| g.members.contains(&slot)) {
            self.dump_to(sh, index, slot);
        }
    }

    /// Encodes a group's whole Adj-RIB-Out and End-of-RIB for one member.
    fn dump_to(&mut self, sh: &mut Shared, index: usize, slot: PeerSlot) {
        let group = &mut self.groups[index];
        let announced: Vec<(&K, &OutRoute)> = group.adj_out.iter().collect();
        let mut messages = encode_announcements(&group.key.context, announced);
        group.messages_encoded += messages.len() as u64;
        let mut eor = Vec::new();
        encode_end_of_rib(K::AFI_SAFI, &group.key.context, &mut eor);
        messages.push(eor);
        if let Some(peer) = sh.peers.get_mut(slot) {
            peer.queue.extend(messages.into_iter().map(Arc::new));
        }
    }

    /// Recomputes every route for every group, as after a policy or identity change.
    pub(crate) fn resync_all_groups(&mut self, sh: &mut Shared) {
        if self.groups.is_empty() {
            return;
        }
        let mut keys: Vec<K> = self.dests.keys().cloned().collect();
        for group in &self.groups {
            keys.extend(group.adj_out.keys().cloned());
        }
        self.dirty.extend(keys);
        self.flush(sh);
    }

    /// Computes what changed for each group among the routes whose best path changed,
    /// encodes it once per group and queues it to the members.
    pub(crate) fn flush(&mut self, sh: &mut Shared) {
        if self.dirty.is_empty() {
            return;
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for index in 0..self.groups.len() {
            let key = self.groups[index].key.clone();
            let mut cache = OutCache::new();
            let mut announce: Vec<(K, OutRoute)> = Vec::new();
            let mut withdraw: Vec<(K, Option<Box<EvpnRoute>>)> = Vec::new();
            for k in &dirty {
                let new = self.compute_out(sh, &key, k, &mut cache);
                let group = &mut self.groups[index];
                match (new, group.adj_out.get(k)) {
                    (Some(new), Some(old)) if new.same(old) => {}
                    (Some(new), _) => {
                        group.adj_out.insert(k.clone(), new.clone());
                        announce.push((k.clone(), new));
                    }
                    (None, Some(_)) => {
                        if let Some(old) = group.adj_out.remove(k) {
                            withdraw.push((k.clone(), old.evpn));
                        }
                    }
                    (None, None) => {}
                }
            }
            let ctx = &key.context;
            let mut messages = Vec::new();
            if !withdraw.is_empty() {
                let path_id = send_path_id(ctx, K::AFI_SAFI);
                match pack_withdrawals(ctx, K::AFI_SAFI, &K::withdrawals(withdraw, path_id)) {
                    Ok(m) => messages.extend(m),
                    Err(e) => debug!(error = %e, "withdrawals not encoded"),
                }
            }
            messages.extend(encode_announcements(
                ctx,
                announce.iter().map(|(k, r)| (k, r)).collect(),
            ));
            if messages.is_empty() {
                continue;
            }
            let group = &mut self.groups[index];
            group.messages_encoded += messages.len() as u64;
            let shared: Vec<Arc<Vec<u8>>> = messages.into_iter().map(Arc::new).collect();
            for &member in &group.members {
                if let Some(peer) = sh.peers.get_mut(member) {
                    peer.queue.extend(shared.iter().cloned());
                }
            }
        }
    }

    /// Computes what a group is sent for route `k`: `None` when nothing is (no best path, the
    /// rules of advertisement forbid it, or the outbound policy denies it).
    fn compute_out(
        &self,
        sh: &mut Shared,
        group: &GroupKey,
        k: &K,
        cache: &mut OutCache,
    ) -> Option<OutRoute> {
        let path = self.dests.get(k)?.best()?;
        let cache_key = (
            Arc::as_ptr(&path.attributes) as usize,
            path.peer,
            path.nexthop,
        );
        let use_cache = group.route_map_out.is_none();
        if use_cache && let Some(cached) = cache.get(&cache_key) {
            return cached.clone().map(|(attributes, next_hop)| OutRoute {
                attributes,
                next_hop,
                evpn: path.evpn.clone(),
            });
        }
        let computed = outbound(sh, group, k, path);
        if use_cache {
            cache.insert(cache_key, computed.clone());
        }
        computed.map(|(attributes, next_hop)| OutRoute {
            attributes,
            next_hop,
            evpn: path.evpn.clone(),
        })
    }

    pub(crate) fn group_snapshots(&self, sh: &Shared) -> Vec<UpdateGroupSnapshot> {
        self.groups
            .iter()
            .map(|g| UpdateGroupSnapshot {
                id: g.id,
                afi_safi: K::AFI_SAFI.to_string(),
                members: g
                    .members
                    .iter()
                    .filter_map(|&m| sh.peers.get(m).map(|p| p.info.id.0))
                    .collect(),
                ebgp: g.key.ebgp,
                route_reflector_client: g.key.route_reflector_client,
                route_map_out: g.key.route_map_out.clone(),
                next_hop_self: g.key.next_hop_self,
                local_address: g.key.local_address,
                advertised: g.adj_out.len() as u64,
                messages_encoded: g.messages_encoded,
            })
            .collect()
    }
}

/// Returns the add-path identifier sent with each route. The single best path gets identifier
/// 1 when add-path send is negotiated (RFC 7911), and none otherwise.
fn send_path_id(ctx: &SessionContext, afi_safi: AfiSafi) -> Option<u32> {
    ctx.add_path(afi_safi).then_some(1)
}

/// Applies the advertisement rules and the outbound route-map to the best path of `k`.
fn outbound<K: FamilyKey>(
    sh: &mut Shared,
    group: &GroupKey,
    k: &K,
    path: &super::table::StoredPath,
) -> Option<(Arc<PathAttributes>, Option<IpAddr>)> {
    let src_attrs = &path.attributes;
    let communities = src_attrs.communities.as_deref().unwrap_or(&[]);
    if communities.contains(&Community::NO_ADVERTISE) {
        return None;
    }
    if group.ebgp
        && (communities.contains(&Community::NO_EXPORT)
            || communities.contains(&Community::NO_EXPORT_SUBCONFED))
    {
        return None;
    }
    if blocked_by_rfc8212(
        sh.local.ebgp_requires_policy,
        group.ebgp,
        group.route_map_out.as_deref(),
    ) {
        return None;
    }

    // Who the path came from decides iBGP split horizon and reflection.
    let (source_ebgp, source_client, source_id) = if path.peer == LOCAL_SLOT {
        (false, false, None)
    } else {
        let peer = sh.peers.get(path.peer)?;
        let client = peer
            .family(K::AFI_SAFI)
            .is_some_and(|f| f.route_reflector_client);
        (peer.ebgp, client, Some(peer.info.bgp_identifier))
    };
    let from_ibgp = path.peer != LOCAL_SLOT && !source_ebgp;
    let reflected = from_ibgp && !group.ebgp;
    if reflected && !source_client && !group.route_reflector_client {
        // RFC 4456 section 6: a route from a non-client goes to clients only.
        return None;
    }

    let mut a: PathAttributes = (**src_attrs).clone();
    // Unrecognized non-transitive attributes are not passed on (RFC 4271 section 5).
    a.unknown.retain(|u| u.flags & attr_flags::TRANSITIVE != 0);
    if group.ebgp {
        let mut as_path = a.as_path.take().unwrap_or_default();
        strip_confederation(&mut as_path);
        a.as_path = Some(prepend_as(Some(&as_path), sh.local.asn));
        a.local_pref = None;
        if source_ebgp {
            // MED is not passed from one neighboring AS to another (RFC 4271 section 5.1.4).
            a.med = None;
        }
        a.originator_id = None;
        a.cluster_list = None;
    } else {
        a.local_pref.get_or_insert(DEFAULT_LOCAL_PREF);
        a.as_path.get_or_insert_with(AsPath::default);
        if reflected {
            if a.originator_id.is_none() {
                a.originator_id = source_id;
            }
            let mut list = vec![sh.local.cluster_id];
            list.extend(a.cluster_list.take().unwrap_or_default());
            a.cluster_list = Some(list);
        }
    }
    set_as4_attributes(&mut a, group.context.four_octet_as);

    let path_next_hop = sh.nexthops.address(path.nexthop);
    let rewrite = group.ebgp || path_next_hop.is_none() || (group.next_hop_self && !reflected);
    let mut next_hop = if rewrite {
        Some(group.local_address)
    } else {
        path_next_hop
    };

    if let Some(map) = &group.route_map_out {
        let (prefix, evpn_route_type, vni) = k.view_fields(path.evpn.as_deref(), &a);
        let verdict = sh.policy.apply(
            map,
            &RouteView {
                prefix,
                source_l3vrf: None,
                evpn_route_type,
                vni,
                next_hop,
                attributes: &a,
            },
        );
        match verdict {
            Verdict::Deny => return None,
            Verdict::Unchanged => {}
            Verdict::Changed(result) => {
                a = result.attributes;
                next_hop = result.next_hop;
            }
        }
    }

    if K::AFI_SAFI == AfiSafi::IPV4_UNICAST {
        match next_hop {
            Some(IpAddr::V4(v4)) => a.next_hop = Some(v4),
            _ => {
                // NOTE: IPv4 routes with an IPv6 next hop (RFC 8950) are not sent.
                debug!(
                    ?k,
                    ?next_hop,
                    "IPv4 route without an IPv4 next hop not advertised"
                );
                return None;
            }
        }
    } else {
        a.next_hop = None;
    }
    Some((sh.interner.intern(a), next_hop))
}

/// Writes AS4_PATH and AS4_AGGREGATOR for a peer without 4-octet AS support when they carry
/// an AS above 65535, and removes them otherwise (RFC 6793 section 4.2.2).
fn set_as4_attributes(a: &mut PathAttributes, four_octet_as: bool) {
    a.as4_path = None;
    a.as4_aggregator = None;
    if four_octet_as {
        return;
    }
    if let Some(path) = &a.as_path
        && path
            .segments
            .iter()
            .any(|s| s.asns.iter().any(|&n| n > 0xffff))
    {
        let mut as4 = path.clone();
        strip_confederation(&mut as4);
        a.as4_path = Some(as4);
    }
    if let Some(aggregator) = a.aggregator
        && aggregator.asn > 0xffff
    {
        a.as4_aggregator = Some(aggregator);
    }
}

/// Packs announcements into UPDATEs, one run of messages per distinct (attributes, next hop).
fn encode_announcements<K: FamilyKey>(
    ctx: &SessionContext,
    routes: Vec<(&K, &OutRoute)>,
) -> Vec<Vec<u8>> {
    let mut order: Vec<(&OutRoute, Vec<(&K, &OutRoute)>)> = Vec::new();
    let mut index: HashMap<(usize, Option<IpAddr>), usize> = HashMap::new();
    for (k, route) in routes {
        let id = (Arc::as_ptr(&route.attributes) as usize, route.next_hop);
        let i = *index.entry(id).or_insert_with(|| {
            order.push((route, Vec::new()));
            order.len() - 1
        });
        order[i].1.push((k, route));
    }

    let path_id = send_path_id(ctx, K::AFI_SAFI);
    let mut messages = Vec::new();
    for (first, members) in order {
        let mp_next_hop = if K::AFI_SAFI == AfiSafi::IPV4_UNICAST {
            None
        } else {
            match first.next_hop {
                Some(IpAddr::V4(v4)) => Some(MpNextHop::Ipv4(v4)),
                Some(IpAddr::V6(v6)) => Some(MpNextHop::Ipv6 {
                    global: v6,
                    link_local: None,
                }),
                None => continue,
            }
        };
        let mut packer = UpdatePacker::new(ctx, &first.attributes, K::AFI_SAFI, mp_next_hop);
        for (k, route) in members {
            if let Err(e) = k.push(&mut packer, route.evpn.as_deref(), path_id) {
                debug!(?k, error = %e, "route does not fit in an UPDATE, not advertised");
            }
        }
        messages.extend(packer.finish());
    }
    messages
}
