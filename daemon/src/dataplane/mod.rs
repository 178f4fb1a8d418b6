//! The Linux dataplane setup: the interface part of the configuration applied to the kernel,
//! from the daemon's own (underlay) namespace.
//!
//! - Physical interfaces and pods' ports are found by name; the daemon sets their MTU and
//!   addresses and brings them up. One that does not exist yet is reported and picked up at the
//!   next [`Dataplane::apply`] or [`Dataplane::link_appeared`].
//! - A loopback is a link of its name when one exists, else a new dummy device, else (on
//!   kernels without the dummy driver) the addresses go on `lo`. [`Dataplane::kernel_name`]
//!   returns the kernel's name of every configured interface.
//! - Each L3VRF is a network namespace `{prefix}{l3vrf}`. It contains the L3VRF's bridges, its
//!   pods' ports (moved in from the underlay) and the SVI bridge of its L3VNI, which carries the
//!   router MAC. It also contains its VXLAN devices, created in the underlay so that their UDP
//!   sockets stay there, then moved in. The forwarding plane is given the namespace of each VRF
//!   and the device of each L2VNI and L3VNI ([`PlaneBindings`]).
//!
//! Applying converges the kernel to the configuration and changes only what differs, so a
//! second apply of the same configuration changes nothing, and a reload touches only what the
//! new configuration changes. Links and namespaces the daemon creates carry the alias
//! [`OWNER_ALIAS`] (a namespace on its `lo`), so that [`Dataplane::teardown`] deletes exactly
//! those, also after a restart of the daemon.

mod bindings;
mod converge;
mod plan;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hna_rib::linux::links::Links;
use hna_rib::linux::{
    L3VniDevices, LEAK_LINK_ALIAS, NETNS_RUN_DIR, Namespace, create_namespace, delete_namespace,
};
use hna_rib::{MacAddr, PlaneError, Vni, VrfId};
use ipnet::IpNet;
use serde::Serialize;
use tracing::{info, warn};

pub use bindings::PlaneBindings;
pub use converge::OWNER_ALIAS;

use self::converge::{StepError, changed, is_ours};
use self::plan::{Plan, Scope, Tenant};
use crate::config::{Config, InterfaceKind};

/// Settings of the dataplane that do not come from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataplaneOptions {
    /// The underlay namespace, which contains the default VRF: [`Namespace::Current`] for the
    /// daemon, which runs in it.
    pub underlay: Namespace,
    /// Prefix of the tenant namespaces' names, so that several routers can share a machine
    /// (`hna1-` gives `hna1-vrf100`).
    pub namespace_prefix: String,
    /// This router's MAC for symmetric IRB, on every L3VNI bridge.
    pub router_mac: MacAddr,
}

impl DataplaneOptions {
    /// Returns options for a daemon running in its underlay namespace.
    pub fn new(namespace_prefix: &str, router_mac: MacAddr) -> DataplaneOptions {
        DataplaneOptions {
            underlay: Namespace::Current,
            namespace_prefix: namespace_prefix.to_string(),
            router_mac,
        }
    }
}

/// The outcome of one apply or teardown: the changes made and what could not be done.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DataplaneReport {
    /// Every kernel change made, in order, such as `created bridge br10000 in hna1-vrf100`.
    pub changes: Vec<String>,
    /// Configured interfaces that do not exist (yet).
    pub missing: Vec<MissingInterface>,
    /// Objects that could not be set up, with the reason.
    pub failures: Vec<Failure>,
}

impl DataplaneReport {
    /// Returns whether everything configured is in place.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.failures.is_empty()
    }

    fn fail(&mut self, object: &str, error: impl std::fmt::Display) {
        warn!(object, %error, "dataplane object not set up");
        self.failures.push(Failure {
            object: object.to_string(),
            error: error.to_string(),
        });
    }
}

/// A configured interface that the kernel does not have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MissingInterface {
    pub name: String,
    pub kind: InterfaceKind,
    /// Whether the interface must exist for the router to work (physical interfaces); pods'
    /// ports come and go with their pods.
    pub required: bool,
}

