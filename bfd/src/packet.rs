//! BFD Control packets (RFC 5880 section 4): the model types, `decode` with the stateless
//! reception checks of section 6.8.6, and `encode`.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       My Discriminator                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Your Discriminator                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Desired Min TX Interval                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Required Min RX Interval                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Required Min Echo RX Interval                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Auth Len    |    Authentication Data...     |   (present when A is set)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The authentication section has one of two layouts (sections 4.2 to 4.4):
//!
//! ```text
//! Simple Password (type 1), Auth Len = 3 + password length (1 to 16 bytes):
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Auth Len    |  Auth Key ID  |  Password...  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!
//! Keyed MD5 and Meticulous Keyed MD5 (types 2, 3; Auth Len 24), Keyed SHA1 and
//! Meticulous Keyed SHA1 (types 4, 5; Auth Len 28):
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Auth Len    |  Auth Key ID  |   Reserved    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Auth Key/Digest (16 bytes MD5, 20 bytes SHA1)       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The protocol version this implementation speaks (RFC 5880 section 4.1).
pub const VERSION: u8 = 1;
/// Length of the mandatory section, in bytes.
pub const MANDATORY_LEN: usize = 24;
/// Largest packet this implementation encodes: the mandatory section plus a SHA1 section.
pub const MAX_PACKET_LEN: usize = MANDATORY_LEN + SHA1_AUTH_LEN as usize;
/// Auth Len of the keyed and meticulous keyed MD5 sections.
pub const MD5_AUTH_LEN: u8 = 24;
/// Auth Len of the keyed and meticulous keyed SHA1 sections.
pub const SHA1_AUTH_LEN: u8 = 28;
/// Maximum length of a simple password (RFC 5880 section 4.2).
pub const MAX_PASSWORD_LEN: usize = 16;

/// Session state as carried in the Sta field (RFC 5880 section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    AdminDown,
    Down,
    Init,
    Up,
}

impl State {
    fn from_bits(bits: u8) -> State {
        match bits & 0x03 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }

    fn bits(self) -> u8 {
        match self {
            State::AdminDown => 0,
            State::Down => 1,
            State::Init => 2,
            State::Up => 3,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            State::AdminDown => "AdminDown",
            State::Down => "Down",
            State::Init => "Init",
            State::Up => "Up",
        };
        f.write_str(name)
    }
}

/// Diagnostic code: the reason for the last change of the local session state (RFC 5880
/// section 4.1). Values 9 to 31 are unassigned and kept as `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Diagnostic {
    NoDiagnostic,
    ControlDetectionTimeExpired,
    EchoFunctionFailed,
    NeighborSignaledSessionDown,
    ForwardingPlaneReset,
    PathDown,
    ConcatenatedPathDown,
    AdministrativelyDown,
    ReverseConcatenatedPathDown,
    Other(u8),
}

impl Diagnostic {
    /// Maps the 5-bit Diag field to the code.
    pub fn from_code(code: u8) -> Diagnostic {
        match code & 0x1f {
            0 => Diagnostic::NoDiagnostic,
            1 => Diagnostic::ControlDetectionTimeExpired,
            2 => Diagnostic::EchoFunctionFailed,
            3 => Diagnostic::NeighborSignaledSessionDown,
            4 => Diagnostic::ForwardingPlaneReset,
            5 => Diagnostic::PathDown,
            6 => Diagnostic::ConcatenatedPathDown,
            7 => Diagnostic::AdministrativelyDown,
            8 => Diagnostic::ReverseConcatenatedPathDown,
            other => Diagnostic::Other(other),
        }
    }

    /// Returns the 5-bit Diag field value.
    pub fn code(self) -> u8 {
        match self {
            Diagnostic::NoDiagnostic => 0,
            Diagnostic::ControlDetectionTimeExpired => 1,
            Diagnostic::EchoFunctionFailed => 2,
            Diagnostic::NeighborSignaledSessionDown => 3,
            Diagnostic::ForwardingPlaneReset => 4,
            Diagnostic::PathDown => 5,
            Diagnostic::ConcatenatedPathDown => 6,
            Diagnostic::AdministrativelyDown => 7,
            Diagnostic::ReverseConcatenatedPathDown => 8,
            Diagnostic::Other(code) => code & 0x1f,
        }
    }
}

/// Authentication type (RFC 5880 section 4.1, Auth Type field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    SimplePassword,
    KeyedMd5,
    MeticulousKeyedMd5,
    KeyedSha1,
    MeticulousKeyedSha1,
}

