//! The decision process of RFC 4271 section 9.1.2, with the route reflection tie-breaks of
//! RFC 4456 section 9. It runs as an elimination over the candidate paths of one route: each
//! step keeps the candidates that are best by its criterion. The MED step compares only paths
//! from the same neighbor AS and is no total order, and elimination keeps it deterministic.
//!
//! Locally originated paths win before LOCAL_PREF, because FRR 8.4 gives them weight 32768
//! against 0 for learned paths. Among learned paths the order is the RFC's.

use std::cmp::Reverse;
use std::net::IpAddr;

use super::attrs::neighbor_as;
use super::table::StoredPath;
use super::{LOCAL_SLOT, Shared};

/// LOCAL_PREF of a path that does not carry one (RFC 4271 section 5.1.5 leaves the value to
/// the implementation; FRR, BIRD and GoBGP use 100).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// A step of the decision process, in the order applied. The table snapshot names the step
/// that chose each best path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DecisionStep {
    /// Only one path has a reachable next hop (RFC 4271 section 9.1.2).
    NexthopReachable,
    /// A locally originated path beats learned ones (FRR's weight).
    LocallyOriginated,
    /// Highest LOCAL_PREF.
    LocalPref,
    /// Shortest AS_PATH; an AS_SET counts 1, confederation segments 0.
    AsPathLength,
    /// Lowest ORIGIN: IGP, EGP, INCOMPLETE.
    Origin,
    /// Lowest MED among paths from the same neighbor AS; a missing MED is 0.
    Med,
    /// A path learned over eBGP beats one learned over iBGP.
    EbgpOverIbgp,
    /// Lowest IGP cost to the next hop.
    IgpCost,
    /// Lowest ORIGINATOR_ID, or BGP identifier of the peer when absent (RFC 4456 section 9).
    RouterId,
    /// Shortest CLUSTER_LIST (RFC 4456 section 9).
    ClusterListLength,
    /// Lowest peer address.
    NeighborAddress,
    /// Lowest add-path identifier, for paths from one peer that tie on everything else.
    PathId,
    /// Only one path was a candidate.
    OnlyPath,
}

/// The facts about one path that the decision compares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub(crate) index: usize,
    local: bool,
    local_pref: u32,
    as_path_length: usize,
    origin: u8,
    med: u32,
    neighbor_as: Option<u32>,
    ebgp: bool,
    igp_cost: u32,
    router_id: u32,
    cluster_list_length: usize,
    neighbor: (u8, u128),
    path_id: u32,
    /// Set by the MED step for a path beaten by one from the same neighbor AS.
    med_dominated: bool,
}

fn address_key(a: IpAddr) -> (u8, u128) {
    match a {
        IpAddr::V4(v4) => (4, u32::from(v4) as u128),
        IpAddr::V6(v6) => (6, u128::from(v6)),
    }
}

/// Returns the facts of `path`, or `None` when its next hop is unreachable.
pub(crate) fn candidate(index: usize, path: &StoredPath, sh: &Shared) -> Option<Candidate> {
    if !sh.nexthops.reachable(path.nexthop) {
        return None;
    }
    let a = &path.attributes;
    let (local, ebgp, peer_router_id, neighbor) = if path.peer == LOCAL_SLOT {
        (true, false, sh.local.router_id, (0, 0))
    } else {
        let peer = sh.peers.get(path.peer)?;
        (
            false,
            peer.ebgp,
            peer.info.bgp_identifier,
            address_key(peer.info.address),
        )
    };
    Some(Candidate {
        index,
        local,
        local_pref: a.local_pref.unwrap_or(DEFAULT_LOCAL_PREF),
        as_path_length: a.as_path.as_ref().map_or(0, |p| p.path_length()),
        origin: a.origin.map_or(2, |o| o as u8),
        med: a.med.unwrap_or(0),
        neighbor_as: neighbor_as(a.as_path.as_ref()),
        ebgp,
        igp_cost: sh.nexthops.cost(path.nexthop),
        router_id: u32::from(a.originator_id.unwrap_or(peer_router_id)),
        cluster_list_length: a.cluster_list.as_ref().map_or(0, |l| l.len()),
        neighbor,
        path_id: path.path_id.unwrap_or(0),
        med_dominated: false,
    })
}

/// Keeps the candidates with the lowest `key`; records `step` when that removed any.
fn keep_lowest<T: Ord + Copy>(
    candidates: &mut Vec<Candidate>,
    step: DecisionStep,
    decided: &mut DecisionStep,
    key: impl Fn(&Candidate) -> T,
) {
    let Some(best) = candidates.iter().map(&key).min() else {
        return;
    };
    let before = candidates.len();
    candidates.retain(|c| key(c) == best);
    if candidates.len() < before {
        *decided = step;
    }
}

/// Runs the decision over `candidates`, the reachable paths, and returns the index of the best
/// path and the step that chose it. `total` also counts the paths with unreachable next hops.
pub(crate) fn select(
    candidates: &mut Vec<Candidate>,
    total: usize,
) -> Option<(usize, DecisionStep)> {
    use DecisionStep::*;
    if candidates.is_empty() {
        return None;
    }
    let mut decided = if total > 1 && candidates.len() == 1 {
        NexthopReachable
    } else {
        OnlyPath
    };
    if candidates.len() > 1 {
        keep_lowest(candidates, LocallyOriginated, &mut decided, |c| !c.local);
        keep_lowest(candidates, LocalPref, &mut decided, |c| {
            Reverse(c.local_pref)
        });
        keep_lowest(candidates, AsPathLength, &mut decided, |c| c.as_path_length);
        keep_lowest(candidates, Origin, &mut decided, |c| c.origin);
        keep_lowest_med(candidates, &mut decided);
        keep_lowest(candidates, EbgpOverIbgp, &mut decided, |c| !c.ebgp);
        keep_lowest(candidates, IgpCost, &mut decided, |c| c.igp_cost);
        keep_lowest(candidates, RouterId, &mut decided, |c| c.router_id);
        keep_lowest(candidates, ClusterListLength, &mut decided, |c| {
            c.cluster_list_length
        });
        keep_lowest(candidates, NeighborAddress, &mut decided, |c| c.neighbor);
        keep_lowest(candidates, PathId, &mut decided, |c| c.path_id);
    }
    candidates.first().map(|c| (c.index, decided))
}

/// RFC 4271 section 9.1.2.2 (c): removes each path whose MED is higher than that of another
/// path from the same neighbor AS.
fn keep_lowest_med(candidates: &mut Vec<Candidate>, decided: &mut DecisionStep) {
    let before = candidates.len();
    for i in 0..before {
        let c = candidates[i];
        candidates[i].med_dominated = candidates
            .iter()
            .any(|o| o.neighbor_as == c.neighbor_as && o.med < c.med);
    }
    candidates.retain(|c| !c.med_dominated);
    if candidates.len() < before {
        *decided = DecisionStep::Med;
    }
}
