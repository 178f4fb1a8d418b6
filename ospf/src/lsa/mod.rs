//! Link-state advertisements (RFC 2328 section 12 and appendix A.4): the common header, the
//! router, network, summary and AS-external bodies, and opaque LSAs (RFC 5250) kept as bytes, of
//! which the grace-LSA (RFC 3623) has its own codec in [`grace`].

mod body;
pub mod checksum;
pub mod grace;

use std::net::Ipv4Addr;

use bytes::Bytes;
use serde::Serialize;
use thiserror::Error;

use crate::wire::{Reader, Writer};

pub use body::{
    AsExternalLsa, ExternalTos, NetworkLsa, RouterLink, RouterLinkType, RouterLsa, SummaryLsa,
    TosMetric,
};
pub use grace::{GraceLsa, GraceLsaError, RestartReason};

/// Maximum age of an LSA in seconds (MaxAge, RFC 2328 appendix B).
pub const MAX_AGE: u16 = 3600;
/// Age after which a router re-originates its own LSAs, in seconds (LSRefreshTime).
pub const LS_REFRESH_TIME: u16 = 1800;
/// Age difference below which two instances count as the same, in seconds (MaxAgeDiff).
pub const MAX_AGE_DIFF: u16 = 900;
/// First sequence number of a new LSA (InitialSequenceNumber).
pub const INITIAL_SEQUENCE_NUMBER: i32 = 0x8000_0001_u32 as i32;
/// Last usable sequence number (MaxSequenceNumber); the next instance needs a flush first.
pub const MAX_SEQUENCE_NUMBER: i32 = 0x7fff_ffff;
/// The reserved sequence number 0x80000000, never valid on the wire (RFC 2328 section 12.1.6).
pub const RESERVED_SEQUENCE_NUMBER: i32 = 0x8000_0000_u32 as i32;
/// Length of the LSA header in bytes.
pub const HEADER_LEN: usize = 20;
/// Mask of the DoNotAge bit of the LS age field (RFC 1793); we never set it.
pub const DO_NOT_AGE: u16 = 0x8000;

/// An LS type (RFC 2328 A.4.1, RFC 5250 for 9-11). Any value can appear in a header; only the
/// known ones are accepted as whole LSAs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LsType(pub u8);

impl LsType {
    pub const ROUTER: LsType = LsType(1);
    pub const NETWORK: LsType = LsType(2);
    pub const SUMMARY_NETWORK: LsType = LsType(3);
    pub const SUMMARY_ASBR: LsType = LsType(4);
    pub const AS_EXTERNAL: LsType = LsType(5);
    pub const OPAQUE_LINK: LsType = LsType(9);
    pub const OPAQUE_AREA: LsType = LsType(10);
    pub const OPAQUE_AS: LsType = LsType(11);

    /// Returns true for the types this implementation stores and floods.
    pub fn is_known(self) -> bool {
        matches!(self.0, 1..=5 | 9..=11)
    }

    /// Returns true for opaque types (RFC 5250), flooded only to opaque-capable neighbors.
    pub fn is_opaque(self) -> bool {
        matches!(self.0, 9..=11)
    }

    /// Returns true for the link-local flooding scope (type 9).
    pub fn is_link_local(self) -> bool {
        self == LsType::OPAQUE_LINK
    }

    /// Returns true for the AS flooding scope (types 5 and 11).
    pub fn is_as_scope(self) -> bool {
        matches!(self.0, 5 | 11)
    }

    /// Returns the name FRR and the RFC use for the type.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "router",
            2 => "network",
            3 => "summary-network",
            4 => "summary-asbr",
            5 => "as-external",
            9 => "opaque-link",
            10 => "opaque-area",
            11 => "opaque-as",
            _ => "unknown",
        }
    }
}

/// The options field of Hello, Database Description packets and LSAs (RFC 2328 A.2, RFC 5250).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Options(pub u8);

impl Options {
    /// E-bit: AS-external-LSAs are flooded (not a stub area).
    pub const E: u8 = 0x02;
    /// MC-bit: multicast capable (MOSPF).
    pub const MC: u8 = 0x04;
    /// N/P-bit: NSSA.
    pub const NP: u8 = 0x08;
    /// L-bit: the packet carries an LLS data block (RFC 5613).
    pub const L: u8 = 0x10;
    /// DC-bit: demand circuits.
    pub const DC: u8 = 0x20;
    /// O-bit: opaque-capable (RFC 5250).
    pub const O: u8 = 0x40;

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// Identifies one LSA in the link-state database: LS type, Link State ID and Advertising Router
/// (RFC 2328 section 12.1). `scope` is the ifindex of the interface for link-local (type 9)
/// LSAs, whose database is per interface, and 0 otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LsaKey {
    pub scope: u32,
    pub ls_type: LsType,
    pub link_state_id: Ipv4Addr,
    pub advertising_router: Ipv4Addr,
}

