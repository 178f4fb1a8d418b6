//! Path attribute codec with the per-attribute error handling of RFC 7606 section 7.
//!
//! ```text
//! +-----------------+-----------------+---------------------+-----------------+
//! | Attr. Flags (1) | Attr. Type (1)  | Length (1, or 2 with | Value           |
//! | O T P E         |                 | Extended Length)     |                 |
//! +-----------------+-----------------+---------------------+-----------------+
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use hna_evpn::{ExtendedCommunity, Label};

use super::context::SessionContext;
use super::error::{
    DecodeError, DecodeErrorKind, Outcome, UpdateErrorKind, error_code, update_subcode,
};
use super::nlri::{self, NlriError};
use super::reader::Reader;
use crate::message::{
    Aggregator, AsPath, AsSegment, AsSegmentType, Community, LargeCommunity, MpNextHop, MpReach,
    MpUnreach, Origin, PathAttributes, PmsiTunnel, RawAttribute, attr_flags, attr_type,
    pmsi_tunnel_type,
};
use crate::types::{AS_TRANS, AfiSafi};

/// The decoded attribute list of one UPDATE.
#[derive(Default)]
pub(crate) struct DecodedAttributes {
    pub(crate) attributes: PathAttributes,
    pub(crate) mp_reach: Option<MpReach>,
    pub(crate) mp_unreach: Option<MpUnreach>,
}

/// The action RFC 7606 section 7 prescribes for a malformed instance of an attribute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnError {
    Discard,
    Withdraw,
}

fn on_error(type_code: u8) -> OnError {
    match type_code {
        // RFC 7606 sections 7.6 and 7.7, RFC 6793 section 6, RFC 7607 section 2.
        attr_type::ATOMIC_AGGREGATE
        | attr_type::AGGREGATOR
        | attr_type::AS4_PATH
        | attr_type::AS4_AGGREGATOR => OnError::Discard,
        _ => OnError::Withdraw,
    }
}

/// The Optional and Transitive bits each known attribute must carry (RFC 4271 section 5 and
/// the attribute's RFC).
fn expected_flags(type_code: u8) -> Option<u8> {
    use attr_flags::{OPTIONAL, TRANSITIVE};
    use attr_type::*;
    Some(match type_code {
        ORIGIN | AS_PATH | NEXT_HOP | LOCAL_PREF | ATOMIC_AGGREGATE => TRANSITIVE,
        MULTI_EXIT_DISC | ORIGINATOR_ID | CLUSTER_LIST | MP_REACH_NLRI | MP_UNREACH_NLRI => {
            OPTIONAL
        }
        AGGREGATOR | COMMUNITIES | EXTENDED_COMMUNITIES | AS4_PATH | AS4_AGGREGATOR
        | PMSI_TUNNEL | LARGE_COMMUNITY | OTC => OPTIONAL | TRANSITIVE,
        _ => return None,
    })
}

fn u32_of(value: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(value).ok().map(u32::from_be_bytes)
}

fn decode_as_path(value: &[u8], four_octet: bool) -> Result<AsPath, UpdateErrorKind> {
    let width = if four_octet { 4 } else { 2 };
    let mut segments = Vec::new();
    let mut r = Reader::new(value);
    while !r.is_empty() {
        // RFC 7606 section 7.2: an unknown type, a zero count, an overrun or a lone trailing
        // octet make the whole path malformed.
        let kind = r.u8().ok_or(UpdateErrorKind::MalformedAsPath)?;
        let count = r.u8().ok_or(UpdateErrorKind::MalformedAsPath)? as usize;
        let segment_type = match kind {
            1 => AsSegmentType::Set,
            2 => AsSegmentType::Sequence,
            3 => AsSegmentType::ConfedSequence,
            4 => AsSegmentType::ConfedSet,
            _ => return Err(UpdateErrorKind::MalformedAsPath),
        };
        if count == 0 {
            return Err(UpdateErrorKind::MalformedAsPath);
        }
        let bytes = r
            .bytes(count * width)
            .ok_or(UpdateErrorKind::MalformedAsPath)?;
        let asns = if four_octet {
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        } else {
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
                .collect()
        };
        segments.push(AsSegment { segment_type, asns });
    }
    let path = AsPath { segments };
    if path.contains_as_zero() {
        return Err(UpdateErrorKind::AsZero);
    }
    Ok(path)
}

