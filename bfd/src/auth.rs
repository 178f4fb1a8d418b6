//! Authentication of Control packets (RFC 5880 section 6.7): simple password, keyed and
//! meticulous keyed MD5, keyed and meticulous keyed SHA1, with the sequence number window.

use std::fmt;

use md5::{Digest, Md5};
use sha1::Sha1;
use thiserror::Error;

use crate::counters::DropReason;
use crate::packet::{
    AuthSection, AuthType, ControlPacket, EncodedPacket, MANDATORY_LEN, MAX_PACKET_LEN,
    MAX_PASSWORD_LEN,
};

/// Offset of the digest inside an encoded packet: mandatory section, then Auth Type, Auth Len,
/// Auth Key ID, Reserved and the 4-byte Sequence Number.
const DIGEST_OFFSET: usize = MANDATORY_LEN + 8;

/// The authentication a session uses: one key with its Auth Key ID.
#[derive(Clone, PartialEq, Eq)]
pub struct Authentication {
    auth_type: AuthType,
    key_id: u8,
    key: Vec<u8>,
}

/// An authentication setting that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AuthConfigError {
    #[error("the authentication key is empty")]
    EmptyKey,
    #[error("a {auth_type:?} key has at most {max} bytes, this one has {len}")]
    KeyTooLong {
        auth_type: AuthType,
        len: usize,
        max: usize,
    },
}

impl Authentication {
    /// Creates the setting. A simple password has 1 to 16 bytes, an MD5 key 1 to 16 bytes and
    /// a SHA1 key 1 to 20 bytes. Shorter digest keys are padded with zeros (sections 6.7.3 and
    /// 6.7.4).
    pub fn new(
        auth_type: AuthType,
        key_id: u8,
        key: impl Into<Vec<u8>>,
    ) -> Result<Authentication, AuthConfigError> {
        let key = key.into();
        let max = auth_type.digest_len().unwrap_or(MAX_PASSWORD_LEN);
        if key.is_empty() {
            return Err(AuthConfigError::EmptyKey);
        }
        if key.len() > max {
            return Err(AuthConfigError::KeyTooLong {
                auth_type,
                len: key.len(),
                max,
            });
        }
        Ok(Authentication {
            auth_type,
            key_id,
            key,
        })
    }

    /// Returns the authentication type.
    pub fn auth_type(&self) -> AuthType {
        self.auth_type
    }

    /// Returns the Auth Key ID sent and expected.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }
}

impl fmt::Debug for Authentication {
    // The key stays out of logs and debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authentication")
            .field("auth_type", &self.auth_type)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Per-session authentication state: the configured key and the sequence numbers
/// bfd.XmitAuthSeq, bfd.RcvAuthSeq and bfd.AuthSeqKnown of RFC 5880 section 6.8.1.
#[derive(Clone, Debug)]
pub(crate) struct AuthState {
    config: Authentication,
    xmit_seq: u32,
    rcv_seq: u32,
    seq_known: bool,
}

impl AuthState {
    /// Creates the state; `initial_seq` should be random (section 6.8.1).
    pub(crate) fn new(config: Authentication, initial_seq: u32) -> AuthState {
        AuthState {
            config,
            xmit_seq: initial_seq,
            rcv_seq: 0,
            seq_known: false,
        }
    }

    /// Forgets the received sequence number, as section 6.8.1 requires after two Detection
    /// Times without a packet.
    pub(crate) fn forget_sequence(&mut self) {
        self.seq_known = false;
    }

    /// Returns the section to put in the next packet. The digest field contains the padded key
    /// until [`AuthState::sign`] replaces it. The sequence number grows with every packet, which
    /// the meticulous types require and the others allow.
    pub(crate) fn next_section(&mut self) -> AuthSection {
        let config = &self.config;
        match config.auth_type.digest_len() {
            None => AuthSection::SimplePassword {
                key_id: config.key_id,
                password: config.key.clone(),
            },
            Some(len) => {
                self.xmit_seq = self.xmit_seq.wrapping_add(1);
                AuthSection::Digest {
                    auth_type: config.auth_type,
                    key_id: config.key_id,
                    sequence: self.xmit_seq,
                    digest: padded_key(&config.key, len),
                }
            }
        }
    }

