//! The routing table calculation (RFC 2328 section 16) and the SPF throttle. Dijkstra runs over
//! router and network vertices with equal-cost multipath (16.1, 16.1.1), then adds stub
//! networks, inter-area routes from summary-LSAs (16.2) and AS-external routes (16.4).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use ipnet::Ipv4Net;
use serde::Serialize;
use tracing::{debug, info};

use crate::instance::{Action, Instance};
use crate::lsa::{LsType, Lsa, LsaBody, RouterLinkType, RouterLsa};
use crate::lsdb::Lsdb;

/// Administrative distance of OSPF routes in the RIB.
pub const DISTANCE: u8 = 110;

/// LSInfinity: a summary or external metric meaning unreachable.
const LS_INFINITY: u32 = 0x00ff_ffff;

/// The path type of a route (section 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteType {
    IntraArea,
    InterArea,
    External1,
    External2,
}

/// One next hop: a gateway address (none for a directly attached network) and an interface.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct NextHop {
    pub address: Option<Ipv4Addr>,
    pub ifindex: u32,
    /// The interface name, shared by every route through it.
    #[serde(serialize_with = "serialize_name")]
    pub interface: Arc<str>,
}

fn serialize_next_hops<S: serde::Serializer>(
    hops: &Arc<BTreeSet<NextHop>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(hops.iter())
}

fn serialize_name<S: serde::Serializer>(name: &Arc<str>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(name)
}

/// A route of the OSPF routing table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub prefix: Ipv4Net,
    pub route_type: RouteType,
    /// Cost of the path; for type 2 external routes the cost to the ASBR or forwarding address.
    pub cost: u32,
    /// External metric of a type 2 external route, 0 otherwise.
    pub type2_cost: u32,
    /// The equal-cost next hops, shared by the routes of a table that use the same set.
    #[serde(serialize_with = "serialize_next_hops")]
    pub next_hops: Arc<BTreeSet<NextHop>>,
}

/// The OSPF routing table, by prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoutingTable {
    pub routes: BTreeMap<Ipv4Net, Route>,
}

/// A routing table published after an SPF run: the whole table and what changed since the
/// previous one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteUpdate {
    pub table: RoutingTable,
    /// Routes added or changed.
    pub changed: Vec<Route>,
    pub removed: Vec<Ipv4Net>,
}

/// The facts about one of the root's interfaces that SPF uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootInterface {
    pub ifindex: u32,
    pub name: Arc<str>,
    pub address: Ipv4Net,
    /// (router id, interface address) of each neighbor.
    pub neighbors: Vec<(Ipv4Addr, Ipv4Addr)>,
}

/// One next hop during the calculation: (gateway, index into the root interfaces).
type Hop = (Option<Ipv4Addr>, u32);

/// A multiplicative hasher for the small integer-like keys of the calculation (router ids,
/// prefixes, hop sets). It does not resist chosen keys, which is acceptable because the keys
/// come from authenticated neighbors' LSAs.
#[derive(Default)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.write_u64(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Router,
    Network,
}

struct Vertex<'a> {
    kind: Kind,
    id: Ipv4Addr,
    lsa: &'a Lsa,
    distance: u32,
    done: bool,
    /// Index of the vertex's next-hop set.
    hops: u32,
    /// The vertex's links: `links[first..last]`.
    first: u32,
    last: u32,
}

/// Kinds of [`CompactLink`].
const LINK_POINT_TO_POINT: u8 = 1;
const LINK_TRANSIT: u8 = 2;
const LINK_STUB: u8 = 3;
/// A router listed in a network-LSA.
const LINK_ATTACHED: u8 = 5;

/// A link of a vertex with its target resolved to a vertex index, stored contiguously so that
/// the Dijkstra loop reads no LSA (LSAs are scattered in memory; 10,000 of them miss the cache).
#[derive(Clone, Copy)]
struct CompactLink {
    kind: u8,
    metric: u16,
    /// Index of the target vertex, `u32::MAX` when it has none (stubs, unknown targets).
    target: u32,
    link_id: Ipv4Addr,
    link_data: Ipv4Addr,
}

/// Next hops and sets of next hops, interned so that a vertex inherits its parent's set by
/// copying an index. Set 0 is the empty set.
struct Hops<'a> {
    interfaces: &'a [RootInterface],
    hops: Vec<Hop>,
    hop_index: FastMap<Hop, u32>,
    sets: Vec<Vec<u32>>,
    set_index: FastMap<Vec<u32>, u32>,
}

