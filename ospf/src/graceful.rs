//! Graceful restart (RFC 3623). The restarting router (section 2) announces its restart in
//! grace-LSAs and keeps its LSAs and routes unchanged until its adjacencies are back. The helper
//! (section 3) keeps a restarting neighbor's adjacency in its own LSAs meanwhile.
//!
//! BFD: while this router helps a neighbor, a BFD Down for that neighbor is ignored, because the
//! restarting router's BFD sessions go down with its control plane. The adjacency then depends
//! on the grace period alone, and BFD protects it again once helper mode ends.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{debug, info, warn};

use crate::instance::{Action, Instance};
use crate::interface::InterfaceEvent;
use crate::lsa::grace::{self, GraceLsa, RestartReason};
use crate::lsa::{self, LsType, Lsa, LsaBody, LsaKey, RouterLinkType};
use crate::neighbor::NeighborState;
use crate::packet::ALL_SPF_ROUTERS;

/// The helper state of one neighbor (RFC 3623 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HelperState {
    /// When the neighbor's grace period ends.
    pub grace_ends_at: Instant,
    pub reason: RestartReason,
}

/// The state of an instance in graceful restart (RFC 3623 section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RestartState {
    pub ends_at: Instant,
}

/// The reason this router stopped helping a neighbor (RFC 3623 section 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HelperExitReason {
    /// The neighbor flushed its grace-LSA: its restart finished.
    GraceLsaFlushed,
    GracePeriodExpired,
    /// An LSA with changed contents was flooded to the neighbor (strict LSA checking).
    TopologyChanged,
    /// The adjacency went down for a reason the helper does not mask (interface down, another
    /// router behind the neighbor's address).
    NeighborDown,
}

/// The reason this router declined to help a neighbor that sent a grace-LSA (RFC 3623
/// section 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HelperRejectReason {
    HelperDisabled,
    /// This router is itself restarting.
    Restarting,
    /// No neighbor on the link matches the grace-LSA's sender.
    UnknownNeighbor,
    /// The neighbor's adjacency is not Full.
    NotFull,
    /// The LS age of the grace-LSA already reached the grace period.
    GracePeriodOver,
    /// A changed LSA waits on the neighbor's retransmission list (strict LSA checking).
    TopologyChanged,
    /// The grace-LSA's TLVs do not decode.
    Malformed,
}

/// The reason this router left graceful restart (RFC 3623 section 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartExitReason {
    /// Every adjacency of the pre-restart router-LSA is Full again, or a database exchange
    /// completed without any pre-restart router-LSA of ours to compare with.
    AdjacenciesRestored,
    GracePeriodExpired,
    /// A router-LSA of another router disagrees with our pre-restart router-LSA: the topology
    /// changed, or a neighbor refused to help and dropped its link to us.
    TopologyChanged,
}

impl Instance {
    /// Starts a planned graceful restart (RFC 3623 section 2): originates a grace-LSA announcing
    /// `grace_period` on every interface with a Full neighbor and floods it. Keep handling inputs
    /// until [`Instance::grace_acknowledged`] returns true or a bounded wait ends, then drop the
    /// instance without [`Instance::shutdown`], so that our LSAs stay in the neighbors' databases.
    ///
    /// Returns no action when graceful restart is disabled in the configuration.
    pub fn graceful_shutdown(&mut self, grace_period: Duration, now: Instant) -> Vec<Action> {
        if !self.config.graceful_restart.restart_enabled {
            info!("graceful restart is disabled; stopping without grace-LSAs");
            return std::mem::take(&mut self.actions);
        }
        let ifindexes: Vec<u32> = self
            .interfaces
            .values()
            .filter(|interface| interface.is_active())
            .filter(|interface| {
                interface
                    .neighbors
                    .values()
                    .any(|neighbor| neighbor.state == NeighborState::Full)
            })
            .map(|interface| interface.ifindex)
            .collect();
        self.grace_not_sent = self
            .interfaces
            .values()
            .flat_map(|interface| interface.neighbors.values())
            .filter(|neighbor| {
                neighbor.state == NeighborState::Full && !neighbor.options.has(lsa::Options::O)
            })
            .map(|neighbor| neighbor.router_id)
            .collect();
        if !self.grace_not_sent.is_empty() {
            warn!(neighbors = ?self.grace_not_sent, "neighbors without opaque LSA support cannot receive our grace-LSA");
        }
        info!(
            grace_period_s = grace_period.as_secs(),
            interfaces = ifindexes.len(),
            "announcing a graceful restart"
        );
        for ifindex in ifindexes {
            self.originate_grace_lsa(ifindex, grace_period, now);
        }
        std::mem::take(&mut self.actions)
    }

