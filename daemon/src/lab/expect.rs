//! The protocol state a converged lab must show, derived from the configurations and the
//! cabling: OSPF adjacencies, BFD sessions, BGP sessions and EVPN VNIs per router.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::backend::RouterState;
use super::cluster::{Cluster, Router};
use crate::config::{Config, NeighborSettings};

/// State one router must report once the fabric has converged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Expected {
    /// Interfaces with a Full OSPF adjacency.
    pub ospf_interfaces: BTreeSet<String>,
    /// Single-hop BFD sessions, by interface.
    pub bfd_interfaces: BTreeSet<String>,
    /// Established BGP sessions, by peer address.
    pub bgp_peers: BTreeSet<IpAddr>,
    /// Multihop BFD sessions, by peer address.
    pub bfd_multihop_peers: BTreeSet<IpAddr>,
    /// VNIs and, for an L2VNI, its number of remote VTEPs.
    pub vnis: BTreeMap<u32, ExpectedVni>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExpectedVni {
    pub l3: bool,
    /// Remote VTEPs of an L2VNI; `None` for an L3VNI.
    pub remote_vteps: Option<u64>,
}

/// Derives the expected state of every router.
pub fn expected_state(cluster: &Cluster) -> BTreeMap<String, Expected> {
    let mut expected: BTreeMap<String, Expected> = cluster
        .routers
        .iter()
        .map(|router| (router.name.clone(), Expected::default()))
        .collect();

    for link in &cluster.links {
        let [a, b] = &link.ends;
        let (Some(router_a), Some(router_b)) =
            (cluster.router(&a.router), cluster.router(&b.router))
        else {
            continue;
        };
        if !runs_ospf(&router_a.config, &a.interface) || !runs_ospf(&router_b.config, &b.interface)
        {
            continue;
        }
        let bfd = tracks_bfd(&router_a.config, &a.interface)
            && tracks_bfd(&router_b.config, &b.interface);
        for (router, end) in [(&a.router, a), (&b.router, b)] {
            let entry = expected.get_mut(router).expect("every router has an entry");
            entry.ospf_interfaces.insert(end.interface.clone());
            if bfd {
                entry.bfd_interfaces.insert(end.interface.clone());
            }
        }
    }

    for router in &cluster.routers {
        let Some(bgp) = &router.config.bgp else {
            continue;
        };
        for (address, settings) in &bgp.neighbors {
            let IpAddr::V4(peer_address) = address else {
                continue;
            };
            let Some(peer) = cluster.router_with_address(*peer_address) else {
                continue;
            };
            if peer.name == router.name
                || effective(
                    settings,
                    bgp.neighbor_groups
                        .get(settings.group.as_deref().unwrap_or("")),
                )
                .shutdown
                    == Some(true)
            {
                continue;
            }
            let Some(source) = source_address(
                router,
                settings,
                bgp.neighbor_groups
                    .get(settings.group.as_deref().unwrap_or("")),
            ) else {
                continue;
            };
            let Some(peer_settings) = accepting_settings(peer, source) else {
                continue;
            };
            let own = effective(
                settings,
                bgp.neighbor_groups
                    .get(settings.group.as_deref().unwrap_or("")),
            );
            let bfd = own.track_bfd == Some(true) && peer_settings.track_bfd == Some(true);
            for (name, remote) in [(&router.name, *address), (&peer.name, IpAddr::V4(source))] {
                let entry = expected.get_mut(name).expect("every router has an entry");
                entry.bgp_peers.insert(remote);
                if bfd {
                    entry.bfd_multihop_peers.insert(remote);
                }
            }
        }
    }

    let l2vnis: Vec<(String, u32)> = cluster
        .routers
        .iter()
        .filter(|router| {
            router
                .config
                .bgp
                .as_ref()
                .is_some_and(|bgp| bgp.advertise_all_vni)
        })
        .flat_map(|router| {
            vnis(&router.config)
                .into_iter()
                .filter(|(_, l3)| !l3)
                .map(|(vni, _)| (router.name.clone(), vni))
        })
        .collect();
    for router in &cluster.routers {
        if !router
            .config
            .bgp
            .as_ref()
            .is_some_and(|bgp| bgp.advertise_all_vni)
        {
            continue;
        }
        let entry = expected
            .get_mut(&router.name)
            .expect("every router has an entry");
        for (vni, l3) in vnis(&router.config) {
            let remote_vteps = (!l3).then(|| {
                l2vnis
                    .iter()
                    .filter(|(name, other)| *other == vni && name != &router.name)
                    .count() as u64
            });
            entry.vnis.insert(vni, ExpectedVni { l3, remote_vteps });
        }
    }
    expected
}

