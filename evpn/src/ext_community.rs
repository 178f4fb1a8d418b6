//! Extended communities (RFC 4360) with the EVPN ones decoded: encapsulation (RFC 9012
//! section 4.1, tunnel type 8 is VXLAN), router's MAC (RFC 9135 section 8.1), MAC mobility,
//! ESI label, ES-import route target and default gateway (RFC 7432 sections 7.5 to 7.8),
//! and route targets. Everything else is kept as its eight octets.

use std::fmt;

use crate::{Label, MacAddress, RouteTarget};

/// Tunnel types of the encapsulation community (IANA "BGP Tunnel Encapsulation Attribute
/// Tunnel Types").
pub mod tunnel_type {
    pub const VXLAN: u16 = 8;
    pub const NVGRE: u16 = 9;
    pub const MPLS: u16 = 10;
    pub const MPLS_IN_GRE: u16 = 11;
    pub const VXLAN_GPE: u16 = 12;
    pub const GENEVE: u16 = 19;
}

const TYPE_OPAQUE: u8 = 0x03;
const TYPE_EVPN: u8 = 0x06;
const SUB_ENCAPSULATION: u8 = 0x0c;
const SUB_DEFAULT_GATEWAY: u8 = 0x0d;
const SUB_MAC_MOBILITY: u8 = 0x00;
const SUB_ESI_LABEL: u8 = 0x01;
const SUB_ES_IMPORT: u8 = 0x02;
const SUB_ROUTER_MAC: u8 = 0x03;

/// One extended community.
///
/// ```text
/// +--------+----------+------------------------------------------+
/// | Type   | Sub-Type |              Value (6 octets)            |
/// +--------+----------+------------------------------------------+
/// ```
/// A community is decoded into a typed variant only when its reserved bits are zero, so that
/// every community re-encodes to the octets it came from; the rest is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtendedCommunity {
    /// Transitive route target (types 0x00, 0x01, 0x02, sub-type 0x02).
    RouteTarget(RouteTarget),
    /// Encapsulation (type 0x03, sub-type 0x0c): four reserved octets and the tunnel type.
    Encapsulation { tunnel_type: u16 },
    /// Default gateway (type 0x03, sub-type 0x0d), value all zeros.
    DefaultGateway,
    /// MAC mobility (type 0x06, sub-type 0x00): flags (bit 0 sticky), reserved, sequence.
    MacMobility { sticky: bool, sequence: u32 },
    /// ESI label (type 0x06, sub-type 0x01): flags (bit 0 single-active), 2 reserved, label.
    EsiLabel { single_active: bool, label: Label },
    /// ES-import route target (type 0x06, sub-type 0x02): a MAC taken from the ESI.
    EsImportRouteTarget(MacAddress),
    /// Router's MAC (type 0x06, sub-type 0x03): the MAC of the advertising VTEP for symmetric IRB.
    RouterMac(MacAddress),
    /// Any other community, byte-exact.
    Other([u8; 8]),
}

impl ExtendedCommunity {
    /// The encoded length in octets.
    pub const LEN: usize = 8;

