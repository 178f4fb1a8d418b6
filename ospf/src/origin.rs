//! LSA origination (RFC 2328 section 12.4): the router-LSA and the network-LSAs of interfaces
//! where this router is DR; refresh (LSRefreshTime), MinLSInterval, premature aging (14.1),
//! MaxAge removal (14) and the sequence number wrap (12.1.6).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, info};

use crate::instance::Instance;
use crate::interface::{InterfaceKind, InterfaceState};
use crate::lsa::{
    self, LsType, Lsa, LsaBody, LsaHeader, LsaKey, NetworkLsa, Options, RouterLink, RouterLinkType,
    RouterLsa,
};

/// Options of the LSAs we originate: E, as every router of a non-stub area sets it.
const LSA_OPTIONS: Options = Options(Options::E);

fn is_grace_key(key: &LsaKey) -> bool {
    key.ls_type == LsType::OPAQUE_LINK && key.link_state_id == lsa::grace::LINK_STATE_ID
}

impl Instance {
    fn own_key(&self, ls_type: LsType, link_state_id: Ipv4Addr) -> LsaKey {
        LsaKey {
            scope: 0,
            ls_type,
            link_state_id,
            advertising_router: self.router_id,
        }
    }

    /// Builds the router-LSA body from the interfaces and neighbors (section 12.4.1).
    pub(crate) fn build_router_lsa(&self) -> RouterLsa {
        let mut links = Vec::new();
        let link = |link_id, link_data, link_type, metric| RouterLink {
            link_id,
            link_data,
            link_type,
            metric,
            tos: Vec::new(),
        };
        for interface in self.interfaces.values() {
            let address = interface.address;
            let cost = interface.config.cost;
            match (interface.kind, interface.state) {
                (_, InterfaceState::Down) => {}
                (InterfaceKind::Loopback, _) => {
                    links.push(link(
                        address.addr(),
                        Ipv4Addr::BROADCAST,
                        RouterLinkType::STUB,
                        0,
                    ));
                }
                (InterfaceKind::PointToPoint, _) => {
                    for neighbor in interface
                        .neighbors
                        .values()
                        .filter(|n| n.is_advertised_full())
                    {
                        links.push(link(
                            neighbor.router_id,
                            address.addr(),
                            RouterLinkType::POINT_TO_POINT,
                            cost,
                        ));
                    }
                    links.push(link(
                        address.network(),
                        address.netmask(),
                        RouterLinkType::STUB,
                        cost,
                    ));
                }
                (InterfaceKind::Broadcast, state) => {
                    let full_with_dr = interface
                        .neighbors
                        .values()
                        .any(|n| n.is_advertised_full() && n.address == interface.dr);
                    let dr_with_full = state == InterfaceState::Dr
                        && interface.neighbors.values().any(|n| n.is_advertised_full());
                    if state != InterfaceState::Waiting && (full_with_dr || dr_with_full) {
                        links.push(link(
                            interface.dr,
                            address.addr(),
                            RouterLinkType::TRANSIT,
                            cost,
                        ));
                    } else {
                        links.push(link(
                            address.network(),
                            address.netmask(),
                            RouterLinkType::STUB,
                            cost,
                        ));
                    }
                }
            }
        }
        RouterLsa { flags: 0, links }
    }

    /// Returns the network-LSAs this router should originate, by Link State ID (12.4.2).
    fn build_network_lsas(&self) -> Vec<(Ipv4Addr, NetworkLsa)> {
        let mut lsas = Vec::new();
        for interface in self.interfaces.values() {
            if interface.kind != InterfaceKind::Broadcast || interface.state != InterfaceState::Dr {
                continue;
            }
            let mut attached: Vec<Ipv4Addr> = interface
                .neighbors
                .values()
                .filter(|neighbor| neighbor.is_advertised_full())
                .map(|neighbor| neighbor.router_id)
                .collect();
            if attached.is_empty() {
                continue;
            }
            attached.insert(0, self.router_id);
            lsas.push((
                interface.address.addr(),
                NetworkLsa {
                    network_mask: interface.address.netmask(),
                    attached_routers: attached,
                },
            ));
        }
        lsas
    }

