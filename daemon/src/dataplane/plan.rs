//! The interface part of the configuration as the kernel objects it requires, namespace by
//! namespace: the state [`super::Dataplane::apply`] converges the kernel to.
//!
//! An interface belongs to the namespace of its L3VRF. A VXLAN device, which the configuration
//! declares in `vrf main`, belongs to the L3VRF of the bridge it is a port of, or else to the
//! L3VRF whose L3VNI it carries. A port (physical, fpvhost, infrastructure) that is a member of
//! a tenant's bridge belongs to that tenant: the daemon moves it there from the underlay.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hna_rib::linux::links::VxlanDevice;
use hna_rib::{MacAddr, Vni};
use ipnet::IpNet;

use crate::config::{Config, Interface, InterfaceKind};
use crate::settings;

/// The kernel objects of the whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Objects of the underlay namespace (the default VRF).
    pub underlay: Scope,
    /// Configured loopbacks, by name: their addresses and MTU.
    pub loopbacks: BTreeMap<String, Port>,
    /// One namespace per L3VRF, by L3VRF name.
    pub tenants: BTreeMap<String, Tenant>,
    /// Parts of the configuration that cannot be applied, with the reason.
    pub problems: Vec<(String, String)>,
}

/// The namespace of one L3VRF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tenant {
    pub namespace: String,
    /// The routing table id, which names the VRF in the plane.
    pub table: Option<u32>,
    pub l3vni: Option<L3Vni>,
    pub scope: Scope,
}

/// The devices of an L3VNI, for symmetric IRB: its VXLAN device, a port of the SVI bridge that
/// carries the router MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct L3Vni {
    pub vni: Vni,
    pub vxlan: String,
    pub svi: String,
}

/// The kernel objects of one namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    pub vxlans: BTreeMap<String, Vxlan>,
    pub bridges: BTreeMap<String, Bridge>,
    /// Interfaces that others create (physical ports, pods' ports), found by name.
    pub ports: BTreeMap<String, Port>,
}

/// A VXLAN device the daemon creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Vxlan {
    pub device: VxlanDevice,
    /// The bridge it is a port of.
    pub master: Option<String>,
    /// Learning on its bridge port; the kernel's default (on) when unset.
    pub port_learning: Option<bool>,
    /// Whether its VNI is an L2VNI (a subnet), as opposed to an L3VNI.
    pub l2vni: bool,
}

/// A bridge the daemon creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Bridge {
    pub mac: Option<MacAddr>,
    pub mtu: Option<u32>,
    pub addresses: Vec<IpNet>,
    /// Sysctls of the bridge, as paths under `/proc/sys/` and values.
    pub sysctls: Vec<(String, String)>,
}

/// An interface that exists without the daemon: what the daemon sets on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Port {
    pub kind: InterfaceKind,
    pub mtu: Option<u32>,
    pub addresses: Vec<IpNet>,
    /// The bridge it is a port of.
    pub master: Option<String>,
    /// Learning on its bridge port; the kernel's default (on) when unset.
    pub learning: Option<bool>,
}

impl Port {
    fn new(interface: &Interface) -> Port {
        Port {
            kind: interface.kind,
            mtu: interface.mtu,
            addresses: addresses(interface),
            master: None,
            learning: None,
        }
    }
}

