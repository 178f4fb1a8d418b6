//! The database exchange: Database Description packets (RFC 2328 sections 10.6 and 10.8) and
//! Link State Requests (sections 10.7 and 10.9).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::instance::{Instance, OUR_OPTIONS};
use crate::lsa::{self, LsType, LsaKey, Recency};
use crate::neighbor::{NeighborEvent, NeighborState, ReceivedDd};
use crate::packet::{
    ALL_SPF_ROUTERS, DbDescription, LsRequest, LsRequestEntry, LsUpdate, PacketBody,
};
use crate::show::DropReason;

const DD_FIXED_LEN: usize = 24 + 8;
const LSR_ENTRY_LEN: usize = 12;

impl Instance {
    /// Returns where unicast packets to a neighbor go: its address on broadcast networks, and
    /// AllSPFRouters on point-to-point links (section 8.1).
    pub(crate) fn neighbor_destination(&self, ifindex: u32, address: Ipv4Addr) -> Ipv4Addr {
        match self.interfaces.get(&ifindex) {
            Some(interface) if interface.is_broadcast() => address,
            _ => ALL_SPF_ROUTERS,
        }
    }

    fn retransmit_interval(&self, ifindex: u32) -> Duration {
        let seconds = self
            .interfaces
            .get(&ifindex)
            .map_or(5, |interface| interface.config.retransmit_interval);
        Duration::from_secs(u64::from(seconds))
    }

    /// Sends the last DD again and re-arms its retransmission timer while this router is the
    /// one that retransmits (in ExStart, and as master in Exchange).
    pub(crate) fn send_last_dd(&mut self, ifindex: u32, address: Ipv4Addr, now: Instant) {
        let rxmt = self.retransmit_interval(ifindex);
        let destination = self.neighbor_destination(ifindex, address);
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let mtu = u16::try_from(interface.mtu).unwrap_or(u16::MAX);
        let Some(neighbor) = self.neighbor_mut(ifindex, address) else {
            return;
        };
        let Some(mut dd) = neighbor.last_sent_dd.clone() else {
            return;
        };
        dd.interface_mtu = mtu;
        let retransmits = neighbor.state == NeighborState::ExStart
            || (neighbor.state == NeighborState::Exchange && neighbor.we_are_master);
        neighbor.dd_retransmit_at = retransmits.then(|| now + rxmt);
        self.send(ifindex, destination, PacketBody::DbDescription(dd));
    }

    /// Fills the Database summary list on entering Exchange (section 10.3, NegotiationDone);
    /// MaxAge LSAs go to the retransmission list instead.
    pub(crate) fn build_summary_list(&mut self, ifindex: u32, address: Ipv4Addr, now: Instant) {
        let Some(neighbor) = self.neighbor(ifindex, address) else {
            return;
        };
        let opaque_capable = neighbor.options.has(crate::lsa::Options::O);
        let mut summary = Vec::new();
        let mut max_age = Vec::new();
        for key in self.lsdb.sorted_keys() {
            if key.scope != 0 && key.scope != ifindex {
                continue;
            }
            if key.ls_type.is_opaque() && !opaque_capable {
                continue;
            }
            let Some(entry) = self.lsdb.get(&key) else {
                continue;
            };
            let age = entry.age(now);
            if age >= lsa::MAX_AGE {
                max_age.push((key, entry.lsa.clone()));
            } else {
                let mut header = entry.lsa.header;
                header.ls_age = age;
                summary.push(header);
            }
        }
        let rxmt = self.retransmit_interval(ifindex);
        let Some(neighbor) = self.neighbor_mut(ifindex, address) else {
            return;
        };
        neighbor.db_summary = summary.into();
        if !max_age.is_empty() {
            neighbor.ls_retransmit.extend(max_age);
            neighbor.ls_retransmit_at.get_or_insert(now + rxmt);
        }
    }

