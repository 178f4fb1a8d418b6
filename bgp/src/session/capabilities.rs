//! The OPEN this speaker sends and the negotiation of a received OPEN: peer AS and BGP
//! identifier checks (RFC 4271 section 6.2, RFC 6286, RFC 6793), hold time, families
//! (RFC 4760), route refresh (RFC 2918, RFC 7313), extended message (RFC 8654), graceful
//! restart (RFC 4724, RFC 8538) and add-path (RFC 7911).

use std::net::Ipv4Addr;

use thiserror::Error;

use super::fsm::SessionSettings;
use crate::message::{
    AddPathFamily, Capability, GracefulRestart, GracefulRestartFamily, Notification, Open,
};
use crate::types::AfiSafi;
use crate::wire::{SessionContext, error_code, open_subcode};

/// Restart State flag of the graceful restart capability (RFC 4724 section 3).
const RESTART_STATE: u8 = 0x8;
/// Graceful Notification flag (RFC 8538 section 2).
const GRACEFUL_NOTIFICATION: u8 = 0x4;
/// Forwarding State flag of one graceful restart family.
const FORWARDING_STATE: u8 = 0x80;

/// Builds the OPEN for a session: one Multiprotocol capability per enabled family, route
/// refresh, 4-octet AS, extended message, graceful restart when enabled and add-path for the
/// families that configure it.
pub fn build_open(settings: &SessionSettings) -> Open {
    let peer = &settings.peer;
    let mut capabilities: Vec<Capability> = peer
        .families
        .iter()
        .map(|f| Capability::Multiprotocol(f.afi_safi))
        .collect();
    capabilities.push(Capability::RouteRefresh);
    // NOTE: enhanced route refresh (RFC 7313) is not advertised: answering a refresh would need
    // BoRR and EoRR around the routes, and the RIB sends End-of-RIB only.
    capabilities.push(Capability::FourOctetAs(settings.local_as));
    capabilities.push(Capability::ExtendedMessage);
    if let Some(gr) = &settings.graceful_restart {
        // The families are listed on every start, so that the peer keeps our routes if we
        // restart later; Restart State and Forwarding State are set only after a restart
        // whose forwarding state the owner preserved (RFC 4724 section 3).
        let mut restart_flags = GRACEFUL_NOTIFICATION;
        if gr.restarting {
            restart_flags |= RESTART_STATE;
        }
        let family_flags = if gr.restarting { FORWARDING_STATE } else { 0 };
        capabilities.push(Capability::GracefulRestart(GracefulRestart {
            restart_flags,
            restart_time: gr.restart_time.min(4095),
            families: peer
                .families
                .iter()
                .map(|f| GracefulRestartFamily {
                    afi_safi: f.afi_safi,
                    flags: family_flags,
                })
                .collect(),
        }));
    }
    let add_path: Vec<AddPathFamily> = peer
        .families
        .iter()
        .filter_map(|f| {
            f.add_path.map(|direction| AddPathFamily {
                afi_safi: f.afi_safi,
                direction,
            })
        })
        .collect();
    if !add_path.is_empty() {
        capabilities.push(Capability::AddPath(add_path));
    }
    Open::new(
        settings.local_as,
        peer.hold_time,
        settings.router_id,
        capabilities,
    )
}

/// The peer's graceful restart capability, when both sides advertised one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerGracefulRestart {
    /// The peer has restarted (Restart State flag).
    pub restart_state: bool,
    /// Seconds the peer asks us to keep its routes after the session goes down.
    pub restart_time: u16,
    /// The families the peer keeps forwarding state for, with the Forwarding State flag.
    pub families: Vec<(AfiSafi, bool)>,
}

/// What an OPEN exchange settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub remote_as: u32,
    pub remote_id: Ipv4Addr,
    /// Seconds; 0 when keepalives are off.
    pub hold_time: u16,
    /// Seconds; 0 when keepalives are off.
    pub keepalive: u16,
    /// Families both sides advertised (only IPv4 unicast when the peer sent no Multiprotocol
    /// capability, RFC 4760 section 8).
    pub families: Vec<AfiSafi>,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    pub four_octet_as: bool,
    pub extended_message: bool,
    pub graceful_restart: Option<PeerGracefulRestart>,
    /// Both sides set the Graceful Notification flag (RFC 8538).
    pub graceful_notification: bool,
    /// How to decode what the peer sends.
    pub receive: SessionContext,
    /// How to encode what we send.
    pub send: SessionContext,
    pub local_open: Open,
    pub remote_open: Open,
}

