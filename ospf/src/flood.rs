//! The flooding procedure (RFC 2328 section 13): receiving Link State Updates, installing LSAs,
//! flooding them on, acknowledgments (13.5, 13.7) and retransmissions (13.6).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::debug;

use crate::instance::Instance;
use crate::interface::InterfaceState;
use crate::lsa::{self, Lsa, LsaHeader, LsaKey, Recency};
use crate::neighbor::{NeighborEvent, NeighborState};
use crate::packet::{ALL_D_ROUTERS, ALL_SPF_ROUTERS, LsAck, LsUpdate, PacketBody};
use crate::show::{DropReason, LsaDropReason};

/// Delay before delayed acknowledgments go out; it must stay below RxmtInterval (13.5).
const DELAYED_ACK: Duration = Duration::from_millis(500);

impl Instance {
    /// Processes a received Link State Update (section 13).
    pub(crate) fn receive_ls_update(
        &mut self,
        ifindex: u32,
        source: Ipv4Addr,
        update: LsUpdate,
        now: Instant,
    ) {
        let Some(neighbor) = self.neighbor(ifindex, source) else {
            return;
        };
        if neighbor.state < NeighborState::Exchange {
            return self.drop_packet(ifindex, source, DropReason::NeighborState);
        }
        for lsa in update.lsas {
            if !self.receive_lsa(ifindex, source, lsa, now) {
                break;
            }
        }

        let Some(neighbor) = self.neighbor(ifindex, source) else {
            return;
        };
        if neighbor.state == NeighborState::Loading && neighbor.ls_request.is_empty() {
            self.neighbor_event(ifindex, source, NeighborEvent::LoadingDone, now);
        } else {
            self.send_ls_request_if_idle(ifindex, source, now);
        }
    }

