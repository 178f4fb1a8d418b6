//! Graceful restart (RFC 4724) with FRR 8.4 as helper: our speaker dies (its runtime is
//! dropped, as a process exit would close its sockets) and starts again with Restart State
//! set. FRR keeps our routes stale and withdraws none of them meanwhile; after our End-of-RIB
//! it sweeps the one we no longer announce.

mod bgp_support;

use std::time::{Duration, Instant};

use bgp_support::{Speaker, frr_peer, ip, link, neighbor, options, our_config, wait_frr_established};
use hna_bgp::message::{AsPath, Origin, PathAttributes};
use hna_bgp::rib::Route;
use hna_bgp::{AfiSafi, BgpConfig, SpawnOptions};
use hna_testkit::{Frr, Netns, wait_until_ok};

const FRR_CONFIG: &str = "\
router bgp 65002
 bgp router-id 10.0.0.2
 no bgp ebgp-requires-policy
 bgp graceful-restart
 bgp graceful-restart restart-time 120
 bgp graceful-restart stalepath-time 360
 timers bgp 3 9
 neighbor 10.50.0.1 remote-as 65001
 neighbor 10.50.0.1 timers connect 5
";

const KEPT: [&str; 2] = ["172.16.1.0/24", "172.16.2.0/24"];
const DROPPED: &str = "172.16.3.0/24";

fn config() -> BgpConfig {
    let mut config = our_config(65001, "10.0.0.1");
    config.graceful_restart.enabled = true;
    config.graceful_restart.restart_time = 120;
    config.graceful_restart.select_defer_time = 30;
    config.neighbors.insert(ip("10.50.0.2"), neighbor(65002, &[AfiSafi::IPV4_UNICAST]));
    config
}

fn originate(speaker: &Speaker, prefixes: &[&str]) {
    let attributes = PathAttributes { origin: Some(Origin::Igp), as_path: Some(AsPath::default()), ..PathAttributes::default() };
    for prefix in prefixes {
        speaker.bgp.originate(AfiSafi::IPV4_UNICAST, Route::Ipv4(prefix.parse().unwrap()), attributes.clone());
    }
}

/// FRR's paths for our prefixes: prefix -> stale flag of its path from us.
fn frr_routes(frr: &Frr) -> Vec<(String, bool)> {
    let json = frr.json("show bgp ipv4 unicast json");
    let mut found = Vec::new();
    if let Some(routes) = json["routes"].as_object() {
        for (prefix, paths) in routes {
            for path in paths.as_array().into_iter().flatten() {
                let from_us = path["peerId"] == "10.50.0.1"
                    || path["nexthops"].as_array().is_some_and(|n| n.iter().any(|h| h["ip"] == "10.50.0.1"));
                if from_us {
                    found.push((prefix.clone(), path["stale"].as_bool().unwrap_or(false)));
                }
            }
        }
    }
    found.sort();
    found
}

#[test]
fn graceful_restart_frr_keeps_routes_and_sweeps_after_end_of_rib() {
    let ours = Netns::new("bgpgr-us");
    let theirs = Netns::new("bgpgr-frr");
    link(&ours, "eth0", "10.50.0.1", &theirs, "eth0", "10.50.0.2");
    let frr = Frr::start(&theirs, &["bgpd"], FRR_CONFIG);

    let speaker = Speaker::start(&ours, config(), options());
    originate(&speaker, &[KEPT[0], KEPT[1], DROPPED]);
    speaker.wait_established("10.50.0.2", Duration::from_secs(30));
    wait_frr_established(&frr, "ipv4 unicast", "10.50.0.1", Duration::from_secs(10));
    wait_until_ok(Duration::from_secs(20), "FRR has our three routes", || {
        let routes = frr_routes(&frr);
        if routes.len() == 3 { Ok(()) } else { Err(routes) }
    });
    let capability = frr.json("show bgp neighbors 10.50.0.1 json");
    let gr = &capability["10.50.0.1"]["gracefulRestartInfo"];
    assert!(!gr.is_null(), "FRR saw no graceful restart capability: {capability}");

    // Our process dies: no NOTIFICATION, the kernel closes the connection.
    speaker.kill();
    wait_until_ok(Duration::from_secs(20), "FRR marks our routes stale", || {
        let routes = frr_routes(&frr);
        if routes.len() == 3 && routes.iter().all(|(_, stale)| *stale) { Ok(()) } else { Err(routes) }
    });
    assert_ne!(frr_peer(&frr, "ipv4 unicast", "10.50.0.1").and_then(|p| p["state"].as_str().map(str::to_string)).as_deref(), Some("Established"));

    // Down for a few seconds, during which every route stays in FRR's RIB.
    let down_until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < down_until {
        assert_eq!(frr_routes(&frr).len(), 3, "FRR withdrew a route while we were down");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Back with Restart State; only two of the three routes are announced again.
    let restarted = SpawnOptions { start: hna_bgp::StartOptions { restarted: true, seed: 0 }, ..options() };
    let speaker = Speaker::start(&ours, config(), restarted);
    originate(&speaker, &KEPT);
    speaker.bgp.local_routes_ready();

    // Until FRR swept: the kept routes never leave its RIB.
    let deadline = Instant::now() + Duration::from_secs(60);
    let final_routes = loop {
        let routes = frr_routes(&frr);
        for kept in KEPT {
            assert!(routes.iter().any(|(p, _)| p == kept), "FRR withdrew {kept} during the restart: {routes:?}");
        }
        let swept = !routes.iter().any(|(p, _)| p == DROPPED);
        let fresh = routes.iter().all(|(_, stale)| !*stale);
        if swept && fresh {
            break routes;
        }
        assert!(Instant::now() < deadline, "FRR did not sweep after our End-of-RIB: {routes:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(final_routes, vec![(KEPT[0].to_string(), false), (KEPT[1].to_string(), false)]);
    speaker.wait_established("10.50.0.2", Duration::from_secs(5));

    // FRR saw the Restart State flag of our new OPEN.
    let neighbor = frr.json("show bgp neighbors 10.50.0.1 json");
    assert_eq!(neighbor["10.50.0.1"]["gracefulRestartInfo"]["rBit"], true, "{neighbor}");
}
