//! Counters and serialisable state snapshots for `show ip ospf neighbor`, `show ip ospf
//! database`, `show ip ospf interface` and `show ip ospf route`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Instant;

use serde::Serialize;

use crate::config::NetworkType;
use crate::graceful::{HelperExitReason, HelperRejectReason, RestartExitReason};
use crate::instance::Instance;
use crate::interface::InterfaceState;
use crate::lsa::RestartReason;
use crate::lsa::{LsType, LsaError};
use crate::neighbor::NeighborState;
use crate::packet::auth::AuthError;
use crate::packet::{PacketError, PacketType};

/// The decoding check a dropped packet failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecodeFailure {
    TooShort,
    BadVersion,
    UnknownType,
    BadLength,
    LengthNotAligned,
    BadChecksum,
    UnknownAuType,
    BadBody,
    LsaFraming,
    LsaCount,
}

impl DecodeFailure {
    /// Returns the snake_case name of the failure.
    pub fn name(&self) -> &'static str {
        match self {
            DecodeFailure::TooShort => "too_short",
            DecodeFailure::BadVersion => "bad_version",
            DecodeFailure::UnknownType => "unknown_type",
            DecodeFailure::BadLength => "bad_length",
            DecodeFailure::LengthNotAligned => "length_not_aligned",
            DecodeFailure::BadChecksum => "bad_checksum",
            DecodeFailure::UnknownAuType => "unknown_au_type",
            DecodeFailure::BadBody => "bad_body",
            DecodeFailure::LsaFraming => "lsa_framing",
            DecodeFailure::LsaCount => "lsa_count",
        }
    }
}

impl From<PacketError> for DecodeFailure {
    fn from(error: PacketError) -> DecodeFailure {
        match error {
            PacketError::TooShort { .. } => DecodeFailure::TooShort,
            PacketError::BadVersion(_) => DecodeFailure::BadVersion,
            PacketError::UnknownType(_) => DecodeFailure::UnknownType,
            PacketError::BadLength { .. } => DecodeFailure::BadLength,
            PacketError::LengthNotAligned { .. } => DecodeFailure::LengthNotAligned,
            PacketError::BadChecksum { .. } => DecodeFailure::BadChecksum,
            PacketError::UnknownAuType(_) => DecodeFailure::UnknownAuType,
            PacketError::BadBody { .. } => DecodeFailure::BadBody,
            PacketError::LsaFraming { .. } => DecodeFailure::LsaFraming,
            PacketError::LsaCount { .. } => DecodeFailure::LsaCount,
        }
    }
}

/// The reason a received packet was dropped. It serialises as a string such as `wrong_area`,
/// `decode.bad_checksum` or `authentication.bad_digest`, so that it can key a JSON map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    Decode(DecodeFailure),
    UnknownInterface,
    InterfaceDown,
    WrongArea,
    NotDesignatedRouter,
    OwnRouterId,
    /// The header's Router ID is 0.0.0.0.
    ZeroRouterId,
    WrongSubnet,
    /// Authentication failed; a cryptographic sequence number that went backwards counts as a
    /// bad digest.
    Authentication(AuthErrorKind),
    UnknownNeighbor,
    HelloMaskMismatch,
    HelloIntervalMismatch,
    DeadIntervalMismatch,
    HelloOptionsMismatch,
    MtuMismatch,
    /// A packet that the neighbor's state does not allow (for example a DD from a neighbor in
    /// state Init that stays below ExStart, or an LSU below Exchange).
    NeighborState,
}

impl Serialize for DropReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl AuthErrorKind {
    /// Returns the snake_case name of the failure.
    pub fn name(&self) -> &'static str {
        match self {
            AuthErrorKind::TypeMismatch => "type_mismatch",
            AuthErrorKind::BadPassword => "bad_password",
            AuthErrorKind::KeyIdMismatch => "key_id_mismatch",
            AuthErrorKind::BadDigestLength => "bad_digest_length",
            AuthErrorKind::MissingDigest => "missing_digest",
            AuthErrorKind::BadDigest => "bad_digest",
        }
    }
}

/// The kind of an authentication failure, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthErrorKind {
    TypeMismatch,
    BadPassword,
    KeyIdMismatch,
    BadDigestLength,
    MissingDigest,
    BadDigest,
}

impl DropReason {
    /// Returns the name the reason is counted under.
    pub fn name(&self) -> String {
        let simple = match self {
            DropReason::Decode(failure) => return format!("decode.{}", failure.name()),
            DropReason::Authentication(kind) => return format!("authentication.{}", kind.name()),
            DropReason::UnknownInterface => "unknown_interface",
            DropReason::InterfaceDown => "interface_down",
            DropReason::WrongArea => "wrong_area",
            DropReason::NotDesignatedRouter => "not_designated_router",
            DropReason::OwnRouterId => "own_router_id",
            DropReason::ZeroRouterId => "zero_router_id",
            DropReason::WrongSubnet => "wrong_subnet",
            DropReason::UnknownNeighbor => "unknown_neighbor",
            DropReason::HelloMaskMismatch => "hello_mask_mismatch",
            DropReason::HelloIntervalMismatch => "hello_interval_mismatch",
            DropReason::DeadIntervalMismatch => "dead_interval_mismatch",
            DropReason::HelloOptionsMismatch => "hello_options_mismatch",
            DropReason::MtuMismatch => "mtu_mismatch",
            DropReason::NeighborState => "neighbor_state",
        };
        simple.to_string()
    }

