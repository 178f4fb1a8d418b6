//! Routing policy: prefix-lists and route-maps with the match and set clauses of FRR 8.4 that
//! this speaker and the EVPN control plane use, and the RFC 8212 default for eBGP peers.
//!
//! Evaluation takes a [`RouteView`], which any route can fill in, whether it sits in a BGP
//! table, is leaked between L3VRFs or is about to be originated as an EVPN type-5 route.

use std::collections::BTreeMap;
use std::net::IpAddr;

use hna_evpn::{ExtendedCommunity, RouteTarget};
use ipnet::IpNet;

use crate::message::{Community, PathAttributes};

#[cfg(test)]
mod tests;

/// The action of an entry on a route it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Permit,
    Deny,
}

/// One line of a prefix-list: `seq N permit|deny PREFIX [ge G] [le L]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixListEntry {
    pub seq: u32,
    pub action: Action,
    pub prefix: IpNet,
    /// Minimum prefix length matched; without `ge` and `le` only the exact length matches.
    pub ge: Option<u8>,
    /// Maximum prefix length matched.
    pub le: Option<u8>,
}

impl PrefixListEntry {
    /// Whether `route` falls under this entry's prefix and length range. Without `le`, `ge`
    /// extends the range up to the address length; without `ge`, `le` starts at the entry's
    /// own length, as FRR 8.4 reads them.
    pub fn matches(&self, route: &IpNet) -> bool {
        let same_family = matches!(
            (self.prefix, route),
            (IpNet::V4(_), IpNet::V4(_)) | (IpNet::V6(_), IpNet::V6(_))
        );
        if !same_family || !self.prefix.contains(route) {
            return false;
        }
        let length = route.prefix_len();
        let (min, max) = match (self.ge, self.le) {
            (None, None) => (self.prefix.prefix_len(), self.prefix.prefix_len()),
            (Some(ge), None) => (ge, self.prefix.max_prefix_len()),
            (None, Some(le)) => (self.prefix.prefix_len(), le),
            (Some(ge), Some(le)) => (ge, le),
        };
        min <= length && length <= max
    }
}

/// A prefix-list: entries in ascending `seq`; the first match decides, no match denies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrefixList {
    pub entries: Vec<PrefixListEntry>,
}

impl PrefixList {
    /// Builds a list, sorting the entries by `seq`.
    pub fn new(mut entries: Vec<PrefixListEntry>) -> PrefixList {
        entries.sort_by_key(|e| e.seq);
        PrefixList { entries }
    }

    /// Returns the action of the first entry that matches `route`, or `Deny` when none does.
    pub fn evaluate(&self, route: &IpNet) -> Action {
        self.entries
            .iter()
            .find(|e| e.matches(route))
            .map_or(Action::Deny, |e| e.action)
    }
}

/// A `match` clause of a route-map entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// `match ip address prefix-list NAME` (also `ipv6`): the route's prefix is permitted by
    /// the list. A route without a prefix, or a list that does not exist, does not match.
    PrefixList(String),
    /// `match source-vrf NAME`: the route was leaked from this L3VRF.
    SourceL3vrf(String),
    /// `match evpn route-type N`.
    EvpnRouteType(u8),
    /// `match evpn vni N`.
    EvpnVni(u32),
    /// `match community`: the route carries every listed community.
    Community(Vec<Community>),
    /// `match extcommunity` on route targets: the route carries every listed route target.
    RouteTarget(Vec<RouteTarget>),
}

/// A `set` clause of a route-map entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Set {
    LocalPreference(u32),
    Med(u32),
    /// `set community ... [additive]`: replaces the communities, or adds to them.
    Community {
        communities: Vec<Community>,
        additive: bool,
    },
    /// `set extcommunity rt ...`: adds route targets to those the route carries.
    RouteTargetAdd(Vec<RouteTarget>),
    /// `set ip next-hop` (or `ipv6 next-hop global`).
    NextHop(IpAddr),
}

/// One entry of a route-map: `route-map NAME permit|deny SEQ` with its clauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMapEntry {
    pub seq: u32,
    pub action: Action,
    /// All must match; an entry without matches matches every route.
    pub matches: Vec<Match>,
    /// Applied in order when a permit entry matches.
    pub sets: Vec<Set>,
}

/// A route-map: entries in ascending `seq`; the first entry whose matches all hold decides,
/// and a route that no entry matches is denied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteMap {
    pub entries: Vec<RouteMapEntry>,
}

impl RouteMap {
    /// Builds a route-map, sorting the entries by `seq`.
    pub fn new(mut entries: Vec<RouteMapEntry>) -> RouteMap {
        entries.sort_by_key(|e| e.seq);
        RouteMap { entries }
    }
}

/// The fields of a route that a policy evaluates. It borrows everything, so a caller can
/// evaluate a route that is in no table without building one.
#[derive(Debug, Clone, Copy)]
pub struct RouteView<'a> {
    /// The IP prefix: the route of a unicast family, the prefix of an EVPN type-5 route, the
    /// host prefix of the IP address of an EVPN type-2 route.
    pub prefix: Option<IpNet>,
    /// The L3VRF a leaked route comes from.
    pub source_l3vrf: Option<&'a str>,
    pub evpn_route_type: Option<u8>,
    /// The VNI an EVPN route carries (label 1 of type 2, the label of type 5, the PMSI tunnel
    /// label of type 3).
    pub vni: Option<u32>,
    /// The route's next hop, which `set ip next-hop` replaces.
    pub next_hop: Option<IpAddr>,
    pub attributes: &'a PathAttributes,
}