/// Why a received OPEN is rejected; each maps to the NOTIFICATION of RFC 4271 section 6.2.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpenError {
    #[error("peer AS {received} differs from the configured {expected}")]
    BadPeerAs { expected: u32, received: u32 },
    #[error("BGP identifier {0} equals ours on an iBGP session")]
    BadBgpIdentifier(Ipv4Addr),
    #[error("no address family in common (ours {ours:?}, theirs {theirs:?})")]
    NoCommonFamily {
        ours: Vec<AfiSafi>,
        theirs: Vec<AfiSafi>,
    },
}

impl OpenError {
    /// Returns the NOTIFICATION to send.
    pub fn notification(&self) -> Notification {
        let (subcode, data) = match self {
            OpenError::BadPeerAs { .. } => (open_subcode::BAD_PEER_AS, Vec::new()),
            OpenError::BadBgpIdentifier(_) => (open_subcode::BAD_BGP_IDENTIFIER, Vec::new()),
            OpenError::NoCommonFamily { ours, .. } => {
                // RFC 5492 section 3: the data lists the capabilities that caused the error.
                let mut data = Vec::new();
                for afi_safi in ours {
                    data.extend_from_slice(&[1, 4]);
                    data.extend_from_slice(&afi_safi.afi.0.to_be_bytes());
                    data.extend_from_slice(&[0, afi_safi.safi.0]);
                }
                (open_subcode::UNSUPPORTED_CAPABILITY, data)
            }
        };
        Notification {
            code: error_code::OPEN_MESSAGE,
            subcode,
            data,
        }
    }
}

/// Checks the peer's OPEN against our settings and our own OPEN, and returns what was settled.
pub fn negotiate(
    settings: &SessionSettings,
    local: &Open,
    remote: &Open,
) -> Result<Negotiated, OpenError> {
    let peer = &settings.peer;

    // RFC 6793 section 4.1: the capability carries the AS; My AS then is AS_TRANS unless the
    // AS fits 2 octets. A speaker without the capability has only My AS.
    let remote_as = remote.asn();
    if remote_as != peer.remote_as {
        return Err(OpenError::BadPeerAs {
            expected: peer.remote_as,
            received: remote_as,
        });
    }
    // RFC 6286 section 2.2: the identifier must differ from ours within an AS.
    let ibgp = remote_as == settings.local_as;
    if ibgp && remote.bgp_identifier == settings.router_id {
        return Err(OpenError::BadBgpIdentifier(remote.bgp_identifier));
    }

    let ours: Vec<AfiSafi> = peer.families.iter().map(|f| f.afi_safi).collect();
    let mut theirs: Vec<AfiSafi> = remote
        .capabilities()
        .filter_map(|c| match c {
            Capability::Multiprotocol(afi_safi) => Some(*afi_safi),
            _ => None,
        })
        .collect();
    if theirs.is_empty() {
        theirs.push(AfiSafi::IPV4_UNICAST);
    }
    let families: Vec<AfiSafi> = ours
        .iter()
        .copied()
        .filter(|f| theirs.contains(f))
        .collect();
    if families.is_empty() {
        return Err(OpenError::NoCommonFamily { ours, theirs });
    }

    let has = |open: &Open, wanted: fn(&Capability) -> bool| open.capabilities().any(wanted);
    let both = |wanted: fn(&Capability) -> bool| has(local, wanted) && has(remote, wanted);
    let route_refresh = both(|c| matches!(c, Capability::RouteRefresh));
    let enhanced_route_refresh =
        route_refresh && both(|c| matches!(c, Capability::EnhancedRouteRefresh));

    let hold_time = local.hold_time.min(remote.hold_time);
    let keepalive = if hold_time == 0 {
        0
    } else {
        peer.keepalive.min(hold_time / 3).max(1)
    };

    let local_gr = graceful_restart_of(local);
    let remote_gr = graceful_restart_of(remote);
    let graceful_restart = match (local_gr, remote_gr) {
        (Some(_), Some(gr)) => Some(PeerGracefulRestart {
            restart_state: gr.restart_state(),
            restart_time: gr.restart_time,
            families: gr
                .families
                .iter()
                .map(|f| (f.afi_safi, f.flags & FORWARDING_STATE != 0))
                .collect(),
        }),
        _ => None,
    };
    let graceful_notification = matches!(
        (local_gr, remote_gr),
        (Some(a), Some(b)) if a.notification() && b.notification()
    );

    let (receive, send) = SessionContext::negotiate(local, remote);
    Ok(Negotiated {
        remote_as,
        remote_id: remote.bgp_identifier,
        hold_time,
        keepalive,
        families,
        route_refresh,
        enhanced_route_refresh,
        four_octet_as: receive.four_octet_as,
        extended_message: receive.extended_message,
        graceful_restart,
        graceful_notification,
        receive,
        send,
        local_open: local.clone(),
        remote_open: remote.clone(),
    })
}