    /// Replaces the padded key in an encoded packet by the digest of the whole packet.
    pub(crate) fn sign(&self, packet: &mut EncodedPacket) {
        if let Some(len) = self.config.auth_type.digest_len() {
            let digest = compute_digest(self.config.auth_type, packet.as_bytes());
            if let Some(field) = packet
                .as_mut_bytes()
                .get_mut(DIGEST_OFFSET..DIGEST_OFFSET + len)
            {
                field.copy_from_slice(&digest[..len]);
            }
        }
    }

    /// Checks a received packet's authentication (sections 6.7.2 to 6.7.4, and the A bit
    /// checks of section 6.8.6). `raw` is the received payload that `packet` was decoded from.
    pub(crate) fn verify(&mut self, packet: &ControlPacket, raw: &[u8]) -> Result<(), DropReason> {
        let Some(section) = &packet.auth else {
            return Err(DropReason::AuthMissing);
        };
        let config = &self.config;
        if section.auth_type() != config.auth_type {
            return Err(DropReason::AuthTypeMismatch);
        }
        if section.key_id() != config.key_id {
            return Err(DropReason::AuthKeyId);
        }
        match section {
            AuthSection::SimplePassword { password, .. } => {
                if !constant_time_eq(password, &config.key) {
                    return Err(DropReason::AuthFailed);
                }
                Ok(())
            }
            AuthSection::Digest {
                sequence, digest, ..
            } => {
                if self.seq_known
                    && !sequence_in_window(
                        config.auth_type,
                        self.rcv_seq,
                        *sequence,
                        packet.detect_mult,
                    )
                {
                    return Err(DropReason::AuthSequence);
                }
                let Some(len) = config.auth_type.digest_len() else {
                    return Err(DropReason::AuthTypeMismatch);
                };
                let length = packet.encoded_len();
                let mut copy = [0u8; MAX_PACKET_LEN];
                let (Some(source), Some(target)) = (raw.get(..length), copy.get_mut(..length))
                else {
                    return Err(DropReason::BadLength);
                };
                target.copy_from_slice(source);
                let field = copy
                    .get_mut(DIGEST_OFFSET..DIGEST_OFFSET + len)
                    .ok_or(DropReason::BadLength)?;
                field.copy_from_slice(&padded_key(&config.key, len));
                let expected = compute_digest(config.auth_type, &copy[..length]);
                if !constant_time_eq(&expected[..len], digest) {
                    return Err(DropReason::AuthFailed);
                }
                self.rcv_seq = *sequence;
                self.seq_known = true;
                Ok(())
            }
        }
    }
}

/// Checks a sequence number as sections 6.7.3 and 6.7.4 require: within 3 x Detect Mult of the last
/// accepted number in circular 32-bit space, and strictly greater for the meticulous types.
fn sequence_in_window(auth_type: AuthType, last: u32, received: u32, detect_mult: u8) -> bool {
    let ahead = received.wrapping_sub(last);
    let window = 3 * u32::from(detect_mult);
    if auth_type.is_meticulous() {
        (1..=window).contains(&ahead)
    } else {
        ahead <= window
    }
}

fn padded_key(key: &[u8], len: usize) -> Vec<u8> {
    let mut padded = vec![0u8; len];
    let copied = key.len().min(len);
    padded[..copied].copy_from_slice(&key[..copied]);
    padded
}

fn compute_digest(auth_type: AuthType, bytes: &[u8]) -> Vec<u8> {
    match auth_type {
        AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => Md5::digest(bytes).to_vec(),
        AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => Sha1::digest(bytes).to_vec(),
        AuthType::SimplePassword => Vec::new(),
    }
}

/// Compares without an early exit, so the time taken does not tell how many bytes matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Diagnostic, State};

    fn packet() -> ControlPacket {
        ControlPacket {
            diagnostic: Diagnostic::NoDiagnostic,
            state: State::Down,
            poll: false,
            final_: false,
            control_plane_independent: false,
            demand: false,
            detect_mult: 3,
            my_discriminator: 1,
            your_discriminator: 0,
            desired_min_tx_us: 1_000_000,
            required_min_rx_us: 1_000_000,
            required_min_echo_rx_us: 0,
            auth: None,
        }
    }

    fn signed(sender: &mut AuthState) -> (ControlPacket, Vec<u8>) {
        let mut packet = packet();
        packet.auth = Some(sender.next_section());
        let mut encoded = packet.encode();
        sender.sign(&mut encoded);
        let bytes = encoded.as_bytes().to_vec();
        (
            ControlPacket::decode(&bytes).expect("signed packet decodes"),
            bytes,
        )
    }

