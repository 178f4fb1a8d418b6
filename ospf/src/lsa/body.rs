//! Bodies of router, network, summary and AS-external LSAs (RFC 2328 A.4.2 to A.4.5).

use std::net::Ipv4Addr;

use serde::Serialize;

use super::LsType;
use super::LsaError;
use crate::wire::{Reader, Writer};

/// The type of a router-LSA link (RFC 2328 A.4.2). Unknown values are kept and ignored by SPF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RouterLinkType(pub u8);

impl RouterLinkType {
    pub const POINT_TO_POINT: RouterLinkType = RouterLinkType(1);
    pub const TRANSIT: RouterLinkType = RouterLinkType(2);
    pub const STUB: RouterLinkType = RouterLinkType(3);
    pub const VIRTUAL: RouterLinkType = RouterLinkType(4);
}

/// A TOS metric of a router-LSA link (TOS routing is obsolete; the entries are kept, unused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TosMetric {
    pub tos: u8,
    pub metric: u16,
}

/// One link of a router-LSA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterLink {
    pub link_id: Ipv4Addr,
    pub link_data: Ipv4Addr,
    pub link_type: RouterLinkType,
    pub metric: u16,
    pub tos: Vec<TosMetric>,
}

/// The body of a router-LSA (RFC 2328 A.4.2).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |    0    |V|E|B|        0      |            # links            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Link ID                              |
/// |                         Link Data                             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     # TOS     |            metric             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      TOS      |        0      |          TOS  metric          |  (# TOS times)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterLsa {
    /// V (0x04), E (0x02) and B (0x01) bits.
    pub flags: u8,
    pub links: Vec<RouterLink>,
}

impl RouterLsa {
    pub const FLAG_V: u8 = 0x04;
    pub const FLAG_E: u8 = 0x02;
    pub const FLAG_B: u8 = 0x01;

    pub(super) fn decode(body: &[u8]) -> Result<RouterLsa, LsaError> {
        let bad_body = LsaError::BadBody {
            ls_type: LsType::ROUTER,
            len: body.len(),
        };
        let mut reader = Reader::new(body);
        let flags = reader.u8().ok_or(bad_body)?;
        let _reserved = reader.u8().ok_or(bad_body)?;
        let declared = reader.u16().ok_or(bad_body)?;

        let mut links = Vec::with_capacity(usize::from(declared).min(body.len() / 12));
        while reader.remaining() > 0 {
            let link = RouterLink::read(&mut reader).ok_or(bad_body)?;
            links.push(link);
        }
        let found = links.len();
        if found != usize::from(declared) {
            let found = u16::try_from(found).unwrap_or(u16::MAX);
            return Err(LsaError::RouterLinkCount { declared, found });
        }
        Ok(RouterLsa { flags, links })
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.put_u8(self.flags);
        out.put_u8(0);
        out.put_u16(self.links.len() as u16);
        for link in &self.links {
            out.put_ipv4(link.link_id);
            out.put_ipv4(link.link_data);
            out.put_u8(link.link_type.0);
            out.put_u8(link.tos.len() as u8);
            out.put_u16(link.metric);
            for tos in &link.tos {
                out.put_u8(tos.tos);
                out.put_u8(0);
                out.put_u16(tos.metric);
            }
        }
    }
}

impl RouterLink {
    fn read(reader: &mut Reader<'_>) -> Option<RouterLink> {
        let link_id = reader.ipv4()?;
        let link_data = reader.ipv4()?;
        let link_type = RouterLinkType(reader.u8()?);
        let tos_count = reader.u8()?;
        let metric = reader.u16()?;
        let mut tos = Vec::new();
        for _ in 0..tos_count {
            let value = reader.u8()?;
            let _reserved = reader.u8()?;
            tos.push(TosMetric {
                tos: value,
                metric: reader.u16()?,
            });
        }
        Some(RouterLink {
            link_id,
            link_data,
            link_type,
            metric,
            tos,
        })
    }
}

/// The body of a network-LSA (RFC 2328 A.4.3): the network mask and the routers attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkLsa {
    pub network_mask: Ipv4Addr,
    pub attached_routers: Vec<Ipv4Addr>,
}