impl<'a> Hops<'a> {
    fn new(interfaces: &'a [RootInterface]) -> Hops<'a> {
        let mut set_index = FastMap::default();
        set_index.insert(Vec::new(), 0);
        Hops {
            interfaces,
            hops: Vec::new(),
            hop_index: FastMap::default(),
            sets: vec![Vec::new()],
            set_index,
        }
    }

    fn set_of(&mut self, mut members: Vec<u32>) -> u32 {
        members.sort_unstable();
        members.dedup();
        if let Some(index) = self.set_index.get(&members) {
            return *index;
        }
        let index = self.sets.len() as u32;
        self.sets.push(members.clone());
        self.set_index.insert(members, index);
        index
    }

    /// Returns the set holding the single hop `hop`.
    fn single(&mut self, hop: Hop) -> u32 {
        let index = match self.hop_index.get(&hop) {
            Some(index) => *index,
            None => {
                let index = self.hops.len() as u32;
                self.hops.push(hop);
                self.hop_index.insert(hop, index);
                index
            }
        };
        self.set_of(vec![index])
    }

    fn union(&mut self, a: u32, b: u32) -> u32 {
        if a == b || b == 0 {
            return a;
        }
        if a == 0 {
            return b;
        }
        let mut members = self.sets[a as usize].clone();
        members.extend_from_slice(&self.sets[b as usize]);
        self.set_of(members)
    }

    fn members(&self, set: u32) -> impl Iterator<Item = Hop> + '_ {
        self.sets[set as usize]
            .iter()
            .map(|index| self.hops[*index as usize])
    }

    /// True when every hop of the set is a directly attached network (no gateway).
    fn is_direct(&self, set: u32) -> bool {
        self.members(set).all(|(gateway, _)| gateway.is_none())
    }

    fn next_hops(&self, set: u32) -> BTreeSet<NextHop> {
        self.members(set)
            .map(|(address, interface)| {
                let interface = &self.interfaces[interface as usize];
                NextHop {
                    address,
                    ifindex: interface.ifindex,
                    interface: Arc::clone(&interface.name),
                }
            })
            .collect()
    }
}

fn router_body(lsa: &Lsa) -> Option<&RouterLsa> {
    match &lsa.body {
        LsaBody::Router(router) => Some(router),
        _ => None,
    }
}

/// A route while the table is computed: type, cost, type 2 cost and next-hop set.
type Candidate = (RouteType, u32, u32, u32);

