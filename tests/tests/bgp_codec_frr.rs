//! The codec against a live FRR 8.4 in a network namespace: FRR accepts the OPEN, KEEPALIVE,
//! UPDATE and NOTIFICATION this codec encodes, and the EVPN type-3 and type-5 routes FRR
//! sends decode with no RFC 7606 action. A bare TCP session in the test thread replaces
//! a BGP speaker, which the codec does not contain.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hna_bgp::wire::{DecodedMessage, SessionContext, cease_subcode, decode_message, frame_length};
use hna_bgp::*;
use hna_evpn::*;
use hna_testkit::{Frr, Netns, veth, wait_until};

const FRR_ADDR: &str = "192.0.2.1";
const OUR_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// Starts an FRR 8.4 VTEP with L2VNI 10000 (type-3) and L3VNI 100 in the default VRF announcing
/// 10.70.1.0/24 (type-5), peering over iBGP with the test.
fn start_frr(ns: &Netns) -> Frr {
    ns.ip(&["addr", "add", "10.0.0.1/32", "dev", "lo"]);
    ns.ip(&["addr", "add", "10.70.1.1/24", "dev", "lo"]);
    for (vni, bridge, vxlan) in [("10000", "br10000", "vx10000"), ("100", "br100", "vx100")] {
        ns.ip(&["link", "add", bridge, "type", "bridge"]);
        ns.ip(&[
            "link",
            "add",
            vxlan,
            "type",
            "vxlan",
            "id",
            vni,
            "local",
            "10.0.0.1",
            "dstport",
            "4789",
            "nolearning",
        ]);
        ns.ip(&["link", "set", vxlan, "master", bridge]);
        ns.ip(&["link", "set", vxlan, "up"]);
        ns.ip(&["link", "set", bridge, "up"]);
    }
    let config = format!(
        "vrf default\n vni 100\nexit-vrf\n!\n\
         router bgp 65500\n bgp router-id 10.0.0.1\n bgp log-neighbor-changes\n\
         no bgp default ipv4-unicast\n\
         neighbor {OUR_ADDR} remote-as 65500\n !\n\
         address-family ipv4 unicast\n  network 10.70.1.0/24\n exit-address-family\n !\n\
         address-family l2vpn evpn\n  neighbor {OUR_ADDR} activate\n  advertise-all-vni\n\
         advertise ipv4 unicast\n exit-address-family\n!\n"
    );
    Frr::start(ns, &["bgpd"], &config)
}

/// One BGP connection driven by the codec, with a read deadline per call.
struct Session {
    stream: TcpStream,
    buffer: Vec<u8>,
    receive: SessionContext,
    send: SessionContext,
}

