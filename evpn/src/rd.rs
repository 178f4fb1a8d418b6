//! Route distinguishers (RFC 4364 section 4.2), types 0, 1 and 2.

use std::fmt;
use std::net::Ipv4Addr;

/// A route distinguisher.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |             Type              |  Administrator (2 or 4 oct.)  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |    ...          Assigned Number (4 or 2 octets)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// A type other than 0, 1 or 2 is kept as its six value octets so that it re-encodes exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteDistinguisher {
    /// Type 0: 2-octet AS number and 4-octet assigned number.
    As2 { asn: u16, number: u32 },
    /// Type 1: IPv4 address and 2-octet assigned number (FRR uses router-id:index).
    Ipv4 { address: Ipv4Addr, number: u16 },
    /// Type 2: 4-octet AS number and 2-octet assigned number.
    As4 { asn: u32, number: u16 },
    /// Any other type, kept opaque.
    Unknown { rd_type: u16, value: [u8; 6] },
}

impl RouteDistinguisher {
    /// The encoded length in octets.
    pub const LEN: usize = 8;

    /// Decodes the eight octets of a route distinguisher; every bit pattern is accepted.
    pub fn from_bytes(b: [u8; 8]) -> RouteDistinguisher {
        let rd_type = u16::from_be_bytes([b[0], b[1]]);
        match rd_type {
            0 => RouteDistinguisher::As2 {
                asn: u16::from_be_bytes([b[2], b[3]]),
                number: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            },
            1 => RouteDistinguisher::Ipv4 {
                address: Ipv4Addr::new(b[2], b[3], b[4], b[5]),
                number: u16::from_be_bytes([b[6], b[7]]),
            },
            2 => RouteDistinguisher::As4 {
                asn: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
                number: u16::from_be_bytes([b[6], b[7]]),
            },
            _ => RouteDistinguisher::Unknown {
                rd_type,
                value: [b[2], b[3], b[4], b[5], b[6], b[7]],
            },
        }
    }

    /// Returns the eight encoded octets.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        match *self {
            RouteDistinguisher::As2 { asn, number } => {
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..8].copy_from_slice(&number.to_be_bytes());
            }
            RouteDistinguisher::Ipv4 { address, number } => {
                b[1] = 1;
                b[2..6].copy_from_slice(&address.octets());
                b[6..8].copy_from_slice(&number.to_be_bytes());
            }
            RouteDistinguisher::As4 { asn, number } => {
                b[1] = 2;
                b[2..6].copy_from_slice(&asn.to_be_bytes());
                b[6..8].copy_from_slice(&number.to_be_bytes());
            }
            RouteDistinguisher::Unknown { rd_type, value } => {
                b[0..2].copy_from_slice(&rd_type.to_be_bytes());
                b[2..8].copy_from_slice(&value);
            }
        }
        b
    }
}

impl fmt::Display for RouteDistinguisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteDistinguisher::As2 { asn, number } => write!(f, "{asn}:{number}"),
            RouteDistinguisher::Ipv4 { address, number } => write!(f, "{address}:{number}"),
            RouteDistinguisher::As4 { asn, number } => write!(f, "{asn}:{number}"),
            RouteDistinguisher::Unknown { rd_type, value } => {
                write!(f, "type{rd_type}:{value:02x?}")
            }
        }
    }
}
