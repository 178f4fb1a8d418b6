//! The hna-routing daemon as a library: configuration, and the wiring of the protocol crates.

pub mod config;
pub mod control;
pub mod lab;
pub mod logging;
pub mod metrics;
pub mod settings;
