//! Reachability: the routes of the NLRI and withdrawn fields and of MP_REACH_NLRI and
//! MP_UNREACH_NLRI (RFC 4760), with the add-path identifier (RFC 7911).

use std::net::{Ipv4Addr, Ipv6Addr};

use hna_evpn::EvpnRoute;
use ipnet::{Ipv4Net, Ipv6Net};

use crate::types::AfiSafi;

/// One route with its add-path identifier, present when add-path is negotiated for the family
/// in the direction of the message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathNlri<T> {
    pub path_id: Option<u32>,
    pub nlri: T,
}

impl<T> PathNlri<T> {
    /// Wraps a route without a path identifier.
    pub fn new(nlri: T) -> PathNlri<T> {
        PathNlri {
            path_id: None,
            nlri,
        }
    }
}

/// The routes of one AFI/SAFI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NlriList {
    Ipv4(Vec<PathNlri<Ipv4Net>>),
    Ipv6(Vec<PathNlri<Ipv6Net>>),
    Evpn(Vec<PathNlri<EvpnRoute>>),
    /// The NLRI octets of an AFI/SAFI this codec does not decode.
    Opaque(Vec<u8>),
}

impl NlriList {
    /// Whether the list contains no route.
    pub fn is_empty(&self) -> bool {
        match self {
            NlriList::Ipv4(v) => v.is_empty(),
            NlriList::Ipv6(v) => v.is_empty(),
            NlriList::Evpn(v) => v.is_empty(),
            NlriList::Opaque(v) => v.is_empty(),
        }
    }

    /// Returns the number of routes (0 for opaque NLRI).
    pub fn len(&self) -> usize {
        match self {
            NlriList::Ipv4(v) => v.len(),
            NlriList::Ipv6(v) => v.len(),
            NlriList::Evpn(v) => v.len(),
            NlriList::Opaque(_) => 0,
        }
    }

    /// Returns an empty list of the kind that `afi_safi` decodes into.
    pub fn empty_for(afi_safi: AfiSafi) -> NlriList {
        match afi_safi {
            AfiSafi::IPV4_UNICAST => NlriList::Ipv4(Vec::new()),
            AfiSafi::IPV6_UNICAST => NlriList::Ipv6(Vec::new()),
            AfiSafi::L2VPN_EVPN => NlriList::Evpn(Vec::new()),
            _ => NlriList::Opaque(Vec::new()),
        }
    }
}

/// The next hop of MP_REACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MpNextHop {
    /// 4 octets: IPv4 families, and EVPN over an IPv4 underlay (the VTEP address).
    Ipv4(Ipv4Addr),
    /// 16 octets, or 32 with a link-local address (RFC 4760 section 3, RFC 2545 section 3).
    Ipv6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
    /// The next hop octets of an AFI/SAFI this codec does not decode.
    Opaque(Vec<u8>),
}

/// MP_REACH_NLRI (RFC 4760 section 3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpReach {
    pub afi_safi: AfiSafi,
    pub next_hop: MpNextHop,
    pub nlri: NlriList,
}

/// MP_UNREACH_NLRI (RFC 4760 section 4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    pub afi_safi: AfiSafi,
    pub nlri: NlriList,
}
