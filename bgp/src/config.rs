//! Typed configuration of one BGP instance: identity, graceful restart (RFC 4724), neighbor
//! groups, explicit neighbors, listen ranges for dynamic neighbors, and the policy set.
//!
//! A neighbor leaves unset what it inherits from its group. [`BgpConfig::neighbor_config`] and
//! [`BgpConfig::dynamic_config`] merge the two into the [`PeerConfig`] a session runs with.
//! [`BgpConfig::validate`] checks every value a session would otherwise trip over, so that the
//! instance never panics on configuration input.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ipnet::IpNet;
use thiserror::Error;

use crate::message::AddPathDirection;
use crate::policy::PolicySet;
use crate::types::AfiSafi;

/// Default hold time, seconds (RFC 4271 section 10 suggests 90; FRR 8.4 uses 180).
pub const DEFAULT_HOLD_TIME: u16 = 180;
/// Default keepalive interval, seconds: a third of the default hold time.
pub const DEFAULT_KEEPALIVE: u16 = 60;
/// Default ConnectRetryTime, seconds (RFC 4271 section 10).
pub const DEFAULT_CONNECT_RETRY: u16 = 120;
/// The maximum TCP-MD5 key length of Linux (`TCP_MD5SIG_MAXKEYLEN`).
pub const MAX_PASSWORD_LEN: usize = 80;

/// The configuration of one BGP instance.
#[derive(Debug, Clone, PartialEq)]
pub struct BgpConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// Cluster id for route reflection; the router id when unset (RFC 4456 section 7).
    pub cluster_id: Option<Ipv4Addr>,
    /// RFC 8212: eBGP sessions exchange no routes without a route-map.
    pub ebgp_requires_policy: bool,
    pub graceful_restart: GracefulRestartConfig,
    pub groups: BTreeMap<String, NeighborSettings>,
    pub neighbors: BTreeMap<IpAddr, NeighborSettings>,
    /// Connections from these prefixes become dynamic neighbors of the range's group.
    pub listen_ranges: Vec<ListenRange>,
    pub policy: Arc<PolicySet>,
}

impl BgpConfig {
    /// Builds a configuration with no neighbor, graceful restart off and RFC 8212 on.
    pub fn new(asn: u32, router_id: Ipv4Addr) -> BgpConfig {
        BgpConfig {
            asn,
            router_id,
            cluster_id: None,
            ebgp_requires_policy: true,
            graceful_restart: GracefulRestartConfig::default(),
            groups: BTreeMap::new(),
            neighbors: BTreeMap::new(),
            listen_ranges: Vec::new(),
            policy: Arc::new(PolicySet::default()),
        }
    }

    /// Returns the cluster id: the configured one, else the router id.
    pub fn cluster_id(&self) -> Ipv4Addr {
        self.cluster_id.unwrap_or(self.router_id)
    }

    /// Returns the listen range that contains `address`, the longest one when several do.
    pub fn listen_range_for(&self, address: IpAddr) -> Option<&ListenRange> {
        self.listen_ranges
            .iter()
            .filter(|range| range.prefix.contains(&address))
            .max_by_key(|range| range.prefix.prefix_len())
    }

    /// Resolves the settings of the explicit neighbor `address` with its group's.
    pub fn neighbor_config(&self, address: IpAddr) -> Result<PeerConfig, ConfigError> {
        let settings = self
            .neighbors
            .get(&address)
            .ok_or(ConfigError::UnknownNeighbor(address))?;
        let group = match &settings.group {
            Some(name) => Some((
                name.as_str(),
                self.groups
                    .get(name)
                    .ok_or_else(|| ConfigError::UnknownGroup {
                        neighbor: address.to_string(),
                        group: name.clone(),
                    })?,
            )),
            None => None,
        };
        self.peer_config(address, settings, group, false)
    }

    /// Resolves the settings of a dynamic neighbor at `address` accepted into `group`.
    pub fn dynamic_config(&self, address: IpAddr, group: &str) -> Result<PeerConfig, ConfigError> {
        let settings = self
            .groups
            .get(group)
            .ok_or_else(|| ConfigError::UnknownGroup {
                neighbor: address.to_string(),
                group: group.to_string(),
            })?;
        let empty = NeighborSettings::default();
        let mut config = self.peer_config(address, &empty, Some((group, settings)), true)?;
        // A dynamic neighbor only ever accepts connections.
        config.passive = true;
        Ok(config)
    }

