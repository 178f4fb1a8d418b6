//! All sessions of one BFD instance, without I/O: demultiplexing of received packets (RFC 5880
//! section 6.8.6, RFC 5881 section 3, RFC 5883 section 3), the TTL check of RFC 5881 section 5,
//! and one timer structure for every session.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::counters::{DropCounters, DropReason};
use crate::packet::{ControlPacket, Diagnostic, EncodedPacket};
use crate::session::{Output, RandomSource, Session, SessionParams};

/// The TTL (or IPv6 Hop Limit) that single-hop packets are sent with and must arrive with
/// (RFC 5881 section 5). Multihop packets are sent with it too.
pub const TTL: u8 = 255;

/// The identity of a session: the peer, optionally the local address and (single-hop only) the
/// interface, and whether the path is single-hop (UDP 3784) or multihop (UDP 4784).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionKey {
    /// The peer's address.
    pub peer: IpAddr,
    /// The local address packets are sent from and must arrive at; `None` lets the kernel pick
    /// the source and accepts any destination.
    pub local: Option<IpAddr>,
    /// The interface a single-hop session runs on; `None` accepts any interface and sends by
    /// the routing table. Ignored for multihop sessions.
    pub interface: Option<String>,
    /// True for a multihop session (RFC 5883).
    pub multihop: bool,
}

impl SessionKey {
    /// Creates the key of a single-hop session with `peer`, on any interface and from any local address.
    pub fn single_hop(peer: IpAddr) -> SessionKey {
        SessionKey {
            peer,
            local: None,
            interface: None,
            multihop: false,
        }
    }

    /// Creates the key of a multihop session between `local` and `peer`.
    pub fn multihop(peer: IpAddr, local: IpAddr) -> SessionKey {
        SessionKey {
            peer,
            local: Some(local),
            interface: None,
            multihop: true,
        }
    }

    /// Returns the same key with a local address.
    pub fn with_local(mut self, local: IpAddr) -> SessionKey {
        self.local = Some(local);
        self
    }

    /// Returns the same key bound to an interface (single-hop sessions only).
    pub fn with_interface(mut self, interface: impl Into<String>) -> SessionKey {
        self.interface = Some(interface.into());
        self
    }

    /// Returns the UDP destination port of the session's packets.
    pub fn port(&self) -> u16 {
        if self.multihop {
            crate::MULTIHOP_PORT
        } else {
            crate::SINGLE_HOP_PORT
        }
    }

    fn interface_for_match(&self) -> Option<&str> {
        if self.multihop {
            None
        } else {
            self.interface.as_deref()
        }
    }

    /// True when a packet with these addresses may belong to this session.
    fn matches(&self, received: &Received<'_>) -> bool {
        self.peer == received.source
            && self.multihop == received.multihop
            && self.local.is_none_or(|local| local == received.destination)
            && match (self.interface_for_match(), received.interface) {
                (Some(wanted), Some(arrived)) => wanted == arrived,
                _ => true,
            }
    }

    /// Ranks how precisely the key pins a packet's addresses: more fields set ranks higher, so a
    /// session bound to a local address and an interface wins over a catch-all one.
    fn specificity(&self) -> u8 {
        u8::from(self.local.is_some()) * 2 + u8::from(self.interface_for_match().is_some())
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.peer)?;
        if let Some(local) = self.local {
            write!(f, " local {local}")?;
        }
        if let Some(interface) = self.interface_for_match() {
            write!(f, " dev {interface}")?;
        }
        if self.multihop {
            f.write_str(" multihop")?;
        }
        Ok(())
    }
}

/// A received UDP datagram with the metadata the reception checks need.
#[derive(Clone, Copy, Debug)]
pub struct Received<'a> {
    /// The UDP payload.
    pub payload: &'a [u8],
    /// The IP source address.
    pub source: IpAddr,
    /// The IP destination address.
    pub destination: IpAddr,
    /// Name of the interface the packet arrived on, when known.
    pub interface: Option<&'a str>,
    /// The IP TTL or Hop Limit.
    pub ttl: u8,
    /// True when the packet arrived on the multihop port 4784.
    pub multihop: bool,
    /// When the kernel received the packet, if known. The detection time counts from it, so
    /// time the packet spent waiting for a busy task does not shorten the detection time.
    pub arrival: Option<Instant>,
}