/// An object of the configuration that could not be set up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The interface, namespace or L3VRF concerned.
    pub object: String,
    pub error: String,
}

/// The location of a configured interface in the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InterfacePlace {
    /// The L3VRF whose namespace contains the interface; `None` for the underlay.
    pub l3vrf: Option<String>,
    /// The namespace's name; `None` for the underlay.
    pub namespace: Option<String>,
    /// The kernel's name of the interface, which differs for a loopback placed on `lo`.
    pub kernel_name: String,
}

/// Errors that stop an apply or a teardown as a whole; failures of single objects are in the
/// [`DataplaneReport`] instead.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    #[error("cannot open the underlay namespace {namespace:?}: {error}")]
    Underlay {
        namespace: Namespace,
        error: PlaneError,
    },
}

/// A tenant namespace the dataplane manages.
#[derive(Debug)]
struct TenantState {
    namespace: String,
    links: Links,
    /// Whether the daemon created the namespace, and so deletes it at teardown.
    owned: bool,
    /// The VRF the plane places in this namespace.
    vrf: Option<VrfId>,
    l3vni: Option<L3VniDevices>,
}

/// The dataplane setup. See the module documentation.
#[derive(Debug, Default)]
pub struct Dataplane {
    underlay: Option<(Namespace, Links)>,
    tenants: BTreeMap<String, TenantState>,
    /// The addresses the daemon gave each link, by (L3VRF, kernel name), so that a reload
    /// removes those no longer configured and leaves others' addresses alone.
    /// NOTE: kept in memory only, so an address removed from the configuration while the
    /// daemon was stopped stays on its link.
    addresses: BTreeMap<(Option<String>, String), BTreeSet<IpNet>>,
    /// Ports found in a tenant namespace because the configuration puts them there, by name,
    /// with their L3VRF: they go back to the underlay when the configuration no longer does.
    tenant_ports: BTreeMap<String, String>,
    /// L2VNIs bound in the plane.
    l2vnis: BTreeMap<Vni, (VrfId, String)>,
    /// Loopbacks placed on `lo` because the kernel has no dummy driver.
    loopbacks_on_lo: BTreeSet<String>,
    interfaces: BTreeMap<String, InterfacePlace>,
    pending: BTreeSet<String>,
    last: Option<(Config, DataplaneOptions)>,
}

impl Dataplane {
    /// Creates a dataplane that has set up nothing yet.
    pub fn new() -> Dataplane {
        Dataplane::default()
    }

    /// Converges the kernel to the interface part of `config`, and gives `plane` the namespace
    /// of each VRF and the device of each VNI. Failures of single objects are reported and do
    /// not stop the others.
    pub fn apply(
        &mut self,
        config: &Config,
        options: &DataplaneOptions,
        plane: &mut dyn PlaneBindings,
    ) -> Result<DataplaneReport, DataplaneError> {
        let plan = plan::plan(config, &options.namespace_prefix, options.router_mac);
        let mut report = DataplaneReport::default();
        for (object, problem) in &plan.problems {
            report.fail(object, problem);
        }
        self.open_underlay(&options.underlay)?;

        // Removals first: they free names, ports and VNIs that the additions may take.
        let gone: Vec<String> = self
            .tenants
            .iter()
            .filter(|(l3vrf, state)| {
                plan.tenants
                    .get(*l3vrf)
                    .is_none_or(|tenant| tenant.namespace != state.namespace)
            })
            .map(|(l3vrf, _)| l3vrf.clone())
            .collect();
        for l3vrf in gone {
            self.remove_tenant(&l3vrf, plane, &mut report);
        }
        for (l3vrf, tenant) in &plan.tenants {
            if self.tenants.contains_key(l3vrf) {
                self.clean_scope(Some(l3vrf), &tenant.scope, &BTreeSet::new(), &mut report);
            }
        }
        let loopbacks: BTreeSet<String> = plan.loopbacks.keys().cloned().collect();
        self.clean_scope(None, &plan.underlay, &loopbacks, &mut report);

        let mut places = BTreeMap::new();
        let mut pending = BTreeSet::new();
        let loopback_addresses = self.apply_loopbacks(&plan, &mut places, &mut report);
        self.build_scope(
            None,
            &plan.underlay,
            loopback_addresses,
            &mut places,
            &mut pending,
            &mut report,
        );
        for (l3vrf, tenant) in &plan.tenants {
            if let Err(error) = self.open_tenant(l3vrf, tenant, &mut report) {
                report.fail(&tenant.namespace, error);
                continue;
            }
            self.build_scope(
                Some(l3vrf),
                &tenant.scope,
                BTreeMap::new(),
                &mut places,
                &mut pending,
                &mut report,
            );
            self.bind_tenant(l3vrf, tenant, plane, &mut report);
        }
        self.bind_l2vnis(&plan, plane, &mut report);

        self.interfaces = places;
        self.pending = pending;
        self.last = Some((config.clone(), options.clone()));
        info!(
            changes = report.changes.len(),
            missing = report.missing.len(),
            failures = report.failures.len(),
            tenants = self.tenants.len(),
            "dataplane applied"
        );
        Ok(report)
    }