/// Returns the kernel objects `config` requires, with tenant namespaces named `{prefix}{l3vrf}`
/// and L3VNI bridges carrying `router_mac`.
pub(crate) fn plan(config: &Config, prefix: &str, router_mac: MacAddr) -> Plan {
    let mut plan = Plan::default();
    for (name, l3vrf) in &config.l3vrfs {
        let tenant = Tenant {
            namespace: settings::vrf_namespace(prefix, name),
            table: l3vrf.table_id,
            l3vni: None,
            scope: Scope::default(),
        };
        if l3vrf.table_id.is_none() {
            plan.problems.push((
                name.clone(),
                "the l3vrf has no table-id, so the routing plane cannot use it".into(),
            ));
        }
        plan.tenants.insert(name.clone(), tenant);
    }

    let bridge_of = bridge_memberships(config);
    let l3vrf_of_vni: BTreeMap<u32, &String> = config
        .l3vrfs
        .iter()
        .filter_map(|(name, l3vrf)| Some((l3vrf.l3vni?, name)))
        .collect();

    for (name, interface) in &config.interfaces {
        let member_of = bridge_of.get(name.as_str());
        let bridge_l3vrf = member_of
            .and_then(|(bridge, _)| config.interfaces.get(*bridge))
            .and_then(|bridge| bridge.l3vrf.as_ref());
        let l3vrf = match interface.kind {
            InterfaceKind::Loopback => {
                plan.loopbacks.insert(name.clone(), Port::new(interface));
                continue;
            }
            InterfaceKind::Bridge => interface.l3vrf.as_ref(),
            InterfaceKind::Vxlan => {
                let vni = interface.vxlan.as_ref().and_then(|vxlan| vxlan.vni);
                interface
                    .l3vrf
                    .as_ref()
                    .or(bridge_l3vrf)
                    .or_else(|| vni.and_then(|vni| l3vrf_of_vni.get(&vni).copied()))
            }
            InterfaceKind::Physical | InterfaceKind::Fpvhost | InterfaceKind::Infrastructure => {
                interface.l3vrf.as_ref().or(bridge_l3vrf)
            }
        };
        let scope = match l3vrf {
            None => &mut plan.underlay,
            Some(l3vrf) => match plan.tenants.get_mut(l3vrf) {
                Some(tenant) => &mut tenant.scope,
                None => {
                    plan.problems
                        .push((name.clone(), format!("l3vrf {l3vrf} is not configured")));
                    continue;
                }
            },
        };
        let master = member_of.map(|(bridge, _)| bridge.to_string());
        let learning = member_of.and_then(|(_, learning)| *learning);
        match interface.kind {
            InterfaceKind::Bridge => {
                scope.bridges.insert(name.clone(), bridge(name, interface));
            }
            InterfaceKind::Vxlan => match vxlan(name, interface, config) {
                Ok(mut vxlan) => {
                    vxlan.l2vni =
                        master.is_some() && !l3vrf_of_vni.contains_key(&vxlan.device.vni.get());
                    vxlan.master = master;
                    vxlan.port_learning = learning;
                    scope.vxlans.insert(name.clone(), vxlan);
                }
                Err(problem) => plan.problems.push((name.clone(), problem)),
            },
            _ => {
                let mut port = Port::new(interface);
                port.master = master;
                port.learning = learning;
                scope.ports.insert(name.clone(), port);
            }
        }
    }

    add_l3vnis(config, router_mac, &mut plan);
    plan
}

/// Adds the SVI bridge of each L3VNI, with the L3VNI's VXLAN device as its port, learning off:
/// remote router MACs come from EVPN.
fn add_l3vnis(config: &Config, router_mac: MacAddr, plan: &mut Plan) {
    for (name, l3vrf) in &config.l3vrfs {
        let Some(l3vni) = l3vrf.l3vni else { continue };
        let Some(tenant) = plan.tenants.get_mut(name) else {
            continue;
        };
        let Some((vxlan_name, vxlan)) = tenant
            .scope
            .vxlans
            .iter_mut()
            .find(|(_, vxlan)| vxlan.device.vni.get() == l3vni)
        else {
            plan.problems.push((
                name.clone(),
                format!("no vxlan interface of l3vrf {name} carries its l3vni {l3vni}"),
            ));
            continue;
        };
        let svi = settings::l3vni_bridge(l3vni);
        if let Some(master) = vxlan.master.as_ref().filter(|master| **master != svi) {
            plan.problems.push((
                vxlan_name.clone(),
                format!("the L3VNI device cannot be a port of bridge {master}"),
            ));
            continue;
        }
        vxlan.master = Some(svi.clone());
        vxlan.port_learning = Some(false);
        vxlan.l2vni = false;
        tenant.l3vni = Some(L3Vni {
            vni: vxlan.device.vni,
            vxlan: vxlan_name.clone(),
            svi: svi.clone(),
        });
        let bridge = Bridge {
            mac: Some(router_mac),
            mtu: None,
            addresses: Vec::new(),
            sysctls: Vec::new(),
        };
        tenant.scope.bridges.insert(svi, bridge);
    }
}

