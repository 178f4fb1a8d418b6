//! The BGP RIBs of one instance (RFC 4271 section 3.2 and section 9). It keeps an Adj-RIB-In
//! per peer and family, and a Loc-RIB per family with the decision process of section 9.1 and
//! the tie-breaks of RFC 4456 section 9. It also implements Adj-RIB-Out per update group, route
//! reflection (RFC 4456), next-hop tracking, graceful restart stale paths (RFC 4724),
//! maximum-prefix and route refresh.
//!
//! The RIB is sans-IO: the instance feeds it decoded UPDATEs and peer state changes and takes
//! back encoded UPDATEs per peer ([`Rib::take_updates`]) and events ([`Rib::take_events`]).
//!
//! Storage: the Loc-RIB of a family contains every candidate path of a route, so the post-policy
//! Adj-RIB-In of a peer is the set of that peer's paths in the Loc-RIB. Pre-policy paths are
//! kept apart, only for peers with soft reconfiguration inbound. Attribute sets are interned
//! behind an `Arc`, and next hops are interned in a table indexed by the routes that use them.

mod attrs;
mod decision;
mod nexthop;
mod out;
mod snapshot;
mod table;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use hna_evpn::{EvpnRoute, EvpnRouteKey};
use ipnet::{Ipv4Net, Ipv6Net};
use thiserror::Error;
use tracing::{debug, info};

use crate::message::{MpNextHop, NlriList, PathAttributes};
use crate::policy::PolicySet;
use crate::types::AfiSafi;
use crate::wire::{DecodedUpdate, SessionContext, UpdateAction};

pub use decision::{DEFAULT_LOCAL_PREF, DecisionStep};
pub use out::UpdateGroupSnapshot;
pub use snapshot::{PathSnapshot, RdSnapshot, RouteSnapshot, TableSnapshot};

use attrs::Interner;
use nexthop::Nexthops;
use table::{Incoming, Table};

/// A peer's identity inside the RIB, chosen by the instance and stable while the peer exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u32);

/// The instance's own identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalInfo {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// The router id unless configured (RFC 4456 section 7).
    pub cluster_id: Ipv4Addr,
    /// RFC 8212: an eBGP peer without an inbound (outbound) route-map accepts (sends) nothing.
    pub ebgp_requires_policy: bool,
}

/// A peer as negotiated when its session reached Established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub id: PeerId,
    pub address: IpAddr,
    /// Our end of the TCP connection: the next hop we advertise for eBGP, `next_hop_self`, and
    /// locally originated routes without a next hop of their own.
    pub local_address: IpAddr,
    pub remote_as: u32,
    /// The peer's router id, for the tie-breaks of the decision process.
    pub bgp_identifier: Ipv4Addr,
    /// How to encode UPDATEs for this peer.
    pub send_context: SessionContext,
    /// The negotiated families only.
    pub families: Vec<PeerFamily>,
}

/// The settings of one negotiated family of a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerFamily {
    pub afi_safi: AfiSafi,
    pub route_reflector_client: bool,
    /// Inbound route-map. A name that the policy set does not define denies every route, as
    /// in FRR 8.4; no route-map accepts every route, except for eBGP under RFC 8212.
    pub route_map_in: Option<String>,
    /// Outbound route-map, with the same rules as `route_map_in`.
    pub route_map_out: Option<String>,
    /// The number of accepted paths above which [`Rib::receive`] returns
    /// [`RibError::MaximumPrefix`].
    pub maximum_prefix: Option<u32>,
    pub soft_reconfiguration_inbound: bool,
    pub next_hop_self: bool,
}

impl PeerFamily {
    /// Builds the settings of a family with no policy and no option set.
    pub fn new(afi_safi: AfiSafi) -> PeerFamily {
        PeerFamily {
            afi_safi,
            route_reflector_client: false,
            route_map_in: None,
            route_map_out: None,
            maximum_prefix: None,
            soft_reconfiguration_inbound: false,
            next_hop_self: false,
        }
    }
}

/// A route: the full NLRI as received. The RIB indexes EVPN routes by [`EvpnRoute::key`], so
/// the labels and the ESI of an EVPN route belong to its path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Route {
    Ipv4(Ipv4Net),
    Ipv6(Ipv6Net),
    Evpn(EvpnRoute),
}

impl Route {
    /// Returns the family the route belongs to.
    pub fn afi_safi(&self) -> AfiSafi {
        match self {
            Route::Ipv4(_) => AfiSafi::IPV4_UNICAST,
            Route::Ipv6(_) => AfiSafi::IPV6_UNICAST,
            Route::Evpn(_) => AfiSafi::L2VPN_EVPN,
        }
    }
}

