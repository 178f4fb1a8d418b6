//! Our speaker as an l2vpn-evpn client of FRR 8.4 acting as route reflector: the EVPN routes we
//! originate (types 2, 3 and 5) reach a second FRR client, reflected with their attributes. Our
//! session runs from our loopback (`update-source`), as the HNAs' sessions to the leaves do.

mod bgp_support;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp_support::{
    EvpnPath, Speaker, frr_evpn_paths, ip, link, neighbor, options, our_config,
    wait_frr_established,
};
use hna_bgp::AfiSafi;
use hna_bgp::message::{AsPath, Origin, PathAttributes, PmsiTunnel, pmsi_tunnel_type};
use hna_bgp::rib::Route;
use hna_evpn::route::{
    EthernetTag, InclusiveMulticastRoute, IpPrefixRoute, IpPrefixValue, MacIpRoute,
};
use hna_evpn::{
    Esi, EvpnRoute, ExtendedCommunity, Label, MacAddress, RouteDistinguisher, RouteTarget,
};
use hna_testkit::{Frr, Netns, wait_until_ok};

const RR_CONFIG: &str = "\
router bgp 65500
 bgp router-id 10.0.0.100
 no bgp default ipv4-unicast
 timers bgp 3 9
 neighbor 10.0.0.1 remote-as 65500
 neighbor 10.71.0.2 remote-as 65500
 address-family l2vpn evpn
  neighbor 10.0.0.1 activate
  neighbor 10.0.0.1 route-reflector-client
  neighbor 10.71.0.2 activate
  neighbor 10.71.0.2 route-reflector-client
 exit-address-family
";

const CLIENT_CONFIG: &str = "\
router bgp 65500
 bgp router-id 10.0.0.2
 no bgp default ipv4-unicast
 timers bgp 3 9
 neighbor 10.71.0.1 remote-as 65500
 neighbor 10.71.0.1 timers connect 5
 address-family l2vpn evpn
  neighbor 10.71.0.1 activate
 exit-address-family
";

const OUR_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const MAC: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x01]);
const ROUTER_MAC: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0xaa]);

fn attributes(communities: Vec<ExtendedCommunity>, pmsi: Option<PmsiTunnel>) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        next_hop: Some(OUR_ID),
        extended_communities: Some(communities),
        pmsi_tunnel: pmsi,
        ..PathAttributes::default()
    }
}

/// Our type-2 (MAC and MAC/IP), type-3 and type-5 routes, with their attributes.
fn our_routes() -> Vec<(EvpnRoute, PathAttributes)> {
    let rd = RouteDistinguisher::Ipv4 {
        address: OUR_ID,
        number: 2,
    };
    let l2 = vec![
        ExtendedCommunity::RouteTarget(RouteTarget::As2 {
            asn: 65500,
            value: 10100,
        }),
        ExtendedCommunity::Encapsulation { tunnel_type: 8 },
    ];
    let vni = Label::from_vni(10100).unwrap();
    let mac_ip = |ip: Option<IpAddr>| {
        EvpnRoute::MacIp(MacIpRoute {
            rd,
            esi: Esi::ZERO,
            ethernet_tag: EthernetTag(0),
            mac: MAC,
            ip,
            label1: vni,
            label2: None,
        })
    };
    let imet = EvpnRoute::InclusiveMulticast(InclusiveMulticastRoute {
        rd,
        ethernet_tag: EthernetTag(0),
        originating_ip: IpAddr::V4(OUR_ID),
    });
    let pmsi = PmsiTunnel {
        flags: 0,
        tunnel_type: pmsi_tunnel_type::INGRESS_REPLICATION,
        label: vni,
        tunnel_identifier: OUR_ID.octets().to_vec(),
    };
    let prefix = EvpnRoute::IpPrefix(IpPrefixRoute {
        rd: RouteDistinguisher::Ipv4 {
            address: OUR_ID,
            number: 3,
        },
        esi: Esi::ZERO,
        ethernet_tag: EthernetTag(0),
        value: IpPrefixValue::V4 {
            prefix: "10.90.0.0/24".parse().unwrap(),
            gateway: Ipv4Addr::UNSPECIFIED,
        },
        label: Label::from_vni(100).unwrap(),
    });
    let l3 = vec![
        ExtendedCommunity::RouteTarget(RouteTarget::As2 {
            asn: 65500,
            value: 100,
        }),
        ExtendedCommunity::Encapsulation { tunnel_type: 8 },
        ExtendedCommunity::RouterMac(ROUTER_MAC),
    ];
    vec![
        (mac_ip(None), attributes(l2.clone(), None)),
        (
            mac_ip(Some(IpAddr::V4(Ipv4Addr::new(10, 100, 0, 5)))),
            attributes(l2.clone(), None),
        ),
        (imet, attributes(l2, Some(pmsi))),
        (prefix, attributes(l3, None)),
    ]
}

