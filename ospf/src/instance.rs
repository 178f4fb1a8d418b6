//! The sans-IO OSPF instance: one value that owns interfaces, neighbors, the LSDB and the
//! routing table. It takes [`Input`]s with the current time and returns [`Action`]s.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use tracing::{debug, info};

use crate::config::{Config, ConfigError};
use crate::graceful::{RestartExitReason, RestartState};
use crate::interface::{Interface, InterfaceInfo, InterfaceState};
use crate::lsa::{LsaKey, Options};
use crate::lsdb::Lsdb;
use crate::packet::auth::AuthError;
use crate::packet::{ALL_D_ROUTERS, AuthHeader, Packet, PacketBody, PacketError};
use crate::show::{Counters, DropReason};
use crate::spf::{RouteUpdate, RoutingTable};

/// Options this router sets in Hello and Database Description packets: E (external routing) and
/// O (opaque-capable, RFC 5250, so that neighbors flood opaque LSAs to us).
pub(crate) const OUR_OPTIONS: Options = Options(Options::E | Options::O);

/// Interval of the aging scan that flushes MaxAge LSAs and refreshes our own.
const AGING_INTERVAL: Duration = Duration::from_secs(1);

/// An input of the instance.
#[derive(Debug, Clone)]
pub enum Input {
    /// An OSPF packet (the IP payload) received on interface `ifindex`.
    Packet {
        ifindex: u32,
        source: Ipv4Addr,
        destination: Ipv4Addr,
        data: Vec<u8>,
    },
    /// An interface appeared or changed (addresses, MTU, up/down).
    InterfaceUpdate(InterfaceInfo),
    /// An interface disappeared.
    InterfaceRemoved { ifindex: u32 },
    /// The BFD session of `neighbor` (its interface address) on `ifindex` went down.
    BfdDown { ifindex: u32, neighbor: Ipv4Addr },
    /// Some timer may have expired; the instance runs everything due at the given time.
    Timer,
}

/// A single-hop BFD session the instance wants to exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct BfdSession {
    pub ifindex: u32,
    pub interface: String,
    /// The neighbor's interface address, the BFD peer.
    pub neighbor: Ipv4Addr,
    /// The neighbor's router id.
    pub neighbor_id: Ipv4Addr,
    /// Our address on the interface, the BFD local address.
    pub local: Ipv4Addr,
}

/// An output of the instance.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send `data` (an OSPF packet, IP payload) out of `ifindex` to `destination`, TTL 1.
    Send {
        ifindex: u32,
        destination: Ipv4Addr,
        data: Vec<u8>,
    },
    /// OSPF now runs on this interface: open its socket and join the multicast groups.
    EnableInterface { ifindex: u32, name: String },
    /// OSPF stopped on this interface: close its socket.
    DisableInterface { ifindex: u32 },
    /// A new routing table after an SPF run, with the difference from the previous one.
    Routes(RouteUpdate),
    /// A neighbor on a `track bfd` interface reached 2-Way: create this BFD session.
    BfdRegister(BfdSession),
    /// That neighbor went below 2-Way or away: delete the session.
    BfdUnregister(BfdSession),
}