impl AuthType {
    /// Maps the Auth Type field; 0 and 6 to 255 are reserved and return `None`.
    pub fn from_code(code: u8) -> Option<AuthType> {
        match code {
            1 => Some(AuthType::SimplePassword),
            2 => Some(AuthType::KeyedMd5),
            3 => Some(AuthType::MeticulousKeyedMd5),
            4 => Some(AuthType::KeyedSha1),
            5 => Some(AuthType::MeticulousKeyedSha1),
            _ => None,
        }
    }

    /// Returns the Auth Type field value.
    pub fn code(self) -> u8 {
        match self {
            AuthType::SimplePassword => 1,
            AuthType::KeyedMd5 => 2,
            AuthType::MeticulousKeyedMd5 => 3,
            AuthType::KeyedSha1 => 4,
            AuthType::MeticulousKeyedSha1 => 5,
        }
    }

    /// True for the types whose sequence number must grow with every packet (section 6.7.3).
    pub fn is_meticulous(self) -> bool {
        matches!(
            self,
            AuthType::MeticulousKeyedMd5 | AuthType::MeticulousKeyedSha1
        )
    }

    /// Length of the digest field in bytes, or `None` for the simple password.
    pub fn digest_len(self) -> Option<usize> {
        match self {
            AuthType::SimplePassword => None,
            AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => Some(16),
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => Some(20),
        }
    }
}

/// The authentication section of a Control packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthSection {
    /// Simple Password (section 4.2): the password in clear, 1 to 16 bytes.
    SimplePassword { key_id: u8, password: Vec<u8> },
    /// Keyed or meticulous keyed MD5 or SHA1 (sections 4.3 and 4.4). `digest` has 16 bytes for
    /// MD5 and 20 for SHA1.
    Digest {
        auth_type: AuthType,
        key_id: u8,
        sequence: u32,
        digest: Vec<u8>,
    },
}

impl AuthSection {
    /// Returns the Auth Type of this section.
    pub fn auth_type(&self) -> AuthType {
        match self {
            AuthSection::SimplePassword { .. } => AuthType::SimplePassword,
            AuthSection::Digest { auth_type, .. } => *auth_type,
        }
    }

    /// Returns the Auth Key ID of this section.
    pub fn key_id(&self) -> u8 {
        match self {
            AuthSection::SimplePassword { key_id, .. } | AuthSection::Digest { key_id, .. } => {
                *key_id
            }
        }
    }

    /// Returns the Auth Len field value for this section.
    pub fn auth_len(&self) -> usize {
        match self {
            AuthSection::SimplePassword { password, .. } => 3 + password.len(),
            AuthSection::Digest { auth_type, .. } => match auth_type.digest_len() {
                Some(16) => MD5_AUTH_LEN as usize,
                _ => SHA1_AUTH_LEN as usize,
            },
        }
    }
}

/// A decoded BFD Control packet (RFC 5880 section 4.1). Intervals are in the wire's unit,
/// microseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlPacket {
    pub diagnostic: Diagnostic,
    pub state: State,
    pub poll: bool,
    pub final_: bool,
    pub control_plane_independent: bool,
    pub demand: bool,
    pub detect_mult: u8,
    pub my_discriminator: u32,
    pub your_discriminator: u32,
    pub desired_min_tx_us: u32,
    pub required_min_rx_us: u32,
    pub required_min_echo_rx_us: u32,
    pub auth: Option<AuthSection>,
}

/// A reception check of RFC 5880 section 6.8.6 (or a malformed authentication section, section
/// 4) that a packet failed. Every variant means: discard the packet.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("payload of {len} bytes is shorter than the 24-byte mandatory section")]
    Truncated { len: usize },
    #[error("version {0} is not the supported version 1")]
    Version(u8),
    #[error("Length field {length} is below the minimum of {min} bytes")]
    LengthTooSmall { length: u8, min: u8 },
    #[error("Length field {length} exceeds the {payload}-byte UDP payload")]
    LengthExceedsPayload { length: u8, payload: usize },
    #[error("Detect Mult is zero")]
    ZeroDetectMult,
    #[error("Multipoint bit is set")]
    Multipoint,
    #[error("My Discriminator is zero")]
    ZeroMyDiscriminator,
    #[error("Your Discriminator is zero while the State field is {0}, not Down or AdminDown")]
    ZeroYourDiscriminator(State),
    #[error("Poll and Final bits are both set")]
    PollAndFinal,
    #[error("Auth Type {0} is reserved")]
    UnknownAuthType(u8),
    #[error("Auth Len {auth_len} is invalid for {auth_type:?} (section of {available} bytes)")]
    AuthLength {
        auth_type: AuthType,
        auth_len: u8,
        available: usize,
    },
}