/// One path of a route, as the RIB hands it out in events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub route: Route,
    /// The path attributes without NEXT_HOP, which `next_hop` carries for every family.
    pub attributes: Arc<PathAttributes>,
    /// The peer the path was learned from; `None` for a locally originated path.
    pub source: Option<PeerId>,
    /// Learned over an eBGP session; decides the administrative distance the path gets in
    /// the system RIB (external and internal BGP routes are ranked apart there).
    pub external: bool,
    pub next_hop: Option<IpAddr>,
    /// The IGP cost to the next hop from next-hop tracking; `None` when untracked or unknown.
    pub igp_metric: Option<u32>,
    /// Kept from a peer whose session went down with graceful restart (RFC 4724).
    pub stale: bool,
    /// The add-path identifier as received (RFC 7911).
    pub path_id: Option<u32>,
}

/// An event the RIB emits for its owner: a request or a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RibEvent {
    /// The best path of a route changed; `None` when the route has no usable path any more.
    BestChanged {
        afi_safi: AfiSafi,
        route: Route,
        best: Option<Arc<Path>>,
    },
    /// A next hop gained its first path: the owner reports its reachability and IGP cost
    /// through [`Rib::nexthop_update`].
    TrackNexthop(IpAddr),
    /// A next hop lost its last path.
    UntrackNexthop(IpAddr),
    /// Inbound policy must be re-applied to a peer whose pre-policy paths are not kept: the
    /// session sends it a ROUTE-REFRESH (RFC 2918) for the family.
    SendRouteRefresh { peer: PeerId, afi_safi: AfiSafi },
}

/// A reason the session with a peer must end.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RibError {
    /// The peer sent more accepted paths than its limit: the session sends a NOTIFICATION
    /// Cease, Maximum Number of Prefixes Reached (RFC 4486), and closes.
    #[error("peer {peer:?} exceeded the maximum of {limit} prefixes in {afi_safi}")]
    MaximumPrefix {
        peer: PeerId,
        afi_safi: AfiSafi,
        limit: u32,
    },
}

/// Index of a peer in the RIB's peer table; `LOCAL_SLOT` marks locally originated paths.
pub(crate) type PeerSlot = u32;
pub(crate) const LOCAL_SLOT: PeerSlot = u32::MAX;

/// The RIB's state of a peer that is up, or down with stale paths left.
#[derive(Debug)]
pub(crate) struct PeerState {
    pub(crate) info: PeerInfo,
    pub(crate) up: bool,
    pub(crate) ebgp: bool,
    /// Encoded messages waiting for [`Rib::take_updates`], shared with the peer's update group.
    pub(crate) queue: Vec<Arc<Vec<u8>>>,
    /// The initial table and End-of-RIB wait for the end of update deferral.
    pub(crate) initial_pending: bool,
}

impl PeerState {
    pub(crate) fn family(&self, afi_safi: AfiSafi) -> Option<&PeerFamily> {
        self.info.families.iter().find(|f| f.afi_safi == afi_safi)
    }
}

/// The peers known to the RIB, in slots that paths refer to.
#[derive(Debug, Default)]
pub(crate) struct Peers {
    slots: Vec<Option<PeerState>>,
    by_id: HashMap<PeerId, PeerSlot>,
    free: Vec<PeerSlot>,
    /// Our end of every known session, with the number of peers using it.
    local_addresses: HashMap<IpAddr, u32>,
}

impl Peers {
    pub(crate) fn get(&self, slot: PeerSlot) -> Option<&PeerState> {
        self.slots.get(slot as usize).and_then(|s| s.as_ref())
    }

    pub(crate) fn get_mut(&mut self, slot: PeerSlot) -> Option<&mut PeerState> {
        self.slots.get_mut(slot as usize).and_then(|s| s.as_mut())
    }

    pub(crate) fn slot(&self, id: PeerId) -> Option<PeerSlot> {
        self.by_id.get(&id).copied()
    }

