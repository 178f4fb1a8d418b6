//! Our speaker against FRR 8.4 bgpd over eBGP ipv4-unicast: 10,000 prefixes each way, checked
//! on both sides.

mod bgp_support;

use std::time::{Duration, Instant};

use bgp_support::{
    Speaker, frr_prefixes, ip, link, neighbor, options, our_config, wait_frr_established,
};
use hna_bgp::AfiSafi;
use hna_bgp::message::{AsPath, Origin, PathAttributes};
use hna_bgp::rib::Route;
use hna_testkit::{Frr, Netns, wait_until_ok};

const PREFIXES: usize = 10_000;

/// Returns the `i`-th /24 of the block that starts at `first_octet.second_octet.0.0`.
fn nth_prefix(first_octet: u8, second_octet: u8, i: usize) -> String {
    format!(
        "{first_octet}.{}.{}.0/24",
        second_octet as usize + i / 256,
        i % 256
    )
}

#[test]
fn frr_ipv4_unicast_exchanges_10000_prefixes() {
    let ours = Netns::new("bgp4-us");
    let theirs = Netns::new("bgp4-frr");
    link(&ours, "eth0", "10.10.0.1", &theirs, "eth0", "10.10.0.2");

    // `network` statements need bgpd only; 10,000 static routes take staticd 8.4 many minutes.
    let mut frr_config = String::from(
        "router bgp 65002\n bgp router-id 10.0.0.2\n no bgp ebgp-requires-policy\n no bgp network import-check\n \
         timers bgp 3 9\n neighbor 10.10.0.1 remote-as 65001\n neighbor 10.10.0.1 timers connect 5\n \
         address-family ipv4 unicast\n",
    );
    for i in 0..PREFIXES {
        frr_config.push_str(&format!("  network {}\n", nth_prefix(10, 100, i)));
    }
    frr_config.push_str(" exit-address-family\n");
    let frr = Frr::start(&theirs, &["bgpd"], &frr_config);

    let mut config = our_config(65001, "10.0.0.1");
    config
        .neighbors
        .insert(ip("10.10.0.2"), neighbor(65002, &[AfiSafi::IPV4_UNICAST]));
    let speaker = Speaker::start(&ours, config, options());
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::default()),
        ..PathAttributes::default()
    };
    for i in 0..PREFIXES {
        let prefix = nth_prefix(172, 16, i).parse().unwrap();
        speaker.bgp.originate(
            AfiSafi::IPV4_UNICAST,
            Route::Ipv4(prefix),
            attributes.clone(),
        );
    }

    let started = Instant::now();
    speaker.wait_established("10.10.0.2", Duration::from_secs(30));
    wait_frr_established(&frr, "ipv4 unicast", "10.10.0.1", Duration::from_secs(10));

    // Both sides accept 10,000 prefixes from the other. Each also advertises the other's
    // routes back to it, as FRR 8.4 does over eBGP, where the AS-path loop check drops them:
    // 20,000 sent each way.
    let sent_each_way = 2 * PREFIXES as u64;
    let ours_counts = wait_until_ok(
        Duration::from_secs(60),
        "our prefix counts",
        || match speaker.prefix_counts("10.10.0.2", AfiSafi::IPV4_UNICAST) {
            Some((_, accepted, sent)) if accepted == PREFIXES as u64 && sent == sent_each_way => {
                Ok((accepted, sent))
            }
            other => Err(other),
        },
    );
    let frr_counts =
        wait_until_ok(
            Duration::from_secs(60),
            "FRR prefix counts",
            || match frr_prefixes(&frr, "ipv4 unicast", "10.10.0.1") {
                Some((received, sent)) if received == PREFIXES as u64 && sent == sent_each_way => {
                    Ok((received, sent))
                }
                other => Err(other),
            },
        );
    eprintln!(
        "10,000 prefixes each way in {:?} after Established",
        started.elapsed()
    );
    assert_eq!(ours_counts, (PREFIXES as u64, sent_each_way));
    assert_eq!(frr_counts, (PREFIXES as u64, sent_each_way));

    // FRR's copy of one of our routes: our AS path and our address as next hop.
    let route = frr.json("show bgp ipv4 unicast 172.16.5.0/24 json");
    let path = &route["paths"][0];
    assert_eq!(path["nexthops"][0]["ip"], "10.10.0.1", "{route}");
    assert_eq!(path["aspath"]["string"], "65001", "{route}");

    // Our copy of one of FRR's: its AS path and next hop.
    let table = speaker
        .block_on(speaker.bgp.table(AfiSafi::IPV4_UNICAST))
        .unwrap();
    let learned = table
        .routes
        .iter()
        .find(|r| r.prefix == "10.100.7.0/24")
        .expect("FRR route in our table");
    assert_eq!(learned.paths[0].next_hop, Some(ip("10.10.0.2")));
    assert_eq!(learned.paths[0].as_path, "65002");
    assert!(learned.paths[0].best);
}