/// Bit positions in the second byte (RFC 5880 section 4.1).
const FLAG_POLL: u8 = 0x20;
const FLAG_FINAL: u8 = 0x10;
const FLAG_CPI: u8 = 0x08;
const FLAG_AUTH: u8 = 0x04;
const FLAG_DEMAND: u8 = 0x02;
const FLAG_MULTIPOINT: u8 = 0x01;

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(slice) = bytes.get(at..at + 4) {
        word.copy_from_slice(slice);
    }
    u32::from_be_bytes(word)
}

impl ControlPacket {
    /// Decodes `payload`, a whole UDP payload, and applies the checks of RFC 5880 section 6.8.6
    /// that need no session state. They cover the version, Length, Detect Mult, Multipoint, My
    /// Discriminator, Your Discriminator zero outside Down and AdminDown, Poll with Final, and
    /// the form of the authentication section. Bytes after Length are ignored.
    pub fn decode(payload: &[u8]) -> Result<ControlPacket, DecodeError> {
        let Some(header) = payload.get(..MANDATORY_LEN) else {
            return Err(DecodeError::Truncated { len: payload.len() });
        };

        let version = header[0] >> 5;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let flags = header[1];
        let auth_present = flags & FLAG_AUTH != 0;
        let length = header[3];
        let min = if auth_present {
            MANDATORY_LEN as u8 + 2
        } else {
            MANDATORY_LEN as u8
        };
        if length < min {
            return Err(DecodeError::LengthTooSmall { length, min });
        }
        if usize::from(length) > payload.len() {
            return Err(DecodeError::LengthExceedsPayload {
                length,
                payload: payload.len(),
            });
        }
        let detect_mult = header[2];
        if detect_mult == 0 {
            return Err(DecodeError::ZeroDetectMult);
        }
        if flags & FLAG_MULTIPOINT != 0 {
            return Err(DecodeError::Multipoint);
        }
        let my_discriminator = be_u32(header, 4);
        if my_discriminator == 0 {
            return Err(DecodeError::ZeroMyDiscriminator);
        }
        let state = State::from_bits(flags >> 6);
        let your_discriminator = be_u32(header, 8);
        if your_discriminator == 0 && !matches!(state, State::Down | State::AdminDown) {
            return Err(DecodeError::ZeroYourDiscriminator(state));
        }
        let poll = flags & FLAG_POLL != 0;
        let final_ = flags & FLAG_FINAL != 0;
        if poll && final_ {
            return Err(DecodeError::PollAndFinal);
        }

        let auth = if auth_present {
            let section = payload
                .get(MANDATORY_LEN..usize::from(length))
                .unwrap_or_default();
            Some(decode_auth(section)?)
        } else {
            None
        };

        Ok(ControlPacket {
            diagnostic: Diagnostic::from_code(header[0]),
            state,
            poll,
            final_,
            control_plane_independent: flags & FLAG_CPI != 0,
            demand: flags & FLAG_DEMAND != 0,
            detect_mult,
            my_discriminator,
            your_discriminator,
            desired_min_tx_us: be_u32(header, 12),
            required_min_rx_us: be_u32(header, 16),
            required_min_echo_rx_us: be_u32(header, 20),
            auth,
        })
    }

    /// Returns the length of the encoded packet in bytes, which is the Length field.
    pub fn encoded_len(&self) -> usize {
        MANDATORY_LEN + self.auth.as_ref().map_or(0, AuthSection::auth_len)
    }

