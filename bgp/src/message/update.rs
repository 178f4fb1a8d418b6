//! The UPDATE message (RFC 4271 section 4.3) and End-of-RIB (RFC 4724 section 2).

use ipnet::Ipv4Net;

use super::{MpReach, MpUnreach, NlriList, PathAttributes, PathNlri};
use crate::types::AfiSafi;

/// An UPDATE message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// IPv4 unicast routes of the Withdrawn Routes field.
    pub withdrawn: Vec<PathNlri<Ipv4Net>>,
    pub attributes: PathAttributes,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    /// IPv4 unicast routes of the NLRI field.
    pub nlri: Vec<PathNlri<Ipv4Net>>,
}

impl Update {
    /// Builds the End-of-RIB marker of `afi_safi`: an empty UPDATE for IPv4 unicast, an UPDATE
    /// with only an empty MP_UNREACH_NLRI for the others.
    pub fn end_of_rib(afi_safi: AfiSafi) -> Update {
        if afi_safi == AfiSafi::IPV4_UNICAST {
            return Update::default();
        }
        Update {
            mp_unreach: Some(MpUnreach {
                afi_safi,
                nlri: NlriList::empty_for(afi_safi),
            }),
            ..Update::default()
        }
    }

    /// Returns the AFI/SAFI whose End-of-RIB marker this UPDATE is, if it is one.
    pub fn end_of_rib_family(&self) -> Option<AfiSafi> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() || self.mp_reach.is_some() {
            return None;
        }
        if !self.attributes.is_empty() {
            return None;
        }
        match &self.mp_unreach {
            None => Some(AfiSafi::IPV4_UNICAST),
            Some(unreach) if unreach.nlri.is_empty() => Some(unreach.afi_safi),
            Some(_) => None,
        }
    }

    /// Whether the UPDATE announces any route.
    pub fn has_reachable(&self) -> bool {
        !self.nlri.is_empty() || self.mp_reach.as_ref().is_some_and(|r| !r.nlri.is_empty())
    }
}
