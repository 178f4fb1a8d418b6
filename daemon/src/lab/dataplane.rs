//! Building the lab's Linux plane: namespaces for routers and pods, veth cables named as the
//! configurations name the interfaces, loopbacks, and, for routers whose backend only routes
//! ([`Dataplane::Lab`]), addresses, bridges, VXLAN devices and one namespace per tenant.
//!
//! Tenants without VRF devices: each L3VRF of a router is the namespace `ROUTER-L3VRF`, holding
//! its bridges (with their gateway addresses), its pods' ports and its VXLAN devices. A VXLAN
//! device is created in the router namespace and then moved, so its UDP socket stays in the
//! underlay while its packets enter the tenant.

use std::collections::BTreeMap;

use tracing::{info, warn};

use super::backend::{Dataplane, Names};
use super::cluster::{Cluster, Router};
use super::error::LabError;
use super::shell::{self, ip, sysctl};
use super::state::Session;
use crate::config::{Config, Interface, InterfaceKind};

/// The IANA VXLAN port (RFC 7348 section 5).
const VXLAN_PORT: &str = "4789";

/// Settings of every router namespace, as on a routing host: forwarding on, no reverse-path
/// filter (ECMP and VXLAN paths are asymmetric), and ECMP hashing on layer 4 so that VXLAN
/// flows with different UDP source ports spread over the uplinks.
const ROUTER_SYSCTLS: &[&str] = &[
    "net.ipv4.ip_forward=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.fib_multipath_hash_policy=1",
];

const TENANT_SYSCTLS: &[&str] = &[
    "net.ipv4.ip_forward=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
];

/// A pod retries ARP every 100 ms instead of every second, so a probe sent while its gateway
/// or a neighbor is still unresolved does not wait a full second.
const POD_SYSCTLS: &[&str] = &["net.ipv4.neigh.eth0.retrans_time_ms=100"];

/// Prefix of the bridge the lab gives an L3VNI's VXLAN device. The bridge is the L3VNI's SVI,
/// whose MAC is the router MAC of symmetric IRB. `l3br` and eight digits fit in 15 bytes.
pub const L3VNI_BRIDGE_PREFIX: &str = "l3br";

/// Returns every namespace the lab or the daemons would create, for a free-name check.
pub fn planned_namespaces(cluster: &Cluster, names: &Names) -> Vec<String> {
    let mut planned = Vec::new();
    for router in &cluster.routers {
        planned.push(names.router(&router.name));
        for l3vrf in router.config.l3vrfs.keys() {
            planned.push(names.tenant(&router.name, l3vrf));
        }
    }
    planned.extend(cluster.pods.iter().map(|pod| names.pod(&pod.name)));
    planned
}

/// Builds the whole plane, recording each namespace in `session` as it is made.
pub fn build(
    cluster: &Cluster,
    names: &Names,
    modes: &BTreeMap<String, Dataplane>,
    session: &mut Session,
) -> Result<(), LabError> {
    for name in planned_namespaces(cluster, names) {
        if shell::netns_exists(&name) {
            return Err(LabError::ForeignNamespace { name });
        }
    }
    for router in &cluster.routers {
        let namespace = names.router(&router.name);
        create_namespace(session, &namespace)?;
        sysctl(&namespace, ROUTER_SYSCTLS)?;
        create_loopbacks(router, &namespace, modes[&router.name])?;
    }
    for link in &cluster.links {
        let [a, b] = &link.ends;
        let (a_ns, b_ns) = (names.router(&a.router), names.router(&b.router));
        ip(
            &a_ns,
            &[
                "link",
                "add",
                &a.interface,
                "type",
                "veth",
                "peer",
                "name",
                &b.interface,
                "netns",
                &b_ns,
            ],
        )?;
        for (end, namespace) in [(a, &a_ns), (b, &b_ns)] {
            let router = cluster.router(&end.router).expect("validated link end");
            if modes[&end.router] == Dataplane::Lab {
                configure_interface(
                    namespace,
                    &end.interface,
                    &router.config.interfaces[&end.interface],
                )?;
            }
            ip(namespace, &["link", "set", &end.interface, "up"])?;
        }
    }
    for router in &cluster.routers {
        warn_uncabled(cluster, router);
        if modes[&router.name] == Dataplane::Lab {
            build_tenants(router, names, session)?;
        }
    }
    for pod in &cluster.pods {
        let router = cluster.router(&pod.router).expect("validated pod router");
        let namespace = names.pod(&pod.name);
        create_namespace(session, &namespace)?;
        let port_namespace = match (modes[&pod.router], &pod.l3vrf) {
            (Dataplane::Lab, Some(l3vrf)) => names.tenant(&router.name, l3vrf),
            _ => names.router(&router.name),
        };
        ip(
            &namespace,
            &[
                "link",
                "add",
                "eth0",
                "type",
                "veth",
                "peer",
                "name",
                &pod.port,
                "netns",
                &port_namespace,
            ],
        )?;
        if modes[&pod.router] == Dataplane::Lab {
            ip(
                &port_namespace,
                &["link", "set", &pod.port, "master", &pod.bridge],
            )?;
        }
        ip(&port_namespace, &["link", "set", &pod.port, "up"])?;
        ip(
            &namespace,
            &["addr", "add", &pod.address.to_string(), "dev", "eth0"],
        )?;
        ip(&namespace, &["link", "set", "eth0", "up"])?;
        ip(
            &namespace,
            &["route", "add", "default", "via", &pod.gateway.to_string()],
        )?;
        sysctl(&namespace, POD_SYSCTLS)?;
    }
    info!(
        namespaces = session.state.namespaces.len(),
        links = cluster.links.len(),
        pods = cluster.pods.len(),
        "dataplane built"
    );
    Ok(())
}

