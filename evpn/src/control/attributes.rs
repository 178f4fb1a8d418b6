//! The BGP path attributes the EVPN control plane sets on its routes and reads from remote ones.
//! The owner converts them to and from the BGP crate's attributes, since this crate does not
//! depend on BGP.

use std::net::IpAddr;

use crate::{EvpnRoute, ExtendedCommunity, Label, MacAddress, RouteTarget, tunnel_type};

/// The PMSI tunnel types of RFC 6514 section 5 that this VTEP uses.
pub mod pmsi_tunnel_type {
    /// Ingress replication: BUM traffic is copied to each remote VTEP by unicast (RFC 8365
    /// section 9).
    pub const INGRESS_REPLICATION: u8 = 6;
}

/// The PMSI tunnel attribute of a type-3 route (RFC 6514 section 5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PmsiTunnel {
    pub tunnel_type: u8,
    /// The VNI, carried in the MPLS label field (RFC 8365 section 5.1.3).
    pub label: Label,
    /// For ingress replication, the VTEP address that receives the copies.
    pub endpoint: IpAddr,
}

/// The attributes of an EVPN route that the control plane originates or imports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EvpnAttributes {
    /// The VTEP of the route (MP_REACH_NLRI next hop).
    pub next_hop: IpAddr,
    pub extended_communities: Vec<ExtendedCommunity>,
    pub pmsi_tunnel: Option<PmsiTunnel>,
}

impl EvpnAttributes {
    pub fn route_targets(&self) -> impl Iterator<Item = RouteTarget> + '_ {
        self.extended_communities
            .iter()
            .filter_map(|community| match community {
                ExtendedCommunity::RouteTarget(rt) => Some(*rt),
                _ => None,
            })
    }

    pub fn router_mac(&self) -> Option<MacAddress> {
        self.extended_communities
            .iter()
            .find_map(|community| match community {
                ExtendedCommunity::RouterMac(mac) => Some(*mac),
                _ => None,
            })
    }

    /// Returns the MAC mobility sequence number and sticky flag; a route without the community has
    /// sequence 0 (RFC 7432 section 15.1).
    pub fn mac_mobility(&self) -> (u32, bool) {
        self.extended_communities
            .iter()
            .find_map(|community| match community {
                ExtendedCommunity::MacMobility { sticky, sequence } => Some((*sequence, *sticky)),
                _ => None,
            })
            .unwrap_or((0, false))
    }

    /// Returns whether the route names VXLAN encapsulation, or names none (RFC 8365 section 5.1.3:
    /// without the encapsulation community a VXLAN-only VTEP may assume VXLAN).
    pub fn allows_vxlan(&self) -> bool {
        let mut encapsulations =
            self.extended_communities
                .iter()
                .filter_map(|community| match community {
                    ExtendedCommunity::Encapsulation { tunnel_type } => Some(*tunnel_type),
                    _ => None,
                });
        let first = encapsulations.next();
        first.is_none()
            || first == Some(tunnel_type::VXLAN)
            || encapsulations.any(|t| t == tunnel_type::VXLAN)
    }
}

/// A route the control plane originates, with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRoute {
    pub route: EvpnRoute,
    pub attributes: EvpnAttributes,
}

/// The best path BGP selected for a remote EVPN route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRoute {
    pub route: EvpnRoute,
    pub attributes: EvpnAttributes,
}