    /// Encodes the packet. A digest section is written as given: [`crate::auth`] fills in the
    /// digest afterwards.
    ///
    /// A simple password longer than 16 bytes is cut to 16 bytes; [`crate::Authentication`]
    /// rejects such keys before they reach the encoder.
    pub fn encode(&self) -> EncodedPacket {
        let mut out = EncodedPacket {
            bytes: [0; MAX_PACKET_LEN],
            len: 0,
        };
        let auth_len = self
            .auth
            .as_ref()
            .map_or(0, |auth| auth.auth_len().min(SHA1_AUTH_LEN as usize));
        let length = MANDATORY_LEN + auth_len;
        let buf = &mut out.bytes;

        buf[0] = (VERSION << 5) | self.diagnostic.code();
        let mut flags = self.state.bits() << 6;
        for (set, bit) in [
            (self.poll, FLAG_POLL),
            (self.final_, FLAG_FINAL),
            (self.control_plane_independent, FLAG_CPI),
            (self.auth.is_some(), FLAG_AUTH),
            (self.demand, FLAG_DEMAND),
        ] {
            if set {
                flags |= bit;
            }
        }
        buf[1] = flags;
        buf[2] = self.detect_mult;
        buf[3] = length as u8;
        buf[4..8].copy_from_slice(&self.my_discriminator.to_be_bytes());
        buf[8..12].copy_from_slice(&self.your_discriminator.to_be_bytes());
        buf[12..16].copy_from_slice(&self.desired_min_tx_us.to_be_bytes());
        buf[16..20].copy_from_slice(&self.required_min_rx_us.to_be_bytes());
        buf[20..24].copy_from_slice(&self.required_min_echo_rx_us.to_be_bytes());

        match &self.auth {
            None => {}
            Some(AuthSection::SimplePassword { key_id, password }) => {
                let password = &password[..password.len().min(MAX_PASSWORD_LEN)];
                buf[24] = AuthType::SimplePassword.code();
                buf[25] = (3 + password.len()) as u8;
                buf[26] = *key_id;
                buf[27..27 + password.len()].copy_from_slice(password);
            }
            Some(AuthSection::Digest {
                auth_type,
                key_id,
                sequence,
                digest,
            }) => {
                buf[24] = auth_type.code();
                buf[25] = auth_len as u8;
                buf[26] = *key_id;
                buf[27] = 0;
                buf[28..32].copy_from_slice(&sequence.to_be_bytes());
                let field = &mut buf[32..length];
                let copied = digest.len().min(field.len());
                field[..copied].copy_from_slice(&digest[..copied]);
            }
        }
        out.len = length;
        out
    }

    /// Returns the Desired Min TX Interval as a duration.
    pub fn desired_min_tx(&self) -> Duration {
        Duration::from_micros(u64::from(self.desired_min_tx_us))
    }

    /// Returns the Required Min RX Interval as a duration.
    pub fn required_min_rx(&self) -> Duration {
        Duration::from_micros(u64::from(self.required_min_rx_us))
    }
}

/// Decodes the authentication section, `section` being the bytes from Auth Type to Length.
fn decode_auth(section: &[u8]) -> Result<AuthSection, DecodeError> {
    let (Some(&type_code), Some(&auth_len)) = (section.first(), section.get(1)) else {
        // decode() checked Length >= 26 before calling, so both bytes exist.
        return Err(DecodeError::AuthLength {
            auth_type: AuthType::SimplePassword,
            auth_len: 0,
            available: section.len(),
        });
    };
    let auth_type =
        AuthType::from_code(type_code).ok_or(DecodeError::UnknownAuthType(type_code))?;
    let length_error = DecodeError::AuthLength {
        auth_type,
        auth_len,
        available: section.len(),
    };
    // Auth Len must cover exactly the bytes Length leaves for the section.
    if usize::from(auth_len) != section.len() {
        return Err(length_error);
    }
    match auth_type.digest_len() {
        None => {
            if !(4..=3 + MAX_PASSWORD_LEN).contains(&section.len()) {
                return Err(length_error);
            }
            Ok(AuthSection::SimplePassword {
                key_id: section[2],
                password: section[3..].to_vec(),
            })
        }
        Some(digest_len) => {
            if section.len() != 8 + digest_len {
                return Err(length_error);
            }
            Ok(AuthSection::Digest {
                auth_type,
                key_id: section[2],
                sequence: be_u32(section, 4),
                digest: section[8..].to_vec(),
            })
        }
    }
}

/// An encoded Control packet in a fixed buffer, so that transmitting allocates nothing.
#[derive(Clone, Copy)]
pub struct EncodedPacket {
    bytes: [u8; MAX_PACKET_LEN],
    len: usize,
}

impl EncodedPacket {
    /// Returns the packet's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.bytes[..self.len]
    }
}

