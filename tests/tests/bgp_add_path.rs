//! Add-path (RFC 7911) with FRR 8.4 over ipv4-unicast: negotiated in both directions, FRR's
//! paths arrive with their path identifiers, and ours reach FRR.

mod bgp_support;

use std::time::Duration;

use bgp_support::{Speaker, ip, link, neighbor, options, our_config, wait_frr_established};
use hna_bgp::AfiSafi;
use hna_bgp::config::FamilySettings;
use hna_bgp::message::{AddPathDirection, AsPath, Origin, PathAttributes};
use hna_bgp::rib::Route;
use hna_testkit::{Frr, Netns, wait_until_ok};

const FRR_CONFIG: &str = "\
router bgp 65002
 bgp router-id 10.0.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 timers bgp 3 9
 neighbor 10.11.0.1 remote-as 65001
 neighbor 10.11.0.1 timers connect 5
 address-family ipv4 unicast
  network 10.65.0.0/24
  neighbor 10.11.0.1 addpath-tx-all-paths
 exit-address-family
";

#[test]
fn add_path_both_directions_with_frr() {
    let ours = Netns::new("bgpap-us");
    let theirs = Netns::new("bgpap-frr");
    link(&ours, "eth0", "10.11.0.1", &theirs, "eth0", "10.11.0.2");
    let frr = Frr::start(&theirs, &["bgpd"], FRR_CONFIG);

    let mut config = our_config(65001, "10.0.0.1");
    let mut peer = neighbor(65002, &[AfiSafi::IPV4_UNICAST]);
    peer.families.insert(
        AfiSafi::IPV4_UNICAST,
        FamilySettings {
            add_path: Some(AddPathDirection::Both),
            ..FamilySettings::default()
        },
    );
    config.neighbors.insert(ip("10.11.0.2"), peer);
    let speaker = Speaker::start(&ours, config, options());
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        ..PathAttributes::default()
    };
    speaker.bgp.originate(
        AfiSafi::IPV4_UNICAST,
        Route::Ipv4("172.16.9.0/24".parse().unwrap()),
        attributes,
    );
    speaker.wait_established("10.11.0.2", Duration::from_secs(30));
    wait_frr_established(&frr, "ipv4 unicast", "10.11.0.1", Duration::from_secs(10));

    let capabilities = speaker
        .neighbor("10.11.0.2")
        .unwrap()
        .capabilities
        .expect("Established");
    assert_eq!(
        capabilities.add_path_receive,
        vec!["ipv4-unicast".to_string()]
    );
    assert_eq!(capabilities.add_path_send, vec!["ipv4-unicast".to_string()]);

    // FRR's route arrives with the path identifier FRR gave it.
    let path_id = wait_until_ok(
        Duration::from_secs(20),
        "FRR's route with a path identifier",
        || {
            let table = speaker
                .block_on(speaker.bgp.table(AfiSafi::IPV4_UNICAST))
                .unwrap();
            let path = table
                .routes
                .iter()
                .find(|r| r.prefix == "10.65.0.0/24")
                .and_then(|r| r.paths.first().cloned());
            match path.as_ref().and_then(|p| p.path_id) {
                Some(id) => Ok(id),
                None => Err(path),
            }
        },
    );
    assert!(path_id > 0, "FRR numbers its paths from 1");

    // Ours arrives at FRR, decoded with our identifier.
    let route = wait_until_ok(Duration::from_secs(20), "our route at FRR", || {
        let json = frr.json("show bgp ipv4 unicast 172.16.9.0/24 json");
        if json["paths"].as_array().is_some_and(|p| !p.is_empty()) {
            Ok(json)
        } else {
            Err(json)
        }
    });
    let path = &route["paths"][0];
    assert_eq!(path["nexthops"][0]["ip"], "10.11.0.1", "{route}");
    // The RIB advertises one path per route, with identifier 1.
    assert_eq!(path["addpathRxId"], 1, "path identifier at FRR: {route}");
}
