//! The overlay: the EVPN control plane, fed by local MACs, neighbors and tenant subnets, whose
//! layer-2 entries go to the plane and whose tenant routes go to the RIB.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use hna_bgp::policy::{PolicySet, RouteView};
use hna_evpn::MacAddress;
use hna_evpn::control::{EvpnControl, LocalRoute, Output, RoutePolicy, VrfNextHop};
use hna_rib::{
    Change, MacAddr, NextHop, PlaneEvent, Rib, RibError, RibOutput, Route, RouteSource, Vni, VrfId,
    VxlanEncap,
};
use ipnet::IpNet;
use tracing::{debug, warn};

use crate::config::Config;
use crate::settings;

/// Administrative distance of tenant routes learned through EVPN from iBGP peers, as FRR
/// gives iBGP routes.
const EVPN_DISTANCE: u8 = 200;

/// Route-map evaluation for the EVPN control plane through the BGP policy engine.
struct PolicyAdapter(Arc<PolicySet>);

impl RoutePolicy for PolicyAdapter {
    fn permits(&self, map: &str, prefix: IpNet, source_vrf: Option<&str>) -> bool {
        let attributes = hna_bgp::PathAttributes::default();
        let view = RouteView {
            prefix: Some(prefix),
            source_l3vrf: source_vrf,
            evpn_route_type: None,
            vni: None,
            next_hop: None,
            attributes: &attributes,
        };
        self.0.evaluate(map, &view).is_some()
    }
}

/// Effects of the overlay for the core to apply.
#[derive(Default)]
pub(super) struct OverlayOutputs {
    pub plane: Vec<Change>,
    pub rib: Vec<Result<RibOutput, RibError>>,
    /// Routes to originate in BGP, or to withdraw (`None` attributes).
    pub bgp: Vec<(
        hna_evpn::EvpnRoute,
        Option<hna_evpn::control::EvpnAttributes>,
    )>,
}

pub(super) struct Overlay {
    evpn: Option<EvpnControl>,
    /// Routes this node originates, by key, for `show`.
    originated: BTreeMap<hna_evpn::EvpnRouteKey, LocalRoute>,
}

impl Overlay {
    pub fn start(now: Instant, config: &Config, vrf_ids: &BTreeMap<String, VrfId>) -> Overlay {
        let evpn = settings::evpn(config).map(|evpn| {
            let policy = Box::new(PolicyAdapter(Arc::new(settings::policy(config))));
            EvpnControl::new(now, evpn, vrf_ids, policy)
        });
        Overlay {
            evpn,
            originated: BTreeMap::new(),
        }
    }

    pub fn running(&self) -> bool {
        self.evpn.is_some()
    }

    pub fn control(&self) -> Option<&EvpnControl> {
        self.evpn.as_ref()
    }

    pub fn poll(&mut self, now: Instant) {
        if let Some(evpn) = &mut self.evpn {
            evpn.poll(now);
        }
    }

    /// Feeds a local MAC or neighbor event of a bridge to the MAC-VRF of that bridge.
    pub fn on_local_event(&mut self, now: Instant, event: &PlaneEvent, _vrf_name: Option<&str>) {
        let Some(evpn) = &mut self.evpn else { return };
        match event {
            PlaneEvent::LocalMac {
                bridge,
                mac,
                vni,
                learned,
                port,
                ..
            } => {
                let Some(vni) = vni.map(Vni::get).or_else(|| evpn.vni_of_bridge(bridge)) else {
                    debug!(%bridge, %port, %mac, "MAC on a bridge of no L2VNI ignored");
                    return;
                };
                evpn.local_mac(now, vni, MacAddress(mac.octets()), *learned);
            }
            PlaneEvent::LocalNeighbor {
                interface,
                ip,
                mac,
                learned,
                ..
            } => {
                let Some(vni) = evpn.vni_of_bridge(interface) else {
                    return;
                };
                evpn.local_neighbor(vni, *ip, mac.map(|mac| MacAddress(mac.octets())), *learned);
            }
            _ => {}
        }
    }

    /// Passes BGP's best path for a remote EVPN route to the control plane.
    pub fn remote_route(
        &mut self,
        now: Instant,
        key: hna_evpn::EvpnRouteKey,
        best: Option<hna_evpn::control::RemoteRoute>,
    ) {
        if let Some(evpn) = &mut self.evpn {
            evpn.remote_route(now, key, best);
        }
    }

    pub fn vrf_connected(&mut self, vrf: &str, prefix: IpNet, present: bool) {
        if let Some(evpn) = &mut self.evpn {
            evpn.vrf_connected(vrf, prefix, present);
        }
    }

    /// Returns whether the control plane queued outputs that [`Overlay::take_outputs`] has not
    /// drained yet. [`Overlay::vrf_connected`] queues type-5 routes and leaks while the core is
    /// applying a RIB notification, so the core keeps applying until none are left.
    pub fn has_outputs(&self) -> bool {
        self.evpn.as_ref().is_some_and(EvpnControl::has_outputs)
    }

