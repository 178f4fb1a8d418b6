//! The configuration of an OSPF instance as a typed value, checked by [`Config::validate`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;
use thiserror::Error;

pub use crate::packet::auth::Authentication;

/// The network type of an interface (RFC 2328 section 1.2); NBMA and point-to-multipoint are
/// not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkType {
    #[default]
    Broadcast,
    PointToPoint,
}

/// Settings of one interface (RFC 2328 appendix C.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    pub network_type: NetworkType,
    /// Interface output cost, 1 to 65535.
    pub cost: u16,
    /// HelloInterval in seconds.
    pub hello_interval: u16,
    /// RouterDeadInterval in seconds.
    pub dead_interval: u32,
    /// RxmtInterval in seconds.
    pub retransmit_interval: u16,
    /// InfTransDelay in seconds, added to the age of LSAs sent.
    pub transmit_delay: u16,
    /// Router priority for the DR election; 0 never becomes DR.
    pub priority: u8,
    pub authentication: Authentication,
    /// Register a single-hop BFD session for each neighbor in state 2-Way or better, and kill the
    /// adjacency when it goes down.
    pub track_bfd: bool,
    /// Advertise the interface's network but send and accept no packets on it.
    pub passive: bool,
    /// Accept Database Description packets whose interface MTU exceeds ours.
    pub mtu_ignore: bool,
}

impl Default for InterfaceConfig {
    fn default() -> Self {
        InterfaceConfig {
            network_type: NetworkType::Broadcast,
            cost: 10,
            hello_interval: 10,
            dead_interval: 40,
            retransmit_interval: 5,
            transmit_delay: 1,
            priority: 1,
            authentication: Authentication::Null,
            track_bfd: false,
            passive: false,
            mtu_ignore: false,
        }
    }
}

/// The SPF throttle. The first run waits `initial_delay`. A run requested within the hold time
/// of the previous one waits the hold time, which doubles on each such run up to `maximum` and
/// falls back to `hold` after a quiet period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpfThrottle {
    pub initial_delay: Duration,
    pub hold: Duration,
    pub maximum: Duration,
}

impl Default for SpfThrottle {
    fn default() -> Self {
        SpfThrottle {
            initial_delay: Duration::from_millis(0),
            hold: Duration::from_millis(50),
            maximum: Duration::from_millis(5000),
        }
    }
}

/// LSA throttles (RFC 2328 appendix B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LsaThrottle {
    /// MinLSInterval: minimum time between two originations of the same LSA.
    pub min_ls_interval: Duration,
    /// MinLSArrival: minimum time between two accepted instances of the same LSA from flooding.
    pub min_ls_arrival: Duration,
}

impl Default for LsaThrottle {
    fn default() -> Self {
        LsaThrottle {
            min_ls_interval: Duration::from_secs(5),
            min_ls_arrival: Duration::from_secs(1),
        }
    }
}

/// A `network PREFIX area AREA` statement: interfaces with an address inside `prefix` run OSPF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkStatement {
    pub prefix: Ipv4Net,
    pub area: Ipv4Addr,
}

/// The configuration of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub router_id: Ipv4Addr,
    pub networks: Vec<NetworkStatement>,
    /// Settings by interface name; interfaces not listed use `default_interface`.
    pub interfaces: BTreeMap<String, InterfaceConfig>,
    pub default_interface: InterfaceConfig,
    pub spf_throttle: SpfThrottle,
    pub lsa_throttle: LsaThrottle,
    pub graceful_restart: GracefulRestart,
}

/// Graceful restart (RFC 3623): as the restarting router and as the helper of restarting
/// neighbors. The grace period (120 s) and strict LSA checking (on) default as in FRR 8.4.4; the
/// helper is on by default, where FRR 8.4.4 leaves it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestart {
    /// Allow [`crate::Instance::graceful_shutdown`] to announce a restart. When false, it stops
    /// the instance without grace-LSAs, as a plain shutdown without the flush.
    pub restart_enabled: bool,
    /// The grace period announced in grace-LSAs: how long helpers keep our adjacencies while we
    /// restart, and how long a restarting instance waits for them before it gives up. Between 1 s
    /// and 1800 s, as FRR accepts.
    pub grace_period: Duration,
    /// Help restarting neighbors that announce a grace-LSA (RFC 3623 section 3).
    pub helper_enabled: bool,
    /// Stop helping when a changed LSA would be flooded to the restarting neighbor (RFC 3623
    /// section 3.2, condition 3).
    pub strict_lsa_checking: bool,
    /// Start in graceful restart: the owner stopped the previous instance with a graceful
    /// shutdown and kept its routes in the kernel. The instance re-announces grace-LSAs, keeps
    /// its LSAs and routing table unchanged until its adjacencies are back or `grace_period`
    /// ends, then resumes normal operation (RFC 3623 section 2).
    pub restarting: bool,
}

