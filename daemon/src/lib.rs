//! The hna-routing daemon as a library: configuration, and the wiring of the protocol crates.

pub mod config;
pub mod control;
pub mod daemon;
pub mod dataplane;
pub mod lab;
pub mod logging;
pub mod metrics;
pub mod plane;
pub mod router;
pub mod settings;