    /// Applies the last configuration again when `name` is an interface it is waiting for,
    /// such as a pod's port that appeared after the last apply. Returns `None` otherwise.
    pub fn link_appeared(
        &mut self,
        name: &str,
        plane: &mut dyn PlaneBindings,
    ) -> Result<Option<DataplaneReport>, DataplaneError> {
        if !self.pending.contains(name) {
            return Ok(None);
        }
        let Some((config, options)) = self.last.clone() else {
            return Ok(None);
        };
        info!(interface = name, "awaited interface appeared");
        self.apply(&config, &options, plane).map(Some)
    }

    /// Deletes what the daemon created: the tenant namespaces (after moving the pods' ports
    /// back to the underlay, since deleting a namespace deletes its veth ends) and the devices,
    /// and removes the addresses it added in the underlay. Interfaces others created stay.
    pub fn teardown(
        &mut self,
        plane: &mut dyn PlaneBindings,
    ) -> Result<DataplaneReport, DataplaneError> {
        let mut report = DataplaneReport::default();
        let l3vrfs: Vec<String> = self.tenants.keys().cloned().collect();
        for l3vrf in l3vrfs {
            self.remove_tenant(&l3vrf, plane, &mut report);
        }
        for (vni, _) in std::mem::take(&mut self.l2vnis) {
            plane.unbind_l2vni(vni);
        }
        if let Some((_, underlay)) = self.underlay.as_mut() {
            let addresses: Vec<(String, BTreeSet<IpNet>)> = std::mem::take(&mut self.addresses)
                .into_iter()
                .filter_map(|((l3vrf, name), previous)| l3vrf.is_none().then_some((name, previous)))
                .collect();
            match underlay.addresses() {
                Ok(held) => {
                    for (name, previous) in addresses {
                        if let Err(error) = converge::addresses(
                            underlay,
                            "the underlay",
                            &name,
                            &[],
                            &previous,
                            &held,
                            &mut report,
                        ) {
                            report.fail(&name, error);
                        }
                    }
                }
                Err(error) => report.fail("the underlay", error),
            }
            match underlay.links() {
                Ok(links) => {
                    for link in links.iter().filter(|link| is_ours(link)) {
                        match underlay.delete(&link.name) {
                            Ok(()) => changed(
                                &mut report,
                                "the underlay",
                                format!("deleted {}", link.name),
                            ),
                            Err(error) => report.fail(&link.name, error),
                        }
                    }
                }
                Err(error) => report.fail("the underlay", error),
            }
        }
        self.interfaces.clear();
        self.pending.clear();
        self.tenant_ports.clear();
        self.last = None;
        info!(
            changes = report.changes.len(),
            failures = report.failures.len(),
            "dataplane torn down"
        );
        Ok(report)
    }

    /// Returns where configured interface `name` is, after the last apply.
    pub fn interface(&self, name: &str) -> Option<&InterfacePlace> {
        self.interfaces.get(name)
    }

    /// Returns the kernel's name of configured interface `name` (`lo` for a loopback placed on
    /// it), after the last apply.
    pub fn kernel_name(&self, name: &str) -> Option<&str> {
        self.interfaces
            .get(name)
            .map(|place| place.kernel_name.as_str())
    }

