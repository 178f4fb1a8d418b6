//! The client API: a cloneable [`Bfd`] handle to one instance task, [`Subscription`]s that
//! deliver a session's state changes, and [`SessionSnapshot`]s for operators and metrics.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::counters::{DropCounters, SessionCounters};
use crate::instance::SessionKey;
use crate::packet::{Diagnostic, State};
use crate::session::{SessionParams, StateChange, Timers};
use crate::task::{Command, InstanceTask};

/// Settings of a BFD instance.
#[derive(Clone, Debug, Default)]
pub struct BfdConfig {
    /// Seed of the random numbers (discriminators, sequence numbers, jitter); `None` draws one
    /// from the operating system. A fixed seed makes runs comparable, nothing more.
    pub seed: Option<u64>,
    /// SCHED_FIFO priority (1 to 99) for the thread of [`Bfd::spawn_on_thread`], so that other
    /// work on the host cannot delay transmissions past the peer's detection time. Needs
    /// CAP_SYS_NICE; without it the thread keeps the normal policy and a warning is logged.
    /// Ignored by [`Bfd::spawn`], which runs on the caller's runtime.
    pub realtime_priority: Option<u8>,
}

/// A handle to a running BFD instance. Clones share the instance; the instance stops when the
/// last handle and the last [`Subscription`] are dropped, after sending AdminDown to its peers.
#[derive(Clone, Debug)]
pub struct Bfd {
    commands: mpsc::UnboundedSender<Command>,
    next_subscriber: Arc<AtomicU64>,
}

impl Bfd {
    /// Starts an instance on the current tokio runtime.
    ///
    /// Must be called inside a tokio runtime, on a thread in the network namespace whose
    /// sockets the instance should use: the sockets are opened before this returns. A socket
    /// that cannot be opened (for example UDP 3784 already bound by another BFD daemon in the
    /// namespace) is logged as an error and retried every few seconds; use [`Bfd::try_spawn`]
    /// to get that error instead.
    pub fn spawn(config: BfdConfig) -> Bfd {
        let (bfd, task) = Bfd::build(config);
        tokio::spawn(task.run());
        bfd
    }

    /// Starts an instance like [`Bfd::spawn`], but fails when the IPv4 sockets (receive on
    /// 3784 and 4784, transmit from 49152-65535) cannot be opened. IPv6 sockets are optional
    /// and retried as in `spawn`.
    pub fn try_spawn(config: BfdConfig) -> io::Result<Bfd> {
        let (bfd, task) = Bfd::build(config);
        task.ipv4_ready()?;
        tokio::spawn(task.run());
        Ok(bfd)
    }

    /// Starts an instance on a thread of its own, with a current-thread tokio runtime, so that
    /// its timers do not wait behind other tasks of the caller's runtime. The thread also takes
    /// [`BfdConfig::realtime_priority`]. Needs no runtime in the caller. The thread inherits
    /// the caller's network namespace, in which it opens the sockets; it fails like
    /// [`Bfd::try_spawn`] when the IPv4 sockets cannot be opened. The thread ends with the
    /// instance, when the last handle and subscription are dropped.
    pub fn spawn_on_thread(config: BfdConfig) -> io::Result<Bfd> {
        let (started, result) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("hna-bfd".to_string())
            .spawn(move || {
                if let Some(priority) = config.realtime_priority {
                    set_realtime_priority(priority);
                }
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = started.send(Err(error));
                        return;
                    }
                };
                let task = {
                    let _context = runtime.enter();
                    let (bfd, task) = Bfd::build(config);
                    if let Err(error) = task.ipv4_ready() {
                        let _ = started.send(Err(error));
                        return;
                    }
                    let _ = started.send(Ok(bfd));
                    task
                };
                runtime.block_on(task.run());
            })?;
        result
            .recv()
            .map_err(|_| io::Error::other("the BFD thread ended before it started the instance"))?
    }

    fn build(config: BfdConfig) -> (Bfd, InstanceTask) {
        let (commands, receiver) = mpsc::unbounded_channel();
        let task = InstanceTask::new(config, receiver);
        (
            Bfd {
                commands,
                next_subscriber: Arc::new(AtomicU64::new(1)),
            },
            task,
        )
    }

    /// Registers a client of the session for `key` and returns its subscription.
    ///
    /// Clients registering the same key share one session. The session runs with the fastest
    /// timers any of its clients requests (smallest intervals and multiplier) and with the
    /// authentication of its oldest client. Dropping the last subscription deletes the session,
    /// after one AdminDown packet informs the peer.
    pub fn register(&self, key: SessionKey, params: SessionParams) -> Subscription {
        let id = self.next_subscriber.fetch_add(1, Ordering::Relaxed);
        let initial = StateChange {
            previous: State::Down,
            state: State::Down,
            diagnostic: Diagnostic::NoDiagnostic,
            remote_state: State::Down,
            at: Instant::now(),
        };
        let (events_sender, events) = mpsc::unbounded_channel();
        let (latest_sender, latest) = watch::channel(initial);
        // A send fails only when the task has stopped; the subscription then reports the end of
        // its stream.
        let _ = self.commands.send(Command::Register {
            subscriber: id,
            key: key.clone(),
            params,
            events: events_sender,
            latest: latest_sender,
        });
        Subscription {
            id,
            key,
            events,
            latest,
            commands: self.commands.clone(),
        }
    }

    /// Returns a snapshot of every session, ordered by key. Empty when the instance stopped.
    pub async fn sessions(&self) -> Vec<SessionSnapshot> {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(Command::Sessions { reply }).is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// Returns the counters of packets discarded before any session could be selected (no
    /// session for Your Discriminator or for the addresses, malformed packets from unknown
    /// peers).
    pub async fn unmatched_drops(&self) -> DropCounters {
        let (reply, answer) = oneshot::channel();
        if self
            .commands
            .send(Command::UnmatchedDrops { reply })
            .is_err()
        {
            return DropCounters::default();
        }
        answer.await.unwrap_or_default()
    }

    /// Puts the session for `key` in AdminDown (RFC 5880 section 6.8.16), or takes it back to
    /// Down, for every client of it. Does nothing for an unknown key.
    pub fn set_admin_down(&self, key: SessionKey, admin_down: bool) {
        let _ = self
            .commands
            .send(Command::SetAdminDown { key, admin_down });
    }
}