/// The LSA header (RFC 2328 A.4.1).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |            LS age             |    Options    |    LS type    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        Link State ID                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Advertising Router                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     LS sequence number                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         LS checksum           |             length            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LsaHeader {
    pub ls_age: u16,
    pub options: Options,
    pub ls_type: LsType,
    pub link_state_id: Ipv4Addr,
    pub advertising_router: Ipv4Addr,
    /// Signed, as RFC 2328 section 12.1.6 compares it.
    pub ls_sequence_number: i32,
    pub ls_checksum: u16,
    pub length: u16,
}

impl LsaHeader {
    /// Decodes a header from the next 20 bytes of `reader`.
    pub(crate) fn read(reader: &mut Reader<'_>) -> Option<LsaHeader> {
        Some(LsaHeader {
            ls_age: reader.u16()?,
            options: Options(reader.u8()?),
            ls_type: LsType(reader.u8()?),
            link_state_id: reader.ipv4()?,
            advertising_router: reader.ipv4()?,
            ls_sequence_number: reader.u32()? as i32,
            ls_checksum: reader.u16()?,
            length: reader.u16()?,
        })
    }

    /// Decodes a header from the first 20 bytes of `buf`.
    pub fn decode(buf: &[u8]) -> Result<LsaHeader, LsaError> {
        LsaHeader::read(&mut Reader::new(buf)).ok_or(LsaError::TooShort { len: buf.len() })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.ls_age);
        out.put_u8(self.options.0);
        out.put_u8(self.ls_type.0);
        out.put_ipv4(self.link_state_id);
        out.put_ipv4(self.advertising_router);
        out.put_u32(self.ls_sequence_number as u32);
        out.put_u16(self.ls_checksum);
        out.put_u16(self.length);
    }

    /// Returns the database key of the LSA, with `scope` as in [`LsaKey`].
    pub fn key(&self, scope: u32) -> LsaKey {
        LsaKey {
            scope,
            ls_type: self.ls_type,
            link_state_id: self.link_state_id,
            advertising_router: self.advertising_router,
        }
    }

    /// Returns the age without the DoNotAge bit, capped at MaxAge.
    pub fn age(&self) -> u16 {
        (self.ls_age & !DO_NOT_AGE).min(MAX_AGE)
    }
}

/// The result of comparing two instances of an LSA (RFC 2328 section 13.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recency {
    Newer,
    Same,
    Older,
}

/// Compares instance `a` with instance `b` of the same LSA, with their current ages.
pub fn compare(a: &LsaHeader, a_age: u16, b: &LsaHeader, b_age: u16) -> Recency {
    use std::cmp::Ordering;
    match a.ls_sequence_number.cmp(&b.ls_sequence_number) {
        Ordering::Greater => return Recency::Newer,
        Ordering::Less => return Recency::Older,
        Ordering::Equal => {}
    }
    match a.ls_checksum.cmp(&b.ls_checksum) {
        Ordering::Greater => return Recency::Newer,
        Ordering::Less => return Recency::Older,
        Ordering::Equal => {}
    }
    match (a_age >= MAX_AGE, b_age >= MAX_AGE) {
        (true, false) => return Recency::Newer,
        (false, true) => return Recency::Older,
        _ => {}
    }
    if a_age.abs_diff(b_age) > MAX_AGE_DIFF {
        return if a_age < b_age {
            Recency::Newer
        } else {
            Recency::Older
        };
    }
    Recency::Same
}

/// The body of an LSA of a known type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LsaBody {
    Router(RouterLsa),
    Network(NetworkLsa),
    SummaryNetwork(SummaryLsa),
    SummaryAsbr(SummaryLsa),
    AsExternal(AsExternalLsa),
    /// Types 9, 10 and 11: stored and flooded, not interpreted.
    Opaque(#[serde(skip)] Bytes),
}

impl LsaBody {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            LsaBody::Router(router) => router.encode(out),
            LsaBody::Network(network) => network.encode(out),
            LsaBody::SummaryNetwork(summary) | LsaBody::SummaryAsbr(summary) => summary.encode(out),
            LsaBody::AsExternal(external) => external.encode(out),
            LsaBody::Opaque(data) => out.extend_from_slice(data),
        }
    }
}