    /// Decodes one community; every bit pattern is accepted.
    pub fn from_bytes(b: [u8; 8]) -> ExtendedCommunity {
        if let Some(rt) = RouteTarget::from_bytes(b) {
            return ExtendedCommunity::RouteTarget(rt);
        }
        let mac = MacAddress([b[2], b[3], b[4], b[5], b[6], b[7]]);
        match (b[0], b[1]) {
            (TYPE_OPAQUE, SUB_ENCAPSULATION) if b[2..6] == [0; 4] => {
                ExtendedCommunity::Encapsulation {
                    tunnel_type: u16::from_be_bytes([b[6], b[7]]),
                }
            }
            (TYPE_OPAQUE, SUB_DEFAULT_GATEWAY) if b[2..8] == [0; 6] => {
                ExtendedCommunity::DefaultGateway
            }
            (TYPE_EVPN, SUB_MAC_MOBILITY) if b[2] & !0x01 == 0 && b[3] == 0 => {
                ExtendedCommunity::MacMobility {
                    sticky: b[2] & 0x01 != 0,
                    sequence: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
                }
            }
            (TYPE_EVPN, SUB_ESI_LABEL) if b[2] & !0x01 == 0 && b[3..5] == [0; 2] => {
                ExtendedCommunity::EsiLabel {
                    single_active: b[2] & 0x01 != 0,
                    label: Label::from_bytes([b[5], b[6], b[7]]),
                }
            }
            (TYPE_EVPN, SUB_ES_IMPORT) => ExtendedCommunity::EsImportRouteTarget(mac),
            (TYPE_EVPN, SUB_ROUTER_MAC) => ExtendedCommunity::RouterMac(mac),
            _ => ExtendedCommunity::Other(b),
        }
    }

    /// Returns the eight encoded octets.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        match *self {
            ExtendedCommunity::RouteTarget(rt) => return rt.to_bytes(),
            ExtendedCommunity::Encapsulation { tunnel_type } => {
                b[0] = TYPE_OPAQUE;
                b[1] = SUB_ENCAPSULATION;
                b[6..8].copy_from_slice(&tunnel_type.to_be_bytes());
            }
            ExtendedCommunity::DefaultGateway => {
                b[0] = TYPE_OPAQUE;
                b[1] = SUB_DEFAULT_GATEWAY;
            }
            ExtendedCommunity::MacMobility { sticky, sequence } => {
                b[0] = TYPE_EVPN;
                b[1] = SUB_MAC_MOBILITY;
                b[2] = sticky as u8;
                b[4..8].copy_from_slice(&sequence.to_be_bytes());
            }
            ExtendedCommunity::EsiLabel {
                single_active,
                label,
            } => {
                b[0] = TYPE_EVPN;
                b[1] = SUB_ESI_LABEL;
                b[2] = single_active as u8;
                b[5..8].copy_from_slice(&label.to_bytes());
            }
            ExtendedCommunity::EsImportRouteTarget(mac) => {
                b[0] = TYPE_EVPN;
                b[1] = SUB_ES_IMPORT;
                b[2..8].copy_from_slice(&mac.0);
            }
            ExtendedCommunity::RouterMac(mac) => {
                b[0] = TYPE_EVPN;
                b[1] = SUB_ROUTER_MAC;
                b[2..8].copy_from_slice(&mac.0);
            }
            ExtendedCommunity::Other(raw) => return raw,
        }
        b
    }

    /// Whether the community is transitive across ASes (bit 0x40 of the type is clear).
    pub fn is_transitive(&self) -> bool {
        self.to_bytes()[0] & 0x40 == 0
    }
}

impl fmt::Display for ExtendedCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtendedCommunity::RouteTarget(rt) => write!(f, "RT:{rt}"),
            ExtendedCommunity::Encapsulation { tunnel_type } => write!(f, "ET:{tunnel_type}"),
            ExtendedCommunity::DefaultGateway => f.write_str("Default Gateway"),
            ExtendedCommunity::MacMobility { sticky, sequence } => {
                write!(
                    f,
                    "MM:{sequence}{}",
                    if *sticky { ", sticky MAC" } else { "" }
                )
            }
            ExtendedCommunity::EsiLabel {
                single_active,
                label,
            } => {
                write!(
                    f,
                    "ESI-label:{label}{}",
                    if *single_active { " single-active" } else { "" }
                )
            }
            ExtendedCommunity::EsImportRouteTarget(mac) => write!(f, "ES-Import-Rt:{mac}"),
            ExtendedCommunity::RouterMac(mac) => write!(f, "Rmac:{mac}"),
            ExtendedCommunity::Other(raw) => write!(f, "{raw:02x?}"),
        }
    }
}
