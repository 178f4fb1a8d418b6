//! NLRI codec: IPv4 and IPv6 prefixes (RFC 4271 section 4.3, RFC 4760 section 5) and EVPN
//! routes, each optionally preceded by a 4-octet add-path identifier (RFC 7911 section 3).
//!
//! ```text
//! +--------------------------------+
//! | Path Identifier (4, add-path)  |
//! +--------------------------------+
//! | Length (1, bits)               |
//! +--------------------------------+
//! | Prefix (ceil(Length / 8))      |
//! +--------------------------------+
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use hna_evpn::{EvpnError, EvpnRoute};
use ipnet::{Ipv4Net, Ipv6Net};

use crate::message::{NlriList, PathNlri};
use crate::types::AfiSafi;

/// The reason an NLRI list could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NlriError {
    /// The prefixes cannot be delimited (overrun, or a prefix length above the family's maximum).
    Syntax,
    /// An EVPN route whose fields do not fit its type; the list cannot be trusted.
    Evpn(EvpnError),
}

fn path_id(buf: &[u8], pos: &mut usize, add_path: bool) -> Result<Option<u32>, NlriError> {
    if !add_path {
        return Ok(None);
    }
    let bytes = buf.get(*pos..*pos + 4).ok_or(NlriError::Syntax)?;
    *pos += 4;
    Ok(Some(u32::from_be_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3],
    ])))
}

/// Decodes IPv4 prefixes into `out`; trailing bits beyond each prefix length are cleared.
pub(crate) fn decode_ipv4(
    buf: &[u8],
    add_path: bool,
    out: &mut Vec<PathNlri<Ipv4Net>>,
) -> Result<(), NlriError> {
    let mut pos = 0;
    while pos < buf.len() {
        let path_id = path_id(buf, &mut pos, add_path)?;
        let len = *buf.get(pos).ok_or(NlriError::Syntax)?;
        if len > 32 {
            return Err(NlriError::Syntax);
        }
        let octets = (len as usize).div_ceil(8);
        let bytes = buf
            .get(pos + 1..pos + 1 + octets)
            .ok_or(NlriError::Syntax)?;
        pos += 1 + octets;
        let mut addr = [0u8; 4];
        addr[..octets].copy_from_slice(bytes);
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        let addr = Ipv4Addr::from(u32::from_be_bytes(addr) & mask);
        let prefix = Ipv4Net::new(addr, len).map_err(|_| NlriError::Syntax)?;
        out.push(PathNlri {
            path_id,
            nlri: prefix,
        });
    }
    Ok(())
}

/// Decodes IPv6 prefixes into `out`; trailing bits beyond each prefix length are cleared.
pub(crate) fn decode_ipv6(
    buf: &[u8],
    add_path: bool,
    out: &mut Vec<PathNlri<Ipv6Net>>,
) -> Result<(), NlriError> {
    let mut pos = 0;
    while pos < buf.len() {
        let path_id = path_id(buf, &mut pos, add_path)?;
        let len = *buf.get(pos).ok_or(NlriError::Syntax)?;
        if len > 128 {
            return Err(NlriError::Syntax);
        }
        let octets = (len as usize).div_ceil(8);
        let bytes = buf
            .get(pos + 1..pos + 1 + octets)
            .ok_or(NlriError::Syntax)?;
        pos += 1 + octets;
        let mut addr = [0u8; 16];
        addr[..octets].copy_from_slice(bytes);
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        let addr = Ipv6Addr::from(u128::from_be_bytes(addr) & mask);
        let prefix = Ipv6Net::new(addr, len).map_err(|_| NlriError::Syntax)?;
        out.push(PathNlri {
            path_id,
            nlri: prefix,
        });
    }
    Ok(())
}

/// Decodes EVPN routes into `out`. A route that is well formed but invalid (RFC 9136 section
/// 3.1) adds its reason to `invalid`, and decoding goes on with the next route. A route that
/// cannot be parsed at all fails the whole list.
pub(crate) fn decode_evpn(
    buf: &[u8],
    add_path: bool,
    out: &mut Vec<PathNlri<EvpnRoute>>,
    invalid: &mut Vec<EvpnError>,
) -> Result<(), NlriError> {
    let mut pos = 0;
    while pos < buf.len() {
        let path_id = path_id(buf, &mut pos, add_path)?;
        let rest = buf.get(pos..).ok_or(NlriError::Syntax)?;
        if rest.len() < 2 || rest.len() < 2 + rest[1] as usize {
            return Err(NlriError::Syntax);
        }
        let length = rest[1] as usize;
        pos += 2 + length;
        match EvpnRoute::decode_value(rest[0], &rest[2..2 + length]) {
            Ok(route) => {
                if let Err(e) = route.validate() {
                    invalid.push(e);
                }
                out.push(PathNlri {
                    path_id,
                    nlri: route,
                });
            }
            Err(e) if e.is_semantic() => invalid.push(e),
            Err(e) => return Err(NlriError::Evpn(e)),
        }
    }
    Ok(())
}