    fn insert(&mut self, state: PeerState) -> PeerSlot {
        let id = state.info.id;
        *self
            .local_addresses
            .entry(state.info.local_address)
            .or_default() += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(state);
                slot
            }
            None => {
                self.slots.push(Some(state));
                (self.slots.len() - 1) as PeerSlot
            }
        };
        self.by_id.insert(id, slot);
        slot
    }

    fn remove(&mut self, slot: PeerSlot) {
        if let Some(state) = self.slots.get_mut(slot as usize).and_then(|s| s.take()) {
            self.by_id.remove(&state.info.id);
            self.free.push(slot);
            self.forget_local_address(state.info.local_address);
        }
    }

    /// Replaces the session parameters of a known peer.
    fn replace_info(&mut self, slot: PeerSlot, info: PeerInfo) {
        let new_address = info.local_address;
        let Some(state) = self.get_mut(slot) else {
            return;
        };
        let old_address = std::mem::replace(&mut state.info, info).local_address;
        self.forget_local_address(old_address);
        *self.local_addresses.entry(new_address).or_default() += 1;
    }

    fn forget_local_address(&mut self, address: IpAddr) {
        if let Some(count) = self.local_addresses.get_mut(&address) {
            *count -= 1;
            if *count == 0 {
                self.local_addresses.remove(&address);
            }
        }
    }

    /// Whether `address` is our end of a session with a known peer.
    pub(crate) fn is_local_address(&self, address: IpAddr) -> bool {
        self.local_addresses.contains_key(&address)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (PeerSlot, &PeerState)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i as PeerSlot, s)))
    }
}

/// The state every family table works with.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) local: LocalInfo,
    pub(crate) policy: Arc<PolicySet>,
    pub(crate) peers: Peers,
    pub(crate) nexthops: Nexthops,
    pub(crate) interner: Interner,
    pub(crate) events: Vec<RibEvent>,
    /// Whether peers that come up wait for their initial table ([`Rib::defer_initial_updates`]).
    pub(crate) deferring: bool,
}

/// The RIBs of one BGP instance.
#[derive(Debug)]
pub struct Rib {
    shared: Shared,
    ipv4: Table<Ipv4Net>,
    ipv6: Table<Ipv6Net>,
    evpn: Table<EvpnRouteKey>,
}

/// Runs `$body` with `$table` bound to the table of `$afi_safi` and `$shared` to the shared
/// state, or evaluates `$otherwise` for a family the RIB does not keep.
macro_rules! with_table {
    ($rib:expr, $afi_safi:expr, |$table:ident, $shared:ident| $body:expr, $otherwise:expr) => {
        match $afi_safi {
            AfiSafi::IPV4_UNICAST => {
                let ($table, $shared) = (&mut $rib.ipv4, &mut $rib.shared);
                $body
            }
            AfiSafi::IPV6_UNICAST => {
                let ($table, $shared) = (&mut $rib.ipv6, &mut $rib.shared);
                $body
            }
            AfiSafi::L2VPN_EVPN => {
                let ($table, $shared) = (&mut $rib.evpn, &mut $rib.shared);
                $body
            }
            _ => $otherwise,
        }
    };
}

/// The families the RIB keeps.
pub const FAMILIES: [AfiSafi; 3] = [
    AfiSafi::IPV4_UNICAST,
    AfiSafi::IPV6_UNICAST,
    AfiSafi::L2VPN_EVPN,
];

impl Rib {
    /// Builds empty RIBs.
    pub fn new(local: LocalInfo, policy: Arc<PolicySet>) -> Rib {
        Rib {
            shared: Shared {
                local,
                policy,
                peers: Peers::default(),
                nexthops: Nexthops::default(),
                interner: Interner::default(),
                events: Vec::new(),
                deferring: false,
            },
            ipv4: Table::new(),
            ipv6: Table::new(),
            evpn: Table::new(),
        }
    }

    /// Replaces the instance's identity. A new router id or cluster id changes the loop checks
    /// for later UPDATEs and the attributes of routes sent from now on.
    pub fn set_local(&mut self, local: LocalInfo) {
        self.shared.local = local;
        for afi_safi in FAMILIES {
            with_table!(self, afi_safi, |t, sh| t.resync_all_groups(sh), ());
        }
    }

    /// Replaces the policy set and re-applies it: inbound from the kept pre-policy paths of
    /// peers with soft reconfiguration (others get a [`RibEvent::SendRouteRefresh`]), outbound
    /// to every update group, sending only what changed.
    pub fn set_policy(&mut self, policy: Arc<PolicySet>) {
        self.shared.policy = policy;
        let peers: Vec<PeerId> = self
            .shared
            .peers
            .iter()
            .filter(|(_, p)| p.up)
            .map(|(_, p)| p.info.id)
            .collect();
        for afi_safi in FAMILIES {
            for &peer in &peers {
                self.soft_reset_in(peer, afi_safi);
            }
            with_table!(self, afi_safi, |t, sh| t.resync_all_groups(sh), ());
        }
    }