    /// Builds and sends the next DD of the exchange from the summary list (section 10.8).
    fn send_next_dd(&mut self, ifindex: u32, address: Ipv4Addr, now: Instant) {
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let capacity =
            (interface.max_packet_len().saturating_sub(DD_FIXED_LEN) / lsa::HEADER_LEN).max(1);
        let Some(neighbor) = self.neighbor_mut(ifindex, address) else {
            return;
        };
        let count = capacity.min(neighbor.db_summary.len());
        let lsa_headers: Vec<_> = neighbor.db_summary.drain(..count).collect();
        let more = !neighbor.db_summary.is_empty();
        let mut flags = if more { DbDescription::FLAG_M } else { 0 };
        if neighbor.we_are_master {
            flags |= DbDescription::FLAG_MS;
        }
        neighbor.dd_all_sent = !more;
        neighbor.last_sent_dd = Some(DbDescription {
            interface_mtu: 0,
            options: OUR_OPTIONS,
            flags,
            dd_sequence_number: neighbor.dd_sequence_number,
            lsa_headers,
        });
        self.send_last_dd(ifindex, address, now);
    }

    /// Processes a received Database Description packet (section 10.6).
    pub(crate) fn receive_dd(
        &mut self,
        ifindex: u32,
        source: Ipv4Addr,
        dd: &DbDescription,
        now: Instant,
    ) {
        let interface = &self.interfaces[&ifindex];
        if !interface.config.mtu_ignore && u32::from(dd.interface_mtu) > interface.mtu {
            return self.drop_packet(ifindex, source, DropReason::MtuMismatch);
        }
        let received = ReceivedDd {
            flags: dd.flags,
            options: dd.options,
            dd_sequence_number: dd.dd_sequence_number,
        };
        let init = dd.flags & DbDescription::FLAG_I != 0;
        let more = dd.flags & DbDescription::FLAG_M != 0;
        let master_bit = dd.flags & DbDescription::FLAG_MS != 0;

        let Some(neighbor) = self.neighbor(ifindex, source) else {
            return;
        };
        let mut state = neighbor.state;
        if state == NeighborState::Init {
            self.neighbor_event(ifindex, source, NeighborEvent::TwoWayReceived, now);
            state = self
                .neighbor(ifindex, source)
                .map_or(NeighborState::Down, |neighbor| neighbor.state);
        }

        match state {
            NeighborState::Down
            | NeighborState::Attempt
            | NeighborState::Init
            | NeighborState::TwoWay => self.drop_packet(ifindex, source, DropReason::NeighborState),
            NeighborState::ExStart => {
                let own_router_id = u32::from(self.router_id);
                let Some(neighbor) = self.neighbor_mut(ifindex, source) else {
                    return;
                };
                let neighbor_is_higher = u32::from(neighbor.router_id) > own_router_id;
                if init && more && master_bit && dd.lsa_headers.is_empty() && neighbor_is_higher {
                    neighbor.we_are_master = false;
                    neighbor.dd_sequence_number = dd.dd_sequence_number;
                } else if !init
                    && !master_bit
                    && dd.dd_sequence_number == neighbor.dd_sequence_number
                    && !neighbor_is_higher
                {
                    neighbor.we_are_master = true;
                } else {
                    return;
                }
                neighbor.options = dd.options;
                neighbor.dd_retransmit_at = None;
                self.neighbor_event(ifindex, source, NeighborEvent::NegotiationDone, now);
                self.accept_dd(ifindex, source, dd, received, now);
            }
            NeighborState::Exchange => {
                let Some(neighbor) = self.neighbor(ifindex, source) else {
                    return;
                };
                if neighbor.last_received_dd == Some(received) {
                    if !neighbor.we_are_master {
                        self.send_last_dd(ifindex, source, now);
                    }
                    return;
                }
                let mismatch = master_bit == neighbor.we_are_master
                    || init
                    || neighbor
                        .last_received_dd
                        .is_some_and(|last| last.options != dd.options)
                    || if neighbor.we_are_master {
                        dd.dd_sequence_number != neighbor.dd_sequence_number
                    } else {
                        dd.dd_sequence_number != neighbor.dd_sequence_number.wrapping_add(1)
                    };
                if mismatch {
                    self.neighbor_event(ifindex, source, NeighborEvent::SeqNumberMismatch, now);
                    return;
                }
                self.accept_dd(ifindex, source, dd, received, now);
            }
            NeighborState::Loading | NeighborState::Full => {
                let Some(neighbor) = self.neighbor(ifindex, source) else {
                    return;
                };
                if neighbor.last_received_dd == Some(received) {
                    if !neighbor.we_are_master {
                        self.send_last_dd(ifindex, source, now);
                    }
                    return;
                }
                self.neighbor_event(ifindex, source, NeighborEvent::SeqNumberMismatch, now);
            }
        }
    }