#[test]
fn frr_reflector_passes_our_evpn_routes() {
    let ours = Netns::new("bgpev-us");
    let rr_ns = Netns::new("bgpev-rr");
    let client_ns = Netns::new("bgpev-c2");
    link(&ours, "eth0", "10.70.0.1", &rr_ns, "eth0", "10.70.0.2");
    link(&rr_ns, "eth1", "10.71.0.1", &client_ns, "eth0", "10.71.0.2");
    // Our VTEP address is reachable from the second client, so FRR accepts the next hop.
    ours.ip(&["addr", "add", "10.0.0.1/32", "dev", "lo"]);
    rr_ns.sysctl("net.ipv4.ip_forward=1");
    rr_ns.ip(&["route", "add", "10.0.0.1/32", "via", "10.70.0.1"]);
    client_ns.ip(&["route", "add", "10.0.0.1/32", "via", "10.71.0.1"]);
    ours.ip(&["route", "add", "10.71.0.0/24", "via", "10.70.0.2"]);

    let rr = Frr::start(&rr_ns, &["bgpd"], RR_CONFIG);
    let client = Frr::start(&client_ns, &["bgpd"], CLIENT_CONFIG);

    let mut config = our_config(65500, "10.0.0.1");
    let mut reflector = neighbor(65500, &[AfiSafi::L2VPN_EVPN]);
    reflector.update_source = Some(ip("10.0.0.1"));
    config.neighbors.insert(ip("10.70.0.2"), reflector);
    let speaker = Speaker::start(&ours, config, options());
    for (route, attributes) in our_routes() {
        speaker
            .bgp
            .originate(AfiSafi::L2VPN_EVPN, Route::Evpn(route), attributes);
    }
    speaker.wait_established("10.70.0.2", Duration::from_secs(30));
    wait_frr_established(&rr, "l2vpn evpn", "10.0.0.1", Duration::from_secs(10));
    assert_eq!(
        speaker.neighbor("10.70.0.2").unwrap().local_address,
        Some(ip("10.0.0.1"))
    );
    wait_frr_established(&client, "l2vpn evpn", "10.71.0.1", Duration::from_secs(30));

    let expected = [
        ("10.0.0.1:2", "[2]:[0]:[48]:[02:00:00:00:00:01]"),
        (
            "10.0.0.1:2",
            "[2]:[0]:[48]:[02:00:00:00:00:01]:[32]:[10.100.0.5]",
        ),
        ("10.0.0.1:2", "[3]:[0]:[32]:[10.0.0.1]"),
        ("10.0.0.1:3", "[5]:[0]:[24]:[10.90.0.0]"),
    ];
    let paths: Vec<EvpnPath> = wait_until_ok(
        Duration::from_secs(30),
        "our routes at the second client",
        || {
            let paths = frr_evpn_paths(&client);
            let found = expected
                .iter()
                .all(|(rd, prefix)| paths.iter().any(|p| p.rd == *rd && p.prefix == *prefix));
            if found { Ok(paths) } else { Err(paths) }
        },
    );
    for (rd, prefix) in expected {
        let path = paths
            .iter()
            .find(|p| p.rd == rd && p.prefix == prefix)
            .unwrap();
        assert_eq!(path.next_hop, "10.0.0.1", "{path:?}");
        assert_eq!(
            path.originator_id.as_deref(),
            Some("10.0.0.1"),
            "not reflected: {path:?}"
        );
        assert_eq!(
            path.cluster_list,
            vec!["10.0.0.100".to_string()],
            "{path:?}"
        );
        assert_eq!(path.peer.as_deref(), Some("10.71.0.1"), "{path:?}");
        assert_eq!(path.origin, "IGP", "{path:?}");
        assert_eq!(path.as_path, "Local", "{path:?}");
        if prefix.starts_with("[5]") {
            assert_eq!(
                path.extended_communities, "RT:65500:100 ET:8 Rmac:02:00:00:00:00:aa",
                "{path:?}"
            );
            assert_eq!(path.vni, "100", "{path:?}");
        } else {
            assert_eq!(path.extended_communities, "RT:65500:10100 ET:8", "{path:?}");
        }
        if prefix.starts_with("[2]") {
            assert_eq!(path.vni, "10100", "{path:?}");
        }
    }

    // The reflector sent our own routes back to us, and we dropped them (RFC 4456 section 8).
    let table = speaker
        .block_on(speaker.bgp.table(AfiSafi::L2VPN_EVPN))
        .unwrap();
    let learned: usize = table
        .route_distinguishers
        .iter()
        .flat_map(|rd| &rd.routes)
        .flat_map(|r| &r.paths)
        .filter(|p| !p.local)
        .count();
    assert_eq!(learned, 0, "{table:?}");
    let counts = speaker
        .prefix_counts("10.70.0.2", AfiSafi::L2VPN_EVPN)
        .unwrap();
    assert_eq!(counts.2, 4, "routes sent to the reflector");
}
