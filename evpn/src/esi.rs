//! The Ethernet Segment Identifier (RFC 7432 section 5), types 0 to 5.

use std::fmt;
use std::net::Ipv4Addr;

use crate::MacAddress;

/// An Ethernet Segment Identifier: one type octet and nine value octets.
///
/// ```text
/// +------+--------------------------------------------------------+
/// | Type |                 ESI value (9 octets)                   |
/// +------+--------------------------------------------------------+
/// ```
/// Types 1 to 5 are decoded into their fields only when their reserved octets are zero and
/// their 3-octet local discriminators fit; anything else stays `Arbitrary` or `Unknown`, so
/// every identifier re-encodes to the octets it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Esi {
    /// Type 0: an operator-configured value. All zeros means a single-homed site.
    Arbitrary([u8; 9]),
    /// Type 1: LACP system MAC and port key (one reserved octet).
    Lacp {
        system_mac: MacAddress,
        port_key: u16,
    },
    /// Type 2: the root bridge MAC and priority of a bridged LAN.
    Bridge {
        root_bridge_mac: MacAddress,
        root_bridge_priority: u16,
    },
    /// Type 3: a system MAC and a 3-octet local discriminator.
    Mac {
        system_mac: MacAddress,
        local_discriminator: u32,
    },
    /// Type 4: a router ID and a 4-octet local discriminator (one reserved octet).
    RouterId {
        router_id: Ipv4Addr,
        local_discriminator: u32,
    },
    /// Type 5: an AS number and a 4-octet local discriminator (one reserved octet).
    As { asn: u32, local_discriminator: u32 },
    /// A type above 5, or a typed value whose reserved octets are not zero.
    Unknown { esi_type: u8, value: [u8; 9] },
}

impl Esi {
    /// The encoded length in octets.
    pub const LEN: usize = 10;
    /// The reserved ESI of a single-homed segment (type 0, all zeros).
    pub const ZERO: Esi = Esi::Arbitrary([0; 9]);

    /// Whether this is the all-zero identifier of a single-homed segment.
    pub fn is_zero(&self) -> bool {
        *self == Esi::ZERO
    }

    /// Decodes the ten octets of an identifier; every bit pattern is accepted.
    pub fn from_bytes(b: [u8; 10]) -> Esi {
        let mut value = [0u8; 9];
        value.copy_from_slice(&b[1..10]);
        let mac = MacAddress([b[1], b[2], b[3], b[4], b[5], b[6]]);
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        match b[0] {
            0 => Esi::Arbitrary(value),
            1 if b[9] == 0 => Esi::Lacp {
                system_mac: mac,
                port_key: u16_at(7),
            },
            2 if b[9] == 0 => Esi::Bridge {
                root_bridge_mac: mac,
                root_bridge_priority: u16_at(7),
            },
            3 => Esi::Mac {
                system_mac: mac,
                local_discriminator: u32::from_be_bytes([0, b[7], b[8], b[9]]),
            },
            4 if b[9] == 0 => Esi::RouterId {
                router_id: Ipv4Addr::new(b[1], b[2], b[3], b[4]),
                local_discriminator: u32_at(5),
            },
            5 if b[9] == 0 => Esi::As {
                asn: u32_at(1),
                local_discriminator: u32_at(5),
            },
            esi_type => Esi::Unknown { esi_type, value },
        }
    }

    /// Returns the ten encoded octets.
    ///
    /// A `Mac` local discriminator above 24 bits is truncated to its low 24 bits.
    pub fn to_bytes(&self) -> [u8; 10] {
        let mut b = [0u8; 10];
        match *self {
            Esi::Arbitrary(value) => b[1..10].copy_from_slice(&value),
            Esi::Lacp {
                system_mac,
                port_key,
            } => {
                b[0] = 1;
                b[1..7].copy_from_slice(&system_mac.0);
                b[7..9].copy_from_slice(&port_key.to_be_bytes());
            }
            Esi::Bridge {
                root_bridge_mac,
                root_bridge_priority,
            } => {
                b[0] = 2;
                b[1..7].copy_from_slice(&root_bridge_mac.0);
                b[7..9].copy_from_slice(&root_bridge_priority.to_be_bytes());
            }
            Esi::Mac {
                system_mac,
                local_discriminator,
            } => {
                b[0] = 3;
                b[1..7].copy_from_slice(&system_mac.0);
                b[7..10].copy_from_slice(&local_discriminator.to_be_bytes()[1..4]);
            }
            Esi::RouterId {
                router_id,
                local_discriminator,
            } => {
                b[0] = 4;
                b[1..5].copy_from_slice(&router_id.octets());
                b[5..9].copy_from_slice(&local_discriminator.to_be_bytes());
            }
            Esi::As {
                asn,
                local_discriminator,
            } => {
                b[0] = 5;
                b[1..5].copy_from_slice(&asn.to_be_bytes());
                b[5..9].copy_from_slice(&local_discriminator.to_be_bytes());
            }
            Esi::Unknown { esi_type, value } => {
                b[0] = esi_type;
                b[1..10].copy_from_slice(&value);
            }
        }
        b
    }
}

impl Default for Esi {
    fn default() -> Self {
        Esi::ZERO
    }
}

impl fmt::Display for Esi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.to_bytes();
        for (i, octet) in b.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{octet:02x}")?;
        }
        Ok(())
    }
}