    fn peer_config(
        &self,
        address: IpAddr,
        own: &NeighborSettings,
        group: Option<(&str, &NeighborSettings)>,
        dynamic: bool,
    ) -> Result<PeerConfig, ConfigError> {
        let inherited = group.map(|(_, settings)| settings);
        let text = |f: fn(&NeighborSettings) -> &Option<String>| {
            f(own)
                .clone()
                .or_else(|| inherited.and_then(|g| f(g).clone()))
        };
        let name = address.to_string();

        let remote_as = own
            .remote_as
            .or(inherited.and_then(|g| g.remote_as))
            .ok_or_else(|| ConfigError::MissingRemoteAs(name.clone()))?;
        let flag = |own: Option<bool>, group: Option<bool>| own.or(group).unwrap_or(false);
        let number =
            |own: Option<u16>, group: Option<u16>, default| own.or(group).unwrap_or(default);

        let mut families = Vec::new();
        let mut names: Vec<AfiSafi> = own.families.keys().copied().collect();
        if let Some(g) = inherited {
            names.extend(g.families.keys().copied());
        }
        names.push(AfiSafi::IPV4_UNICAST);
        names.sort();
        names.dedup();
        for afi_safi in names {
            let empty = FamilySettings::default();
            let mine = own.families.get(&afi_safi);
            let theirs = inherited.and_then(|g| g.families.get(&afi_safi));
            let a = mine.unwrap_or(&empty);
            let b = theirs.unwrap_or(&empty);
            // A family named anywhere is enabled unless `enabled false`; IPv4 unicast is
            // enabled by default, as in FRR 8.4 (`bgp default ipv4-unicast`).
            let enabled = a.enabled.or(b.enabled).unwrap_or(true);
            if !enabled {
                continue;
            }
            if !is_supported_family(afi_safi) {
                return Err(ConfigError::UnsupportedFamily {
                    neighbor: name.clone(),
                    afi_safi,
                });
            }
            families.push(FamilyConfig {
                afi_safi,
                route_reflector_client: flag(a.route_reflector_client, b.route_reflector_client),
                route_map_in: a.route_map_in.clone().or_else(|| b.route_map_in.clone()),
                route_map_out: a.route_map_out.clone().or_else(|| b.route_map_out.clone()),
                maximum_prefix: a.maximum_prefix.or(b.maximum_prefix),
                soft_reconfiguration_inbound: flag(
                    a.soft_reconfiguration_inbound,
                    b.soft_reconfiguration_inbound,
                ),
                next_hop_self: flag(a.next_hop_self, b.next_hop_self),
                add_path: a.add_path.or(b.add_path),
            });
        }

        let config = PeerConfig {
            address,
            group: group.map(|(g, _)| g.to_string()),
            dynamic,
            remote_as,
            description: text(|s| &s.description),
            update_source: own
                .update_source
                .or(inherited.and_then(|g| g.update_source)),
            families,
            track_bfd: flag(own.track_bfd, inherited.and_then(|g| g.track_bfd)),
            bfd_multihop: own.bfd_multihop.or(inherited.and_then(|g| g.bfd_multihop)),
            password: text(|s| &s.password),
            ttl_security_hops: own
                .ttl_security_hops
                .or(inherited.and_then(|g| g.ttl_security_hops)),
            ebgp_multihop: own
                .ebgp_multihop
                .or(inherited.and_then(|g| g.ebgp_multihop)),
            hold_time: number(
                own.hold_time,
                inherited.and_then(|g| g.hold_time),
                DEFAULT_HOLD_TIME,
            ),
            keepalive: number(
                own.keepalive,
                inherited.and_then(|g| g.keepalive),
                DEFAULT_KEEPALIVE,
            ),
            connect_retry: number(
                own.connect_retry,
                inherited.and_then(|g| g.connect_retry),
                DEFAULT_CONNECT_RETRY,
            ),
            passive: flag(own.passive, inherited.and_then(|g| g.passive)),
            shutdown: flag(own.shutdown, inherited.and_then(|g| g.shutdown)),
            shutdown_message: text(|s| &s.shutdown_message),
            port: own.port.or(inherited.and_then(|g| g.port)).unwrap_or(179),
        };
        config.check()?;
        Ok(config)
    }

