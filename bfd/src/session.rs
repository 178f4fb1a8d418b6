//! One BFD session as a sans-IO state machine (RFC 5880 section 6.8): the state variables of
//! section 6.8.1, timer negotiation (6.8.2 to 6.8.4), Poll Sequences (6.5), reception (6.8.6),
//! transmission with jitter (6.8.7) and administrative control (6.8.16).
//!
//! The session owns no socket and reads no clock: every input carries the current time, and
//! the outputs (packets to send, state changes) are pushed to a vector the caller drains.

use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;
use tracing::info;

use crate::auth::{AuthState, Authentication};
use crate::counters::{DropReason, SessionCounters};
use crate::packet::{ControlPacket, Diagnostic, EncodedPacket, State};

/// Slowest-start transmit interval: while a session is not Up, bfd.DesiredMinTxInterval is at
/// least one second (RFC 5880 section 6.8.3).
pub const SLOW_TX_INTERVAL: Duration = Duration::from_secs(1);

/// Largest interval the 32-bit microsecond fields can carry.
const MAX_INTERVAL: Duration = Duration::from_micros(u32::MAX as u64);

/// A source of random numbers for discriminators, sequence numbers and jitter. The tokio layer
/// uses a seeded PRNG; tests inject fixed values so that every schedule is reproducible.
pub trait RandomSource {
    /// Returns the next uniformly distributed 32-bit value.
    fn next_u32(&mut self) -> u32;
}

impl<R: rand::Rng + ?Sized> RandomSource for R {
    fn next_u32(&mut self) -> u32 {
        rand::Rng::next_u32(self)
    }
}

/// Timer and authentication parameters a client requests (RFC 5880 section 6.8.1:
/// bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval, bfd.DetectMult, bfd.AuthType).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionParams {
    desired_min_tx: Duration,
    required_min_rx: Duration,
    detect_multiplier: u8,
    authentication: Option<Authentication>,
}

/// Session parameters that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ParamsError {
    #[error("desired minimum TX interval must be between 1 us and {max:?}, got {value:?}", max = MAX_INTERVAL)]
    DesiredMinTx { value: Duration },
    #[error("required minimum RX interval must be at most {max:?}, got {value:?}", max = MAX_INTERVAL)]
    RequiredMinRx { value: Duration },
    #[error("detect multiplier must be at least 1")]
    ZeroDetectMultiplier,
}

impl SessionParams {
    /// Creates the parameters. The desired minimum TX interval must be nonzero and both
    /// intervals must fit the packet's 32-bit microsecond fields (about 71 minutes); a required
    /// minimum RX interval of zero requests no packets from the peer (section 6.8.1).
    pub fn new(
        desired_min_tx: Duration,
        required_min_rx: Duration,
        detect_multiplier: u8,
    ) -> Result<SessionParams, ParamsError> {
        if desired_min_tx < Duration::from_micros(1) || desired_min_tx > MAX_INTERVAL {
            return Err(ParamsError::DesiredMinTx {
                value: desired_min_tx,
            });
        }
        if required_min_rx > MAX_INTERVAL {
            return Err(ParamsError::RequiredMinRx {
                value: required_min_rx,
            });
        }
        if detect_multiplier == 0 {
            return Err(ParamsError::ZeroDetectMultiplier);
        }
        Ok(SessionParams {
            desired_min_tx,
            required_min_rx,
            detect_multiplier,
            authentication: None,
        })
    }

    /// Adds authentication to the parameters.
    pub fn with_authentication(mut self, authentication: Authentication) -> SessionParams {
        self.authentication = Some(authentication);
        self
    }

    /// Desired minimum interval between transmitted packets once the session is Up.
    pub fn desired_min_tx(&self) -> Duration {
        self.desired_min_tx
    }

    /// Minimum interval between received packets this system can handle.
    pub fn required_min_rx(&self) -> Duration {
        self.required_min_rx
    }

    /// Detection time multiplier.
    pub fn detect_multiplier(&self) -> u8 {
        self.detect_multiplier
    }

