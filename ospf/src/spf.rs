//! The routing table calculation (RFC 2328 section 16): Dijkstra over router and network
//! vertices with equal-cost multipath (16.1, 16.1.1), stub networks, inter-area routes from
//! summary-LSAs (16.2) and AS-external routes (16.4); and the SPF throttle.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::net::Ipv4Addr;
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
    pub interface: String,
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
    /// The equal-cost next hops.
    pub next_hops: BTreeSet<NextHop>,
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

/// What SPF needs to know of one of the root's interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootInterface {
    pub ifindex: u32,
    pub name: String,
    pub address: Ipv4Net,
    /// (router id, interface address) of each neighbor.
    pub neighbors: Vec<(Ipv4Addr, Ipv4Addr)>,
}

/// Interned next hops: (gateway, index into the root interfaces).
type Hop = (Option<Ipv4Addr>, u32);

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
    hops: Vec<u32>,
}

struct Spf<'a> {
    interfaces: &'a [RootInterface],
    hops: Vec<Hop>,
    hop_index: HashMap<Hop, u32>,
}

impl Spf<'_> {
    fn intern(&mut self, hop: Hop) -> u32 {
        if let Some(index) = self.hop_index.get(&hop) {
            return *index;
        }
        let index = self.hops.len() as u32;
        self.hops.push(hop);
        self.hop_index.insert(hop, index);
        index
    }

    fn next_hops(&self, indexes: &[u32]) -> BTreeSet<NextHop> {
        indexes
            .iter()
            .map(|index| {
                let (address, interface) = self.hops[*index as usize];
                let interface = &self.interfaces[interface as usize];
                NextHop { address, ifindex: interface.ifindex, interface: interface.name.clone() }
            })
            .collect()
    }
}

fn merge(into: &mut Vec<u32>, from: &[u32]) {
    for hop in from {
        if !into.contains(hop) {
            into.push(*hop);
        }
    }
}

fn router_body(lsa: &Lsa) -> Option<&RouterLsa> {
    match &lsa.body {
        LsaBody::Router(router) => Some(router),
        _ => None,
    }
}

