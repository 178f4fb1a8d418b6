//! Bringing one link of one namespace in line with the plan: each helper reads the link, changes
//! only what differs, and records every change it makes, so that applying the same plan twice
//! changes nothing the second time.

use std::collections::BTreeSet;
use std::fmt;

use hna_rib::PlaneError;
use hna_rib::linux::NamespaceHandle;
use hna_rib::linux::links::{LinkState, Links, VxlanDevice};
use ipnet::IpNet;
use tracing::info;

use super::DataplaneReport;
use super::plan::Bridge;

/// Alias (`IFLA_IFALIAS`) of every link the daemon creates, and of the loopback of every
/// namespace it creates: it tells the daemon's own objects from others', also after a restart.
pub const OWNER_ALIAS: &str = "hna-routed";

/// Why one object of the plan was not applied.
#[derive(Debug)]
pub(crate) enum StepError {
    Plane(PlaneError),
    /// A link of the name exists and is not one the daemon may change or replace.
    Conflict(String),
    Io(std::io::Error),
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Plane(error) => error.fmt(f),
            StepError::Conflict(message) => f.write_str(message),
            StepError::Io(error) => error.fmt(f),
        }
    }
}

impl From<PlaneError> for StepError {
    fn from(error: PlaneError) -> StepError {
        StepError::Plane(error)
    }
}

impl From<std::io::Error> for StepError {
    fn from(error: std::io::Error) -> StepError {
        StepError::Io(error)
    }
}

pub(crate) type Step<T = ()> = Result<T, StepError>;

/// Returns whether the daemon created `link`.
pub(crate) fn is_ours(link: &LinkState) -> bool {
    link.alias.as_deref() == Some(OWNER_ALIAS)
}

/// Records one change in the report and the log.
pub(crate) fn changed(report: &mut DataplaneReport, namespace: &str, what: String) {
    info!(namespace, change = %what, "dataplane changed");
    report.changes.push(format!("{what} in {namespace}"));
}

/// Records the creation or deletion (`action`) of a namespace in the report and the log.
pub(crate) fn namespace_changed(report: &mut DataplaneReport, action: &str, namespace: &str) {
    info!(namespace, action, "tenant namespace changed");
    report
        .changes
        .push(format!("{action} namespace {namespace}"));
}

/// Makes bridge `name` exist with the plan's MAC and MTU.
pub(crate) fn bridge(
    links: &mut Links,
    namespace: &str,
    name: &str,
    bridge: &Bridge,
    report: &mut DataplaneReport,
) -> Step {
    let Some(link) = links.link(name)? else {
        links.create_bridge(name, bridge.mac, bridge.mtu)?;
        links.set_alias(name, OWNER_ALIAS)?;
        changed(report, namespace, format!("created bridge {name}"));
        return Ok(());
    };
    if link.kind.as_deref() != Some("bridge") {
        return Err(StepError::Conflict(format!(
            "link {name} exists and is not a bridge; delete or rename it"
        )));
    }
    if let Some(mac) = bridge.mac.filter(|mac| link.mac != Some(*mac)) {
        links.set_mac(name, mac)?;
        changed(report, namespace, format!("set MAC {mac} on {name}"));
    }
    mtu(links, namespace, &link, bridge.mtu, report)
}

/// Returns whether the existing `link` is the VXLAN device `device` describes. The kernel
/// cannot change a VXLAN device's VNI, address or port, so a device that differs is replaced.
fn vxlan_matches(link: &LinkState, device: &VxlanDevice) -> bool {
    link.kind.as_deref() == Some("vxlan")
        && link.vni == Some(device.vni)
        && link.vxlan_local == Some(device.local)
        && link.vxlan_port == Some(device.port)
        && link.vxlan_learning == Some(device.learning)
}

/// Makes VXLAN device `device` exist in the namespace of `tenant`, or in the underlay when
/// `tenant` is `None`. A new device is created in the underlay, so that its UDP socket stays
/// there, and then moved into the tenant.
pub(crate) fn vxlan(
    underlay: &mut Links,
    mut tenant: Option<&mut Links>,
    namespace: &str,
    device: &VxlanDevice,
    report: &mut DataplaneReport,
) -> Step {
    let name = device.name.as_str();
    let existing = match tenant.as_deref_mut() {
        Some(tenant) => tenant.link(name)?,
        None => underlay.link(name)?,
    };
    match existing {
        Some(link) if vxlan_matches(&link, device) => {
            let target = match tenant {
                Some(tenant) => tenant,
                None => underlay,
            };
            return mtu(target, namespace, &link, device.mtu, report);
        }
        Some(link) if is_ours(&link) => {
            match tenant.as_deref_mut() {
                Some(tenant) => tenant.delete(name)?,
                None => underlay.delete(name)?,
            }
            changed(
                report,
                namespace,
                format!("deleted VXLAN device {name} whose settings changed"),
            );
        }
        Some(_) => {
            return Err(StepError::Conflict(format!(
                "link {name} exists and is not the configured VXLAN device; delete or rename it"
            )));
        }
        None => {}
    }

    if let Some(tenant) = tenant {
        // A device of an earlier run that was created but not moved.
        if let Some(stray) = underlay.link(name)? {
            if !is_ours(&stray) {
                return Err(StepError::Conflict(format!(
                    "link {name} exists in the underlay and was not created by hna-routed; delete or rename it"
                )));
            }
            underlay.delete(name)?;
        }
        underlay.create_vxlan(device)?;
        underlay.set_alias(name, OWNER_ALIAS)?;
        underlay.move_to(name, tenant.namespace())?;
    } else {
        underlay.create_vxlan(device)?;
        underlay.set_alias(name, OWNER_ALIAS)?;
    }
    changed(
        report,
        namespace,
        format!("created VXLAN device {name} with VNI {}", device.vni),
    );
    Ok(())
}