    /// Processes one LSA of an update; returns false when the rest of the packet must be
    /// dropped (BadLSReq).
    fn receive_lsa(&mut self, ifindex: u32, source: Ipv4Addr, lsa: Lsa, now: Instant) -> bool {
        let scope = if lsa.header.ls_type.is_link_local() {
            ifindex
        } else {
            0
        };
        let key = lsa.header.key(scope);
        let received_age = lsa.header.age();

        // Step 4: a MaxAge LSA we do not have is acknowledged and dropped.
        let current = self.lsdb.get(&key);
        if received_age >= lsa::MAX_AGE && current.is_none() && !self.any_neighbor_exchanging() {
            self.send_direct_ack(ifindex, source, lsa.header);
            return true;
        }

        // Step 5: no copy, or the received one is newer.
        let recency = match current {
            None => Recency::Newer,
            Some(entry) => {
                lsa::compare(&lsa.header, received_age, &entry.lsa.header, entry.age(now))
            }
        };
        if recency == Recency::Newer {
            if let Some(entry) = current {
                let min_arrival = self.config.lsa_throttle.min_ls_arrival;
                if entry.from_flooding
                    && now.saturating_duration_since(entry.installed_at) < min_arrival
                {
                    *self
                        .counters
                        .lsas_discarded
                        .entry(LsaDropReason::MinLsArrival)
                        .or_default() += 1;
                    return true;
                }
            }
            let lsa = Arc::new(lsa);
            let flooded_back = self.flood(&lsa, scope, Some((ifindex, source)), now);
            self.remove_from_retransmit_lists(&key);
            if self.install(scope, lsa.clone(), now, true) {
                self.topology_changed(&key, Some((ifindex, source)), now);
            }
            if let Some(neighbor) = self.neighbor_mut(ifindex, source) {
                neighbor.ls_request.remove(&key);
            }
            if !flooded_back {
                let interface = &self.interfaces[&ifindex];
                let from_dr = interface.dr == source;
                if interface.state != InterfaceState::Backup || from_dr {
                    self.queue_delayed_ack(ifindex, lsa.header, now);
                }
            }
            if self.is_self_originated(&lsa.header) {
                self.self_originated_received(scope, &lsa, now);
            } else if crate::lsa::grace::is_grace_lsa(&lsa.header) {
                self.grace_lsa_received(ifindex, &lsa, now);
            }
            return true;
        }

        // Step 6: the neighbor sent something older than what we asked it for.
        if self
            .neighbor(ifindex, source)
            .is_some_and(|neighbor| neighbor.ls_request.contains_key(&key))
        {
            self.neighbor_event(ifindex, source, NeighborEvent::BadLSReq, now);
            return false;
        }

        // Step 7: the same instance, an implied acknowledgment or a duplicate.
        if recency == Recency::Same {
            let implied = self
                .neighbor_mut(ifindex, source)
                .is_some_and(|neighbor| neighbor.ls_retransmit.remove(&key).is_some());
            if implied {
                let interface = &self.interfaces[&ifindex];
                if interface.state == InterfaceState::Backup && interface.dr == source {
                    self.queue_delayed_ack(ifindex, lsa.header, now);
                }
            } else {
                self.send_direct_ack(ifindex, source, lsa.header);
            }
            return true;
        }

        // Step 8: our copy is newer; send it back unless it was sent within MinLSArrival.
        let min_arrival = self.config.lsa_throttle.min_ls_arrival;
        let transmit_delay = self.interfaces[&ifindex].config.transmit_delay;
        let Some(entry) = self.lsdb.get_mut(&key) else {
            return true;
        };
        let age = entry.age(now);
        if age >= lsa::MAX_AGE && entry.lsa.header.ls_sequence_number == lsa::MAX_SEQUENCE_NUMBER {
            return true;
        }
        if entry
            .sent_back_at
            .is_some_and(|at| now.saturating_duration_since(at) < min_arrival)
        {
            return true;
        }
        entry.sent_back_at = Some(now);
        let copy = entry
            .lsa
            .with_age(age.saturating_add(transmit_delay).min(lsa::MAX_AGE));
        let destination = self.neighbor_destination(ifindex, source);
        self.send_lsas(ifindex, destination, vec![copy]);
        true
    }

    /// Installs an LSA (section 13.2) and schedules SPF when its contents changed. Returns true
    /// when the contents changed (section 13.2's test, which includes reaching MaxAge).
    pub(crate) fn install(
        &mut self,
        scope: u32,
        lsa: Arc<Lsa>,
        now: Instant,
        from_flooding: bool,
    ) -> bool {
        let ls_type = lsa.header.ls_type;
        let new_max_age = lsa.header.age() >= lsa::MAX_AGE;
        let previous = self.lsdb.insert(scope, lsa.clone(), now, from_flooding);
        let changed = match &previous {
            None => true,
            Some(old) => {
                old.lsa.header.options != lsa.header.options
                    || old.is_max_age(now) != new_max_age
                    || old.lsa.body != lsa.body
            }
        };
        if changed && matches!(ls_type.0, 1..=5) {
            self.schedule_spf(now);
        }
        changed
    }