fn decode_aggregator(value: &[u8], four_octet: bool) -> Result<Aggregator, UpdateErrorKind> {
    let (asn, address) = match (value.len(), four_octet) {
        (6, false) => (
            u16::from_be_bytes([value[0], value[1]]) as u32,
            &value[2..6],
        ),
        (8, true) => (
            u32::from_be_bytes([value[0], value[1], value[2], value[3]]),
            &value[4..8],
        ),
        _ => return Err(UpdateErrorKind::AttributeLength),
    };
    if asn == 0 {
        return Err(UpdateErrorKind::AsZero);
    }
    Ok(Aggregator {
        asn,
        address: Ipv4Addr::new(address[0], address[1], address[2], address[3]),
    })
}

fn decode_pmsi(value: &[u8]) -> Result<PmsiTunnel, UpdateErrorKind> {
    if value.len() < 5 {
        return Err(UpdateErrorKind::AttributeLength);
    }
    let tunnel_type = value[1];
    let tunnel_identifier = value[5..].to_vec();
    // RFC 6514 section 5 defines types 0 to 7; FRR 8.4 rejects the others the same way.
    if tunnel_type > pmsi_tunnel_type::MLDP_MP2MP {
        return Err(UpdateErrorKind::PmsiTunnelType);
    }
    // Ingress replication carries the originating router's address (RFC 6514 section 5,
    // RFC 7432 section 11.2); no tunnel information carries nothing.
    let id_ok = match tunnel_type {
        pmsi_tunnel_type::INGRESS_REPLICATION => matches!(tunnel_identifier.len(), 4 | 16),
        pmsi_tunnel_type::NO_TUNNEL_INFORMATION => tunnel_identifier.is_empty(),
        _ => true,
    };
    if !id_ok {
        return Err(UpdateErrorKind::PmsiTunnelIdentifier);
    }
    Ok(PmsiTunnel {
        flags: value[0],
        tunnel_type,
        label: Label::from_bytes([value[2], value[3], value[4]]),
        tunnel_identifier,
    })
}

/// Decodes the value of one known, non-MP attribute into `attrs`.
fn decode_known(
    type_code: u8,
    value: &[u8],
    ctx: &SessionContext,
    attrs: &mut PathAttributes,
) -> Result<(), UpdateErrorKind> {
    use UpdateErrorKind::*;
    match type_code {
        attr_type::ORIGIN => {
            attrs.origin = Some(match value {
                [0] => Origin::Igp,
                [1] => Origin::Egp,
                [2] => Origin::Incomplete,
                [_] => return Err(InvalidOrigin),
                _ => return Err(AttributeLength),
            });
        }
        attr_type::AS_PATH => attrs.as_path = Some(decode_as_path(value, ctx.four_octet_as)?),
        attr_type::NEXT_HOP => {
            let addr = Ipv4Addr::from(u32_of(value).ok_or(AttributeLength)?);
            // RFC 4271 section 6.3 and RFC 7606 section 7.3: a next hop that cannot be an
            // interface address is semantically invalid.
            if addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast() {
                return Err(InvalidNextHop);
            }
            attrs.next_hop = Some(addr);
        }
        attr_type::MULTI_EXIT_DISC => attrs.med = Some(u32_of(value).ok_or(AttributeLength)?),
        attr_type::LOCAL_PREF => attrs.local_pref = Some(u32_of(value).ok_or(AttributeLength)?),
        attr_type::ATOMIC_AGGREGATE => {
            if !value.is_empty() {
                return Err(AttributeLength);
            }
            attrs.atomic_aggregate = true;
        }
        attr_type::AGGREGATOR => {
            attrs.aggregator = Some(decode_aggregator(value, ctx.four_octet_as)?)
        }
        attr_type::COMMUNITIES => {
            if value.is_empty() || !value.len().is_multiple_of(4) {
                return Err(AttributeLength);
            }
            attrs.communities = Some(
                value
                    .chunks_exact(4)
                    .map(|c| Community(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                    .collect(),
            );
        }
        attr_type::ORIGINATOR_ID => {
            attrs.originator_id = Some(Ipv4Addr::from(u32_of(value).ok_or(AttributeLength)?))
        }
        attr_type::CLUSTER_LIST => {
            if value.is_empty() || !value.len().is_multiple_of(4) {
                return Err(AttributeLength);
            }
            attrs.cluster_list = Some(
                value
                    .chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                    .collect(),
            );
        }
        attr_type::EXTENDED_COMMUNITIES => {
            if value.is_empty() || !value.len().is_multiple_of(8) {
                return Err(AttributeLength);
            }
            attrs.extended_communities = Some(
                value
                    .chunks_exact(8)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(c);
                        ExtendedCommunity::from_bytes(b)
                    })
                    .collect(),
            );
        }
        attr_type::AS4_PATH => {
            let path = decode_as_path(value, true)?;
            // RFC 6793 section 6: confederation segments in AS4_PATH make it malformed.
            if path.segments.iter().any(|s| {
                matches!(
                    s.segment_type,
                    AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet
                )
            }) {
                return Err(ConfederationInAs4Path);
            }
            attrs.as4_path = Some(path);
        }
        attr_type::AS4_AGGREGATOR => attrs.as4_aggregator = Some(decode_aggregator(value, true)?),
        attr_type::PMSI_TUNNEL => attrs.pmsi_tunnel = Some(decode_pmsi(value)?),
        attr_type::LARGE_COMMUNITY => {
            if value.is_empty() || !value.len().is_multiple_of(12) {
                return Err(AttributeLength);
            }
            attrs.large_communities = Some(
                value
                    .chunks_exact(12)
                    .map(|c| LargeCommunity {
                        global_administrator: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                        local_data_1: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                        local_data_2: u32::from_be_bytes([c[8], c[9], c[10], c[11]]),
                    })
                    .collect(),
            );
        }
        attr_type::OTC => attrs.otc = Some(u32_of(value).ok_or(AttributeLength)?),
        _ => {}
    }
    Ok(())
}

