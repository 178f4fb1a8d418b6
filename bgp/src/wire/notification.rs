//! NOTIFICATION (RFC 4271 section 4.5, shutdown communication of RFC 9003) and ROUTE-REFRESH
//! (RFC 2918 section 3, RFC 7313 section 3.2) codecs.
//!
//! ```text
//! NOTIFICATION:  | Error code (1) | Error subcode (1) | Data (variable) |
//! ROUTE-REFRESH: | AFI (2) | Message Subtype (1) | SAFI (1) |
//! ```

use super::error::{
    DecodeError, DecodeErrorKind, error_code, header_subcode, route_refresh_subcode,
};
use super::{HEADER_LEN, cease_subcode};
use crate::message::{Notification, RouteRefresh};
use crate::types::AfiSafi;

pub(crate) fn decode_notification(body: &[u8]) -> Result<Notification, DecodeError> {
    match body {
        [code, subcode, data @ ..] => Ok(Notification {
            code: *code,
            subcode: *subcode,
            data: data.to_vec(),
        }),
        _ => Err(DecodeError::new(
            DecodeErrorKind::NotificationTooShort,
            error_code::MESSAGE_HEADER,
            header_subcode::BAD_MESSAGE_LENGTH,
            ((HEADER_LEN + body.len()) as u16).to_be_bytes().to_vec(),
        )),
    }
}

pub(crate) fn encode_notification(n: &Notification, out: &mut Vec<u8>) {
    out.push(n.code);
    out.push(n.subcode);
    out.extend_from_slice(&n.data);
}

/// Decodes a ROUTE-REFRESH; `message` is the whole message, which is the error's data.
pub(crate) fn decode_route_refresh(message: &[u8]) -> Result<RouteRefresh, DecodeError> {
    match message.get(HEADER_LEN..) {
        Some([a, b, subtype, safi]) => Ok(RouteRefresh {
            afi_safi: AfiSafi::new(u16::from_be_bytes([*a, *b]), *safi),
            subtype: *subtype,
        }),
        _ => Err(DecodeError::new(
            DecodeErrorKind::RouteRefreshLength,
            error_code::ROUTE_REFRESH_MESSAGE,
            route_refresh_subcode::INVALID_MESSAGE_LENGTH,
            message.to_vec(),
        )),
    }
}

pub(crate) fn encode_route_refresh(r: &RouteRefresh, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.afi_safi.afi.0.to_be_bytes());
    out.push(r.subtype);
    out.push(r.afi_safi.safi.0);
}

/// The maximum length of a shutdown communication (RFC 9003 section 2).
pub const MAX_SHUTDOWN_COMMUNICATION_LEN: usize = 255;

impl Notification {
    /// Builds a Cease NOTIFICATION with a shutdown communication (RFC 9003 section 2) for the
    /// Administrative Shutdown or Administrative Reset subcode. The message is cut to 255
    /// octets at a character boundary.
    pub fn with_shutdown_communication(subcode: u8, message: &str) -> Notification {
        let mut end = message.len().min(MAX_SHUTDOWN_COMMUNICATION_LEN);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let mut data = Vec::with_capacity(1 + end);
        data.push(end as u8);
        data.extend_from_slice(&message.as_bytes()[..end]);
        Notification {
            code: error_code::CEASE,
            subcode,
            data,
        }
    }

    /// Returns the shutdown communication of a Cease Administrative Shutdown or Reset, when the
    /// data contains a valid one (RFC 9003 section 2: a length octet, then UTF-8). A Hard Reset
    /// (RFC 8538 section 3) carries the original code, subcode and data, which FRR 8.4 sends
    /// when both sides negotiated graceful restart with the N bit; it is looked into as well.
    pub fn shutdown_communication(&self) -> Option<&str> {
        if self.code != error_code::CEASE {
            return None;
        }
        let (subcode, data) = match self.subcode {
            cease_subcode::HARD_RESET => match self.data.as_slice() {
                [error_code::CEASE, subcode, data @ ..] => (*subcode, data),
                _ => return None,
            },
            subcode => (subcode, self.data.as_slice()),
        };
        if !matches!(
            subcode,
            cease_subcode::ADMINISTRATIVE_SHUTDOWN | cease_subcode::ADMINISTRATIVE_RESET
        ) {
            return None;
        }
        let (&len, rest) = data.split_first()?;
        let text = rest.get(..len as usize)?;
        std::str::from_utf8(text).ok()
    }
}