    /// Returns the authentication in use, if any.
    pub fn authentication(&self) -> Option<&Authentication> {
        self.authentication.as_ref()
    }
}

impl Default for SessionParams {
    /// 300 ms, 300 ms, 3: the defaults of FRR 8.4 bfdd.
    fn default() -> SessionParams {
        SessionParams {
            desired_min_tx: Duration::from_millis(300),
            required_min_rx: Duration::from_millis(300),
            detect_multiplier: 3,
            authentication: None,
        }
    }
}

/// A change of a session's state, as delivered to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateChange {
    /// The state before the change (equal to `state` in the first event of a subscription).
    pub previous: State,
    /// The new state.
    pub state: State,
    /// The local diagnostic: why the session left Up, for example
    /// `ControlDetectionTimeExpired` or `NeighborSignaledSessionDown`.
    pub diagnostic: Diagnostic,
    /// The peer's last reported state. AdminDown means the peer took the session down on
    /// purpose, which RFC 5882 section 3.2 says clients should not treat as a path failure.
    pub remote_state: State,
    /// When the session core made the change.
    pub at: Instant,
}

/// An action a session or the instance requests from the I/O layer.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send `packet` on the path of the session `discriminator`.
    Transmit {
        discriminator: u32,
        packet: EncodedPacket,
    },
    /// The session `discriminator` changed state.
    StateChange {
        discriminator: u32,
        change: StateChange,
    },
}

/// Negotiated timers of a session, as shown to operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Timers {
    /// Interval between our periodic transmissions before jitter: the larger of our desired
    /// minimum TX interval and the peer's required minimum RX interval.
    pub tx_interval_us: u64,
    /// Interval at which the peer sends to us: the larger of our required minimum RX interval
    /// and the peer's desired minimum TX interval.
    pub rx_interval_us: u64,
    /// Detection time: the peer's detect multiplier times `rx_interval_us`; zero before the
    /// first packet from the peer.
    pub detection_time_us: u64,
}

/// One BFD session.
#[derive(Debug)]
pub struct Session {
    local_discr: u32,
    params: SessionParams,
    state: State,
    remote_state: State,
    remote_discr: u32,
    local_diag: Diagnostic,
    remote_diag: Diagnostic,
    remote_min_rx: Duration,
    remote_desired_tx: Duration,
    remote_detect_mult: u8,
    remote_demand: bool,
    // Values advertised in outgoing packets (bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval).
    desired_min_tx: Duration,
    required_min_rx: Duration,
    // Values in force for the transmit schedule and the detection time. They lag behind the
    // advertised ones while a Poll Sequence for an increased TX or a reduced RX interval runs
    // (section 6.8.3).
    tx_basis: Duration,
    rx_basis: Duration,
    poll_pending: bool,
    next_tx: Option<Instant>,
    detect_deadline: Option<Instant>,
    last_rx: Option<Instant>,
    forget_auth_seq_at: Option<Instant>,
    up_since: Option<Instant>,
    auth: Option<AuthState>,
    counters: SessionCounters,
    label: String,
}

impl Session {
    /// Creates a session in Down state. `label` names the session in logs (peer and local
    /// address). The first packet leaves after a random delay of up to a quarter of the slow
    /// interval, so that many sessions created at once do not transmit in one burst.
    pub fn new(
        local_discr: u32,
        params: SessionParams,
        label: String,
        now: Instant,
        random: &mut dyn RandomSource,
    ) -> Session {
        let auth = params
            .authentication
            .clone()
            .map(|config| AuthState::new(config, random.next_u32()));
        let desired_min_tx = params.desired_min_tx.max(SLOW_TX_INTERVAL);
        let required_min_rx = params.required_min_rx;
        let mut session = Session {
            local_discr,
            params,
            state: State::Down,
            remote_state: State::Down,
            remote_discr: 0,
            local_diag: Diagnostic::NoDiagnostic,
            remote_diag: Diagnostic::NoDiagnostic,
            remote_min_rx: Duration::from_micros(1),
            remote_desired_tx: Duration::ZERO,
            remote_detect_mult: 0,
            remote_demand: false,
            desired_min_tx,
            required_min_rx,
            tx_basis: desired_min_tx,
            rx_basis: required_min_rx,
            poll_pending: false,
            next_tx: None,
            detect_deadline: None,
            last_rx: None,
            forget_auth_seq_at: None,
            up_since: None,
            auth,
            counters: SessionCounters::default(),
            label,
        };
        let first_delay = jittered_fraction(desired_min_tx / 4, random);
        session.next_tx = Some(now + first_delay);
        session
    }