#[derive(Debug)]
struct Entry {
    key: SessionKey,
    session: Session,
    scheduled: Option<Instant>,
}

/// The sessions of one instance with their demultiplexing tables and timers.
#[derive(Debug, Default)]
pub struct Instance {
    sessions: HashMap<u32, Entry>,
    by_key: HashMap<SessionKey, u32>,
    by_peer: HashMap<(IpAddr, bool), Vec<u32>>,
    /// Every session's next deadline, ordered by time: the one timer structure of the instance.
    timers: BTreeSet<(Instant, u32)>,
    unmatched: DropCounters,
}

impl Instance {
    /// Creates an instance without sessions.
    pub fn new() -> Instance {
        Instance::default()
    }

    /// Adds a session for `key` and returns its local discriminator, a random nonzero value
    /// unique in the instance (RFC 5880 section 6.8.1). A session for the same key is reused.
    pub fn add_session(
        &mut self,
        key: SessionKey,
        params: SessionParams,
        now: Instant,
        random: &mut dyn RandomSource,
    ) -> u32 {
        if let Some(&discriminator) = self.by_key.get(&key) {
            return discriminator;
        }
        let discriminator = loop {
            let candidate = random.next_u32();
            if candidate != 0 && !self.sessions.contains_key(&candidate) {
                break candidate;
            }
        };
        let session = Session::new(discriminator, params, key.to_string(), now, random);
        self.by_key.insert(key.clone(), discriminator);
        self.by_peer
            .entry((key.peer, key.multihop))
            .or_default()
            .push(discriminator);
        self.sessions.insert(
            discriminator,
            Entry {
                key,
                session,
                scheduled: None,
            },
        );
        self.reschedule(discriminator);
        discriminator
    }

    /// Deletes a session and returns its key with its last packet, AdminDown with diagnostic
    /// AdministrativelyDown, which the caller sends so that the peer goes Down at once rather
    /// than after its detection time.
    pub fn remove_session(&mut self, discriminator: u32) -> Option<(SessionKey, EncodedPacket)> {
        let mut entry = self.sessions.remove(&discriminator)?;
        if let Some(at) = entry.scheduled {
            self.timers.remove(&(at, discriminator));
        }
        self.by_key.remove(&entry.key);
        let peer_key = (entry.key.peer, entry.key.multihop);
        if let Some(list) = self.by_peer.get_mut(&peer_key) {
            list.retain(|&other| other != discriminator);
            if list.is_empty() {
                self.by_peer.remove(&peer_key);
            }
        }
        let packet = entry.session.farewell_packet();
        Some((entry.key, packet))
    }

    /// Replaces a session's parameters.
    pub fn set_params(
        &mut self,
        discriminator: u32,
        params: SessionParams,
        now: Instant,
        random: &mut dyn RandomSource,
    ) {
        if let Some(entry) = self.sessions.get_mut(&discriminator) {
            entry.session.set_params(params, now, random);
            self.reschedule(discriminator);
        }
    }

    /// Puts a session in or out of AdminDown.
    pub fn set_admin_down(
        &mut self,
        discriminator: u32,
        admin_down: bool,
        now: Instant,
        random: &mut dyn RandomSource,
        out: &mut Vec<Output>,
    ) {
        if let Some(entry) = self.sessions.get_mut(&discriminator) {
            entry.session.set_admin_down(
                admin_down,
                Diagnostic::AdministrativelyDown,
                now,
                random,
                out,
            );
            self.reschedule(discriminator);
        }
    }

    /// Returns the discriminator of the session for `key`.
    pub fn discriminator(&self, key: &SessionKey) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    /// Returns a session and its key.
    pub fn session(&self, discriminator: u32) -> Option<(&SessionKey, &Session)> {
        self.sessions
            .get(&discriminator)
            .map(|entry| (&entry.key, &entry.session))
    }

    /// Returns every session with its key, in no particular order.
    pub fn sessions(&self) -> impl Iterator<Item = (&SessionKey, &Session)> {
        self.sessions
            .values()
            .map(|entry| (&entry.key, &entry.session))
    }