    /// Registers a peer whose session reached Established, and queues for it the current
    /// table of every negotiated family followed by End-of-RIB (RFC 4724 section 2), or
    /// later when [`Rib::defer_initial_updates`] is on.
    pub fn peer_up(&mut self, now: Instant, info: PeerInfo) {
        let _ = now;
        let id = info.id;
        let ebgp = info.remote_as != self.shared.local.asn;
        info!(peer = %info.address, remote_as = info.remote_as, "peer up in the RIB");

        let slot = match self.shared.peers.slot(id) {
            Some(slot) => {
                for afi_safi in FAMILIES {
                    with_table!(self, afi_safi, |t, sh| t.leave_group(sh, slot), ());
                }
                self.shared.peers.replace_info(slot, info);
                let state = self
                    .shared
                    .peers
                    .get_mut(slot)
                    .expect("slot of a known peer");
                state.up = true;
                state.ebgp = ebgp;
                state.queue.clear();
                state.initial_pending = false;
                slot
            }
            None => self.shared.peers.insert(PeerState {
                info,
                up: true,
                ebgp,
                queue: Vec::new(),
                initial_pending: false,
            }),
        };
        let families: Vec<AfiSafi> = self
            .shared
            .peers
            .get(slot)
            .map(|p| p.info.families.iter().map(|f| f.afi_safi).collect())
            .unwrap_or_default();
        for &afi_safi in &families {
            with_table!(self, afi_safi, |t, sh| t.peer_family_up(sh, slot), ());
        }

        if self.shared.deferring {
            if let Some(state) = self.shared.peers.get_mut(slot) {
                state.initial_pending = true;
            }
            debug!(peer = ?id, "initial table deferred");
            return;
        }
        self.send_initial_table(slot);
    }

    /// Holds back, while `defer` is true, the initial table and End-of-RIB of peers that come
    /// up, as a restarting speaker does until its peers' End-of-RIB arrived and its own routes
    /// are originated again (RFC 4724 section 4.1). Paths are still received and selected.
    /// Turning it off sends every waiting peer its table and End-of-RIB.
    pub fn defer_initial_updates(&mut self, defer: bool) {
        self.shared.deferring = defer;
        if defer {
            return;
        }
        let pending: Vec<PeerSlot> = self
            .shared
            .peers
            .iter()
            .filter(|(_, p)| p.up && p.initial_pending)
            .map(|(slot, _)| slot)
            .collect();
        for slot in pending {
            if let Some(state) = self.shared.peers.get_mut(slot) {
                state.initial_pending = false;
            }
            self.send_initial_table(slot);
        }
    }

    /// Puts a peer in its update group of every family and queues the table and End-of-RIB.
    fn send_initial_table(&mut self, slot: PeerSlot) {
        let id = self.shared.peers.get(slot).map(|p| p.info.id);

        let families: Vec<AfiSafi> = self
            .shared
            .peers
            .get(slot)
            .map(|p| p.info.families.iter().map(|f| f.afi_safi).collect())
            .unwrap_or_default();
        for afi_safi in families {
            with_table!(
                self,
                afi_safi,
                |t, sh| t.join_group_and_dump(sh, slot),
                debug!(peer = ?id, %afi_safi, "family not kept by the RIB, ignored")
            );
        }
    }

    /// Unregisters a peer whose session ended, and withdraws its paths except those of the
    /// families in `keep_stale`. Those stay as stale (graceful restart helper, RFC 4724 section
    /// 4.2) until the peer replaces them, sends End-of-RIB, or [`Rib::sweep_stale`] runs.
    pub fn peer_down(&mut self, peer: PeerId, keep_stale: &[AfiSafi]) {
        let Some(slot) = self.shared.peers.slot(peer) else {
            return;
        };
        if let Some(state) = self.shared.peers.get_mut(slot) {
            info!(peer = %state.info.address, stale_families = keep_stale.len(), "peer down in the RIB");
            state.up = false;
            state.queue.clear();
        }
        for afi_safi in FAMILIES {
            let keep = keep_stale.contains(&afi_safi);
            with_table!(
                self,
                afi_safi,
                |t, sh| t.peer_family_down(sh, slot, keep),
                ()
            );
        }
        self.release_peer_if_unused(slot);
    }