/// Returns, for each bridge member, its bridge and its learning setting.
fn bridge_memberships(config: &Config) -> BTreeMap<&str, (&str, Option<bool>)> {
    let mut members = BTreeMap::new();
    for (name, interface) in &config.interfaces {
        for member in interface.bridge.iter().flat_map(|bridge| &bridge.members) {
            members.insert(member.name.as_str(), (name.as_str(), member.learning));
        }
    }
    members
}

fn addresses(interface: &Interface) -> Vec<IpNet> {
    interface
        .ipv4_addresses
        .iter()
        .copied()
        .map(IpNet::V4)
        .collect()
}

fn bridge(name: &str, interface: &Interface) -> Bridge {
    let mut sysctls = Vec::new();
    if let Some(settings) = &interface.bridge {
        // `always` accepts gratuitous ARP for addresses without a neighbor entry yet.
        match settings.arp_accept_gratuitous.as_deref() {
            Some("always") => {
                sysctls.push((format!("net/ipv4/conf/{name}/arp_accept"), "1".into()))
            }
            Some("never") => sysctls.push((format!("net/ipv4/conf/{name}/arp_accept"), "0".into())),
            _ => {}
        }
        if let Some(time) = settings.ipv4_base_reachable_time_ms {
            sysctls.push((
                format!("net/ipv4/neigh/{name}/base_reachable_time_ms"),
                time.to_string(),
            ));
        }
    }
    Bridge {
        mac: interface.mac_address.map(|mac| MacAddr(mac.0)),
        mtu: interface.mtu,
        addresses: addresses(interface),
        sysctls,
    }
}