    /// Checks the whole configuration: identity, every neighbor and group, every listen range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.asn == 0 {
            return Err(ConfigError::InvalidAsn);
        }
        if self.router_id.is_unspecified() {
            return Err(ConfigError::InvalidRouterId);
        }
        self.graceful_restart.check()?;
        for address in self.neighbors.keys() {
            self.neighbor_config(*address)?;
        }
        for range in &self.listen_ranges {
            if range.prefix.trunc() != range.prefix {
                return Err(ConfigError::ListenRangeHostBits(range.prefix));
            }
            // Resolving a host of the range checks the group as a dynamic neighbor would use it.
            self.dynamic_config(range.prefix.network(), &range.group)?;
        }
        for (name, group) in &self.groups {
            if group.group.is_some() {
                return Err(ConfigError::NestedGroup(name.clone()));
            }
        }
        Ok(())
    }
}

/// Whether this speaker decodes and stores routes of `afi_safi`.
pub fn is_supported_family(afi_safi: AfiSafi) -> bool {
    matches!(
        afi_safi,
        AfiSafi::IPV4_UNICAST | AfiSafi::IPV6_UNICAST | AfiSafi::L2VPN_EVPN
    )
}

/// Graceful restart settings (RFC 4724).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestartConfig {
    /// Advertise the capability and act as restarting speaker and helper.
    pub enabled: bool,
    /// Seconds a peer should keep our routes while we restart; 12 bits on the wire.
    pub restart_time: u16,
    /// Seconds we keep a restarted peer's stale routes waiting for its End-of-RIB.
    pub stale_routes_time: u16,
    /// Seconds a restarting instance waits for its peers' End-of-RIB before it selects best
    /// paths and sends its own (RFC 4724 section 4.1, FRR's `select-defer-time`).
    pub select_defer_time: u16,
}

impl Default for GracefulRestartConfig {
    fn default() -> GracefulRestartConfig {
        GracefulRestartConfig {
            enabled: false,
            restart_time: 120,
            stale_routes_time: 360,
            select_defer_time: 360,
        }
    }
}

impl GracefulRestartConfig {
    fn check(&self) -> Result<(), ConfigError> {
        if self.restart_time > 4095 {
            return Err(ConfigError::RestartTime(self.restart_time));
        }
        Ok(())
    }
}

/// A listen range: connections from `prefix` become dynamic neighbors of `group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenRange {
    pub prefix: IpNet,
    pub group: String,
}

/// Settings of a neighbor or a neighbor group. A neighbor inherits what it leaves unset from
/// its group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeighborSettings {
    /// The group of a neighbor; groups do not nest.
    pub group: Option<String>,
    pub remote_as: Option<u32>,
    pub description: Option<String>,
    /// Source address of outgoing connections, already resolved from an interface name by
    /// the owner (`update-source loop0`).
    pub update_source: Option<IpAddr>,
    pub families: BTreeMap<AfiSafi, FamilySettings>,
    /// Register a BFD session for the neighbor and drop the BGP session when it goes down.
    pub track_bfd: Option<bool>,
    /// Whether that BFD session is multihop (RFC 5883). When unset, the instance decides from
    /// the session: single hop for an eBGP neighbor without update source and multihop
    /// otherwise, because the instance does not know the connected subnets.
    pub bfd_multihop: Option<bool>,
    /// TCP-MD5 key (RFC 2385), 1 to 80 octets.
    pub password: Option<String>,
    /// GTSM (RFC 5082): accept only packets whose TTL shows at most this many hops.
    pub ttl_security_hops: Option<u8>,
    /// TTL of outgoing packets to an eBGP neighbor (1 when unset); iBGP uses 255.
    pub ebgp_multihop: Option<u8>,
    /// Seconds; 0 or at least 3 (RFC 4271 section 4.2).
    pub hold_time: Option<u16>,
    /// Seconds.
    pub keepalive: Option<u16>,
    /// Seconds between connection attempts (ConnectRetryTime).
    pub connect_retry: Option<u16>,
    /// Never open a connection, only accept one.
    pub passive: Option<bool>,
    /// Administratively down: the session is closed and stays Idle.
    pub shutdown: Option<bool>,
    /// Shutdown communication sent with the Cease NOTIFICATION (RFC 9003).
    pub shutdown_message: Option<String>,
    /// TCP port to connect to; 179 when unset.
    pub port: Option<u16>,
}

