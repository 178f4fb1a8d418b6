//! OPEN message and capability codec (RFC 4271 section 4.2, RFC 5492, RFC 9072).
//!
//! ```text
//! +---------+---------------+-----------+------------------+------------+-------------------+
//! | Version | My AS (2)     | Hold Time | BGP Identifier   | Opt Parm   | Optional          |
//! | (1)     |               | (2)       | (4)              | Len (1)    | Parameters        |
//! +---------+---------------+-----------+------------------+------------+-------------------+
//! Optional parameter:           | Parm. Type (1) | Parm. Length (1) | Parameter Value |
//! RFC 9072 (Opt Parm Len 255, then Non-Ext OP Type 255 and a 2-octet Extended Opt. Parm.
//! Length), each parameter then has a 2-octet length.
//! Capability (type 2 value):    | Capability Code (1) | Capability Length (1) | Value |
//! ```

use std::net::Ipv4Addr;

use super::error::{DecodeError, DecodeErrorKind, error_code, open_subcode};
use super::reader::Reader;
use crate::message::{
    AddPathDirection, AddPathFamily, Capability, GracefulRestart, GracefulRestartFamily,
    LlgrFamily, Open, capability_code,
};
use crate::types::AfiSafi;

const PARAM_CAPABILITIES: u8 = 2;
const PARAM_EXTENDED: u8 = 255;

fn open_error(kind: DecodeErrorKind, subcode: u8, data: Vec<u8>) -> DecodeError {
    DecodeError::new(kind, error_code::OPEN_MESSAGE, subcode, data)
}

/// Decodes the body of an OPEN message (the octets after the header).
pub(crate) fn decode_open(body: &[u8]) -> Result<Open, DecodeError> {
    let mut r = Reader::new(body);
    let too_short = || {
        open_error(
            DecodeErrorKind::OptionalParametersOverrun,
            open_subcode::UNSPECIFIC,
            Vec::new(),
        )
    };
    let version = r.u8().ok_or_else(too_short)?;
    let my_as = r.u16().ok_or_else(too_short)?;
    let hold_time = r.u16().ok_or_else(too_short)?;
    let bgp_identifier = Ipv4Addr::from(r.array::<4>().ok_or_else(too_short)?);
    let params_len = r.u8().ok_or_else(too_short)?;

    // Validate the fixed fields in the order of RFC 4271 section 6.2.
    if version != 4 {
        return Err(open_error(
            DecodeErrorKind::UnsupportedVersion(version),
            open_subcode::UNSUPPORTED_VERSION_NUMBER,
            4u16.to_be_bytes().to_vec(),
        ));
    }
    if my_as == 0 {
        // RFC 7607 section 2.
        return Err(open_error(
            DecodeErrorKind::BadPeerAs,
            open_subcode::BAD_PEER_AS,
            Vec::new(),
        ));
    }
    if hold_time == 1 || hold_time == 2 {
        return Err(open_error(
            DecodeErrorKind::UnacceptableHoldTime(hold_time),
            open_subcode::UNACCEPTABLE_HOLD_TIME,
            Vec::new(),
        ));
    }
    if bgp_identifier.is_unspecified() {
        return Err(open_error(
            DecodeErrorKind::BadBgpIdentifier,
            open_subcode::BAD_BGP_IDENTIFIER,
            Vec::new(),
        ));
    }

    // RFC 9072 section 2: a first parameter of type 255 marks the extended encoding.
    let rest = r.rest();
    let extended = params_len == PARAM_EXTENDED && rest.first() == Some(&PARAM_EXTENDED);
    let overrun = || {
        open_error(
            DecodeErrorKind::OptionalParametersOverrun,
            open_subcode::UNSPECIFIC,
            Vec::new(),
        )
    };
    let params = if extended {
        let mut er = Reader::new(&rest[1..]);
        let len = er.u16().ok_or_else(overrun)? as usize;
        if er.remaining() != len {
            return Err(overrun());
        }
        er.rest()
    } else {
        if rest.len() != params_len as usize {
            return Err(overrun());
        }
        rest
    };

    let mut capability_parameters = Vec::new();
    let mut pr = Reader::new(params);
    while !pr.is_empty() {
        let param_type = pr.u8().ok_or_else(overrun)?;
        let len = if extended {
            pr.u16().map(usize::from)
        } else {
            pr.u8().map(usize::from)
        };
        let value = len.and_then(|len| pr.bytes(len)).ok_or_else(overrun)?;
        if param_type != PARAM_CAPABILITIES {
            return Err(open_error(
                DecodeErrorKind::UnsupportedOptionalParameter(param_type),
                open_subcode::UNSUPPORTED_OPTIONAL_PARAMETER,
                Vec::new(),
            ));
        }
        capability_parameters.push(decode_capabilities(value)?);
    }

    Ok(Open {
        version,
        my_as,
        hold_time,
        bgp_identifier,
        capability_parameters,
        extended_parameters: extended,
    })
}