    pub(crate) fn auth(error: AuthError) -> DropReason {
        DropReason::Authentication(match error {
            AuthError::TypeMismatch { .. } => AuthErrorKind::TypeMismatch,
            AuthError::BadPassword => AuthErrorKind::BadPassword,
            AuthError::KeyIdMismatch { .. } => AuthErrorKind::KeyIdMismatch,
            AuthError::BadDigestLength { .. } => AuthErrorKind::BadDigestLength,
            AuthError::MissingDigest => AuthErrorKind::MissingDigest,
            AuthError::BadDigest => AuthErrorKind::BadDigest,
        })
    }
}

/// The reason an LSA of a Link State Update was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LsaDropReason {
    TooShort,
    BadLength,
    LengthNotAligned,
    BadChecksum,
    UnknownType,
    ReservedSequenceNumber,
    RouterLinkCount,
    BadBody,
    /// A newer instance arrived within MinLSArrival of the previous one (section 13 step 5a).
    MinLsArrival,
}

impl From<LsaError> for LsaDropReason {
    fn from(error: LsaError) -> LsaDropReason {
        match error {
            LsaError::TooShort { .. } => LsaDropReason::TooShort,
            LsaError::BadLength { .. } => LsaDropReason::BadLength,
            LsaError::LengthNotAligned { .. } => LsaDropReason::LengthNotAligned,
            LsaError::BadChecksum { .. } => LsaDropReason::BadChecksum,
            LsaError::UnknownType { .. } => LsaDropReason::UnknownType,
            LsaError::ReservedSequenceNumber => LsaDropReason::ReservedSequenceNumber,
            LsaError::RouterLinkCount { .. } => LsaDropReason::RouterLinkCount,
            LsaError::BadBody { .. } => LsaDropReason::BadBody,
        }
    }
}

/// Packet and drop counters of an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Packets received that decoded, by type.
    pub received: BTreeMap<PacketType, u64>,
    pub sent: BTreeMap<PacketType, u64>,
    pub dropped: BTreeMap<DropReason, u64>,
    pub lsas_discarded: BTreeMap<LsaDropReason, u64>,
    pub graceful_restart: GracefulRestartCounters,
}

/// Graceful restart counters (RFC 3623), as helper and as restarting router.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GracefulRestartCounters {
    /// Neighbors this router started to help.
    pub helper_entered: u64,
    pub helper_exits: BTreeMap<HelperExitReason, u64>,
    /// Grace-LSAs this router did not act on, by reason.
    pub helper_rejected: BTreeMap<HelperRejectReason, u64>,
    /// BFD Down reports ignored because the neighbor was being helped.
    pub bfd_down_ignored: u64,
    pub restart_exits: BTreeMap<RestartExitReason, u64>,
}

/// The helper state of one neighbor in `show ip ospf neighbor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HelperSnapshot {
    /// Milliseconds until the neighbor's grace period ends.
    pub grace_remaining_ms: u64,
    pub reason: RestartReason,
}

/// The graceful restart state of the instance, for `show ip ospf graceful-restart`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GracefulRestartSnapshot {
    /// True while the instance is in graceful restart.
    pub restarting: bool,
    /// Milliseconds until the grace period ends, while restarting.
    pub grace_remaining_ms: Option<u64>,
    /// The reason the last graceful restart ended.
    pub last_exit: Option<RestartExitReason>,
    pub helper_enabled: bool,
    pub strict_lsa_checking: bool,
    /// Router ids of the neighbors this router is helping.
    pub helping: Vec<Ipv4Addr>,
}

impl Counters {
    /// Returns the number of packets dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(&reason).copied().unwrap_or(0)
    }

    /// Returns the number of LSAs discarded for `reason`.
    pub fn lsas_discarded(&self, reason: LsaDropReason) -> u64 {
        self.lsas_discarded.get(&reason).copied().unwrap_or(0)
    }
}

/// One line of `show ip ospf neighbor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeighborSnapshot {
    pub neighbor_id: Ipv4Addr,
    pub priority: u8,
    pub state: NeighborState,
    /// The neighbor's role on a broadcast network: "DR", "Backup" or "DROther"; empty on
    /// point-to-point links.
    pub role: &'static str,
    /// Milliseconds until the inactivity timer fires.
    pub dead_time_ms: u64,
    pub address: Ipv4Addr,
    pub interface: String,
    /// LSAs sent to the neighbor and not acknowledged yet: its link-state retransmission list
    /// (RFC 2328 section 10).
    pub retransmit_count: usize,
    /// Set while this router helps the neighbor through a graceful restart.
    pub helper: Option<HelperSnapshot>,
}

