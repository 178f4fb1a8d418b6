//! Graceful restart (RFC 4724) with FRR 8.4 as helper: our speaker dies (its runtime is
//! dropped, as a process exit would close its sockets) and starts again with Restart State
//! set. FRR keeps our routes stale and withdraws none of them meanwhile; after our End-of-RIB
//! it sweeps the one we no longer announce. The second test has the roles swapped: FRR's bgpd
//! restarts while we keep its routes.

mod bgp_support;

use std::time::{Duration, Instant};

use bgp_support::{
    Speaker, frr_peer, ip, link, neighbor, options, our_config, wait_frr_established,
};
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
    config
        .neighbors
        .insert(ip("10.50.0.2"), neighbor(65002, &[AfiSafi::IPV4_UNICAST]));
    config
}

fn originate(speaker: &Speaker, prefixes: &[&str]) {
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        ..PathAttributes::default()
    };
    for prefix in prefixes {
        speaker.bgp.originate(
            AfiSafi::IPV4_UNICAST,
            Route::Ipv4(prefix.parse().unwrap()),
            attributes.clone(),
        );
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
                    || path["nexthops"]
                        .as_array()
                        .is_some_and(|n| n.iter().any(|h| h["ip"] == "10.50.0.1"));
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
fn our_restart_frr_keeps_then_sweeps() {
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
        if routes.len() == 3 {
            Ok(())
        } else {
            Err(routes)
        }
    });
    let capability = frr.json("show bgp neighbors 10.50.0.1 json");
    let gr = &capability["10.50.0.1"]["gracefulRestartInfo"];
    assert!(
        !gr.is_null(),
        "FRR saw no graceful restart capability: {capability}"
    );

    // Our process dies: no NOTIFICATION, the kernel closes the connection.
    speaker.kill();
    wait_until_ok(
        Duration::from_secs(20),
        "FRR marks our routes stale",
        || {
            let routes = frr_routes(&frr);
            if routes.len() == 3 && routes.iter().all(|(_, stale)| *stale) {
                Ok(())
            } else {
                Err(routes)
            }
        },
    );
    assert_ne!(
        frr_peer(&frr, "ipv4 unicast", "10.50.0.1")
            .and_then(|p| p["state"].as_str().map(str::to_string))
            .as_deref(),
        Some("Established")
    );

    // Down for a few seconds, during which every route stays in FRR's RIB.
    let down_until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < down_until {
        assert_eq!(
            frr_routes(&frr).len(),
            3,
            "FRR withdrew a route while we were down"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Back with Restart State; only two of the three routes are announced again.
    let restarted = SpawnOptions {
        start: hna_bgp::StartOptions {
            restarted: true,
            seed: 0,
        },
        ..options()
    };
    let speaker = Speaker::start(&ours, config(), restarted);
    originate(&speaker, &KEPT);
    speaker.bgp.local_routes_ready();

    // Until FRR swept: the kept routes never leave its RIB.
    let deadline = Instant::now() + Duration::from_secs(60);
    let final_routes = loop {
        let routes = frr_routes(&frr);
        for kept in KEPT {
            assert!(
                routes.iter().any(|(p, _)| p == kept),
                "FRR withdrew {kept} during the restart: {routes:?}"
            );
        }
        let swept = !routes.iter().any(|(p, _)| p == DROPPED);
        let fresh = routes.iter().all(|(_, stale)| !*stale);
        if swept && fresh {
            break routes;
        }
        assert!(
            Instant::now() < deadline,
            "FRR did not sweep after our End-of-RIB: {routes:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        final_routes,
        vec![(KEPT[0].to_string(), false), (KEPT[1].to_string(), false)]
    );
    speaker.wait_established("10.50.0.2", Duration::from_secs(5));

    // FRR saw the Restart State flag of our new OPEN.
    let neighbor = frr.json("show bgp neighbors 10.50.0.1 json");
    assert_eq!(
        neighbor["10.50.0.1"]["gracefulRestartInfo"]["rBit"], true,
        "{neighbor}"
    );
}

const RESTARTING_FRR: &str = "\
router bgp 65002
 bgp router-id 10.0.0.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp graceful-restart
 bgp graceful-restart preserve-fw-state
 bgp graceful-restart restart-time 120
 timers bgp 3 9
 neighbor 10.51.0.1 remote-as 65001
 neighbor 10.51.0.1 timers connect 5
 address-family ipv4 unicast
";

/// Our table's paths for `prefix`: their stale flags.
fn our_paths(speaker: &Speaker, prefix: &str) -> Vec<bool> {
    let table = speaker
        .block_on(speaker.bgp.table(AfiSafi::IPV4_UNICAST))
        .unwrap();
    table
        .routes
        .iter()
        .filter(|r| r.prefix == prefix)
        .flat_map(|r| r.paths.iter().map(|p| p.stale))
        .collect()
}

#[test]
fn helper_keeps_frr_routes_across_restart() {
    let ours = Netns::new("bgpgrh-us");
    let theirs = Netns::new("bgpgrh-frr");
    link(&ours, "eth0", "10.51.0.1", &theirs, "eth0", "10.51.0.2");
    let config = |networks: &[&str]| {
        let mut text = RESTARTING_FRR.to_string();
        for network in networks {
            text.push_str(&format!("  network {network}\n"));
        }
        text.push_str(" exit-address-family\n");
        text
    };
    let mut frr = Frr::start(
        &theirs,
        &["bgpd"],
        &config(&["10.64.1.0/24", "10.64.2.0/24"]),
    );

    let mut ours_config = our_config(65001, "10.0.0.1");
    ours_config.graceful_restart.enabled = true;
    ours_config
        .neighbors
        .insert(ip("10.51.0.2"), neighbor(65002, &[AfiSafi::IPV4_UNICAST]));
    let speaker = Speaker::start(&ours, ours_config, options());
    speaker.wait_established("10.51.0.2", Duration::from_secs(30));
    wait_until_ok(Duration::from_secs(20), "FRR's routes in our table", || {
        let found = (
            our_paths(&speaker, "10.64.1.0/24"),
            our_paths(&speaker, "10.64.2.0/24"),
        );
        if found == (vec![false], vec![false]) {
            Ok(())
        } else {
            Err(found)
        }
    });

    // bgpd dies; zebra stays, as after a crash of the BGP process alone.
    frr.kill_daemon("bgpd");
    wait_until_ok(Duration::from_secs(20), "FRR's routes kept stale", || {
        let found = (
            our_paths(&speaker, "10.64.1.0/24"),
            our_paths(&speaker, "10.64.2.0/24"),
        );
        if found == (vec![true], vec![true]) {
            Ok(())
        } else {
            Err(found)
        }
    });
    let detail = speaker.neighbor("10.51.0.2").unwrap();
    let helper = detail.graceful_restart_helper.expect("helper state");
    assert_eq!(helper.stale_families, vec!["ipv4-unicast".to_string()]);
    assert!(helper.restart_remaining_secs.is_some_and(|s| s <= 120));

    // bgpd comes back without 10.64.2.0/24.
    let dir = std::env::temp_dir().join("hna-tests").join(format!(
        "frr-{}-{}",
        theirs.name(),
        std::process::id()
    ));
    let conf = dir.join("frr.conf");
    let full = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("  network 10.64.2.0/24\n", "");
    std::fs::write(&conf, full).unwrap();
    let pid_file = format!("/var/run/frr/{}/bgpd.pid", theirs.name());
    let started = theirs.exec(
        "/usr/lib/frr/bgpd",
        &[
            "-N",
            theirs.name(),
            "-d",
            "-P",
            "0",
            "-f",
            conf.to_str().unwrap(),
            "-i",
            &pid_file,
        ],
    );
    assert!(
        started.status.success(),
        "bgpd restart: {}",
        String::from_utf8_lossy(&started.stderr)
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let kept = our_paths(&speaker, "10.64.1.0/24");
        assert_eq!(kept.len(), 1, "10.64.1.0/24 withdrawn during FRR's restart");
        let swept = our_paths(&speaker, "10.64.2.0/24").is_empty();
        if swept && kept == vec![false] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not swept after FRR's End-of-RIB: {kept:?}, swept {swept}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        speaker.state("10.51.0.2"),
        Some(hna_bgp::session::State::Established)
    );
    assert!(
        speaker
            .neighbor("10.51.0.2")
            .unwrap()
            .graceful_restart_helper
            .is_none()
    );
}
