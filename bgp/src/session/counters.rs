//! Per-session message counters for `show bgp neighbors` and metrics.

use serde::Serialize;

use crate::message::Message;
use crate::wire::message_type;

/// Messages and events counted over the life of a peer (they survive session resets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionCounters {
    pub opens_in: u64,
    pub opens_out: u64,
    pub updates_in: u64,
    pub updates_out: u64,
    pub keepalives_in: u64,
    pub keepalives_out: u64,
    pub notifications_in: u64,
    pub notifications_out: u64,
    pub route_refreshes_in: u64,
    pub route_refreshes_out: u64,
    /// Times the session reached Established.
    pub established_transitions: u64,
    /// Times the session left Established.
    pub drops: u64,
    /// Connections closed by collision resolution (RFC 4271 section 6.8).
    pub collisions: u64,
}

impl SessionCounters {
    /// Returns every message received.
    pub fn messages_in(&self) -> u64 {
        self.opens_in
            + self.updates_in
            + self.keepalives_in
            + self.notifications_in
            + self.route_refreshes_in
    }

    /// Returns every message sent.
    pub fn messages_out(&self) -> u64 {
        self.opens_out
            + self.updates_out
            + self.keepalives_out
            + self.notifications_out
            + self.route_refreshes_out
    }

    /// Counts one received message of type code `kind`.
    pub fn count_in(&mut self, kind: u8) {
        match kind {
            message_type::OPEN => self.opens_in += 1,
            message_type::UPDATE => self.updates_in += 1,
            message_type::NOTIFICATION => self.notifications_in += 1,
            message_type::KEEPALIVE => self.keepalives_in += 1,
            message_type::ROUTE_REFRESH => self.route_refreshes_in += 1,
            _ => {}
        }
    }

    /// Counts one sent message.
    pub fn count_out(&mut self, message: &Message) {
        self.count_out_kind(message.message_type());
    }

    /// Counts one sent message of type code `kind`.
    pub fn count_out_kind(&mut self, kind: u8) {
        match kind {
            message_type::OPEN => self.opens_out += 1,
            message_type::UPDATE => self.updates_out += 1,
            message_type::NOTIFICATION => self.notifications_out += 1,
            message_type::KEEPALIVE => self.keepalives_out += 1,
            message_type::ROUTE_REFRESH => self.route_refreshes_out += 1,
            _ => {}
        }
    }
}
