//! OSPFv2 packets (RFC 2328 appendix A.3): the common header, the five packet types, and the
//! header checks of section 8.2 that need no interface state.

pub mod auth;
mod body;

use std::net::Ipv4Addr;

use serde::Serialize;
use thiserror::Error;

use crate::lsa::LsaError;
use crate::wire::{Reader, Writer, internet_checksum};

pub use body::{DbDescription, Hello, LsAck, LsRequest, LsRequestEntry, LsUpdate};

/// IP protocol number of OSPF.
pub const IP_PROTOCOL: u8 = 89;
/// AllSPFRouters, 224.0.0.5.
pub const ALL_SPF_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 5);
/// AllDRouters, 224.0.0.6.
pub const ALL_D_ROUTERS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 6);
/// Length of the OSPF packet header.
pub const HEADER_LEN: usize = 24;

/// The packet type field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PacketType {
    Hello = 1,
    DbDescription = 2,
    LsRequest = 3,
    LsUpdate = 4,
    LsAck = 5,
}

impl PacketType {
    fn from_u8(value: u8) -> Option<PacketType> {
        Some(match value {
            1 => PacketType::Hello,
            2 => PacketType::DbDescription,
            3 => PacketType::LsRequest,
            4 => PacketType::LsUpdate,
            5 => PacketType::LsAck,
            _ => return None,
        })
    }
}

/// The authentication fields of the header (RFC 2328 appendix D).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthHeader {
    /// AuType 0; the 64-bit field is not examined and sent as zeros.
    Null,
    /// AuType 1: the password in clear.
    Simple([u8; 8]),
    /// AuType 2: key id, digest length and the non-decreasing sequence number; the digest
    /// follows the packet.
    Cryptographic {
        key_id: u8,
        auth_data_len: u8,
        sequence: u32,
    },
}

impl AuthHeader {
    pub fn au_type(&self) -> u16 {
        match self {
            AuthHeader::Null => 0,
            AuthHeader::Simple(_) => 1,
            AuthHeader::Cryptographic { .. } => 2,
        }
    }
}

/// The body of a packet, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketBody {
    Hello(Hello),
    DbDescription(DbDescription),
    LsRequest(LsRequest),
    LsUpdate(LsUpdate),
    LsAck(LsAck),
}

impl PacketBody {
    pub fn packet_type(&self) -> PacketType {
        match self {
            PacketBody::Hello(_) => PacketType::Hello,
            PacketBody::DbDescription(_) => PacketType::DbDescription,
            PacketBody::LsRequest(_) => PacketType::LsRequest,
            PacketBody::LsUpdate(_) => PacketType::LsUpdate,
            PacketBody::LsAck(_) => PacketType::LsAck,
        }
    }
}

/// An OSPF packet.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Version #   |     Type      |         Packet length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Router ID                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                           Area ID                             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Checksum            |             AuType            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Authentication                          |
/// |                       Authentication                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// With cryptographic authentication the 8 authentication bytes are `0 | 0 | Key ID | Auth Data
/// Len` then the 32-bit sequence number, and the digest follows the packet (outside its length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub router_id: Ipv4Addr,
    pub area_id: Ipv4Addr,
    pub auth: AuthHeader,
    pub body: PacketBody,
}

/// A decoded packet with what surrounded it on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    pub packet: Packet,
    /// Value of the header's packet length field.
    pub packet_length: u16,
    /// Header checksum as received (0 with cryptographic authentication).
    pub checksum: u16,
    /// Bytes after the packet: the cryptographic digest, then possibly an LLS block (RFC 5613).
    pub trailer: &'a [u8],
    /// LSAs of a Link State Update that failed validation, discarded one by one as RFC 2328
    /// section 13 steps 1 and 2 require while the rest of the packet is processed.
    pub discarded_lsas: Vec<LsaError>,
}

/// The reason a packet was dropped before any state was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PacketError {
    #[error("packet of {len} bytes is shorter than the 24-byte OSPF header")]
    TooShort { len: usize },
    #[error("OSPF version {0} is not 2")]
    BadVersion(u8),
    #[error("unknown OSPF packet type {0}")]
    UnknownType(u8),
    #[error("packet length field {length} is below 24 or beyond the {available} bytes received")]
    BadLength { length: u16, available: usize },
    #[error("packet length {length} is not a multiple of 4")]
    LengthNotAligned { length: u16 },
    #[error("header checksum does not verify (field 0x{found:04x})")]
    BadChecksum { found: u16 },
    #[error("unknown authentication type {0}")]
    UnknownAuType(u16),
    #[error("{packet_type:?} body of {len} bytes is truncated or has trailing bytes")]
    BadBody { packet_type: PacketType, len: usize },
    #[error(
        "LSA {index} of the Link State Update has length {length}, which does not fit the packet"
    )]
    LsaFraming { index: usize, length: u16 },
    #[error("Link State Update declares {declared} LSAs but carries {found}")]
    LsaCount { declared: u32, found: u32 },
}

