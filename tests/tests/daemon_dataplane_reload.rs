//! Reloading the dataplane setup of the seed router hna1: only what the new configuration
//! changes is touched, and pods' ports that appear after an apply are picked up.

#[path = "daemon_dataplane_support.rs"]
mod support;

use std::time::Duration;

use hna_rib::linux::Namespace;
use hna_rib::{PlaneEvent, Southbound, VrfId};
use hna_routed::config::{BridgeMember, Config};
use hna_testkit::{veth, wait_until};
use support::{
    Hna1, LinkMonitor, POD_PORTS, UPLINKS, addresses, bridge_ports, ifindexes, links, namespaces,
    seed_config,
};

/// Returns the seed configuration without tenant red, and with a third subnet in tenant green:
/// bridge br10002 (10.63.0.254/16) with VXLAN device vx10002 (VNI 10002). Red's pod port
/// stays configured, as an interface of the underlay.
fn reloaded_config() -> Config {
    let mut config = seed_config();
    config.l3vrfs.remove("vrf101");
    config.interfaces.retain(|name, interface| {
        interface.l3vrf.as_deref() != Some("vrf101")
            && !["vx101", "vx10100", "vx10101"].contains(&name.as_str())
    });

    let mut vxlan = config.interfaces["vx10001"].clone();
    vxlan.vxlan.as_mut().unwrap().vni = Some(10002);
    config.interfaces.insert("vx10002".into(), vxlan);
    let mut bridge = config.interfaces["br10001"].clone();
    bridge.ipv4_addresses = vec!["10.63.0.254/16".parse().unwrap()];
    bridge.bridge.as_mut().unwrap().members = vec![BridgeMember {
        name: "vx10002".into(),
        learning: Some(false),
    }];
    config.interfaces.insert("br10002".into(), bridge);
    config
}

/// Asserts that every link of `before` still has its ifindex in `after`, but those named in
/// `changed`.
fn assert_untouched(
    namespace: &str,
    before: &std::collections::BTreeMap<String, u64>,
    changed: &[&str],
) {
    let after = ifindexes(namespace);
    for (name, index) in before
        .iter()
        .filter(|(name, _)| !changed.contains(&name.as_str()))
    {
        assert_eq!(
            after.get(name),
            Some(index),
            "{name} in {namespace} was recreated or removed"
        );
    }
}

#[test]
fn dataplane_reload_changes_only_difference() {
    let mut hna = Hna1::new("dpr", &UPLINKS, &POD_PORTS);
    let seed = seed_config();
    let (green, red) = (hna.tenant("vrf100"), hna.tenant("vrf101"));
    let underlay = hna.underlay.name().to_string();
    let report = hna.apply(&seed);
    assert!(report.is_complete(), "{report:?}");
    let green_before = ifindexes(&green);
    let underlay_before = ifindexes(&underlay);

    // Reload: red goes, green gains a subnet.
    let green_monitor = LinkMonitor::start(&green);
    let report = hna.apply(&reloaded_config());
    let green_events = green_monitor.finish();

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.missing.is_empty(), "{:?}", report.missing);
    for change in &report.changes {
        let expected = ["br10002", "vx10002", "veth-1000000002", red.as_str()]
            .iter()
            .any(|name| change.contains(name));
        assert!(
            expected,
            "unexpected change {change:?} in {:?}",
            report.changes
        );
    }
    for event in &green_events {
        assert!(
            event.contains("br10002") || event.contains("vx10002"),
            "unexpected event in {green}: {event}"
        );
    }
    assert!(!green_events.is_empty(), "the new bridge caused no event");
    assert_untouched(&green, &green_before, &[]);
    assert_untouched(&underlay, &underlay_before, &[]);

    assert!(
        !namespaces().contains(&red),
        "{red} left after its l3vrf was removed"
    );
    assert_eq!(hna.plane.namespace(VrfId(101)), None);
    assert_eq!(
        hna.plane.namespace(VrfId(100)),
        Some(&Namespace::named(&green))
    );
    let under = links(&underlay);
    assert!(
        under.contains_key("veth-1000000002"),
        "red's pod port not back in the underlay"
    );
    assert!(under["veth-1000000002"].get("master").is_none());
    let red_pod = &hna.pods["veth-1000000002"];
    assert_eq!(
        red_pod
            .ip_json(&["link", "show", "eth0"])
            .as_array()
            .map(Vec::len),
        Some(1),
        "red's pod lost its link"
    );
    let green_links = links(&green);
    assert_eq!(green_links["br10002"]["address"], "00:00:00:00:01:01");
    assert_eq!(green_links["vx10002"]["linkinfo"]["info_data"]["id"], 10002);
    assert_eq!(
        addresses(&green, "br10002"),
        vec!["10.63.0.254/16".to_string()]
    );
    assert_eq!(
        bridge_ports(&green).get("vx10002").map(String::as_str),
        Some("br10002")
    );
    assert_eq!(hna.dataplane.kernel_name("br10002"), Some("br10002"));
    assert_eq!(
        hna.dataplane
            .interface("veth-1000000002")
            .unwrap()
            .namespace,
        None
    );

    // And back: red comes back with its pod's port, the third subnet goes.
    let green_before = ifindexes(&green);
    let report = hna.apply(&seed);
    assert!(report.is_complete(), "{report:?}");
    for change in &report.changes {
        let expected = ["br10002", "vx10002", "veth-1000000002", red.as_str()]
            .iter()
            .any(|name| change.contains(name));
        assert!(
            expected,
            "unexpected change {change:?} in {:?}",
            report.changes
        );
    }
    assert_untouched(&green, &green_before, &["br10002", "vx10002"]);
    assert!(!links(&green).contains_key("br10002"));
    assert!(!links(&green).contains_key("vx10002"));
    assert_eq!(
        bridge_ports(&red)
            .get("veth-1000000002")
            .map(String::as_str),
        Some("br10100")
    );
    assert!(hna.plane.namespace(VrfId(101)).is_some());

    let report = hna.dataplane.teardown(&mut hna.plane).expect("teardown");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
}

