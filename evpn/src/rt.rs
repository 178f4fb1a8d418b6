//! Route targets (RFC 4360 section 4, RFC 5668): the transitive extended communities of
//! sub-type 0x02 in the two-octet AS, IPv4 address and four-octet AS families.

use std::fmt;
use std::net::Ipv4Addr;

/// A route target.
///
/// ```text
/// +--------+--------+--------------------------------------------+
/// | type   | 0x02   | global administrator | local administrator |
/// +--------+--------+--------------------------------------------+
///   0x00: 2-octet AS + 4-octet value; 0x01: IPv4 + 2-octet value; 0x02: 4-octet AS + 2-octet value
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteTarget {
    /// Two-octet AS specific (type 0x00).
    As2 { asn: u16, value: u32 },
    /// IPv4 address specific (type 0x01).
    Ipv4 { address: Ipv4Addr, value: u16 },
    /// Four-octet AS specific (type 0x02).
    As4 { asn: u32, value: u16 },
}

impl RouteTarget {
    /// The sub-type that marks a route target in each of the three families.
    pub const SUB_TYPE: u8 = 0x02;

    /// Decodes an extended community; `None` unless it is a transitive route target.
    pub fn from_bytes(b: [u8; 8]) -> Option<RouteTarget> {
        if b[1] != Self::SUB_TYPE {
            return None;
        }
        match b[0] {
            0x00 => Some(RouteTarget::As2 {
                asn: u16::from_be_bytes([b[2], b[3]]),
                value: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            }),
            0x01 => Some(RouteTarget::Ipv4 {
                address: Ipv4Addr::new(b[2], b[3], b[4], b[5]),
                value: u16::from_be_bytes([b[6], b[7]]),
            }),
            0x02 => Some(RouteTarget::As4 {
                asn: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
                value: u16::from_be_bytes([b[6], b[7]]),
            }),
            _ => None,
        }
    }

    /// Returns the eight octets of the extended community.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[1] = Self::SUB_TYPE;
        match *self {
            RouteTarget::As2 { asn, value } => {
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..8].copy_from_slice(&value.to_be_bytes());
            }
            RouteTarget::Ipv4 { address, value } => {
                b[0] = 0x01;
                b[2..6].copy_from_slice(&address.octets());
                b[6..8].copy_from_slice(&value.to_be_bytes());
            }
            RouteTarget::As4 { asn, value } => {
                b[0] = 0x02;
                b[2..6].copy_from_slice(&asn.to_be_bytes());
                b[6..8].copy_from_slice(&value.to_be_bytes());
            }
        }
        b
    }
}

impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteTarget::As2 { asn, value } => write!(f, "{asn}:{value}"),
            RouteTarget::Ipv4 { address, value } => write!(f, "{address}:{value}"),
            RouteTarget::As4 { asn, value } => write!(f, "{asn}:{value}"),
        }
    }
}