/// The OSPF instance.
#[derive(Debug)]
pub struct Instance {
    pub(crate) config: Config,
    pub(crate) router_id: Ipv4Addr,
    pub(crate) interfaces: BTreeMap<u32, Interface>,
    pub(crate) lsdb: Lsdb,
    pub(crate) routes: RoutingTable,
    pub(crate) counters: Counters,
    pub(crate) actions: Vec<Action>,
    /// Next DD sequence number to start an exchange with.
    pub(crate) dd_sequence_seed: u32,
    pub(crate) spf_at: Option<Instant>,
    pub(crate) spf_hold: Duration,
    pub(crate) last_spf: Option<Instant>,
    pub(crate) aging_at: Instant,
    /// Set when something that our LSAs describe changed; handled at the end of each input.
    pub(crate) origination_needed: bool,
    /// When each self-originated LSA was last originated, for MinLSInterval.
    pub(crate) last_origination: HashMap<LsaKey, Instant>,
    pub(crate) deferred_origination_at: Option<Instant>,
    /// Self-originated LSAs flushed at MaxSequenceNumber, to originate again at
    /// InitialSequenceNumber once the flushed instance left the database (section 12.1.6).
    pub(crate) sequence_wrap_pending: Vec<LsaKey>,
    /// Sequence number to use for the next instance of a self-originated LSA, when a newer copy
    /// of it came back from the network (section 13.4).
    pub(crate) next_sequence: HashMap<LsaKey, i32>,
    /// Set while the instance is in graceful restart (RFC 3623 section 2).
    pub(crate) restart: Option<RestartState>,
    pub(crate) last_restart_exit: Option<RestartExitReason>,
    /// Full neighbors that [`Instance::graceful_shutdown`] could not send a grace-LSA to.
    pub(crate) grace_not_sent: Vec<Ipv4Addr>,
}

impl Instance {
    /// Creates an instance. `crypto_sequence_base` starts the cryptographic sequence numbers,
    /// which must not go backwards across restarts: the tokio layer passes the Unix time.
    pub fn new(
        config: Config,
        now: Instant,
        crypto_sequence_base: u32,
    ) -> Result<Instance, ConfigError> {
        config.validate()?;
        let restart = config.graceful_restart.restarting.then(|| {
            let grace_period = config.graceful_restart.grace_period;
            info!(
                grace_period_s = grace_period.as_secs(),
                "OSPF starting in graceful restart"
            );
            RestartState {
                ends_at: now + grace_period,
            }
        });
        Ok(Instance {
            router_id: config.router_id,
            config,
            interfaces: BTreeMap::new(),
            lsdb: Lsdb::new(),
            routes: RoutingTable::default(),
            counters: Counters::default(),
            actions: Vec::new(),
            dd_sequence_seed: crypto_sequence_base,
            spf_at: None,
            spf_hold: Duration::ZERO,
            last_spf: None,
            aging_at: now + AGING_INTERVAL,
            origination_needed: false,
            last_origination: HashMap::new(),
            deferred_origination_at: None,
            sequence_wrap_pending: Vec::new(),
            next_sequence: HashMap::new(),
            restart,
            last_restart_exit: None,
            grace_not_sent: Vec::new(),
        })
    }

