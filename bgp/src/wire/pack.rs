//! Packing many routes that share their path attributes into as few UPDATE messages as the
//! session's maximum message length allows (4096 octets, or 65535 with RFC 8654).

use hna_evpn::EvpnRoute;
use ipnet::{Ipv4Net, Ipv6Net};

use super::attribute::{self, begin_mp_reach, begin_mp_unreach, encode_attributes, finish_mp};
use super::context::SessionContext;
use super::error::EncodeError;
use super::{HEADER_LEN, message_type, nlri};
use crate::message::{MpNextHop, NlriList, PathAttributes, PathNlri};
use crate::types::AfiSafi;

/// The field that carries the routes of a message.
enum Target {
    /// The NLRI field of an IPv4 unicast UPDATE (NEXT_HOP comes from the attributes).
    Ipv4Field,
    /// MP_REACH_NLRI of the family with this next hop.
    MpReach(MpNextHop),
}

/// Builds UPDATE messages for routes of one family that share one set of path attributes.
///
/// The attributes are encoded once; each `push_*` appends one route to the message under
/// construction and closes it first when the route would not fit. MP_REACH_NLRI is written
/// first in each message, as FRR 8.4 does.
pub struct UpdatePacker<'a> {
    ctx: &'a SessionContext,
    afi_safi: AfiSafi,
    target: Target,
    add_path: bool,
    attributes: Vec<u8>,
    max: usize,
    current: Vec<u8>,
    /// Offset of MP_REACH_NLRI in `current`.
    mp_start: usize,
    routes_in_current: usize,
    done: Vec<Vec<u8>>,
}

impl<'a> UpdatePacker<'a> {
    /// Starts packing routes of `afi_safi`. With `next_hop` the routes go into MP_REACH_NLRI;
    /// without it they go into the IPv4 NLRI field, which needs `afi_safi` IPv4 unicast and a
    /// NEXT_HOP in `attributes`.
    pub fn new(
        ctx: &'a SessionContext,
        attributes: &PathAttributes,
        afi_safi: AfiSafi,
        next_hop: Option<MpNextHop>,
    ) -> UpdatePacker<'a> {
        let mut encoded = Vec::with_capacity(attribute::attributes_len(attributes, ctx));
        encode_attributes(attributes, ctx, &mut encoded);
        let target = match next_hop {
            Some(nh) => Target::MpReach(nh),
            None => Target::Ipv4Field,
        };
        UpdatePacker {
            ctx,
            afi_safi,
            target,
            add_path: ctx.add_path(afi_safi),
            attributes: encoded,
            max: ctx.max_message_len(),
            current: Vec::new(),
            mp_start: 0,
            routes_in_current: 0,
            done: Vec::new(),
        }
    }

    fn open_message(&mut self) {
        let mut m = Vec::with_capacity(self.max);
        m.extend_from_slice(&[0xff; 16]);
        m.extend_from_slice(&[0, 0, message_type::UPDATE]);
        m.extend_from_slice(&[0, 0, 0, 0]);
        match &self.target {
            Target::Ipv4Field => m.extend_from_slice(&self.attributes),
            Target::MpReach(nh) => self.mp_start = begin_mp_reach(&mut m, self.afi_safi, nh),
        }
        self.current = m;
        self.routes_in_current = 0;
    }

    /// Returns the length the open message will have once closed.
    fn closed_len(&self) -> usize {
        match self.target {
            Target::Ipv4Field => self.current.len(),
            Target::MpReach(_) => self.current.len() + self.attributes.len(),
        }
    }

    fn close_message(&mut self) {
        if self.routes_in_current == 0 {
            return;
        }
        let mut m = std::mem::take(&mut self.current);
        let attrs_len = match self.target {
            Target::Ipv4Field => self.attributes.len(),
            Target::MpReach(_) => {
                finish_mp(&mut m, self.mp_start);
                m.extend_from_slice(&self.attributes);
                m.len() - HEADER_LEN - 4
            }
        };
        m[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&(attrs_len as u16).to_be_bytes());
        let length = m.len() as u16;
        m[16..18].copy_from_slice(&length.to_be_bytes());
        self.done.push(m);
        self.routes_in_current = 0;
    }

    fn push_with(
        &mut self,
        len: usize,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> Result<(), EncodeError> {
        if self.routes_in_current == 0 && self.current.is_empty() {
            self.open_message();
        }
        if self.closed_len() + len > self.max {
            if self.routes_in_current == 0 {
                return Err(EncodeError::TooLong {
                    length: self.closed_len() + len,
                    max: self.max,
                });
            }
            self.close_message();
            self.open_message();
            if self.closed_len() + len > self.max {
                return Err(EncodeError::TooLong {
                    length: self.closed_len() + len,
                    max: self.max,
                });
            }
        }
        write(&mut self.current);
        self.routes_in_current += 1;
        Ok(())
    }

    /// Adds an IPv4 prefix.
    pub fn push_ipv4(&mut self, route: &PathNlri<Ipv4Net>) -> Result<(), EncodeError> {
        let add_path = self.add_path;
        self.push_with(nlri::ipv4_len(route, add_path), |out| {
            nlri::encode_ipv4(route, add_path, out)
        })
    }

    /// Adds an IPv6 prefix.
    pub fn push_ipv6(&mut self, route: &PathNlri<Ipv6Net>) -> Result<(), EncodeError> {
        let add_path = self.add_path;
        self.push_with(nlri::ipv6_len(route, add_path), |out| {
            nlri::encode_ipv6(route, add_path, out)
        })
    }

    /// Adds an EVPN route.
    pub fn push_evpn(&mut self, route: &PathNlri<EvpnRoute>) -> Result<(), EncodeError> {
        let add_path = self.add_path;
        self.push_with(nlri::evpn_len(route, add_path), |out| {
            nlri::encode_evpn(route, add_path, out)
        })
    }

    /// Closes the last message and returns every message built, in order.
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        self.close_message();
        self.done
    }

    /// Returns the session context the packer encodes for.
    pub fn context(&self) -> &SessionContext {
        self.ctx
    }
}