/// Computes the routing table of `router_id` from `lsdb` at `now`.
pub fn compute(lsdb: &Lsdb, router_id: Ipv4Addr, interfaces: &[RootInterface], now: Instant) -> RoutingTable {
    // Index the usable router-LSAs and network-LSAs as vertices.
    let mut vertices: Vec<Vertex<'_>> = Vec::with_capacity(lsdb.len());
    let mut routers: HashMap<Ipv4Addr, usize> = HashMap::with_capacity(lsdb.len());
    let mut networks: HashMap<Ipv4Addr, usize> = HashMap::new();
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
        let map = if kind == Kind::Router { &mut routers } else { &mut networks };
        // NOTE: two network-LSAs for one DR address (a DR that changed router id) keep only the
        // last one seen; the stale one is flushed or ages out.
        map.insert(key.link_state_id, index);
        vertices.push(Vertex { kind, id: key.link_state_id, lsa: &entry.lsa, distance: u32::MAX, done: false, hops: Vec::new() });
    }

    let mut spf = Spf { interfaces, hops: Vec::new(), hop_index: HashMap::new() };
    let mut table: BTreeMap<Ipv4Net, (RouteType, u32, u32, Vec<u32>)> = BTreeMap::new();
    let Some(&root) = routers.get(&router_id) else { return RoutingTable::default() };

    // Stage 1 (16.1): the shortest-path tree of routers and transit networks.
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
        let v_id = vertices[v].id;
        let v_kind = vertices[v].kind;
        let v_lsa = vertices[v].lsa;
        let v_hops = vertices[v].hops.clone();
        let v_direct = v != root && v_kind == Kind::Network && v_hops.iter().all(|hop| spf.hops[*hop as usize].0.is_none());

        let mut relax = |w: usize, cost: u32, hops: Vec<u32>, vertices: &mut Vec<Vertex<'_>>| {
            let candidate = distance.saturating_add(cost);
            let vertex = &mut vertices[w];
            if vertex.done || candidate > vertex.distance {
                return;
            }
            if candidate < vertex.distance {
                vertex.distance = candidate;
                vertex.hops = hops;
                let kind = if vertex.kind == Kind::Network { 0 } else { 1 };
                heap.push(Reverse((candidate, kind, w)));
            } else {
                merge(&mut vertex.hops, &hops);
            }
        };

        match &v_lsa.body {
            LsaBody::Router(router) => {
                for link in &router.links {
                    let (w, back) = match link.link_type {
                        RouterLinkType::POINT_TO_POINT => match routers.get(&link.link_id) {
                            Some(&w) => (w, links_back_to_router(vertices[w].lsa, v_id)),
                            None => continue,
                        },
                        RouterLinkType::TRANSIT => match networks.get(&link.link_id) {
                            Some(&w) => (w, network_lists(vertices[w].lsa, v_id)),
                            None => continue,
                        },
                        _ => continue,
                    };
                    if !back || vertices[w].done {
                        continue;
                    }
                    let hops = if v == root {
                        let Some(interface) = interfaces.iter().position(|i| i.address.addr() == link.link_data) else {
                            continue;
                        };
                        let gateway = match vertices[w].kind {
                            Kind::Network => None,
                            Kind::Router => {
                                let peer = vertices[w].id;
                                let known = interfaces[interface].neighbors.iter().find(|(id, _)| *id == peer).map(|(_, a)| *a);
                                let gateway = known.or_else(|| point_to_point_address(vertices[w].lsa, v_id, interfaces[interface].address));
                                match gateway {
                                    Some(gateway) => Some(gateway),
                                    None => continue,
                                }
                            }
                        };
                        vec![spf.intern((gateway, interface as u32))]
                    } else {
                        v_hops.clone()
                    };
                    relax(w, u32::from(link.metric), hops, &mut vertices);
                }
            }
            LsaBody::Network(network) => {
                for attached in &network.attached_routers {
                    let Some(&w) = routers.get(attached) else { continue };
                    if vertices[w].done {
                        continue;
                    }
                    let Some(address) = transit_address(vertices[w].lsa, v_id) else { continue };
                    let hops = if v_direct {
                        v_hops.iter().map(|hop| spf.intern((Some(address), spf.hops[*hop as usize].1))).collect()
                    } else {
                        v_hops.clone()
                    };
                    relax(w, 0, hops, &mut vertices);
                }
            }
            _ => {}
        }
    }

    // Stage 2 (16.1 step 2 and 16.1 end): transit networks and stub networks.
    let add = |table: &mut BTreeMap<Ipv4Net, (RouteType, u32, u32, Vec<u32>)>, prefix: Ipv4Net, cost: u32, hops: &[u32]| {
        match table.get_mut(&prefix) {
            Some(existing) if existing.1 < cost => {}
            Some(existing) if existing.1 == cost => merge(&mut existing.3, hops),
            _ => {
                table.insert(prefix, (RouteType::IntraArea, cost, 0, hops.to_vec()));
            }
        }
    };
    for &v in &order {
        let vertex = &vertices[v];
        match &vertex.lsa.body {
            LsaBody::Network(network) => {
                if let Ok(prefix) = Ipv4Net::with_netmask(vertex.id, network.network_mask) {
                    add(&mut table, prefix.trunc(), vertex.distance, &vertex.hops);
                }
            }
            LsaBody::Router(router) => {
                for link in router.links.iter().filter(|link| link.link_type == RouterLinkType::STUB) {
                    let Ok(prefix) = Ipv4Net::with_netmask(link.link_id, link.link_data) else { continue };
                    let prefix = prefix.trunc();
                    let cost = vertex.distance.saturating_add(u32::from(link.metric));
                    if v == root {
                        let Some(interface) = interfaces.iter().position(|i| i.address.trunc() == prefix || i.address.addr() == prefix.addr())
                        else {
                            continue;
                        };
                        let hop = spf.intern((None, interface as u32));
                        add(&mut table, prefix, cost, &[hop]);
                    } else {
                        add(&mut table, prefix, cost, &vertex.hops);
                    }
                }
            }
            _ => {}
        }
    }

    // Stage 3 (16.2): inter-area routes and ASBRs from summary-LSAs of area border routers.
    let mut asbrs: HashMap<Ipv4Addr, (u32, Vec<u32>)> = HashMap::new();
    for &v in &order {
        let vertex = &vertices[v];
        if vertex.kind == Kind::Router && v != root {
            if router_body(vertex.lsa).is_some_and(|router| router.flags & RouterLsa::FLAG_E != 0) {
                asbrs.insert(vertex.id, (vertex.distance, vertex.hops.clone()));
            }
        }
    }
    for (key, entry) in lsdb.iter() {
        if key.scope != 0 || key.advertising_router == router_id || entry.is_max_age(now) {
            continue;
        }
        let summary = match &entry.lsa.body {
            LsaBody::SummaryNetwork(summary) | LsaBody::SummaryAsbr(summary) => summary,
            _ => continue,
        };
        if summary.metric >= LS_INFINITY {
            continue;
        }
        let Some(&abr) = routers.get(&key.advertising_router) else { continue };
        let abr = &vertices[abr];
        if !abr.done || abr.hops.is_empty() {
            continue;
        }
        let cost = abr.distance.saturating_add(summary.metric);
        if key.ls_type == LsType::SUMMARY_ASBR {
            match asbrs.get_mut(&key.link_state_id) {
                Some(existing) if existing.0 < cost => {}
                Some(existing) if existing.0 == cost => merge(&mut existing.1, &abr.hops),
                _ => {
                    asbrs.insert(key.link_state_id, (cost, abr.hops.clone()));
                }
            }
            continue;
        }
        let Ok(prefix) = Ipv4Net::with_netmask(key.link_state_id, summary.network_mask) else { continue };
        let prefix = prefix.trunc();
        match table.get_mut(&prefix) {
            Some(existing) if existing.0 == RouteType::IntraArea || existing.1 < cost => {}
            Some(existing) if existing.1 == cost => merge(&mut existing.3, &abr.hops),
            _ => {
                table.insert(prefix, (RouteType::InterArea, cost, 0, abr.hops.clone()));
            }
        }
    }

    // Stage 4 (16.4): AS-external routes.
    for (key, entry) in lsdb.iter() {
        if key.advertising_router == router_id || entry.is_max_age(now) {
            continue;
        }
        let LsaBody::AsExternal(external) = &entry.lsa.body else { continue };
        if external.metric >= LS_INFINITY {
            continue;
        }
        let Some((asbr_cost, asbr_hops)) = asbrs.get(&key.advertising_router) else { continue };
        let (base_cost, hops) = if external.forwarding_address.is_unspecified() {
            (*asbr_cost, asbr_hops.clone())
        } else {
            let covering = table
                .iter()
                .filter(|(prefix, route)| prefix.contains(&external.forwarding_address) && route.0 <= RouteType::InterArea)
                .max_by_key(|(prefix, _)| prefix.prefix_len());
            match covering {
                Some((_, route)) => (route.1, route.3.clone()),
                None => continue,
            }
        };
        let Ok(prefix) = Ipv4Net::with_netmask(key.link_state_id, external.network_mask) else { continue };
        let prefix = prefix.trunc();
        let (route_type, cost, type2_cost) = if external.metric_type2 {
            (RouteType::External2, base_cost, external.metric)
        } else {
            (RouteType::External1, base_cost.saturating_add(external.metric), 0)
        };
        match table.get_mut(&prefix) {
            Some(existing) if existing.0 <= RouteType::InterArea => {}
            Some(existing) => {
                let better = (route_type, type2_cost, cost) < (existing.0, existing.2, existing.1);
                let equal = (route_type, type2_cost, cost) == (existing.0, existing.2, existing.1);
                if better {
                    *existing = (route_type, cost, type2_cost, hops);
                } else if equal {
                    merge(&mut existing.3, &hops);
                }
            }
            None => {
                table.insert(prefix, (route_type, cost, type2_cost, hops));
            }
        }
    }

    let routes = table
        .into_iter()
        .filter(|(_, (_, _, _, hops))| !hops.is_empty())
        .map(|(prefix, (route_type, cost, type2_cost, hops))| {
            (prefix, Route { prefix, route_type, cost, type2_cost, next_hops: spf.next_hops(&hops) })
        })
        .collect();
    RoutingTable { routes }
}

