//! EVPN NLRI (RFC 7432 section 7, RFC 9136 section 3): route types 1 to 5, each length checked
//! against the route type and the address lengths inside it, other types kept opaque.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::error::need;
use crate::{Esi, EvpnError, Label, MacAddress, RouteDistinguisher};

/// The Ethernet Tag ID of an EVPN route (RFC 7432 section 5); 0 in VLAN-based services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetTag(pub u32);

impl EthernetTag {
    /// MAX-ET, the tag of per-ES Ethernet A-D routes (RFC 7432 section 8.2.1).
    pub const MAX: EthernetTag = EthernetTag(u32::MAX);
}

/// Route type codes (IANA "EVPN Route Types").
pub mod route_type {
    pub const ETHERNET_AD: u8 = 1;
    pub const MAC_IP: u8 = 2;
    pub const INCLUSIVE_MULTICAST: u8 = 3;
    pub const ETHERNET_SEGMENT: u8 = 4;
    pub const IP_PREFIX: u8 = 5;
}

/// Type 1, Ethernet Auto-Discovery route (RFC 7432 section 7.1).
///
/// ```text
/// | RD (8) | ESI (10) | Ethernet Tag ID (4) | MPLS Label (3) |   length 25
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EthernetAdRoute {
    pub rd: RouteDistinguisher,
    pub esi: Esi,
    pub ethernet_tag: EthernetTag,
    pub label: Label,
}

/// Type 2, MAC/IP Advertisement route (RFC 7432 section 7.2).
///
/// ```text
/// | RD (8) | ESI (10) | Ethernet Tag ID (4) | MAC Length (1) = 48 | MAC (6) |
/// | IP Length (1) = 0, 32, 128 | IP (0, 4, 16) | Label1 (3) | Label2 (0 or 3) |
///   length 33 + IP octets, or 36 + IP octets with Label2
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MacIpRoute {
    pub rd: RouteDistinguisher,
    pub esi: Esi,
    pub ethernet_tag: EthernetTag,
    pub mac: MacAddress,
    pub ip: Option<IpAddr>,
    /// The L2 VNI (or MPLS label) of the MAC-VRF.
    pub label1: Label,
    /// The L3 VNI of the IP-VRF in symmetric IRB (RFC 9135 section 5.1).
    pub label2: Option<Label>,
}

/// Type 3, Inclusive Multicast Ethernet Tag route (RFC 7432 section 7.3).
///
/// ```text
/// | RD (8) | Ethernet Tag ID (4) | IP Length (1) = 32, 128 | Originating Router's IP (4, 16) |
///   length 17 or 29
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InclusiveMulticastRoute {
    pub rd: RouteDistinguisher,
    pub ethernet_tag: EthernetTag,
    pub originating_ip: IpAddr,
}

/// Type 4, Ethernet Segment route (RFC 7432 section 7.4).
///
/// ```text
/// | RD (8) | ESI (10) | IP Length (1) = 32, 128 | Originating Router's IP (4, 16) |
///   length 23 or 35
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EthernetSegmentRoute {
    pub rd: RouteDistinguisher,
    pub esi: Esi,
    pub originating_ip: IpAddr,
}

/// The prefix and gateway of an IP prefix route, always of the same address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpPrefixValue {
    V4 { prefix: Ipv4Net, gateway: Ipv4Addr },
    V6 { prefix: Ipv6Net, gateway: Ipv6Addr },
}

impl IpPrefixValue {
    /// Returns the prefix.
    pub fn prefix(&self) -> IpNet {
        match *self {
            IpPrefixValue::V4 { prefix, .. } => IpNet::V4(prefix),
            IpPrefixValue::V6 { prefix, .. } => IpNet::V6(prefix),
        }
    }

    /// Returns the gateway IP address (unspecified when the route has none).
    pub fn gateway(&self) -> IpAddr {
        match *self {
            IpPrefixValue::V4 { gateway, .. } => IpAddr::V4(gateway),
            IpPrefixValue::V6 { gateway, .. } => IpAddr::V6(gateway),
        }
    }
}

/// Type 5, IP Prefix route (RFC 9136 section 3.1).
///
/// ```text
/// | RD (8) | ESI (10) | Ethernet Tag ID (4) | IP Prefix Length (1) |
/// | IP Prefix (4, 16) | GW IP Address (4, 16) | MPLS Label (3) |
///   length 34 (IPv4) or 58 (IPv6); the route length alone gives the family
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IpPrefixRoute {
    pub rd: RouteDistinguisher,
    pub esi: Esi,
    pub ethernet_tag: EthernetTag,
    pub value: IpPrefixValue,
    /// The L3 VNI of the IP-VRF.
    pub label: Label,
}

