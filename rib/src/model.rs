//! Model types shared by the RIB, its clients and the southbound planes: VRF ids, VNIs, MAC
//! addresses, next hops with optional VXLAN encapsulation, and route sources with their
//! administrative distances.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A VRF, identified by its routing table id.
///
/// The table id is what the kernel and the configuration use (`l3vrf vrf100 table-id 100`); the
/// RIB keeps the name beside it. [`VrfId::DEFAULT`] is the default VRF, whose table is `main`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct VrfId(pub u32);

impl VrfId {
    /// The default VRF (the underlay), routing table 254 (`main`).
    pub const DEFAULT: VrfId = VrfId(254);
}

impl fmt::Display for VrfId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}", self.0)
    }
}

/// A VXLAN network identifier: 24 bits (RFC 7348 section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Vni(u32);

impl Vni {
    /// The largest VNI, 2^24 - 1.
    pub const MAX: u32 = 0x00ff_ffff;

    /// Returns the VNI `value`, or an error when it does not fit in 24 bits.
    pub fn new(value: u32) -> Result<Vni, InvalidVni> {
        if value <= Self::MAX {
            Ok(Vni(value))
        } else {
            Err(InvalidVni(value))
        }
    }

    /// Returns the VNI as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Vni {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Error for a VNI that does not fit in 24 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid VNI {0}: a VNI is at most 16777215 (24 bits)")]
pub struct InvalidVni(pub u32);

/// An Ethernet MAC address. It is written and serialized as `02:00:5e:00:01:01`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The all-zero address, which a VXLAN device's forwarding database uses for the entries
    /// that flood broadcast, unknown unicast and multicast traffic to remote VTEPs.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Returns the six bytes of the address.
    pub fn octets(self) -> [u8; 6] {
        self.0
    }

    /// Returns whether this is the all-zero address.
    pub fn is_zero(self) -> bool {
        self == Self::ZERO
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MacAddr {
    type Err = InvalidMacAddr;

    fn from_str(text: &str) -> Result<MacAddr, InvalidMacAddr> {
        let invalid = || InvalidMacAddr(text.to_string());
        let mut octets = [0u8; 6];
        let mut parts = text.split(':');
        for octet in &mut octets {
            let part = parts.next().ok_or_else(invalid)?;
            if part.len() != 2 {
                return Err(invalid());
            }
            *octet = u8::from_str_radix(part, 16).map_err(|_| invalid())?;
        }
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(MacAddr(octets))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Error for text that is not a MAC address of six colon-separated hexadecimal octets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hexadecimal octets separated by colons")]
pub struct InvalidMacAddr(pub String);

/// VXLAN encapsulation of a next hop in an IP-VRF, for symmetric IRB (RFC 9135 section 4.3).
///
/// Packets go to `vtep` in the underlay with the L3VNI `vni`. The inner Ethernet header carries
/// the remote router's MAC `router_mac`, learned from the EVPN Router's MAC extended community.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct VxlanEncap {
    /// Underlay address of the remote VTEP, resolved in the default VRF.
    pub vtep: IpAddr,
    /// The L3VNI of the VRF.
    pub vni: Vni,
    /// The remote router's MAC address.
    pub router_mac: MacAddr,
}

/// One next hop of a route.
///
/// The kinds a route can carry:
/// - directly connected: `interface` only;
/// - gateway on an interface: `gateway` and `interface` (with `onlink` when the gateway is not
///   inside a subnet of the interface);
/// - recursive: `gateway` only, resolved by the RIB through the routes of the IGP
///   (connected, static, OSPF) in the same VRF;
/// - VXLAN: `encap` only, whose VTEP the RIB resolves in the default VRF;
/// - another VRF: `vrf` only, for a route leaked between VRFs: the destination is looked up
///   again in that VRF's table. The RIB does not resolve it further; the next hop is usable
///   while that VRF exists.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct NextHop {
    /// Address of the next router, if any.
    pub gateway: Option<IpAddr>,
    /// Name of the outgoing interface, if known.
    pub interface: Option<String>,
    /// Whether the gateway is reachable on `interface` without a covering subnet (`onlink`).
    pub onlink: bool,
    /// VXLAN encapsulation for routes of an IP-VRF learned from EVPN.
    pub encap: Option<VxlanEncap>,
    /// The VRF in which the destination is looked up next (route leaking between VRFs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vrf: Option<VrfId>,
}

impl NextHop {
    /// Builds a directly connected next hop: the destination is on `interface`.
    pub fn connected(interface: &str) -> NextHop {
        NextHop {
            gateway: None,
            interface: Some(interface.to_string()),
            onlink: false,
            encap: None,
            vrf: None,
        }
    }

    /// Builds a next hop through a gateway on a known interface.
    pub fn via(gateway: IpAddr, interface: &str) -> NextHop {
        NextHop {
            gateway: Some(gateway),
            interface: Some(interface.to_string()),
            onlink: false,
            encap: None,
            vrf: None,
        }
    }

    /// Builds a next hop through a gateway that the RIB resolves through the IGP routes of the
    /// route's VRF.
    pub fn recursive(gateway: IpAddr) -> NextHop {
        NextHop {
            gateway: Some(gateway),
            interface: None,
            onlink: false,
            encap: None,
            vrf: None,
        }
    }

    /// Builds a VXLAN next hop of an IP-VRF route.
    pub fn vxlan(encap: VxlanEncap) -> NextHop {
        NextHop {
            gateway: None,
            interface: None,
            onlink: false,
            encap: Some(encap),
            vrf: None,
        }
    }

    /// Builds a next hop that looks the destination up again in VRF `vrf`.
    pub fn vrf(vrf: VrfId) -> NextHop {
        NextHop {
            gateway: None,
            interface: None,
            onlink: false,
            encap: None,
            vrf: Some(vrf),
        }
    }

    /// Returns this next hop with the `onlink` flag set.
    pub fn onlink(mut self) -> NextHop {
        self.onlink = true;
        self
    }

    /// Returns whether the RIB must resolve this next hop through another route.
    pub fn is_recursive(&self) -> bool {
        self.gateway.is_some()
            && self.interface.is_none()
            && self.encap.is_none()
            && self.vrf.is_none()
    }
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(encap) = &self.encap {
            return write!(
                f,
                "vxlan vtep {} vni {} rmac {}",
                encap.vtep, encap.vni, encap.router_mac
            );
        }
        if let Some(vrf) = self.vrf {
            return write!(f, "vrf {}", vrf.0);
        }
        match (&self.gateway, &self.interface) {
            (Some(gateway), Some(interface)) => write!(f, "via {gateway} dev {interface}")?,
            (Some(gateway), None) => write!(f, "via {gateway}")?,
            (None, Some(interface)) => write!(f, "dev {interface}")?,
            (None, None) => write!(f, "blackhole")?,
        }
        if self.onlink {
            write!(f, " onlink")?;
        }
        Ok(())
    }
}

/// The protocol a route comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum RouteSource {
    /// A subnet of a local interface address.
    Connected,
    /// A configured static route.
    Static,
    /// BGP, learned from an external peer.
    Ebgp,
    /// OSPFv2.
    Ospf,
    /// BGP, learned from an internal peer.
    Ibgp,
    /// An IP-VRF route imported from EVPN (RFC 9135 type-2 host routes, RFC 9136 type-5
    /// prefixes).
    Evpn,
    /// A route the plane still held from the daemon's previous run, kept while the protocols
    /// restart gracefully (RFC 4724, RFC 3623) so that next hops resolve as they did before the
    /// restart. Every other source is preferred, and the owner withdraws these routes once the
    /// protocols have reconverged.
    Retained,
}