/// Per-neighbor settings of one address family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilySettings {
    /// Whether the family is negotiated; a family present without `enabled` is enabled.
    pub enabled: Option<bool>,
    pub route_reflector_client: Option<bool>,
    pub route_map_in: Option<String>,
    pub route_map_out: Option<String>,
    /// Maximum number of prefixes accepted (RFC 4486 Cease subcode 1 beyond it).
    pub maximum_prefix: Option<u32>,
    pub soft_reconfiguration_inbound: Option<bool>,
    pub next_hop_self: Option<bool>,
    /// Add-path capability for the family (RFC 7911); off when unset.
    pub add_path: Option<AddPathDirection>,
}

/// The resolved settings a session runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub address: IpAddr,
    pub group: Option<String>,
    /// Accepted from a listen range rather than configured.
    pub dynamic: bool,
    pub remote_as: u32,
    pub description: Option<String>,
    pub update_source: Option<IpAddr>,
    /// The enabled families, in AFI/SAFI order.
    pub families: Vec<FamilyConfig>,
    pub track_bfd: bool,
    pub bfd_multihop: Option<bool>,
    pub password: Option<String>,
    pub ttl_security_hops: Option<u8>,
    pub ebgp_multihop: Option<u8>,
    pub hold_time: u16,
    pub keepalive: u16,
    pub connect_retry: u16,
    pub passive: bool,
    pub shutdown: bool,
    pub shutdown_message: Option<String>,
    pub port: u16,
}

impl PeerConfig {
    /// Whether the neighbor is in another AS.
    pub fn is_ebgp(&self, local_as: u32) -> bool {
        self.remote_as != local_as
    }

    /// Returns the settings of `afi_safi` when the family is enabled.
    pub fn family(&self, afi_safi: AfiSafi) -> Option<&FamilyConfig> {
        self.families.iter().find(|f| f.afi_safi == afi_safi)
    }

    /// Returns the TTL of outgoing packets: 255 with GTSM (RFC 5082 section 3) and for iBGP,
    /// else the eBGP multihop value, 1 by default.
    pub fn ttl(&self, local_as: u32) -> u8 {
        if self.ttl_security_hops.is_some() || !self.is_ebgp(local_as) {
            255
        } else {
            self.ebgp_multihop.unwrap_or(1)
        }
    }

    /// Returns the minimum TTL of received packets with GTSM: 255 - hops + 1 (RFC 5082).
    pub fn min_ttl(&self) -> Option<u8> {
        self.ttl_security_hops
            .map(|hops| (256 - u16::from(hops)) as u8)
    }

    /// Returns whether the BFD session for this neighbor is multihop.
    pub fn bfd_is_multihop(&self, local_as: u32) -> bool {
        self.bfd_multihop.unwrap_or(
            !self.is_ebgp(local_as) || self.update_source.is_some() || self.ebgp_multihop.is_some(),
        )
    }

    /// Whether a change from `self` to `new` needs the session to be reset: anything that
    /// changes the OPEN, the connection or the peer's identity. Policy, description, BFD and
    /// maximum-prefix changes do not.
    pub fn needs_reset(&self, new: &PeerConfig) -> bool {
        let families = |c: &PeerConfig| {
            c.families
                .iter()
                .map(|f| (f.afi_safi, f.add_path))
                .collect::<Vec<_>>()
        };
        self.remote_as != new.remote_as
            || self.update_source != new.update_source
            || families(self) != families(new)
            || self.password != new.password
            || self.ttl_security_hops != new.ttl_security_hops
            || self.ebgp_multihop != new.ebgp_multihop
            || self.hold_time != new.hold_time
            || self.keepalive != new.keepalive
            || self.port != new.port
    }