    pub fn router_id(&self) -> Ipv4Addr {
        self.router_id
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one input and returns the actions it caused.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Action> {
        match input {
            Input::Packet {
                ifindex,
                source,
                destination,
                data,
            } => {
                self.receive_packet(ifindex, source, destination, &data, now);
            }
            Input::InterfaceUpdate(info) => self.update_interface(info, now),
            Input::InterfaceRemoved { ifindex } => self.remove_interface(ifindex, now),
            Input::BfdDown { ifindex, neighbor } => self.bfd_down(ifindex, neighbor, now),
            Input::Timer => self.run_timers(now),
        }
        self.finish(now)
    }

    /// Flushes every LSA this router originated (premature aging, RFC 2328 section 14.1) and
    /// returns the packets that announce it, so that neighbors drop our LSAs at once instead of
    /// keeping them until they age out. Call it before stopping the instance.
    pub fn shutdown(&mut self, now: Instant) -> Vec<Action> {
        let own: Vec<LsaKey> = self
            .lsdb
            .iter()
            .filter(|(key, entry)| {
                key.advertising_router == self.router_id && !entry.is_max_age(now)
            })
            .map(|(key, _)| *key)
            .collect();
        for key in own {
            self.flush(&key, now);
        }
        std::mem::take(&mut self.actions)
    }

    /// Returns when the next timer expires; the driver sends [`Input::Timer`] then.
    pub fn next_timer(&self) -> Option<Instant> {
        let mut next = Some(self.aging_at);
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |current: Instant| current.min(at)));
            }
        };
        consider(self.spf_at);
        consider(self.deferred_origination_at);
        consider(self.restart.map(|restart| restart.ends_at));
        for interface in self.interfaces.values() {
            consider(interface.next_timer());
        }
        next
    }

    /// Leaves graceful restart when it is over, originates what changed and returns the pending
    /// actions.
    fn finish(&mut self, now: Instant) -> Vec<Action> {
        self.check_restart(now);
        if self.origination_needed && self.restart.is_none() {
            self.origination_needed = false;
            self.originate_lsas(now);
        }
        std::mem::take(&mut self.actions)
    }

    fn run_timers(&mut self, now: Instant) {
        let ifindexes: Vec<u32> = self.interfaces.keys().copied().collect();
        for ifindex in ifindexes {
            self.interface_timers(ifindex, now);
        }
        if self.aging_at <= now {
            self.aging_at = now + AGING_INTERVAL;
            self.age_lsdb(now);
        }
        if self.deferred_origination_at.is_some_and(|at| at <= now) {
            self.deferred_origination_at = None;
            self.origination_needed = true;
        }
        if self.spf_at.is_some_and(|at| at <= now) {
            self.spf_at = None;
            self.run_spf(now);
        }
    }

    fn bfd_down(&mut self, ifindex: u32, neighbor: Ipv4Addr, now: Instant) {
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return;
        };
        let Some(known) = interface.neighbors.get(&neighbor) else {
            return;
        };
        if known.helper.is_some() {
            // The restarting neighbor's BFD is down with its control plane (RFC 3623 helper).
            self.counters.graceful_restart.bfd_down_ignored += 1;
            info!(interface = %interface.name, neighbor = %neighbor, "BFD session down while helping a restarting neighbor; keeping the adjacency");
            return;
        }
        info!(interface = %interface.name, neighbor = %neighbor, "BFD session down, killing the adjacency");
        self.neighbor_event(
            ifindex,
            neighbor,
            crate::neighbor::NeighborEvent::KillNbr,
            now,
        );
    }

    /// Counts a dropped packet and logs it at debug level.
    pub(crate) fn drop_packet(&mut self, ifindex: u32, source: Ipv4Addr, reason: DropReason) {
        *self.counters.dropped.entry(reason).or_default() += 1;
        debug!(ifindex, source = %source, reason = ?reason, "dropped OSPF packet");
    }

    /// Validates a received packet (RFC 2328 section 8.2) and dispatches it by type.
    fn receive_packet(
        &mut self,
        ifindex: u32,
        source: Ipv4Addr,
        destination: Ipv4Addr,
        data: &[u8],
        now: Instant,
    ) {
        let Some(interface) = self.interfaces.get(&ifindex) else {
            return self.drop_packet(ifindex, source, DropReason::UnknownInterface);
        };
        if !interface.is_active() {
            return self.drop_packet(ifindex, source, DropReason::InterfaceDown);
        }
        let decoded = match Packet::decode(data) {
            Ok(decoded) => decoded,
            Err(error) => return self.drop_packet(ifindex, source, DropReason::from(error)),
        };
        let packet_type = decoded.packet.body.packet_type();
        *self.counters.received.entry(packet_type).or_default() += 1;

        // Section 8.2: area, destination, source and our own packets.
        let packet = &decoded.packet;
        if !packet.area_id.is_unspecified() {
            return self.drop_packet(ifindex, source, DropReason::WrongArea);
        }
        if destination == ALL_D_ROUTERS
            && !matches!(interface.state, InterfaceState::Dr | InterfaceState::Backup)
        {
            return self.drop_packet(ifindex, source, DropReason::NotDesignatedRouter);
        }
        if packet.router_id == self.router_id {
            return self.drop_packet(ifindex, source, DropReason::OwnRouterId);
        }
        // 0.0.0.0 identifies no router (RFC 2328 section C.1 has a router pick one of its
        // addresses), and accepting it would replace the real neighbor behind that address.
        if packet.router_id.is_unspecified() {
            return self.drop_packet(ifindex, source, DropReason::ZeroRouterId);
        }
        if interface.is_broadcast() && !interface.address.contains(&source) {
            return self.drop_packet(ifindex, source, DropReason::WrongSubnet);
        }

        // Appendix D: authentication, then the cryptographic sequence number of the neighbor.
        if let Err(error) = interface.config.authentication.verify(data, &decoded) {
            return self.drop_packet(ifindex, source, DropReason::auth(error));
        }
        let sequence = match packet.auth {
            AuthHeader::Cryptographic { sequence, .. } => Some(sequence),
            _ => None,
        };
        if let (Some(sequence), Some(neighbor)) = (sequence, interface.neighbors.get(&source))
            && neighbor.crypto_sequence.is_some_and(|last| sequence < last)
        {
            return self.drop_packet(ifindex, source, DropReason::auth(AuthError::BadDigest));
        }
        for error in &decoded.discarded_lsas {
            *self
                .counters
                .lsas_discarded
                .entry(crate::show::LsaDropReason::from(*error))
                .or_default() += 1;
            debug!(ifindex, source = %source, error = %error, "discarded LSA");
        }

        let router_id = packet.router_id;
        match decoded.packet.body {
            PacketBody::Hello(hello) => self.receive_hello(ifindex, source, router_id, &hello, now),
            body => {
                if !self.interfaces[&ifindex].neighbors.contains_key(&source) {
                    return self.drop_packet(ifindex, source, DropReason::UnknownNeighbor);
                }
                match body {
                    PacketBody::DbDescription(dd) => self.receive_dd(ifindex, source, &dd, now),
                    PacketBody::LsRequest(request) => {
                        self.receive_ls_request(ifindex, source, &request, now)
                    }
                    PacketBody::LsUpdate(update) => {
                        self.receive_ls_update(ifindex, source, update, now)
                    }
                    PacketBody::LsAck(ack) => self.receive_ls_ack(ifindex, source, &ack, now),
                    PacketBody::Hello(_) => unreachable!("handled above"),
                }
            }
        }
        if let (Some(sequence), Some(interface)) = (sequence, self.interfaces.get_mut(&ifindex))
            && let Some(neighbor) = interface.neighbors.get_mut(&source)
        {
            neighbor.crypto_sequence = Some(sequence);
        }
    }

    /// Builds, signs and queues a packet out of `ifindex`.
    pub(crate) fn send(&mut self, ifindex: u32, destination: Ipv4Addr, body: PacketBody) {
        let Some(interface) = self.interfaces.get_mut(&ifindex) else {
            return;
        };
        interface.crypto_sequence = interface.crypto_sequence.wrapping_add(1);
        let packet = Packet {
            router_id: self.router_id,
            area_id: Ipv4Addr::UNSPECIFIED,
            auth: interface
                .config
                .authentication
                .header(interface.crypto_sequence),
            body,
        };
        let packet_type = packet.body.packet_type();
        let mut data = packet.encode();
        interface.config.authentication.append_digest(&mut data);
        *self.counters.sent.entry(packet_type).or_default() += 1;
        self.actions.push(Action::Send {
            ifindex,
            destination,
            data,
        });
    }

    /// Returns the addresses of all our OSPF interfaces.
    pub(crate) fn own_addresses(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        self.interfaces
            .values()
            .filter(|interface| interface.is_enabled())
            .map(|interface| interface.address)
    }

    /// Allocates a DD sequence number for a new exchange (section 10.8 requires a unique value).
    pub(crate) fn next_dd_sequence(&mut self) -> u32 {
        self.dd_sequence_seed = self.dd_sequence_seed.wrapping_add(0x1_0000);
        self.dd_sequence_seed
    }
}

impl From<PacketError> for DropReason {
    fn from(error: PacketError) -> DropReason {
        DropReason::Decode(crate::show::DecodeFailure::from(error))
    }
}
