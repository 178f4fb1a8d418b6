//! Bodies of the five OSPF packet types (RFC 2328 A.3.2 to A.3.6).

use std::net::Ipv4Addr;

use super::{PacketBody, PacketError, PacketType};
use crate::lsa::{HEADER_LEN as LSA_HEADER_LEN, LsType, Lsa, LsaError, LsaHeader, Options};
use crate::wire::{Reader, Writer};

/// A Hello packet (A.3.2).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        Network Mask                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         HelloInterval         |    Options    |    Rtr Pri    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     RouterDeadInterval                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Designated Router                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Backup Designated Router                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Neighbor                             |  (repeated)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub network_mask: Ipv4Addr,
    /// Seconds.
    pub hello_interval: u16,
    pub options: Options,
    pub router_priority: u8,
    /// Seconds.
    pub router_dead_interval: u32,
    pub designated_router: Ipv4Addr,
    pub backup_designated_router: Ipv4Addr,
    pub neighbors: Vec<Ipv4Addr>,
}

/// A Database Description packet (A.3.3).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Interface MTU         |    Options    |0|0|0|0|0|I|M|MS
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     DD sequence number                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                        An LSA Header                          |  (repeated, 20 bytes)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbDescription {
    pub interface_mtu: u16,
    pub options: Options,
    /// I (0x04), M (0x02) and MS (0x01) bits.
    pub flags: u8,
    pub dd_sequence_number: u32,
    pub lsa_headers: Vec<LsaHeader>,
}

impl DbDescription {
    pub const FLAG_I: u8 = 0x04;
    pub const FLAG_M: u8 = 0x02;
    pub const FLAG_MS: u8 = 0x01;
}

/// One entry of a Link State Request packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LsRequestEntry {
    /// 32 bits on the wire; only values up to 255 name a real LS type.
    pub ls_type: u32,
    pub link_state_id: Ipv4Addr,
    pub advertising_router: Ipv4Addr,
}

/// A Link State Request packet (A.3.4).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          LS type                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Link State ID                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Advertising Router                        |  (the three repeated)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsRequest {
    pub entries: Vec<LsRequestEntry>,
}

/// A Link State Update packet (A.3.5): a 32-bit count, then whole LSAs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsUpdate {
    pub lsas: Vec<Lsa>,
}

/// A Link State Acknowledgment packet (A.3.6): LSA headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsAck {
    pub lsa_headers: Vec<LsaHeader>,
}

pub(super) fn decode(
    packet_type: PacketType,
    body: &[u8],
    discarded_lsas: &mut Vec<LsaError>,
) -> Result<PacketBody, PacketError> {
    let bad_body = PacketError::BadBody {
        packet_type,
        len: body.len(),
    };
    let mut reader = Reader::new(body);
    Ok(match packet_type {
        PacketType::Hello => {
            if body.len() < 20 || !body.len().is_multiple_of(4) {
                return Err(bad_body);
            }
            let network_mask = reader.ipv4().ok_or(bad_body)?;
            let hello_interval = reader.u16().ok_or(bad_body)?;
            let options = Options(reader.u8().ok_or(bad_body)?);
            let router_priority = reader.u8().ok_or(bad_body)?;
            let router_dead_interval = reader.u32().ok_or(bad_body)?;
            let designated_router = reader.ipv4().ok_or(bad_body)?;
            let backup_designated_router = reader.ipv4().ok_or(bad_body)?;
            let mut neighbors = Vec::with_capacity(reader.remaining() / 4);
            while reader.remaining() > 0 {
                neighbors.push(reader.ipv4().ok_or(bad_body)?);
            }
            PacketBody::Hello(Hello {
                network_mask,
                hello_interval,
                options,
                router_priority,
                router_dead_interval,
                designated_router,
                backup_designated_router,
                neighbors,
            })
        }
        PacketType::DbDescription => {
            if body.len() < 8 || !(body.len() - 8).is_multiple_of(LSA_HEADER_LEN) {
                return Err(bad_body);
            }
            let interface_mtu = reader.u16().ok_or(bad_body)?;
            let options = Options(reader.u8().ok_or(bad_body)?);
            let flags = reader.u8().ok_or(bad_body)?;
            let dd_sequence_number = reader.u32().ok_or(bad_body)?;
            let lsa_headers = read_headers(&mut reader).ok_or(bad_body)?;
            PacketBody::DbDescription(DbDescription {
                interface_mtu,
                options,
                flags,
                dd_sequence_number,
                lsa_headers,
            })
        }
        PacketType::LsRequest => {
            if !body.len().is_multiple_of(12) {
                return Err(bad_body);
            }
            let mut entries = Vec::with_capacity(body.len() / 12);
            while reader.remaining() > 0 {
                entries.push(LsRequestEntry {
                    ls_type: reader.u32().ok_or(bad_body)?,
                    link_state_id: reader.ipv4().ok_or(bad_body)?,
                    advertising_router: reader.ipv4().ok_or(bad_body)?,
                });
            }
            PacketBody::LsRequest(LsRequest { entries })
        }
        PacketType::LsUpdate => PacketBody::LsUpdate(decode_ls_update(body, discarded_lsas)?),
        PacketType::LsAck => {
            if !body.len().is_multiple_of(LSA_HEADER_LEN) {
                return Err(bad_body);
            }
            PacketBody::LsAck(LsAck {
                lsa_headers: read_headers(&mut reader).ok_or(bad_body)?,
            })
        }
    })
}

