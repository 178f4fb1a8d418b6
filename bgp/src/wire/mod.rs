//! The BGP-4 wire codec: message header (RFC 4271 section 4.1), OPEN, UPDATE with RFC 7606
//! error handling, NOTIFICATION, KEEPALIVE and ROUTE-REFRESH. It owns no I/O: it takes and
//! returns bytes.
//!
//! ```text
//! +-----------------------------------------------+
//! |                 Marker (16 octets, all ones)  |
//! +-----------------------+-----------+-----------+
//! |     Length (2)        | Type (1)  |  body ... |
//! +-----------------------+-----------+-----------+
//! ```

mod attribute;
mod context;
mod error;
mod nlri;
mod notification;
mod open;
mod pack;
mod reader;
mod update;

pub use context::{MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, SessionContext};
pub use error::{
    DecodeError, DecodeErrorKind, EncodeError, UpdateAction, UpdateError, UpdateErrorKind,
    cease_subcode, error_code, header_subcode, open_subcode, route_refresh_subcode, update_subcode,
};
pub use pack::{UpdatePacker, pack_withdrawals};
pub use update::DecodedUpdate;

use crate::message::{Message, Notification, RouteRefresh};
use crate::types::AfiSafi;

/// The length of the message header.
pub const HEADER_LEN: usize = 19;

/// Message type codes.
pub mod message_type {
    pub const OPEN: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const NOTIFICATION: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ROUTE_REFRESH: u8 = 5;
}

/// A decoded message: an UPDATE comes with its RFC 7606 outcome.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedMessage {
    Open(crate::message::Open),
    Update(DecodedUpdate),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

impl DecodedMessage {
    /// Returns the message, dropping the UPDATE outcome.
    pub fn into_message(self) -> Message {
        match self {
            DecodedMessage::Open(o) => Message::Open(o),
            DecodedMessage::Update(u) => Message::Update(u.update),
            DecodedMessage::Notification(n) => Message::Notification(n),
            DecodedMessage::Keepalive => Message::Keepalive,
            DecodedMessage::RouteRefresh(r) => Message::RouteRefresh(r),
        }
    }
}

fn header_error(kind: DecodeErrorKind, subcode: u8, data: Vec<u8>) -> DecodeError {
    DecodeError::new(kind, error_code::MESSAGE_HEADER, subcode, data)
}

/// Checks the header at the start of `buf` and returns the whole message's length, or `None`
/// when fewer than 19 octets are buffered. A session splits its TCP stream with it.
pub fn frame_length(buf: &[u8], ctx: &SessionContext) -> Result<Option<usize>, DecodeError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    if header[..16].iter().any(|&b| b != 0xff) {
        return Err(header_error(
            DecodeErrorKind::BadMarker,
            header_subcode::CONNECTION_NOT_SYNCHRONIZED,
            Vec::new(),
        ));
    }
    let length = u16::from_be_bytes([header[16], header[17]]);
    let kind = header[18];
    let bad_length = || {
        header_error(
            DecodeErrorKind::BadLength(length),
            header_subcode::BAD_MESSAGE_LENGTH,
            length.to_be_bytes().to_vec(),
        )
    };
    // RFC 8654 section 3: OPEN and KEEPALIVE keep the 4096-octet limit.
    let max = match kind {
        message_type::OPEN | message_type::KEEPALIVE => MAX_MESSAGE_LEN,
        _ => ctx.max_message_len(),
    };
    let min = match kind {
        message_type::OPEN => 29,
        message_type::UPDATE => 23,
        message_type::NOTIFICATION => 21,
        message_type::KEEPALIVE => 19,
        // RFC 7313 section 5 gives a wrong ROUTE-REFRESH length its own error, sent on decode.
        message_type::ROUTE_REFRESH => 19,
        _ => {
            return Err(header_error(
                DecodeErrorKind::BadType(kind),
                header_subcode::BAD_MESSAGE_TYPE,
                vec![kind],
            ));
        }
    };
    let length_usize = length as usize;
    if length_usize < min
        || length_usize > max
        || (kind == message_type::KEEPALIVE && length_usize != 19)
    {
        return Err(bad_length());
    }
    Ok(Some(length_usize))
}