impl fmt::Debug for EncodedPacket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncodedPacket({:02x?})", self.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ControlPacket {
        ControlPacket {
            diagnostic: Diagnostic::NoDiagnostic,
            state: State::Up,
            poll: false,
            final_: false,
            control_plane_independent: false,
            demand: false,
            detect_mult: 3,
            my_discriminator: 0x0a4a_b0de,
            your_discriminator: 0x6aff_7029,
            desired_min_tx_us: 300_000,
            required_min_rx_us: 300_000,
            required_min_echo_rx_us: 0,
            auth: None,
        }
    }

    #[test]
    fn encode_then_decode_round_trips_every_auth_layout() {
        let sections = [
            None,
            Some(AuthSection::SimplePassword {
                key_id: 2,
                password: b"secret".to_vec(),
            }),
            Some(AuthSection::Digest {
                auth_type: AuthType::MeticulousKeyedMd5,
                key_id: 7,
                sequence: 0xdead_beef,
                digest: vec![0x11; 16],
            }),
            Some(AuthSection::Digest {
                auth_type: AuthType::KeyedSha1,
                key_id: 255,
                sequence: 1,
                digest: vec![0x22; 20],
            }),
        ];
        for auth in sections {
            let packet = ControlPacket { auth, ..sample() };
            let encoded = packet.encode();
            assert_eq!(encoded.as_bytes().len(), packet.encoded_len());
            assert_eq!(ControlPacket::decode(encoded.as_bytes()), Ok(packet));
        }
    }

    #[test]
    fn decode_ignores_bytes_after_length() {
        let mut bytes = sample().encode().as_bytes().to_vec();
        bytes.extend_from_slice(&[0xff; 4]);
        assert_eq!(ControlPacket::decode(&bytes), Ok(sample()));
    }

    #[test]
    fn decode_rejects_auth_len_not_matching_length() {
        let packet = ControlPacket {
            auth: Some(AuthSection::SimplePassword {
                key_id: 1,
                password: b"abc".to_vec(),
            }),
            ..sample()
        };
        let mut bytes = packet.encode().as_bytes().to_vec();
        bytes[25] = 5;
        assert!(matches!(
            ControlPacket::decode(&bytes),
            Err(DecodeError::AuthLength { .. })
        ));
    }

    #[test]
    fn decode_rejects_md5_section_of_sha1_length() {
        let packet = ControlPacket {
            auth: Some(AuthSection::Digest {
                auth_type: AuthType::KeyedSha1,
                key_id: 1,
                sequence: 1,
                digest: vec![0; 20],
            }),
            ..sample()
        };
        let mut bytes = packet.encode().as_bytes().to_vec();
        bytes[24] = AuthType::KeyedMd5.code();
        assert!(matches!(
            ControlPacket::decode(&bytes),
            Err(DecodeError::AuthLength { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_valid_packet_round_trips(
            diagnostic in 0u8..32,
            state in 0u8..4,
            flags in 0u8..4,
            detect_mult in 1u8..,
            my_discriminator in 1u32..,
            your_discriminator: u32,
            intervals: (u32, u32, u32),
            key_id: u8,
            sequence: u32,
            auth_kind in 0usize..6,
            password in proptest::collection::vec(proptest::num::u8::ANY, 1..=16),
        ) {
            let state = State::from_bits(state);
            // Your Discriminator zero is only valid in Down and AdminDown.
            let your_discriminator = if matches!(state, State::Up | State::Init) { your_discriminator.max(1) } else { your_discriminator };
            let auth = match auth_kind {
                0 => None,
                1 => Some(AuthSection::SimplePassword { key_id, password }),
                kind => {
                    let auth_type = AuthType::from_code(kind as u8).expect("codes 2 to 5");
                    let digest = vec![0x5a; auth_type.digest_len().expect("digest type")];
                    Some(AuthSection::Digest { auth_type, key_id, sequence, digest })
                }
            };
            let packet = ControlPacket {
                diagnostic: Diagnostic::from_code(diagnostic),
                state,
                // Poll and Final are never both set in a valid packet.
                poll: flags == 1,
                final_: flags == 2,
                control_plane_independent: flags == 3,
                demand: flags == 3,
                detect_mult,
                my_discriminator,
                your_discriminator,
                desired_min_tx_us: intervals.0,
                required_min_rx_us: intervals.1,
                required_min_echo_rx_us: intervals.2,
                auth,
            };
            let encoded = packet.encode();
            proptest::prop_assert_eq!(encoded.as_bytes().len(), packet.encoded_len());
            proptest::prop_assert_eq!(ControlPacket::decode(encoded.as_bytes()), Ok(packet));
        }
    }

    #[test]
    fn diagnostic_codes_round_trip() {
        for code in 0..32u8 {
            assert_eq!(Diagnostic::from_code(code).code(), code);
        }
    }
}