impl NetworkLsa {
    pub(super) fn decode(body: &[u8]) -> Option<NetworkLsa> {
        if !body.len().is_multiple_of(4) {
            return None;
        }
        let mut reader = Reader::new(body);
        let network_mask = reader.ipv4()?;
        let mut attached_routers = Vec::with_capacity(body.len() / 4);
        while reader.remaining() > 0 {
            attached_routers.push(reader.ipv4()?);
        }
        Some(NetworkLsa {
            network_mask,
            attached_routers,
        })
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.put_ipv4(self.network_mask);
        for router in &self.attached_routers {
            out.put_ipv4(*router);
        }
    }
}

/// The body of a summary-LSA, type 3 or 4 (RFC 2328 A.4.4).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Network Mask                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      0        |                  metric                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     TOS       |                TOS  metric                    |  (repeated)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryLsa {
    pub network_mask: Ipv4Addr,
    /// 24-bit cost; 0xffffff (LSInfinity) means unreachable.
    pub metric: u32,
    /// Non-zero TOS entries as (TOS, 24-bit metric).
    pub tos: Vec<(u8, u32)>,
}

impl SummaryLsa {
    pub(super) fn decode(body: &[u8]) -> Option<SummaryLsa> {
        if body.len() < 8 || !body.len().is_multiple_of(4) {
            return None;
        }
        let mut reader = Reader::new(body);
        let network_mask = reader.ipv4()?;
        let _tos0 = reader.u8()?;
        let metric = reader.u24()?;
        let mut tos = Vec::new();
        while reader.remaining() > 0 {
            tos.push((reader.u8()?, reader.u24()?));
        }
        Some(SummaryLsa {
            network_mask,
            metric,
            tos,
        })
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.put_ipv4(self.network_mask);
        out.put_u8(0);
        out.put_u24(self.metric);
        for (tos, metric) in &self.tos {
            out.put_u8(*tos);
            out.put_u24(*metric);
        }
    }
}

/// A non-zero TOS entry of an AS-external-LSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExternalTos {
    pub metric_type2: bool,
    pub tos: u8,
    pub metric: u32,
    pub forwarding_address: Ipv4Addr,
    pub external_route_tag: u32,
}

/// The body of an AS-external-LSA (RFC 2328 A.4.5).
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Network Mask                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |E|     0       |                  metric                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Forwarding address                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      External Route Tag                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |E|    TOS      |                TOS  metric                    |  (repeated with
/// |                      Forwarding address                       |   forwarding address
/// |                      External Route Tag                       |   and tag)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsExternalLsa {
    pub network_mask: Ipv4Addr,
    /// E-bit: a type 2 metric, larger than any link-state path.
    pub metric_type2: bool,
    pub metric: u32,
    pub forwarding_address: Ipv4Addr,
    pub external_route_tag: u32,
    pub tos: Vec<ExternalTos>,
}

impl AsExternalLsa {
    pub(super) fn decode(body: &[u8]) -> Option<AsExternalLsa> {
        if body.len() < 16 || !(body.len() - 4).is_multiple_of(12) {
            return None;
        }
        let mut reader = Reader::new(body);
        let network_mask = reader.ipv4()?;
        let first = read_external_entry(&mut reader)?;
        let mut tos = Vec::new();
        while reader.remaining() > 0 {
            tos.push(read_external_entry(&mut reader)?);
        }
        Some(AsExternalLsa {
            network_mask,
            metric_type2: first.metric_type2,
            metric: first.metric,
            forwarding_address: first.forwarding_address,
            external_route_tag: first.external_route_tag,
            tos,
        })
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        out.put_ipv4(self.network_mask);
        let first = ExternalTos {
            metric_type2: self.metric_type2,
            tos: 0,
            metric: self.metric,
            forwarding_address: self.forwarding_address,
            external_route_tag: self.external_route_tag,
        };
        for entry in std::iter::once(&first).chain(&self.tos) {
            out.put_u8(u8::from(entry.metric_type2) << 7 | (entry.tos & 0x7f));
            out.put_u24(entry.metric);
            out.put_ipv4(entry.forwarding_address);
            out.put_u32(entry.external_route_tag);
        }
    }
}

fn read_external_entry(reader: &mut Reader<'_>) -> Option<ExternalTos> {
    let flags = reader.u8()?;
    Some(ExternalTos {
        metric_type2: flags & 0x80 != 0,
        tos: flags & 0x7f,
        metric: reader.u24()?,
        forwarding_address: reader.ipv4()?,
        external_route_tag: reader.u32()?,
    })
}