    #[test]
    fn every_type_verifies_its_own_packets() {
        for auth_type in [
            AuthType::SimplePassword,
            AuthType::KeyedMd5,
            AuthType::MeticulousKeyedMd5,
            AuthType::KeyedSha1,
            AuthType::MeticulousKeyedSha1,
        ] {
            let config = Authentication::new(auth_type, 9, b"s3cret".to_vec()).unwrap();
            let mut sender = AuthState::new(config.clone(), 100);
            let mut receiver = AuthState::new(config, 0);
            for _ in 0..5 {
                let (packet, bytes) = signed(&mut sender);
                assert_eq!(receiver.verify(&packet, &bytes), Ok(()), "{auth_type:?}");
            }
        }
    }

    #[test]
    fn digest_over_modified_packet_fails() {
        let config = Authentication::new(AuthType::KeyedSha1, 1, b"key".to_vec()).unwrap();
        let mut sender = AuthState::new(config.clone(), 0);
        let mut receiver = AuthState::new(config, 0);
        let (_, mut bytes) = signed(&mut sender);
        bytes[2] = 4;
        let packet = ControlPacket::decode(&bytes).unwrap();
        assert_eq!(
            receiver.verify(&packet, &bytes),
            Err(DropReason::AuthFailed)
        );
    }

    #[test]
    fn wrong_key_or_key_id_is_rejected() {
        let mut sender = AuthState::new(
            Authentication::new(AuthType::KeyedMd5, 1, b"one".to_vec()).unwrap(),
            0,
        );
        let mut other_key = AuthState::new(
            Authentication::new(AuthType::KeyedMd5, 1, b"two".to_vec()).unwrap(),
            0,
        );
        let mut other_id = AuthState::new(
            Authentication::new(AuthType::KeyedMd5, 2, b"one".to_vec()).unwrap(),
            0,
        );
        let (packet, bytes) = signed(&mut sender);
        assert_eq!(
            other_key.verify(&packet, &bytes),
            Err(DropReason::AuthFailed)
        );
        assert_eq!(other_id.verify(&packet, &bytes), Err(DropReason::AuthKeyId));
    }

    #[test]
    fn meticulous_sequence_rejects_replay() {
        let config = Authentication::new(AuthType::MeticulousKeyedMd5, 1, b"k".to_vec()).unwrap();
        let mut sender = AuthState::new(config.clone(), u32::MAX - 1);
        let mut receiver = AuthState::new(config, 0);
        let (packet, bytes) = signed(&mut sender);
        assert_eq!(receiver.verify(&packet, &bytes), Ok(()));
        assert_eq!(
            receiver.verify(&packet, &bytes),
            Err(DropReason::AuthSequence)
        );
        // The next number wraps around zero and is accepted.
        let (packet, bytes) = signed(&mut sender);
        assert_eq!(receiver.verify(&packet, &bytes), Ok(()));
    }

    #[test]
    fn keyed_sequence_accepts_repeat_but_not_far_jump() {
        let config = Authentication::new(AuthType::KeyedSha1, 1, b"k".to_vec()).unwrap();
        let mut sender = AuthState::new(config.clone(), 10);
        let mut receiver = AuthState::new(config, 0);
        let (packet, bytes) = signed(&mut sender);
        assert_eq!(receiver.verify(&packet, &bytes), Ok(()));
        assert_eq!(receiver.verify(&packet, &bytes), Ok(()));
        // Detect Mult 3 allows at most 9 numbers ahead.
        sender.xmit_seq += 9;
        let (packet, bytes) = signed(&mut sender);
        assert_eq!(
            receiver.verify(&packet, &bytes),
            Err(DropReason::AuthSequence)
        );
        receiver.forget_sequence();
        assert_eq!(receiver.verify(&packet, &bytes), Ok(()));
    }

    #[test]
    fn key_length_limits_are_enforced() {
        assert_eq!(
            Authentication::new(AuthType::SimplePassword, 1, Vec::new()),
            Err(AuthConfigError::EmptyKey)
        );
        assert!(Authentication::new(AuthType::KeyedMd5, 1, vec![1; 17]).is_err());
        assert!(Authentication::new(AuthType::KeyedSha1, 1, vec![1; 20]).is_ok());
        assert!(Authentication::new(AuthType::SimplePassword, 1, vec![1; 17]).is_err());
    }
}
