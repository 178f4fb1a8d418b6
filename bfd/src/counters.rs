//! Reasons for discarding a received packet, and the per-session packet counters.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::packet::DecodeError;

/// The reason a received packet was discarded. Each reception check of RFC 5880 section 6.8.6 has its
/// own reason, as do the TTL check of RFC 5881 section 5 and the authentication checks of
/// section 6.7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The version is not 1.
    BadVersion,
    /// Length is below the minimum, or exceeds the UDP payload, or the payload is shorter than
    /// 24 bytes.
    BadLength,
    /// Detect Mult is zero.
    ZeroDetectMult,
    /// The Multipoint bit is set.
    Multipoint,
    /// My Discriminator is zero.
    ZeroMyDiscriminator,
    /// Your Discriminator is zero while the State field is Init or Up.
    ZeroYourDiscriminator,
    /// Poll and Final are both set.
    PollAndFinal,
    /// The authentication section is malformed: reserved Auth Type or invalid Auth Len.
    BadAuthSection,
    /// Your Discriminator selects no session, or (when zero) no session matches the addresses.
    NoSession,
    /// The packet's addresses, interface or port do not match the session that Your
    /// Discriminator selects.
    AddressMismatch,
    /// A single-hop packet arrived with a TTL or Hop Limit other than 255 (RFC 5881 section 5).
    Ttl,
    /// The A bit is set but the session uses no authentication.
    AuthUnexpected,
    /// The A bit is clear but the session uses authentication.
    AuthMissing,
    /// The Auth Type is not the one the session uses.
    AuthTypeMismatch,
    /// The Auth Key ID is not the configured key's.
    AuthKeyId,
    /// The password or digest is wrong.
    AuthFailed,
    /// The sequence number is outside the accepted window (replay protection).
    AuthSequence,
    /// The session is AdminDown, which discards every packet (section 6.8.6).
    AdminDown,
}

impl DropReason {
    /// All reasons, in counter order.
    pub const ALL: [DropReason; 18] = [
        DropReason::BadVersion,
        DropReason::BadLength,
        DropReason::ZeroDetectMult,
        DropReason::Multipoint,
        DropReason::ZeroMyDiscriminator,
        DropReason::ZeroYourDiscriminator,
        DropReason::PollAndFinal,
        DropReason::BadAuthSection,
        DropReason::NoSession,
        DropReason::AddressMismatch,
        DropReason::Ttl,
        DropReason::AuthUnexpected,
        DropReason::AuthMissing,
        DropReason::AuthTypeMismatch,
        DropReason::AuthKeyId,
        DropReason::AuthFailed,
        DropReason::AuthSequence,
        DropReason::AdminDown,
    ];
}

impl From<&DecodeError> for DropReason {
    fn from(error: &DecodeError) -> DropReason {
        match error {
            DecodeError::Truncated { .. }
            | DecodeError::LengthTooSmall { .. }
            | DecodeError::LengthExceedsPayload { .. } => DropReason::BadLength,
            DecodeError::Version(_) => DropReason::BadVersion,
            DecodeError::ZeroDetectMult => DropReason::ZeroDetectMult,
            DecodeError::Multipoint => DropReason::Multipoint,
            DecodeError::ZeroMyDiscriminator => DropReason::ZeroMyDiscriminator,
            DecodeError::ZeroYourDiscriminator(_) => DropReason::ZeroYourDiscriminator,
            DecodeError::PollAndFinal => DropReason::PollAndFinal,
            DecodeError::UnknownAuthType(_) | DecodeError::AuthLength { .. } => {
                DropReason::BadAuthSection
            }
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The serde name, so logs and JSON use the same words.
        let text = serde_json_name(*self);
        f.write_str(text)
    }
}

fn serde_json_name(reason: DropReason) -> &'static str {
    match reason {
        DropReason::BadVersion => "bad_version",
        DropReason::BadLength => "bad_length",
        DropReason::ZeroDetectMult => "zero_detect_mult",
        DropReason::Multipoint => "multipoint",
        DropReason::ZeroMyDiscriminator => "zero_my_discriminator",
        DropReason::ZeroYourDiscriminator => "zero_your_discriminator",
        DropReason::PollAndFinal => "poll_and_final",
        DropReason::BadAuthSection => "bad_auth_section",
        DropReason::NoSession => "no_session",
        DropReason::AddressMismatch => "address_mismatch",
        DropReason::Ttl => "ttl",
        DropReason::AuthUnexpected => "auth_unexpected",
        DropReason::AuthMissing => "auth_missing",
        DropReason::AuthTypeMismatch => "auth_type_mismatch",
        DropReason::AuthKeyId => "auth_key_id",
        DropReason::AuthFailed => "auth_failed",
        DropReason::AuthSequence => "auth_sequence",
        DropReason::AdminDown => "admin_down",
    }
}

/// Counts of discarded packets by reason; reasons never seen are absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DropCounters(BTreeMap<DropReason, u64>);

impl DropCounters {
    /// Adds one packet dropped for `reason`.
    pub fn count(&mut self, reason: DropReason) {
        *self.0.entry(reason).or_default() += 1;
    }

    /// Returns the number of packets dropped for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0.get(&reason).copied().unwrap_or(0)
    }

    /// Returns the number of packets dropped for any reason.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Returns the counts by reason.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        self.0.iter().map(|(reason, count)| (*reason, *count))
    }
}

/// Packet and event counters of one session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionCounters {
    /// Packets accepted by the session (all reception checks passed).
    pub packets_in: u64,
    /// Packets sent, periodic and Final alike.
    pub packets_out: u64,
    /// Packets whose transmission failed in the socket layer.
    pub send_errors: u64,
    /// Transitions into Up.
    pub up_count: u64,
    /// Transitions from Up to any other state.
    pub down_count: u64,
    /// Packets attributed to this session and discarded, by reason.
    pub dropped: DropCounters,
}
