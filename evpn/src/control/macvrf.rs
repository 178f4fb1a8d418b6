//! A MAC-VRF (one L2VNI) originates type-3 and type-2 routes and imports remote ones into
//! remote MACs, neighbors and flood lists (RFC 7432 sections 7.2 and 7.3, RFC 8365 sections 5.1
//! and 9). It also applies MAC mobility and duplicate address detection (RFC 7432 section 15).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use hna_rib::{Change, Entry, EntryKey, FloodEntry, MacAddr, MacEntry, NeighborEntry, Vni, VrfId};
use tracing::{info, warn};

use super::attributes::{EvpnAttributes, LocalRoute, PmsiTunnel, RemoteRoute, pmsi_tunnel_type};
use super::config::{DuplicateDetection, MacVrfConfig};
use super::show::{MacSnapshot, VniSnapshot};
use super::{Counters, Output};
use crate::{
    Esi, EthernetTag, EvpnRoute, EvpnRouteKey, ExtendedCommunity, InclusiveMulticastRoute, Label,
    MacAddress, MacIpRoute, RouteDistinguisher, RouteTarget, tunnel_type,
};

/// The IP-VRF a MAC-VRF belongs to, for symmetric IRB on its MAC/IP routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Tenant {
    pub vrf_id: VrfId,
    pub l3vni: u32,
    pub router_mac: MacAddress,
    pub export_route_targets: Vec<RouteTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LocalMac {
    /// MAC mobility sequence number we advertise (RFC 7432 section 15.1).
    sequence: u32,
    /// Whether this VTEP currently owns the MAC; a MAC that lost to a remote one stays known
    /// until it ages out, but is not advertised.
    active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RemoteMac {
    vtep: IpAddr,
    sequence: u32,
    sticky: bool,
}

#[derive(Debug, Default)]
struct MoveHistory {
    moves: Vec<Instant>,
    /// Frozen by duplicate detection, until the given time (`None`: until reconfiguration).
    frozen: Option<Option<Instant>>,
}

pub(super) struct MacVrf {
    config: MacVrfConfig,
    rd: RouteDistinguisher,
    export_route_targets: Vec<RouteTarget>,
    import_route_targets: Vec<RouteTarget>,
    tenant: Option<Tenant>,
    vtep: Ipv4Addr,
    vni: Vni,

    local_macs: BTreeMap<MacAddress, LocalMac>,
    local_neighbors: BTreeMap<IpAddr, MacAddress>,
    remote_macs: BTreeMap<MacAddress, BTreeMap<EvpnRouteKey, RemoteMac>>,
    remote_neighbors: BTreeMap<IpAddr, BTreeMap<EvpnRouteKey, MacAddress>>,
    floods: BTreeMap<EvpnRouteKey, IpAddr>,
    history: BTreeMap<MacAddress, MoveHistory>,
    /// Number of remote routes (MAC-only and MAC/IP) per MAC and origin, so that a MAC stays
    /// installed until the last route naming it is withdrawn.
    route_refs: BTreeMap<(MacAddress, EvpnRouteKey), usize>,

    /// Entries installed in the plane and routes advertised, so that each change is a diff.
    installed_macs: BTreeMap<MacAddress, IpAddr>,
    installed_neighbors: BTreeMap<IpAddr, MacAddress>,
    installed_floods: BTreeSet<IpAddr>,
    advertised: BTreeMap<EvpnRouteKey, LocalRoute>,
}

impl MacVrf {
    pub fn new(
        config: MacVrfConfig,
        rd: RouteDistinguisher,
        export_route_targets: Vec<RouteTarget>,
        import_route_targets: Vec<RouteTarget>,
        tenant: Option<Tenant>,
        vtep: Ipv4Addr,
    ) -> MacVrf {
        let vni = Vni::new(config.vni & Vni::MAX).expect("masked to 24 bits");
        MacVrf {
            config,
            rd,
            export_route_targets,
            import_route_targets,
            tenant,
            vtep,
            vni,
            local_macs: BTreeMap::new(),
            local_neighbors: BTreeMap::new(),
            remote_macs: BTreeMap::new(),
            remote_neighbors: BTreeMap::new(),
            floods: BTreeMap::new(),
            history: BTreeMap::new(),
            route_refs: BTreeMap::new(),
            installed_macs: BTreeMap::new(),
            installed_neighbors: BTreeMap::new(),
            installed_floods: BTreeSet::new(),
            advertised: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &MacVrfConfig {
        &self.config
    }

    fn label(&self) -> Label {
        Label::from_vni(self.config.vni).unwrap_or_default()
    }

    fn neighbor_vrf(&self) -> VrfId {
        self.tenant
            .as_ref()
            .map_or(VrfId::DEFAULT, |tenant| tenant.vrf_id)
    }

    /// Originates the type-3 route that puts this VTEP in the VNI's flood lists elsewhere.
    pub fn start(&mut self, outputs: &mut Vec<Output>) {
        let route = EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
            rd: self.rd,
            ethernet_tag: EthernetTag(0),
            originating_ip: IpAddr::V4(self.vtep),
        });
        let mut communities: Vec<ExtendedCommunity> = self
            .export_route_targets
            .iter()
            .map(|rt| ExtendedCommunity::RouteTarget(*rt))
            .collect();
        communities.push(ExtendedCommunity::Encapsulation {
            tunnel_type: tunnel_type::VXLAN,
        });
        let attributes = EvpnAttributes {
            next_hop: IpAddr::V4(self.vtep),
            extended_communities: communities,
            pmsi_tunnel: Some(PmsiTunnel {
                tunnel_type: pmsi_tunnel_type::INGRESS_REPLICATION,
                label: self.label(),
                endpoint: IpAddr::V4(self.vtep),
            }),
        };
        self.advertise(route, attributes, outputs);
    }

    /// Withdraws every route and removes every entry of this MAC-VRF.
    pub fn shutdown(&mut self, outputs: &mut Vec<Output>) {
        for (_, local) in std::mem::take(&mut self.advertised) {
            outputs.push(Output::Withdraw(local.route));
        }
        for (mac, _) in std::mem::take(&mut self.installed_macs) {
            outputs.push(Output::Plane(Change::Remove(EntryKey::Mac {
                vni: self.vni,
                mac: mac_addr(mac),
            })));
        }
        for (ip, _) in std::mem::take(&mut self.installed_neighbors) {
            outputs.push(Output::Plane(Change::Remove(EntryKey::Neighbor {
                vrf: self.neighbor_vrf(),
                interface: self.config.bridge.clone(),
                ip,
            })));
        }
        for vtep in std::mem::take(&mut self.installed_floods) {
            outputs.push(Output::Plane(Change::Remove(EntryKey::Flood {
                vni: self.vni,
                vtep,
            })));
        }
    }

    /// Returns whether a remote route belongs to this MAC-VRF: a type-2 or type-3 route carrying one of
    /// its import route targets.
    pub fn imports(&self, route: &RemoteRoute) -> bool {
        matches!(
            route.route,
            EvpnRoute::MacIp(_) | EvpnRoute::InclusiveMulticast(_)
        ) && route
            .attributes
            .route_targets()
            .any(|rt| self.import_route_targets.contains(&rt))
    }

    /// Returns whether a remote route is already imported here.
    pub fn holds(&self, route: &RemoteRoute) -> bool {
        match &route.route {
            EvpnRoute::InclusiveMulticast(_) => self.floods.contains_key(&route.route.key()),
            EvpnRoute::MacIp(mac_ip) => self
                .route_refs
                .contains_key(&(mac_ip.mac, mac_only_key(&route.route.key()))),
            _ => false,
        }
    }

    // ---- local events ----

    pub fn local_mac(
        &mut self,
        now: Instant,
        mac: MacAddress,
        learned: bool,
        dad: &DuplicateDetection,
        counters: &mut Counters,
        outputs: &mut Vec<Output>,
    ) {
        if learned {
            if self.local_macs.get(&mac).is_some_and(|local| local.active) {
                return;
            }
            let best_remote = self.best_remote(mac);
            let sequence = match best_remote {
                // RFC 7432 section 15.1: a MAC learned locally that was known through a remote
                // route is advertised with the remote sequence number plus one.
                Some(remote) => {
                    if remote.sticky {
                        counters.sticky_conflicts += 1;
                        warn!(vni = self.config.vni, %mac, vtep = %remote.vtep, "local MAC is sticky at a remote VTEP; not advertised");
                        self.local_macs.insert(
                            mac,
                            LocalMac {
                                sequence: remote.sequence,
                                active: false,
                            },
                        );
                        return;
                    }
                    self.record_move(now, mac, dad, counters);
                    remote.sequence.saturating_add(1)
                }
                None => self.local_macs.get(&mac).map_or(0, |local| local.sequence),
            };
            self.local_macs.insert(
                mac,
                LocalMac {
                    sequence,
                    active: true,
                },
            );
        } else if self.local_macs.remove(&mac).is_none() {
            return;
        }
        self.resolve_mac(mac, outputs);
    }

    pub fn local_neighbor(
        &mut self,
        ip: IpAddr,
        mac: Option<MacAddress>,
        learned: bool,
        outputs: &mut Vec<Output>,
    ) {
        let previous = match (learned, mac) {
            (true, Some(mac)) => self.local_neighbors.insert(ip, mac),
            _ => self.local_neighbors.remove(&ip),
        };
        if let Some(old_mac) = previous {
            self.resolve_mac(old_mac, outputs);
        }
        if let (true, Some(mac)) = (learned, mac) {
            self.resolve_mac(mac, outputs);
        }
        self.resolve_neighbor(ip, outputs);
    }

    // ---- remote routes ----

    pub fn remote_route(
        &mut self,
        now: Instant,
        route: &RemoteRoute,
        present: bool,
        dad: &DuplicateDetection,
        counters: &mut Counters,
        outputs: &mut Vec<Output>,
    ) {
        let key = route.route.key();
        match &route.route {
            EvpnRoute::InclusiveMulticast(multicast) => {
                if present {
                    let endpoint = match &route.attributes.pmsi_tunnel {
                        Some(pmsi) if pmsi.tunnel_type == pmsi_tunnel_type::INGRESS_REPLICATION => {
                            pmsi.endpoint
                        }
                        Some(pmsi) => {
                            counters.unsupported_tunnel += 1;
                            warn!(
                                vni = self.config.vni,
                                tunnel_type = pmsi.tunnel_type,
                                "type-3 route with an unsupported PMSI tunnel type ignored"
                            );
                            return;
                        }
                        // RFC 8365 section 9: VXLAN VTEPs use ingress replication; a route
                        // without the attribute still names its VTEP.
                        None => multicast.originating_ip,
                    };
                    self.floods.insert(key, endpoint);
                } else {
                    self.floods.remove(&key);
                }
                self.resolve_floods(outputs);
            }
            EvpnRoute::MacIp(mac_ip) => {
                let mac = mac_ip.mac;
                let (sequence, sticky) = route.attributes.mac_mobility();
                let remote = RemoteMac {
                    vtep: route.attributes.next_hop,
                    sequence,
                    sticky,
                };
                // The MAC-only route and every MAC/IP route of the same MAC carry the MAC; the
                // MAC entry follows whichever is present.
                let mac_key = mac_only_key(&key);
                self.track_remote_route(&key, present);
                if present {
                    let moved_away = self.local_macs.get(&mac).is_some_and(|local| {
                        local.active && self.remote_wins(&remote, local.sequence)
                    });
                    if moved_away {
                        self.record_move(now, mac, dad, counters);
                    }
                    self.remote_macs
                        .entry(mac)
                        .or_default()
                        .insert(mac_key.clone(), remote);
                } else if self.remote_route_count(mac, &mac_key) == 0 {
                    if let Some(routes) = self.remote_macs.get_mut(&mac) {
                        routes.remove(&mac_key);
                        if routes.is_empty() {
                            self.remote_macs.remove(&mac);
                        }
                    }
                }
                if let Some(ip) = mac_ip.ip {
                    let entry = self.remote_neighbors.entry(ip).or_default();
                    if present {
                        entry.insert(key.clone(), mac);
                    } else {
                        entry.remove(&key);
                        if entry.is_empty() {
                            self.remote_neighbors.remove(&ip);
                        }
                    }
                    self.resolve_neighbor(ip, outputs);
                }
                self.resolve_mac(mac, outputs);
            }
            _ => {}
        }
    }

    /// Counts the routes (MAC-only and MAC/IP) of one origin that name `mac`.
    fn remote_route_count(&self, mac: MacAddress, mac_key: &EvpnRouteKey) -> usize {
        self.route_refs
            .get(&(mac, mac_key.clone()))
            .copied()
            .unwrap_or(0)
    }

    fn track_remote_route(&mut self, key: &EvpnRouteKey, present: bool) {
        let EvpnRouteKey::MacIp { mac, .. } = key else {
            return;
        };
        let counter = self
            .route_refs
            .entry((*mac, mac_only_key(key)))
            .or_insert(0);
        if present {
            *counter += 1;
        } else {
            *counter = counter.saturating_sub(1);
            if *counter == 0 {
                self.route_refs.remove(&(*mac, mac_only_key(key)));
            }
        }
    }

    // ---- timers ----

    pub fn poll(&mut self, now: Instant, outputs: &mut Vec<Output>) {
        let released: Vec<MacAddress> = self
            .history
            .iter()
            .filter(|(_, history)| matches!(history.frozen, Some(Some(until)) if until <= now))
            .map(|(mac, _)| *mac)
            .collect();
        for mac in released {
            self.history.remove(&mac);
            info!(vni = self.config.vni, %mac, "duplicate MAC released");
            self.resolve_mac(mac, outputs);
        }
    }

    // ---- decisions ----

    fn best_remote(&self, mac: MacAddress) -> Option<RemoteMac> {
        // Highest sequence number wins; among equal ones the lowest VTEP address (RFC 7432
        // section 15.1); a sticky MAC wins over a non-sticky one (section 15.2).
        self.remote_macs
            .get(&mac)?
            .values()
            .copied()
            .max_by(|a, b| {
                (a.sticky, a.sequence)
                    .cmp(&(b.sticky, b.sequence))
                    .then_with(|| b.vtep.cmp(&a.vtep))
            })
    }

    /// Returns whether `remote` takes the MAC from a local entry advertised with `local_sequence`.
    fn remote_wins(&self, remote: &RemoteMac, local_sequence: u32) -> bool {
        remote.sticky
            || remote.sequence > local_sequence
            || (remote.sequence == local_sequence && remote.vtep < IpAddr::V4(self.vtep))
    }

    fn record_move(
        &mut self,
        now: Instant,
        mac: MacAddress,
        dad: &DuplicateDetection,
        counters: &mut Counters,
    ) {
        counters.mac_moves += 1;
        let history = self.history.entry(mac).or_default();
        if history.frozen.is_some() {
            return;
        }
        history
            .moves
            .retain(|at| now.saturating_duration_since(*at) < dad.window);
        history.moves.push(now);
        if history.moves.len() as u32 >= dad.max_moves {
            history.frozen = Some(dad.freeze_time.map(|time| now + time));
            counters.duplicates_frozen += 1;
            warn!(
                vni = self.config.vni,
                %mac,
                moves = history.moves.len(),
                window_s = dad.window.as_secs(),
                "duplicate MAC detected: frozen, its routes and entries stay as they are"
            );
        }
    }

    fn is_frozen(&self, mac: MacAddress) -> bool {
        self.history
            .get(&mac)
            .is_some_and(|history| history.frozen.is_some())
    }

    /// Brings the advertisements and the plane in line with who owns `mac` now.
    fn resolve_mac(&mut self, mac: MacAddress, outputs: &mut Vec<Output>) {
        if self.is_frozen(mac) {
            return;
        }
        let best_remote = self.best_remote(mac);
        if let (Some(local), Some(remote)) = (self.local_macs.get(&mac), best_remote) {
            if local.active && self.remote_wins(&remote, local.sequence) {
                info!(vni = self.config.vni, %mac, vtep = %remote.vtep, sequence = remote.sequence, "MAC moved to a remote VTEP");
                self.local_macs.remove(&mac);
            }
        }

        let local_active = self
            .local_macs
            .get(&mac)
            .filter(|local| local.active)
            .cloned();
        let mut wanted: BTreeMap<EvpnRouteKey, LocalRoute> = BTreeMap::new();
        if let Some(local) = &local_active {
            let route = self.mac_route(mac, None);
            let attributes = self.type2_attributes(local.sequence, false);
            wanted.insert(route.key(), LocalRoute { route, attributes });
            let ips: Vec<IpAddr> = self
                .local_neighbors
                .iter()
                .filter(|(_, m)| **m == mac)
                .map(|(ip, _)| *ip)
                .collect();
            for ip in ips {
                let route = self.mac_route(mac, Some(ip));
                let attributes = self.type2_attributes(local.sequence, true);
                wanted.insert(route.key(), LocalRoute { route, attributes });
            }
        }
        let current: Vec<EvpnRouteKey> = self
            .advertised
            .keys()
            .filter(|key| matches!(key, EvpnRouteKey::MacIp { mac: m, .. } if *m == mac))
            .cloned()
            .collect();
        for key in current {
            if !wanted.contains_key(&key) {
                if let Some(local) = self.advertised.remove(&key) {
                    outputs.push(Output::Withdraw(local.route));
                }
            }
        }
        for (_, local) in wanted {
            self.advertise(local.route, local.attributes, outputs);
        }

        let remote_vtep = if local_active.is_some() {
            None
        } else {
            best_remote.map(|remote| remote.vtep)
        };
        match (self.installed_macs.get(&mac).copied(), remote_vtep) {
            (Some(installed), Some(vtep)) if installed == vtep => {}
            (_, Some(vtep)) => {
                self.installed_macs.insert(mac, vtep);
                outputs.push(Output::Plane(Change::Install(Entry::Mac(MacEntry {
                    vni: self.vni,
                    mac: mac_addr(mac),
                    vtep,
                }))));
            }
            (Some(_), None) => {
                self.installed_macs.remove(&mac);
                outputs.push(Output::Plane(Change::Remove(EntryKey::Mac {
                    vni: self.vni,
                    mac: mac_addr(mac),
                })));
            }
            (None, None) => {}
        }
    }

    /// Installs the neighbor entry of a remote host, unless the address is a local neighbor.
    fn resolve_neighbor(&mut self, ip: IpAddr, outputs: &mut Vec<Output>) {
        let wanted = if self.local_neighbors.contains_key(&ip) {
            None
        } else {
            self.remote_neighbors.get(&ip).and_then(|routes| {
                // Prefer the entry whose MAC is currently remote-owned.
                routes
                    .values()
                    .copied()
                    .find(|mac| self.best_remote(*mac).is_some())
            })
        };
        let interface = self.config.bridge.clone();
        match (self.installed_neighbors.get(&ip).copied(), wanted) {
            (Some(installed), Some(mac)) if installed == mac => {}
            (_, Some(mac)) => {
                self.installed_neighbors.insert(ip, mac);
                outputs.push(Output::Plane(Change::Install(Entry::Neighbor(
                    NeighborEntry {
                        vrf: self.neighbor_vrf(),
                        interface,
                        ip,
                        mac: mac_addr(mac),
                    },
                ))));
            }
            (Some(_), None) => {
                self.installed_neighbors.remove(&ip);
                outputs.push(Output::Plane(Change::Remove(EntryKey::Neighbor {
                    vrf: self.neighbor_vrf(),
                    interface,
                    ip,
                })));
            }
            (None, None) => {}
        }
    }

    fn resolve_floods(&mut self, outputs: &mut Vec<Output>) {
        let wanted: BTreeSet<IpAddr> = self
            .floods
            .values()
            .copied()
            .filter(|vtep| *vtep != IpAddr::V4(self.vtep))
            .collect();
        for vtep in self.installed_floods.difference(&wanted) {
            outputs.push(Output::Plane(Change::Remove(EntryKey::Flood {
                vni: self.vni,
                vtep: *vtep,
            })));
        }
        for vtep in wanted.difference(&self.installed_floods) {
            outputs.push(Output::Plane(Change::Install(Entry::Flood(FloodEntry {
                vni: self.vni,
                vtep: *vtep,
            }))));
        }
        self.installed_floods = wanted;
    }

    // ---- route construction ----

    fn mac_route(&self, mac: MacAddress, ip: Option<IpAddr>) -> EvpnRoute {
        let label2 = match (ip, &self.tenant) {
            (Some(_), Some(tenant)) => Label::from_vni(tenant.l3vni),
            _ => None,
        };
        EvpnRoute::MacIp(MacIpRoute {
            rd: self.rd,
            esi: Esi::ZERO,
            ethernet_tag: EthernetTag(0),
            mac,
            ip,
            label1: self.label(),
            label2,
        })
    }

    /// Attributes of a type-2 route: the MAC-VRF's route targets, and for a MAC/IP route of a
    /// tenant also the IP-VRF's route targets and router MAC (RFC 9135 section 5.1).
    fn type2_attributes(&self, sequence: u32, with_ip: bool) -> EvpnAttributes {
        let mut communities: Vec<ExtendedCommunity> = self
            .export_route_targets
            .iter()
            .map(|rt| ExtendedCommunity::RouteTarget(*rt))
            .collect();
        if let (true, Some(tenant)) = (with_ip, &self.tenant) {
            for rt in &tenant.export_route_targets {
                if !self.export_route_targets.contains(rt) {
                    communities.push(ExtendedCommunity::RouteTarget(*rt));
                }
            }
            communities.push(ExtendedCommunity::RouterMac(tenant.router_mac));
        }
        communities.push(ExtendedCommunity::Encapsulation {
            tunnel_type: tunnel_type::VXLAN,
        });
        if sequence > 0 {
            communities.push(ExtendedCommunity::MacMobility {
                sticky: false,
                sequence,
            });
        }
        EvpnAttributes {
            next_hop: IpAddr::V4(self.vtep),
            extended_communities: communities,
            pmsi_tunnel: None,
        }
    }

    fn advertise(
        &mut self,
        route: EvpnRoute,
        attributes: EvpnAttributes,
        outputs: &mut Vec<Output>,
    ) {
        let key = route.key();
        let local = LocalRoute { route, attributes };
        if self.advertised.get(&key) == Some(&local) {
            return;
        }
        self.advertised.insert(key, local.clone());
        outputs.push(Output::Advertise(local));
    }

    // ---- show ----

    pub fn snapshot(&self) -> VniSnapshot {
        VniSnapshot {
            vni: self.config.vni,
            kind: "L2",
            vxlan_device: Some(self.config.vxlan_device.clone()),
            bridge: Some(self.config.bridge.clone()),
            vrf: self.config.ip_vrf.clone(),
            rd: self.rd.to_string(),
            export_route_targets: self
                .export_route_targets
                .iter()
                .map(|rt| rt.to_string())
                .collect(),
            import_route_targets: self
                .import_route_targets
                .iter()
                .map(|rt| rt.to_string())
                .collect(),
            local_macs: self
                .local_macs
                .values()
                .filter(|local| local.active)
                .count(),
            remote_macs: self.installed_macs.len(),
            remote_vteps: self
                .installed_floods
                .iter()
                .map(|vtep| vtep.to_string())
                .collect(),
            router_mac: None,
        }
    }

    pub fn mac_snapshots(&self) -> Vec<MacSnapshot> {
        let mut macs = Vec::new();
        for (mac, local) in &self.local_macs {
            macs.push(MacSnapshot {
                vni: self.config.vni,
                mac: mac.to_string(),
                kind: if local.active {
                    "local"
                } else {
                    "local-inactive"
                },
                vtep: None,
                sequence: local.sequence,
                sticky: false,
                frozen: self.is_frozen(*mac),
                ips: self
                    .local_neighbors
                    .iter()
                    .filter(|(_, m)| *m == mac)
                    .map(|(ip, _)| ip.to_string())
                    .collect(),
            });
        }
        for (mac, vtep) in &self.installed_macs {
            let remote = self.best_remote(*mac);
            macs.push(MacSnapshot {
                vni: self.config.vni,
                mac: mac.to_string(),
                kind: "remote",
                vtep: Some(vtep.to_string()),
                sequence: remote.map_or(0, |r| r.sequence),
                sticky: remote.is_some_and(|r| r.sticky),
                frozen: self.is_frozen(*mac),
                ips: self
                    .installed_neighbors
                    .iter()
                    .filter(|(_, m)| *m == mac)
                    .map(|(ip, _)| ip.to_string())
                    .collect(),
            });
        }
        macs
    }
}

/// Returns the key of the MAC-only route of the same origin (RD and Ethernet tag) as `key`, under which
/// a remote MAC is tracked whether it came in a MAC-only or a MAC/IP route.
fn mac_only_key(key: &EvpnRouteKey) -> EvpnRouteKey {
    match key {
        EvpnRouteKey::MacIp {
            rd,
            ethernet_tag,
            mac,
            ..
        } => EvpnRouteKey::MacIp {
            rd: *rd,
            ethernet_tag: *ethernet_tag,
            mac: *mac,
            ip: None,
        },
        other => other.clone(),
    }
}

fn mac_addr(mac: MacAddress) -> MacAddr {
    MacAddr(mac.octets())
}