/// A permitted route after the set clauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyResult {
    /// The attributes after every set clause; `set ip next-hop` with an IPv4 address also
    /// writes NEXT_HOP.
    pub attributes: PathAttributes,
    /// The next hop after `set ip next-hop`, or the view's next hop.
    pub next_hop: Option<IpAddr>,
}

/// The verdict of a route-map without copying unchanged attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Deny,
    /// Permitted and no set clause ran.
    Unchanged,
    /// Permitted with these attributes and next hop.
    Changed(Box<PolicyResult>),
}

/// Every prefix-list and route-map of an instance, by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicySet {
    pub prefix_lists: BTreeMap<String, PrefixList>,
    pub route_maps: BTreeMap<String, RouteMap>,
}

impl PolicySet {
    /// Evaluates the route-map `map_name` on `route`. Returns `None` when the route is denied:
    /// by a deny entry, because no entry matches, or because no route-map has that name (FRR
    /// 8.4 also denies everything through a route-map that does not exist).
    pub fn evaluate(&self, map_name: &str, route: &RouteView) -> Option<PolicyResult> {
        match self.apply(map_name, route) {
            Verdict::Deny => None,
            Verdict::Unchanged => Some(PolicyResult {
                attributes: route.attributes.clone(),
                next_hop: route.next_hop,
            }),
            Verdict::Changed(result) => Some(*result),
        }
    }

    /// Evaluates a route-map like [`PolicySet::evaluate`], leaving the attributes uncopied
    /// when no set clause runs.
    pub(crate) fn apply(&self, map_name: &str, route: &RouteView) -> Verdict {
        let Some(map) = self.route_maps.get(map_name) else {
            return Verdict::Deny;
        };
        let Some(entry) = map
            .entries
            .iter()
            .find(|e| e.matches.iter().all(|m| self.match_holds(m, route)))
        else {
            return Verdict::Deny;
        };
        if entry.action == Action::Deny {
            return Verdict::Deny;
        }
        if entry.sets.is_empty() {
            return Verdict::Unchanged;
        }
        let mut result = PolicyResult {
            attributes: route.attributes.clone(),
            next_hop: route.next_hop,
        };
        for set in &entry.sets {
            apply_set(set, &mut result);
        }
        Verdict::Changed(Box::new(result))
    }

    fn match_holds(&self, clause: &Match, route: &RouteView) -> bool {
        let attrs = route.attributes;
        match clause {
            Match::PrefixList(name) => match (route.prefix, self.prefix_lists.get(name)) {
                (Some(prefix), Some(list)) => list.evaluate(&prefix) == Action::Permit,
                _ => false,
            },
            Match::SourceL3vrf(name) => route.source_l3vrf == Some(name.as_str()),
            Match::EvpnRouteType(t) => route.evpn_route_type == Some(*t),
            Match::EvpnVni(vni) => route.vni == Some(*vni),
            Match::Community(wanted) => {
                let carried = attrs.communities.as_deref().unwrap_or(&[]);
                wanted.iter().all(|c| carried.contains(c))
            }
            Match::RouteTarget(wanted) => {
                let carried = attrs.extended_communities.as_deref().unwrap_or(&[]);
                wanted
                    .iter()
                    .all(|rt| carried.contains(&ExtendedCommunity::RouteTarget(*rt)))
            }
        }
    }
}

fn apply_set(set: &Set, result: &mut PolicyResult) {
    let attrs = &mut result.attributes;
    match set {
        Set::LocalPreference(value) => attrs.local_pref = Some(*value),
        Set::Med(value) => attrs.med = Some(*value),
        Set::Community {
            communities,
            additive,
        } => {
            let mut list = if *additive {
                attrs.communities.take().unwrap_or_default()
            } else {
                Vec::new()
            };
            for c in communities {
                if !list.contains(c) {
                    list.push(*c);
                }
            }
            // An empty COMMUNITIES attribute is malformed (RFC 7606 section 7.8): none is sent.
            attrs.communities = if list.is_empty() { None } else { Some(list) };
        }
        Set::RouteTargetAdd(targets) => {
            let list = attrs.extended_communities.get_or_insert_with(Vec::new);
            for rt in targets {
                let community = ExtendedCommunity::RouteTarget(*rt);
                if !list.contains(&community) {
                    list.push(community);
                }
            }
        }
        Set::NextHop(address) => {
            result.next_hop = Some(*address);
            if let IpAddr::V4(v4) = address {
                attrs.next_hop = Some(*v4);
            }
        }
    }
}

/// Whether RFC 8212 blocks a direction of an eBGP session: with `ebgp_requires_policy`, an
/// eBGP peer without a route-map in a direction exchanges no route in that direction.
pub fn blocked_by_rfc8212(ebgp_requires_policy: bool, ebgp: bool, route_map: Option<&str>) -> bool {
    ebgp_requires_policy && ebgp && route_map.is_none()
}