    /// Drains the control plane's outputs, turning tenant routes into RIB updates.
    pub fn take_outputs(
        &mut self,
        vrf_ids: &BTreeMap<String, VrfId>,
        rib: &mut Rib,
    ) -> OverlayOutputs {
        let mut result = OverlayOutputs::default();
        let Some(evpn) = &mut self.evpn else {
            return result;
        };
        for output in evpn.take_outputs() {
            match output {
                Output::Plane(change) => result.plane.push(change),
                Output::Advertise(local) => {
                    self.originated.insert(local.route.key(), local.clone());
                    result.bgp.push((local.route, Some(local.attributes)));
                }
                Output::Withdraw(route) => {
                    self.originated.remove(&route.key());
                    result.bgp.push((route, None));
                }
                Output::VrfRoute {
                    vrf,
                    prefix,
                    next_hops,
                } => {
                    let Some(vrf_id) = vrf_ids.get(&vrf).copied() else {
                        warn!(%vrf, %prefix, "tenant route for an l3vrf without a table id");
                        continue;
                    };
                    if next_hops.is_empty() {
                        result
                            .rib
                            .push(rib.withdraw(vrf_id, prefix, RouteSource::Evpn));
                        continue;
                    }
                    let next_hops: Vec<NextHop> = next_hops
                        .iter()
                        .filter_map(|hop| rib_next_hop(hop, vrf_ids))
                        .collect();
                    let route = Route::new(prefix, RouteSource::Evpn, next_hops)
                        .with_distance(EVPN_DISTANCE);
                    result.rib.push(rib.update(vrf_id, route));
                }
            }
        }
        result
    }

    pub fn reconfigure(
        &mut self,
        now: Instant,
        config: &Config,
        vrf_ids: &BTreeMap<String, VrfId>,
    ) {
        match (&mut self.evpn, settings::evpn(config)) {
            (Some(evpn), Some(wanted)) => evpn.apply_config(now, wanted, vrf_ids),
            (None, Some(wanted)) => {
                let policy = Box::new(PolicyAdapter(Arc::new(settings::policy(config))));
                self.evpn = Some(EvpnControl::new(now, wanted, vrf_ids, policy));
            }
            (Some(evpn), None) => evpn.shutdown(),
            (None, None) => {}
        }
    }

    /// Withdraws every route this node originated, before a non-graceful stop.
    pub fn withdraw_all(&mut self) {
        if let Some(evpn) = &mut self.evpn {
            evpn.shutdown();
        }
    }
}

fn rib_next_hop(hop: &VrfNextHop, vrf_ids: &BTreeMap<String, VrfId>) -> Option<NextHop> {
    match hop {
        VrfNextHop::Vxlan {
            vtep,
            vni,
            router_mac,
        } => Some(NextHop::vxlan(VxlanEncap {
            vtep: *vtep,
            vni: Vni::new(*vni).ok()?,
            router_mac: MacAddr(router_mac.octets()),
        })),
        VrfNextHop::Vrf(name) => Some(NextHop::vrf(*vrf_ids.get(name)?)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use hna_evpn::{EvpnRoute, IpPrefixValue};

    use super::*;

    fn seed_hna1() -> (Config, BTreeMap<String, VrfId>, Rib) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seed/hna1.nc-cli");
        let config = crate::config::load(&path).expect("the seed configuration loads");
        let mut rib = Rib::new();
        let mut vrf_ids = BTreeMap::new();
        for (name, table) in [("vrf100", 100), ("vrf101", 101)] {
            rib.add_vrf(name, VrfId(table)).expect("a new VRF");
            vrf_ids.insert(name.to_string(), VrfId(table));
        }
        (config, vrf_ids, rib)
    }

    #[test]
    fn connected_subnet_reports_pending_outputs() {
        let (config, vrf_ids, mut rib) = seed_hna1();
        let mut overlay = Overlay::start(Instant::now(), &config, &vrf_ids);
        overlay.take_outputs(&vrf_ids, &mut rib);
        assert!(
            !overlay.has_outputs(),
            "the start's type-3 routes were drained"
        );

        // The core learns of a tenant's connected subnet from a RIB notification while it
        // applies outputs, and keeps applying only while the overlay reports more.
        overlay.vrf_connected("vrf101", "10.62.0.0/16".parse().unwrap(), true);

        assert!(
            overlay.has_outputs(),
            "the type-5 route and the leak wait to be drained"
        );
        let outputs = overlay.take_outputs(&vrf_ids, &mut rib);
        let type5: Vec<_> = outputs
            .bgp
            .iter()
            .filter_map(|(route, attributes)| match route {
                EvpnRoute::IpPrefix(prefix) if attributes.is_some() => Some(prefix.value),
                _ => None,
            })
            .collect();
        assert!(
            matches!(type5.as_slice(), [IpPrefixValue::V4 { prefix, .. }] if prefix.to_string() == "10.62.0.0/16"),
            "{type5:?}"
        );
        assert_eq!(outputs.rib.len(), 1, "the leak of 10.62/16 into vrf100");
        assert!(!overlay.has_outputs());
    }
}
