//! Snapshots for `show bgp summary` and `show bgp neighbors`, serialisable for the daemon's
//! JSON output, with the counters that metrics export. Times are ages in seconds.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use serde::Serialize;

use crate::instance::{Instance, MalformedCounters};
use crate::session::{DownReason, SessionCounters, State};
use crate::types::AfiSafi;

/// `show bgp summary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub router_id: Ipv4Addr,
    pub local_as: u32,
    /// Connections rejected because their source is neither a neighbor nor in a listen range.
    pub rejected_connections: u64,
    pub neighbors: Vec<NeighborSummary>,
}

/// One line of `show bgp summary`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeighborSummary {
    pub address: IpAddr,
    pub remote_as: u32,
    pub state: State,
    /// Seconds in Established; `None` when not Established.
    pub uptime_secs: Option<u64>,
    pub families: Vec<FamilyCounts>,
    pub messages_in: u64,
    pub messages_out: u64,
    pub dynamic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Prefix counts of one family of a neighbor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FamilyCounts {
    pub afi_safi: String,
    /// Paths received, before inbound policy.
    pub received: u64,
    /// Paths accepted by inbound policy.
    pub accepted: u64,
    /// Paths advertised to the neighbor.
    pub sent: u64,
}

/// `show bgp neighbors`: one neighbor in detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeighborDetail {
    #[serde(flatten)]
    pub summary: NeighborSummary,
    pub local_address: Option<IpAddr>,
    pub remote_router_id: Option<Ipv4Addr>,
    pub passive: bool,
    pub shutdown: bool,
    pub timers: Timers,
    /// The result of the OPEN exchange; `None` when not Established.
    pub capabilities: Option<Capabilities>,
    pub last_error: Option<LastErrorDetail>,
    pub connect_retry_counter: u32,
    pub counters: SessionCounters,
    pub malformed_updates: MalformedCounters,
    /// Graceful restart helper state while the neighbor restarts.
    pub graceful_restart_helper: Option<HelperDetail>,
    pub bfd: Option<BfdDetail>,
    pub ttl: u8,
    pub min_ttl: Option<u8>,
    pub md5: bool,
}

/// Configured and negotiated timers, seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timers {
    pub hold_time: u16,
    pub keepalive: u16,
    pub connect_retry: u16,
    pub negotiated_hold_time: Option<u16>,
    pub negotiated_keepalive: Option<u16>,
}

/// Negotiated capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub families: Vec<String>,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    pub four_octet_as: bool,
    pub extended_message: bool,
    pub add_path_receive: Vec<String>,
    pub add_path_send: Vec<String>,
    pub graceful_restart: Option<GracefulRestartDetail>,
    pub disabled_families: Vec<String>,
}