    /// Returns the local discriminator (bfd.LocalDiscr).
    pub fn local_discriminator(&self) -> u32 {
        self.local_discr
    }

    /// Returns the remote discriminator (bfd.RemoteDiscr), zero while unknown.
    pub fn remote_discriminator(&self) -> u32 {
        self.remote_discr
    }

    /// Returns the local state (bfd.SessionState).
    pub fn state(&self) -> State {
        self.state
    }

    /// Returns the peer's last reported state (bfd.RemoteSessionState).
    pub fn remote_state(&self) -> State {
        self.remote_state
    }

    /// Returns the local diagnostic (bfd.LocalDiag).
    pub fn local_diagnostic(&self) -> Diagnostic {
        self.local_diag
    }

    /// Returns the peer's last reported diagnostic.
    pub fn remote_diagnostic(&self) -> Diagnostic {
        self.remote_diag
    }

    /// Returns the configured parameters.
    pub fn params(&self) -> &SessionParams {
        &self.params
    }

    /// Returns the peer's detect multiplier, zero before its first packet.
    pub fn remote_detect_multiplier(&self) -> u8 {
        self.remote_detect_mult
    }

    /// Returns the peer's advertised desired minimum TX interval.
    pub fn remote_desired_min_tx(&self) -> Duration {
        self.remote_desired_tx
    }

    /// Returns the peer's advertised required minimum RX interval (bfd.RemoteMinRxInterval).
    pub fn remote_required_min_rx(&self) -> Duration {
        self.remote_min_rx
    }

    /// Returns the desired minimum TX interval currently advertised (one second or more while not Up).
    pub fn advertised_desired_min_tx(&self) -> Duration {
        self.desired_min_tx
    }

    /// Returns true while a Poll Sequence waits for the peer's Final.
    pub fn poll_pending(&self) -> bool {
        self.poll_pending
    }

    /// Returns since when the session has been Up.
    pub fn up_since(&self) -> Option<Instant> {
        self.up_since
    }

    /// Returns the counters of this session.
    pub fn counters(&self) -> &SessionCounters {
        &self.counters
    }

    /// Counts a packet attributed to this session and discarded outside the session core (by
    /// the decoder or the demultiplexer).
    pub fn count_drop(&mut self, reason: DropReason) {
        self.counters.dropped.count(reason);
    }

    /// Counts a packet that the I/O layer failed to send.
    pub fn count_send_error(&mut self) {
        self.counters.send_errors += 1;
    }

    /// Returns the negotiated intervals and detection time.
    pub fn timers(&self) -> Timers {
        Timers {
            tx_interval_us: self.tx_interval().as_micros() as u64,
            rx_interval_us: self.rx_interval().as_micros() as u64,
            detection_time_us: self
                .detection_time()
                .map_or(0, |time| time.as_micros() as u64),
        }
    }

