//! EVPN (RFC 7432, RFC 8365, RFC 9136): the route and community model with its wire codec.
//!
//! The codec modules (`rd`, `rt`, `esi`, `label`, `route`, `ext_community`) take and return
//! bytes and own no I/O; the BGP crate carries their values in MP_REACH_NLRI, MP_UNREACH_NLRI
//! and EXTENDED_COMMUNITIES.

pub mod control;
mod error;
pub mod esi;
pub mod ext_community;
pub mod label;
pub mod mac;
pub mod rd;
pub mod route;
pub mod rt;

pub use error::EvpnError;
pub use esi::Esi;
pub use ext_community::{ExtendedCommunity, tunnel_type};
pub use label::Label;
pub use mac::{MacAddress, ParseMacError};
pub use rd::RouteDistinguisher;
pub use route::{
    EthernetAdRoute, EthernetSegmentRoute, EthernetTag, EvpnRoute, EvpnRouteKey,
    InclusiveMulticastRoute, IpPrefixRoute, IpPrefixValue, MacIpRoute, route_type,
};
pub use rt::RouteTarget;