/// Computes the routing table of `router_id` from `lsdb` at `now`.
pub fn compute(
    lsdb: &Lsdb,
    router_id: Ipv4Addr,
    interfaces: &[RootInterface],
    now: Instant,
) -> RoutingTable {
    // Index the usable router-LSAs and network-LSAs as vertices.
    let mut vertices: Vec<Vertex<'_>> = Vec::with_capacity(lsdb.len());
    let mut routers: FastMap<u32, usize> = FastMap::default();
    routers.reserve(lsdb.len());
    let mut networks: FastMap<u32, usize> = FastMap::default();
    for (key, entry) in lsdb.iter() {
        if key.scope != 0 || entry.is_max_age(now) {
            continue;
        }
        let kind = match key.ls_type {
            LsType::ROUTER if key.link_state_id == key.advertising_router => Kind::Router,
            LsType::NETWORK => Kind::Network,
            _ => continue,
        };
        let index = vertices.len();
        let map = if kind == Kind::Router {
            &mut routers
        } else {
            &mut networks
        };
        // NOTE: of two network-LSAs for one DR address (a DR that changed router id), only the
        // last one seen is used. The stale one is flushed or ages out.
        map.insert(u32::from(key.link_state_id), index);
        vertices.push(Vertex {
            kind,
            id: key.link_state_id,
            lsa: &entry.lsa,
            distance: u32::MAX,
            done: false,
            hops: 0,
            first: 0,
            last: 0,
        });
    }

    // Resolve every link to its target vertex once.
    let mut links: Vec<CompactLink> = Vec::with_capacity(vertices.len() * 6);
    for vertex in vertices.iter_mut() {
        vertex.first = links.len() as u32;
        match &vertex.lsa.body {
            LsaBody::Router(router) => {
                for link in &router.links {
                    let target = match link.link_type {
                        RouterLinkType::POINT_TO_POINT => routers.get(&u32::from(link.link_id)),
                        RouterLinkType::TRANSIT => networks.get(&u32::from(link.link_id)),
                        RouterLinkType::STUB => None,
                        _ => continue,
                    };
                    links.push(CompactLink {
                        kind: link.link_type.0,
                        metric: link.metric,
                        target: target.map_or(u32::MAX, |index| *index as u32),
                        link_id: link.link_id,
                        link_data: link.link_data,
                    });
                }
            }
            LsaBody::Network(network) => {
                for attached in &network.attached_routers {
                    let Some(target) = routers.get(&u32::from(*attached)) else {
                        continue;
                    };
                    links.push(CompactLink {
                        kind: LINK_ATTACHED,
                        metric: 0,
                        target: *target as u32,
                        link_id: *attached,
                        link_data: network.network_mask,
                    });
                }
            }
            _ => {}
        }
        vertex.last = links.len() as u32;
    }
    let links_of = |vertex: &Vertex<'_>| vertex.first as usize..vertex.last as usize;

    let mut hops = Hops::new(interfaces);
    let mut table: FastMap<Ipv4Net, Candidate> = FastMap::default();
    table.reserve(vertices.len() * 2);
    let Some(&root) = routers.get(&u32::from(router_id)) else {
        return RoutingTable::default();
    };

    // Stage 1 (16.1): the shortest-path tree of routers and transit networks. Network vertices
    // sort before router vertices at equal distance.
    let mut heap: BinaryHeap<Reverse<(u32, u8, usize)>> = BinaryHeap::new();
    vertices[root].distance = 0;
    heap.push(Reverse((0, 1, root)));
    let mut order = Vec::with_capacity(vertices.len());
    while let Some(Reverse((distance, _, v))) = heap.pop() {
        if vertices[v].done || distance > vertices[v].distance {
            continue;
        }
        vertices[v].done = true;
        order.push(v);
        let v_hops = vertices[v].hops;
        let v_kind = vertices[v].kind;
        let v_direct = v != root && v_kind == Kind::Network && hops.is_direct(v_hops);

        for link in &links[links_of(&vertices[v])] {
            if link.target == u32::MAX
                || !matches!(
                    link.kind,
                    LINK_POINT_TO_POINT | LINK_TRANSIT | LINK_ATTACHED
                )
            {
                continue;
            }
            let w = link.target as usize;
            if vertices[w].done {
                continue;
            }
            // The target must link back (16.1 step 2b). A router's link back to a transit network
            // also gives its address there, which is the next hop when the network is attached.
            let back_kind = match (v_kind, link.kind) {
                (Kind::Router, LINK_POINT_TO_POINT) => LINK_POINT_TO_POINT,
                (Kind::Router, _) => LINK_ATTACHED,
                (Kind::Network, _) => LINK_TRANSIT,
            };
            let Some(back) = links[links_of(&vertices[w])]
                .iter()
                .find(|l| l.kind == back_kind && l.target == v as u32)
            else {
                continue;
            };
            let set = if v == root {
                let Some(interface) = interfaces
                    .iter()
                    .position(|i| i.address.addr() == link.link_data)
                else {
                    continue;
                };
                let gateway = if vertices[w].kind == Kind::Network {
                    None
                } else {
                    let peer = vertices[w].id;
                    let subnet = interfaces[interface].address;
                    let known = interfaces[interface]
                        .neighbors
                        .iter()
                        .find(|(id, _)| *id == peer)
                        .map(|(_, a)| *a);
                    let from_lsa = || {
                        links[links_of(&vertices[w])]
                            .iter()
                            .find(|l| {
                                l.kind == LINK_POINT_TO_POINT
                                    && l.target == v as u32
                                    && subnet.contains(&l.link_data)
                            })
                            .map(|l| l.link_data)
                    };
                    match known.or_else(from_lsa) {
                        Some(gateway) => Some(gateway),
                        None => continue,
                    }
                };
                hops.single((gateway, interface as u32))
            } else if v_direct {
                let address = back.link_data;
                let interfaces: Vec<u32> = hops
                    .members(v_hops)
                    .map(|(_, interface)| interface)
                    .collect();
                let mut set = 0;
                for interface in interfaces {
                    let single = hops.single((Some(address), interface));
                    set = hops.union(set, single);
                }
                set
            } else {
                v_hops
            };

            let candidate = distance.saturating_add(u32::from(link.metric));
            let vertex = &mut vertices[w];
            if candidate > vertex.distance {
                continue;
            }
            if candidate < vertex.distance {
                vertex.distance = candidate;
                vertex.hops = set;
                let kind = if vertex.kind == Kind::Network { 0 } else { 1 };
                heap.push(Reverse((candidate, kind, w)));
            } else {
                vertex.hops = hops.union(vertex.hops, set);
            }
        }
    }

    // Stage 2 (16.1 step 2 and the end of 16.1): transit networks and stub networks.
    let add = |table: &mut FastMap<Ipv4Net, Candidate>,
               hops: &mut Hops<'_>,
               prefix: Ipv4Net,
               cost: u32,
               set: u32| {
        match table.get_mut(&prefix) {
            Some(existing) if existing.1 < cost => {}
            Some(existing) if existing.1 == cost => existing.3 = hops.union(existing.3, set),
            _ => {
                table.insert(prefix, (RouteType::IntraArea, cost, 0, set));
            }
        }
    };
    for &v in &order {
        let vertex = &vertices[v];
        if vertex.kind == Kind::Network {
            if let LsaBody::Network(network) = &vertex.lsa.body
                && let Ok(prefix) = Ipv4Net::with_netmask(vertex.id, network.network_mask)
            {
                add(
                    &mut table,
                    &mut hops,
                    prefix.trunc(),
                    vertex.distance,
                    vertex.hops,
                );
            }
            continue;
        }
        for link in links[links_of(vertex)]
            .iter()
            .filter(|link| link.kind == LINK_STUB)
        {
            let Ok(prefix) = Ipv4Net::with_netmask(link.link_id, link.link_data) else {
                continue;
            };
            let prefix = prefix.trunc();
            let cost = vertex.distance.saturating_add(u32::from(link.metric));
            if v == root {
                let Some(interface) = interfaces
                    .iter()
                    .position(|i| i.address.trunc() == prefix || i.address.addr() == prefix.addr())
                else {
                    continue;
                };
                let set = hops.single((None, interface as u32));
                add(&mut table, &mut hops, prefix, cost, set);
            } else {
                add(&mut table, &mut hops, prefix, cost, vertex.hops);
            }
        }
    }

    // Stage 3 (16.2): inter-area routes and ASBRs from summary-LSAs of area border routers.
    let mut asbrs: FastMap<u32, (u32, u32)> = FastMap::default();
    for &v in &order {
        let vertex = &vertices[v];
        if vertex.kind == Kind::Router
            && v != root
            && router_body(vertex.lsa).is_some_and(|router| router.flags & RouterLsa::FLAG_E != 0)
        {
            asbrs.insert(u32::from(vertex.id), (vertex.distance, vertex.hops));
        }
    }
    for (key, entry) in lsdb.iter() {
        if key.scope != 0
            || key.advertising_router == router_id
            || !matches!(key.ls_type.0, 3 | 4)
            || entry.is_max_age(now)
        {
            continue;
        }
        let summary = match &entry.lsa.body {
            LsaBody::SummaryNetwork(summary) | LsaBody::SummaryAsbr(summary) => summary,
            _ => continue,
        };
        if summary.metric >= LS_INFINITY {
            continue;
        }
        let Some(&abr) = routers.get(&u32::from(key.advertising_router)) else {
            continue;
        };
        let abr = &vertices[abr];
        if !abr.done || abr.hops == 0 {
            continue;
        }
        let cost = abr.distance.saturating_add(summary.metric);
        if key.ls_type == LsType::SUMMARY_ASBR {
            match asbrs.get_mut(&u32::from(key.link_state_id)) {
                Some(existing) if existing.0 < cost => {}
                Some(existing) if existing.0 == cost => {
                    existing.1 = hops.union(existing.1, abr.hops)
                }
                _ => {
                    asbrs.insert(u32::from(key.link_state_id), (cost, abr.hops));
                }
            }
            continue;
        }
        let Ok(prefix) = Ipv4Net::with_netmask(key.link_state_id, summary.network_mask) else {
            continue;
        };
        let prefix = prefix.trunc();
        match table.get_mut(&prefix) {
            Some(existing) if existing.0 == RouteType::IntraArea || existing.1 < cost => {}
            Some(existing) if existing.1 == cost => existing.3 = hops.union(existing.3, abr.hops),
            _ => {
                table.insert(prefix, (RouteType::InterArea, cost, 0, abr.hops));
            }
        }
    }

    // Stage 4 (16.4): AS-external routes.
    for (key, entry) in lsdb.iter() {
        if key.ls_type != LsType::AS_EXTERNAL
            || key.advertising_router == router_id
            || entry.is_max_age(now)
        {
            continue;
        }
        let LsaBody::AsExternal(external) = &entry.lsa.body else {
            continue;
        };
        if external.metric >= LS_INFINITY {
            continue;
        }
        let Some(&(asbr_cost, asbr_hops)) = asbrs.get(&u32::from(key.advertising_router)) else {
            continue;
        };
        let (base_cost, set) = if external.forwarding_address.is_unspecified() {
            (asbr_cost, asbr_hops)
        } else {
            let covering = table
                .iter()
                .filter(|(prefix, route)| {
                    prefix.contains(&external.forwarding_address) && route.0 <= RouteType::InterArea
                })
                .max_by_key(|(prefix, _)| prefix.prefix_len());
            match covering {
                Some((_, route)) => (route.1, route.3),
                None => continue,
            }
        };
        let Ok(prefix) = Ipv4Net::with_netmask(key.link_state_id, external.network_mask) else {
            continue;
        };
        let prefix = prefix.trunc();
        let (route_type, cost, type2_cost) = if external.metric_type2 {
            (RouteType::External2, base_cost, external.metric)
        } else {
            (
                RouteType::External1,
                base_cost.saturating_add(external.metric),
                0,
            )
        };
        match table.get_mut(&prefix) {
            Some(existing) if existing.0 <= RouteType::InterArea => {}
            Some(existing) => {
                let candidate = (route_type, type2_cost, cost);
                let current = (existing.0, existing.2, existing.1);
                if candidate < current {
                    *existing = (route_type, cost, type2_cost, set);
                } else if candidate == current {
                    existing.3 = hops.union(existing.3, set);
                }
            }
            None => {
                table.insert(prefix, (route_type, cost, type2_cost, set));
            }
        }
    }

    // Build each next-hop set once; routes sharing a set share its contents.
    let mut built: Vec<Option<Arc<BTreeSet<NextHop>>>> = vec![None; hops.sets.len()];
    let mut routes: Vec<(Ipv4Net, Route)> = Vec::with_capacity(table.len());
    for (prefix, (route_type, cost, type2_cost, set)) in table {
        if set == 0 {
            continue;
        }
        let next_hops =
            Arc::clone(built[set as usize].get_or_insert_with(|| Arc::new(hops.next_hops(set))));
        routes.push((
            prefix,
            Route {
                prefix,
                route_type,
                cost,
                type2_cost,
                next_hops,
            },
        ));
    }
    routes.sort_unstable_by_key(|(prefix, _)| *prefix);
    RoutingTable {
        routes: routes.into_iter().collect(),
    }
}