    /// Returns the earliest time at which [`Session::handle_timers`] has work to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.next_tx, self.detect_deadline) {
            (Some(tx), Some(detect)) => Some(tx.min(detect)),
            (tx, detect) => tx.or(detect),
        }
    }

    /// Processes a received packet that passed the stateless checks of the decoder and was
    /// demultiplexed to this session: authentication (section 6.7), then the rest of section
    /// 6.8.6. `raw` is the UDP payload `packet` was decoded from. `arrival` (at most `now`) is
    /// when the packet reached the host; the detection time counts from it.
    pub fn receive(
        &mut self,
        packet: &ControlPacket,
        raw: &[u8],
        now: Instant,
        arrival: Instant,
        random: &mut dyn RandomSource,
        out: &mut Vec<Output>,
    ) -> Result<(), DropReason> {
        if let Err(reason) = self.authenticate(packet, raw, now) {
            self.counters.dropped.count(reason);
            return Err(reason);
        }

        self.remote_discr = packet.my_discriminator;
        self.remote_state = packet.state;
        self.remote_diag = packet.diagnostic;
        self.remote_demand = packet.demand;
        self.remote_min_rx = packet.required_min_rx();
        self.remote_desired_tx = packet.desired_min_tx();
        self.remote_detect_mult = packet.detect_mult;
        if packet.final_ && self.poll_pending {
            self.end_poll();
        }
        self.last_rx = Some(arrival);
        if let Some(detection_time) = self.detection_time() {
            self.detect_deadline = Some(arrival + detection_time);
            self.forget_auth_seq_at = Some(arrival + 2 * detection_time);
        }
        self.reschedule_tx(now, random);

        if self.state == State::AdminDown {
            self.counters.dropped.count(DropReason::AdminDown);
            return Err(DropReason::AdminDown);
        }
        self.counters.packets_in += 1;

        if packet.state == State::AdminDown {
            if self.state != State::Down {
                self.local_diag = Diagnostic::NeighborSignaledSessionDown;
                self.transition(State::Down, now, random, out);
            }
        } else {
            match (self.state, packet.state) {
                (State::Down, State::Down) => self.transition(State::Init, now, random, out),
                (State::Down, State::Init) | (State::Init, State::Init | State::Up) => {
                    self.transition(State::Up, now, random, out)
                }
                (State::Up, State::Down) => {
                    self.local_diag = Diagnostic::NeighborSignaledSessionDown;
                    self.transition(State::Down, now, random, out);
                }
                _ => {}
            }
        }

        // A Poll is answered at once, outside the periodic schedule (section 6.8.7). The answer
        // carries Final and never Poll, even during our own Poll Sequence.
        if packet.poll {
            let reply = self.build_packet(false, true);
            out.push(Output::Transmit {
                discriminator: self.local_discr,
                packet: reply,
            });
        }
        Ok(())
    }

    fn authenticate(
        &mut self,
        packet: &ControlPacket,
        raw: &[u8],
        now: Instant,
    ) -> Result<(), DropReason> {
        match (&packet.auth, &mut self.auth) {
            (None, None) => Ok(()),
            (Some(_), None) => Err(DropReason::AuthUnexpected),
            (None, Some(_)) => Err(DropReason::AuthMissing),
            (Some(_), Some(auth)) => {
                if self.forget_auth_seq_at.is_some_and(|at| now >= at) {
                    auth.forget_sequence();
                }
                auth.verify(packet, raw)
            }
        }
    }

    /// Runs the transmit and detection timers that are due at `now`.
    pub fn handle_timers(
        &mut self,
        now: Instant,
        random: &mut dyn RandomSource,
        out: &mut Vec<Output>,
    ) {
        if self.detect_deadline.is_some_and(|deadline| now >= deadline) {
            self.detection_time_expired(now, random, out);
        }
        if self.next_tx.is_some_and(|at| now >= at) {
            let packet = self.build_packet(self.poll_pending, false);
            out.push(Output::Transmit {
                discriminator: self.local_discr,
                packet,
            });
            self.next_tx = None;
            self.schedule_tx(now, random);
        }
    }

    /// Handles the expiry of the detection time (section 6.8.4): the session goes Down from
    /// Init or Up, and the peer's discriminator and timers are forgotten (section 6.8.1),
    /// so that a restarted peer is learned afresh.
    fn detection_time_expired(
        &mut self,
        now: Instant,
        random: &mut dyn RandomSource,
        out: &mut Vec<Output>,
    ) {
        self.detect_deadline = None;
        self.remote_discr = 0;
        self.remote_state = State::Down;
        self.remote_min_rx = Duration::from_micros(1);
        self.remote_desired_tx = Duration::ZERO;
        self.remote_detect_mult = 0;
        self.remote_demand = false;
        if matches!(self.state, State::Init | State::Up) {
            self.local_diag = Diagnostic::ControlDetectionTimeExpired;
            self.transition(State::Down, now, random, out);
        } else {
            self.reschedule_tx(now, random);
        }
    }

    /// Replaces the parameters; changed intervals start a Poll Sequence when Up (section 6.8.3).
    pub fn set_params(
        &mut self,
        params: SessionParams,
        now: Instant,
        random: &mut dyn RandomSource,
    ) {
        if params.authentication != self.params.authentication {
            self.auth = params
                .authentication
                .clone()
                .map(|config| AuthState::new(config, random.next_u32()));
        }
        self.params = params;
        self.apply_intervals(now, random);
    }

    /// Puts the session in AdminDown with `diagnostic` (section 6.8.16), or takes it out to
    /// Down. The peer learns it from the next packet, which leaves at once.
    pub fn set_admin_down(
        &mut self,
        admin_down: bool,
        diagnostic: Diagnostic,
        now: Instant,
        random: &mut dyn RandomSource,
        out: &mut Vec<Output>,
    ) {
        match (admin_down, self.state) {
            (true, State::AdminDown) | (false, State::Down | State::Init | State::Up) => {}
            (true, _) => {
                self.local_diag = diagnostic;
                self.transition(State::AdminDown, now, random, out);
            }
            (false, State::AdminDown) => {
                self.local_diag = Diagnostic::NoDiagnostic;
                self.transition(State::Down, now, random, out);
            }
        }
    }

    /// Builds the packet announcing AdminDown with diagnostic AdministrativelyDown, sent once
    /// when the session is deleted so that the peer does not wait for its detection time.
    pub fn farewell_packet(&mut self) -> EncodedPacket {
        self.state = State::AdminDown;
        self.local_diag = Diagnostic::AdministrativelyDown;
        self.build_packet(false, false)
    }

    fn transition(
        &mut self,
        new: State,
        now: Instant,
        random: &mut dyn RandomSource,
        out: &mut Vec<Output>,
    ) {
        let previous = self.state;
        self.state = new;
        if new == State::Up {
            self.local_diag = Diagnostic::NoDiagnostic;
            self.up_since = Some(now);
            self.counters.up_count += 1;
        }
        if previous == State::Up {
            self.up_since = None;
            self.counters.down_count += 1;
            self.poll_pending = false;
        }
        info!(
            session = %self.label,
            local_discriminator = self.local_discr,
            remote_discriminator = self.remote_discr,
            from = %previous,
            to = %new,
            diagnostic = ?self.local_diag,
            "BFD session state changed"
        );
        out.push(Output::StateChange {
            discriminator: self.local_discr,
            change: StateChange {
                previous,
                state: new,
                diagnostic: self.local_diag,
                remote_state: self.remote_state,
                at: now,
            },
        });
        self.apply_intervals(now, random);
        // The peer learns of the change at once instead of at the next periodic packet.
        self.next_tx = Some(now);
    }

    /// Moves the advertised intervals to what the state and parameters call for (section
    /// 6.8.3). Outside Up the change takes effect at once. In Up it starts a Poll Sequence, and a longer
    /// TX interval or a shorter RX interval waits for the Final.
    fn apply_intervals(&mut self, now: Instant, random: &mut dyn RandomSource) {
        let target_tx = if self.state == State::Up {
            self.params.desired_min_tx
        } else {
            self.params.desired_min_tx.max(SLOW_TX_INTERVAL)
        };
        let target_rx = self.params.required_min_rx;
        if target_tx == self.desired_min_tx && target_rx == self.required_min_rx {
            return;
        }
        self.desired_min_tx = target_tx;
        self.required_min_rx = target_rx;

        if self.state == State::Up {
            // NOTE: outside Up the new values are announced without a Poll Sequence, as FRR 8.4
            // and BIRD 2 do. A peer that is Down or Init does not use them for detection yet.
            self.poll_pending = true;
            self.tx_basis = self.tx_basis.min(target_tx);
            self.rx_basis = self.rx_basis.max(target_rx);
            self.next_tx = Some(now);
        } else {
            self.tx_basis = target_tx;
            self.rx_basis = target_rx;
            self.reschedule_tx(now, random);
        }
        // A longer detection time applies from the last reception at once. A shorter one waits
        // for the Final, because rx_basis keeps the old value until then.
        if let (Some(_), Some(last_rx), Some(detection_time)) =
            (self.detect_deadline, self.last_rx, self.detection_time())
        {
            self.detect_deadline = Some(last_rx + detection_time);
        }
    }

    fn end_poll(&mut self) {
        self.poll_pending = false;
        self.tx_basis = self.desired_min_tx;
        self.rx_basis = self.required_min_rx;
    }

    fn tx_interval(&self) -> Duration {
        self.tx_basis.max(self.remote_min_rx)
    }

    fn rx_interval(&self) -> Duration {
        self.rx_basis.max(self.remote_desired_tx)
    }

    /// Returns the detection time (section 6.8.4), or `None` before the peer's first packet and while
    /// we ask the peer to send nothing (Required Min RX Interval zero).
    fn detection_time(&self) -> Option<Duration> {
        let running = self.remote_detect_mult > 0 && !self.rx_basis.is_zero();
        running.then(|| self.rx_interval() * u32::from(self.remote_detect_mult))
    }

    /// True when periodic transmission is allowed (section 6.8.7): the peer accepts packets
    /// (RemoteMinRxInterval nonzero) and has not asked for Demand mode on an Up session.
    fn periodic_tx_allowed(&self) -> bool {
        let remote_demand_active =
            self.remote_demand && self.state == State::Up && self.remote_state == State::Up;
        !self.remote_min_rx.is_zero() && !remote_demand_active
    }

    fn schedule_tx(&mut self, from: Instant, random: &mut dyn RandomSource) {
        if !self.periodic_tx_allowed() {
            self.next_tx = None;
            return;
        }
        let interval = self.tx_interval();
        let reduction = if self.params.detect_multiplier == 1 {
            // With a multiplier of 1 the interval is 75 % to 90 % of the negotiated one.
            interval / 10 + jittered_fraction(interval * 3 / 20, random)
        } else {
            jittered_fraction(interval / 4, random)
        };
        self.next_tx = Some(from + (interval - reduction));
    }

    /// Re-plans the next transmission after an interval change or a reception: it stays where it
    /// is unless the new interval calls for an earlier one, or none was planned.
    fn reschedule_tx(&mut self, now: Instant, random: &mut dyn RandomSource) {
        if !self.periodic_tx_allowed() {
            self.next_tx = None;
            return;
        }
        let latest = now + self.tx_interval();
        match self.next_tx {
            Some(at) if at <= latest => {}
            _ => self.schedule_tx(now, random),
        }
    }

    fn build_packet(&mut self, poll: bool, final_: bool) -> EncodedPacket {
        let auth = self.auth.as_mut().map(AuthState::next_section);
        let packet = ControlPacket {
            diagnostic: self.local_diag,
            state: self.state,
            poll,
            final_,
            control_plane_independent: false,
            demand: false,
            detect_mult: self.params.detect_multiplier,
            my_discriminator: self.local_discr,
            your_discriminator: self.remote_discr,
            desired_min_tx_us: micros(self.desired_min_tx),
            required_min_rx_us: micros(self.required_min_rx),
            required_min_echo_rx_us: 0,
            auth,
        };
        let mut encoded = packet.encode();
        if let Some(auth) = &self.auth {
            auth.sign(&mut encoded);
        }
        self.counters.packets_out += 1;
        encoded
    }
}

/// Returns a random duration between zero and `max` inclusive, at microsecond resolution.
fn jittered_fraction(max: Duration, random: &mut dyn RandomSource) -> Duration {
    let max_us = max.as_micros().min(u128::from(u32::MAX)) as u64;
    if max_us == 0 {
        return Duration::ZERO;
    }
    Duration::from_micros(u64::from(random.next_u32()) % (max_us + 1))
}

fn micros(interval: Duration) -> u32 {
    interval.as_micros().min(u128::from(u32::MAX)) as u32
}