fn create_namespace(session: &mut Session, name: &str) -> Result<(), LabError> {
    shell::run("ip", &["netns", "add", name])?;
    session.update(|state| state.namespaces.push(name.to_string()))?;
    ip(name, &["link", "set", "lo", "up"])?;
    Ok(())
}

/// Sets the MTU and addresses the configuration gives an interface.
fn configure_interface(namespace: &str, name: &str, interface: &Interface) -> Result<(), LabError> {
    if let Some(mtu) = interface.mtu {
        ip(
            namespace,
            &["link", "set", "dev", name, "mtu", &mtu.to_string()],
        )?;
    }
    for address in &interface.ipv4_addresses {
        ip(
            namespace,
            &["addr", "add", &address.to_string(), "dev", name],
        )?;
    }
    Ok(())
}

/// Creates the loopbacks as `ifb` devices: always up with carrier, sending nothing. (This kernel
/// has no `dummy` driver; a router's `lo` cannot take another name.)
fn create_loopbacks(router: &Router, namespace: &str, mode: Dataplane) -> Result<(), LabError> {
    for (name, interface) in router
        .config
        .interfaces
        .iter()
        .filter(|(_, interface)| interface.kind == InterfaceKind::Loopback)
    {
        ip(namespace, &["link", "add", name, "type", "ifb"])?;
        if mode == Dataplane::Lab {
            configure_interface(namespace, name, interface)?;
        }
        ip(namespace, &["link", "set", name, "up"])?;
    }
    Ok(())
}

fn warn_uncabled(cluster: &Cluster, router: &Router) {
    for (name, interface) in &router.config.interfaces {
        let port = matches!(
            interface.kind,
            InterfaceKind::Physical | InterfaceKind::Fpvhost | InterfaceKind::Infrastructure
        );
        let cabled = cluster
            .links_of(&router.name)
            .any(|(end, _)| &end.interface == name)
            || cluster
                .pods
                .iter()
                .any(|pod| pod.router == router.name && &pod.port == name);
        if port && !cabled {
            warn!(router = %router.name, interface = %name, "interface is neither cabled nor a pod port; the lab does not create it");
        }
    }
}

/// Returns the bridge that has `member` as a port.
fn bridge_of<'c>(config: &'c Config, member: &str) -> Option<(&'c String, &'c Interface)> {
    config.interfaces.iter().find(|(_, interface)| {
        interface
            .bridge
            .as_ref()
            .is_some_and(|bridge| bridge.members.iter().any(|port| port.name == member))
    })
}

/// Returns the `learning` setting of `member` on its bridge.
fn member_learning(config: &Config, member: &str) -> Option<bool> {
    let (_, bridge) = bridge_of(config, member)?;
    bridge
        .bridge
        .as_ref()?
        .members
        .iter()
        .find(|port| port.name == member)?
        .learning
}