#[test]
fn dataplane_picks_up_late_ports() {
    let mut hna = Hna1::new("dpl", &["pci-b0s4"], &["vho-1000000000"]);
    let green = hna.tenant("vrf100");
    let underlay = hna.underlay.name().to_string();
    let mut events = hna.plane.subscribe().expect("subscribe to plane events");

    let report = hna.apply(&seed_config());

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let mut missing: Vec<(String, bool)> = report
        .missing
        .iter()
        .map(|missing| (missing.name.clone(), missing.required))
        .collect();
    missing.sort();
    let expected = vec![
        ("pci-b0s5".to_string(), true),
        ("veth-1000000002".to_string(), false),
        ("vho-1000000001".to_string(), false),
    ];
    assert_eq!(missing, expected);
    assert_eq!(
        hna.dataplane
            .pending()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["pci-b0s5", "veth-1000000002", "vho-1000000001"]
    );
    assert_eq!(
        bridge_ports(&green)
            .get("vho-1000000000")
            .map(String::as_str),
        Some("br10000")
    );

    // The tenant VRF was added to the plane after the subscription, and reports its links.
    wait_until(Duration::from_secs(5), "a link event of VRF 100", || {
        while let Ok(event) = events.try_recv() {
            if matches!(&event, PlaneEvent::Link { vrf: VrfId(100), name, .. } if name == "br10000")
            {
                return Some(());
            }
        }
        None
    });

    // A pod starts: its port appears in the underlay, the daemon hears of it and calls the hook.
    hna.add_pod("dpl", "vho-1000000001");
    wait_until(
        Duration::from_secs(5),
        "the link event of the new pod's port",
        || {
            while let Ok(event) = events.try_recv() {
                if matches!(&event, PlaneEvent::Link { vrf: VrfId::DEFAULT, name, .. } if name == "vho-1000000001")
                {
                    return Some(());
                }
            }
            None
        },
    );
    let report = hna
        .dataplane
        .link_appeared("vho-1000000001", &mut hna.plane)
        .expect("apply after the port appeared");
    let report = report.expect("the port was awaited");
    assert!(
        report
            .changes
            .iter()
            .any(|change| change.contains("moved port vho-1000000001")),
        "{:?}",
        report.changes
    );
    assert_eq!(
        bridge_ports(&green)
            .get("vho-1000000001")
            .map(String::as_str),
        Some("br10000")
    );
    assert!(!links(&underlay).contains_key("vho-1000000001"));
    assert!(!hna.dataplane.pending().contains("vho-1000000001"));
    let again = hna
        .dataplane
        .link_appeared("pci-b0s4", &mut hna.plane)
        .expect("hook for a present link");
    assert_eq!(
        again, None,
        "a link that was not awaited triggered an apply"
    );

    // The missing uplink is cabled later; the next apply configures it.
    veth(&hna.underlay, "pci-b0s5", &hna.leaf, "eth9", 1500);
    let report = hna.apply(&seed_config());
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(
        report
            .changes
            .iter()
            .any(|change| change.contains("set MTU 1600 on pci-b0s5")),
        "{:?}",
        report.changes
    );
    assert_eq!(links(&underlay)["pci-b0s5"]["mtu"], 1600);
    assert_eq!(
        addresses(&underlay, "pci-b0s5"),
        vec!["10.0.21.2/24".to_string()]
    );
    assert_eq!(
        report
            .missing
            .iter()
            .map(|missing| missing.name.as_str())
            .collect::<Vec<_>>(),
        ["veth-1000000002"]
    );

    let report = hna.dataplane.teardown(&mut hna.plane).expect("teardown");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(!namespaces().contains(&green));
}
