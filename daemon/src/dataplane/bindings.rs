//! The facts about the dataplane's interfaces that the forwarding plane needs: the namespace of
//! each VRF and the VXLAN devices of each VNI.

use hna_rib::linux::{L3VniDevices, LinuxPlane, Namespace};
use hna_rib::{PlaneError, Vni, VrfId};

/// The calls through which the dataplane tells a forwarding plane where VRFs and VNIs live.
/// [`LinuxPlane`] implements it; a test can record the calls instead.
pub trait PlaneBindings {
    /// Places `vrf` in `namespace`.
    fn add_vrf(&mut self, vrf: VrfId, namespace: Namespace) -> Result<(), PlaneError>;
    /// Forgets `vrf` and its VNIs.
    fn remove_vrf(&mut self, vrf: VrfId);
    /// Binds L2VNI `vni` to VXLAN device `vxlan` in the namespace of `vrf`.
    fn bind_l2vni(&mut self, vni: Vni, vrf: VrfId, vxlan: &str) -> Result<(), PlaneError>;
    fn unbind_l2vni(&mut self, vni: Vni);
    /// Sets the L3VNI devices of `vrf`, for symmetric IRB.
    fn bind_l3vni(&mut self, vrf: VrfId, devices: L3VniDevices) -> Result<(), PlaneError>;
    fn unbind_l3vni(&mut self, vrf: VrfId);
}

impl PlaneBindings for LinuxPlane {
    fn add_vrf(&mut self, vrf: VrfId, namespace: Namespace) -> Result<(), PlaneError> {
        LinuxPlane::add_vrf(self, vrf, namespace)
    }

    fn remove_vrf(&mut self, vrf: VrfId) {
        LinuxPlane::remove_vrf(self, vrf)
    }

    fn bind_l2vni(&mut self, vni: Vni, vrf: VrfId, vxlan: &str) -> Result<(), PlaneError> {
        LinuxPlane::bind_l2vni(self, vni, vrf, vxlan)
    }

    fn unbind_l2vni(&mut self, vni: Vni) {
        LinuxPlane::unbind_l2vni(self, vni)
    }

    fn bind_l3vni(&mut self, vrf: VrfId, devices: L3VniDevices) -> Result<(), PlaneError> {
        LinuxPlane::bind_l3vni(self, vrf, devices)
    }

    fn unbind_l3vni(&mut self, vrf: VrfId) {
        LinuxPlane::unbind_l3vni(self, vrf)
    }
}
