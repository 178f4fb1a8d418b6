//! Route leaking between the seed's tenants on top of the dataplane setup: green's pod
//! 10.60.0.1 and red's pod 10.62.0.1 reach each other over the plane's leak link between the
//! tenant namespaces, and teardown removes the link with the tenants.

#[path = "daemon_dataplane_support.rs"]
mod support;

use std::time::Duration;

use hna_rib::{Change, Entry, NextHop, RouteEntry, Southbound, VrfId};
use hna_testkit::wait_until;
use support::{Hna1, POD_PORTS, UPLINKS, links, namespaces, seed_config};

fn leaked(vrf: u32, prefix: &str, target: u32) -> Change {
    Change::Install(Entry::Route(RouteEntry::new(
        VrfId(vrf),
        prefix.parse().unwrap(),
        vec![NextHop::vrf(VrfId(target))],
    )))
}

#[test]
fn dataplane_tenants_reach_each_other_over_leak() {
    let mut hna = Hna1::new("dpk", &UPLINKS, &POD_PORTS);
    let (green, red) = (hna.tenant("vrf100"), hna.tenant("vrf101"));
    for (port, address, gateway) in [
        ("vho-1000000000", "10.60.0.1/16", "10.60.0.254"),
        ("veth-1000000002", "10.62.0.1/16", "10.62.0.254"),
    ] {
        let pod = &hna.pods[port];
        pod.ip(&["addr", "add", address, "dev", "eth0"]);
        pod.ip(&["route", "add", "default", "via", gateway]);
    }
    let report = hna.apply(&seed_config());
    assert!(report.is_complete(), "{report:?}");
    let green_pod = &hna.pods["vho-1000000000"];
    wait_until(
        Duration::from_secs(5),
        "green pod reaching its gateway",
        || green_pod.ping("10.60.0.254", 1).then_some(()),
    );
    assert!(
        !green_pod.ping("10.62.0.1", 1),
        "green reached red without a leaked route"
    );

    // Leaking configured both ways, as in the seed: green 10.60/16 <-> red 10.62/16.
    let results = hna.plane.apply(&[
        leaked(100, "10.62.0.0/16", 101),
        leaked(101, "10.60.0.0/16", 100),
    ]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    wait_until(Duration::from_secs(5), "green pod reaching red pod", || {
        green_pod.ping("10.62.0.1", 1).then_some(())
    });
    assert!(
        hna.pods["veth-1000000002"].ping("10.60.0.1", 1),
        "red pod cannot reach green pod"
    );
    assert!(links(&green).contains_key("lk100-101"));
    assert!(links(&red).contains_key("lk101-100"));

    let report = hna.dataplane.teardown(&mut hna.plane).expect("teardown");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!namespaces().contains(&green));
    assert!(!namespaces().contains(&red));
    let underlay = links(hna.underlay.name());
    assert!(
        !underlay.keys().any(|name| name.starts_with("lk")),
        "a leak link reached the underlay: {:?}",
        underlay.keys()
    );
}