    /// Originates every self-originated LSA whose contents changed, and flushes those no longer
    /// wanted. Does nothing in graceful restart, whose end calls it again (RFC 3623 section 2.1).
    pub(crate) fn originate_lsas(&mut self, now: Instant) {
        if self.restart.is_some() {
            return;
        }
        let router_key = self.own_key(LsType::ROUTER, self.router_id);
        let router = LsaBody::Router(self.build_router_lsa());
        self.originate(router_key, router, now, false);

        let wanted = self.build_network_lsas();
        let wanted_ids: BTreeSet<Ipv4Addr> = wanted.iter().map(|(id, _)| *id).collect();
        for (link_state_id, body) in wanted {
            let key = self.own_key(LsType::NETWORK, link_state_id);
            self.originate(key, LsaBody::Network(body), now, false);
        }
        let stale: Vec<LsaKey> = self
            .lsdb
            .iter()
            .filter(|(key, entry)| {
                key.ls_type == LsType::NETWORK
                    && key.advertising_router == self.router_id
                    && !wanted_ids.contains(&key.link_state_id)
                    && !entry.is_max_age(now)
            })
            .map(|(key, _)| *key)
            .collect();
        for key in stale {
            self.flush(&key, now);
        }
    }

    /// Originates a new instance of `key` with `body` when it differs from the database copy,
    /// or always when `force` is set (refresh, or a newer copy came back from the network).
    pub(crate) fn originate(&mut self, key: LsaKey, body: LsaBody, now: Instant, force: bool) {
        if self.sequence_wrap_pending.contains(&key) {
            return;
        }
        // In graceful restart only grace-LSAs are originated (RFC 3623 section 2.1).
        if self.restart.is_some() && !is_grace_key(&key) {
            return;
        }
        let forced = force || self.next_sequence.contains_key(&key);
        let current = self.lsdb.get(&key);
        if let Some(entry) = current
            && !forced
            && !entry.is_max_age(now)
            && entry.lsa.body == body
        {
            return;
        }

        // MinLSInterval applies, except to refreshes and to our own LSA coming back newer.
        let min_interval = self.config.lsa_throttle.min_ls_interval;
        if !forced && let Some(last) = self.last_origination.get(&key) {
            let allowed = *last + min_interval;
            if allowed > now {
                let at = self
                    .deferred_origination_at
                    .map_or(allowed, |at| at.min(allowed));
                self.deferred_origination_at = Some(at);
                return;
            }
        }

        let previous = self
            .next_sequence
            .remove(&key)
            .map(|next| next.wrapping_sub(1))
            .or(current.map(|entry| entry.lsa.header.ls_sequence_number));
        let sequence = match previous {
            None => lsa::INITIAL_SEQUENCE_NUMBER,
            Some(lsa::MAX_SEQUENCE_NUMBER) => {
                info!(ls_type = key.ls_type.0, link_state_id = %key.link_state_id, "LSA sequence number wraps; flushing first");
                self.flush(&key, now);
                self.sequence_wrap_pending.push(key);
                return;
            }
            Some(previous) => previous.wrapping_add(1),
        };
        let header = LsaHeader {
            ls_age: 0,
            options: LSA_OPTIONS,
            ls_type: key.ls_type,
            link_state_id: key.link_state_id,
            advertising_router: self.router_id,
            ls_sequence_number: sequence,
            ls_checksum: 0,
            length: 0,
        };
        let lsa = Arc::new(Lsa::originate(header, body));
        debug!(ls_type = key.ls_type.0, link_state_id = %key.link_state_id, sequence = format_args!("{:#010x}", sequence as u32), "originated LSA");
        if self.install(key.scope, lsa.clone(), now, false) {
            self.topology_changed(&key, None, now);
        }
        self.last_origination.insert(key, now);
        self.flood(&lsa, key.scope, None, now);
    }