/// The reason an LSA was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LsaError {
    #[error("LSA of {len} bytes is shorter than its 20-byte header")]
    TooShort { len: usize },
    #[error("LSA length field {length} is below 20 or beyond the {available} bytes present")]
    BadLength { length: u16, available: usize },
    #[error("LSA length {length} is not a multiple of 4")]
    LengthNotAligned { length: u16 },
    #[error("LSA checksum 0x{found:04x} is invalid")]
    BadChecksum { found: u16 },
    #[error("unknown LS type {ls_type}")]
    UnknownType { ls_type: u8 },
    #[error("LS sequence number 0x80000000 is reserved")]
    ReservedSequenceNumber,
    #[error("router-LSA declares {declared} links but its body holds {found}")]
    RouterLinkCount { declared: u16, found: u16 },
    #[error("{ls_type:?} LSA body of {len} bytes is truncated or has trailing bytes")]
    BadBody { ls_type: LsType, len: usize },
}

/// An LSA: its header, its decoded body and the exact bytes it travels as.
///
/// The bytes are kept so that LSAs of other routers are flooded exactly as received. Only the age
/// field changes in transit, and the checksum does not cover it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lsa {
    pub header: LsaHeader,
    pub body: LsaBody,
    raw: Bytes,
}

impl Lsa {
    /// Decodes and validates one LSA. `buf` is exactly the LSA, and its length field must match.
    ///
    /// The checks are those of RFC 2328 section 13 steps 1 and 2 plus body consistency.
    pub fn decode(buf: &[u8]) -> Result<Lsa, LsaError> {
        let mut reader = Reader::new(buf);
        let header = LsaHeader::read(&mut reader).ok_or(LsaError::TooShort { len: buf.len() })?;
        if usize::from(header.length) != buf.len() || usize::from(header.length) < HEADER_LEN {
            return Err(LsaError::BadLength {
                length: header.length,
                available: buf.len(),
            });
        }
        if header.length % 4 != 0 {
            return Err(LsaError::LengthNotAligned {
                length: header.length,
            });
        }
        if !checksum::verify(buf) {
            return Err(LsaError::BadChecksum {
                found: header.ls_checksum,
            });
        }
        if header.ls_sequence_number == RESERVED_SEQUENCE_NUMBER {
            return Err(LsaError::ReservedSequenceNumber);
        }

        let body_bytes = reader.rest();
        let bad_body = LsaError::BadBody {
            ls_type: header.ls_type,
            len: body_bytes.len(),
        };
        let body = match header.ls_type {
            LsType::ROUTER => LsaBody::Router(RouterLsa::decode(body_bytes)?),
            LsType::NETWORK => LsaBody::Network(NetworkLsa::decode(body_bytes).ok_or(bad_body)?),
            LsType::SUMMARY_NETWORK => {
                LsaBody::SummaryNetwork(SummaryLsa::decode(body_bytes).ok_or(bad_body)?)
            }
            LsType::SUMMARY_ASBR => {
                LsaBody::SummaryAsbr(SummaryLsa::decode(body_bytes).ok_or(bad_body)?)
            }
            LsType::AS_EXTERNAL => {
                LsaBody::AsExternal(AsExternalLsa::decode(body_bytes).ok_or(bad_body)?)
            }
            ls_type if ls_type.is_opaque() => LsaBody::Opaque(Bytes::copy_from_slice(body_bytes)),
            ls_type => return Err(LsaError::UnknownType { ls_type: ls_type.0 }),
        };
        Ok(Lsa {
            header,
            body,
            raw: Bytes::copy_from_slice(buf),
        })
    }

    /// Builds a self-originated LSA: fills in the length and the checksum of `header`.
    pub fn originate(mut header: LsaHeader, body: LsaBody) -> Lsa {
        let mut out = Vec::with_capacity(64);
        header.ls_checksum = 0;
        header.length = 0;
        header.encode(&mut out);
        body.encode(&mut out);
        let length = out.len() as u16;
        out[18..20].copy_from_slice(&length.to_be_bytes());
        checksum::fill(&mut out);
        header.length = length;
        header.ls_checksum = u16::from_be_bytes([out[16], out[17]]);
        Lsa {
            header,
            body,
            raw: Bytes::from(out),
        }
    }

    /// Returns the LSA's bytes as received or originated.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Encodes the header and body from their decoded fields; equal to [`Lsa::raw`] for every
    /// LSA this codec decoded, which the known-answer tests check.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.raw.len());
        self.header.encode(&mut out);
        self.body.encode(&mut out);
        out
    }

    /// Returns a copy with its LS age field set to `age` (the checksum does not cover it).
    pub fn with_age(&self, age: u16) -> Lsa {
        let mut raw = self.raw.to_vec();
        raw[0..2].copy_from_slice(&age.to_be_bytes());
        let mut header = self.header;
        header.ls_age = age;
        Lsa {
            header,
            body: self.body.clone(),
            raw: Bytes::from(raw),
        }
    }
}
