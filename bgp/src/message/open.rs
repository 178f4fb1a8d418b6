//! The OPEN message and its capabilities (RFC 4271 section 4.2, RFC 5492).

use std::net::Ipv4Addr;

use crate::types::{AS_TRANS, AfiSafi};

/// Capability codes (IANA "Capability Codes").
pub mod capability_code {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const EXTENDED_MESSAGE: u8 = 6;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ADD_PATH: u8 = 69;
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
    pub const LONG_LIVED_GRACEFUL_RESTART: u8 = 71;
    pub const FQDN: u8 = 73;
    pub const SOFTWARE_VERSION: u8 = 75;
}

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Always 4 on the wire; the decoder rejects other versions.
    pub version: u8,
    /// The 2-octet My Autonomous System field (AS_TRANS when the AS needs 4 octets).
    pub my_as: u16,
    /// Seconds; 0 or at least 3.
    pub hold_time: u16,
    pub bgp_identifier: Ipv4Addr,
    /// Capabilities grouped as received: one inner list per Capabilities optional parameter
    /// (FRR sends one capability per parameter, BIRD and GoBGP all in one).
    pub capability_parameters: Vec<Vec<Capability>>,
    /// Whether the optional parameters use the RFC 9072 extended encoding. The encoder uses it
    /// also when the parameters do not fit the 1-octet length.
    pub extended_parameters: bool,
}

impl Open {
    /// Builds an OPEN for `asn` with one capability per optional parameter, and adds the
    /// 4-octet AS capability when `asn` does not fit the 2-octet field.
    pub fn new(
        asn: u32,
        hold_time: u16,
        bgp_identifier: Ipv4Addr,
        mut capabilities: Vec<Capability>,
    ) -> Open {
        let has_as4 = capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)));
        if !has_as4 && asn > u16::MAX as u32 {
            capabilities.push(Capability::FourOctetAs(asn));
        }
        Open {
            version: 4,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS as u16),
            hold_time,
            bgp_identifier,
            capability_parameters: capabilities.into_iter().map(|c| vec![c]).collect(),
            extended_parameters: false,
        }
    }

    /// Iterates over every capability in every optional parameter.
    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.capability_parameters.iter().flatten()
    }

    /// Returns the sender's AS: the 4-octet AS capability when present, else My AS.
    pub fn asn(&self) -> u32 {
        self.capabilities()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(self.my_as as u32)
    }
}

/// Send/receive field of an add-path family (RFC 7911 section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddPathDirection {
    Receive,
    Send,
    Both,
}

impl AddPathDirection {
    pub fn receives(self) -> bool {
        matches!(self, AddPathDirection::Receive | AddPathDirection::Both)
    }

    pub fn sends(self) -> bool {
        matches!(self, AddPathDirection::Send | AddPathDirection::Both)
    }
}

/// One AFI/SAFI of the add-path capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddPathFamily {
    pub afi_safi: AfiSafi,
    pub direction: AddPathDirection,
}

/// One AFI/SAFI of the graceful restart capability (RFC 4724 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GracefulRestartFamily {
    pub afi_safi: AfiSafi,
    /// Flags octet; bit 0x80 is Forwarding State preserved.
    pub flags: u8,
}

/// The graceful restart capability (RFC 4724, notification bit from RFC 8538).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GracefulRestart {
    /// The four restart flag bits: 0x8 Restart State, 0x4 Graceful Notification (N).
    pub restart_flags: u8,
    /// Seconds, 12 bits.
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

impl GracefulRestart {
    pub fn restart_state(&self) -> bool {
        self.restart_flags & 0x8 != 0
    }

    pub fn notification(&self) -> bool {
        self.restart_flags & 0x4 != 0
    }
}

/// One AFI/SAFI of the long-lived graceful restart capability (RFC 9494 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LlgrFamily {
    pub afi_safi: AfiSafi,
    /// Flags octet; bit 0x80 is Forwarding State preserved.
    pub flags: u8,
    /// Long-lived stale time in seconds, 24 bits.
    pub stale_time: u32,
}

/// A capability of an OPEN message (RFC 5492 section 4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Multiprotocol extensions (RFC 4760 section 8).
    Multiprotocol(AfiSafi),
    /// Route refresh (RFC 2918).
    RouteRefresh,
    /// Extended message (RFC 8654).
    ExtendedMessage,
    GracefulRestart(GracefulRestart),
    /// Support for 4-octet AS numbers, with the speaker's AS (RFC 6793).
    FourOctetAs(u32),
    /// Add-path (RFC 7911).
    AddPath(Vec<AddPathFamily>),
    /// Enhanced route refresh (RFC 7313).
    EnhancedRouteRefresh,
    /// Long-lived graceful restart (RFC 9494).
    LongLivedGracefulRestart(Vec<LlgrFamily>),
    /// Hostname and domain name (draft-walton-bgp-hostname-capability), UTF-8.
    Fqdn {
        hostname: String,
        domain_name: String,
    },
    /// Software version (draft-abraitis-bgp-version-capability), UTF-8.
    SoftwareVersion(String),
    /// Any other capability, or a known one whose value is not well formed, kept byte-exact.
    Unknown {
        code: u8,
        value: Vec<u8>,
    },
}

impl Capability {
    /// Returns the capability code.
    pub fn code(&self) -> u8 {
        use capability_code::*;
        match self {
            Capability::Multiprotocol(_) => MULTIPROTOCOL,
            Capability::RouteRefresh => ROUTE_REFRESH,
            Capability::ExtendedMessage => EXTENDED_MESSAGE,
            Capability::GracefulRestart(_) => GRACEFUL_RESTART,
            Capability::FourOctetAs(_) => FOUR_OCTET_AS,
            Capability::AddPath(_) => ADD_PATH,
            Capability::EnhancedRouteRefresh => ENHANCED_ROUTE_REFRESH,
            Capability::LongLivedGracefulRestart(_) => LONG_LIVED_GRACEFUL_RESTART,
            Capability::Fqdn { .. } => FQDN,
            Capability::SoftwareVersion(_) => SOFTWARE_VERSION,
            Capability::Unknown { code, .. } => *code,
        }
    }
}
