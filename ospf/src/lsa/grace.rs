//! The grace-LSA of graceful restart (RFC 3623 appendix A): a link-local opaque LSA (LS type 9)
//! of opaque type 3 whose body is a list of TLVs.

use std::net::Ipv4Addr;

use serde::Serialize;
use thiserror::Error;

use super::LsaBody;
use crate::wire::{Reader, Writer};

/// Opaque type of the grace-LSA (RFC 3623 appendix A).
pub const OPAQUE_TYPE: u8 = 3;
/// Link State ID of every grace-LSA: opaque type 3 and opaque ID 0.
pub const LINK_STATE_ID: Ipv4Addr = Ipv4Addr::new(OPAQUE_TYPE, 0, 0, 0);

const TLV_GRACE_PERIOD: u16 = 1;
const TLV_RESTART_REASON: u16 = 2;
const TLV_INTERFACE_ADDRESS: u16 = 3;

/// The restart reason of a grace-LSA (RFC 3623 appendix A, TLV type 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartReason {
    Unknown,
    SoftwareRestart,
    SoftwareReloadOrUpgrade,
    SwitchToRedundantControlProcessor,
    /// A value RFC 3623 does not define, kept as received.
    Other(u8),
}

impl RestartReason {
    pub fn from_u8(value: u8) -> RestartReason {
        match value {
            0 => RestartReason::Unknown,
            1 => RestartReason::SoftwareRestart,
            2 => RestartReason::SoftwareReloadOrUpgrade,
            3 => RestartReason::SwitchToRedundantControlProcessor,
            other => RestartReason::Other(other),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            RestartReason::Unknown => 0,
            RestartReason::SoftwareRestart => 1,
            RestartReason::SoftwareReloadOrUpgrade => 2,
            RestartReason::SwitchToRedundantControlProcessor => 3,
            RestartReason::Other(other) => other,
        }
    }
}

/// The body of a grace-LSA.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |              Type             |             Length            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                            Value...                           |  (padded to 4 bytes)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
///  Type 1, grace period:           Length 4, seconds from the LSA's origination.
///  Type 2, graceful restart reason: Length 1, 0 unknown, 1 software restart,
///                                   2 software reload/upgrade, 3 switch to redundant processor.
///  Type 3, IP interface address:   Length 4, the restarting router's address on the link;
///                                   required on broadcast and NBMA links.
/// ```
///
/// TLVs of other types are skipped, as RFC 3623 appendix A requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GraceLsa {
    /// Seconds after the LSA's origination (LS age 0) at which the helper gives up.
    pub grace_period: u32,
    pub reason: RestartReason,
    pub interface_address: Option<Ipv4Addr>,
}

/// The reason a grace-LSA body was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum GraceLsaError {
    #[error("grace-LSA TLV header at byte {offset} is truncated")]
    TruncatedTlvHeader { offset: usize },
    #[error(
        "grace-LSA TLV of type {tlv_type} declares {length} bytes, beyond the {available} left"
    )]
    TruncatedTlvValue {
        tlv_type: u16,
        length: u16,
        available: usize,
    },
    #[error("grace-LSA TLV of type {tlv_type} has length {length}, expected {expected}")]
    BadTlvLength {
        tlv_type: u16,
        length: u16,
        expected: u16,
    },
    #[error("grace-LSA TLV of type {tlv_type} appears twice")]
    DuplicateTlv { tlv_type: u16 },
    #[error("grace-LSA has no grace period TLV")]
    MissingGracePeriod,
    #[error("grace-LSA has no graceful restart reason TLV")]
    MissingReason,
    #[error("LSA is not a grace-LSA (LS type 9, Link State ID 3.0.0.0)")]
    NotGraceLsa,
}

impl GraceLsa {
    /// Decodes the body of a grace-LSA (the bytes after the LSA header).
    pub fn decode(body: &[u8]) -> Result<GraceLsa, GraceLsaError> {
        let mut reader = Reader::new(body);
        let mut grace_period = None;
        let mut reason = None;
        let mut interface_address = None;
        while reader.remaining() > 0 {
            let offset = body.len() - reader.remaining();
            let (Some(tlv_type), Some(length)) = (reader.u16(), reader.u16()) else {
                return Err(GraceLsaError::TruncatedTlvHeader { offset });
            };
            let padded = usize::from(length).div_ceil(4) * 4;
            let available = reader.remaining();
            let Some(value) = reader.take(padded) else {
                return Err(GraceLsaError::TruncatedTlvValue {
                    tlv_type,
                    length,
                    available,
                });
            };
            let value = &value[..usize::from(length)];
            let expect = |expected: u16| {
                if length == expected {
                    Ok(())
                } else {
                    Err(GraceLsaError::BadTlvLength {
                        tlv_type,
                        length,
                        expected,
                    })
                }
            };
            let duplicate = GraceLsaError::DuplicateTlv { tlv_type };
            match tlv_type {
                TLV_GRACE_PERIOD => {
                    expect(4)?;
                    let seconds = u32::from_be_bytes([value[0], value[1], value[2], value[3]]);
                    if grace_period.replace(seconds).is_some() {
                        return Err(duplicate);
                    }
                }
                TLV_RESTART_REASON => {
                    expect(1)?;
                    if reason.replace(RestartReason::from_u8(value[0])).is_some() {
                        return Err(duplicate);
                    }
                }
                TLV_INTERFACE_ADDRESS => {
                    expect(4)?;
                    let address = Ipv4Addr::new(value[0], value[1], value[2], value[3]);
                    if interface_address.replace(address).is_some() {
                        return Err(duplicate);
                    }
                }
                _ => {}
            }
        }
        Ok(GraceLsa {
            grace_period: grace_period.ok_or(GraceLsaError::MissingGracePeriod)?,
            reason: reason.ok_or(GraceLsaError::MissingReason)?,
            interface_address,
        })
    }