impl Default for GracefulRestart {
    fn default() -> Self {
        GracefulRestart {
            restart_enabled: true,
            grace_period: Duration::from_secs(120),
            helper_enabled: true,
            strict_lsa_checking: true,
            restarting: false,
        }
    }
}

impl Config {
    /// Returns a configuration with defaults and no network statements.
    pub fn new(router_id: Ipv4Addr) -> Config {
        Config {
            router_id,
            networks: Vec::new(),
            interfaces: BTreeMap::new(),
            default_interface: InterfaceConfig::default(),
            spf_throttle: SpfThrottle::default(),
            lsa_throttle: LsaThrottle::default(),
            graceful_restart: GracefulRestart::default(),
        }
    }

    /// Adds `network PREFIX area 0`.
    pub fn network(mut self, prefix: Ipv4Net) -> Config {
        self.networks.push(NetworkStatement {
            prefix,
            area: Ipv4Addr::UNSPECIFIED,
        });
        self
    }

    /// Sets the settings of interface `name`.
    pub fn interface(mut self, name: &str, settings: InterfaceConfig) -> Config {
        self.interfaces.insert(name.to_string(), settings);
        self
    }

    /// Returns the settings of interface `name`.
    pub fn interface_config(&self, name: &str) -> &InterfaceConfig {
        self.interfaces.get(name).unwrap_or(&self.default_interface)
    }

    /// Returns the first `network` statement that contains `address`.
    pub fn matching_network(&self, address: Ipv4Addr) -> Option<&NetworkStatement> {
        self.networks
            .iter()
            .find(|statement| statement.prefix.contains(&address))
    }

    /// Checks the configuration; an instance refuses to start with an invalid one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.router_id.is_unspecified() {
            return Err(ConfigError::RouterIdUnset);
        }
        for statement in &self.networks {
            if !statement.area.is_unspecified() {
                return Err(ConfigError::UnsupportedArea {
                    prefix: statement.prefix,
                    area: statement.area,
                });
            }
        }
        let all = std::iter::once(("(default)", &self.default_interface)).chain(
            self.interfaces
                .iter()
                .map(|(name, settings)| (name.as_str(), settings)),
        );
        for (name, settings) in all {
            let invalid = |reason: &'static str| ConfigError::InvalidInterface {
                name: name.to_string(),
                reason,
            };
            if settings.cost == 0 {
                return Err(invalid("cost must be between 1 and 65535"));
            }
            if settings.hello_interval == 0 {
                return Err(invalid("hello interval must be at least 1 second"));
            }
            if settings.dead_interval <= u32::from(settings.hello_interval) {
                return Err(invalid("dead interval must exceed the hello interval"));
            }
            if settings.retransmit_interval == 0 {
                return Err(invalid("retransmit interval must be at least 1 second"));
            }
            match &settings.authentication {
                Authentication::Simple { password } if password.len() > 8 => {
                    return Err(invalid("simple password is longer than 8 bytes"));
                }
                Authentication::Md5 { key, .. } if key.len() > 16 || key.is_empty() => {
                    return Err(invalid("MD5 key must be 1 to 16 bytes"));
                }
                Authentication::HmacSha256 { key, .. } if key.is_empty() => {
                    return Err(invalid("HMAC-SHA-256 key is empty"));
                }
                _ => {}
            }
        }
        if self.spf_throttle.hold > self.spf_throttle.maximum {
            return Err(ConfigError::SpfThrottle);
        }
        let grace_period = self.graceful_restart.grace_period;
        if grace_period < Duration::from_secs(1) || grace_period > Duration::from_secs(1800) {
            return Err(ConfigError::GracePeriod {
                seconds: grace_period.as_secs(),
            });
        }
        Ok(())
    }
}

/// The reason a configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("router id is 0.0.0.0; set a router id")]
    RouterIdUnset,
    #[error("network {prefix} is in area {area}, but only area 0 is supported")]
    UnsupportedArea { prefix: Ipv4Net, area: Ipv4Addr },
    #[error("interface {name}: {reason}")]
    InvalidInterface { name: String, reason: &'static str },
    #[error("SPF hold time exceeds the maximum hold time")]
    SpfThrottle,
    #[error("grace period of {seconds} s is outside 1 to 1800 s")]
    GracePeriod { seconds: u64 },
}
