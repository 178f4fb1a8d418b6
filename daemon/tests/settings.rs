//! The translation of the seed configurations into the protocol crates' settings.

use std::net::Ipv4Addr;
use std::path::Path;

use hna_evpn::control::AutoRouteTarget;
use hna_evpn::{MacAddress, RouteDistinguisher};
use hna_routed::{config, settings};

fn load(name: &str) -> config::Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/seed")
        .join(name);
    config::load(&path).expect("seed configuration loads")
}

#[test]
fn hna1_evpn_settings_cover_every_vni() {
    let evpn = settings::evpn(&load("hna1.nc-cli")).expect("EVPN settings");
    assert_eq!(evpn.asn, 65500);
    assert_eq!(evpn.vtep, Ipv4Addr::new(10, 0, 0, 1));

    let l2: Vec<(u32, &str, Option<&str>)> = evpn
        .mac_vrfs
        .iter()
        .map(|m| (m.vni, m.bridge.as_str(), m.ip_vrf.as_deref()))
        .collect();
    assert_eq!(
        l2,
        [
            (10000, "br10000", Some("vrf100")),
            (10001, "br10001", Some("vrf100")),
            (10100, "br10100", Some("vrf101")),
            (10101, "br10101", Some("vrf101")),
        ]
    );
    assert!(
        evpn.mac_vrfs
            .iter()
            .all(|m| m.auto_route_target == AutoRouteTarget::Rfc8365)
    );

    let green = evpn
        .ip_vrfs
        .iter()
        .find(|v| v.name == "vrf100")
        .expect("vrf100");
    assert_eq!(green.l3vni, 100);
    assert_eq!(
        green.rd,
        Some(RouteDistinguisher::As2 {
            asn: 65500,
            number: 100
        })
    );
    assert_eq!(green.router_mac, MacAddress([0x02, 0x00, 10, 0, 0, 1]));
    assert_eq!(green.import_vrfs, ["vrf101"]);
    assert_eq!(green.import_route_map.as_deref(), Some("rm100-import"));
    assert_eq!(green.advertise_route_map.as_deref(), Some("rm100-export"));
    assert!(green.redistribute_connected);
}

#[test]
fn leaf_has_no_evpn_vnis() {
    let evpn = settings::evpn(&load("leaf1.nc-cli")).expect("EVPN settings");
    assert!(evpn.mac_vrfs.is_empty());
    assert!(evpn.ip_vrfs.is_empty());
}

#[test]
fn hna1_ospf_settings_track_bfd_on_uplinks() {
    let ospf = settings::ospf(&load("hna1.nc-cli")).expect("OSPF settings");
    assert_eq!(ospf.router_id, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(ospf.networks.len(), 1);
    assert!(ospf.interface_config("pci-b0s4").track_bfd);
    assert!(ospf.interface_config("pci-b0s5").track_bfd);
    assert!(!ospf.interface_config("loop0").track_bfd);
}

#[test]
fn ospf_dead_interval_defaults_to_four_hellos() {
    let text = "/ vrf main interface physical eth1 ipv4 address 10.0.1.1/24\n\
                / vrf main routing ospf router-id 1.1.1.1\n\
                / vrf main routing interface eth1 ip ospf hello-interval 1\n";
    let config = config::parse(text, Path::new("t")).unwrap();
    let ospf = settings::ospf(&config).unwrap();
    assert_eq!(ospf.interface_config("eth1").hello_interval, 1);
    assert_eq!(ospf.interface_config("eth1").dead_interval, 4);
}