    /// Applies a decoded UPDATE from `peer` with its RFC 7606 action: `TreatAsWithdraw`
    /// withdraws every route the UPDATE announces, `AttributeDiscard` uses the UPDATE as
    /// decoded, `AfiSafiDisable` ignores the routes of the disabled families (the session
    /// calls [`Rib::disable_family`]). An End-of-RIB removes the peer's remaining stale paths
    /// of its family.
    pub fn receive(
        &mut self,
        now: Instant,
        peer: PeerId,
        update: &DecodedUpdate,
    ) -> Result<(), RibError> {
        let _ = now;
        let Some(slot) = self.shared.peers.slot(peer) else {
            debug!(?peer, "UPDATE from a peer unknown to the RIB ignored");
            return Ok(());
        };
        if !self.shared.peers.get(slot).is_some_and(|p| p.up) {
            debug!(?peer, "UPDATE from a peer that is down ignored");
            return Ok(());
        }
        let u = &update.update;
        if let Some(afi_safi) = u.end_of_rib_family() {
            debug!(?peer, %afi_safi, "End-of-RIB received");
            self.sweep_stale(peer, afi_safi);
            return Ok(());
        }
        let disabled: &[AfiSafi] = match &update.action {
            UpdateAction::AfiSafiDisable { families, .. } => families,
            _ => &[],
        };
        let treat_as_withdraw = update.action == UpdateAction::TreatAsWithdraw;

        // Withdrawals first: an UPDATE may withdraw and re-announce the same route.
        if !disabled.contains(&AfiSafi::IPV4_UNICAST) && !u.withdrawn.is_empty() {
            let routes = Incoming::from_ipv4(&u.withdrawn);
            self.ipv4.withdraw(&mut self.shared, slot, routes);
        }
        if let Some(unreach) = &u.mp_unreach
            && !disabled.contains(&unreach.afi_safi)
        {
            self.withdraw_list(slot, unreach.afi_safi, &unreach.nlri);
        }

        let mut touched = Vec::new();
        if treat_as_withdraw {
            debug!(
                ?peer,
                errors = update.errors.len(),
                "UPDATE treated as withdraw"
            );
        }
        let (attributes, next_hop_v4) = self.prepare_attributes(slot, &u.attributes);
        let accepted_attributes = if treat_as_withdraw { None } else { attributes };

        if !u.nlri.is_empty() && !disabled.contains(&AfiSafi::IPV4_UNICAST) {
            let routes = Incoming::from_ipv4(&u.nlri);
            match &accepted_attributes {
                Some(attrs) => {
                    let nh = next_hop_v4.map(IpAddr::V4);
                    self.ipv4
                        .announce(&mut self.shared, slot, routes, attrs, nh);
                }
                None => self.ipv4.withdraw(&mut self.shared, slot, routes),
            }
            touched.push(AfiSafi::IPV4_UNICAST);
        }
        if let Some(reach) = &u.mp_reach
            && !disabled.contains(&reach.afi_safi)
        {
            let nh = match reach.next_hop {
                MpNextHop::Ipv4(a) => Some(IpAddr::V4(a)),
                MpNextHop::Ipv6 { global, .. } => Some(IpAddr::V6(global)),
                MpNextHop::Opaque(_) => None,
            };
            match (&accepted_attributes, nh) {
                (Some(attrs), Some(nh)) => {
                    self.announce_list(slot, reach.afi_safi, &reach.nlri, attrs, nh)
                }
                _ => self.withdraw_list(slot, reach.afi_safi, &reach.nlri),
            }
            touched.push(reach.afi_safi);
        }

        for afi_safi in touched {
            let limit_hit = with_table!(self, afi_safi, |t, sh| t.over_limit(sh, slot), None);
            if let Some(limit) = limit_hit {
                return Err(RibError::MaximumPrefix {
                    peer,
                    afi_safi,
                    limit,
                });
            }
        }
        Ok(())
    }

    /// Stops using a family of a peer (RFC 7606 "AFI/SAFI disable"): its paths are withdrawn,
    /// later routes of the family are ignored and nothing more is sent in it.
    pub fn disable_family(&mut self, peer: PeerId, afi_safi: AfiSafi) {
        let Some(slot) = self.shared.peers.slot(peer) else {
            return;
        };
        info!(?peer, %afi_safi, "family disabled for the peer");
        with_table!(
            self,
            afi_safi,
            |t, sh| t.peer_family_down(sh, slot, false),
            ()
        );
        if let Some(state) = self.shared.peers.get_mut(slot) {
            state.info.families.retain(|f| f.afi_safi != afi_safi);
        }
    }