fn links_back_to_router(lsa: &Lsa, router_id: Ipv4Addr) -> bool {
    router_body(lsa).is_some_and(|router| {
        router.links.iter().any(|link| link.link_type == RouterLinkType::POINT_TO_POINT && link.link_id == router_id)
    })
}

fn network_lists(lsa: &Lsa, router_id: Ipv4Addr) -> bool {
    matches!(&lsa.body, LsaBody::Network(network) if network.attached_routers.contains(&router_id))
}

/// Returns the router's interface address on the transit network whose DR address is `network`,
/// which is also the check that the router links back to it.
fn transit_address(lsa: &Lsa, network: Ipv4Addr) -> Option<Ipv4Addr> {
    router_body(lsa)?
        .links
        .iter()
        .find(|link| link.link_type == RouterLinkType::TRANSIT && link.link_id == network)
        .map(|link| link.link_data)
}

/// Returns the neighbor's address on a point-to-point link to `root` inside `subnet`.
fn point_to_point_address(lsa: &Lsa, root: Ipv4Addr, subnet: Ipv4Net) -> Option<Ipv4Addr> {
    router_body(lsa)?
        .links
        .iter()
        .find(|link| link.link_type == RouterLinkType::POINT_TO_POINT && link.link_id == root && subnet.contains(&link.link_data))
        .map(|link| link.link_data)
}

