//! Path attributes (RFC 4271 section 5 and the RFCs of each attribute) as one struct with a
//! typed field per known attribute, so that a speaker can share it behind an `Arc`, hash it and
//! compare it to group routes that can be sent in one UPDATE.

use std::net::Ipv4Addr;

use hna_evpn::{ExtendedCommunity, Label};

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod attr_type {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const PMSI_TUNNEL: u8 = 22;
    pub const LARGE_COMMUNITY: u8 = 32;
    pub const OTC: u8 = 35;
}

/// Attribute flag bits (RFC 4271 section 4.3).
pub mod attr_flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// PMSI tunnel types (RFC 6514 section 5, IANA "P-Multicast Service Interface Tunnel (PMSI
/// Tunnel) Tunnel Types").
pub mod pmsi_tunnel_type {
    pub const NO_TUNNEL_INFORMATION: u8 = 0;
    pub const RSVP_TE_P2MP: u8 = 1;
    pub const MLDP_P2MP: u8 = 2;
    pub const PIM_SSM: u8 = 3;
    pub const PIM_SM: u8 = 4;
    pub const BIDIR_PIM: u8 = 5;
    pub const INGRESS_REPLICATION: u8 = 6;
    pub const MLDP_MP2MP: u8 = 7;
}

/// ORIGIN values (RFC 4271 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// AS_PATH segment types (RFC 4271 section 4.3, RFC 5065 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AsSegmentType {
    Set = 1,
    Sequence = 2,
    ConfedSequence = 3,
    ConfedSet = 4,
}

/// One AS_PATH segment; at most 255 AS numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsSegment {
    pub segment_type: AsSegmentType,
    pub asns: Vec<u32>,
}

/// An AS_PATH or AS4_PATH: AS numbers are 4-octet in the model whatever the session encodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// Builds a path of one AS_SEQUENCE.
    pub fn sequence(asns: Vec<u32>) -> AsPath {
        AsPath {
            segments: vec![AsSegment {
                segment_type: AsSegmentType::Sequence,
                asns,
            }],
        }
    }

    /// Returns the path length used by best-path selection (RFC 4271 section 9.1.2.2: a set
    /// counts as one, confederation segments count as zero, RFC 5065 section 5.3).
    pub fn path_length(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.segment_type {
                AsSegmentType::Sequence => s.asns.len(),
                AsSegmentType::Set => 1,
                AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet => 0,
            })
            .sum()
    }

    /// Whether any segment carries AS 0 (invalid, RFC 7607).
    pub fn contains_as_zero(&self) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&0))
    }
}

/// AGGREGATOR or AS4_AGGREGATOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

/// A community (RFC 1997).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    pub const NO_EXPORT: Community = Community(0xffff_ff01);
    pub const NO_ADVERTISE: Community = Community(0xffff_ff02);
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xffff_ff03);
    pub const NO_PEER: Community = Community(0xffff_ff04);
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xffff_0000);
    pub const LLGR_STALE: Community = Community(0xffff_0006);
    pub const NO_LLGR: Community = Community(0xffff_0007);
}

/// A large community (RFC 8092).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global_administrator: u32,
    pub local_data_1: u32,
    pub local_data_2: u32,
}

/// The PMSI Tunnel attribute (RFC 6514 section 5). EVPN uses ingress replication (RFC 7432
/// section 11.2) with the VNI in the label field (RFC 8365 section 5.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PmsiTunnel {
    /// Flags octet; bit 0x01 is Leaf Information Required.
    pub flags: u8,
    pub tunnel_type: u8,
    pub label: Label,
    /// The tunnel identifier; for ingress replication the originating router's IP address.
    pub tunnel_identifier: Vec<u8>,
}

/// An attribute this codec does not decode, kept with its flags and value octets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    /// The received flags without the Extended Length bit, which the encoder derives from the
    /// value's length. The decoder sets Partial on an optional transitive attribute, since
    /// this speaker passes it on without having understood it (RFC 4271 section 5).
    pub flags: u8,
    pub type_code: u8,
    pub value: Vec<u8>,
}

/// The path attributes of an UPDATE, other than MP_REACH_NLRI and MP_UNREACH_NLRI which carry
/// routes and live in [`crate::message::Update`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Option<Vec<Community>>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Option<Vec<Ipv4Addr>>,
    pub extended_communities: Option<Vec<ExtendedCommunity>>,
    pub as4_path: Option<AsPath>,
    pub as4_aggregator: Option<Aggregator>,
    pub pmsi_tunnel: Option<PmsiTunnel>,
    pub large_communities: Option<Vec<LargeCommunity>>,
    /// Only to Customer (RFC 9234 section 5): the AS that set it.
    pub otc: Option<u32>,
    /// Unrecognized attributes in the order received.
    pub unknown: Vec<RawAttribute>,
}

impl PathAttributes {
    /// Whether no attribute is present.
    pub fn is_empty(&self) -> bool {
        *self == PathAttributes::default()
    }
}