impl RouteSource {
    /// Returns the administrative distance used when a route does not set its own, with FRR's
    /// values.
    ///
    /// EVPN routes take the eBGP distance 20, which FRR gives routes imported into a VRF from an
    /// external peer. A route learned over iBGP should set 200 itself.
    pub fn default_distance(self) -> u8 {
        match self {
            RouteSource::Connected => 0,
            RouteSource::Static => 1,
            RouteSource::Ebgp | RouteSource::Evpn => 20,
            RouteSource::Ospf => 110,
            RouteSource::Ibgp => 200,
            RouteSource::Retained => 254,
        }
    }

    /// Returns whether this source's routes can resolve the recursive next hops of others.
    pub fn is_igp(self) -> bool {
        matches!(
            self,
            RouteSource::Connected
                | RouteSource::Static
                | RouteSource::Ospf
                | RouteSource::Retained
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addr_parses_and_prints() {
        let mac: MacAddr = "02:00:5e:0A:01:ff".parse().unwrap();
        assert_eq!(mac.octets(), [0x02, 0x00, 0x5e, 0x0a, 0x01, 0xff]);
        assert_eq!(mac.to_string(), "02:00:5e:0a:01:ff");
    }

    #[test]
    fn mac_addr_rejects_malformed_text() {
        for text in [
            "",
            "02:00:5e:0a:01",
            "02:00:5e:0a:01:ff:00",
            "2:00:5e:0a:01:ff",
            "zz:00:5e:0a:01:ff",
        ] {
            assert!(text.parse::<MacAddr>().is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn vni_rejects_more_than_24_bits() {
        assert_eq!(Vni::new(0x00ff_ffff).map(Vni::get), Ok(0x00ff_ffff));
        assert_eq!(Vni::new(0x0100_0000), Err(InvalidVni(0x0100_0000)));
    }
}