impl Instance {
    /// Schedules an SPF run according to the throttle (initial delay, then a hold time that
    /// doubles while changes keep coming, up to the maximum).
    pub(crate) fn schedule_spf(&mut self, now: Instant) {
        if self.spf_at.is_some() {
            return;
        }
        let throttle = self.config.spf_throttle;
        let quiet = self.last_spf.is_none_or(|last| now.saturating_duration_since(last) > self.spf_hold.max(throttle.hold));
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
    pub(crate) fn run_spf(&mut self, now: Instant) {
        self.last_spf = Some(now);
        let interfaces: Vec<RootInterface> = self
            .interfaces
            .values()
            .filter(|interface| interface.is_enabled())
            .map(|interface| RootInterface {
                ifindex: interface.ifindex,
                name: interface.name.clone(),
                address: interface.address,
                neighbors: interface.neighbors.values().map(|n| (n.router_id, n.address)).collect(),
            })
            .collect();
        let started = std::time::Instant::now();
        let table = compute(&self.lsdb, self.router_id, &interfaces, now);
        debug!(routes = table.routes.len(), elapsed_us = started.elapsed().as_micros() as u64, "SPF run");
        if table == self.routes {
            return;
        }
        let mut changed = Vec::new();
        for (prefix, route) in &table.routes {
            if self.routes.routes.get(prefix) != Some(route) {
                changed.push(route.clone());
            }
        }
        let removed: Vec<Ipv4Net> =
            self.routes.routes.keys().filter(|prefix| !table.routes.contains_key(prefix)).copied().collect();
        info!(routes = table.routes.len(), changed = changed.len(), removed = removed.len(), "OSPF routing table changed");
        self.routes = table.clone();
        self.actions.push(Action::Routes(RouteUpdate { table, changed, removed }));
    }
}

impl RoutingTable {
    pub fn get(&self, prefix: &Ipv4Net) -> Option<&Route> {
        self.routes.get(prefix)
    }
}