/// The peer's graceful restart capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GracefulRestartDetail {
    pub restart_state: bool,
    pub restart_time: u16,
    pub graceful_notification: bool,
    /// Families with the Forwarding State flag.
    pub families: Vec<(String, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastErrorDetail {
    #[serde(flatten)]
    pub reason: DownReason,
    pub age_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelperDetail {
    pub stale_families: Vec<String>,
    /// Seconds until the restart timer expires, while waiting for the peer to reconnect.
    pub restart_remaining_secs: Option<u64>,
    /// Seconds until the stale-path timer expires, while waiting for its End-of-RIB.
    pub stale_remaining_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BfdDetail {
    pub local: IpAddr,
    pub multihop: bool,
}

fn names(families: &[AfiSafi]) -> Vec<String> {
    families.iter().map(|f| f.to_string()).collect()
}

fn remaining(deadline: Option<Instant>, now: Instant) -> Option<u64> {
    deadline.map(|d| d.saturating_duration_since(now).as_secs())
}

impl Instance {
    /// Returns `show bgp summary`.
    pub fn summary(&self, now: Instant) -> Summary {
        Summary {
            router_id: self.config.router_id,
            local_as: self.config.asn,
            rejected_connections: self.rejected_connections,
            neighbors: self
                .peers
                .keys()
                .filter_map(|a| self.neighbor_summary(now, *a))
                .collect(),
        }
    }

    fn neighbor_summary(&self, now: Instant, address: IpAddr) -> Option<NeighborSummary> {
        let peer = self.peers.get(&address)?;
        let counters = peer.session.counters();
        let families = self
            .rib
            .prefix_counts(peer.id)
            .into_iter()
            .map(|(afi_safi, received, accepted, sent)| FamilyCounts {
                afi_safi: afi_safi.to_string(),
                received,
                accepted,
                sent,
            })
            .collect();
        Some(NeighborSummary {
            address,
            remote_as: peer.config.remote_as,
            state: peer.session.state(),
            uptime_secs: peer
                .session
                .established_at()
                .map(|t| now.saturating_duration_since(t).as_secs()),
            families,
            messages_in: counters.messages_in(),
            messages_out: counters.messages_out(),
            dynamic: peer.config.dynamic,
            group: peer.config.group.clone(),
            description: peer.config.description.clone(),
        })
    }

    /// Returns `show bgp neighbors` for every neighbor, or for `address` only.
    pub fn neighbors(&self, now: Instant, address: Option<IpAddr>) -> Vec<NeighborDetail> {
        self.peers
            .keys()
            .filter(|a| address.is_none_or(|wanted| wanted == **a))
            .filter_map(|a| self.neighbor_detail(now, *a))
            .collect()
    }

    fn neighbor_detail(&self, now: Instant, address: IpAddr) -> Option<NeighborDetail> {
        let summary = self.neighbor_summary(now, address)?;
        let peer = self.peers.get(&address)?;
        let negotiated = peer.session.negotiated();
        let capabilities = negotiated.map(|n| Capabilities {
            families: names(&n.families),
            route_refresh: n.route_refresh,
            enhanced_route_refresh: n.enhanced_route_refresh,
            four_octet_as: n.four_octet_as,
            extended_message: n.extended_message,
            add_path_receive: names(&n.receive.add_path),
            add_path_send: names(&n.send.add_path),
            graceful_restart: n.graceful_restart.as_ref().map(|gr| GracefulRestartDetail {
                restart_state: gr.restart_state,
                restart_time: gr.restart_time,
                graceful_notification: n.graceful_notification,
                families: gr
                    .families
                    .iter()
                    .map(|(f, fwd)| (f.to_string(), *fwd))
                    .collect(),
            }),
            disabled_families: names(&peer.disabled),
        });
        Some(NeighborDetail {
            summary,
            local_address: peer
                .session
                .endpoints()
                .map(|e| crate::instance::canonical(e.local.ip())),
            remote_router_id: negotiated.map(|n| n.remote_id),
            passive: peer.config.passive,
            shutdown: peer.config.shutdown,
            timers: Timers {
                hold_time: peer.config.hold_time,
                keepalive: peer.config.keepalive,
                connect_retry: peer.config.connect_retry,
                negotiated_hold_time: negotiated.map(|n| n.hold_time),
                negotiated_keepalive: negotiated.map(|n| n.keepalive),
            },
            capabilities,
            last_error: peer.session.last_error().map(|e| LastErrorDetail {
                reason: e.reason.clone(),
                age_secs: now.saturating_duration_since(e.at).as_secs(),
            }),
            connect_retry_counter: peer.session.connect_retry_counter(),
            counters: peer.session.counters().clone(),
            malformed_updates: peer.malformed.clone(),
            graceful_restart_helper: peer.helper.as_ref().map(|h| HelperDetail {
                stale_families: names(&h.families),
                restart_remaining_secs: remaining(h.restart_deadline, now),
                stale_remaining_secs: remaining(h.stale_deadline, now),
            }),
            bfd: peer.bfd.map(|b| BfdDetail {
                local: b.local,
                multihop: b.multihop,
            }),
            ttl: peer.config.ttl(self.config.asn),
            min_ttl: peer.config.min_ttl(),
            md5: peer.config.password.is_some(),
        })
    }
}