impl Packet {
    /// Decodes `buf`, the IP payload of an OSPF packet, and runs the header checks of RFC 2328
    /// section 8.2 that need no state: version, length, type and (AuType 0 and 1) checksum.
    pub fn decode(buf: &[u8]) -> Result<Decoded<'_>, PacketError> {
        let mut reader = Reader::new(buf);
        let too_short = PacketError::TooShort { len: buf.len() };
        let version = reader.u8().ok_or(too_short)?;
        let raw_type = reader.u8().ok_or(too_short)?;
        let packet_length = reader.u16().ok_or(too_short)?;
        let router_id = reader.ipv4().ok_or(too_short)?;
        let area_id = reader.ipv4().ok_or(too_short)?;
        let checksum = reader.u16().ok_or(too_short)?;
        let au_type = reader.u16().ok_or(too_short)?;
        let auth_field = reader.take(8).ok_or(too_short)?;

        if version != 2 {
            return Err(PacketError::BadVersion(version));
        }
        let length = usize::from(packet_length);
        if length < HEADER_LEN || length > buf.len() {
            return Err(PacketError::BadLength {
                length: packet_length,
                available: buf.len(),
            });
        }
        if length % 4 != 0 {
            return Err(PacketError::LengthNotAligned {
                length: packet_length,
            });
        }
        let packet_type =
            PacketType::from_u8(raw_type).ok_or(PacketError::UnknownType(raw_type))?;

        let auth = match au_type {
            0 | 1 => {
                if !checksum_verifies(&buf[..length]) {
                    return Err(PacketError::BadChecksum { found: checksum });
                }
                if au_type == 0 {
                    AuthHeader::Null
                } else {
                    let mut password = [0; 8];
                    password.copy_from_slice(auth_field);
                    AuthHeader::Simple(password)
                }
            }
            2 => AuthHeader::Cryptographic {
                key_id: auth_field[2],
                auth_data_len: auth_field[3],
                sequence: u32::from_be_bytes([
                    auth_field[4],
                    auth_field[5],
                    auth_field[6],
                    auth_field[7],
                ]),
            },
            other => return Err(PacketError::UnknownAuType(other)),
        };

        let body_bytes = &buf[HEADER_LEN..length];
        let mut discarded_lsas = Vec::new();
        let body = body::decode(packet_type, body_bytes, &mut discarded_lsas)?;
        Ok(Decoded {
            packet: Packet {
                router_id,
                area_id,
                auth,
                body,
            },
            packet_length,
            checksum,
            trailer: &buf[length..],
            discarded_lsas,
        })
    }

    /// Encodes the packet with its length and, for AuType 0 and 1, its checksum. A cryptographic
    /// digest is not appended here: [`auth::Authentication::append_digest`] does it with the key.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.put_u8(2);
        out.put_u8(self.body.packet_type() as u8);
        out.put_u16(0);
        out.put_ipv4(self.router_id);
        out.put_ipv4(self.area_id);
        out.put_u16(0);
        out.put_u16(self.auth.au_type());
        out.extend_from_slice(&[0; 8]);
        body::encode(&self.body, &mut out);

        let length = out.len() as u16;
        out[2..4].copy_from_slice(&length.to_be_bytes());
        match self.auth {
            AuthHeader::Null => fill_checksum(&mut out),
            AuthHeader::Simple(password) => {
                fill_checksum(&mut out);
                out[16..24].copy_from_slice(&password);
            }
            AuthHeader::Cryptographic {
                key_id,
                auth_data_len,
                sequence,
            } => {
                out[18] = key_id;
                out[19] = auth_data_len;
                out[20..24].copy_from_slice(&sequence.to_be_bytes());
            }
        }
        out
    }
}

/// Verifies the header checksum: the Internet checksum of the packet without its 64-bit
/// authentication field (RFC 2328 D.4.1 and D.4.2).
fn checksum_verifies(packet: &[u8]) -> bool {
    let mut copy = packet.to_vec();
    copy[16..24].fill(0);
    internet_checksum(&copy) == 0
}

fn fill_checksum(packet: &mut [u8]) {
    packet[12..14].fill(0);
    let checksum = internet_checksum(packet);
    packet[12..14].copy_from_slice(&checksum.to_be_bytes());
}