/// Removes a partly decoded attribute after an error, so that a discarded attribute is absent.
fn clear(type_code: u8, attrs: &mut PathAttributes) {
    match type_code {
        attr_type::ORIGIN => attrs.origin = None,
        attr_type::AS_PATH => attrs.as_path = None,
        attr_type::NEXT_HOP => attrs.next_hop = None,
        attr_type::MULTI_EXIT_DISC => attrs.med = None,
        attr_type::LOCAL_PREF => attrs.local_pref = None,
        attr_type::ATOMIC_AGGREGATE => attrs.atomic_aggregate = false,
        attr_type::AGGREGATOR => attrs.aggregator = None,
        attr_type::COMMUNITIES => attrs.communities = None,
        attr_type::ORIGINATOR_ID => attrs.originator_id = None,
        attr_type::CLUSTER_LIST => attrs.cluster_list = None,
        attr_type::EXTENDED_COMMUNITIES => attrs.extended_communities = None,
        attr_type::AS4_PATH => attrs.as4_path = None,
        attr_type::AS4_AGGREGATOR => attrs.as4_aggregator = None,
        attr_type::PMSI_TUNNEL => attrs.pmsi_tunnel = None,
        attr_type::LARGE_COMMUNITY => attrs.large_communities = None,
        attr_type::OTC => attrs.otc = None,
        _ => {}
    }
}

fn decode_next_hop(afi_safi: AfiSafi, bytes: &[u8]) -> Option<MpNextHop> {
    let known = matches!(
        afi_safi,
        AfiSafi::IPV4_UNICAST | AfiSafi::IPV6_UNICAST | AfiSafi::L2VPN_EVPN
    );
    if !known {
        return Some(MpNextHop::Opaque(bytes.to_vec()));
    }
    match bytes.len() {
        4 => Some(MpNextHop::Ipv4(Ipv4Addr::new(
            bytes[0], bytes[1], bytes[2], bytes[3],
        ))),
        16 | 32 => {
            let mut global = [0u8; 16];
            global.copy_from_slice(&bytes[..16]);
            let link_local = (bytes.len() == 32).then(|| {
                let mut ll = [0u8; 16];
                ll.copy_from_slice(&bytes[16..32]);
                Ipv6Addr::from(ll)
            });
            Some(MpNextHop::Ipv6 {
                global: Ipv6Addr::from(global),
                link_local,
            })
        }
        _ => None,
    }
}

fn nlri_failure(
    outcome: &mut Outcome,
    afi_safi: AfiSafi,
    type_code: u8,
    error: NlriError,
    raw: &[u8],
) {
    let kind = match error {
        NlriError::Syntax => UpdateErrorKind::MalformedNlri,
        NlriError::Evpn(e) => UpdateErrorKind::Evpn(e),
    };
    outcome.disable(afi_safi, type_code, kind, raw);
}