impl Instance {
    /// Schedules an SPF run according to the throttle (initial delay, then a hold time that
    /// doubles while changes keep coming, up to the maximum).
    pub(crate) fn schedule_spf(&mut self, now: Instant) {
        if self.spf_at.is_some() {
            return;
        }
        let throttle = self.config.spf_throttle;
        let quiet = self.last_spf.is_none_or(|last| {
            now.saturating_duration_since(last) > self.spf_hold.max(throttle.hold)
        });
        let delay = if quiet {
            self.spf_hold = throttle.hold;
            throttle.initial_delay
        } else {
            let delay = self.spf_hold;
            self.spf_hold = (self.spf_hold * 2).min(throttle.maximum).max(throttle.hold);
            delay
        };
        self.spf_at = Some(now + delay);
    }

    /// Runs SPF and publishes the routing table when it changed.
    ///
    /// In graceful restart nothing runs: the kernel keeps the pre-restart routes, and the end of
    /// the restart runs SPF (RFC 3623 section 2.1).
    pub(crate) fn run_spf(&mut self, now: Instant) {
        if self.restart.is_some() {
            return;
        }

        self.last_spf = Some(now);
        let interfaces: Vec<RootInterface> = self
            .interfaces
            .values()
            .filter(|interface| interface.is_enabled())
            .map(|interface| RootInterface {
                ifindex: interface.ifindex,
                name: Arc::from(interface.name.as_str()),
                address: interface.address,
                neighbors: interface
                    .neighbors
                    .values()
                    .map(|n| (n.router_id, n.address))
                    .collect(),
            })
            .collect();
        let started = std::time::Instant::now();
        let table = compute(&self.lsdb, self.router_id, &interfaces, now);
        debug!(
            routes = table.routes.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "SPF run"
        );
        if table == self.routes {
            return;
        }
        let mut changed = Vec::new();
        for (prefix, route) in &table.routes {
            if self.routes.routes.get(prefix) != Some(route) {
                changed.push(route.clone());
            }
        }
        let removed: Vec<Ipv4Net> = self
            .routes
            .routes
            .keys()
            .filter(|prefix| !table.routes.contains_key(prefix))
            .copied()
            .collect();
        info!(
            routes = table.routes.len(),
            changed = changed.len(),
            removed = removed.len(),
            "OSPF routing table changed"
        );
        self.routes = table.clone();
        self.actions.push(Action::Routes(RouteUpdate {
            table,
            changed,
            removed,
        }));
    }
}

impl RoutingTable {
    pub fn get(&self, prefix: &Ipv4Net) -> Option<&Route> {
        self.routes.get(prefix)
    }
}