/// One client's registration of a session. It yields the session's state changes; dropping it
/// unregisters the client.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    key: SessionKey,
    events: mpsc::UnboundedReceiver<StateChange>,
    latest: watch::Receiver<StateChange>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Subscription {
    /// Returns the key this subscription was registered with.
    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    /// Waits for the next state change, in order and without loss. The first one is the
    /// session's state at registration (`previous == state`). Returns `None` when the instance
    /// has stopped.
    pub async fn recv(&mut self) -> Option<StateChange> {
        self.events.recv().await
    }

    /// Returns the next state change if one is waiting.
    pub fn try_recv(&mut self) -> Option<StateChange> {
        self.events.try_recv().ok()
    }

    /// Returns the latest state change, whether or not [`Subscription::recv`] has returned it yet.
    /// Before the instance has processed the registration it reads Down.
    pub fn latest(&self) -> StateChange {
        *self.latest.borrow()
    }

    /// Unregisters the client, as dropping the subscription does. The session is deleted when
    /// this was its last client.
    pub fn unregister(self) {
        drop(self);
    }

    /// Returns a watch receiver of the latest state change, for clients that only need the current
    /// state (intermediate changes may be skipped) or want to `select!` on it.
    pub fn watch(&self) -> watch::Receiver<StateChange> {
        self.latest.clone()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Unregister {
            subscriber: self.id,
        });
    }
}

/// The state of one session, as `show bfd peers` and metrics present it. Intervals are in
/// microseconds, as on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionSnapshot {
    pub peer: IpAddr,
    pub local: Option<IpAddr>,
    pub interface: Option<String>,
    pub multihop: bool,
    pub state: State,
    pub remote_state: State,
    pub local_diagnostic: Diagnostic,
    pub remote_diagnostic: Diagnostic,
    pub local_discriminator: u32,
    pub remote_discriminator: u32,
    /// Our detect multiplier.
    pub detect_multiplier: u8,
    /// The peer's detect multiplier, zero before its first packet.
    pub remote_detect_multiplier: u8,
    /// Our configured desired minimum TX interval (used once Up).
    pub desired_min_tx_us: u64,
    /// Our configured required minimum RX interval.
    pub required_min_rx_us: u64,
    /// The peer's advertised desired minimum TX interval.
    pub remote_desired_min_tx_us: u64,
    /// The peer's advertised required minimum RX interval.
    pub remote_required_min_rx_us: u64,
    /// Negotiated intervals and detection time.
    #[serde(flatten)]
    pub timers: Timers,
    /// True while a Poll Sequence for changed intervals waits for the peer's Final.
    pub poll_pending: bool,
    /// Time since the session came Up; `None` when not Up.
    pub uptime_ms: Option<u64>,
    /// Number of clients registered for this session.
    pub clients: usize,
    /// Packets in and out, transitions, and dropped packets by reason.
    pub counters: SessionCounters,
}

/// Gives the calling thread the SCHED_FIFO policy at `priority`, or logs why it cannot.
fn set_realtime_priority(priority: u8) {
    let param = libc::sched_param {
        sched_priority: i32::from(priority.clamp(1, 99)),
    };
    // SAFETY: pthread_self is always valid for the calling thread, and `param` outlives the call.
    let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
    if rc == 0 {
        tracing::info!(priority, "BFD thread runs with SCHED_FIFO");
    } else {
        let error = io::Error::from_raw_os_error(rc);
        tracing::warn!(priority, %error, "cannot give the BFD thread SCHED_FIFO; it keeps the normal policy");
    }
}