/// One line of `show ip ospf database`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LsaSnapshot {
    pub ls_type: LsType,
    pub type_name: &'static str,
    pub link_state_id: Ipv4Addr,
    pub advertising_router: Ipv4Addr,
    pub age: u16,
    /// As an unsigned value, the way `show` prints it (0x80000001 first).
    pub sequence: u32,
    pub checksum: u16,
    /// The ifindex of the interface of a link-local LSA, 0 for others.
    pub scope: u32,
}

/// One interface of `show ip ospf interface`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceSnapshot {
    pub name: String,
    pub ifindex: u32,
    pub address: String,
    pub network_type: NetworkType,
    pub state: InterfaceState,
    pub cost: u16,
    pub designated_router: Ipv4Addr,
    pub backup_designated_router: Ipv4Addr,
    pub neighbors: usize,
    pub adjacent_neighbors: usize,
}

impl Instance {
    /// Returns the neighbors of every interface at `now`.
    pub fn neighbors(&self, now: Instant) -> Vec<NeighborSnapshot> {
        let mut lines = Vec::new();
        for interface in self.interfaces.values() {
            for neighbor in interface.neighbors.values() {
                let role = if !interface.is_broadcast() {
                    ""
                } else if interface.dr == neighbor.address {
                    "DR"
                } else if interface.bdr == neighbor.address {
                    "Backup"
                } else {
                    "DROther"
                };
                lines.push(NeighborSnapshot {
                    neighbor_id: neighbor.router_id,
                    priority: neighbor.priority,
                    state: neighbor.state,
                    role,
                    dead_time_ms: neighbor
                        .inactivity_at
                        .saturating_duration_since(now)
                        .as_millis() as u64,
                    address: neighbor.address,
                    interface: interface.name.clone(),
                    retransmit_count: neighbor.ls_retransmit.len(),
                    helper: neighbor.helper.map(|helper| HelperSnapshot {
                        grace_remaining_ms: helper
                            .grace_ends_at
                            .saturating_duration_since(now)
                            .as_millis() as u64,
                        reason: helper.reason,
                    }),
                });
            }
        }
        lines
    }

    /// Returns the LSAs of the database at `now`, sorted by scope, type, Link State ID and
    /// Advertising Router.
    pub fn database(&self, now: Instant) -> Vec<LsaSnapshot> {
        self.lsdb
            .sorted_keys()
            .into_iter()
            .filter_map(|key| self.lsdb.get(&key).map(|entry| (key, entry)))
            .map(|(key, entry)| LsaSnapshot {
                ls_type: key.ls_type,
                type_name: key.ls_type.name(),
                link_state_id: key.link_state_id,
                advertising_router: key.advertising_router,
                age: entry.age(now),
                sequence: entry.lsa.header.ls_sequence_number as u32,
                checksum: entry.lsa.header.ls_checksum,
                scope: key.scope,
            })
            .collect()
    }

    /// Returns the OSPF interfaces.
    pub fn interfaces(&self) -> Vec<InterfaceSnapshot> {
        self.interfaces
            .values()
            .filter(|interface| interface.is_enabled())
            .map(|interface| InterfaceSnapshot {
                name: interface.name.clone(),
                ifindex: interface.ifindex,
                address: interface.address.to_string(),
                network_type: interface.config.network_type,
                state: interface.state,
                cost: interface.config.cost,
                designated_router: interface.dr,
                backup_designated_router: interface.bdr,
                neighbors: interface.neighbors.len(),
                adjacent_neighbors: interface
                    .neighbors
                    .values()
                    .filter(|neighbor| neighbor.state == NeighborState::Full)
                    .count(),
            })
            .collect()
    }

    /// Returns the graceful restart state at `now`.
    pub fn graceful_restart(&self, now: Instant) -> GracefulRestartSnapshot {
        let helping = self
            .interfaces
            .values()
            .flat_map(|interface| interface.neighbors.values())
            .filter(|neighbor| neighbor.helper.is_some())
            .map(|neighbor| neighbor.router_id)
            .collect();
        GracefulRestartSnapshot {
            restarting: self.restart.is_some(),
            grace_remaining_ms: self
                .restart
                .map(|restart| restart.ends_at.saturating_duration_since(now).as_millis() as u64),
            last_exit: self.last_restart_exit,
            helper_enabled: self.config.graceful_restart.helper_enabled,
            strict_lsa_checking: self.config.graceful_restart.strict_lsa_checking,
            helping,
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Returns the routing table of the last SPF run.
    pub fn routes(&self) -> &crate::spf::RoutingTable {
        &self.routes
    }

    /// Returns the LSA database itself, for tests and tools that need the LSAs' contents.
    pub fn lsdb(&self) -> &crate::lsdb::Lsdb {
        &self.lsdb
    }
}