/// One EVPN route as carried in MP_REACH_NLRI or MP_UNREACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EvpnRoute {
    EthernetAd(EthernetAdRoute),
    MacIp(MacIpRoute),
    InclusiveMulticast(InclusiveMulticastRoute),
    EthernetSegment(EthernetSegmentRoute),
    IpPrefix(IpPrefixRoute),
    /// A route type this codec does not know, kept byte-exact. RFC 7606 section 5.4 requires a
    /// receiver to discard such routes, so the RIB must not install them.
    Unknown {
        route_type: u8,
        value: Box<[u8]>,
    },
}

/// The fields that identify an EVPN route in BGP, so that a later advertisement with the same
/// key replaces an earlier one and a withdrawal names it.
///
/// The RD is part of every key (it is the start of every NLRI). Beyond it, RFC 7432 section 7
/// names the fields that are part of the prefix per route type, and RFC 9136 section 3.1 for
/// type 5: the ESI, labels and gateway are attributes of the route, not its identity, so that
/// a MAC moving to another segment or label replaces the old route instead of adding one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvpnRouteKey {
    /// Type 1: RD, ESI and Ethernet Tag ID (not the label).
    EthernetAd {
        rd: RouteDistinguisher,
        esi: Esi,
        ethernet_tag: EthernetTag,
    },
    /// Type 2: RD, Ethernet Tag ID, MAC and IP (not the ESI or the labels).
    MacIp {
        rd: RouteDistinguisher,
        ethernet_tag: EthernetTag,
        mac: MacAddress,
        ip: Option<IpAddr>,
    },
    /// Type 3: RD, Ethernet Tag ID and originating router's IP.
    InclusiveMulticast {
        rd: RouteDistinguisher,
        ethernet_tag: EthernetTag,
        originating_ip: IpAddr,
    },
    /// Type 4: RD, ESI and originating router's IP.
    EthernetSegment {
        rd: RouteDistinguisher,
        esi: Esi,
        originating_ip: IpAddr,
    },
    /// Type 5: RD, Ethernet Tag ID and the prefix with its length (not the ESI, gateway or label).
    IpPrefix {
        rd: RouteDistinguisher,
        ethernet_tag: EthernetTag,
        prefix: IpNet,
    },
    /// Unknown types: the whole value, since which fields identify the route is not known.
    Unknown { route_type: u8, value: Box<[u8]> },
}

/// Reader over a route's value whose reads are bounds-checked once per route.
struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        // The caller checked the total length before reading, so this slice is in bounds;
        // `get` keeps a programming error from panicking on wire input anyway.
        let mut out = [0u8; N];
        if let Some(src) = self.buf.get(self.pos..self.pos + N) {
            out.copy_from_slice(src);
        }
        self.pos += N;
        out
    }

    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }

    fn rd(&mut self) -> RouteDistinguisher {
        RouteDistinguisher::from_bytes(self.take())
    }

    fn esi(&mut self) -> Esi {
        Esi::from_bytes(self.take())
    }

    fn tag(&mut self) -> EthernetTag {
        EthernetTag(u32::from_be_bytes(self.take()))
    }

    fn label(&mut self) -> Label {
        Label::from_bytes(self.take())
    }

    fn ip(&mut self, octets: usize) -> IpAddr {
        if octets == 4 {
            IpAddr::V4(Ipv4Addr::from(self.take::<4>()))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.take::<16>()))
        }
    }
}

/// Returns the address octets for an IP length field of 32 or 128 bits.
fn ip_octets(route_type: u8, bits: u8) -> Result<usize, EvpnError> {
    match bits {
        32 => Ok(4),
        128 => Ok(16),
        length => Err(EvpnError::InvalidIpLength { route_type, length }),
    }
}

fn ip_len(ip: &IpAddr) -> usize {
    if ip.is_ipv4() { 4 } else { 16 }
}

impl EvpnRoute {
    /// Decodes one route with its type and length header from the start of `buf`, and returns
    /// it with the number of octets it used.
    pub fn decode(buf: &[u8]) -> Result<(EvpnRoute, usize), EvpnError> {
        need(buf, 2)?;
        let route_type = buf[0];
        let length = buf[1] as usize;
        need(buf, 2 + length)?;
        let route = Self::decode_value(route_type, &buf[2..2 + length])?;
        Ok((route, 2 + length))
    }

