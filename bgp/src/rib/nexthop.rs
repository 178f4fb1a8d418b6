//! Next-hop tracking. Every next hop used by a path is interned here with its reachability
//! and the number of paths using it. A path stores a 4-octet id, and a reachability change
//! touches only the routes indexed under that id.

use std::collections::HashMap;
use std::net::IpAddr;

use super::RibEvent;

/// Index of a next hop in [`Nexthops`]; `NO_NEXTHOP` marks a path without one.
pub(crate) type NhId = u32;
pub(crate) const NO_NEXTHOP: NhId = u32::MAX;

#[derive(Debug)]
pub(crate) struct NhEntry {
    pub(crate) address: IpAddr,
    /// IGP cost; `None` once reported unreachable.
    pub(crate) metric: Option<u32>,
    /// Whether the owner was asked to track it ([`RibEvent::TrackNexthop`]). Next hops that
    /// are local addresses or unspecified are not tracked and always reachable.
    pub(crate) tracked: bool,
    /// Whether a reachability report arrived; before one, the next hop counts as reachable
    /// with cost 0.
    pub(crate) reported: bool,
    /// Paths using the next hop, over every family.
    refs: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Nexthops {
    entries: Vec<Option<NhEntry>>,
    by_address: HashMap<IpAddr, NhId>,
    free: Vec<NhId>,
}

impl Nexthops {
    /// Takes a reference on `address` for a new path. `track` is false for next hops that need
    /// no tracking; the first reference to a tracked one emits [`RibEvent::TrackNexthop`].
    pub(crate) fn acquire(
        &mut self,
        address: IpAddr,
        track: bool,
        events: &mut Vec<RibEvent>,
    ) -> NhId {
        if let Some(&id) = self.by_address.get(&address)
            && let Some(entry) = self.entries[id as usize].as_mut()
        {
            entry.refs += 1;
            return id;
        }
        let entry = NhEntry {
            address,
            metric: Some(0),
            tracked: track,
            reported: false,
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = Some(entry);
                id
            }
            None => {
                self.entries.push(Some(entry));
                (self.entries.len() - 1) as NhId
            }
        };
        self.by_address.insert(address, id);
        if track {
            events.push(RibEvent::TrackNexthop(address));
        }
        id
    }

    /// Drops a path's reference; the last one emits [`RibEvent::UntrackNexthop`].
    pub(crate) fn release(&mut self, id: NhId, events: &mut Vec<RibEvent>) {
        if id == NO_NEXTHOP {
            return;
        }
        let Some(entry) = self.entries.get_mut(id as usize).and_then(|e| e.as_mut()) else {
            return;
        };
        entry.refs = entry.refs.saturating_sub(1);
        if entry.refs > 0 {
            return;
        }
        let address = entry.address;
        if entry.tracked {
            events.push(RibEvent::UntrackNexthop(address));
        }
        self.entries[id as usize] = None;
        self.by_address.remove(&address);
        self.free.push(id);
    }

    /// Records a reachability report. Returns the id when the next hop is in use, is tracked
    /// and its state changed.
    pub(crate) fn update(&mut self, address: IpAddr, metric: Option<u32>) -> Option<NhId> {
        let id = *self.by_address.get(&address)?;
        let entry = self.entries[id as usize].as_mut()?;
        if !entry.tracked {
            return None;
        }
        let changed = entry.metric != metric;
        entry.metric = metric;
        entry.reported = true;
        changed.then_some(id)
    }

    pub(crate) fn get(&self, id: NhId) -> Option<&NhEntry> {
        self.entries.get(id as usize).and_then(|e| e.as_ref())
    }

    pub(crate) fn address(&self, id: NhId) -> Option<IpAddr> {
        self.get(id).map(|e| e.address)
    }

    /// Whether paths through `id` may be selected; a path without next hop always may.
    pub(crate) fn reachable(&self, id: NhId) -> bool {
        id == NO_NEXTHOP || self.get(id).is_some_and(|e| e.metric.is_some())
    }

    /// Returns the IGP cost used by the decision process: 0 for untracked next hops.
    pub(crate) fn cost(&self, id: NhId) -> u32 {
        self.get(id).and_then(|e| e.metric).unwrap_or(0)
    }

    /// Returns the IGP metric shown for a path: `None` unless tracked and reported.
    pub(crate) fn reported_metric(&self, id: NhId) -> Option<u32> {
        self.get(id)
            .filter(|e| e.tracked && e.reported)
            .and_then(|e| e.metric)
    }
}