/// Decodes the capabilities of one Capabilities optional parameter.
fn decode_capabilities(value: &[u8]) -> Result<Vec<Capability>, DecodeError> {
    let overrun = || {
        open_error(
            DecodeErrorKind::CapabilityOverrun,
            open_subcode::UNSPECIFIC,
            Vec::new(),
        )
    };
    let mut out = Vec::new();
    let mut r = Reader::new(value);
    while !r.is_empty() {
        let code = r.u8().ok_or_else(overrun)?;
        let len = r.u8().ok_or_else(overrun)? as usize;
        let body = r.bytes(len).ok_or_else(overrun)?;
        let capability = decode_capability(code, body);
        if capability == Capability::FourOctetAs(0) {
            // RFC 7607 section 2: AS 0 as the peer's AS.
            return Err(open_error(
                DecodeErrorKind::FourOctetAsZero,
                open_subcode::BAD_PEER_AS,
                Vec::new(),
            ));
        }
        out.push(capability);
    }
    Ok(out)
}

fn afi_safi_at(b: &[u8]) -> AfiSafi {
    AfiSafi::new(u16::from_be_bytes([b[0], b[1]]), b[2])
}

/// Decodes one capability value; a known code whose value is not well formed stays `Unknown`
/// so that the OPEN still decodes and re-encodes exactly (RFC 5492 section 3 lets a speaker
/// ignore capabilities it does not understand).
fn decode_capability(code: u8, body: &[u8]) -> Capability {
    use capability_code::*;
    let unknown = || Capability::Unknown {
        code,
        value: body.to_vec(),
    };
    match code {
        MULTIPROTOCOL if body.len() == 4 && body[2] == 0 => Capability::Multiprotocol(
            AfiSafi::new(u16::from_be_bytes([body[0], body[1]]), body[3]),
        ),
        ROUTE_REFRESH if body.is_empty() => Capability::RouteRefresh,
        EXTENDED_MESSAGE if body.is_empty() => Capability::ExtendedMessage,
        ENHANCED_ROUTE_REFRESH if body.is_empty() => Capability::EnhancedRouteRefresh,
        FOUR_OCTET_AS if body.len() == 4 => {
            Capability::FourOctetAs(u32::from_be_bytes([body[0], body[1], body[2], body[3]]))
        }
        GRACEFUL_RESTART if body.len() >= 2 && (body.len() - 2).is_multiple_of(4) => {
            let head = u16::from_be_bytes([body[0], body[1]]);
            let families = body[2..]
                .chunks_exact(4)
                .map(|c| GracefulRestartFamily {
                    afi_safi: afi_safi_at(c),
                    flags: c[3],
                })
                .collect();
            Capability::GracefulRestart(GracefulRestart {
                restart_flags: (head >> 12) as u8,
                restart_time: head & 0x0fff,
                families,
            })
        }
        ADD_PATH if !body.is_empty() && body.len().is_multiple_of(4) => {
            let mut families = Vec::with_capacity(body.len() / 4);
            for c in body.chunks_exact(4) {
                let direction = match c[3] {
                    1 => AddPathDirection::Receive,
                    2 => AddPathDirection::Send,
                    3 => AddPathDirection::Both,
                    _ => return unknown(),
                };
                families.push(AddPathFamily {
                    afi_safi: afi_safi_at(c),
                    direction,
                });
            }
            Capability::AddPath(families)
        }
        LONG_LIVED_GRACEFUL_RESTART if body.len().is_multiple_of(7) => {
            Capability::LongLivedGracefulRestart(
                body.chunks_exact(7)
                    .map(|c| LlgrFamily {
                        afi_safi: afi_safi_at(c),
                        flags: c[3],
                        stale_time: u32::from_be_bytes([0, c[4], c[5], c[6]]),
                    })
                    .collect(),
            )
        }
        FQDN => decode_fqdn(body).unwrap_or_else(unknown),
        SOFTWARE_VERSION => {
            let mut r = Reader::new(body);
            let text = r
                .u8()
                .and_then(|len| r.bytes(len as usize))
                .filter(|_| r.is_empty());
            match text.map(std::str::from_utf8) {
                Some(Ok(version)) => Capability::SoftwareVersion(version.to_string()),
                _ => unknown(),
            }
        }
        _ => unknown(),
    }
}