    /// Returns the number of sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when the instance has no session.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Returns the counts of packets discarded before a session could be selected, by reason.
    pub fn unmatched_drops(&self) -> &DropCounters {
        &self.unmatched
    }

    /// Counts a failed transmission for a session.
    pub fn count_send_error(&mut self, discriminator: u32) {
        if let Some(entry) = self.sessions.get_mut(&discriminator) {
            entry.session.count_send_error();
        }
    }

    /// Checks, demultiplexes and processes one received packet; returns the discriminator of
    /// the session that accepted it. A discarded packet is counted on the session it belongs to
    /// when one can be found by addresses, otherwise in [`Instance::unmatched_drops`].
    pub fn receive(
        &mut self,
        received: &Received<'_>,
        now: Instant,
        random: &mut dyn RandomSource,
        out: &mut Vec<Output>,
    ) -> Result<u32, DropReason> {
        let packet = match ControlPacket::decode(received.payload) {
            Ok(packet) => packet,
            Err(error) => {
                let reason = DropReason::from(&error);
                self.count_drop(self.find_by_addresses(received), reason);
                return Err(reason);
            }
        };

        let discriminator = if packet.your_discriminator != 0 {
            let Some(entry) = self.sessions.get(&packet.your_discriminator) else {
                self.unmatched.count(DropReason::NoSession);
                return Err(DropReason::NoSession);
            };
            if !entry.key.matches(received) {
                self.count_drop(Some(packet.your_discriminator), DropReason::AddressMismatch);
                return Err(DropReason::AddressMismatch);
            }
            packet.your_discriminator
        } else {
            let Some(discriminator) = self.find_by_addresses(received) else {
                self.unmatched.count(DropReason::NoSession);
                return Err(DropReason::NoSession);
            };
            discriminator
        };

        // NOTE: multihop packets are accepted with any TTL. RFC 5883 section 5 leaves a minimum
        // TTL to configuration, which is not implemented.
        if !received.multihop && received.ttl != TTL {
            self.count_drop(Some(discriminator), DropReason::Ttl);
            return Err(DropReason::Ttl);
        }

        let Some(entry) = self.sessions.get_mut(&discriminator) else {
            return Err(DropReason::NoSession);
        };
        let arrival = received.arrival.map_or(now, |arrival| arrival.min(now));
        let result = entry
            .session
            .receive(&packet, received.payload, now, arrival, random, out);
        self.reschedule(discriminator);
        result.map(|()| discriminator)
    }

    /// Runs every session timer due at `now`.
    pub fn handle_timers(
        &mut self,
        now: Instant,
        random: &mut dyn RandomSource,
        out: &mut Vec<Output>,
    ) {
        while let Some(&(at, discriminator)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if let Some(entry) = self.sessions.get_mut(&discriminator) {
                entry.scheduled = None;
                entry.session.handle_timers(now, random, out);
            }
            self.reschedule(discriminator);
        }
    }

    /// Returns the earliest deadline of any session.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|&(at, _)| at)
    }

    fn reschedule(&mut self, discriminator: u32) {
        let Some(entry) = self.sessions.get_mut(&discriminator) else {
            return;
        };
        let next = entry.session.next_deadline();
        if next == entry.scheduled {
            return;
        }
        if let Some(at) = entry.scheduled {
            self.timers.remove(&(at, discriminator));
        }
        if let Some(at) = next {
            self.timers.insert((at, discriminator));
        }
        entry.scheduled = next;
    }

    /// Returns the most specific session whose key matches the packet's addresses, port and interface.
    fn find_by_addresses(&self, received: &Received<'_>) -> Option<u32> {
        self.by_peer
            .get(&(received.source, received.multihop))?
            .iter()
            .filter_map(|discriminator| {
                self.sessions
                    .get(discriminator)
                    .map(|entry| (*discriminator, &entry.key))
            })
            .filter(|(_, key)| key.matches(received))
            .max_by_key(|(_, key)| key.specificity())
            .map(|(discriminator, _)| discriminator)
    }

    fn count_drop(&mut self, discriminator: Option<u32>, reason: DropReason) {
        match discriminator.and_then(|discriminator| self.sessions.get_mut(&discriminator)) {
            Some(entry) => entry.session.count_drop(reason),
            None => self.unmatched.count(reason),
        }
    }
}