impl Session {
    fn connect(deadline: Instant) -> Session {
        let addr: SocketAddr = format!("{FRR_ADDR}:179").parse().unwrap();
        let stream = loop {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                Ok(stream) => break stream,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(error) => panic!("cannot connect to FRR: {error}"),
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Session {
            stream,
            buffer: Vec::new(),
            receive: SessionContext::default(),
            send: SessionContext::default(),
        }
    }

    fn send(&mut self, message: &Message) {
        let bytes = message.to_bytes(&self.send).expect("message encodes");
        self.stream.write_all(&bytes).expect("write to FRR");
    }

    /// Returns the next message, or `None` when `deadline` passes first.
    fn next(&mut self, deadline: Instant) -> Option<DecodedMessage> {
        loop {
            if let Some(len) =
                frame_length(&self.buffer, &self.receive).expect("valid header from FRR")
            {
                if self.buffer.len() >= len {
                    let bytes: Vec<u8> = self.buffer.drain(..len).collect();
                    return Some(
                        decode_message(&bytes, &self.receive).expect("FRR's message decodes"),
                    );
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("read from FRR failed: {e}"),
            }
        }
    }
}

fn our_open() -> Open {
    Open::new(
        65500,
        90,
        OUR_ADDR,
        vec![
            Capability::Multiprotocol(AfiSafi::L2VPN_EVPN),
            Capability::RouteRefresh,
            Capability::EnhancedRouteRefresh,
            Capability::FourOctetAs(65500),
            Capability::ExtendedMessage,
            Capability::Fqdn {
                hostname: "hna-codec".into(),
                domain_name: String::new(),
            },
            // FRR sends End-of-RIB only to a peer that advertises graceful restart.
            Capability::GracefulRestart(GracefulRestart {
                restart_flags: 0,
                restart_time: 120,
                families: Vec::new(),
            }),
        ],
    )
}

fn our_update() -> Update {
    let rd = RouteDistinguisher::Ipv4 {
        address: OUR_ADDR,
        number: 7,
    };
    let vni = |v| Label::from_vni(v).unwrap();
    let routes = vec![
        PathNlri::new(EvpnRoute::MacIp(MacIpRoute {
            rd,
            esi: Esi::ZERO,
            ethernet_tag: EthernetTag(0),
            mac: MacAddress([0x02, 0, 0, 0, 0x77, 0x01]),
            ip: Some(IpAddr::V4(Ipv4Addr::new(10, 60, 0, 77))),
            label1: vni(10000),
            label2: None,
        })),
        PathNlri::new(EvpnRoute::IpPrefix(IpPrefixRoute {
            rd,
            esi: Esi::ZERO,
            ethernet_tag: EthernetTag(0),
            value: IpPrefixValue::V4 {
                prefix: "10.77.0.0/16".parse().unwrap(),
                gateway: Ipv4Addr::UNSPECIFIED,
            },
            label: vni(100),
        })),
    ];
    Update {
        mp_reach: Some(MpReach {
            afi_safi: AfiSafi::L2VPN_EVPN,
            next_hop: MpNextHop::Ipv4(OUR_ADDR),
            nlri: NlriList::Evpn(routes),
        }),
        attributes: PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            local_pref: Some(100),
            extended_communities: Some(vec![
                ExtendedCommunity::RouteTarget(RouteTarget::As2 {
                    asn: 65500,
                    value: 10000,
                }),
                ExtendedCommunity::Encapsulation {
                    tunnel_type: tunnel_type::VXLAN,
                },
            ]),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// What the session thread saw from FRR.
#[derive(Debug, Default)]
struct Seen {
    open: Option<Open>,
    keepalive: bool,
    routes: Vec<EvpnRoute>,
    end_of_rib: bool,
}

fn evpn_routes(update: &Update) -> Vec<EvpnRoute> {
    match update.mp_reach.as_ref().map(|r| &r.nlri) {
        Some(NlriList::Evpn(routes)) => routes.iter().map(|r| r.nlri.clone()).collect(),
        _ => Vec::new(),
    }
}

/// Runs one session up to FRR's End-of-RIB and type-5 route, or fails when FRR closes or
/// resets it first.
fn exchange(deadline: Instant) -> Result<(Session, Seen), String> {
    let mut s = Session::connect(deadline);
    let open = our_open();
    s.send(&Message::Open(open.clone()));
    let mut seen = Seen::default();
    while let Some(message) = s.next(deadline) {
        match message {
            DecodedMessage::Open(theirs) => {
                (s.receive, s.send) = SessionContext::negotiate(&open, &theirs);
                seen.open = Some(theirs);
                s.send(&Message::Keepalive);
            }
            DecodedMessage::Keepalive => {
                if !seen.keepalive {
                    s.send(&Message::Update(our_update()));
                    s.send(&Message::Update(Update::end_of_rib(AfiSafi::L2VPN_EVPN)));
                }
                seen.keepalive = true;
            }
            DecodedMessage::Update(u) => {
                assert_eq!(
                    u.action,
                    UpdateAction::None,
                    "FRR's UPDATE had errors: {:?}",
                    u.errors
                );
                seen.end_of_rib |= u.update.end_of_rib_family() == Some(AfiSafi::L2VPN_EVPN);
                seen.routes.extend(evpn_routes(&u.update));
            }
            DecodedMessage::Notification(n) if !seen.keepalive => {
                return Err(format!("NOTIFICATION {n:?}"));
            }
            DecodedMessage::Notification(n) => {
                panic!("FRR sent NOTIFICATION {n:?} on an established session")
            }
            DecodedMessage::RouteRefresh(_) => {}
        }
        let type5 = seen
            .routes
            .iter()
            .any(|r| matches!(r, EvpnRoute::IpPrefix(_)));
        if seen.end_of_rib && type5 {
            return Ok((s, seen));
        }
    }
    Err(format!("connection closed or timed out after {seen:?}"))
}

#[test]
fn frr_exchanges_messages_with_codec() {
    hna_testkit::require_root();
    let frr_ns = Netns::new("codec-frr");
    let our_ns = Netns::new("codec-us");
    veth(&frr_ns, "eth0", &our_ns, "eth0", 1500);
    frr_ns.ip(&["addr", "add", &format!("{FRR_ADDR}/30"), "dev", "eth0"]);
    our_ns.ip(&["addr", "add", &format!("{OUR_ADDR}/30"), "dev", "eth0"]);
    let frr = start_frr(&frr_ns);

    // The session thread reports what it saw, then waits for the go-ahead to send the shutdown.
    let (seen_tx, seen_rx) = mpsc::channel::<Seen>();
    let (bye_tx, bye_rx) = mpsc::channel::<()>();
    let session = our_ns.spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        // bgpd resets a connection that arrives before zebra told it about the interface
        // ("nexthop_set failed"), so a reset before Established is retried.
        let (mut s, seen) = loop {
            match exchange(deadline) {
                Ok(done) => break done,
                Err(reason) => {
                    assert!(Instant::now() < deadline, "no session with FRR: {reason}");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        };
        seen_tx.send(seen).unwrap();
        bye_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("go-ahead for the shutdown");
        let bye = Notification::with_shutdown_communication(
            cease_subcode::ADMINISTRATIVE_SHUTDOWN,
            "codec test done",
        );
        s.send(&Message::Notification(bye));
        std::thread::sleep(Duration::from_millis(200));
    });

    let seen = seen_rx
        .recv_timeout(Duration::from_secs(90))
        .expect("the session thread reports");
    let theirs = seen.open.as_ref().expect("FRR sent an OPEN");
    assert_eq!(theirs.asn(), 65500);
    assert_eq!(theirs.bgp_identifier, Ipv4Addr::new(10, 0, 0, 1));
    assert!(
        theirs
            .capabilities()
            .any(|c| *c == Capability::Multiprotocol(AfiSafi::L2VPN_EVPN))
    );
    assert!(seen.keepalive, "no KEEPALIVE from FRR");
    assert!(seen.end_of_rib, "no l2vpn-evpn End-of-RIB from FRR");
    let type5 = seen.routes.iter().find_map(|r| match r {
        EvpnRoute::IpPrefix(p) => Some(p),
        _ => None,
    });
    let type5 = type5.expect("a type-5 route from FRR");
    assert_eq!(
        type5.value.prefix(),
        "10.70.1.0/24".parse::<ipnet::IpNet>().unwrap()
    );
    assert_eq!(type5.label.vni(), 100);
    let type3 = seen.routes.iter().any(|r| {
        matches!(r, EvpnRoute::InclusiveMulticast(m) if m.originating_ip == IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
    });
    assert!(
        type3,
        "no type-3 route for VTEP 10.0.0.1 in {:?}",
        seen.routes
    );

    // FRR's side: the session is Established and our two routes are in its EVPN table.
    let neighbor = format!("show bgp neighbors {OUR_ADDR} json");
    let state = frr.json(&neighbor)[OUR_ADDR.to_string()]["bgpState"].clone();
    assert_eq!(state, "Established");
    wait_until(
        Duration::from_secs(10),
        "our EVPN routes in FRR's table",
        || {
            let table = frr.vtysh("show bgp l2vpn evpn");
            (table.contains("02:00:00:00:77:01") && table.contains("10.77.0.0")).then_some(())
        },
    );

    // The shutdown communication reaches FRR.
    bye_tx.send(()).unwrap();
    session.join().expect("session thread");
    wait_until(
        Duration::from_secs(10),
        "FRR logs our shutdown communication",
        || frr.log().contains("codec test done").then_some(()),
    );
    wait_until(Duration::from_secs(10), "FRR leaves Established", || {
        let state = frr.json(&neighbor)[OUR_ADDR.to_string()]["bgpState"].clone();
        (state != "Established").then_some(())
    });
}