    /// Returns true when every neighbor acknowledged the grace-LSAs of
    /// [`Instance::graceful_shutdown`].
    pub fn grace_acknowledged(&self) -> bool {
        self.unacknowledged_grace_neighbors().is_empty()
    }

    /// Returns the router ids of the neighbors that have not acknowledged our grace-LSA yet, and
    /// of the Full neighbors that could not receive it because they do not support opaque LSAs.
    pub fn unacknowledged_grace_neighbors(&self) -> Vec<Ipv4Addr> {
        let mut waiting: Vec<Ipv4Addr> = self
            .interfaces
            .values()
            .flat_map(|interface| interface.neighbors.values())
            .filter(|neighbor| {
                neighbor.ls_retransmit.keys().any(|key| {
                    key.ls_type == LsType::OPAQUE_LINK
                        && key.link_state_id == grace::LINK_STATE_ID
                        && key.advertising_router == self.router_id
                })
            })
            .map(|neighbor| neighbor.router_id)
            .collect();
        waiting.extend(&self.grace_not_sent);
        waiting
    }

    /// Returns how long to wait for the acknowledgments after [`Instance::graceful_shutdown`]:
    /// twice the longest retransmit interval, which covers one retransmission and the
    /// neighbors' delayed acknowledgments.
    pub fn grace_acknowledgment_wait(&self) -> Duration {
        let longest = self
            .interfaces
            .values()
            .filter(|interface| interface.is_active())
            .map(|interface| interface.config.retransmit_interval)
            .max()
            .unwrap_or(1);
        Duration::from_secs(2 * u64::from(longest))
    }

    /// Returns true while the instance is in graceful restart.
    pub fn is_restarting(&self) -> bool {
        self.restart.is_some()
    }

    fn grace_key(&self, ifindex: u32) -> LsaKey {
        LsaKey {
            scope: ifindex,
            ls_type: LsType::OPAQUE_LINK,
            link_state_id: grace::LINK_STATE_ID,
            advertising_router: self.router_id,
        }
    }

    /// Originates our grace-LSA on one interface and floods it to the adjacent neighbors.
    fn originate_grace_lsa(&mut self, ifindex: u32, grace_period: Duration, now: Instant) {
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let grace = GraceLsa {
            grace_period: u32::try_from(grace_period.as_secs()).unwrap_or(u32::MAX),
            reason: RestartReason::SoftwareRestart,
            interface_address: Some(interface.address.addr()),
        };
        let key = self.grace_key(ifindex);
        self.originate(key, grace.to_body(), now, true);
    }

    /// Re-announces the restart on an interface that just came up in restarting mode, before its
    /// first Hello (RFC 3623 section 2.2 for unplanned restarts, which applies after a planned one
    /// too). With no adjacency yet the grace-LSA goes to AllSPFRouters once, unacknowledged:
    /// neighbors that still hold our adjacency accept it and refresh their grace period.
    pub(crate) fn announce_restart(&mut self, ifindex: u32, now: Instant) {
        let Some(restart) = self.restart else { return };
        let remaining = restart
            .ends_at
            .saturating_duration_since(now)
            .max(Duration::from_secs(1));
        self.originate_grace_lsa(ifindex, remaining, now);
        self.send_own_grace_lsa(ifindex, now);
    }

    fn send_own_grace_lsa(&mut self, ifindex: u32, now: Instant) {
        let key = self.grace_key(ifindex);
        let Some(entry) = self.lsdb.get(&key) else {
            return;
        };
        let transmit_delay = self
            .interfaces
            .get(&ifindex)
            .map_or(1, |interface| interface.config.transmit_delay);
        let copy = entry.lsa.with_age(
            entry
                .age(now)
                .saturating_add(transmit_delay)
                .min(lsa::MAX_AGE),
        );
        self.send_lsas(ifindex, ALL_SPF_ROUTERS, vec![copy]);
    }

