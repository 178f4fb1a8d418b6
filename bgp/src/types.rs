//! Address family identifiers and other small values shared by the model and the codec.

use std::fmt;

/// Address Family Identifier (IANA "Address Family Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Afi(pub u16);

impl Afi {
    pub const IPV4: Afi = Afi(1);
    pub const IPV6: Afi = Afi(2);
    pub const L2VPN: Afi = Afi(25);
}

/// Subsequent Address Family Identifier (IANA "SAFI Values").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Safi(pub u8);

impl Safi {
    pub const UNICAST: Safi = Safi(1);
    pub const MULTICAST: Safi = Safi(2);
    pub const EVPN: Safi = Safi(70);
    pub const MPLS_VPN: Safi = Safi(128);
}

/// An AFI/SAFI pair: the unit of multiprotocol negotiation (RFC 4760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AfiSafi {
    pub afi: Afi,
    pub safi: Safi,
}

impl AfiSafi {
    pub const IPV4_UNICAST: AfiSafi = AfiSafi {
        afi: Afi::IPV4,
        safi: Safi::UNICAST,
    };
    pub const IPV6_UNICAST: AfiSafi = AfiSafi {
        afi: Afi::IPV6,
        safi: Safi::UNICAST,
    };
    pub const L2VPN_EVPN: AfiSafi = AfiSafi {
        afi: Afi::L2VPN,
        safi: Safi::EVPN,
    };

    /// Builds the pair from its numbers.
    pub const fn new(afi: u16, safi: u8) -> AfiSafi {
        AfiSafi {
            afi: Afi(afi),
            safi: Safi(safi),
        }
    }
}

impl fmt::Display for AfiSafi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AfiSafi::IPV4_UNICAST => f.write_str("ipv4-unicast"),
            AfiSafi::IPV6_UNICAST => f.write_str("ipv6-unicast"),
            AfiSafi::L2VPN_EVPN => f.write_str("l2vpn-evpn"),
            AfiSafi { afi, safi } => write!(f, "afi {} safi {}", afi.0, safi.0),
        }
    }
}

/// AS_TRANS (RFC 6793 section 9): the 2-octet stand-in for a 4-octet AS number.
pub const AS_TRANS: u32 = 23456;
