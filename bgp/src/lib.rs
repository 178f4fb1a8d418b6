//! BGP-4 (RFC 4271) for hna-routing. `message` is the validated model of every message and
//! path attribute; `wire` decodes and encodes it, applying the error handling of RFC 7606.
//! Neither owns I/O: a session feeds them bytes and sends what they return.

pub mod config;
pub mod instance;
pub mod message;
pub mod policy;
pub mod rib;
pub mod session;
pub mod show;
pub mod tasks;
pub mod types;
pub mod wire;

pub use message::*;
pub use types::{AS_TRANS, Afi, AfiSafi, Safi};
pub use wire::{
    DecodedMessage, DecodedUpdate, SessionContext, UpdateAction, decode_message, frame_length,
};

pub use config::BgpConfig;
pub use instance::{BgpEvent, ClearKind, StartOptions};
pub use tasks::{Bgp, BgpError, SpawnError, SpawnOptions};