/// Builds tenant namespaces, bridges and VXLAN devices of a router whose backend only routes.
fn build_tenants(router: &Router, names: &Names, session: &mut Session) -> Result<(), LabError> {
    let config = &router.config;
    let underlay = names.router(&router.name);
    let namespace_of = |l3vrf: Option<&String>| {
        l3vrf.map_or_else(
            || underlay.clone(),
            |l3vrf| names.tenant(&router.name, l3vrf),
        )
    };

    for l3vrf in config.l3vrfs.keys() {
        let namespace = names.tenant(&router.name, l3vrf);
        create_namespace(session, &namespace)?;
        sysctl(&namespace, TENANT_SYSCTLS)?;
    }

    for (name, interface) in config
        .interfaces
        .iter()
        .filter(|(_, interface)| interface.kind == InterfaceKind::Bridge)
    {
        let namespace = namespace_of(interface.l3vrf.as_ref());
        create_bridge(
            &namespace,
            name,
            interface.mac_address.map(|mac| mac.to_string()).as_deref(),
        )?;
        configure_interface(&namespace, name, interface)?;
        if let Some(settings) = &interface.bridge {
            if settings.arp_accept_gratuitous.as_deref() == Some("always") {
                sysctl(&namespace, &[&format!("net.ipv4.conf.{name}.arp_accept=1")])?;
            }
            if let Some(time) = settings.ipv4_base_reachable_time_ms {
                sysctl(
                    &namespace,
                    &[&format!(
                        "net.ipv4.neigh.{name}.base_reachable_time_ms={time}"
                    )],
                )?;
            }
        }
        ip(&namespace, &["link", "set", name, "up"])?;
    }

    for (name, interface) in config
        .interfaces
        .iter()
        .filter(|(_, interface)| interface.kind == InterfaceKind::Vxlan)
    {
        let vxlan = interface.vxlan.clone().unwrap_or_default();
        let Some(vni) = vxlan.vni else {
            return Err(LabError::Usage(format!(
                "{}: VXLAN interface {name} has no vni",
                router.name
            )));
        };
        let l3vrf_of_vni = config
            .l3vrfs
            .iter()
            .find(|(_, vrf)| vrf.l3vni == Some(vni))
            .map(|(name, _)| name);
        let bridge = bridge_of(config, name);
        let l3vrf = bridge.map_or(l3vrf_of_vni, |(_, bridge)| bridge.l3vrf.as_ref());
        let namespace = namespace_of(l3vrf);

        let vni_text = vni.to_string();
        let mut args = vec!["link", "add", name.as_str()];
        let mtu = interface.mtu.map(|mtu| mtu.to_string());
        if let Some(mtu) = &mtu {
            args.extend(["mtu", mtu.as_str()]);
        }
        args.extend(["type", "vxlan", "id", &vni_text, "dstport", VXLAN_PORT]);
        // `link-interface` is not passed as `dev`: the kernel would then send the encapsulated
        // packets out of the loopback device, which has no path to the fabric.
        let local = vxlan.local.map(|address| address.to_string());
        if let Some(local) = &local {
            args.extend(["local", local.as_str()]);
        }
        if vxlan.learning == Some(false) {
            args.push("nolearning");
        }
        ip(&underlay, &args)?;
        if namespace != underlay {
            ip(&underlay, &["link", "set", name, "netns", &namespace])?;
        }

        let master = match bridge {
            Some((bridge_name, _)) => bridge_name.clone(),
            None if l3vrf_of_vni.is_some() => {
                let svi = format!("{L3VNI_BRIDGE_PREFIX}{vni}");
                let mac = vxlan.local.map(|address| {
                    let [a, b, c, d] = address.octets();
                    format!("02:00:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
                });
                create_bridge(&namespace, &svi, mac.as_deref())?;
                ip(&namespace, &["link", "set", &svi, "up"])?;
                svi
            }
            None => {
                ip(&namespace, &["link", "set", name, "up"])?;
                continue;
            }
        };
        ip(&namespace, &["link", "set", name, "master", &master])?;
        if member_learning(config, name) == Some(false) || bridge.is_none() {
            shell::bridge(&namespace, &["link", "set", "dev", name, "learning", "off"])?;
        }
        ip(&namespace, &["link", "set", name, "up"])?;
    }
    Ok(())
}

/// Creates a bridge without spanning tree (a lab bridge has no loops to break).
fn create_bridge(namespace: &str, name: &str, mac: Option<&str>) -> Result<(), LabError> {
    let mut args = vec!["link", "add", name];
    if let Some(mac) = mac {
        args.extend(["address", mac]);
    }
    args.extend(["type", "bridge", "stp_state", "0"]);
    ip(namespace, &args).map(|_| ())
}