/// Returns whether OSPF runs on `interface`: it has an address inside a `network` and is not
/// passive.
fn runs_ospf(config: &Config, interface: &str) -> bool {
    let Some(ospf) = &config.ospf else {
        return false;
    };
    let Some(settings) = config.interfaces.get(interface) else {
        return false;
    };
    let passive = config
        .routing_interfaces
        .get(interface)
        .is_some_and(|routing| routing.ospf.passive == Some(true));
    !passive
        && settings.ipv4_addresses.iter().any(|address| {
            ospf.networks
                .iter()
                .any(|network| network.prefix.contains(&address.addr()))
        })
}

fn tracks_bfd(config: &Config, interface: &str) -> bool {
    config
        .routing_interfaces
        .get(interface)
        .is_some_and(|routing| routing.ospf.track_bfd == Some(true))
}

/// Returns a neighbor's settings, with the fields it leaves unset taken from its group.
fn effective(own: &NeighborSettings, group: Option<&NeighborSettings>) -> NeighborSettings {
    let Some(group) = group else {
        return own.clone();
    };
    NeighborSettings {
        remote_as: own.remote_as.or(group.remote_as),
        update_source: own
            .update_source
            .clone()
            .or_else(|| group.update_source.clone()),
        track_bfd: own.track_bfd.or(group.track_bfd),
        shutdown: own.shutdown.or(group.shutdown),
        passive: own.passive.or(group.passive),
        ..own.clone()
    }
}

/// Returns the source address of a router's session to a neighbor: its update-source's address.
fn source_address(
    router: &Router,
    settings: &NeighborSettings,
    group: Option<&NeighborSettings>,
) -> Option<Ipv4Addr> {
    let source = effective(settings, group).update_source?;
    router
        .config
        .interfaces
        .get(&source)?
        .ipv4_addresses
        .first()
        .map(|address| address.addr())
}

/// Returns the settings under which `router` accepts a session from `source`: a neighbor
/// configured with that address, or the group of a listen range that contains it.
fn accepting_settings(router: &Router, source: Ipv4Addr) -> Option<NeighborSettings> {
    let bgp = router.config.bgp.as_ref()?;
    if let Some(settings) = bgp.neighbors.get(&IpAddr::V4(source)) {
        return Some(effective(
            settings,
            settings
                .group
                .as_ref()
                .and_then(|group| bgp.neighbor_groups.get(group)),
        ));
    }
    let range = bgp
        .listen_ranges
        .iter()
        .find(|range| range.prefix.contains(&IpAddr::V4(source)))?;
    bgp.neighbor_groups.get(&range.group).cloned()
}

/// Returns the VNIs of a configuration's VXLAN interfaces, each marked as an L3VNI or not.
fn vnis(config: &Config) -> Vec<(u32, bool)> {
    config
        .interfaces
        .values()
        .filter_map(|interface| interface.vxlan.as_ref()?.vni)
        .map(|vni| {
            (
                vni,
                config.l3vrfs.values().any(|vrf| vrf.l3vni == Some(vni)),
            )
        })
        .collect()
}

/// Differences between a router's reported state and the expected one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Human-readable differences; empty when the router has converged.
    pub missing: Vec<String>,
}