fn read_headers(reader: &mut Reader<'_>) -> Option<Vec<LsaHeader>> {
    let mut headers = Vec::with_capacity(reader.remaining() / LSA_HEADER_LEN);
    while reader.remaining() > 0 {
        headers.push(LsaHeader::read(reader)?);
    }
    Some(headers)
}

/// Splits the LSAs of a Link State Update. A framing error (an LSA length that does not fit)
/// drops the whole packet because nothing after it can be located. An LSA that frames correctly
/// but fails its own checks is discarded alone.
fn decode_ls_update(
    body: &[u8],
    discarded_lsas: &mut Vec<LsaError>,
) -> Result<LsUpdate, PacketError> {
    let mut reader = Reader::new(body);
    let declared = reader.u32().ok_or(PacketError::BadBody {
        packet_type: PacketType::LsUpdate,
        len: body.len(),
    })?;
    let mut lsas = Vec::new();
    let mut found: u32 = 0;
    while reader.remaining() > 0 {
        let index = found as usize;
        let rest_len = reader.remaining();
        let header_bytes = reader
            .clone()
            .take(LSA_HEADER_LEN)
            .ok_or(PacketError::LsaFraming { index, length: 0 })?;
        let length = u16::from_be_bytes([header_bytes[18], header_bytes[19]]);
        if usize::from(length) < LSA_HEADER_LEN || usize::from(length) > rest_len {
            return Err(PacketError::LsaFraming { index, length });
        }
        let lsa_bytes = reader
            .take(usize::from(length))
            .ok_or(PacketError::LsaFraming { index, length })?;
        found += 1;
        match Lsa::decode(lsa_bytes) {
            Ok(lsa) => lsas.push(lsa),
            Err(error) => discarded_lsas.push(error),
        }
    }
    if found != declared {
        return Err(PacketError::LsaCount { declared, found });
    }
    Ok(LsUpdate { lsas })
}

pub(super) fn encode(body: &PacketBody, out: &mut Vec<u8>) {
    match body {
        PacketBody::Hello(hello) => {
            out.put_ipv4(hello.network_mask);
            out.put_u16(hello.hello_interval);
            out.put_u8(hello.options.0);
            out.put_u8(hello.router_priority);
            out.put_u32(hello.router_dead_interval);
            out.put_ipv4(hello.designated_router);
            out.put_ipv4(hello.backup_designated_router);
            for neighbor in &hello.neighbors {
                out.put_ipv4(*neighbor);
            }
        }
        PacketBody::DbDescription(dd) => {
            out.put_u16(dd.interface_mtu);
            out.put_u8(dd.options.0);
            out.put_u8(dd.flags);
            out.put_u32(dd.dd_sequence_number);
            for header in &dd.lsa_headers {
                header.encode(out);
            }
        }
        PacketBody::LsRequest(request) => {
            for entry in &request.entries {
                out.put_u32(entry.ls_type);
                out.put_ipv4(entry.link_state_id);
                out.put_ipv4(entry.advertising_router);
            }
        }
        PacketBody::LsUpdate(update) => {
            out.put_u32(update.lsas.len() as u32);
            for lsa in &update.lsas {
                out.extend_from_slice(lsa.raw());
            }
        }
        PacketBody::LsAck(ack) => {
            for header in &ack.lsa_headers {
                header.encode(out);
            }
        }
    }
}

impl LsRequestEntry {
    /// Returns the LS type when it names one (the wire field is 32 bits wide).
    pub fn ls_type(&self) -> Option<LsType> {
        u8::try_from(self.ls_type).ok().map(LsType)
    }
}
