//! Packet authentication (RFC 2328 appendix D): null, simple password, keyed MD5, and
//! HMAC-SHA-256 (RFC 5709).
//!
//! The cryptographic sequence number check needs per-neighbor state and is done by the
//! instance; this module signs and verifies single packets.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use serde::Serialize;
use sha2::Sha256;
use thiserror::Error;

use super::{AuthHeader, Decoded};

/// Length of a keyed-MD5 digest.
pub const MD5_DIGEST_LEN: usize = 16;
/// Length of an HMAC-SHA-256 digest.
pub const SHA256_DIGEST_LEN: usize = 32;

/// Apad of RFC 5709 section 3.3: 0x878FE1F3 repeated to the digest length, written where the
/// digest goes while the HMAC is computed.
const APAD_WORD: [u8; 4] = [0x87, 0x8f, 0xe1, 0xf3];

/// The authentication of one interface. `Debug` prints no key material.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Authentication {
    #[default]
    Null,
    /// Simple password, at most 8 bytes (padded with zeros).
    Simple { password: Vec<u8> },
    /// Keyed MD5 (RFC 2328 D.4.3), key of at most 16 bytes (padded with zeros).
    Md5 { key_id: u8, key: Vec<u8> },
    /// HMAC-SHA-256 (RFC 5709).
    HmacSha256 { key_id: u8, key: Vec<u8> },
}

impl fmt::Debug for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authentication::Null => write!(f, "Null"),
            Authentication::Simple { .. } => write!(f, "Simple"),
            Authentication::Md5 { key_id, .. } => write!(f, "Md5 {{ key_id: {key_id} }}"),
            Authentication::HmacSha256 { key_id, .. } => {
                write!(f, "HmacSha256 {{ key_id: {key_id} }}")
            }
        }
    }
}

/// The reason a packet failed authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthError {
    #[error("authentication type {found} differs from the configured {expected}")]
    TypeMismatch { expected: u16, found: u16 },
    #[error("simple password does not match")]
    BadPassword,
    #[error("key id {found} differs from the configured {expected}")]
    KeyIdMismatch { expected: u8, found: u8 },
    #[error("authentication data length {found} differs from the algorithm's {expected}")]
    BadDigestLength { expected: u8, found: u8 },
    #[error("the digest is missing after the packet")]
    MissingDigest,
    #[error("the digest does not match")]
    BadDigest,
}

impl Authentication {
    pub fn au_type(&self) -> u16 {
        match self {
            Authentication::Null => 0,
            Authentication::Simple { .. } => 1,
            Authentication::Md5 { .. } | Authentication::HmacSha256 { .. } => 2,
        }
    }

    /// Returns the header fields for a packet sent with cryptographic sequence `sequence`.
    pub fn header(&self, sequence: u32) -> AuthHeader {
        match self {
            Authentication::Null => AuthHeader::Null,
            Authentication::Simple { password } => AuthHeader::Simple(pad8(password)),
            Authentication::Md5 { key_id, .. } => AuthHeader::Cryptographic {
                key_id: *key_id,
                auth_data_len: MD5_DIGEST_LEN as u8,
                sequence,
            },
            Authentication::HmacSha256 { key_id, .. } => AuthHeader::Cryptographic {
                key_id: *key_id,
                auth_data_len: SHA256_DIGEST_LEN as u8,
                sequence,
            },
        }
    }

    /// Number of bytes the digest adds after the packet.
    pub fn trailer_len(&self) -> usize {
        match self {
            Authentication::Null | Authentication::Simple { .. } => 0,
            Authentication::Md5 { .. } => MD5_DIGEST_LEN,
            Authentication::HmacSha256 { .. } => SHA256_DIGEST_LEN,
        }
    }

    /// Appends the digest to `packet`, an encoded packet whose header was built by
    /// [`Authentication::header`]. Does nothing for null and simple authentication.
    pub fn append_digest(&self, packet: &mut Vec<u8>) {
        match self {
            Authentication::Null | Authentication::Simple { .. } => {}
            Authentication::Md5 { key, .. } => {
                let digest = md5_digest(packet, key);
                packet.extend_from_slice(&digest);
            }
            Authentication::HmacSha256 { key, .. } => {
                let digest = hmac_sha256_digest(packet, key);
                packet.extend_from_slice(&digest);
            }
        }
    }