/// Decodes MP_REACH_NLRI (RFC 4760 section 3, RFC 7606 section 7.11).
///
/// ```text
/// | AFI (2) | SAFI (1) | Next Hop Length (1) | Next Hop | Reserved (1) | NLRI ... |
/// ```
fn decode_mp_reach(
    value: &[u8],
    raw: &[u8],
    ctx: &SessionContext,
    outcome: &mut Outcome,
) -> Result<Option<MpReach>, DecodeError> {
    let mut r = Reader::new(value);
    let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
        return Err(mp_too_short(raw));
    };
    let afi_safi = AfiSafi::new(afi, safi);
    let nh_len = r.u8();
    let nh = nh_len.and_then(|len| r.bytes(len as usize));
    let reserved = r.u8();
    let (Some(nh), Some(_)) = (nh, reserved) else {
        outcome.disable(
            afi_safi,
            attr_type::MP_REACH_NLRI,
            UpdateErrorKind::AttributeLength,
            raw,
        );
        return Ok(None);
    };
    let Some(next_hop) = decode_next_hop(afi_safi, nh) else {
        outcome.disable(
            afi_safi,
            attr_type::MP_REACH_NLRI,
            UpdateErrorKind::MpNextHopLength,
            raw,
        );
        return Ok(None);
    };
    let mut invalid = Vec::new();
    match nlri::decode_list(afi_safi, r.rest(), ctx.add_path(afi_safi), &mut invalid) {
        Ok(nlri) => {
            for e in invalid {
                outcome.withdraw(Some(attr_type::MP_REACH_NLRI), UpdateErrorKind::Evpn(e));
            }
            Ok(Some(MpReach {
                afi_safi,
                next_hop,
                nlri,
            }))
        }
        Err(e) => {
            nlri_failure(outcome, afi_safi, attr_type::MP_REACH_NLRI, e, raw);
            Ok(None)
        }
    }
}

/// Decodes MP_UNREACH_NLRI (RFC 4760 section 4): AFI (2), SAFI (1), withdrawn routes.
fn decode_mp_unreach(
    value: &[u8],
    raw: &[u8],
    ctx: &SessionContext,
    outcome: &mut Outcome,
) -> Result<Option<MpUnreach>, DecodeError> {
    let mut r = Reader::new(value);
    let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
        return Err(mp_too_short(raw));
    };
    let afi_safi = AfiSafi::new(afi, safi);
    // A withdrawal needs only the route key, so an EVPN route invalid for RFC 9136 reasons is
    // still withdrawn; only unparseable NLRI are an error here.
    let mut invalid = Vec::new();
    match nlri::decode_list(afi_safi, r.rest(), ctx.add_path(afi_safi), &mut invalid) {
        Ok(nlri) => Ok(Some(MpUnreach { afi_safi, nlri })),
        Err(e) => {
            nlri_failure(outcome, afi_safi, attr_type::MP_UNREACH_NLRI, e, raw);
            Ok(None)
        }
    }
}

fn mp_too_short(raw: &[u8]) -> DecodeError {
    DecodeError::new(
        DecodeErrorKind::MpAttributeTooShort,
        error_code::UPDATE_MESSAGE,
        update_subcode::OPTIONAL_ATTRIBUTE_ERROR,
        raw.to_vec(),
    )
}

