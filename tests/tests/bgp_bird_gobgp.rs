//! Our speaker against BIRD 2 and GoBGP over eBGP ipv4-unicast: both sessions Established and
//! routes exchanged both ways, checked with `birdc show route` and `gobgp global rib -j`.

mod bgp_support;

use std::time::Duration;

use bgp_support::{Speaker, ip, link, neighbor, options, our_config};
use hna_bgp::AfiSafi;
use hna_bgp::message::{AsPath, Origin, PathAttributes};
use hna_bgp::rib::Route;
use hna_testkit::{Bird, Gobgp, Netns, wait_until_ok};

const BIRD_CONFIG: &str = "\
router id 10.0.0.3;
protocol device {}
protocol static announced {
  ipv4;
  route 10.30.0.0/24 blackhole;
  route 10.30.1.0/24 blackhole;
}
protocol bgp ours {
  local 10.20.0.2 as 65003;
  neighbor 10.20.0.1 as 65001;
  hold time 9;
  keepalive time 3;
  connect retry time 5;
  ipv4 { import all; export where source = RTS_STATIC; };
}
";

const GOBGP_CONFIG: &str = r#"
[global.config]
  as = 65004
  router-id = "10.0.0.4"
  port = 179

[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.21.0.1"
    peer-as = 65001
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 5
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
"#;

#[test]
fn bird_and_gobgp_exchange_ipv4_routes() {
    let ours = Netns::new("bgpbg-us");
    let bird_ns = Netns::new("bgpbg-bird");
    let gobgp_ns = Netns::new("bgpbg-gobgp");
    link(&ours, "eth0", "10.20.0.1", &bird_ns, "eth0", "10.20.0.2");
    link(&ours, "eth1", "10.21.0.1", &gobgp_ns, "eth0", "10.21.0.2");

    let bird = Bird::start(&bird_ns, BIRD_CONFIG);
    let gobgp = Gobgp::start(&gobgp_ns, GOBGP_CONFIG);
    gobgp.client(&["global", "rib", "add", "10.40.0.0/24", "-a", "ipv4"]);

    let mut config = our_config(65001, "10.0.0.1");
    config
        .neighbors
        .insert(ip("10.20.0.2"), neighbor(65003, &[AfiSafi::IPV4_UNICAST]));
    config
        .neighbors
        .insert(ip("10.21.0.2"), neighbor(65004, &[AfiSafi::IPV4_UNICAST]));
    let speaker = Speaker::start(&ours, config, options());
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        ..PathAttributes::default()
    };
    speaker.bgp.originate(
        AfiSafi::IPV4_UNICAST,
        Route::Ipv4("172.16.1.0/24".parse().unwrap()),
        attributes,
    );

    speaker.wait_established("10.20.0.2", Duration::from_secs(30));
    speaker.wait_established("10.21.0.2", Duration::from_secs(30));
    wait_until_ok(Duration::from_secs(10), "BIRD session Established", || {
        let text = bird.birdc("show protocols ours");
        if text.contains("Established") {
            Ok(())
        } else {
            Err(text)
        }
    });
    wait_until_ok(Duration::from_secs(10), "GoBGP session established", || {
        let json = gobgp.json(&["neighbor"]);
        let state = json[0]["state"]["session_state"].clone();
        if state == 6 || state == "established" {
            Ok(())
        } else {
            Err(json)
        }
    });

    // BIRD has our route and GoBGP's, through us; GoBGP has ours and BIRD's.
    let bird_routes = wait_until_ok(Duration::from_secs(20), "routes in BIRD", || {
        let text = bird.birdc("show route protocol ours");
        if text.contains("172.16.1.0/24") && text.contains("10.40.0.0/24") {
            Ok(text)
        } else {
            Err(text)
        }
    });
    eprintln!("BIRD: {bird_routes}");
    assert!(
        bird_routes.contains("10.20.0.1"),
        "next hop of our routes in BIRD: {bird_routes}"
    );
    let gobgp_rib = wait_until_ok(Duration::from_secs(20), "routes in GoBGP", || {
        let json = gobgp.json(&["global", "rib"]);
        let has = |prefix: &str| json.get(prefix).is_some();
        if has("172.16.1.0/24") && has("10.30.0.0/24") && has("10.30.1.0/24") {
            Ok(json)
        } else {
            Err(json)
        }
    });
    eprintln!("GoBGP: {gobgp_rib}");
    let path = &gobgp_rib["172.16.1.0/24"][0];
    let attrs = path["attrs"].as_array().expect("attrs");
    let next_hop = attrs
        .iter()
        .find_map(|a| a.get("nexthop"))
        .expect("NEXT_HOP attribute");
    assert_eq!(next_hop, "10.21.0.1", "{path}");

    // Our side: both peers' routes, with their AS paths.
    wait_until_ok(Duration::from_secs(20), "routes in our table", || {
        let table = speaker
            .block_on(speaker.bgp.table(AfiSafi::IPV4_UNICAST))
            .unwrap();
        let path_of = |prefix: &str| {
            table
                .routes
                .iter()
                .find(|r| r.prefix == prefix)
                .map(|r| r.paths[0].as_path.clone())
        };
        match (
            path_of("10.30.0.0/24"),
            path_of("10.30.1.0/24"),
            path_of("10.40.0.0/24"),
        ) {
            (Some(a), Some(b), Some(c)) if a == "65003" && b == "65003" && c == "65004" => Ok(()),
            other => Err(other),
        }
    });
    let bird_counts = speaker
        .prefix_counts("10.20.0.2", AfiSafi::IPV4_UNICAST)
        .unwrap();
    assert_eq!(bird_counts.1, 2, "accepted from BIRD");
    let gobgp_counts = speaker
        .prefix_counts("10.21.0.2", AfiSafi::IPV4_UNICAST)
        .unwrap();
    assert_eq!(gobgp_counts.1, 1, "accepted from GoBGP");
}