/// Finds port `name`, moving it from the underlay into `tenant` when it is still there, and
/// sets its MTU. Returns `false` when the port exists in neither namespace.
pub(crate) fn port(
    underlay: &mut Links,
    tenant: Option<&mut Links>,
    namespace: &str,
    name: &str,
    wanted_mtu: Option<u32>,
    report: &mut DataplaneReport,
) -> Step<bool> {
    let (target, link) = match tenant {
        Some(tenant) => match tenant.link(name)? {
            Some(link) => (tenant, link),
            None => {
                if underlay.link(name)?.is_none() {
                    return Ok(false);
                }
                underlay.move_to(name, tenant.namespace())?;
                changed(
                    report,
                    namespace,
                    format!("moved port {name} in from the underlay"),
                );
                let link = tenant
                    .link(name)?
                    .ok_or_else(|| PlaneError::LinkNotFound(name.to_string()))?;
                (tenant, link)
            }
        },
        None => match underlay.link(name)? {
            Some(link) => (underlay, link),
            None => return Ok(false),
        },
    };
    mtu(target, namespace, &link, wanted_mtu, report)?;
    Ok(true)
}

/// Sets the MTU of `link` when the plan gives one that differs.
fn mtu(
    links: &mut Links,
    namespace: &str,
    link: &LinkState,
    wanted: Option<u32>,
    report: &mut DataplaneReport,
) -> Step {
    if let Some(wanted) = wanted.filter(|wanted| link.mtu != Some(*wanted)) {
        links.set_mtu(&link.name, wanted)?;
        changed(
            report,
            namespace,
            format!("set MTU {wanted} on {}", link.name),
        );
    }
    Ok(())
}

/// Makes `name` a port of `bridge` with the learning setting given. With `bridge` `None`, the
/// port leaves its bridge only when that is one of `managed` (the daemon's bridges of this
/// namespace): a port of another bridge is someone else's.
pub(crate) fn membership(
    links: &mut Links,
    namespace: &str,
    name: &str,
    bridge: Option<&str>,
    learning: Option<bool>,
    managed: &BTreeSet<String>,
    report: &mut DataplaneReport,
) -> Step {
    let link = links
        .link(name)?
        .ok_or_else(|| PlaneError::LinkNotFound(name.to_string()))?;
    let current = match link.master {
        Some(index) => links
            .links()?
            .into_iter()
            .find(|candidate| candidate.index == index)
            .map(|master| master.name),
        None => None,
    };
    match bridge {
        Some(bridge) if current.as_deref() != Some(bridge) => {
            links.set_master(name, Some(bridge))?;
            changed(report, namespace, format!("made {name} a port of {bridge}"));
        }
        None if current
            .as_ref()
            .is_some_and(|current| managed.contains(current)) =>
        {
            links.set_master(name, None)?;
            changed(report, namespace, format!("took {name} out of its bridge"));
            return Ok(());
        }
        _ => {}
    }
    if bridge.is_none() {
        return Ok(());
    }
    if let Some(learning) = learning {
        // A port that just joined the bridge has the kernel's default learning (on).
        let current = links.link(name)?.and_then(|link| link.port_learning);
        if current != Some(learning) {
            links.set_learning(name, learning)?;
            changed(
                report,
                namespace,
                format!(
                    "turned learning {} on port {name}",
                    if learning { "on" } else { "off" }
                ),
            );
        }
    }
    Ok(())
}

/// Sets link `name` administratively up when it is not.
pub(crate) fn up(
    links: &mut Links,
    namespace: &str,
    name: &str,
    report: &mut DataplaneReport,
) -> Step {
    let link = links
        .link(name)?
        .ok_or_else(|| PlaneError::LinkNotFound(name.to_string()))?;
    if !link.admin_up {
        links.set_up(name, true)?;
        changed(report, namespace, format!("set {name} up"));
    }
    Ok(())
}

/// Gives link `name` the addresses `wanted`, and removes those of `previous` (the addresses
/// the daemon gave it before) that are no longer wanted. `held` is the namespace's address
/// dump. Addresses that others gave the link stay.
pub(crate) fn addresses(
    links: &mut Links,
    namespace: &str,
    name: &str,
    wanted: &[IpNet],
    previous: &BTreeSet<IpNet>,
    held: &[(u32, IpNet)],
    report: &mut DataplaneReport,
) -> Step {
    let Some(link) = links.link(name)? else {
        return Ok(());
    };
    let current: BTreeSet<IpNet> = held
        .iter()
        .filter(|(index, _)| *index == link.index)
        .map(|(_, address)| *address)
        .collect();
    for address in previous
        .iter()
        .filter(|address| !wanted.contains(address) && current.contains(address))
    {
        links.remove_address(name, *address)?;
        changed(
            report,
            namespace,
            format!("removed address {address} from {name}"),
        );
    }
    for address in wanted.iter().filter(|address| !current.contains(address)) {
        links.add_address(name, *address)?;
        changed(
            report,
            namespace,
            format!("added address {address} to {name}"),
        );
    }
    Ok(())
}

/// Writes sysctl `path` (under `/proc/sys/`) in `namespace` when its value differs from `value`;
/// returns whether it wrote.
pub(crate) fn sysctl(namespace: &NamespaceHandle, path: &str, value: &str) -> Step<bool> {
    let file = format!("/proc/sys/{path}");
    let value = value.to_string();
    // /proc/sys/net shows the network namespace of the thread that opens the file.
    let written = namespace.run(move || -> std::io::Result<bool> {
        if std::fs::read_to_string(&file)?.trim() == value {
            return Ok(false);
        }
        std::fs::write(&file, &value)?;
        Ok(true)
    })??;
    Ok(written)
}