    /// Handles an instance of our own grace-LSA that came back newer than ours while we are
    /// restarting: the previous run's copy outranks the one announced at start, so announce again
    /// above its sequence number.
    pub(crate) fn own_grace_lsa_received(&mut self, scope: u32, lsa: &Lsa, now: Instant) {
        let key = lsa.header.key(scope);
        self.next_sequence
            .insert(key, lsa.header.ls_sequence_number.wrapping_add(1));
        self.announce_restart(scope, now);
    }

    /// Runs the exit checks of graceful restart (RFC 3623 section 2.2) and leaves it when one
    /// holds.
    pub(crate) fn check_restart(&mut self, now: Instant) {
        let Some(restart) = self.restart else { return };
        let reason = if now >= restart.ends_at {
            RestartExitReason::GracePeriodExpired
        } else if self.restart_topology_changed(now) {
            RestartExitReason::TopologyChanged
        } else if self.adjacencies_restored(now) {
            RestartExitReason::AdjacenciesRestored
        } else {
            return;
        };
        self.exit_restart(reason, now);
    }

    fn own_router_lsa(&self, now: Instant) -> Option<&crate::lsa::RouterLsa> {
        let key = LsaKey {
            scope: 0,
            ls_type: LsType::ROUTER,
            link_state_id: self.router_id,
            advertising_router: self.router_id,
        };
        let entry = self.lsdb.get(&key).filter(|entry| !entry.is_max_age(now))?;
        match &entry.lsa.body {
            LsaBody::Router(router) => Some(router),
            _ => None,
        }
    }

    /// Returns true when every adjacency that our pre-restart router-LSA describes is Full again
    /// (RFC 3623 section 2.2, condition 1). Without that LSA, returns true once some adjacency
    /// is Full: a completed database exchange without it means the network kept none.
    fn adjacencies_restored(&self, now: Instant) -> bool {
        let any_full = self.interfaces.values().any(|interface| {
            interface
                .neighbors
                .values()
                .any(|neighbor| neighbor.state == NeighborState::Full)
        });
        let Some(own) = self.own_router_lsa(now) else {
            return any_full;
        };
        for link in &own.links {
            let restored = match link.link_type {
                RouterLinkType::POINT_TO_POINT => self.interfaces.values().any(|interface| {
                    interface.neighbors.values().any(|neighbor| {
                        neighbor.router_id == link.link_id && neighbor.state == NeighborState::Full
                    })
                }),
                RouterLinkType::TRANSIT => self.transit_restored(link.link_id, link.link_data),
                _ => true,
            };
            if !restored {
                return false;
            }
        }
        true
    }

    /// Checks one transit link of the pre-restart router-LSA: as DR, every router of our
    /// pre-restart network-LSA must be Full again; otherwise the DR must be.
    fn transit_restored(&self, designated_router: Ipv4Addr, own_address: Ipv4Addr) -> bool {
        let Some(interface) = self
            .interfaces
            .values()
            .find(|interface| interface.address.addr() == own_address)
        else {
            return false;
        };
        let full = |router_id: Ipv4Addr| {
            interface.neighbors.values().any(|neighbor| {
                neighbor.router_id == router_id && neighbor.state == NeighborState::Full
            })
        };
        if designated_router != own_address {
            return interface
                .neighbors
                .get(&designated_router)
                .is_some_and(|neighbor| neighbor.state == NeighborState::Full);
        }
        let key = LsaKey {
            scope: 0,
            ls_type: LsType::NETWORK,
            link_state_id: own_address,
            advertising_router: self.router_id,
        };
        match self.lsdb.get(&key).map(|entry| &entry.lsa.body) {
            Some(LsaBody::Network(network)) => network
                .attached_routers
                .iter()
                .filter(|router| **router != self.router_id)
                .all(|router| full(*router)),
            _ => true,
        }
    }