    /// Floods an LSA out of the eligible interfaces (section 13.3). `from` is the interface and
    /// neighbor it came from, `None` for our own LSAs. Returns true when it went back out of the
    /// receiving interface.
    pub(crate) fn flood(
        &mut self,
        lsa: &Arc<Lsa>,
        scope: u32,
        from: Option<(u32, Ipv4Addr)>,
        now: Instant,
    ) -> bool {
        let key = lsa.header.key(scope);
        let lsa_age = lsa.header.age();
        let mut flooded_back = false;
        let mut loading_done = Vec::new();
        let ifindexes: Vec<u32> = self.interfaces.keys().copied().collect();
        for ifindex in ifindexes {
            if scope != 0 && scope != ifindex {
                continue;
            }
            let rxmt = {
                let interface = &self.interfaces[&ifindex];
                if !interface.is_active() {
                    continue;
                }
                Duration::from_secs(u64::from(interface.config.retransmit_interval))
            };

            // Step 1: put the LSA on the retransmission list of each neighbor that needs it.
            let mut added = false;
            let interface = self.interfaces.get_mut(&ifindex).expect("interface exists");
            for neighbor in interface.neighbors.values_mut() {
                if neighbor.state < NeighborState::Exchange {
                    continue;
                }
                if lsa.header.ls_type.is_opaque() && !neighbor.options.has(lsa::Options::O) {
                    continue;
                }
                if neighbor.state != NeighborState::Full
                    && let Some(requested) = neighbor.ls_request.get(&key)
                {
                    match lsa::compare(&lsa.header, lsa_age, requested, requested.age()) {
                        Recency::Older => continue,
                        Recency::Same => {
                            neighbor.ls_request.remove(&key);
                            if neighbor.state == NeighborState::Loading
                                && neighbor.ls_request.is_empty()
                            {
                                loading_done.push((ifindex, neighbor.address));
                            }
                            continue;
                        }
                        Recency::Newer => {
                            neighbor.ls_request.remove(&key);
                            if neighbor.state == NeighborState::Loading
                                && neighbor.ls_request.is_empty()
                            {
                                loading_done.push((ifindex, neighbor.address));
                            }
                        }
                    }
                }
                if from == Some((ifindex, neighbor.address)) {
                    continue;
                }
                neighbor.ls_retransmit.insert(key, lsa.clone());
                neighbor.ls_retransmit_at.get_or_insert(now + rxmt);
                added = true;
            }

            // Steps 2 to 4: skip interfaces where no neighbor needs it or where the DR floods it.
            if !added {
                continue;
            }
            let received_here = from.is_some_and(|(from_ifindex, _)| from_ifindex == ifindex);
            if received_here {
                let source = from
                    .map(|(_, address)| address)
                    .unwrap_or(Ipv4Addr::UNSPECIFIED);
                if interface.is_broadcast() && (interface.dr == source || interface.bdr == source) {
                    continue;
                }
                if interface.state == InterfaceState::Backup {
                    continue;
                }
                flooded_back = true;
            }

            // Step 5: send it.
            let destination = if interface.is_broadcast()
                && !matches!(interface.state, InterfaceState::Dr | InterfaceState::Backup)
            {
                ALL_D_ROUTERS
            } else {
                ALL_SPF_ROUTERS
            };
            let age = lsa_age
                .saturating_add(interface.config.transmit_delay)
                .min(lsa::MAX_AGE);
            self.send_lsas(ifindex, destination, vec![lsa.with_age(age)]);
        }
        for (ifindex, address) in loading_done {
            self.neighbor_event(ifindex, address, NeighborEvent::LoadingDone, now);
        }
        flooded_back
    }

    /// Removes every neighbor's retransmission entry for `key` (section 13 step 5c).
    fn remove_from_retransmit_lists(&mut self, key: &LsaKey) {
        for interface in self.interfaces.values_mut() {
            for neighbor in interface.neighbors.values_mut() {
                neighbor.ls_retransmit.remove(key);
            }
        }
    }

    fn send_direct_ack(&mut self, ifindex: u32, source: Ipv4Addr, header: LsaHeader) {
        let destination = self.neighbor_destination(ifindex, source);
        self.send(
            ifindex,
            destination,
            PacketBody::LsAck(LsAck {
                lsa_headers: vec![header],
            }),
        );
    }

    fn queue_delayed_ack(&mut self, ifindex: u32, header: LsaHeader, now: Instant) {
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        interface.delayed_acks.push(header);
        interface.delayed_ack_at.get_or_insert(now + DELAYED_ACK);
    }