/// Decodes the path attributes of an UPDATE. Errors that leave the session up are recorded in
/// `outcome`; the `Err` ones require a NOTIFICATION.
pub(crate) fn decode_attributes(
    buf: &[u8],
    ctx: &SessionContext,
    outcome: &mut Outcome,
) -> Result<DecodedAttributes, DecodeError> {
    let mut out = DecodedAttributes::default();
    let mut seen = [0u64; 4];
    let mut pos = 0;

    while pos < buf.len() {
        // RFC 7606 section 4: an attribute header or value that overruns the total path
        // attribute length is treat-as-withdraw; the NLRI field is still found through the
        // total length, which the caller used to cut `buf`.
        let rest = &buf[pos..];
        let Some(&flags) = rest.first() else { break };
        let header_len = if flags & attr_flags::EXTENDED_LENGTH != 0 {
            4
        } else {
            3
        };
        if rest.len() < header_len {
            outcome.withdraw(None, UpdateErrorKind::AttributeOverrun);
            break;
        }
        let type_code = rest[1];
        let value_len = if header_len == 4 {
            u16::from_be_bytes([rest[2], rest[3]]) as usize
        } else {
            rest[2] as usize
        };
        let Some(value) = rest.get(header_len..header_len + value_len) else {
            outcome.withdraw(Some(type_code), UpdateErrorKind::AttributeOverrun);
            break;
        };
        let raw = &rest[..header_len + value_len];
        pos += header_len + value_len;

        // RFC 7606 section 3, items e and g: a repeated MP attribute ends the session, any
        // other repeated attribute is discarded.
        let (word, bit) = ((type_code / 64) as usize, 1u64 << (type_code % 64));
        let repeated = seen[word] & bit != 0;
        seen[word] |= bit;
        if repeated {
            if matches!(
                type_code,
                attr_type::MP_REACH_NLRI | attr_type::MP_UNREACH_NLRI
            ) {
                return Err(DecodeError::new(
                    DecodeErrorKind::DuplicateMpAttribute,
                    error_code::UPDATE_MESSAGE,
                    update_subcode::MALFORMED_ATTRIBUTE_LIST,
                    Vec::new(),
                ));
            }
            outcome.discard(type_code, UpdateErrorKind::Duplicate);
            continue;
        }

        let Some(expected) = expected_flags(type_code) else {
            decode_unknown(flags, type_code, value, raw, &mut out.attributes)?;
            continue;
        };
        // RFC 7606 section 3, item c: Optional or Transitive bits in conflict with the type
        // make the attribute malformed. The MP attributes are still parsed so that their
        // routes can be withdrawn.
        let flags_ok = flags & (attr_flags::OPTIONAL | attr_flags::TRANSITIVE) == expected;
        match type_code {
            attr_type::MP_REACH_NLRI => {
                out.mp_reach = decode_mp_reach(value, raw, ctx, outcome)?;
                if !flags_ok {
                    outcome.withdraw(Some(type_code), UpdateErrorKind::AttributeFlags);
                }
            }
            attr_type::MP_UNREACH_NLRI => {
                out.mp_unreach = decode_mp_unreach(value, raw, ctx, outcome)?;
                if !flags_ok {
                    outcome.withdraw(Some(type_code), UpdateErrorKind::AttributeFlags);
                }
            }
            _ => {
                let result = if flags_ok {
                    decode_known(type_code, value, ctx, &mut out.attributes)
                } else {
                    Err(UpdateErrorKind::AttributeFlags)
                };
                if let Err(kind) = result {
                    clear(type_code, &mut out.attributes);
                    match on_error(type_code) {
                        OnError::Discard => outcome.discard(type_code, kind),
                        OnError::Withdraw => outcome.withdraw(Some(type_code), kind),
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Handles an attribute type this codec does not decode (RFC 4271 section 5): a well-known one
/// ends the session, an optional transitive one is kept with Partial set, and an optional
/// non-transitive one is dropped.
fn decode_unknown(
    flags: u8,
    type_code: u8,
    value: &[u8],
    raw: &[u8],
    attrs: &mut PathAttributes,
) -> Result<(), DecodeError> {
    if flags & attr_flags::OPTIONAL == 0 {
        return Err(DecodeError::new(
            DecodeErrorKind::UnrecognizedWellKnownAttribute(type_code),
            error_code::UPDATE_MESSAGE,
            update_subcode::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
            raw.to_vec(),
        ));
    }
    if flags & attr_flags::TRANSITIVE != 0 {
        attrs.unknown.push(RawAttribute {
            flags: (flags | attr_flags::PARTIAL) & !attr_flags::EXTENDED_LENGTH,
            type_code,
            value: value.to_vec(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Appends an attribute header whose length is patched by `finish`.
struct AttrWriter {
    start: usize,
    extended: bool,
}

impl AttrWriter {
    /// Starts an attribute; `extended` forces the 2-octet length (the value can be longer).
    fn begin(out: &mut Vec<u8>, flags: u8, type_code: u8, extended: bool) -> AttrWriter {
        let start = out.len();
        if extended {
            out.extend_from_slice(&[flags | attr_flags::EXTENDED_LENGTH, type_code, 0, 0]);
        } else {
            out.extend_from_slice(&[flags, type_code, 0]);
        }
        AttrWriter { start, extended }
    }

    fn finish(self, out: &mut [u8]) {
        let header = if self.extended { 4 } else { 3 };
        let len = out.len() - self.start - header;
        if self.extended {
            out[self.start + 2..self.start + 4].copy_from_slice(&(len as u16).to_be_bytes());
        } else {
            out[self.start + 2] = len as u8;
        }
    }
}

/// Appends an attribute of known value length, with Extended Length when it needs it.
fn put_attr(
    out: &mut Vec<u8>,
    flags: u8,
    type_code: u8,
    value_len: usize,
    value: impl FnOnce(&mut Vec<u8>),
) {
    let w = AttrWriter::begin(out, flags, type_code, value_len > 255);
    value(out);
    w.finish(out);
}

fn as_path_len(path: &AsPath, width: usize) -> usize {
    path.segments
        .iter()
        .filter(|s| !s.asns.is_empty())
        .map(|s| s.asns.len().div_ceil(255) * 2 + s.asns.len() * width)
        .sum()
}

fn put_as_path(out: &mut Vec<u8>, path: &AsPath, four_octet: bool) {
    for segment in &path.segments {
        // A segment contains at most 255 AS numbers; a longer one is split into several of the
        // same type, which RFC 4271 section 9.2.2.1 reads as the same path.
        for chunk in segment.asns.chunks(255) {
            out.push(segment.segment_type as u8);
            out.push(chunk.len() as u8);
            for &asn in chunk {
                if four_octet {
                    out.extend_from_slice(&asn.to_be_bytes());
                } else {
                    let asn = u16::try_from(asn).unwrap_or(AS_TRANS as u16);
                    out.extend_from_slice(&asn.to_be_bytes());
                }
            }
        }
    }
}

fn put_aggregator(out: &mut Vec<u8>, aggregator: &Aggregator, four_octet: bool) {
    if four_octet {
        out.extend_from_slice(&aggregator.asn.to_be_bytes());
    } else {
        let asn = u16::try_from(aggregator.asn).unwrap_or(AS_TRANS as u16);
        out.extend_from_slice(&asn.to_be_bytes());
    }
    out.extend_from_slice(&aggregator.address.octets());
}

/// Appends the path attributes in the order FRR 8.4 sends them (ORIGIN, AS_PATH, NEXT_HOP, MED,
/// LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR, COMMUNITIES, LARGE_COMMUNITY, ORIGINATOR_ID,
/// CLUSTER_LIST, EXTENDED_COMMUNITIES, AS4_PATH, AS4_AGGREGATOR, PMSI_TUNNEL, OTC, then unknown
/// ones), so that FRR's messages re-encode byte for byte. AS_PATH always uses Extended Length,
/// as FRR does; the others only when the value exceeds 255 octets.
pub(crate) fn encode_attributes(attrs: &PathAttributes, ctx: &SessionContext, out: &mut Vec<u8>) {
    use attr_flags::{OPTIONAL, TRANSITIVE};
    let four = ctx.four_octet_as;

    if let Some(origin) = attrs.origin {
        out.extend_from_slice(&[TRANSITIVE, attr_type::ORIGIN, 1, origin as u8]);
    }
    if let Some(path) = &attrs.as_path {
        let w = AttrWriter::begin(out, TRANSITIVE, attr_type::AS_PATH, true);
        put_as_path(out, path, four);
        w.finish(out);
    }
    if let Some(nh) = attrs.next_hop {
        out.extend_from_slice(&[TRANSITIVE, attr_type::NEXT_HOP, 4]);
        out.extend_from_slice(&nh.octets());
    }
    if let Some(med) = attrs.med {
        out.extend_from_slice(&[OPTIONAL, attr_type::MULTI_EXIT_DISC, 4]);
        out.extend_from_slice(&med.to_be_bytes());
    }
    if let Some(lp) = attrs.local_pref {
        out.extend_from_slice(&[TRANSITIVE, attr_type::LOCAL_PREF, 4]);
        out.extend_from_slice(&lp.to_be_bytes());
    }
    if attrs.atomic_aggregate {
        out.extend_from_slice(&[TRANSITIVE, attr_type::ATOMIC_AGGREGATE, 0]);
    }
    if let Some(aggregator) = &attrs.aggregator {
        out.extend_from_slice(&[
            OPTIONAL | TRANSITIVE,
            attr_type::AGGREGATOR,
            if four { 8 } else { 6 },
        ]);
        put_aggregator(out, aggregator, four);
    }
    if let Some(communities) = &attrs.communities {
        put_attr(
            out,
            OPTIONAL | TRANSITIVE,
            attr_type::COMMUNITIES,
            communities.len() * 4,
            |out| {
                communities
                    .iter()
                    .for_each(|c| out.extend_from_slice(&c.0.to_be_bytes()))
            },
        );
    }
    if let Some(large) = &attrs.large_communities {
        put_attr(
            out,
            OPTIONAL | TRANSITIVE,
            attr_type::LARGE_COMMUNITY,
            large.len() * 12,
            |out| {
                for c in large {
                    out.extend_from_slice(&c.global_administrator.to_be_bytes());
                    out.extend_from_slice(&c.local_data_1.to_be_bytes());
                    out.extend_from_slice(&c.local_data_2.to_be_bytes());
                }
            },
        );
    }
    if let Some(id) = attrs.originator_id {
        out.extend_from_slice(&[OPTIONAL, attr_type::ORIGINATOR_ID, 4]);
        out.extend_from_slice(&id.octets());
    }
    if let Some(list) = &attrs.cluster_list {
        put_attr(
            out,
            OPTIONAL,
            attr_type::CLUSTER_LIST,
            list.len() * 4,
            |out| {
                list.iter()
                    .for_each(|id| out.extend_from_slice(&id.octets()))
            },
        );
    }
    if let Some(ext) = &attrs.extended_communities {
        put_attr(
            out,
            OPTIONAL | TRANSITIVE,
            attr_type::EXTENDED_COMMUNITIES,
            ext.len() * 8,
            |out| {
                ext.iter()
                    .for_each(|c| out.extend_from_slice(&c.to_bytes()))
            },
        );
    }
    if let Some(path) = &attrs.as4_path {
        put_attr(
            out,
            OPTIONAL | TRANSITIVE,
            attr_type::AS4_PATH,
            as_path_len(path, 4),
            |out| put_as_path(out, path, true),
        );
    }
    if let Some(aggregator) = &attrs.as4_aggregator {
        out.extend_from_slice(&[OPTIONAL | TRANSITIVE, attr_type::AS4_AGGREGATOR, 8]);
        put_aggregator(out, aggregator, true);
    }
    if let Some(pmsi) = &attrs.pmsi_tunnel {
        put_attr(
            out,
            OPTIONAL | TRANSITIVE,
            attr_type::PMSI_TUNNEL,
            5 + pmsi.tunnel_identifier.len(),
            |out| {
                out.push(pmsi.flags);
                out.push(pmsi.tunnel_type);
                out.extend_from_slice(&pmsi.label.to_bytes());
                out.extend_from_slice(&pmsi.tunnel_identifier);
            },
        );
    }
    if let Some(otc) = attrs.otc {
        out.extend_from_slice(&[OPTIONAL | TRANSITIVE, attr_type::OTC, 4]);
        out.extend_from_slice(&otc.to_be_bytes());
    }
    for raw in &attrs.unknown {
        let value = &raw.value[..raw.value.len().min(u16::MAX as usize)];
        put_attr(
            out,
            raw.flags & !attr_flags::EXTENDED_LENGTH,
            raw.type_code,
            value.len(),
            |out| out.extend_from_slice(value),
        );
    }
}

/// Returns the encoded length of `attrs` as `encode_attributes` writes them.
pub(crate) fn attributes_len(attrs: &PathAttributes, ctx: &SessionContext) -> usize {
    let hdr = |len: usize| if len > 255 { 4 + len } else { 3 + len };
    let four = ctx.four_octet_as;
    let mut n = 0;
    n += attrs.origin.map_or(0, |_| 4);
    n += attrs
        .as_path
        .as_ref()
        .map_or(0, |p| 4 + as_path_len(p, if four { 4 } else { 2 }));
    n += attrs.next_hop.map_or(0, |_| 7);
    n += attrs.med.map_or(0, |_| 7);
    n += attrs.local_pref.map_or(0, |_| 7);
    n += if attrs.atomic_aggregate { 3 } else { 0 };
    n += attrs.aggregator.map_or(0, |_| if four { 11 } else { 9 });
    n += attrs.communities.as_ref().map_or(0, |c| hdr(c.len() * 4));
    n += attrs
        .large_communities
        .as_ref()
        .map_or(0, |c| hdr(c.len() * 12));
    n += attrs.originator_id.map_or(0, |_| 7);
    n += attrs.cluster_list.as_ref().map_or(0, |c| hdr(c.len() * 4));
    n += attrs
        .extended_communities
        .as_ref()
        .map_or(0, |c| hdr(c.len() * 8));
    n += attrs
        .as4_path
        .as_ref()
        .map_or(0, |p| hdr(as_path_len(p, 4)));
    n += attrs.as4_aggregator.map_or(0, |_| 11);
    n += attrs
        .pmsi_tunnel
        .as_ref()
        .map_or(0, |p| hdr(5 + p.tunnel_identifier.len()));
    n += attrs.otc.map_or(0, |_| 7);
    n += attrs
        .unknown
        .iter()
        .map(|r| hdr(r.value.len().min(u16::MAX as usize)))
        .sum::<usize>();
    n
}

fn next_hop_bytes(nh: &MpNextHop) -> usize {
    match nh {
        MpNextHop::Ipv4(_) => 4,
        MpNextHop::Ipv6 {
            link_local: None, ..
        } => 16,
        MpNextHop::Ipv6 {
            link_local: Some(_),
            ..
        } => 32,
        MpNextHop::Opaque(b) => b.len().min(255),
    }
}

/// Returns the length of the MP_REACH_NLRI header and next hop, before its NLRI.
pub(crate) fn mp_reach_fixed_len(nh: &MpNextHop) -> usize {
    4 + 5 + next_hop_bytes(nh)
}

/// Starts MP_REACH_NLRI (always with Extended Length, as FRR 8.4 sends it) up to its NLRI; the
/// caller appends the NLRI and calls `finish_mp`.
pub(crate) fn begin_mp_reach(out: &mut Vec<u8>, afi_safi: AfiSafi, nh: &MpNextHop) -> usize {
    let start = out.len();
    AttrWriter::begin(out, attr_flags::OPTIONAL, attr_type::MP_REACH_NLRI, true);
    out.extend_from_slice(&afi_safi.afi.0.to_be_bytes());
    out.push(afi_safi.safi.0);
    out.push(next_hop_bytes(nh) as u8);
    match nh {
        MpNextHop::Ipv4(a) => out.extend_from_slice(&a.octets()),
        MpNextHop::Ipv6 { global, link_local } => {
            out.extend_from_slice(&global.octets());
            if let Some(ll) = link_local {
                out.extend_from_slice(&ll.octets());
            }
        }
        MpNextHop::Opaque(b) => out.extend_from_slice(&b[..b.len().min(255)]),
    }
    out.push(0);
    start
}

/// Starts MP_UNREACH_NLRI up to its routes. An empty one (End-of-RIB) uses the 1-octet length,
/// any other the 2-octet one, as FRR 8.4 does.
pub(crate) fn begin_mp_unreach(out: &mut Vec<u8>, afi_safi: AfiSafi, empty: bool) -> usize {
    let start = out.len();
    AttrWriter::begin(
        out,
        attr_flags::OPTIONAL,
        attr_type::MP_UNREACH_NLRI,
        !empty,
    );
    out.extend_from_slice(&afi_safi.afi.0.to_be_bytes());
    out.push(afi_safi.safi.0);
    start
}

/// Patches the length of an MP attribute started at `start`.
pub(crate) fn finish_mp(out: &mut [u8], start: usize) {
    let extended = out[start] & attr_flags::EXTENDED_LENGTH != 0;
    AttrWriter { start, extended }.finish(out);
}

pub(crate) fn encode_mp_reach(reach: &MpReach, ctx: &SessionContext, out: &mut Vec<u8>) {
    let start = begin_mp_reach(out, reach.afi_safi, &reach.next_hop);
    nlri::encode_list(&reach.nlri, ctx.add_path(reach.afi_safi), out);
    finish_mp(out, start);
}

pub(crate) fn encode_mp_unreach(unreach: &MpUnreach, ctx: &SessionContext, out: &mut Vec<u8>) {
    let start = begin_mp_unreach(out, unreach.afi_safi, unreach.nlri.is_empty());
    nlri::encode_list(&unreach.nlri, ctx.add_path(unreach.afi_safi), out);
    finish_mp(out, start);
}

pub(crate) fn mp_reach_len(reach: &MpReach, ctx: &SessionContext) -> usize {
    mp_reach_fixed_len(&reach.next_hop) + nlri::list_len(&reach.nlri, ctx.add_path(reach.afi_safi))
}

pub(crate) fn mp_unreach_len(unreach: &MpUnreach, ctx: &SessionContext) -> usize {
    if unreach.nlri.is_empty() {
        6
    } else {
        7 + nlri::list_len(&unreach.nlri, ctx.add_path(unreach.afi_safi))
    }
}
