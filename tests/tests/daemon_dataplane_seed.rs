//! The dataplane setup of the seed router hna1 in network namespaces. Every device, address,
//! MTU, MAC, bridge port and learning flag of the configuration is checked with `ip -j -d
//! link`, `ip -j addr` and `bridge -j link`. A second apply must change nothing, and teardown
//! must leave no namespace or device behind and return the pods' ports to the underlay.

#[path = "daemon_dataplane_support.rs"]
mod support;

use std::time::Duration;

use hna_rib::VrfId;
use hna_routed::dataplane::OWNER_ALIAS;
use hna_testkit::{run_ok, wait_until};
use serde_json::Value;
use support::{
    Hna1, LinkMonitor, POD_PORTS, UPLINKS, addresses, bridge_ports, ifindexes, links, namespaces,
    seed_config, sysctl,
};

const ROUTER_MAC: &str = "02:00:0a:00:00:01";
const GATEWAY_MAC: &str = "00:00:00:00:01:01";

fn flags(link: &Value) -> Vec<String> {
    link["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|flag| flag.as_str().unwrap().to_string())
        .collect()
}

fn assert_up(link: &Value) {
    assert!(
        flags(link).contains(&"UP".to_string()),
        "{} is not up: {:?}",
        link["ifname"],
        flags(link)
    );
}

/// Checks a subnet bridge of the seed: gateway MAC, MTU 1550, one address, up.
fn assert_subnet_bridge(namespace: &str, name: &str, address: &str) {
    let links = links(namespace);
    let bridge = links
        .get(name)
        .unwrap_or_else(|| panic!("no bridge {name} in {namespace}"));
    assert_eq!(bridge["linkinfo"]["info_kind"], "bridge", "{name}");
    assert_eq!(bridge["address"], GATEWAY_MAC, "{name}");
    assert_eq!(bridge["mtu"], 1550, "{name}");
    assert_eq!(bridge["ifalias"], OWNER_ALIAS, "{name}");
    assert_up(bridge);
    assert_eq!(
        addresses(namespace, name),
        vec![address.to_string()],
        "{name}"
    );
    assert_eq!(
        sysctl(namespace, &format!("net.ipv4.conf.{name}.arp_accept")),
        "1",
        "{name}"
    );
    assert_eq!(
        sysctl(
            namespace,
            &format!("net.ipv4.neigh.{name}.base_reachable_time_ms")
        ),
        "30000",
        "{name}"
    );
}

/// Checks a VXLAN device of the seed: VNI, local address, port, learning off on the device and
/// on its bridge port, MTU 1500, its bridge, up.
fn assert_vxlan(namespace: &str, name: &str, vni: u64, bridge: &str) {
    let links = links(namespace);
    let device = links
        .get(name)
        .unwrap_or_else(|| panic!("no VXLAN device {name} in {namespace}"));
    let info = &device["linkinfo"];
    assert_eq!(info["info_kind"], "vxlan", "{name}");
    assert_eq!(info["info_data"]["id"], vni, "{name}");
    assert_eq!(info["info_data"]["local"], "10.0.0.1", "{name}");
    assert_eq!(info["info_data"]["port"], 4789, "{name}");
    assert_eq!(info["info_data"]["learning"], false, "{name}");
    assert_eq!(info["info_slave_kind"], "bridge", "{name}");
    assert_eq!(
        info["info_slave_data"]["learning"], false,
        "{name}: learning on its bridge port"
    );
    assert_eq!(device["mtu"], 1500, "{name}");
    assert_eq!(device["master"], bridge, "{name}");
    assert_up(device);
}

/// Checks a pod's port: a veth, port of `bridge`, up.
fn assert_pod_port(namespace: &str, name: &str, bridge: &str) {
    let links = links(namespace);
    let port = links
        .get(name)
        .unwrap_or_else(|| panic!("no pod port {name} in {namespace}"));
    assert_eq!(port["linkinfo"]["info_kind"], "veth", "{name}");
    assert_eq!(port["master"], bridge, "{name}");
    assert_up(port);
}

#[test]
fn dataplane_builds_seed_hna1() {
    let mut hna = Hna1::new("dps", &UPLINKS, &POD_PORTS);
    let config = seed_config();
    let (green, red) = (hna.tenant("vrf100"), hna.tenant("vrf101"));
    let underlay = hna.underlay.name().to_string();

    let report = hna.apply(&config);

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(report.missing.is_empty(), "{:?}", report.missing);
    let listed = namespaces();
    assert!(listed.contains(&green), "{green} not in {listed:?}");
    assert!(listed.contains(&red), "{red} not in {listed:?}");

    // The underlay: uplinks with MTU and addresses, the loopback, no tenant device.
    let under = links(&underlay);
    for (uplink, address) in [("pci-b0s4", "10.0.11.2/24"), ("pci-b0s5", "10.0.21.2/24")] {
        assert_eq!(under[uplink]["mtu"], 1600, "{uplink}");
        assert_up(&under[uplink]);
        assert_eq!(addresses(&underlay, uplink), vec![address.to_string()]);
    }
    let loopback = hna
        .dataplane
        .kernel_name("loop0")
        .expect("loop0 placed")
        .to_string();
    if loopback == "lo" {
        assert!(
            !under.contains_key("loop0"),
            "loop0 placed on lo but a link loop0 exists"
        );
        assert!(
            addresses(&underlay, "lo").contains(&"10.0.0.1/32".to_string()),
            "{:?}",
            addresses(&underlay, "lo")
        );
    } else {
        assert_eq!(loopback, "loop0");
        assert_eq!(under["loop0"]["linkinfo"]["info_kind"], "dummy");
        assert_eq!(under["loop0"]["mtu"], 1600);
        assert_eq!(
            addresses(&underlay, "loop0"),
            vec!["10.0.0.1/32".to_string()]
        );
    }
    assert_up(&under[&loopback]);
    for port in POD_PORTS {
        assert!(
            !under.contains_key(port),
            "pod port {port} left in the underlay"
        );
    }
    assert!(
        !under
            .keys()
            .any(|name| name.starts_with("vx") || name.starts_with("br")),
        "{:?}",
        under.keys()
    );
    let sockets = hna.underlay.exec_ok("ss", &["-uln"]);
    assert!(
        sockets.contains(":4789"),
        "the VXLAN UDP socket is not in the underlay: {sockets}"
    );

    // Tenant green.
    assert_eq!(sysctl(&green, "net.ipv4.ip_forward"), "1");
    assert_eq!(sysctl(&green, "net.ipv4.conf.all.rp_filter"), "0");
    assert_eq!(links(&green)["lo"]["ifalias"], OWNER_ALIAS);
    assert_up(&links(&green)["lo"]);
    assert_subnet_bridge(&green, "br10000", "10.60.0.254/16");
    assert_subnet_bridge(&green, "br10001", "10.61.0.254/16");
    assert_vxlan(&green, "vx10000", 10000, "br10000");
    assert_vxlan(&green, "vx10001", 10001, "br10001");
    assert_vxlan(&green, "vx100", 100, "irb100");
    assert_pod_port(&green, "vho-1000000000", "br10000");
    assert_pod_port(&green, "vho-1000000001", "br10000");
    let green_links = links(&green);
    assert_eq!(green_links["irb100"]["linkinfo"]["info_kind"], "bridge");
    assert_eq!(green_links["irb100"]["address"], ROUTER_MAC);
    assert_up(&green_links["irb100"]);
    assert!(addresses(&green, "irb100").is_empty());
    let mut expected: Vec<&str> = vec![
        "lo",
        "br10000",
        "br10001",
        "irb100",
        "vx100",
        "vx10000",
        "vx10001",
        "vho-1000000000",
        "vho-1000000001",
    ];
    expected.sort();
    assert_eq!(
        green_links.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    let ports = bridge_ports(&green);
    let expected_ports = [
        ("vho-1000000000", "br10000"),
        ("vho-1000000001", "br10000"),
        ("vx100", "irb100"),
        ("vx10000", "br10000"),
        ("vx10001", "br10001"),
    ];
    assert_eq!(
        ports,
        expected_ports
            .iter()
            .map(|(port, bridge)| (port.to_string(), bridge.to_string()))
            .collect()
    );

    // Tenant red, with the same subnet 10.61.0.0/16 as green.
    assert_eq!(sysctl(&red, "net.ipv4.ip_forward"), "1");
    assert_subnet_bridge(&red, "br10100", "10.62.0.254/16");
    assert_subnet_bridge(&red, "br10101", "10.61.0.254/16");
    assert_vxlan(&red, "vx10100", 10100, "br10100");
    assert_vxlan(&red, "vx10101", 10101, "br10101");
    assert_vxlan(&red, "vx101", 101, "irb101");
    assert_pod_port(&red, "veth-1000000002", "br10100");
    assert_eq!(links(&red)["irb101"]["address"], ROUTER_MAC);
    assert_eq!(bridge_ports(&red).len(), 4, "{:?}", bridge_ports(&red));

    // The plane has the tenants' namespaces, and the dataplane returns where each interface is.
    assert!(hna.plane.namespace(VrfId(100)).is_some());
    assert!(hna.plane.namespace(VrfId(101)).is_some());
    let place = hna
        .dataplane
        .interface("vho-1000000000")
        .expect("pod port placed");
    assert_eq!(place.l3vrf.as_deref(), Some("vrf100"));
    assert_eq!(place.namespace.as_deref(), Some(green.as_str()));
    assert_eq!(hna.dataplane.kernel_name("pci-b0s4"), Some("pci-b0s4"));
    assert_eq!(hna.dataplane.interface("pci-b0s4").unwrap().namespace, None);
    assert!(hna.dataplane.pending().is_empty());

    // A second apply changes nothing: no change reported, no link or address event, the
    // same ifindexes.
    let before: Vec<_> = [&underlay, &green, &red]
        .iter()
        .map(|namespace| ifindexes(namespace))
        .collect();
    let monitors: Vec<LinkMonitor> = [&underlay, &green, &red]
        .iter()
        .map(|namespace| LinkMonitor::start(namespace))
        .collect();
    let report = hna.apply(&config);
    assert!(report.changes.is_empty(), "{:?}", report.changes);
    assert!(report.is_complete(), "{report:?}");
    for (monitor, namespace) in monitors.into_iter().zip([&underlay, &green, &red]) {
        let events = monitor.finish();
        assert!(
            events.is_empty(),
            "second apply caused events in {namespace}: {events:?}"
        );
    }
    let after: Vec<_> = [&underlay, &green, &red]
        .iter()
        .map(|namespace| ifindexes(namespace))
        .collect();
    assert_eq!(before, after);

    // Teardown: the tenants' namespaces and devices go, the pods' ports come back to the
    // underlay still joined to their pods, and the daemon's addresses leave the underlay.
    let report = hna.dataplane.teardown(&mut hna.plane).expect("teardown");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let listed = namespaces();
    assert!(!listed.contains(&green), "{green} left: {listed:?}");
    assert!(!listed.contains(&red), "{red} left: {listed:?}");
    assert!(hna.plane.namespace(VrfId(100)).is_none());
    let under = links(&underlay);
    for port in POD_PORTS {
        let link = under
            .get(port)
            .unwrap_or_else(|| panic!("pod port {port} not back in the underlay"));
        assert_eq!(link["linkinfo"]["info_kind"], "veth", "{port}");
        assert!(link.get("master").is_none(), "{port} still has a bridge");
        let pod = &hna.pods[port];
        assert!(
            pod.ip_json(&["link", "show", "eth0"])
                .as_array()
                .is_some_and(|links| links.len() == 1),
            "pod of {port} lost eth0"
        );
    }
    let ours: Vec<&String> = under
        .iter()
        .filter(|(_, link)| link["ifalias"] == OWNER_ALIAS)
        .map(|(name, _)| name)
        .collect();
    assert!(
        ours.is_empty(),
        "links of the daemon left in the underlay: {ours:?}"
    );
    let mut expected: Vec<String> = [
        "lo",
        "pci-b0s4",
        "pci-b0s5",
        "vho-1000000000",
        "vho-1000000001",
        "veth-1000000002",
    ]
    .iter()
    .map(|name| name.to_string())
    .collect();
    expected.sort();
    assert_eq!(under.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(
        addresses(&underlay, "pci-b0s4").is_empty(),
        "{:?}",
        addresses(&underlay, "pci-b0s4")
    );
    assert!(!addresses(&underlay, "lo").contains(&"10.0.0.1/32".to_string()));
    wait_until(Duration::from_secs(5), "the VXLAN sockets to close", || {
        let sockets = run_ok("ip", &["netns", "exec", &underlay, "ss", "-uln"]);
        (!sockets.contains(":4789")).then_some(())
    });
}

#[test]
fn dataplane_restart_adopts_existing_setup() {
    let mut hna = Hna1::new("dpa", &UPLINKS, &POD_PORTS);
    let config = seed_config();
    let (green, red) = (hna.tenant("vrf100"), hna.tenant("vrf101"));
    let underlay = hna.underlay.name().to_string();
    let report = hna.apply(&config);
    assert!(report.is_complete(), "{report:?}");
    let before: Vec<_> = [&underlay, &green, &red]
        .iter()
        .map(|namespace| ifindexes(namespace))
        .collect();

    // A restarted daemon finds everything in place and changes nothing.
    hna.restart();
    let report = hna.apply(&config);

    assert!(report.changes.is_empty(), "{:?}", report.changes);
    assert!(report.is_complete(), "{report:?}");
    let after: Vec<_> = [&underlay, &green, &red]
        .iter()
        .map(|namespace| ifindexes(namespace))
        .collect();
    assert_eq!(before, after);
    assert!(hna.plane.namespace(VrfId(100)).is_some());
    assert!(hna.plane.namespace(VrfId(101)).is_some());

    // It recognises what an earlier run created, and tears it down.
    let report = hna.dataplane.teardown(&mut hna.plane).expect("teardown");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let listed = namespaces();
    assert!(!listed.contains(&green), "{green} left: {listed:?}");
    assert!(!listed.contains(&red), "{red} left: {listed:?}");
    let under = links(&underlay);
    for port in POD_PORTS {
        assert!(
            under.contains_key(port),
            "pod port {port} not back in the underlay"
        );
    }
    let ours: Vec<&String> = under
        .iter()
        .filter(|(_, link)| link["ifalias"] == OWNER_ALIAS)
        .map(|(name, _)| name)
        .collect();
    assert!(
        ours.is_empty(),
        "links of the daemon left in the underlay: {ours:?}"
    );
}