    /// Decodes the route-type-specific value of a route whose type and length header was
    /// already read; `value` is exactly `length` octets.
    pub fn decode_value(route_type: u8, value: &[u8]) -> Result<EvpnRoute, EvpnError> {
        let bad_length = || EvpnError::InvalidRouteLength {
            route_type,
            length: value.len() as u8,
        };
        let mut f = Fields { buf: value, pos: 0 };
        match route_type {
            route_type::ETHERNET_AD => {
                if value.len() != 25 {
                    return Err(bad_length());
                }
                Ok(EvpnRoute::EthernetAd(EthernetAdRoute {
                    rd: f.rd(),
                    esi: f.esi(),
                    ethernet_tag: f.tag(),
                    label: f.label(),
                }))
            }
            route_type::MAC_IP => {
                // The two length fields sit at offsets 22 and 29; the total must then match.
                if value.len() < 30 {
                    return Err(bad_length());
                }
                let mac_bits = value[22];
                if mac_bits != 48 {
                    return Err(EvpnError::InvalidMacLength { length: mac_bits });
                }
                let ip_bytes = match value[29] {
                    0 => 0,
                    bits => ip_octets(route_type, bits)?,
                };
                let with_one_label = 33 + ip_bytes;
                if value.len() != with_one_label && value.len() != with_one_label + 3 {
                    return Err(bad_length());
                }
                let rd = f.rd();
                let esi = f.esi();
                let ethernet_tag = f.tag();
                f.u8();
                let mac = MacAddress(f.take());
                f.u8();
                let ip = (ip_bytes > 0).then(|| f.ip(ip_bytes));
                let label1 = f.label();
                let label2 = (value.len() > with_one_label).then(|| f.label());
                Ok(EvpnRoute::MacIp(MacIpRoute {
                    rd,
                    esi,
                    ethernet_tag,
                    mac,
                    ip,
                    label1,
                    label2,
                }))
            }
            route_type::INCLUSIVE_MULTICAST => {
                if value.len() < 13 {
                    return Err(bad_length());
                }
                let ip_bytes = ip_octets(route_type, value[12])?;
                if value.len() != 13 + ip_bytes {
                    return Err(bad_length());
                }
                let rd = f.rd();
                let ethernet_tag = f.tag();
                f.u8();
                let originating_ip = f.ip(ip_bytes);
                Ok(EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
                    rd,
                    ethernet_tag,
                    originating_ip,
                }))
            }
            route_type::ETHERNET_SEGMENT => {
                if value.len() < 19 {
                    return Err(bad_length());
                }
                let ip_bytes = ip_octets(route_type, value[18])?;
                if value.len() != 19 + ip_bytes {
                    return Err(bad_length());
                }
                let rd = f.rd();
                let esi = f.esi();
                f.u8();
                let originating_ip = f.ip(ip_bytes);
                Ok(EvpnRoute::EthernetSegment(EthernetSegmentRoute {
                    rd,
                    esi,
                    originating_ip,
                }))
            }
            route_type::IP_PREFIX => {
                let v4 = match value.len() {
                    34 => true,
                    58 => false,
                    _ => return Err(bad_length()),
                };
                let rd = f.rd();
                let esi = f.esi();
                let ethernet_tag = f.tag();
                let prefix_len = f.u8();
                let value = if v4 {
                    let address = Ipv4Addr::from(f.take::<4>());
                    let prefix = Ipv4Net::new(address, prefix_len).map_err(|_| {
                        EvpnError::PrefixLengthTooLong {
                            length: prefix_len,
                            max: 32,
                        }
                    })?;
                    IpPrefixValue::V4 {
                        prefix,
                        gateway: Ipv4Addr::from(f.take::<4>()),
                    }
                } else {
                    let address = Ipv6Addr::from(f.take::<16>());
                    let prefix = Ipv6Net::new(address, prefix_len).map_err(|_| {
                        EvpnError::PrefixLengthTooLong {
                            length: prefix_len,
                            max: 128,
                        }
                    })?;
                    IpPrefixValue::V6 {
                        prefix,
                        gateway: Ipv6Addr::from(f.take::<16>()),
                    }
                };
                let label = f.label();
                Ok(EvpnRoute::IpPrefix(IpPrefixRoute {
                    rd,
                    esi,
                    ethernet_tag,
                    value,
                    label,
                }))
            }
            _ => Ok(EvpnRoute::Unknown {
                route_type,
                value: value.into(),
            }),
        }
    }

    /// Checks the rules that a well-formed route can still break.
    ///
    /// RFC 9136 section 3.1: the ESI and the gateway IP address of an IP prefix route must not
    /// both be non-zero, and such a route is treated as withdrawn.
    pub fn validate(&self) -> Result<(), EvpnError> {
        if let EvpnRoute::IpPrefix(r) = self
            && !r.esi.is_zero()
            && !r.value.gateway().is_unspecified()
        {
            return Err(EvpnError::EsiAndGatewayBothSet);
        }
        Ok(())
    }

    /// Returns the route type code.
    pub fn route_type(&self) -> u8 {
        match self {
            EvpnRoute::EthernetAd(_) => route_type::ETHERNET_AD,
            EvpnRoute::MacIp(_) => route_type::MAC_IP,
            EvpnRoute::InclusiveMulticast(_) => route_type::INCLUSIVE_MULTICAST,
            EvpnRoute::EthernetSegment(_) => route_type::ETHERNET_SEGMENT,
            EvpnRoute::IpPrefix(_) => route_type::IP_PREFIX,
            EvpnRoute::Unknown { route_type, .. } => *route_type,
        }
    }

    /// Returns the route distinguisher, which every known route type starts with.
    pub fn rd(&self) -> Option<RouteDistinguisher> {
        match self {
            EvpnRoute::EthernetAd(r) => Some(r.rd),
            EvpnRoute::MacIp(r) => Some(r.rd),
            EvpnRoute::InclusiveMulticast(r) => Some(r.rd),
            EvpnRoute::EthernetSegment(r) => Some(r.rd),
            EvpnRoute::IpPrefix(r) => Some(r.rd),
            EvpnRoute::Unknown { .. } => None,
        }
    }

    /// Returns the key that identifies this route in a RIB.
    pub fn key(&self) -> EvpnRouteKey {
        match self {
            EvpnRoute::EthernetAd(r) => EvpnRouteKey::EthernetAd {
                rd: r.rd,
                esi: r.esi,
                ethernet_tag: r.ethernet_tag,
            },
            EvpnRoute::MacIp(r) => EvpnRouteKey::MacIp {
                rd: r.rd,
                ethernet_tag: r.ethernet_tag,
                mac: r.mac,
                ip: r.ip,
            },
            EvpnRoute::InclusiveMulticast(r) => EvpnRouteKey::InclusiveMulticast {
                rd: r.rd,
                ethernet_tag: r.ethernet_tag,
                originating_ip: r.originating_ip,
            },
            EvpnRoute::EthernetSegment(r) => EvpnRouteKey::EthernetSegment {
                rd: r.rd,
                esi: r.esi,
                originating_ip: r.originating_ip,
            },
            EvpnRoute::IpPrefix(r) => EvpnRouteKey::IpPrefix {
                rd: r.rd,
                ethernet_tag: r.ethernet_tag,
                prefix: r.value.prefix(),
            },
            EvpnRoute::Unknown { route_type, value } => EvpnRouteKey::Unknown {
                route_type: *route_type,
                value: value.clone(),
            },
        }
    }

    /// Returns the length of the route-type-specific value in octets.
    pub fn value_len(&self) -> usize {
        match self {
            EvpnRoute::EthernetAd(_) => 25,
            EvpnRoute::MacIp(r) => {
                33 + r.ip.as_ref().map_or(0, ip_len) + if r.label2.is_some() { 3 } else { 0 }
            }
            EvpnRoute::InclusiveMulticast(r) => 13 + ip_len(&r.originating_ip),
            EvpnRoute::EthernetSegment(r) => 19 + ip_len(&r.originating_ip),
            EvpnRoute::IpPrefix(r) => match r.value {
                IpPrefixValue::V4 { .. } => 34,
                IpPrefixValue::V6 { .. } => 58,
            },
            EvpnRoute::Unknown { value, .. } => value.len(),
        }
    }

    /// Returns the encoded length with the two-octet type and length header.
    pub fn encoded_len(&self) -> usize {
        2 + self.value_len()
    }

    /// Appends the route with its type and length header to `out`.
    ///
    /// An `Unknown` value longer than 255 octets cannot be represented and is truncated; the
    /// decoder never produces one.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let EvpnRoute::Unknown { route_type, value } = self {
            let value = &value[..value.len().min(255)];
            out.push(*route_type);
            out.push(value.len() as u8);
            out.extend_from_slice(value);
            return;
        }
        // Known routes are at most 60 octets with the header: build them on the stack and
        // append once, which is what makes packing many routes cheap.
        let mut b = [0u8; 60];
        let len = match self {
            EvpnRoute::MacIp(r) => {
                // The most frequent type is laid out at fixed offsets, without a cursor.
                b[2..10].copy_from_slice(&r.rd.to_bytes());
                b[10..20].copy_from_slice(&r.esi.to_bytes());
                b[20..24].copy_from_slice(&r.ethernet_tag.0.to_be_bytes());
                b[24] = 48;
                b[25..31].copy_from_slice(&r.mac.0);
                let labels_at = match &r.ip {
                    None => 32,
                    Some(IpAddr::V4(a)) => {
                        b[31] = 32;
                        b[32..36].copy_from_slice(&a.octets());
                        36
                    }
                    Some(IpAddr::V6(a)) => {
                        b[31] = 128;
                        b[32..48].copy_from_slice(&a.octets());
                        48
                    }
                };
                b[labels_at..labels_at + 3].copy_from_slice(&r.label1.to_bytes());
                match r.label2 {
                    Some(label2) => {
                        b[labels_at + 3..labels_at + 6].copy_from_slice(&label2.to_bytes());
                        labels_at + 6
                    }
                    None => labels_at + 3,
                }
            }
            other => other.write_value(&mut b),
        };
        b[0] = self.route_type();
        b[1] = (len - 2) as u8;
        // As for prefixes, a fixed-size append and a truncate beat a copy of variable length.
        let start = out.len();
        out.extend_from_slice(&b);
        out.truncate(start + len);
    }

    /// Writes the value of a route other than MAC/IP after the two header octets of `b`, and
    /// returns the length with the header.
    fn write_value(&self, b: &mut [u8; 60]) -> usize {
        let mut w = Writer { buf: b, pos: 2 };
        match self {
            EvpnRoute::EthernetAd(r) => {
                w.put(&r.rd.to_bytes());
                w.put(&r.esi.to_bytes());
                w.put(&r.ethernet_tag.0.to_be_bytes());
                w.put(&r.label.to_bytes());
            }
            EvpnRoute::MacIp(r) => {
                w.put(&r.rd.to_bytes());
                w.put(&r.esi.to_bytes());
                w.put(&r.ethernet_tag.0.to_be_bytes());
                w.put(&[48]);
                w.put(&r.mac.0);
                match &r.ip {
                    None => w.put(&[0]),
                    Some(ip) => w.put_ip(ip),
                }
                w.put(&r.label1.to_bytes());
                if let Some(label2) = r.label2 {
                    w.put(&label2.to_bytes());
                }
            }
            EvpnRoute::InclusiveMulticast(r) => {
                w.put(&r.rd.to_bytes());
                w.put(&r.ethernet_tag.0.to_be_bytes());
                w.put_ip(&r.originating_ip);
            }
            EvpnRoute::EthernetSegment(r) => {
                w.put(&r.rd.to_bytes());
                w.put(&r.esi.to_bytes());
                w.put_ip(&r.originating_ip);
            }
            EvpnRoute::IpPrefix(r) => {
                w.put(&r.rd.to_bytes());
                w.put(&r.esi.to_bytes());
                w.put(&r.ethernet_tag.0.to_be_bytes());
                match r.value {
                    IpPrefixValue::V4 { prefix, gateway } => {
                        w.put(&[prefix.prefix_len()]);
                        w.put(&prefix.addr().octets());
                        w.put(&gateway.octets());
                    }
                    IpPrefixValue::V6 { prefix, gateway } => {
                        w.put(&[prefix.prefix_len()]);
                        w.put(&prefix.addr().octets());
                        w.put(&gateway.octets());
                    }
                }
                w.put(&r.label.to_bytes());
            }
            EvpnRoute::Unknown { .. } => {}
        }
        w.pos
    }
}

/// Writer into the fixed buffer of one encoded route; the route types' layouts keep every
/// write within the 60 octets.
struct Writer<'a> {
    buf: &'a mut [u8; 60],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }

    fn put_ip(&mut self, ip: &IpAddr) {
        match ip {
            IpAddr::V4(a) => {
                self.put(&[32]);
                self.put(&a.octets());
            }
            IpAddr::V6(a) => {
                self.put(&[128]);
                self.put(&a.octets());
            }
        }
    }
}