    /// Sends the queued delayed acknowledgments (section 13.5): to AllSPFRouters when this
    /// router is DR or Backup or the link is point-to-point, else to AllDRouters.
    pub(crate) fn send_delayed_acks(&mut self, ifindex: u32) {
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        let headers = std::mem::take(&mut interface.delayed_acks);
        let destination = if interface.is_broadcast()
            && !matches!(interface.state, InterfaceState::Dr | InterfaceState::Backup)
        {
            ALL_D_ROUTERS
        } else {
            ALL_SPF_ROUTERS
        };
        let per_packet = (interface.max_packet_len().saturating_sub(24) / lsa::HEADER_LEN).max(1);
        for chunk in headers.chunks(per_packet) {
            self.send(
                ifindex,
                destination,
                PacketBody::LsAck(LsAck {
                    lsa_headers: chunk.to_vec(),
                }),
            );
        }
    }

    /// Processes a Link State Acknowledgment (section 13.7).
    pub(crate) fn receive_ls_ack(
        &mut self,
        ifindex: u32,
        source: Ipv4Addr,
        ack: &LsAck,
        now: Instant,
    ) {
        let Some(neighbor) = self.neighbor_mut(ifindex, source) else {
            return;
        };
        if neighbor.state < NeighborState::Exchange {
            return self.drop_packet(ifindex, source, DropReason::NeighborState);
        }
        for header in &ack.lsa_headers {
            let scope = if header.ls_type.is_link_local() {
                ifindex
            } else {
                0
            };
            let key = header.key(scope);
            if let Some(sent) = neighbor.ls_retransmit.get(&key) {
                if lsa::compare(header, header.age(), &sent.header, sent.header.age())
                    == Recency::Same
                {
                    neighbor.ls_retransmit.remove(&key);
                } else {
                    debug!(neighbor = %source, ls_type = header.ls_type.0, "acknowledgment for another instance");
                }
            }
        }
        if neighbor.ls_retransmit.is_empty() {
            neighbor.ls_retransmit_at = None;
        }
        let _ = now;
    }

    /// Retransmits the LSAs still unacknowledged by a neighbor (section 13.6), directly to it.
    pub(crate) fn retransmit_lsas(&mut self, ifindex: u32, address: Ipv4Addr, now: Instant) {
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let rxmt = Duration::from_secs(u64::from(interface.config.retransmit_interval));
        let transmit_delay = interface.config.transmit_delay;
        let destination = self.neighbor_destination(ifindex, address);
        let mut lsas = Vec::new();
        let mut keys = Vec::new();
        let Some(neighbor) = self.neighbor(ifindex, address) else {
            return;
        };
        for (key, lsa) in &neighbor.ls_retransmit {
            keys.push(*key);
            lsas.push(lsa.clone());
        }
        let mut copies = Vec::new();
        for (key, lsa) in keys.iter().zip(lsas) {
            // The age sent is the current database age, unless the database moved on.
            let age = match self.lsdb.get(key) {
                Some(entry) if Arc::ptr_eq(&entry.lsa, &lsa) => entry.age(now),
                _ => lsa.header.age(),
            };
            copies.push(lsa.with_age(age.saturating_add(transmit_delay).min(lsa::MAX_AGE)));
        }
        let Some(neighbor) = self.neighbor_mut(ifindex, address) else {
            return;
        };
        neighbor.ls_retransmit_at = if copies.is_empty() {
            None
        } else {
            Some(now + rxmt)
        };
        if !copies.is_empty() {
            self.send_lsas(ifindex, destination, copies);
        }
    }

    /// Returns true for an LSA this router originated: its Advertising Router is our router
    /// id, or it is a network-LSA for one of our interface addresses (section 13.4).
    pub(crate) fn is_self_originated(&self, header: &LsaHeader) -> bool {
        header.advertising_router == self.router_id
            || (header.ls_type == lsa::LsType::NETWORK
                && self
                    .own_addresses()
                    .any(|address| address.addr() == header.link_state_id))
    }
}