fn decode_fqdn(body: &[u8]) -> Option<Capability> {
    let mut r = Reader::new(body);
    let hostname = r.u8().and_then(|len| r.bytes(len as usize))?;
    let domain_name = r.u8().and_then(|len| r.bytes(len as usize))?;
    if !r.is_empty() {
        return None;
    }
    Some(Capability::Fqdn {
        hostname: std::str::from_utf8(hostname).ok()?.to_string(),
        domain_name: std::str::from_utf8(domain_name).ok()?.to_string(),
    })
}

/// Appends the value of `capability` (without code and length).
fn encode_capability_value(capability: &Capability, out: &mut Vec<u8>) {
    let put_afi_safi = |out: &mut Vec<u8>, a: &AfiSafi| {
        out.extend_from_slice(&a.afi.0.to_be_bytes());
        out.push(a.safi.0);
    };
    match capability {
        Capability::Multiprotocol(a) => {
            out.extend_from_slice(&a.afi.0.to_be_bytes());
            out.push(0);
            out.push(a.safi.0);
        }
        Capability::RouteRefresh
        | Capability::ExtendedMessage
        | Capability::EnhancedRouteRefresh => {}
        Capability::GracefulRestart(gr) => {
            let head = ((gr.restart_flags as u16 & 0x0f) << 12) | (gr.restart_time & 0x0fff);
            out.extend_from_slice(&head.to_be_bytes());
            for f in &gr.families {
                put_afi_safi(out, &f.afi_safi);
                out.push(f.flags);
            }
        }
        Capability::FourOctetAs(asn) => out.extend_from_slice(&asn.to_be_bytes()),
        Capability::AddPath(families) => {
            for f in families {
                put_afi_safi(out, &f.afi_safi);
                out.push(match f.direction {
                    AddPathDirection::Receive => 1,
                    AddPathDirection::Send => 2,
                    AddPathDirection::Both => 3,
                });
            }
        }
        Capability::LongLivedGracefulRestart(families) => {
            for f in families {
                put_afi_safi(out, &f.afi_safi);
                out.push(f.flags);
                out.extend_from_slice(&f.stale_time.to_be_bytes()[1..4]);
            }
        }
        Capability::Fqdn {
            hostname,
            domain_name,
        } => {
            for text in [hostname, domain_name] {
                let bytes = &text.as_bytes()[..text.len().min(255)];
                out.push(bytes.len() as u8);
                out.extend_from_slice(bytes);
            }
        }
        Capability::SoftwareVersion(version) => {
            let bytes = &version.as_bytes()[..version.len().min(255)];
            out.push(bytes.len() as u8);
            out.extend_from_slice(bytes);
        }
        Capability::Unknown { value, .. } => out.extend_from_slice(value),
    }
}

/// Appends one capability with its code and length. A value longer than 255 octets (which a
/// decoded capability never has) is truncated to keep the length field truthful.
pub(crate) fn encode_capability(capability: &Capability, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(capability.code());
    out.push(0);
    encode_capability_value(capability, out);
    let len = (out.len() - start - 2).min(255);
    out.truncate(start + 2 + len);
    out[start + 1] = len as u8;
}

/// Appends the body of an OPEN message (the octets after the header).
pub(crate) fn encode_open(open: &Open, out: &mut Vec<u8>) -> Result<(), super::EncodeError> {
    out.push(open.version);
    out.extend_from_slice(&open.my_as.to_be_bytes());
    out.extend_from_slice(&open.hold_time.to_be_bytes());
    out.extend_from_slice(&open.bgp_identifier.octets());

    let mut params = Vec::new();
    let mut values = Vec::with_capacity(open.capability_parameters.len());
    for group in &open.capability_parameters {
        let mut value = Vec::new();
        for capability in group {
            encode_capability(capability, &mut value);
        }
        values.push(value);
    }
    let short_len: usize = values.iter().map(|v| 2 + v.len()).sum();
    let extended =
        open.extended_parameters || short_len > 255 || values.iter().any(|v| v.len() > 255);
    for value in &values {
        params.push(PARAM_CAPABILITIES);
        if extended {
            let len = u16::try_from(value.len())
                .map_err(|_| super::EncodeError::ParametersTooLong(value.len()))?;
            params.extend_from_slice(&len.to_be_bytes());
        } else {
            params.push(value.len() as u8);
        }
        params.extend_from_slice(value);
    }
    if extended {
        let len = u16::try_from(params.len())
            .map_err(|_| super::EncodeError::ParametersTooLong(params.len()))?;
        out.push(PARAM_EXTENDED);
        out.push(PARAM_EXTENDED);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(params.len() as u8);
    }
    out.extend_from_slice(&params);
    Ok(())
}
