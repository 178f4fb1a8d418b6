//! Error codes (RFC 4271 section 4.5 and later RFCs), the typed reasons a decoder rejects a
//! message, and the RFC 7606 outcome of a malformed UPDATE.

use thiserror::Error;

use crate::message::Notification;
use crate::types::AfiSafi;

/// NOTIFICATION error codes.
pub mod error_code {
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN_MESSAGE: u8 = 2;
    pub const UPDATE_MESSAGE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM: u8 = 5;
    pub const CEASE: u8 = 6;
    pub const ROUTE_REFRESH_MESSAGE: u8 = 7;
}

/// Message Header Error subcodes.
pub mod header_subcode {
    pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
    pub const BAD_MESSAGE_LENGTH: u8 = 2;
    pub const BAD_MESSAGE_TYPE: u8 = 3;
}

/// OPEN Message Error subcodes.
pub mod open_subcode {
    pub const UNSPECIFIC: u8 = 0;
    pub const UNSUPPORTED_VERSION_NUMBER: u8 = 1;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
    pub const UNSUPPORTED_CAPABILITY: u8 = 7;
    pub const ROLE_MISMATCH: u8 = 11;
}

/// UPDATE Message Error subcodes.
pub mod update_subcode {
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
    pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
    pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
    pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
    pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
    pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
    pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    pub const MALFORMED_AS_PATH: u8 = 11;
}

/// Cease subcodes (RFC 4486, RFC 8538, RFC 9384).
pub mod cease_subcode {
    pub const MAXIMUM_PREFIXES_REACHED: u8 = 1;
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    pub const PEER_DECONFIGURED: u8 = 3;
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    pub const CONNECTION_REJECTED: u8 = 5;
    pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
    pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
    pub const OUT_OF_RESOURCES: u8 = 8;
    pub const HARD_RESET: u8 = 9;
    pub const BFD_DOWN: u8 = 10;
}

/// ROUTE-REFRESH Message Error subcodes (RFC 7313 section 5).
pub mod route_refresh_subcode {
    pub const INVALID_MESSAGE_LENGTH: u8 = 1;
}

/// The reason a message was rejected as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum DecodeErrorKind {
    #[error("marker is not all ones")]
    BadMarker,
    #[error("message length {0} out of range for its type or the session")]
    BadLength(u16),
    #[error("unknown message type {0}")]
    BadType(u8),
    #[error("OPEN version {0} is not 4")]
    UnsupportedVersion(u8),
    #[error("OPEN My AS is 0")]
    BadPeerAs,
    #[error("OPEN BGP identifier is 0")]
    BadBgpIdentifier,
    #[error("OPEN hold time {0} is 1 or 2 seconds")]
    UnacceptableHoldTime(u16),
    #[error("OPEN optional parameters overrun their length")]
    OptionalParametersOverrun,
    #[error("OPEN optional parameter type {0} is not supported")]
    UnsupportedOptionalParameter(u8),
    #[error("OPEN capability overruns its optional parameter")]
    CapabilityOverrun,
    #[error("4-octet AS capability carries AS 0")]
    FourOctetAsZero,
    #[error("UPDATE withdrawn routes length overruns the message")]
    WithdrawnLengthOverrun,
    #[error("UPDATE total path attribute length overruns the message")]
    AttributeLengthOverrun,
    #[error("UPDATE has a duplicate MP_REACH_NLRI or MP_UNREACH_NLRI")]
    DuplicateMpAttribute,
    #[error("MP_REACH_NLRI or MP_UNREACH_NLRI shorter than its AFI and SAFI")]
    MpAttributeTooShort,
    #[error("unrecognized well-known attribute {0}")]
    UnrecognizedWellKnownAttribute(u8),
    #[error("invalid prefix in the withdrawn routes or NLRI field")]
    InvalidNetworkField,
    #[error("NOTIFICATION shorter than its code and subcode")]
    NotificationTooShort,
    #[error("ROUTE-REFRESH length is not 23")]
    RouteRefreshLength,
}

/// A message that must end the session: the reason and the NOTIFICATION to send.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} (NOTIFICATION {}/{})", .notification.code, .notification.subcode)]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    pub notification: Notification,
}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, code: u8, subcode: u8, data: Vec<u8>) -> DecodeError {
        DecodeError {
            kind,
            notification: Notification {
                code,
                subcode,
                data,
            },
        }
    }
}