    /// Removes the stale paths of `peer` in `afi_safi`: its End-of-RIB arrived, or the restart
    /// or stale-path timer expired (RFC 4724 section 4.2).
    pub fn sweep_stale(&mut self, peer: PeerId, afi_safi: AfiSafi) {
        let Some(slot) = self.shared.peers.slot(peer) else {
            return;
        };
        with_table!(self, afi_safi, |t, sh| t.sweep_stale(sh, slot), ());
        self.release_peer_if_unused(slot);
    }

    /// Adds or replaces a locally originated route. NEXT_HOP in `attributes`, when present, is
    /// the next hop advertised for it in every family; without it, each peer gets its session's
    /// local address. A missing ORIGIN is taken as IGP and a missing AS_PATH as empty.
    pub fn originate(&mut self, afi_safi: AfiSafi, route: Route, attributes: PathAttributes) {
        if route.afi_safi() != afi_safi {
            debug!(%afi_safi, ?route, "originated route of another family ignored");
            return;
        }
        let mut attributes = attributes;
        let next_hop = attributes.next_hop.take().map(IpAddr::V4);
        attributes.origin.get_or_insert(crate::message::Origin::Igp);
        attributes.as_path.get_or_insert_with(Default::default);
        let attributes = self.shared.interner.intern(attributes);
        match route {
            Route::Ipv4(net) => self.ipv4.originate(
                &mut self.shared,
                Incoming::plain(net),
                &attributes,
                next_hop,
            ),
            Route::Ipv6(net) => self.ipv6.originate(
                &mut self.shared,
                Incoming::plain(net),
                &attributes,
                next_hop,
            ),
            Route::Evpn(r) => {
                self.evpn
                    .originate(&mut self.shared, Incoming::evpn(r), &attributes, next_hop)
            }
        }
    }

    /// Removes a locally originated route.
    pub fn withdraw_local(&mut self, afi_safi: AfiSafi, route: &Route) {
        match route {
            Route::Ipv4(net) if afi_safi == AfiSafi::IPV4_UNICAST => {
                self.ipv4.withdraw_local(&mut self.shared, net)
            }
            Route::Ipv6(net) if afi_safi == AfiSafi::IPV6_UNICAST => {
                self.ipv6.withdraw_local(&mut self.shared, net)
            }
            Route::Evpn(r) if afi_safi == AfiSafi::L2VPN_EVPN => {
                self.evpn.withdraw_local(&mut self.shared, &r.key())
            }
            _ => debug!(%afi_safi, ?route, "withdrawn local route of another family ignored"),
        }
    }

    /// Records the reachability of a tracked next hop (`None`: unreachable) and its IGP cost,
    /// and re-runs the decision for the routes that have a path through it, only those. Until
    /// the first update for a next hop, it is taken as reachable with cost 0.
    pub fn nexthop_update(&mut self, nexthop: IpAddr, igp_metric: Option<u32>) {
        let Some(id) = self.shared.nexthops.update(nexthop, igp_metric) else {
            return;
        };
        debug!(%nexthop, ?igp_metric, "next hop changed");
        for afi_safi in FAMILIES {
            with_table!(self, afi_safi, |t, sh| t.rerun_nexthop(sh, id), ());
        }
    }

    /// Queues the whole Adj-RIB-Out of `afi_safi` for `peer` again, after End-of-RIB, because
    /// the peer sent a ROUTE-REFRESH (RFC 2918 section 4). The End-of-RIB lets a peer using
    /// enhanced route refresh or graceful restart know that the table is complete.
    pub fn route_refresh(&mut self, peer: PeerId, afi_safi: AfiSafi) {
        let Some(slot) = self.shared.peers.slot(peer) else {
            return;
        };
        with_table!(self, afi_safi, |t, sh| t.refresh_peer(sh, slot), ());
    }

    /// Re-applies the inbound policy of `peer` in `afi_safi`: from its kept pre-policy paths
    /// with soft reconfiguration inbound, or else by asking the session to send ROUTE-REFRESH
    /// ([`RibEvent::SendRouteRefresh`]).
    pub fn soft_reset_in(&mut self, peer: PeerId, afi_safi: AfiSafi) {
        let Some(slot) = self.shared.peers.slot(peer) else {
            return;
        };
        let Some(family) = self
            .shared
            .peers
            .get(slot)
            .and_then(|p| p.family(afi_safi).cloned())
        else {
            return;
        };
        if family.soft_reconfiguration_inbound {
            with_table!(self, afi_safi, |t, sh| t.reapply_inbound(sh, slot), ());
        } else {
            self.shared
                .events
                .push(RibEvent::SendRouteRefresh { peer, afi_safi });
        }
    }

