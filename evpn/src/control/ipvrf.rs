//! An IP-VRF (one L3VNI): type-5 origination from the VRF's routes (RFC 9136), import of remote
//! type-5 prefixes and type-2 host routes (RFC 9135 symmetric IRB) into the VRF's table, and
//! routes leaked from other IP-VRFs through a route-map.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use hna_rib::VrfId;
use ipnet::IpNet;
use tracing::debug;

use super::attributes::{EvpnAttributes, LocalRoute, RemoteRoute};
use super::config::IpVrfConfig;
use super::show::VniSnapshot;
use super::{Counters, Output, RoutePolicy, VrfNextHop};
use crate::{
    Esi, EthernetTag, EvpnRoute, EvpnRouteKey, ExtendedCommunity, IpPrefixRoute, IpPrefixValue,
    Label, MacAddress, RouteDistinguisher, RouteTarget, tunnel_type,
};

pub(super) struct IpVrf {
    config: IpVrfConfig,
    vrf_id: VrfId,
    rd: RouteDistinguisher,
    export_route_targets: Vec<RouteTarget>,
    import_route_targets: Vec<RouteTarget>,
    vtep: Ipv4Addr,

    connected: BTreeSet<IpNet>,
    /// Routes imported from EVPN, per prefix and route key (one key per remote VTEP's route).
    remote: BTreeMap<IpNet, BTreeMap<EvpnRouteKey, VrfNextHop>>,

    advertised: BTreeMap<IpNet, LocalRoute>,
    installed: BTreeMap<IpNet, Vec<VrfNextHop>>,
}