/// Packs withdrawals of one family into UPDATE messages: IPv4 unicast in the Withdrawn Routes
/// field, the others in MP_UNREACH_NLRI.
pub fn pack_withdrawals(
    ctx: &SessionContext,
    afi_safi: AfiSafi,
    routes: &NlriList,
) -> Result<Vec<Vec<u8>>, EncodeError> {
    let max = ctx.max_message_len();
    let add_path = ctx.add_path(afi_safi);
    let mp = afi_safi != AfiSafi::IPV4_UNICAST;
    let mut done = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut count = 0usize;
    let mut mp_start = 0;

    let open = |current: &mut Vec<u8>, mp_start: &mut usize| {
        current.clear();
        current.extend_from_slice(&[0xff; 16]);
        current.extend_from_slice(&[0, 0, message_type::UPDATE, 0, 0]);
        if mp {
            current.extend_from_slice(&[0, 0]);
            *mp_start = begin_mp_unreach(current, afi_safi, false);
        }
    };
    let close = |current: &mut Vec<u8>, mp_start: usize, done: &mut Vec<Vec<u8>>| {
        let mut m = std::mem::take(current);
        if mp {
            finish_mp(&mut m, mp_start);
            let attrs_len = (m.len() - HEADER_LEN - 4) as u16;
            m[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&attrs_len.to_be_bytes());
        } else {
            let withdrawn_len = (m.len() - HEADER_LEN - 2) as u16;
            m[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&withdrawn_len.to_be_bytes());
            m.extend_from_slice(&[0, 0]);
        }
        let length = m.len() as u16;
        m[16..18].copy_from_slice(&length.to_be_bytes());
        done.push(m);
    };
    // Room reserved for the Total Path Attribute Length that an IPv4 withdrawal appends at close.
    let trailer = if mp { 0 } else { 2 };

    let mut push = |len: usize, write: &dyn Fn(&mut Vec<u8>)| -> Result<(), EncodeError> {
        if count == 0 && current.is_empty() {
            open(&mut current, &mut mp_start);
        }
        if current.len() + trailer + len > max {
            if count == 0 {
                return Err(EncodeError::TooLong {
                    length: current.len() + trailer + len,
                    max,
                });
            }
            close(&mut current, mp_start, &mut done);
            open(&mut current, &mut mp_start);
            count = 0;
        }
        write(&mut current);
        count += 1;
        Ok(())
    };
    match routes {
        NlriList::Ipv4(v) => {
            for r in v {
                push(nlri::ipv4_len(r, add_path), &|out| {
                    nlri::encode_ipv4(r, add_path, out)
                })?;
            }
        }
        NlriList::Ipv6(v) => {
            for r in v {
                push(nlri::ipv6_len(r, add_path), &|out| {
                    nlri::encode_ipv6(r, add_path, out)
                })?;
            }
        }
        NlriList::Evpn(v) => {
            for r in v {
                push(nlri::evpn_len(r, add_path), &|out| {
                    nlri::encode_evpn(r, add_path, out)
                })?;
            }
        }
        NlriList::Opaque(bytes) => {
            if !bytes.is_empty() {
                push(bytes.len(), &|out| out.extend_from_slice(bytes))?;
            }
        }
    }
    if count > 0 {
        close(&mut current, mp_start, &mut done);
    }
    Ok(done)
}