/// Decodes one whole message (`buf` is exactly one message, header included).
pub fn decode_message(buf: &[u8], ctx: &SessionContext) -> Result<DecodedMessage, DecodeError> {
    let length = match frame_length(buf, ctx)? {
        Some(length) => length,
        None => {
            return Err(header_error(
                DecodeErrorKind::BadLength(buf.len() as u16),
                header_subcode::BAD_MESSAGE_LENGTH,
                (buf.len() as u16).to_be_bytes().to_vec(),
            ));
        }
    };
    if length != buf.len() {
        return Err(header_error(
            DecodeErrorKind::BadLength(length as u16),
            header_subcode::BAD_MESSAGE_LENGTH,
            (length as u16).to_be_bytes().to_vec(),
        ));
    }
    let body = &buf[HEADER_LEN..];
    match buf[18] {
        message_type::OPEN => open::decode_open(body).map(DecodedMessage::Open),
        message_type::UPDATE => update::decode_update(body, ctx).map(DecodedMessage::Update),
        message_type::NOTIFICATION => {
            notification::decode_notification(body).map(DecodedMessage::Notification)
        }
        message_type::KEEPALIVE => Ok(DecodedMessage::Keepalive),
        _ => notification::decode_route_refresh(buf).map(DecodedMessage::RouteRefresh),
    }
}

impl Message {
    /// Returns the message type code.
    pub fn message_type(&self) -> u8 {
        match self {
            Message::Open(_) => message_type::OPEN,
            Message::Update(_) => message_type::UPDATE,
            Message::Notification(_) => message_type::NOTIFICATION,
            Message::Keepalive => message_type::KEEPALIVE,
            Message::RouteRefresh(_) => message_type::ROUTE_REFRESH,
        }
    }

    /// Appends the encoded message, header included, to `out`. Fails, leaving `out` as it was,
    /// when the message exceeds the session's maximum length.
    pub fn encode(&self, ctx: &SessionContext, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let max = match self {
            Message::Open(_) | Message::Keepalive => MAX_MESSAGE_LEN,
            _ => ctx.max_message_len(),
        };
        let start = out.len();
        out.extend_from_slice(&[0xff; 16]);
        out.extend_from_slice(&[0, 0, self.message_type()]);
        match self {
            Message::Open(open) => {
                if let Err(e) = open::encode_open(open, out) {
                    out.truncate(start);
                    return Err(e);
                }
            }
            Message::Update(u) => update::encode_update(u, ctx, out),
            Message::Notification(n) => notification::encode_notification(n, out),
            Message::Keepalive => {}
            Message::RouteRefresh(r) => notification::encode_route_refresh(r, out),
        }
        let length = out.len() - start;
        if length > max {
            out.truncate(start);
            return Err(EncodeError::TooLong { length, max });
        }
        out[start + 16..start + 18].copy_from_slice(&(length as u16).to_be_bytes());
        Ok(())
    }

    /// Returns the encoded message as a new buffer.
    pub fn to_bytes(&self, ctx: &SessionContext) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.encoded_len(ctx));
        self.encode(ctx, &mut out)?;
        Ok(out)
    }

    /// Returns the encoded length, header included, without encoding.
    pub fn encoded_len(&self, ctx: &SessionContext) -> usize {
        HEADER_LEN
            + match self {
                Message::Open(o) => {
                    let mut body = Vec::new();
                    let _ = open::encode_open(o, &mut body);
                    body.len()
                }
                Message::Update(u) => update::update_body_len(u, ctx),
                Message::Notification(n) => 2 + n.data.len(),
                Message::Keepalive => 0,
                Message::RouteRefresh(_) => 4,
            }
    }
}

/// Encodes the End-of-RIB marker of `afi_safi` (RFC 4724 section 2).
pub fn encode_end_of_rib(afi_safi: AfiSafi, ctx: &SessionContext, out: &mut Vec<u8>) {
    // An End-of-RIB is at most 30 octets, below every maximum.
    let _ = Message::Update(crate::message::Update::end_of_rib(afi_safi)).encode(ctx, out);
}