/// The kind of malformation in one attribute or NLRI of an UPDATE that the session survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum UpdateErrorKind {
    #[error("attribute flags conflict with the attribute type")]
    AttributeFlags,
    #[error("attribute length invalid for its type")]
    AttributeLength,
    #[error("attribute overruns the total path attribute length")]
    AttributeOverrun,
    #[error("attribute appears more than once")]
    Duplicate,
    #[error("invalid ORIGIN value")]
    InvalidOrigin,
    #[error("malformed AS path segment")]
    MalformedAsPath,
    #[error("AS number 0 in the attribute")]
    AsZero,
    #[error("invalid NEXT_HOP address")]
    InvalidNextHop,
    #[error("confederation segment in AS4_PATH")]
    ConfederationInAs4Path,
    #[error("PMSI tunnel type unknown")]
    PmsiTunnelType,
    #[error("PMSI tunnel identifier length invalid for the tunnel type")]
    PmsiTunnelIdentifier,
    #[error("missing well-known mandatory attribute")]
    MissingMandatory,
    #[error("MP next hop length invalid for the AFI/SAFI")]
    MpNextHopLength,
    #[error("NLRI malformed")]
    MalformedNlri,
    #[error("EVPN route: {0}")]
    Evpn(hna_evpn::EvpnError),
}

/// One malformation found in an UPDATE: which attribute (type code, absent for NLRI) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpdateError {
    pub attribute: Option<u8>,
    pub kind: UpdateErrorKind,
}

/// The RFC 7606 action for an UPDATE that did not end the session. When several errors call for
/// different actions, the strongest one is returned (RFC 7606 section 3, item h).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateAction {
    /// The UPDATE is well formed.
    None,
    /// The listed attributes (type codes) were removed from the UPDATE, which is otherwise
    /// used as received (RFC 7606 section 2, "attribute discard").
    AttributeDiscard(Vec<u8>),
    /// Every route the UPDATE announces must be handled as withdrawn: those of the NLRI field
    /// and of MP_REACH_NLRI, along with its own withdrawals (RFC 7606 section 2).
    TreatAsWithdraw,
    /// The NLRI of these families could not be parsed: the speaker disables them for the
    /// session, or sends `notification` if it cannot (RFC 7606 sections 2 and 5.3).
    AfiSafiDisable {
        families: Vec<AfiSafi>,
        notification: Notification,
    },
}

/// Collects the malformations of one UPDATE and keeps the strongest action.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) errors: Vec<UpdateError>,
    discarded: Vec<u8>,
    withdraw: bool,
    disabled: Vec<AfiSafi>,
    disable_notification: Option<Notification>,
}

impl Outcome {
    pub(crate) fn discard(&mut self, attribute: u8, kind: UpdateErrorKind) {
        self.errors.push(UpdateError {
            attribute: Some(attribute),
            kind,
        });
        if !self.discarded.contains(&attribute) {
            self.discarded.push(attribute);
        }
    }

    pub(crate) fn withdraw(&mut self, attribute: Option<u8>, kind: UpdateErrorKind) {
        self.errors.push(UpdateError { attribute, kind });
        self.withdraw = true;
    }

    pub(crate) fn disable(
        &mut self,
        afi_safi: AfiSafi,
        attribute: u8,
        kind: UpdateErrorKind,
        data: &[u8],
    ) {
        self.errors.push(UpdateError {
            attribute: Some(attribute),
            kind,
        });
        if !self.disabled.contains(&afi_safi) {
            self.disabled.push(afi_safi);
        }
        self.disable_notification
            .get_or_insert_with(|| Notification {
                code: error_code::UPDATE_MESSAGE,
                subcode: update_subcode::OPTIONAL_ATTRIBUTE_ERROR,
                data: data.to_vec(),
            });
    }

    pub(crate) fn action(self) -> (UpdateAction, Vec<UpdateError>) {
        let action = if !self.disabled.is_empty() {
            UpdateAction::AfiSafiDisable {
                families: self.disabled,
                notification: self.disable_notification.unwrap_or(Notification {
                    code: error_code::UPDATE_MESSAGE,
                    subcode: update_subcode::OPTIONAL_ATTRIBUTE_ERROR,
                    data: Vec::new(),
                }),
            }
        } else if self.withdraw {
            UpdateAction::TreatAsWithdraw
        } else if !self.discarded.is_empty() {
            UpdateAction::AttributeDiscard(self.discarded)
        } else {
            UpdateAction::None
        };
        (action, self.errors)
    }
}

/// An encoder failure: the message does not fit the session's maximum length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("message of {length} octets exceeds the maximum of {max}")]
    TooLong { length: usize, max: usize },
    #[error("OPEN optional parameters of {0} octets exceed 65535")]
    ParametersTooLong(usize),
}