impl IpVrf {
    pub fn new(
        config: IpVrfConfig,
        vrf_id: VrfId,
        rd: RouteDistinguisher,
        export_route_targets: Vec<RouteTarget>,
        import_route_targets: Vec<RouteTarget>,
        vtep: Ipv4Addr,
    ) -> IpVrf {
        IpVrf {
            config,
            vrf_id,
            rd,
            export_route_targets,
            import_route_targets,
            vtep,
            connected: BTreeSet::new(),
            remote: BTreeMap::new(),
            advertised: BTreeMap::new(),
            installed: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &IpVrfConfig {
        &self.config
    }

    pub fn vrf_id(&self) -> VrfId {
        self.vrf_id
    }

    pub fn shutdown(&mut self, outputs: &mut Vec<Output>) {
        for (_, local) in std::mem::take(&mut self.advertised) {
            outputs.push(Output::Withdraw(local.route));
        }
        for (prefix, _) in std::mem::take(&mut self.installed) {
            outputs.push(Output::VrfRoute {
                vrf: self.config.name.clone(),
                prefix,
                next_hops: Vec::new(),
            });
        }
    }

    /// Returns whether a remote route belongs to this IP-VRF: a type-5 route, or a type-2 route with an
    /// IP address and an L3VNI label, carrying one of the VRF's import route targets.
    pub fn imports(&self, route: &RemoteRoute) -> bool {
        let kind_matches = match &route.route {
            EvpnRoute::IpPrefix(_) => true,
            EvpnRoute::MacIp(mac_ip) => mac_ip.ip.is_some() && mac_ip.label2.is_some(),
            _ => false,
        };
        kind_matches
            && route
                .attributes
                .route_targets()
                .any(|rt| self.import_route_targets.contains(&rt))
    }

    /// Returns whether a remote route is already imported here.
    pub fn holds(&self, route: &RemoteRoute) -> bool {
        let key = route.route.key();
        self.remote.values().any(|paths| paths.contains_key(&key))
    }

    pub fn remote_route(&mut self, route: &RemoteRoute, present: bool, counters: &mut Counters) {
        let key = route.route.key();
        let (prefix, vni) = match &route.route {
            EvpnRoute::IpPrefix(prefix_route) => {
                (prefix_route.value.prefix(), prefix_route.label.vni())
            }
            EvpnRoute::MacIp(mac_ip) => match (mac_ip.ip, mac_ip.label2) {
                (Some(ip), Some(label2)) => (IpNet::from(ip), label2.vni()),
                _ => return,
            },
            _ => return,
        };

        if !present {
            if let Some(paths) = self.remote.get_mut(&prefix) {
                paths.remove(&key);
                if paths.is_empty() {
                    self.remote.remove(&prefix);
                }
            }
            return;
        }

        // RFC 9136 section 4.4.1 (type 5) and RFC 9135 section 5.1 (type 2): a VXLAN route to
        // an IP-VRF needs the sender's router MAC, which must be a unicast address.
        let router_mac = route.attributes.router_mac();
        let valid_mac = router_mac.filter(|mac| *mac != MacAddress::ZERO && !mac.is_multicast());
        let Some(router_mac) = valid_mac else {
            match route.route {
                EvpnRoute::IpPrefix(_) => counters.invalid_type5 += 1,
                _ => counters.invalid_router_mac += 1,
            }
            debug!(vrf = %self.config.name, %prefix, ?router_mac, "EVPN route without a valid router MAC ignored");
            return;
        };
        if prefix != prefix.trunc() {
            counters.invalid_type5 += 1;
            debug!(vrf = %self.config.name, %prefix, "type-5 route with host bits set ignored");
            return;
        }
        // NOTE: a non-zero gateway IP (RFC 9136 section 4.4.2, recursive resolution through an
        // overlay index) is not used. The router MAC above decides the next hop instead.
        let next_hop = VrfNextHop::Vxlan {
            vtep: route.attributes.next_hop,
            vni,
            router_mac,
        };
        self.remote.entry(prefix).or_default().insert(key, next_hop);
    }

    pub fn set_connected(&mut self, prefix: IpNet, present: bool) {
        if present {
            self.connected.insert(prefix);
        } else {
            self.connected.remove(&prefix);
        }
    }

    /// Returns the VRF's own BGP routes: connected subnets when redistributed, and routes
    /// imported from EVPN. Leaked routes are not included, so a leak is never leaked again.
    pub fn bgp_prefixes(&self) -> Vec<IpNet> {
        let mut prefixes: BTreeSet<IpNet> = self.remote.keys().copied().collect();
        if self.config.redistribute_connected {
            prefixes.extend(self.connected.iter().copied());
        }
        prefixes.into_iter().collect()
    }

    /// Recomputes the VRF's routes and type-5 originations and queues the differences.
    pub fn refresh(
        &mut self,
        tables: &BTreeMap<String, Vec<IpNet>>,
        policy: &dyn RoutePolicy,
        outputs: &mut Vec<Output>,
    ) {
        let wanted = self.wanted_routes(tables, policy);
        let stale: Vec<IpNet> = self
            .installed
            .keys()
            .filter(|prefix| !wanted.contains_key(prefix))
            .copied()
            .collect();
        for prefix in stale {
            self.installed.remove(&prefix);
            outputs.push(Output::VrfRoute {
                vrf: self.config.name.clone(),
                prefix,
                next_hops: Vec::new(),
            });
        }
        for (prefix, next_hops) in wanted {
            if self.installed.get(&prefix) != Some(&next_hops) {
                self.installed.insert(prefix, next_hops.clone());
                outputs.push(Output::VrfRoute {
                    vrf: self.config.name.clone(),
                    prefix,
                    next_hops,
                });
            }
        }
        self.refresh_type5(policy, outputs);
    }

    fn wanted_routes(
        &self,
        tables: &BTreeMap<String, Vec<IpNet>>,
        policy: &dyn RoutePolicy,
    ) -> BTreeMap<IpNet, Vec<VrfNextHop>> {
        let mut wanted: BTreeMap<IpNet, Vec<VrfNextHop>> = BTreeMap::new();
        for (prefix, paths) in &self.remote {
            // A host route of our own subnet that points back at this VTEP would loop.
            let next_hops: BTreeSet<VrfNextHop> = paths
                .values()
                .filter(|hop| !matches!(hop, VrfNextHop::Vxlan { vtep, .. } if *vtep == IpAddr::V4(self.vtep)))
                .cloned()
                .collect();
            if !next_hops.is_empty() {
                wanted.insert(*prefix, next_hops.into_iter().collect());
            }
        }
        for source in &self.config.import_vrfs {
            let Some(prefixes) = tables.get(source) else {
                continue;
            };
            for prefix in prefixes {
                // The VRF's own routes win over leaked ones: a connected subnet through the
                // kernel's own route, an EVPN route through the entry above.
                if wanted.contains_key(prefix) || self.connected.contains(prefix) {
                    continue;
                }
                let permitted = match &self.config.import_route_map {
                    Some(map) => policy.permits(map, *prefix, Some(source)),
                    None => true,
                };
                if permitted {
                    wanted
                        .entry(*prefix)
                        .or_default()
                        .push(VrfNextHop::Vrf(source.clone()));
                }
            }
        }
        wanted
    }

    fn refresh_type5(&mut self, policy: &dyn RoutePolicy, outputs: &mut Vec<Output>) {
        let mut wanted: BTreeMap<IpNet, LocalRoute> = BTreeMap::new();
        if self.config.advertise_ipv4_unicast && self.config.redistribute_connected {
            for prefix in &self.connected {
                let IpNet::V4(prefix_v4) = *prefix else {
                    continue;
                };
                let permitted = match &self.config.advertise_route_map {
                    Some(map) => policy.permits(map, *prefix, None),
                    None => true,
                };
                if permitted {
                    wanted.insert(*prefix, self.type5_route(prefix_v4));
                }
            }
        }
        let stale: Vec<IpNet> = self
            .advertised
            .keys()
            .filter(|prefix| !wanted.contains_key(prefix))
            .copied()
            .collect();
        for prefix in stale {
            if let Some(local) = self.advertised.remove(&prefix) {
                outputs.push(Output::Withdraw(local.route));
            }
        }
        for (prefix, local) in wanted {
            if self.advertised.get(&prefix) != Some(&local) {
                self.advertised.insert(prefix, local.clone());
                outputs.push(Output::Advertise(local));
            }
        }
    }

    fn type5_route(&self, prefix: ipnet::Ipv4Net) -> LocalRoute {
        let route = EvpnRoute::IpPrefix(IpPrefixRoute {
            rd: self.rd,
            esi: Esi::ZERO,
            ethernet_tag: EthernetTag(0),
            value: IpPrefixValue::V4 {
                prefix,
                gateway: Ipv4Addr::UNSPECIFIED,
            },
            label: Label::from_vni(self.config.l3vni).unwrap_or_default(),
        });
        let mut communities: Vec<ExtendedCommunity> = self
            .export_route_targets
            .iter()
            .map(|rt| ExtendedCommunity::RouteTarget(*rt))
            .collect();
        communities.push(ExtendedCommunity::Encapsulation {
            tunnel_type: tunnel_type::VXLAN,
        });
        communities.push(ExtendedCommunity::RouterMac(self.config.router_mac));
        let attributes = EvpnAttributes {
            next_hop: IpAddr::V4(self.vtep),
            extended_communities: communities,
            pmsi_tunnel: None,
        };
        LocalRoute { route, attributes }
    }

    pub fn snapshot(&self) -> VniSnapshot {
        VniSnapshot {
            vni: self.config.l3vni,
            kind: "L3",
            vxlan_device: None,
            bridge: None,
            vrf: Some(self.config.name.clone()),
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
            local_macs: 0,
            remote_macs: 0,
            remote_vteps: self
                .remote
                .values()
                .flat_map(|paths| paths.values())
                .filter_map(|hop| match hop {
                    VrfNextHop::Vxlan { vtep, .. } => Some(vtep.to_string()),
                    VrfNextHop::Vrf(_) => None,
                })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            router_mac: Some(self.config.router_mac.to_string()),
        }
    }
}