    /// Returns every configured interface that exists, by configured name.
    pub fn interfaces(&self) -> &BTreeMap<String, InterfacePlace> {
        &self.interfaces
    }

    /// Returns the configured interfaces the last apply did not find.
    pub fn pending(&self) -> &BTreeSet<String> {
        &self.pending
    }

    /// Returns the namespace of the tenant `l3vrf`, when the dataplane manages it.
    pub fn tenant_namespace(&self, l3vrf: &str) -> Option<&str> {
        self.tenants
            .get(l3vrf)
            .map(|state| state.namespace.as_str())
    }

    fn open_underlay(&mut self, namespace: &Namespace) -> Result<(), DataplaneError> {
        if self
            .underlay
            .as_ref()
            .is_some_and(|(open, _)| open == namespace)
        {
            return Ok(());
        }
        let links = Links::open(namespace).map_err(|error| DataplaneError::Underlay {
            namespace: namespace.clone(),
            error,
        })?;
        self.underlay = Some((namespace.clone(), links));
        Ok(())
    }

    fn underlay_links(&mut self) -> &mut Links {
        &mut self
            .underlay
            .as_mut()
            .expect("apply opens the underlay first")
            .1
    }

    /// Places each loopback on a link of its name, a new dummy device, or `lo`, and returns
    /// the addresses of the loopbacks by kernel name.
    fn apply_loopbacks(
        &mut self,
        plan: &Plan,
        places: &mut BTreeMap<String, InterfacePlace>,
        report: &mut DataplaneReport,
    ) -> BTreeMap<String, Vec<IpNet>> {
        let mut wanted: BTreeMap<String, Vec<IpNet>> = BTreeMap::new();
        for (name, loopback) in &plan.loopbacks {
            let kernel_name = match self.place_loopback(name, report) {
                Ok(kernel_name) => kernel_name,
                Err(error) => {
                    report.fail(name, error);
                    continue;
                }
            };
            let underlay = self.underlay_links();
            let result = (|| -> Result<(), StepError> {
                // The MTU of `lo` serves every local address; it stays as it is.
                if let (Some(mtu), false) = (loopback.mtu, kernel_name == "lo") {
                    let link = underlay
                        .link(&kernel_name)?
                        .ok_or_else(|| PlaneError::LinkNotFound(kernel_name.clone()))?;
                    if link.mtu != Some(mtu) {
                        underlay.set_mtu(&kernel_name, mtu)?;
                        changed(
                            report,
                            "the underlay",
                            format!("set MTU {mtu} on {kernel_name}"),
                        );
                    }
                }
                converge::up(underlay, "the underlay", &kernel_name, report)
            })();
            if let Err(error) = result {
                report.fail(name, error);
            }
            wanted
                .entry(kernel_name.clone())
                .or_default()
                .extend(loopback.addresses.iter().copied());
            places.insert(
                name.clone(),
                InterfacePlace {
                    l3vrf: None,
                    namespace: None,
                    kernel_name,
                },
            );
        }
        wanted
    }