    fn check(&self) -> Result<(), ConfigError> {
        let name = self.address.to_string();
        if self.remote_as == 0 {
            return Err(ConfigError::InvalidRemoteAs(name));
        }
        if self.hold_time == 1 || self.hold_time == 2 {
            return Err(ConfigError::HoldTime {
                neighbor: name,
                hold_time: self.hold_time,
            });
        }
        if self.keepalive == 0 && self.hold_time != 0 {
            return Err(ConfigError::Keepalive {
                neighbor: name,
                keepalive: self.keepalive,
            });
        }
        if self.connect_retry == 0 {
            return Err(ConfigError::ConnectRetry(name));
        }
        if let Some(password) = &self.password
            && (password.is_empty() || password.len() > MAX_PASSWORD_LEN)
        {
            return Err(ConfigError::PasswordLength(name));
        }
        if let Some(hops) = self.ttl_security_hops {
            if hops == 0 || hops == 255 {
                return Err(ConfigError::TtlSecurityHops {
                    neighbor: name,
                    hops,
                });
            }
            if self.ebgp_multihop.is_some() {
                return Err(ConfigError::GtsmWithMultihop(name));
            }
        }
        if self.ebgp_multihop == Some(0) {
            return Err(ConfigError::EbgpMultihop(name));
        }
        if let Some(source) = self.update_source
            && source.is_ipv4() != self.address.is_ipv4()
        {
            return Err(ConfigError::UpdateSourceFamily {
                neighbor: name,
                address: source,
            });
        }
        if self.families.is_empty() {
            return Err(ConfigError::NoFamily(name));
        }
        Ok(())
    }
}

/// Per-neighbor settings of one enabled family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyConfig {
    pub afi_safi: AfiSafi,
    pub route_reflector_client: bool,
    pub route_map_in: Option<String>,
    pub route_map_out: Option<String>,
    pub maximum_prefix: Option<u32>,
    pub soft_reconfiguration_inbound: bool,
    pub next_hop_self: bool,
    pub add_path: Option<AddPathDirection>,
}

/// Why a configuration was rejected; each names the neighbor or group and the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("local AS 0 is invalid")]
    InvalidAsn,
    #[error("router id 0.0.0.0 is invalid")]
    InvalidRouterId,
    #[error("restart time {0} s exceeds the 12-bit field (at most 4095)")]
    RestartTime(u16),
    #[error("neighbor {0} is not configured")]
    UnknownNeighbor(IpAddr),
    #[error("neighbor {neighbor}: neighbor group {group} is not configured")]
    UnknownGroup { neighbor: String, group: String },
    #[error("neighbor group {0} names a group itself; groups do not nest")]
    NestedGroup(String),
    #[error("neighbor {0}: remote AS is missing (set it on the neighbor or its group)")]
    MissingRemoteAs(String),
    #[error("neighbor {0}: remote AS 0 is invalid")]
    InvalidRemoteAs(String),
    #[error(
        "neighbor {neighbor}: hold time {hold_time} s is invalid (0 or 3 to 65535, RFC 4271 section 4.2)"
    )]
    HoldTime { neighbor: String, hold_time: u16 },
    #[error(
        "neighbor {neighbor}: keepalive interval {keepalive} s is invalid with a nonzero hold time"
    )]
    Keepalive { neighbor: String, keepalive: u16 },
    #[error("neighbor {0}: connect retry interval 0 s is invalid")]
    ConnectRetry(String),
    #[error("neighbor {0}: TCP-MD5 password must be 1 to 80 octets")]
    PasswordLength(String),
    #[error("neighbor {neighbor}: ttl-security hops {hops} is invalid (1 to 254)")]
    TtlSecurityHops { neighbor: String, hops: u8 },
    #[error("neighbor {0}: ttl-security and ebgp-multihop cannot be combined")]
    GtsmWithMultihop(String),
    #[error("neighbor {0}: ebgp-multihop 0 is invalid (1 to 255)")]
    EbgpMultihop(String),
    #[error("neighbor {neighbor}: update source {address} is not of the neighbor's address family")]
    UpdateSourceFamily { neighbor: String, address: IpAddr },
    #[error("neighbor {neighbor}: address family {afi_safi} is not supported")]
    UnsupportedFamily { neighbor: String, afi_safi: AfiSafi },
    #[error("neighbor {0}: every address family is disabled")]
    NoFamily(String),
    #[error("listen range {0} has host bits set")]
    ListenRangeHostBits(IpNet),
}
