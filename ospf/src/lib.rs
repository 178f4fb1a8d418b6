//! OSPFv2 (RFC 2328) for area 0.
//!
//! The core is sans-IO: codecs ([`packet`], [`lsa`]) and an [`Instance`] that takes received
//! packets, interface changes, BFD events and timer expiry with the current time, and returns
//! [`Action`]s (packets to send, routing tables to publish, BFD sessions to register). The
//! [`io`] module binds an instance to raw sockets and tokio timers.

pub mod lsa;
pub mod packet;
mod wire;

