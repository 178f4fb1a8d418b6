//! The dataplane setup (interfaces, tenant namespaces, VXLAN devices, bridges) run on the
//! plane's thread, since it shares the plane's netlink sockets and blocks like them.

use std::sync::{Arc, Mutex};

use tracing::{info, warn};

use crate::config::Config;
use crate::dataplane::{Dataplane, DataplaneOptions, DataplaneReport};
use crate::plane::PlaneThread;

pub(super) struct Interfaces {
    dataplane: Arc<Mutex<Dataplane>>,
    options: DataplaneOptions,
}

impl Interfaces {
    pub fn new(options: DataplaneOptions) -> Interfaces {
        Interfaces {
            dataplane: Arc::new(Mutex::new(Dataplane::new())),
            options,
        }
    }

    /// Converges the kernel's interfaces to `config` and logs what changed and what failed.
    pub async fn apply(
        &self,
        plane: &PlaneThread,
        config: Arc<Config>,
    ) -> Result<DataplaneReport, String> {
        let dataplane = Arc::clone(&self.dataplane);
        let options = self.options.clone();
        let outcome = plane
            .call(move |plane| {
                let Some(bindings) = plane.bindings() else {
                    return Err("this forwarding plane has no interfaces to set up".to_string());
                };
                let mut dataplane = dataplane
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                dataplane
                    .apply(&config, &options, bindings)
                    .map_err(|error| error.to_string())
            })
            .await
            .map_err(|error| error.to_string())??;
        log_report("interfaces applied", &outcome);
        Ok(outcome)
    }

    /// Sets up a configured interface that appeared after the last apply (a pod's port).
    pub async fn link_appeared(&self, plane: &PlaneThread, name: String) {
        let pending = {
            let dataplane = self
                .dataplane
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            dataplane.pending().contains(&name)
        };
        if !pending {
            return;
        }
        let dataplane = Arc::clone(&self.dataplane);
        let outcome = plane
            .call(move |plane| {
                let bindings = plane.bindings()?;
                let mut dataplane = dataplane
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                Some(dataplane.link_appeared(&name, bindings))
            })
            .await;
        match outcome {
            Ok(Some(Ok(Some(report)))) => log_report("awaited interface set up", &report),
            Ok(Some(Err(error))) => warn!(%error, "cannot set up an interface that appeared"),
            Err(error) => warn!(%error, "forwarding plane unavailable"),
            _ => {}
        }
    }

    /// Deletes the namespaces and devices the daemon created.
    pub async fn teardown(&self, plane: &PlaneThread) {
        let dataplane = Arc::clone(&self.dataplane);
        let outcome = plane
            .call(move |plane| {
                let bindings = plane.bindings()?;
                let mut dataplane = dataplane
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                Some(dataplane.teardown(bindings))
            })
            .await;
        match outcome {
            Ok(Some(Ok(report))) => log_report("interfaces torn down", &report),
            Ok(Some(Err(error))) => warn!(%error, "teardown failed"),
            Err(error) => warn!(%error, "forwarding plane unavailable"),
            Ok(None) => {}
        }
    }
}

fn log_report(what: &str, report: &DataplaneReport) {
    info!(
        changes = report.changes.len(),
        missing = report.missing.len(),
        failures = report.failures.len(),
        "{what}"
    );
    for missing in &report.missing {
        warn!(interface = %missing.name, required = missing.required, "configured interface not found (yet)");
    }
    for failure in &report.failures {
        warn!(object = %failure.object, error = %failure.error, "dataplane object not set up");
    }
}