impl Comparison {
    pub fn converged(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Compares what a router reports with what it must report.
pub fn compare(expected: &Expected, state: &RouterState) -> Comparison {
    let mut missing = Vec::new();
    match &state.ospf {
        Ok(neighbors) => {
            for interface in &expected.ospf_interfaces {
                if !neighbors
                    .iter()
                    .any(|neighbor| &neighbor.interface == interface && neighbor.state == "Full")
                {
                    missing.push(format!("OSPF neighbor on {interface} not Full"));
                }
            }
        }
        Err(error) if !expected.ospf_interfaces.is_empty() => {
            missing.push(format!("OSPF: {error}"))
        }
        Err(_) => {}
    }
    match &state.bfd {
        Ok(peers) => {
            for interface in &expected.bfd_interfaces {
                if !peers.iter().any(|peer| {
                    !peer.multihop && &peer.interface == interface && peer.status == "up"
                }) {
                    missing.push(format!("BFD on {interface} not up"));
                }
            }
            for address in &expected.bfd_multihop_peers {
                if !peers.iter().any(|peer| {
                    peer.multihop && peer.peer == address.to_string() && peer.status == "up"
                }) {
                    missing.push(format!("multihop BFD to {address} not up"));
                }
            }
        }
        Err(error)
            if !(expected.bfd_interfaces.is_empty() && expected.bfd_multihop_peers.is_empty()) =>
        {
            missing.push(format!("BFD: {error}"))
        }
        Err(_) => {}
    }
    match &state.bgp {
        Ok(peers) => {
            for address in &expected.bgp_peers {
                if !peers
                    .iter()
                    .any(|peer| peer.address == address.to_string() && peer.state == "Established")
                {
                    missing.push(format!("BGP {address} not Established"));
                }
            }
        }
        Err(error) if !expected.bgp_peers.is_empty() => missing.push(format!("BGP: {error}")),
        Err(_) => {}
    }
    match &state.evpn {
        Ok(vnis) => {
            for (vni, want) in &expected.vnis {
                match vnis.iter().find(|known| known.vni == *vni) {
                    None => missing.push(format!("VNI {vni} missing")),
                    Some(known) if known.kind == "L3" && !want.l3 => {
                        missing.push(format!("VNI {vni} is L3, expected L2"))
                    }
                    Some(known) if known.kind == "L2" && want.l3 => {
                        missing.push(format!("VNI {vni} is L2, expected L3"))
                    }
                    Some(known)
                        if want.remote_vteps.is_some()
                            && known.remote_vteps != want.remote_vteps =>
                    {
                        missing.push(format!(
                            "VNI {vni} has {} remote VTEPs, expected {}",
                            known.remote_vteps.unwrap_or(0),
                            want.remote_vteps.unwrap_or(0)
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        Err(error) if !expected.vnis.is_empty() => missing.push(format!("EVPN: {error}")),
        Err(_) => {}
    }
    Comparison { missing }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn seed() -> Cluster {
        Cluster::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/seed/cluster.toml"))
            .unwrap()
    }

    fn addresses(list: &[&str]) -> BTreeSet<IpAddr> {
        list.iter().map(|text| text.parse().unwrap()).collect()
    }

    #[test]
    fn seed_leaf_expects_three_adjacencies_and_two_hnas() {
        let expected = expected_state(&seed());
        let leaf1 = &expected["leaf1"];
        assert_eq!(
            leaf1.ospf_interfaces,
            ["eth1", "eth2", "eth3"].map(String::from).into()
        );
        assert_eq!(leaf1.bfd_interfaces.len(), 3);
        assert_eq!(leaf1.bgp_peers, addresses(&["10.0.0.1", "10.0.0.2"]));
        assert_eq!(
            leaf1.bfd_multihop_peers,
            addresses(&["10.0.0.1", "10.0.0.2"])
        );
        assert!(leaf1.vnis.is_empty());
    }

    #[test]
    fn seed_hna_expects_both_leaves_and_six_vnis() {
        let expected = expected_state(&seed());
        let hna2 = &expected["hna2"];
        assert_eq!(
            hna2.ospf_interfaces,
            ["pci-b0s4", "pci-b0s5"].map(String::from).into()
        );
        assert_eq!(hna2.bgp_peers, addresses(&["10.0.0.201", "10.0.0.202"]));
        assert_eq!(hna2.vnis.len(), 6);
        assert_eq!(
            hna2.vnis[&100],
            ExpectedVni {
                l3: true,
                remote_vteps: None
            }
        );
        assert_eq!(
            hna2.vnis[&10001],
            ExpectedVni {
                l3: false,
                remote_vteps: Some(1)
            }
        );
    }

    #[test]
    fn comparison_lists_what_is_missing() {
        use super::super::backend::{BgpPeer, OspfNeighbor};

        let expected = &expected_state(&seed())["hna1"];
        let state = RouterState {
            ospf: Ok(vec![OspfNeighbor {
                router_id: "10.0.0.201".into(),
                address: "10.0.11.1".into(),
                interface: "pci-b0s4".into(),
                state: "Full".into(),
            }]),
            bfd: Ok(vec![]),
            bgp: Ok(vec![BgpPeer {
                address: "10.0.0.201".into(),
                state: "Established".into(),
                families: vec![],
                prefixes_received: None,
            }]),
            evpn: Err("no answer".into()),
        };
        let comparison = compare(expected, &state);
        assert!(!comparison.converged());
        assert!(
            comparison
                .missing
                .contains(&"OSPF neighbor on pci-b0s5 not Full".to_string()),
            "{:?}",
            comparison.missing
        );
        assert!(
            comparison
                .missing
                .contains(&"BGP 10.0.0.202 not Established".to_string())
        );
        assert!(comparison.missing.contains(&"EVPN: no answer".to_string()));
        assert!(
            !comparison
                .missing
                .iter()
                .any(|line| line.contains("pci-b0s4") && line.contains("OSPF"))
        );
    }
}