    /// Flushes an LSA from the routing domain by premature aging (section 14.1).
    pub(crate) fn flush(&mut self, key: &LsaKey, now: Instant) {
        let Some(entry) = self.lsdb.get(key) else {
            return;
        };
        let flushed = Arc::new(entry.lsa.with_age(lsa::MAX_AGE));
        if self.install(key.scope, flushed.clone(), now, false) {
            self.topology_changed(key, None, now);
        }
        self.flood(&flushed, key.scope, None, now);
    }

    /// Handles a received instance of our own LSA that is newer than the database copy
    /// (section 13.4): originate a newer instance if we still want it, else flush it.
    ///
    /// In graceful restart our pre-restart LSAs are accepted as they are: they describe the
    /// forwarding state the kernel still has. Their next instances, at the end of the restart,
    /// take sequence numbers above them (RFC 3623 section 2.1).
    pub(crate) fn self_originated_received(&mut self, scope: u32, lsa: &Lsa, now: Instant) {
        let key = lsa.header.key(scope);
        if self.restart.is_some() {
            if is_grace_key(&key) && key.advertising_router == self.router_id {
                self.own_grace_lsa_received(scope, lsa, now);
            } else {
                self.next_sequence
                    .insert(key, lsa.header.ls_sequence_number.wrapping_add(1));
            }
            return;
        }
        let wanted = key.advertising_router == self.router_id
            && match key.ls_type {
                LsType::ROUTER => key.link_state_id == self.router_id,
                LsType::NETWORK => self
                    .build_network_lsas()
                    .iter()
                    .any(|(id, _)| *id == key.link_state_id),
                _ => false,
            };
        // A flushed (MaxAge) instance of an LSA we still want counts too: after a restart a
        // neighbor may send back the copy our previous run flushed.
        if wanted {
            self.next_sequence
                .insert(key, lsa.header.ls_sequence_number.wrapping_add(1));
            self.origination_needed = true;
        } else if lsa.header.age() < lsa::MAX_AGE {
            self.flush(&key, now);
        }
    }

    /// Ages the database (section 14): refreshes our LSAs at LSRefreshTime, floods LSAs that
    /// reached MaxAge, and removes MaxAge LSAs no neighbor still has to acknowledge.
    pub(crate) fn age_lsdb(&mut self, now: Instant) {
        let mut refresh = Vec::new();
        let mut reached_max_age = Vec::new();
        let mut removable = Vec::new();
        let exchanging = self.any_neighbor_exchanging();
        for (key, entry) in self.lsdb.iter() {
            let age = entry.age(now);
            if age >= lsa::MAX_AGE {
                if entry.lsa.header.age() < lsa::MAX_AGE {
                    reached_max_age.push(*key);
                } else if !exchanging && !self.on_any_retransmit_list(key) {
                    removable.push(*key);
                }
            } else if age >= lsa::LS_REFRESH_TIME && key.advertising_router == self.router_id {
                refresh.push((*key, entry.lsa.body.clone()));
            }
        }
        for key in reached_max_age {
            debug!(ls_type = key.ls_type.0, link_state_id = %key.link_state_id, "LSA reached MaxAge");
            self.flush(&key, now);
        }
        for key in removable {
            self.lsdb.remove(&key);
            self.last_origination.remove(&key);
            if let Some(position) = self
                .sequence_wrap_pending
                .iter()
                .position(|pending| *pending == key)
            {
                self.sequence_wrap_pending.remove(position);
                self.origination_needed = true;
            }
        }
        for (key, body) in refresh {
            self.originate(key, body, now, true);
        }
    }

    fn on_any_retransmit_list(&self, key: &LsaKey) -> bool {
        self.interfaces.values().any(|interface| {
            interface
                .neighbors
                .values()
                .any(|neighbor| neighbor.ls_retransmit.contains_key(key))
        })
    }
}