    /// Returns true when a router-LSA of another router disagrees with our pre-restart
    /// router-LSA about a point-to-point link between the two (RFC 3623 section 2.2,
    /// condition 3).
    // NOTE: transit links are not compared; a change on a broadcast segment ends the restart
    // only through the grace period or the adjacency check.
    fn restart_topology_changed(&self, now: Instant) -> bool {
        let Some(own) = self.own_router_lsa(now) else {
            return false;
        };
        let links_to = |router: &crate::lsa::RouterLsa, target: Ipv4Addr| {
            router.links.iter().any(|link| {
                link.link_type == RouterLinkType::POINT_TO_POINT && link.link_id == target
            })
        };
        for (key, entry) in self.lsdb.iter() {
            if key.scope != 0
                || key.ls_type != LsType::ROUTER
                || key.advertising_router == self.router_id
            {
                continue;
            }
            if entry.is_max_age(now) {
                continue;
            }
            let LsaBody::Router(other) = &entry.lsa.body else {
                continue;
            };
            if links_to(other, self.router_id) != links_to(own, key.advertising_router) {
                info!(router = %key.advertising_router, "router-LSA disagrees with our pre-restart router-LSA");
                return true;
            }
        }
        false
    }

    /// Leaves graceful restart (RFC 3623 section 2.3): originates our router-LSA and
    /// network-LSAs, flushes the grace-LSAs, and runs SPF, which publishes the routing table.
    fn exit_restart(&mut self, reason: RestartExitReason, now: Instant) {
        if self.restart.take().is_none() {
            return;
        }
        info!(reason = ?reason, "leaving OSPF graceful restart");
        *self
            .counters
            .graceful_restart
            .restart_exits
            .entry(reason)
            .or_default() += 1;
        self.last_restart_exit = Some(reason);
        self.originate_lsas(now);
        let grace: Vec<LsaKey> = self
            .lsdb
            .iter()
            .filter(|(key, entry)| {
                key.advertising_router == self.router_id
                    && grace::is_grace_lsa(&entry.lsa.header)
                    && !entry.is_max_age(now)
            })
            .map(|(key, _)| *key)
            .collect();
        for key in grace {
            self.flush(&key, now);
        }
        self.spf_at = None;
        self.run_spf(now);
    }

    /// Acts on a grace-LSA from another router just installed on interface `ifindex`
    /// (RFC 3623 sections 3.1 and 3.2).
    pub(crate) fn grace_lsa_received(&mut self, ifindex: u32, lsa: &Lsa, now: Instant) {
        let sender = lsa.header.advertising_router;
        let age = lsa.header.age();
        let decoded = GraceLsa::from_lsa(lsa);
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };

        // On broadcast links the IP interface address TLV names the neighbor; elsewhere, and when
        // the TLV is missing, the Advertising Router does.
        let by_address = decoded
            .ok()
            .and_then(|grace| grace.interface_address)
            .filter(|address| {
                interface.is_broadcast() && interface.neighbors.contains_key(address)
            });
        let address = by_address.or_else(|| {
            interface
                .neighbors
                .values()
                .find(|neighbor| neighbor.router_id == sender)
                .map(|neighbor| neighbor.address)
        });

        if age >= lsa::MAX_AGE {
            if let Some(address) = address {
                self.exit_helper(ifindex, address, HelperExitReason::GraceLsaFlushed, now);
            }
            return;
        }
        let grace = match decoded {
            Ok(grace) => grace,
            Err(error) => {
                debug!(neighbor = %sender, error = %error, "ignoring a malformed grace-LSA");
                return self.reject_helper(sender, HelperRejectReason::Malformed);
            }
        };
        let Some(address) = address else {
            return self.reject_helper(sender, HelperRejectReason::UnknownNeighbor);
        };
        if !self.config.graceful_restart.helper_enabled {
            return self.reject_helper(sender, HelperRejectReason::HelperDisabled);
        }
        if self.restart.is_some() {
            return self.reject_helper(sender, HelperRejectReason::Restarting);
        }
        let strict = self.config.graceful_restart.strict_lsa_checking;
        let Some(neighbor) = self.neighbor_mut(ifindex, address) else {
            return;
        };
        if neighbor.state != NeighborState::Full && neighbor.helper.is_none() {
            return self.reject_helper(sender, HelperRejectReason::NotFull);
        }
        if u32::from(age) >= grace.grace_period {
            return self.reject_helper(sender, HelperRejectReason::GracePeriodOver);
        }
        // Condition 2 of section 3.1: no change to the database since the grace period began,
        // which shows as a changed area LSA still waiting for the neighbor's acknowledgment.
        let changed = neighbor
            .ls_retransmit
            .keys()
            .find(|key| matches!(key.ls_type.0, 1..=5))
            .copied();
        if let Some(key) = changed.filter(|_| strict) {
            info!(
                neighbor = %sender,
                ls_type = key.ls_type.0,
                link_state_id = %key.link_state_id,
                advertising_router = %key.advertising_router,
                "an LSA sent to the restarting neighbor is not acknowledged yet"
            );
            return self.reject_helper(sender, HelperRejectReason::TopologyChanged);
        }