fn graceful_restart_of(open: &Open) -> Option<&GracefulRestart> {
    open.capabilities().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr),
        _ => None,
    })
}

/// Whether the identifier `local` wins a collision against `remote`: the connection opened by
/// the speaker with the higher BGP identifier survives (RFC 4271 section 6.8), and with equal
/// identifiers (possible on eBGP, RFC 6286 section 2.3) the one of the higher AS.
pub fn local_wins_collision(
    local: Ipv4Addr,
    local_as: u32,
    remote: Ipv4Addr,
    remote_as: u32,
) -> bool {
    let (l, r) = (u32::from(local), u32::from(remote));
    if l != r { l > r } else { local_as > remote_as }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BgpConfig, FamilySettings, NeighborSettings};
    use crate::session::fsm::GracefulRestartAdvert;
    use crate::types::AS_TRANS;
    use std::net::IpAddr;

    fn settings(local_as: u32, remote_as: u32, families: &[AfiSafi]) -> SessionSettings {
        let mut config = BgpConfig::new(local_as, Ipv4Addr::new(10, 0, 0, 1));
        let address: IpAddr = "192.0.2.2".parse().unwrap();
        let mut neighbor = NeighborSettings {
            remote_as: Some(remote_as),
            ..NeighborSettings::default()
        };
        for f in families {
            neighbor.families.insert(*f, FamilySettings::default());
        }
        if !families.contains(&AfiSafi::IPV4_UNICAST) {
            neighbor.families.insert(
                AfiSafi::IPV4_UNICAST,
                FamilySettings {
                    enabled: Some(false),
                    ..FamilySettings::default()
                },
            );
        }
        config.neighbors.insert(address, neighbor);
        SessionSettings {
            local_as,
            router_id: config.router_id,
            peer: config.neighbor_config(address).unwrap(),
            graceful_restart: Some(GracefulRestartAdvert {
                restart_time: 120,
                restarting: false,
            }),
        }
    }

    fn remote_open(asn: u32, id: [u8; 4], capabilities: Vec<Capability>) -> Open {
        Open::new(asn, 9, Ipv4Addr::from(id), capabilities)
    }

    #[test]
    fn negotiate_keeps_common_families_and_smaller_hold_time() {
        let s = settings(65000, 65001, &[AfiSafi::IPV4_UNICAST, AfiSafi::L2VPN_EVPN]);
        let local = build_open(&s);
        let remote = remote_open(
            65001,
            [10, 0, 0, 2],
            vec![
                Capability::Multiprotocol(AfiSafi::L2VPN_EVPN),
                Capability::RouteRefresh,
                Capability::FourOctetAs(65001),
            ],
        );
        let n = negotiate(&s, &local, &remote).unwrap();
        assert_eq!(n.families, vec![AfiSafi::L2VPN_EVPN]);
        assert_eq!(n.hold_time, 9);
        assert_eq!(n.keepalive, 3);
        assert!(n.route_refresh);
        assert!(!n.enhanced_route_refresh);
        assert!(n.four_octet_as);
        assert!(!n.extended_message);
        assert!(n.graceful_restart.is_none());
    }

    #[test]
    fn negotiate_without_multiprotocol_means_ipv4_unicast() {
        let s = settings(65000, 65001, &[AfiSafi::IPV4_UNICAST]);
        let local = build_open(&s);
        let remote = remote_open(65001, [10, 0, 0, 2], vec![]);
        let n = negotiate(&s, &local, &remote).unwrap();
        assert_eq!(n.families, vec![AfiSafi::IPV4_UNICAST]);
    }

    #[test]
    fn negotiate_rejects_wrong_peer_as() {
        let s = settings(65000, 65001, &[AfiSafi::IPV4_UNICAST]);
        let local = build_open(&s);
        let remote = remote_open(65002, [10, 0, 0, 2], vec![]);
        let error = negotiate(&s, &local, &remote).unwrap_err();
        assert_eq!(error.notification().code, error_code::OPEN_MESSAGE);
        assert_eq!(error.notification().subcode, open_subcode::BAD_PEER_AS);
    }

    #[test]
    fn negotiate_reads_four_octet_as_behind_as_trans() {
        let s = settings(65000, 4_200_000_001, &[AfiSafi::IPV4_UNICAST]);
        let local = build_open(&s);
        let remote = remote_open(4_200_000_001, [10, 0, 0, 2], vec![]);
        assert_eq!(remote.my_as, AS_TRANS as u16);
        let n = negotiate(&s, &local, &remote).unwrap();
        assert_eq!(n.remote_as, 4_200_000_001);
    }

    #[test]
    fn negotiate_rejects_own_identifier_on_ibgp() {
        let s = settings(65000, 65000, &[AfiSafi::IPV4_UNICAST]);
        let local = build_open(&s);
        let remote = remote_open(65000, [10, 0, 0, 1], vec![]);
        let error = negotiate(&s, &local, &remote).unwrap_err();
        assert_eq!(
            error.notification().subcode,
            open_subcode::BAD_BGP_IDENTIFIER
        );
    }

    #[test]
    fn negotiate_without_common_family_is_unsupported_capability() {
        let s = settings(65000, 65001, &[AfiSafi::L2VPN_EVPN]);
        let local = build_open(&s);
        let remote = remote_open(
            65001,
            [10, 0, 0, 2],
            vec![Capability::Multiprotocol(AfiSafi::IPV4_UNICAST)],
        );
        let error = negotiate(&s, &local, &remote).unwrap_err();
        let n = error.notification();
        assert_eq!(n.subcode, open_subcode::UNSUPPORTED_CAPABILITY);
        assert_eq!(n.data, vec![1, 4, 0, 25, 0, 70]);
    }

    #[test]
    fn negotiate_graceful_restart_with_notification_flag() {
        let s = settings(65000, 65000, &[AfiSafi::IPV4_UNICAST]);
        let local = build_open(&s);
        let remote = remote_open(
            65000,
            [10, 0, 0, 2],
            vec![Capability::GracefulRestart(GracefulRestart {
                restart_flags: RESTART_STATE | GRACEFUL_NOTIFICATION,
                restart_time: 90,
                families: vec![GracefulRestartFamily {
                    afi_safi: AfiSafi::IPV4_UNICAST,
                    flags: FORWARDING_STATE,
                }],
            })],
        );
        let n = negotiate(&s, &local, &remote).unwrap();
        let gr = n.graceful_restart.unwrap();
        assert!(gr.restart_state);
        assert_eq!(gr.restart_time, 90);
        assert_eq!(gr.families, vec![(AfiSafi::IPV4_UNICAST, true)]);
        assert!(n.graceful_notification);
    }

    #[test]
    fn open_after_restart_sets_restart_and_forwarding_flags() {
        let mut s = settings(65000, 65000, &[AfiSafi::L2VPN_EVPN]);
        s.graceful_restart = Some(GracefulRestartAdvert {
            restart_time: 120,
            restarting: true,
        });
        let open = build_open(&s);
        let gr = graceful_restart_of(&open).unwrap();
        assert!(gr.restart_state());
        assert!(gr.notification());
        assert_eq!(gr.restart_time, 120);
        assert_eq!(gr.families[0].flags, FORWARDING_STATE);
    }

    #[test]
    fn collision_keeps_higher_identifier_then_higher_as() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        assert!(!local_wins_collision(a, 1, b, 2));
        assert!(local_wins_collision(b, 1, a, 2));
        assert!(local_wins_collision(a, 3, a, 2));
    }
}
