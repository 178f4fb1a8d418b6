//! UPDATE codec (RFC 4271 section 4.3) with the error handling of RFC 7606.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```

use super::attribute::{self, encode_attributes};
use super::context::SessionContext;
use super::error::{
    DecodeError, DecodeErrorKind, Outcome, UpdateAction, UpdateError, UpdateErrorKind, error_code,
    update_subcode,
};
use super::nlri;
use crate::message::{Update, attr_type};
use crate::types::AfiSafi;

/// A decoded UPDATE with the action the RFC 7606 rules chose for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedUpdate {
    /// The UPDATE without the attributes that were discarded or could not be parsed.
    pub update: Update,
    pub action: UpdateAction,
    /// Every malformation found, in the order found.
    pub errors: Vec<UpdateError>,
}

fn malformed_list(kind: DecodeErrorKind) -> DecodeError {
    DecodeError::new(
        kind,
        error_code::UPDATE_MESSAGE,
        update_subcode::MALFORMED_ATTRIBUTE_LIST,
        Vec::new(),
    )
}

fn invalid_network() -> DecodeError {
    DecodeError::new(
        DecodeErrorKind::InvalidNetworkField,
        error_code::UPDATE_MESSAGE,
        update_subcode::INVALID_NETWORK_FIELD,
        Vec::new(),
    )
}

/// Decodes the body of an UPDATE message (the octets after the header).
pub(crate) fn decode_update(
    body: &[u8],
    ctx: &SessionContext,
) -> Result<DecodedUpdate, DecodeError> {
    // Locate the three parts through their lengths (RFC 7606 section 3, item a).
    let withdrawn_len = match body {
        [a, b, ..] => u16::from_be_bytes([*a, *b]) as usize,
        _ => return Err(malformed_list(DecodeErrorKind::WithdrawnLengthOverrun)),
    };
    let withdrawn_buf = body
        .get(2..2 + withdrawn_len)
        .ok_or(malformed_list(DecodeErrorKind::WithdrawnLengthOverrun))?;
    let after = &body[2 + withdrawn_len..];
    let attrs_len = match after {
        [a, b, ..] => u16::from_be_bytes([*a, *b]) as usize,
        _ => return Err(malformed_list(DecodeErrorKind::AttributeLengthOverrun)),
    };
    let attrs_buf = after
        .get(2..2 + attrs_len)
        .ok_or(malformed_list(DecodeErrorKind::AttributeLengthOverrun))?;
    let nlri_buf = &after[2 + attrs_len..];

    // The IPv4 fields: a syntax error cannot be confined (RFC 7606 section 5.3).
    let add_path = ctx.add_path(AfiSafi::IPV4_UNICAST);
    let mut update = Update::default();
    nlri::decode_ipv4(withdrawn_buf, add_path, &mut update.withdrawn)
        .map_err(|_| invalid_network())?;
    update.nlri.reserve(nlri_buf.len() / 4);
    nlri::decode_ipv4(nlri_buf, add_path, &mut update.nlri).map_err(|_| invalid_network())?;

    let mut outcome = Outcome::default();
    let decoded = attribute::decode_attributes(attrs_buf, ctx, &mut outcome)?;
    update.attributes = decoded.attributes;
    update.mp_reach = decoded.mp_reach;
    update.mp_unreach = decoded.mp_unreach;

    // RFC 7606 section 3, item d: routes announced without a well-known mandatory attribute
    // are treat-as-withdraw. NEXT_HOP is mandatory only for the NLRI field (RFC 4760 section 3).
    // An attribute already found malformed is not reported a second time.
    if update.has_reachable() {
        let reported = |code: u8| outcome.errors.iter().any(|e| e.attribute == Some(code));
        let attrs = &update.attributes;
        let mut missing = Vec::new();
        if attrs.origin.is_none() && !reported(attr_type::ORIGIN) {
            missing.push(attr_type::ORIGIN);
        }
        if attrs.as_path.is_none() && !reported(attr_type::AS_PATH) {
            missing.push(attr_type::AS_PATH);
        }
        if !update.nlri.is_empty() && attrs.next_hop.is_none() && !reported(attr_type::NEXT_HOP) {
            missing.push(attr_type::NEXT_HOP);
        }
        for code in missing {
            outcome.withdraw(Some(code), UpdateErrorKind::MissingMandatory);
        }
    }

    let (action, errors) = outcome.action();
    Ok(DecodedUpdate {
        update,
        action,
        errors,
    })
}

/// Returns the encoded body length of `update` (without the 19-octet header).
pub(crate) fn update_body_len(update: &Update, ctx: &SessionContext) -> usize {
    let add_path = ctx.add_path(AfiSafi::IPV4_UNICAST);
    let withdrawn: usize = update
        .withdrawn
        .iter()
        .map(|n| nlri::ipv4_len(n, add_path))
        .sum();
    let nlri: usize = update
        .nlri
        .iter()
        .map(|n| nlri::ipv4_len(n, add_path))
        .sum();
    2 + withdrawn + 2 + attributes_total_len(update, ctx) + nlri
}

fn attributes_total_len(update: &Update, ctx: &SessionContext) -> usize {
    update
        .mp_reach
        .as_ref()
        .map_or(0, |r| attribute::mp_reach_len(r, ctx))
        + update
            .mp_unreach
            .as_ref()
            .map_or(0, |u| attribute::mp_unreach_len(u, ctx))
        + attribute::attributes_len(&update.attributes, ctx)
}

/// Appends the body of `update`: MP_REACH_NLRI and MP_UNREACH_NLRI come first, as FRR 8.4 sends
/// them, then the other attributes.
pub(crate) fn encode_update(update: &Update, ctx: &SessionContext, out: &mut Vec<u8>) {
    let add_path = ctx.add_path(AfiSafi::IPV4_UNICAST);

    let withdrawn_at = out.len();
    out.extend_from_slice(&[0, 0]);
    for n in &update.withdrawn {
        nlri::encode_ipv4(n, add_path, out);
    }
    let withdrawn_len = (out.len() - withdrawn_at - 2) as u16;
    out[withdrawn_at..withdrawn_at + 2].copy_from_slice(&withdrawn_len.to_be_bytes());

    let attrs_at = out.len();
    out.extend_from_slice(&[0, 0]);
    if let Some(reach) = &update.mp_reach {
        attribute::encode_mp_reach(reach, ctx, out);
    }
    if let Some(unreach) = &update.mp_unreach {
        attribute::encode_mp_unreach(unreach, ctx, out);
    }
    encode_attributes(&update.attributes, ctx, out);
    let attrs_len = (out.len() - attrs_at - 2) as u16;
    out[attrs_at..attrs_at + 2].copy_from_slice(&attrs_len.to_be_bytes());

    for n in &update.nlri {
        nlri::encode_ipv4(n, add_path, out);
    }
}
