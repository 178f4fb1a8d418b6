//! A simulated link between two sans-IO BFD instances, driven by a virtual clock.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use hna_bfd::session::Output;
use hna_bfd::{
    ControlPacket, Instance, RandomSource, Received, SessionKey, SessionParams, StateChange,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;

pub const ADDRESS_A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
pub const ADDRESS_B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

/// Returns the same value on every call: jitter becomes a fixed fraction.
pub struct FixedRandom(pub u32);

impl RandomSource for FixedRandom {
    fn next_u32(&mut self) -> u32 {
        self.0
    }
}

/// One end of the link.
pub struct End {
    pub instance: Instance,
    pub address: IpAddr,
    pub key: SessionKey,
    pub discriminator: u32,
    pub changes: Vec<StateChange>,
    /// Every packet this end sent, with its send time.
    pub sent: Vec<(Instant, ControlPacket)>,
    pub random: SmallRng,
}

impl End {
    fn new(address: IpAddr, peer: IpAddr, params: SessionParams, start: Instant, seed: u64) -> End {
        let mut random = SmallRng::seed_from_u64(seed);
        let mut instance = Instance::new();
        let key = SessionKey::single_hop(peer).with_local(address);
        let discriminator = instance.add_session(key.clone(), params, start, &mut random);
        End {
            instance,
            address,
            key,
            discriminator,
            changes: Vec::new(),
            sent: Vec::new(),
            random,
        }
    }

    pub fn session(&self) -> &hna_bfd::Session {
        self.instance
            .session(self.discriminator)
            .expect("session exists")
            .1
    }

    pub fn state(&self) -> hna_bfd::State {
        self.session().state()
    }
}

/// Two instances joined by a link with a fixed one-way delay that can be cut.
pub struct Link {
    pub a: End,
    pub b: End,
    pub now: Instant,
    pub delay: Duration,
    pub up: bool,
    /// Packets in flight: delivery time, true when going to B, payload.
    in_flight: Vec<(Instant, bool, Vec<u8>)>,
}

impl Link {
    pub fn new(params_a: SessionParams, params_b: SessionParams) -> Link {
        let now = Instant::now();
        Link {
            a: End::new(ADDRESS_A, ADDRESS_B, params_a, now, 1),
            b: End::new(ADDRESS_B, ADDRESS_A, params_b, now, 2),
            now,
            delay: Duration::from_micros(100),
            up: true,
            in_flight: Vec::new(),
        }
    }

    /// Advances the clock by `span`, processing every timer and delivery in order.
    pub fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        loop {
            let next = [
                self.a.instance.next_deadline(),
                self.b.instance.next_deadline(),
                self.in_flight.iter().map(|(at, _, _)| *at).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(at) if at <= end => self.step(at),
                _ => break,
            }
        }
        self.now = end;
    }

    /// Runs until `done` returns true or `limit` of virtual time passes, and returns whether
    /// it returned true.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Link) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            self.run_for(Duration::from_millis(1));
        }
        done(self)
    }

    fn step(&mut self, at: Instant) {
        self.now = self.now.max(at);
        let now = self.now;

        let mut due = Vec::new();
        self.in_flight.retain(|(deliver_at, to_b, bytes)| {
            if *deliver_at <= now {
                due.push((*to_b, bytes.clone()));
                false
            } else {
                true
            }
        });
        for (to_b, bytes) in due {
            let (receiver, source) = if to_b {
                (&mut self.b, ADDRESS_A)
            } else {
                (&mut self.a, ADDRESS_B)
            };
            let received = Received {
                payload: &bytes,
                source,
                destination: receiver.address,
                interface: Some("eth0"),
                ttl: 255,
                multihop: false,
                arrival: None,
            };
            let mut out = Vec::new();
            let _ = receiver
                .instance
                .receive(&received, now, &mut receiver.random, &mut out);
            self.dispatch(to_b, out);
        }

        let mut out = Vec::new();
        self.a
            .instance
            .handle_timers(now, &mut self.a.random, &mut out);
        self.dispatch(false, out);
        let mut out = Vec::new();
        self.b
            .instance
            .handle_timers(now, &mut self.b.random, &mut out);
        self.dispatch(true, out);
    }

    /// Handles the outputs of end B (`from_b`) or A.
    pub fn dispatch(&mut self, from_b: bool, outputs: Vec<Output>) {
        let now = self.now;
        for output in outputs {
            let end = if from_b { &mut self.b } else { &mut self.a };
            match output {
                Output::Transmit { packet, .. } => {
                    let bytes = packet.as_bytes().to_vec();
                    end.sent.push((
                        now,
                        ControlPacket::decode(&bytes).expect("sent packets decode"),
                    ));
                    if self.up {
                        self.in_flight.push((now + self.delay, !from_b, bytes));
                    }
                }
                Output::StateChange { change, .. } => end.changes.push(change),
            }
        }
    }

    /// Both ends Up, within `limit` of virtual time.
    pub fn bring_up(&mut self, limit: Duration) {
        let up = self.run_until(limit, |link| {
            link.a.state() == hna_bfd::State::Up && link.b.state() == hna_bfd::State::Up
        });
        assert!(
            up,
            "sessions not Up after {limit:?}: A {:?}, B {:?}",
            self.a.state(),
            self.b.state()
        );
    }

    /// Runs until neither side has a Poll Sequence pending.
    pub fn settle(&mut self) {
        let settled = self.run_until(Duration::from_secs(5), |link| {
            !link.a.session().poll_pending() && !link.b.session().poll_pending()
        });
        assert!(settled, "Poll Sequences did not end");
    }
}

pub fn params(tx_ms: u64, rx_ms: u64, multiplier: u8) -> SessionParams {
    SessionParams::new(
        Duration::from_millis(tx_ms),
        Duration::from_millis(rx_ms),
        multiplier,
    )
    .expect("valid parameters")
}