fn vxlan(name: &str, interface: &Interface, config: &Config) -> Result<Vxlan, String> {
    let settings = interface.vxlan.clone().unwrap_or_default();
    let vni = settings.vni.ok_or("the vxlan interface has no vni")?;
    let vni = Vni::new(vni).map_err(|error| error.to_string())?;
    let local = settings
        .local
        .ok_or("the vxlan interface has no local address")?;
    let mut device = VxlanDevice::new(name, vni, IpAddr::V4(local));
    device.mtu = interface.mtu;
    // EVPN distributes remote MACs, so learning stays off unless the configuration turns it on.
    device.learning = settings.learning.unwrap_or(false);
    // A `link-interface` that is a loopback only names where the local address lives: bound to
    // it (`dev`), the kernel would send the encapsulated packets out of the loopback, which has
    // no path to the other VTEPs.
    device.underlay = settings.link_interface.filter(|link| {
        config
            .interfaces
            .get(link)
            .is_some_and(|interface| interface.kind == InterfaceKind::Physical)
    });
    Ok(Vxlan {
        device,
        master: None,
        port_learning: None,
        l2vni: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Config {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seed/hna1.nc-cli");
        crate::config::load(&path).expect("the seed configuration loads")
    }

    fn router_mac() -> MacAddr {
        MacAddr([0x02, 0, 10, 0, 0, 1])
    }

    #[test]
    fn plan_places_seed_interfaces_by_tenant() {
        let plan = plan(&seed(), "hna1-", router_mac());

        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        assert_eq!(plan.loopbacks.keys().collect::<Vec<_>>(), ["loop0"]);
        assert_eq!(
            plan.underlay.ports.keys().collect::<Vec<_>>(),
            ["pci-b0s4", "pci-b0s5"]
        );
        assert!(plan.underlay.vxlans.is_empty());
        assert!(plan.underlay.bridges.is_empty());

        let green = &plan.tenants["vrf100"];
        assert_eq!(green.namespace, "hna1-vrf100");
        assert_eq!(green.table, Some(100));
        assert_eq!(
            green.scope.bridges.keys().collect::<Vec<_>>(),
            ["br10000", "br10001", "irb100"]
        );
        assert_eq!(
            green.scope.vxlans.keys().collect::<Vec<_>>(),
            ["vx100", "vx10000", "vx10001"]
        );
        assert_eq!(
            green.scope.ports.keys().collect::<Vec<_>>(),
            ["vho-1000000000", "vho-1000000001"]
        );
        let red = &plan.tenants["vrf101"];
        assert_eq!(
            red.scope.bridges.keys().collect::<Vec<_>>(),
            ["br10100", "br10101", "irb101"]
        );
        assert_eq!(
            red.scope.vxlans.keys().collect::<Vec<_>>(),
            ["vx101", "vx10100", "vx10101"]
        );
        assert_eq!(
            red.scope.ports.keys().collect::<Vec<_>>(),
            ["veth-1000000002"]
        );
    }

    #[test]
    fn plan_builds_l3vni_svi_with_router_mac() {
        let plan = plan(&seed(), "hna1-", router_mac());
        let green = &plan.tenants["vrf100"];

        let l3vni = green.l3vni.as_ref().expect("L3VNI devices");
        assert_eq!(
            (l3vni.vni.get(), l3vni.vxlan.as_str(), l3vni.svi.as_str()),
            (100, "vx100", "irb100")
        );
        assert_eq!(green.scope.bridges["irb100"].mac, Some(router_mac()));
        let vx100 = &green.scope.vxlans["vx100"];
        assert_eq!(vx100.master.as_deref(), Some("irb100"));
        assert_eq!(vx100.port_learning, Some(false));
        assert!(!vx100.l2vni);
    }

    #[test]
    fn plan_reads_bridge_and_vxlan_settings() {
        let plan = plan(&seed(), "hna1-", router_mac());
        let green = &plan.tenants["vrf100"].scope;

        let bridge = &green.bridges["br10000"];
        assert_eq!(bridge.mac, Some(MacAddr([0, 0, 0, 0, 1, 1])));
        assert_eq!(bridge.mtu, Some(1550));
        assert_eq!(
            bridge.addresses,
            vec!["10.60.0.254/16".parse::<IpNet>().unwrap()]
        );
        assert!(
            bridge
                .sysctls
                .contains(&("net/ipv4/conf/br10000/arp_accept".into(), "1".into()))
        );
        assert!(bridge.sysctls.contains(&(
            "net/ipv4/neigh/br10000/base_reachable_time_ms".into(),
            "30000".into()
        )));

        let vxlan = &green.vxlans["vx10000"];
        assert_eq!(vxlan.device.vni.get(), 10000);
        assert_eq!(vxlan.device.local, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(vxlan.device.mtu, Some(1500));
        assert!(!vxlan.device.learning);
        assert_eq!(
            vxlan.device.underlay, None,
            "a VXLAN device was bound to the loopback"
        );
        assert_eq!(vxlan.master.as_deref(), Some("br10000"));
        assert_eq!(vxlan.port_learning, Some(false));
        assert!(vxlan.l2vni);

        let pod = &green.ports["vho-1000000000"];
        assert_eq!(pod.master.as_deref(), Some("br10000"));
        assert_eq!(pod.learning, None);
    }

    #[test]
    fn plan_reports_missing_table_id() {
        let mut config = seed();
        config.l3vrfs.get_mut("vrf101").unwrap().table_id = None;

        let plan = plan(&config, "hna1-", router_mac());

        assert_eq!(plan.problems.len(), 1, "{:?}", plan.problems);
        assert_eq!(plan.problems[0].0, "vrf101");
    }
}