    /// Returns the encoded messages to send to `peer` now, in order: UPDATEs and End-of-RIB
    /// markers. Changes of every update group are encoded here, once per group.
    pub fn take_updates(&mut self, peer: PeerId) -> Vec<Vec<u8>> {
        self.flush();
        let Some(slot) = self.shared.peers.slot(peer) else {
            return Vec::new();
        };
        let Some(state) = self.shared.peers.get_mut(slot) else {
            return Vec::new();
        };
        std::mem::take(&mut state.queue)
            .into_iter()
            .map(|m| Arc::try_unwrap(m).unwrap_or_else(|shared| (*shared).clone()))
            .collect()
    }

    /// Returns and clears the pending events.
    pub fn take_events(&mut self) -> Vec<RibEvent> {
        std::mem::take(&mut self.shared.events)
    }

    /// Returns the Loc-RIB of a family for show commands.
    pub fn table(&self, afi_safi: AfiSafi) -> TableSnapshot {
        let sh = &self.shared;
        match afi_safi {
            AfiSafi::IPV4_UNICAST => self.ipv4.snapshot(sh),
            AfiSafi::IPV6_UNICAST => self.ipv6.snapshot(sh),
            AfiSafi::L2VPN_EVPN => self.evpn.snapshot(sh),
            _ => TableSnapshot::empty(afi_safi, sh),
        }
    }

    /// Returns, per family of `peer`: paths received (before inbound policy), accepted (after
    /// it) and advertised (in the Adj-RIB-Out of the peer's update group).
    pub fn prefix_counts(&self, peer: PeerId) -> Vec<(AfiSafi, u64, u64, u64)> {
        let Some(slot) = self.shared.peers.slot(peer) else {
            return Vec::new();
        };
        let mut counts = Vec::new();
        for (afi_safi, found) in [
            (AfiSafi::IPV4_UNICAST, self.ipv4.counts(slot)),
            (AfiSafi::IPV6_UNICAST, self.ipv6.counts(slot)),
            (AfiSafi::L2VPN_EVPN, self.evpn.counts(slot)),
        ] {
            if let Some((received, accepted, sent)) = found {
                counts.push((afi_safi, received, accepted, sent));
            }
        }
        counts
    }

    /// Returns the routes of `afi_safi` advertised to `peer`: the Adj-RIB-Out of its update
    /// group as of the last [`Rib::take_updates`], after outbound policy.
    pub fn advertised_routes(&self, peer: PeerId, afi_safi: AfiSafi) -> Vec<RouteSnapshot> {
        let Some(slot) = self.shared.peers.slot(peer) else {
            return Vec::new();
        };
        match afi_safi {
            AfiSafi::IPV4_UNICAST => self.ipv4.advertised_snapshot(slot),
            AfiSafi::IPV6_UNICAST => self.ipv6.advertised_snapshot(slot),
            AfiSafi::L2VPN_EVPN => self.evpn.advertised_snapshot(slot),
            _ => Vec::new(),
        }
    }

    /// Returns the routes of `afi_safi` accepted from `peer` after inbound policy, each with
    /// only that peer's paths.
    pub fn received_routes(&self, peer: PeerId, afi_safi: AfiSafi) -> Vec<RouteSnapshot> {
        let Some(slot) = self.shared.peers.slot(peer) else {
            return Vec::new();
        };
        let sh = &self.shared;
        match afi_safi {
            AfiSafi::IPV4_UNICAST => self.ipv4.received_snapshot(sh, slot),
            AfiSafi::IPV6_UNICAST => self.ipv6.received_snapshot(sh, slot),
            AfiSafi::L2VPN_EVPN => self.evpn.received_snapshot(sh, slot),
            _ => Vec::new(),
        }
    }

    /// Returns the update groups of a family with their members.
    pub fn update_groups(&self, afi_safi: AfiSafi) -> Vec<UpdateGroupSnapshot> {
        let sh = &self.shared;
        match afi_safi {
            AfiSafi::IPV4_UNICAST => self.ipv4.group_snapshots(sh),
            AfiSafi::IPV6_UNICAST => self.ipv6.group_snapshots(sh),
            AfiSafi::L2VPN_EVPN => self.evpn.group_snapshots(sh),
            _ => Vec::new(),
        }
    }

