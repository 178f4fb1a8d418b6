//! The BGP-4 message model (RFC 4271 section 4): validated values with no byte layout. The
//! `wire` module decodes them from and encodes them to bytes.

mod attributes;
mod nlri;
mod open;
mod update;

pub use attributes::{
    Aggregator, AsPath, AsSegment, AsSegmentType, Community, LargeCommunity, Origin,
    PathAttributes, PmsiTunnel, RawAttribute, attr_flags, attr_type, pmsi_tunnel_type,
};
pub use nlri::{MpNextHop, MpReach, MpUnreach, NlriList, PathNlri};
pub use open::{
    AddPathDirection, AddPathFamily, Capability, GracefulRestart, GracefulRestartFamily,
    LlgrFamily, Open, capability_code,
};
pub use update::Update;

use crate::types::AfiSafi;

/// A BGP message.
// UPDATE is the frequent message and the large one; boxing it would add an allocation to each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// A NOTIFICATION message (RFC 4271 section 4.5): error code, subcode and data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

/// A ROUTE-REFRESH message (RFC 2918, with the subtypes of RFC 7313 section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    pub afi_safi: AfiSafi,
    /// 0 normal request, 1 beginning of route refresh (BoRR), 2 end (EoRR). A receiver ignores
    /// other values (RFC 7313 section 5).
    pub subtype: u8,
}

impl RouteRefresh {
    pub const NORMAL: u8 = 0;
    pub const BEGINNING: u8 = 1;
    pub const END: u8 = 2;
}