    /// Verifies the authentication of a decoded packet, `buf` being the whole IP payload it was
    /// decoded from (RFC 2328 D.5). The cryptographic sequence number is left to the caller.
    pub fn verify(&self, buf: &[u8], decoded: &Decoded<'_>) -> Result<(), AuthError> {
        let found = decoded.packet.auth.au_type();
        if found != self.au_type() {
            return Err(AuthError::TypeMismatch {
                expected: self.au_type(),
                found,
            });
        }
        let length = usize::from(decoded.packet_length);
        match (self, decoded.packet.auth) {
            (Authentication::Null, _) => Ok(()),
            (Authentication::Simple { password }, AuthHeader::Simple(received)) => {
                if pad8(password) == received {
                    Ok(())
                } else {
                    Err(AuthError::BadPassword)
                }
            }
            (
                Authentication::Md5 { key_id, key },
                AuthHeader::Cryptographic {
                    key_id: received_id,
                    auth_data_len,
                    ..
                },
            ) => {
                check_crypto_fields(*key_id, received_id, MD5_DIGEST_LEN, auth_data_len)?;
                let received = buf
                    .get(length..length + MD5_DIGEST_LEN)
                    .ok_or(AuthError::MissingDigest)?;
                let expected = md5_digest(&buf[..length], key);
                if constant_time_eq(&expected, received) {
                    Ok(())
                } else {
                    Err(AuthError::BadDigest)
                }
            }
            (
                Authentication::HmacSha256 { key_id, key },
                AuthHeader::Cryptographic {
                    key_id: received_id,
                    auth_data_len,
                    ..
                },
            ) => {
                check_crypto_fields(*key_id, received_id, SHA256_DIGEST_LEN, auth_data_len)?;
                let received = buf
                    .get(length..length + SHA256_DIGEST_LEN)
                    .ok_or(AuthError::MissingDigest)?;
                let expected = hmac_sha256_digest(&buf[..length], key);
                if constant_time_eq(&expected, received) {
                    Ok(())
                } else {
                    Err(AuthError::BadDigest)
                }
            }
            _ => Err(AuthError::TypeMismatch {
                expected: self.au_type(),
                found,
            }),
        }
    }
}

fn check_crypto_fields(
    key_id: u8,
    received_id: u8,
    digest_len: usize,
    auth_data_len: u8,
) -> Result<(), AuthError> {
    if key_id != received_id {
        return Err(AuthError::KeyIdMismatch {
            expected: key_id,
            found: received_id,
        });
    }
    if usize::from(auth_data_len) != digest_len {
        return Err(AuthError::BadDigestLength {
            expected: digest_len as u8,
            found: auth_data_len,
        });
    }
    Ok(())
}

fn pad8(password: &[u8]) -> [u8; 8] {
    let mut padded = [0; 8];
    let len = password.len().min(8);
    padded[..len].copy_from_slice(&password[..len]);
    padded
}

/// MD5 over the packet followed by the key padded to 16 bytes (RFC 2328 D.4.3).
fn md5_digest(packet: &[u8], key: &[u8]) -> [u8; MD5_DIGEST_LEN] {
    let mut padded = [0u8; MD5_DIGEST_LEN];
    let len = key.len().min(MD5_DIGEST_LEN);
    padded[..len].copy_from_slice(&key[..len]);
    let mut hasher = Md5::new();
    hasher.update(packet);
    hasher.update(padded);
    hasher.finalize().into()
}

/// HMAC-SHA-256 over the packet followed by Apad (RFC 5709 section 3.3). A key longer than the
/// digest is first hashed to the digest length, as that section requires; shorter keys are
/// zero-padded by HMAC itself.
fn hmac_sha256_digest(packet: &[u8], key: &[u8]) -> [u8; SHA256_DIGEST_LEN] {
    let hashed;
    let key = if key.len() > SHA256_DIGEST_LEN {
        hashed = Sha256::digest(key);
        hashed.as_slice()
    } else {
        key
    };
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(packet);
    for _ in 0..SHA256_DIGEST_LEN / 4 {
        mac.update(&APAD_WORD);
    }
    mac.finalize().into_bytes().into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