    /// Returns the number of distinct attribute sets held, for memory reports.
    pub fn interned_attribute_sets(&self) -> usize {
        self.shared.interner.len()
    }

    /// Encodes the pending changes of every family for every update group.
    fn flush(&mut self) {
        for afi_safi in FAMILIES {
            with_table!(self, afi_safi, |t, sh| t.flush(sh), ());
        }
    }

    fn withdraw_list(&mut self, slot: PeerSlot, afi_safi: AfiSafi, nlri: &NlriList) {
        let sh = &mut self.shared;
        match nlri {
            NlriList::Ipv4(v) if afi_safi == AfiSafi::IPV4_UNICAST => {
                self.ipv4.withdraw(sh, slot, Incoming::from_ipv4(v))
            }
            NlriList::Ipv6(v) if afi_safi == AfiSafi::IPV6_UNICAST => {
                self.ipv6.withdraw(sh, slot, Incoming::from_ipv6(v))
            }
            NlriList::Evpn(v) if afi_safi == AfiSafi::L2VPN_EVPN => {
                self.evpn.withdraw(sh, slot, Incoming::from_evpn(v))
            }
            _ => debug!(%afi_safi, "withdrawn routes of a family not kept by the RIB ignored"),
        }
    }

    fn announce_list(
        &mut self,
        slot: PeerSlot,
        afi_safi: AfiSafi,
        nlri: &NlriList,
        attrs: &Arc<PathAttributes>,
        nh: IpAddr,
    ) {
        let sh = &mut self.shared;
        match nlri {
            NlriList::Ipv4(v) if afi_safi == AfiSafi::IPV4_UNICAST => {
                self.ipv4
                    .announce(sh, slot, Incoming::from_ipv4(v), attrs, Some(nh))
            }
            NlriList::Ipv6(v) if afi_safi == AfiSafi::IPV6_UNICAST => {
                self.ipv6
                    .announce(sh, slot, Incoming::from_ipv6(v), attrs, Some(nh))
            }
            NlriList::Evpn(v) if afi_safi == AfiSafi::L2VPN_EVPN => {
                self.evpn
                    .announce(sh, slot, Incoming::from_evpn(v), attrs, Some(nh))
            }
            _ => debug!(%afi_safi, "announced routes of a family not kept by the RIB ignored"),
        }
    }

    /// Checks the received attributes for loops and reconciles AS4_PATH. Returns the interned
    /// attributes without NEXT_HOP, or `None` when the routes must be dropped, and NEXT_HOP.
    fn prepare_attributes(
        &mut self,
        slot: PeerSlot,
        received: &PathAttributes,
    ) -> (Option<Arc<PathAttributes>>, Option<Ipv4Addr>) {
        let Some(peer) = self.shared.peers.get(slot) else {
            return (None, None);
        };
        let local = &self.shared.local;
        let next_hop = received.next_hop;
        let mut attrs = received.clone();
        attrs.next_hop = None;
        if !peer.info.send_context.four_octet_as {
            attrs::reconcile_as4_path(&mut attrs);
        }
        if peer.ebgp {
            // RFC 7606 sections 7.5, 7.9 and 7.10: LOCAL_PREF, ORIGINATOR_ID and CLUSTER_LIST
            // from an external peer are discarded.
            attrs.local_pref = None;
            attrs.originator_id = None;
            attrs.cluster_list = None;
        }

        let looped = if peer.ebgp {
            // RFC 4271 section 9.1.2: a route whose AS_PATH contains our AS is not used.
            attrs
                .as_path
                .as_ref()
                .is_some_and(|p| p.segments.iter().any(|s| s.asns.contains(&local.asn)))
        } else {
            // RFC 4456 section 8: our own route reflected back, or one that passed our cluster.
            attrs.originator_id == Some(local.router_id)
                || attrs
                    .cluster_list
                    .as_ref()
                    .is_some_and(|l| l.contains(&local.cluster_id))
        };
        if looped {
            debug!(peer = %peer.info.address, "routes dropped by loop detection");
            return (None, next_hop);
        }
        (Some(self.shared.interner.intern(attrs)), next_hop)
    }

    fn release_peer_if_unused(&mut self, slot: PeerSlot) {
        let Some(state) = self.shared.peers.get(slot) else {
            return;
        };
        if state.up {
            return;
        }
        let in_use = self.ipv4.peer_has_paths(slot)
            || self.ipv6.peer_has_paths(slot)
            || self.evpn.peer_has_paths(slot);
        if !in_use {
            self.shared.peers.remove(slot);
        }
    }
}