    fn place_loopback(
        &mut self,
        name: &str,
        report: &mut DataplaneReport,
    ) -> Result<String, StepError> {
        let on_lo = self.loopbacks_on_lo.contains(name);
        let underlay = self.underlay_links();
        if underlay.link(name)?.is_some() {
            return Ok(name.to_string());
        }
        if on_lo {
            return Ok("lo".to_string());
        }
        match underlay.create_dummy(name) {
            Ok(()) => {
                underlay.set_alias(name, OWNER_ALIAS)?;
                changed(
                    report,
                    "the underlay",
                    format!("created dummy loopback {name}"),
                );
                Ok(name.to_string())
            }
            Err(PlaneError::Kernel { errno, .. }) if errno == libc::EOPNOTSUPP => {
                info!(
                    loopback = name,
                    "the kernel has no dummy devices: the loopback's addresses go on lo"
                );
                self.loopbacks_on_lo.insert(name.to_string());
                Ok("lo".to_string())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Removes what an earlier apply made in one namespace and `scope` no longer has: the
    /// daemon's links and the ports that go back to the underlay. `keep` names other links
    /// of the daemon to leave (the dummy loopbacks of the underlay).
    fn clean_scope(
        &mut self,
        l3vrf: Option<&str>,
        scope: &Scope,
        keep: &BTreeSet<String>,
        report: &mut DataplaneReport,
    ) {
        let Some((_, underlay)) = self.underlay.as_mut() else {
            return;
        };
        let (links, namespace) = match l3vrf {
            Some(l3vrf) => match self.tenants.get_mut(l3vrf) {
                Some(state) => (&mut state.links, state.namespace.clone()),
                None => return,
            },
            None => (&mut *underlay, "the underlay".to_string()),
        };
        let held = match links.links() {
            Ok(held) => held,
            Err(error) => return report.fail(&namespace, error),
        };
        for link in held
            .iter()
            .filter(|link| is_ours(link) && link.name != "lo")
        {
            let wanted = scope.vxlans.contains_key(&link.name)
                || scope.bridges.contains_key(&link.name)
                || keep.contains(&link.name);
            if wanted {
                continue;
            }
            match links.delete(&link.name) {
                Ok(()) => changed(report, &namespace, format!("deleted {}", link.name)),
                Err(error) => report.fail(&link.name, error),
            }
        }

        let Some(l3vrf) = l3vrf else { return };
        let leaving: Vec<String> = self
            .tenant_ports
            .iter()
            .filter(|(port, tenant)| tenant.as_str() == l3vrf && !scope.ports.contains_key(*port))
            .map(|(port, _)| port.clone())
            .collect();
        let state = self.tenants.get_mut(l3vrf).expect("checked above");
        let underlay = &mut self.underlay.as_mut().expect("checked above").1;
        for port in leaving {
            self.tenant_ports.remove(&port);
            if let Err(error) =
                move_back(&mut state.links, underlay, &state.namespace, &port, report)
            {
                report.fail(&port, error);
            }
        }
    }

    /// Creates the links of `scope` in its namespace and applies their settings, with the
    /// addresses of `scope` and `more_addresses` (by kernel name).
    fn build_scope(
        &mut self,
        l3vrf: Option<&str>,
        scope: &Scope,
        more_addresses: BTreeMap<String, Vec<IpNet>>,
        places: &mut BTreeMap<String, InterfacePlace>,
        pending: &mut BTreeSet<String>,
        report: &mut DataplaneReport,
    ) {
        let underlay = &mut self
            .underlay
            .as_mut()
            .expect("apply opens the underlay first")
            .1;
        let (mut tenant, namespace) = match l3vrf {
            Some(l3vrf) => {
                let state = self
                    .tenants
                    .get_mut(l3vrf)
                    .expect("apply opens the tenant first");
                (Some(&mut state.links), state.namespace.clone())
            }
            None => (None, "the underlay".to_string()),
        };
        let mut present: BTreeSet<String> = BTreeSet::new();

        for (name, vxlan) in &scope.vxlans {
            match converge::vxlan(
                underlay,
                tenant.as_deref_mut(),
                &namespace,
                &vxlan.device,
                report,
            ) {
                Ok(()) => {
                    present.insert(name.clone());
                }
                Err(error) => report.fail(name, error),
            }
        }
        for (name, port) in &scope.ports {
            match converge::port(
                underlay,
                tenant.as_deref_mut(),
                &namespace,
                name,
                port.mtu,
                report,
            ) {
                Ok(true) => {
                    present.insert(name.clone());
                    if let Some(l3vrf) = l3vrf {
                        self.tenant_ports.insert(name.clone(), l3vrf.to_string());
                    }
                }
                Ok(false) => {
                    let required = port.kind == InterfaceKind::Physical;
                    if required {
                        warn!(interface = %name, "configured physical interface not found");
                    } else {
                        info!(interface = %name, "configured port not found yet");
                    }
                    report.missing.push(MissingInterface {
                        name: name.clone(),
                        kind: port.kind,
                        required,
                    });
                    pending.insert(name.clone());
                }
                Err(error) => report.fail(name, error),
            }
        }

        let links: &mut Links = match tenant {
            Some(tenant) => tenant,
            None => underlay,
        };
        for (name, bridge) in &scope.bridges {
            let result = converge::bridge(links, &namespace, name, bridge, report).and_then(|()| {
                for (path, value) in &bridge.sysctls {
                    if converge::sysctl(links.namespace(), path, value)? {
                        changed(report, &namespace, format!("set sysctl {path} to {value}"));
                    }
                }
                Ok(())
            });
            match result {
                Ok(()) => {
                    present.insert(name.clone());
                }
                Err(error) => report.fail(name, error),
            }
        }

        let managed: BTreeSet<String> = scope.bridges.keys().cloned().collect();
        let memberships = scope
            .vxlans
            .iter()
            .map(|(name, vxlan)| (name, vxlan.master.as_deref(), vxlan.port_learning))
            .chain(
                scope
                    .ports
                    .iter()
                    .map(|(name, port)| (name, port.master.as_deref(), port.learning)),
            );
        for (name, master, learning) in memberships {
            let bridge_ready = master.is_none_or(|master| present.contains(master));
            if !present.contains(name) || !bridge_ready {
                continue;
            }
            if let Err(error) =
                converge::membership(links, &namespace, name, master, learning, &managed, report)
            {
                report.fail(name, error);
            }
        }

        let mut wanted = more_addresses;
        for (name, addresses) in scope
            .bridges
            .iter()
            .map(|(name, bridge)| (name, &bridge.addresses))
            .chain(
                scope
                    .ports
                    .iter()
                    .map(|(name, port)| (name, &port.addresses)),
            )
        {
            if present.contains(name) {
                wanted
                    .entry(name.clone())
                    .or_default()
                    .extend(addresses.iter().copied());
            }
        }
        for name in &present {
            if let Err(error) = converge::up(links, &namespace, name, report) {
                report.fail(name, error);
            }
            places.insert(
                name.clone(),
                InterfacePlace {
                    l3vrf: l3vrf.map(str::to_string),
                    namespace: l3vrf.map(|_| namespace.clone()),
                    kernel_name: name.clone(),
                },
            );
        }
        self.sync_addresses(l3vrf, &wanted, report);
    }

    /// Gives the links of one namespace the addresses `wanted` (by kernel name), and removes
    /// those the daemon gave before and no longer wants, also from links no longer configured.
    fn sync_addresses(
        &mut self,
        l3vrf: Option<&str>,
        wanted: &BTreeMap<String, Vec<IpNet>>,
        report: &mut DataplaneReport,
    ) {
        let scope_key = l3vrf.map(str::to_string);
        let (links, namespace) = match l3vrf {
            Some(l3vrf) => match self.tenants.get_mut(l3vrf) {
                Some(state) => (&mut state.links, state.namespace.clone()),
                None => return,
            },
            None => (
                &mut self
                    .underlay
                    .as_mut()
                    .expect("apply opens the underlay first")
                    .1,
                "the underlay".to_string(),
            ),
        };
        let held = match links.addresses() {
            Ok(held) => held,
            Err(error) => return report.fail(&namespace, error),
        };
        let recorded: Vec<String> = self
            .addresses
            .keys()
            .filter(|(key, _)| *key == scope_key)
            .map(|(_, name)| name.clone())
            .collect();
        for name in recorded.iter().filter(|name| !wanted.contains_key(*name)) {
            let previous = self
                .addresses
                .remove(&(scope_key.clone(), name.clone()))
                .unwrap_or_default();
            if let Err(error) =
                converge::addresses(links, &namespace, name, &[], &previous, &held, report)
            {
                report.fail(name, error);
            }
        }
        for (name, addresses) in wanted {
            let key = (scope_key.clone(), name.clone());
            let previous = self.addresses.get(&key).cloned().unwrap_or_default();
            match converge::addresses(links, &namespace, name, addresses, &previous, &held, report)
            {
                Ok(()) => {
                    self.addresses
                        .insert(key, addresses.iter().copied().collect());
                }
                Err(error) => report.fail(name, error),
            }
        }
    }

    /// Opens the namespace of `l3vrf`, creating it when it does not exist, with `lo` up,
    /// forwarding on and reverse-path filtering off: tenant traffic arrives over VXLAN, pods'
    /// ports and leak links, and leaves by other ones.
    fn open_tenant(
        &mut self,
        l3vrf: &str,
        tenant: &Tenant,
        report: &mut DataplaneReport,
    ) -> Result<(), StepError> {
        if !self.tenants.contains_key(l3vrf) {
            let name = &tenant.namespace;
            let exists = Path::new(NETNS_RUN_DIR).join(name).exists();
            let namespace = if exists {
                Namespace::named(name)
            } else {
                create_namespace(name)?
            };
            let mut links = Links::open(&namespace)?;
            if !exists {
                links.set_alias("lo", OWNER_ALIAS)?;
                converge::namespace_changed(report, "created", name);
            }
            let owned = links.link("lo")?.is_some_and(|lo| is_ours(&lo));
            self.tenants.insert(
                l3vrf.to_string(),
                TenantState {
                    namespace: name.clone(),
                    links,
                    owned,
                    vrf: None,
                    l3vni: None,
                },
            );
        }
        let state = self.tenants.get_mut(l3vrf).expect("inserted above");
        converge::up(&mut state.links, &state.namespace, "lo", report)?;
        for (path, value) in [
            ("net/ipv4/ip_forward", "1"),
            ("net/ipv4/conf/all/rp_filter", "0"),
            ("net/ipv4/conf/default/rp_filter", "0"),
        ] {
            if converge::sysctl(state.links.namespace(), path, value)? {
                changed(
                    report,
                    &state.namespace,
                    format!("set sysctl {path} to {value}"),
                );
            }
        }
        Ok(())
    }

    /// Gives the plane the namespace and the L3VNI devices of the tenant's VRF.
    fn bind_tenant(
        &mut self,
        l3vrf: &str,
        tenant: &Tenant,
        plane: &mut dyn PlaneBindings,
        report: &mut DataplaneReport,
    ) {
        let Some(state) = self.tenants.get_mut(l3vrf) else {
            return;
        };
        let vrf = tenant.table.map(VrfId);
        if state.vrf != vrf {
            if let Some(old) = state.vrf.take() {
                plane.remove_vrf(old);
                state.l3vni = None;
            }
            if let Some(vrf) = vrf {
                match plane.add_vrf(vrf, Namespace::named(&state.namespace)) {
                    Ok(()) => {
                        info!(l3vrf, %vrf, namespace = %state.namespace, "VRF placed in its namespace");
                        state.vrf = Some(vrf);
                    }
                    Err(error) => return report.fail(l3vrf, error),
                }
            }
        }
        let Some(vrf) = state.vrf else { return };
        let devices = tenant.l3vni.as_ref().map(|l3vni| L3VniDevices {
            vni: l3vni.vni,
            vxlan: l3vni.vxlan.clone(),
            svi: l3vni.svi.clone(),
        });
        if state.l3vni == devices {
            return;
        }
        match &devices {
            Some(devices) => {
                if let Err(error) = plane.bind_l3vni(vrf, devices.clone()) {
                    return report.fail(l3vrf, error);
                }
                info!(l3vrf, vni = %devices.vni, svi = %devices.svi, "L3VNI bound");
            }
            None => plane.unbind_l3vni(vrf),
        }
        state.l3vni = devices;
    }

    /// Binds every L2VNI of the plan to its VXLAN device and VRF, and unbinds the others.
    fn bind_l2vnis(
        &mut self,
        plan: &Plan,
        plane: &mut dyn PlaneBindings,
        report: &mut DataplaneReport,
    ) {
        let mut wanted: BTreeMap<Vni, (VrfId, String)> = BTreeMap::new();
        let scopes = std::iter::once((VrfId::DEFAULT, &plan.underlay)).chain(
            plan.tenants.iter().filter_map(|(l3vrf, tenant)| {
                let vrf = self.tenants.get(l3vrf)?.vrf?;
                Some((vrf, &tenant.scope))
            }),
        );
        for (vrf, scope) in scopes {
            for (name, vxlan) in scope.vxlans.iter().filter(|(_, vxlan)| vxlan.l2vni) {
                wanted.insert(vxlan.device.vni, (vrf, name.clone()));
            }
        }
        for vni in self
            .l2vnis
            .keys()
            .filter(|vni| !wanted.contains_key(vni))
            .copied()
            .collect::<Vec<_>>()
        {
            plane.unbind_l2vni(vni);
            self.l2vnis.remove(&vni);
        }
        for (vni, (vrf, vxlan)) in wanted {
            if self.l2vnis.get(&vni) == Some(&(vrf, vxlan.clone())) {
                continue;
            }
            match plane.bind_l2vni(vni, vrf, &vxlan) {
                Ok(()) => {
                    info!(%vni, %vrf, vxlan = %vxlan, "L2VNI bound");
                    self.l2vnis.insert(vni, (vrf, vxlan));
                }
                Err(error) => report.fail(&vxlan, error),
            }
        }
    }

    /// Takes a tenant down: its VRF leaves the plane, foreign ports go back to the underlay, the
    /// daemon's links are deleted, and so is the namespace when the daemon created it.
    fn remove_tenant(
        &mut self,
        l3vrf: &str,
        plane: &mut dyn PlaneBindings,
        report: &mut DataplaneReport,
    ) {
        let Some(mut state) = self.tenants.remove(l3vrf) else {
            return;
        };
        if let Some(vrf) = state.vrf {
            plane.remove_vrf(vrf);
            self.l2vnis.retain(|_, (bound, _)| *bound != vrf);
            info!(l3vrf, %vrf, "VRF removed from the plane");
        }
        self.tenant_ports.retain(|_, tenant| tenant != l3vrf);
        self.addresses
            .retain(|(tenant, _), _| tenant.as_deref() != Some(l3vrf));

        let namespace = state.namespace.clone();
        // Deleting the namespace would delete the veth ends still in it, so it stays when a
        // foreign port could not be moved out.
        let mut stranded = false;
        match state.links.links() {
            Ok(links) => {
                let underlay = &mut self
                    .underlay
                    .as_mut()
                    .expect("a tenant exists only after the underlay")
                    .1;
                for link in &links {
                    let leak = link.alias.as_deref() == Some(LEAK_LINK_ALIAS);
                    if link.name == "lo" || leak {
                        continue;
                    }
                    let result = if is_ours(link) {
                        state
                            .links
                            .delete(&link.name)
                            .map(|()| changed(report, &namespace, format!("deleted {}", link.name)))
                    } else {
                        move_back(&mut state.links, underlay, &namespace, &link.name, report)
                            .inspect_err(|_| stranded = true)
                    };
                    if let Err(error) = result {
                        report.fail(&link.name, error);
                    }
                }
            }
            Err(error) => {
                stranded = true;
                report.fail(&namespace, error);
            }
        }
        let owned = state.owned;
        drop(state);
        if owned && stranded {
            report.fail(&namespace, "namespace kept: it still contains ports that could not be moved back to the underlay");
        } else if owned {
            match delete_namespace(&namespace) {
                Ok(()) => converge::namespace_changed(report, "deleted", &namespace),
                Err(error) => report.fail(&namespace, error),
            }
        }
    }
}

/// Moves port `name` from a tenant namespace back to the underlay, out of its bridge. The
/// kernel sets a link down when it changes namespace, and the port stays down.
fn move_back(
    tenant: &mut Links,
    underlay: &mut Links,
    namespace: &str,
    name: &str,
    report: &mut DataplaneReport,
) -> Result<(), PlaneError> {
    let Some(link) = tenant.link(name)? else {
        return Ok(());
    };
    if link.master.is_some() {
        tenant.set_master(name, None)?;
    }
    tenant.move_to(name, underlay.namespace())?;
    changed(
        report,
        namespace,
        format!("moved port {name} back to the underlay"),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataplane_can_move_to_another_thread() {
        fn is_send<T: Send>() {}
        is_send::<Dataplane>();
    }
}