    /// Processes the contents of an accepted DD and sends the reply (section 10.6, end).
    fn accept_dd(
        &mut self,
        ifindex: u32,
        source: Ipv4Addr,
        dd: &DbDescription,
        received: ReceivedDd,
        now: Instant,
    ) {
        let more = dd.flags & DbDescription::FLAG_M != 0;
        let mut wanted = Vec::new();
        for header in &dd.lsa_headers {
            if !header.ls_type.is_known() {
                self.neighbor_event(ifindex, source, NeighborEvent::SeqNumberMismatch, now);
                return;
            }
            let scope = if header.ls_type.is_link_local() {
                ifindex
            } else {
                0
            };
            let key = header.key(scope);
            let newer = match self.lsdb.get(&key) {
                None => true,
                Some(entry) => {
                    lsa::compare(header, header.age(), &entry.lsa.header, entry.age(now))
                        == Recency::Newer
                }
            };
            if newer {
                wanted.push((key, *header));
            }
        }

        let Some(neighbor) = self.neighbor_mut(ifindex, source) else {
            return;
        };
        neighbor.last_received_dd = Some(received);
        neighbor.ls_request.extend(wanted);

        if neighbor.we_are_master {
            neighbor.dd_sequence_number = neighbor.dd_sequence_number.wrapping_add(1);
            if neighbor.dd_all_sent && !more {
                neighbor.dd_retransmit_at = None;
                self.neighbor_event(ifindex, source, NeighborEvent::ExchangeDone, now);
            } else {
                self.send_next_dd(ifindex, source, now);
            }
        } else {
            neighbor.dd_sequence_number = dd.dd_sequence_number;
            self.send_next_dd(ifindex, source, now);
            let all_sent = self
                .neighbor(ifindex, source)
                .is_some_and(|neighbor| neighbor.dd_all_sent);
            if !more && all_sent {
                self.neighbor_event(ifindex, source, NeighborEvent::ExchangeDone, now);
            }
        }
        self.send_ls_request_if_idle(ifindex, source, now);
    }

    /// Sends a Link State Request unless one is still unanswered (section 10.9).
    pub(crate) fn send_ls_request_if_idle(
        &mut self,
        ifindex: u32,
        address: Ipv4Addr,
        now: Instant,
    ) {
        let Some(neighbor) = self.neighbor(ifindex, address) else {
            return;
        };
        if !matches!(
            neighbor.state,
            NeighborState::Exchange | NeighborState::Loading
        ) || neighbor.ls_request.is_empty()
        {
            return;
        }
        let outstanding = neighbor
            .ls_request_sent
            .iter()
            .any(|key| neighbor.ls_request.contains_key(key));
        if !outstanding {
            self.send_ls_request(ifindex, address, now);
        }
    }