/// Decodes the NLRI of `afi_safi`; other families are kept opaque.
pub(crate) fn decode_list(
    afi_safi: AfiSafi,
    buf: &[u8],
    add_path: bool,
    invalid: &mut Vec<EvpnError>,
) -> Result<NlriList, NlriError> {
    match afi_safi {
        AfiSafi::IPV4_UNICAST => {
            let mut v = Vec::with_capacity(buf.len() / 4);
            decode_ipv4(buf, add_path, &mut v)?;
            Ok(NlriList::Ipv4(v))
        }
        AfiSafi::IPV6_UNICAST => {
            let mut v = Vec::with_capacity(buf.len() / 8);
            decode_ipv6(buf, add_path, &mut v)?;
            Ok(NlriList::Ipv6(v))
        }
        AfiSafi::L2VPN_EVPN => {
            let mut v = Vec::with_capacity(buf.len() / 36);
            decode_evpn(buf, add_path, &mut v, invalid)?;
            Ok(NlriList::Evpn(v))
        }
        _ => Ok(NlriList::Opaque(buf.to_vec())),
    }
}

/// Returns the encoded length of one IPv4 prefix.
pub fn ipv4_len(nlri: &PathNlri<Ipv4Net>, add_path: bool) -> usize {
    (if add_path { 4 } else { 0 }) + 1 + (nlri.nlri.prefix_len() as usize).div_ceil(8)
}

/// Returns the encoded length of one IPv6 prefix.
pub fn ipv6_len(nlri: &PathNlri<Ipv6Net>, add_path: bool) -> usize {
    (if add_path { 4 } else { 0 }) + 1 + (nlri.nlri.prefix_len() as usize).div_ceil(8)
}

/// Returns the encoded length of one EVPN route.
pub fn evpn_len(nlri: &PathNlri<EvpnRoute>, add_path: bool) -> usize {
    (if add_path { 4 } else { 0 }) + nlri.nlri.encoded_len()
}

/// Appends one IPv4 prefix; the path identifier is written as 0 when add-path is on and the
/// route has none.
pub fn encode_ipv4(nlri: &PathNlri<Ipv4Net>, add_path: bool, out: &mut Vec<u8>) {
    // A fixed-size append and a truncate cost less than a copy of variable length: the
    // identifier, length and whole address are appended, then the unused address octets cut.
    let len = nlri.nlri.prefix_len();
    let [a, b, c, d] = nlri.nlri.addr().octets();
    let unused = 4 - (len as usize).div_ceil(8);
    if add_path {
        let [i0, i1, i2, i3] = nlri.path_id.unwrap_or(0).to_be_bytes();
        out.extend_from_slice(&[i0, i1, i2, i3, len, a, b, c, d]);
    } else {
        out.extend_from_slice(&[len, a, b, c, d]);
    }
    out.truncate(out.len() - unused);
}

/// Appends one IPv6 prefix.
pub fn encode_ipv6(nlri: &PathNlri<Ipv6Net>, add_path: bool, out: &mut Vec<u8>) {
    if add_path {
        out.extend_from_slice(&nlri.path_id.unwrap_or(0).to_be_bytes());
    }
    let len = nlri.nlri.prefix_len();
    let mut buf = [0u8; 17];
    buf[0] = len;
    buf[1..].copy_from_slice(&nlri.nlri.addr().octets());
    out.extend_from_slice(&buf[..1 + (len as usize).div_ceil(8)]);
}

/// Appends one EVPN route.
pub fn encode_evpn(nlri: &PathNlri<EvpnRoute>, add_path: bool, out: &mut Vec<u8>) {
    if add_path {
        out.extend_from_slice(&nlri.path_id.unwrap_or(0).to_be_bytes());
    }
    nlri.nlri.encode(out);
}

/// Appends every route of `list`.
pub(crate) fn encode_list(list: &NlriList, add_path: bool, out: &mut Vec<u8>) {
    match list {
        NlriList::Ipv4(v) => v.iter().for_each(|n| encode_ipv4(n, add_path, out)),
        NlriList::Ipv6(v) => v.iter().for_each(|n| encode_ipv6(n, add_path, out)),
        NlriList::Evpn(v) => v.iter().for_each(|n| encode_evpn(n, add_path, out)),
        NlriList::Opaque(bytes) => out.extend_from_slice(bytes),
    }
}

/// Returns the encoded length of every route of `list`.
pub(crate) fn list_len(list: &NlriList, add_path: bool) -> usize {
    match list {
        NlriList::Ipv4(v) => v.iter().map(|n| ipv4_len(n, add_path)).sum(),
        NlriList::Ipv6(v) => v.iter().map(|n| ipv6_len(n, add_path)).sum(),
        NlriList::Evpn(v) => v.iter().map(|n| evpn_len(n, add_path)).sum(),
        NlriList::Opaque(bytes) => bytes.len(),
    }
}