        let grace_ends_at =
            now + Duration::from_secs(u64::from(grace.grace_period - u32::from(age)));
        let entering = neighbor.helper.is_none();
        neighbor.helper = Some(HelperState {
            grace_ends_at,
            reason: grace.reason,
        });
        let remaining_s = grace_ends_at.saturating_duration_since(now).as_secs();
        if entering {
            self.counters.graceful_restart.helper_entered += 1;
            info!(neighbor = %sender, address = %address, reason = ?grace.reason, remaining_s, "entering OSPF graceful restart helper mode");
        } else {
            debug!(neighbor = %sender, remaining_s, "grace period of a helped neighbor updated");
        }
    }

    fn reject_helper(&mut self, sender: Ipv4Addr, reason: HelperRejectReason) {
        *self
            .counters
            .graceful_restart
            .helper_rejected
            .entry(reason)
            .or_default() += 1;
        info!(neighbor = %sender, reason = ?reason, "not helping a restarting neighbor");
    }

    /// Stops helping a neighbor (RFC 3623 section 3.2): our LSAs describe its real state again,
    /// the DR election runs, and its inactivity timer applies again.
    pub(crate) fn exit_helper(
        &mut self,
        ifindex: u32,
        address: Ipv4Addr,
        reason: HelperExitReason,
        now: Instant,
    ) {
        let Some(neighbor) = self.neighbor_mut(ifindex, address) else {
            return;
        };
        if neighbor.helper.take().is_none() {
            return;
        }
        let router_id = neighbor.router_id;
        *self
            .counters
            .graceful_restart
            .helper_exits
            .entry(reason)
            .or_default() += 1;
        info!(neighbor = %router_id, address = %address, reason = ?reason, "leaving OSPF graceful restart helper mode");
        self.origination_needed = true;
        if self
            .interfaces
            .get(&ifindex)
            .is_some_and(|interface| interface.is_broadcast())
        {
            self.interface_event(ifindex, InterfaceEvent::NeighborChange, now);
        }
    }

    /// Ends helper mode for every helped neighbor but `except` after an LSA's contents changed
    /// (RFC 3623 section 3.2, condition 3, with strict LSA checking). The LSA is flooded to
    /// every adjacent neighbor but its sender, so each helped neighbor would receive it.
    pub(crate) fn topology_changed(
        &mut self,
        key: &LsaKey,
        except: Option<(u32, Ipv4Addr)>,
        now: Instant,
    ) {
        if !self.config.graceful_restart.strict_lsa_checking || !matches!(key.ls_type.0, 1..=5) {
            return;
        }
        let helped: Vec<(u32, Ipv4Addr)> = self
            .interfaces
            .values()
            .flat_map(|interface| {
                interface
                    .neighbors
                    .values()
                    .filter(|neighbor| neighbor.helper.is_some())
                    .map(|neighbor| (interface.ifindex, neighbor.address))
            })
            .filter(|helped| Some(*helped) != except)
            .collect();
        for (ifindex, address) in helped {
            warn!(ls_type = key.ls_type.0, link_state_id = %key.link_state_id, "LSA changed while helping a restarting neighbor");
            self.exit_helper(ifindex, address, HelperExitReason::TopologyChanged, now);
        }
    }

    /// Ends helper mode for neighbors whose grace period is over.
    pub(crate) fn helper_timers(&mut self, ifindex: u32, now: Instant) {
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let expired: Vec<Ipv4Addr> = interface
            .neighbors
            .values()
            .filter(|neighbor| {
                neighbor
                    .helper
                    .is_some_and(|helper| helper.grace_ends_at <= now)
            })
            .map(|neighbor| neighbor.address)
            .collect();
        for address in expired {
            self.exit_helper(ifindex, address, HelperExitReason::GracePeriodExpired, now);
        }
    }
}