    /// Sends a Link State Request for the first entries of the request list that fit a packet.
    pub(crate) fn send_ls_request(&mut self, ifindex: u32, address: Ipv4Addr, now: Instant) {
        let rxmt = self.retransmit_interval(ifindex);
        let destination = self.neighbor_destination(ifindex, address);
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let capacity = (interface.max_packet_len().saturating_sub(24) / LSR_ENTRY_LEN).max(1);
        let Some(neighbor) = self.neighbor_mut(ifindex, address) else {
            return;
        };
        if neighbor.ls_request.is_empty() {
            neighbor.ls_request_retransmit_at = None;
            neighbor.ls_request_sent.clear();
            // The list can also empty through flooding from another neighbor (13.3 step 1b).
            if neighbor.state == NeighborState::Loading {
                self.neighbor_event(ifindex, address, NeighborEvent::LoadingDone, now);
            }
            return;
        }
        let keys: Vec<LsaKey> = neighbor.ls_request.keys().take(capacity).copied().collect();
        let entries = keys
            .iter()
            .map(|key| LsRequestEntry {
                ls_type: u32::from(key.ls_type.0),
                link_state_id: key.link_state_id,
                advertising_router: key.advertising_router,
            })
            .collect();
        neighbor.ls_request_sent = keys;
        neighbor.ls_request_retransmit_at = Some(now + rxmt);
        self.send(
            ifindex,
            destination,
            PacketBody::LsRequest(LsRequest { entries }),
        );
    }

    /// Sends the LSAs a Link State Request names, in Link State Updates (section 10.7).
    pub(crate) fn receive_ls_request(
        &mut self,
        ifindex: u32,
        source: Ipv4Addr,
        request: &LsRequest,
        now: Instant,
    ) {
        let Some(neighbor) = self.neighbor(ifindex, source) else {
            return;
        };
        if !matches!(
            neighbor.state,
            NeighborState::Exchange | NeighborState::Loading | NeighborState::Full
        ) {
            return self.drop_packet(ifindex, source, DropReason::NeighborState);
        }
        let transmit_delay = self.interfaces[&ifindex].config.transmit_delay;
        let mut lsas = Vec::new();
        for entry in &request.entries {
            let Some(ls_type) = entry.ls_type().filter(|ls_type| ls_type.is_known()) else {
                self.neighbor_event(ifindex, source, NeighborEvent::BadLSReq, now);
                return;
            };
            let scope = if ls_type == LsType::OPAQUE_LINK {
                ifindex
            } else {
                0
            };
            let key = LsaKey {
                scope,
                ls_type,
                link_state_id: entry.link_state_id,
                advertising_router: entry.advertising_router,
            };
            let Some(found) = self.lsdb.get(&key) else {
                self.neighbor_event(ifindex, source, NeighborEvent::BadLSReq, now);
                return;
            };
            let age = found
                .age(now)
                .saturating_add(transmit_delay)
                .min(lsa::MAX_AGE);
            lsas.push(found.lsa.with_age(age));
        }
        let destination = self.neighbor_destination(ifindex, source);
        self.send_lsas(ifindex, destination, lsas);
    }

    /// Sends LSAs in as many Link State Updates as the interface MTU requires.
    pub(crate) fn send_lsas(
        &mut self,
        ifindex: u32,
        destination: Ipv4Addr,
        lsas: Vec<crate::lsa::Lsa>,
    ) {
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let limit = interface.max_packet_len();
        let mut batch = Vec::new();
        let mut size = 24 + 4;
        for lsa in lsas {
            let len = lsa.raw().len();
            if !batch.is_empty() && size + len > limit {
                self.send(
                    ifindex,
                    destination,
                    PacketBody::LsUpdate(LsUpdate {
                        lsas: std::mem::take(&mut batch),
                    }),
                );
                size = 24 + 4;
            }
            size += len;
            batch.push(lsa);
        }
        if !batch.is_empty() {
            self.send(
                ifindex,
                destination,
                PacketBody::LsUpdate(LsUpdate { lsas: batch }),
            );
        }
    }
}