    /// Decodes the grace-LSA carried by an LSA body of LS type 9 and Link State ID 3.0.0.0.
    pub fn from_lsa(lsa: &super::Lsa) -> Result<GraceLsa, GraceLsaError> {
        match &lsa.body {
            LsaBody::Opaque(body) if is_grace_lsa(&lsa.header) => GraceLsa::decode(body),
            _ => Err(GraceLsaError::NotGraceLsa),
        }
    }

    /// Encodes the TLVs, each padded to 4 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(TLV_GRACE_PERIOD);
        out.put_u16(4);
        out.put_u32(self.grace_period);
        out.put_u16(TLV_RESTART_REASON);
        out.put_u16(1);
        out.put_u8(self.reason.to_u8());
        out.extend_from_slice(&[0, 0, 0]);
        if let Some(address) = self.interface_address {
            out.put_u16(TLV_INTERFACE_ADDRESS);
            out.put_u16(4);
            out.put_ipv4(address);
        }
    }

    /// Returns the body as the opaque LSA body that carries it.
    pub fn to_body(&self) -> LsaBody {
        let mut out = Vec::with_capacity(24);
        self.encode(&mut out);
        LsaBody::Opaque(bytes::Bytes::from(out))
    }
}

/// Returns true for the header of a grace-LSA: link-local opaque, opaque type 3.
pub fn is_grace_lsa(header: &super::LsaHeader) -> bool {
    header.ls_type == super::LsType::OPAQUE_LINK && header.link_state_id.octets()[0] == OPAQUE_TYPE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grace_lsa_round_trips_with_and_without_address() {
        for interface_address in [None, Some(Ipv4Addr::new(10, 1, 12, 1))] {
            let grace = GraceLsa {
                grace_period: 120,
                reason: RestartReason::SoftwareRestart,
                interface_address,
            };
            let mut out = Vec::new();
            grace.encode(&mut out);
            assert_eq!(out.len(), if interface_address.is_some() { 24 } else { 16 });
            assert_eq!(GraceLsa::decode(&out), Ok(grace));
        }
    }

    #[test]
    fn grace_lsa_encoding_matches_rfc_layout() {
        let grace = GraceLsa {
            grace_period: 0x0102_0304,
            reason: RestartReason::SoftwareReloadOrUpgrade,
            interface_address: Some(Ipv4Addr::new(192, 0, 2, 1)),
        };
        let mut out = Vec::new();
        grace.encode(&mut out);
        let expected = [
            0, 1, 0, 4, 1, 2, 3, 4, // grace period
            0, 2, 0, 1, 2, 0, 0, 0, // reason, padded
            0, 3, 0, 4, 192, 0, 2, 1, // interface address
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn unknown_tlvs_are_skipped() {
        let body = [
            0, 9, 0, 3, 7, 7, 7, 0, // unknown type 9, 3 bytes padded to 4
            0, 1, 0, 4, 0, 0, 0, 60, //
            0, 2, 0, 1, 0, 0, 0, 0,
        ];
        let grace = GraceLsa::decode(&body).expect("valid");
        assert_eq!(grace.grace_period, 60);
        assert_eq!(grace.reason, RestartReason::Unknown);
        assert_eq!(grace.interface_address, None);
    }

    #[test]
    fn malformed_grace_lsas_are_rejected() {
        let cases: &[(&[u8], GraceLsaError)] = &[
            (&[0, 1, 0], GraceLsaError::TruncatedTlvHeader { offset: 0 }),
            (
                &[0, 1, 0, 4, 0, 0],
                GraceLsaError::TruncatedTlvValue {
                    tlv_type: 1,
                    length: 4,
                    available: 2,
                },
            ),
            (
                &[0, 1, 0, 2, 0, 0, 0, 0],
                GraceLsaError::BadTlvLength {
                    tlv_type: 1,
                    length: 2,
                    expected: 4,
                },
            ),
            (
                &[0, 2, 0, 4, 0, 0, 0, 1],
                GraceLsaError::BadTlvLength {
                    tlv_type: 2,
                    length: 4,
                    expected: 1,
                },
            ),
            (
                &[0, 3, 0, 8, 0, 0, 0, 1, 0, 0, 0, 1],
                GraceLsaError::BadTlvLength {
                    tlv_type: 3,
                    length: 8,
                    expected: 4,
                },
            ),
            (&[0, 2, 0, 1, 1, 0, 0, 0], GraceLsaError::MissingGracePeriod),
            (&[0, 1, 0, 4, 0, 0, 0, 9], GraceLsaError::MissingReason),
            (
                &[0, 1, 0, 4, 0, 0, 0, 9, 0, 1, 0, 4, 0, 0, 0, 9],
                GraceLsaError::DuplicateTlv { tlv_type: 1 },
            ),
            (&[], GraceLsaError::MissingGracePeriod),
            // A length of 0xffff would read past the end when padded.
            (
                &[0, 9, 0xff, 0xff, 0, 0, 0, 0],
                GraceLsaError::TruncatedTlvValue {
                    tlv_type: 9,
                    length: 0xffff,
                    available: 4,
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(GraceLsa::decode(body), Err(*expected), "body {body:?}");
        }
    }

    #[test]
    fn reason_values_round_trip() {
        for value in 0..=255u8 {
            assert_eq!(RestartReason::from_u8(value).to_u8(), value);
        }
    }
}
