//! The Linux plane against the kernel in network namespaces: routes, neighbor, FDB and flood
//! entries installed and removed, compared with `ip -j` and `bridge -j`; per-entry failures;
//! tenants with the same prefix in separate VRF namespaces; and the event stream.

use std::net::IpAddr;
use std::time::Duration;

use hna_rib::linux::{L3VniDevices, LinuxPlane, Namespace};
use hna_rib::{
    Change, Entry, EntryKey, FloodEntry, MacAddr, MacEntry, NeighborEntry, NextHop, PlaneError,
    PlaneEvent, RouteEntry, Southbound, Vni, VrfId, VxlanEncap,
};
use hna_testkit::{Netns, run_ok, wait_until};
use serde_json::Value;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn mac(text: &str) -> MacAddr {
    text.parse().unwrap()
}

fn vni(value: u32) -> Vni {
    Vni::new(value).unwrap()
}

fn route(vrf: VrfId, prefix: &str, next_hops: Vec<NextHop>) -> Entry {
    Entry::Route(RouteEntry::new(vrf, prefix.parse().unwrap(), next_hops))
}

/// Creates the plane on a thread inside `ns`, so that its default VRF is that namespace.
fn plane_in(ns: &Netns) -> LinuxPlane {
    ns.spawn(|| LinuxPlane::new().expect("create Linux plane"))
        .join()
        .expect("plane thread")
}

/// A namespace with two uplinks (veth pairs whose peers stay in the namespace, because this
/// kernel has no dummy devices), and a bridge br100 with the VXLAN device vx100 (VNI 100).
fn leaf(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.sh(
        "ip link add eth0 type veth peer name eth0p && ip link set eth0p up
         ip link set eth0 up && ip addr add 10.0.11.2/24 dev eth0
         ip link add eth1 type veth peer name eth1p && ip link set eth1p up
         ip link set eth1 up && ip addr add 10.0.21.2/24 dev eth1
         ip addr add 10.0.0.1/32 dev lo
         ip link add br100 type bridge && ip link set br100 up && ip addr add 10.60.0.254/16 dev br100
         ip link add vx100 type vxlan id 100 local 10.0.0.1 dstport 4789 nolearning
         ip link set vx100 master br100 && ip link set vx100 up",
    );
    ns
}

fn assert_all_ok(results: &[Result<(), PlaneError>]) {
    for (index, result) in results.iter().enumerate() {
        assert!(result.is_ok(), "change {index} failed: {result:?}");
    }
}

/// Our routes in `ns`, as `ip -j route show proto 201` lists them (IPv4 main table).
fn kernel_routes(ns: &Netns) -> Vec<Value> {
    ns.ip_json(&["route", "show", "proto", "201"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn kernel_route(ns: &Netns, prefix: &str) -> Option<Value> {
    kernel_routes(ns)
        .into_iter()
        .find(|route| route["dst"] == prefix)
}

/// `(mac, dst, flags)` of the `self` FDB entries of `device`.
fn vxlan_fdb(ns: &Netns, device: &str) -> Vec<(String, String, Vec<String>)> {
    let entries = ns.bridge_json(&["fdb", "show", "dev", device]);
    let mut found: Vec<(String, String, Vec<String>)> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["dst"].is_string())
        .map(|entry| {
            let flags = entry["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|flag| flag.as_str().unwrap().to_string())
                .collect();
            (
                entry["mac"].as_str().unwrap().to_string(),
                entry["dst"].as_str().unwrap().to_string(),
                flags,
            )
        })
        .collect();
    found.sort();
    found
}

/// The bridge's own (`master`) FDB entries on `device`, by MAC.
fn bridge_fdb_macs(ns: &Netns, device: &str) -> Vec<String> {
    let entries = ns.bridge_json(&["fdb", "show", "dev", device]);
    entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["master"].is_string() && entry["state"] != "permanent")
        .map(|entry| entry["mac"].as_str().unwrap().to_string())
        .collect()
}

fn neighbor(ns: &Netns, device: &str, address: &str) -> Option<Value> {
    let entries = ns.ip_json(&["neigh", "show", "dev", device]);
    entries
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["dst"] == address)
        .cloned()
}

#[test]
fn linux_plane_installs_and_removes_entries() {
    let ns = leaf("rib-entries");
    let mut plane = plane_in(&ns);
    plane.bind_l2vni(vni(100), VrfId::DEFAULT, "vx100").unwrap();
    let vrf = VrfId::DEFAULT;
    let entries = vec![
        route(
            vrf,
            "192.0.2.0/24",
            vec![
                NextHop::via(ip("10.0.11.1"), "eth0"),
                NextHop::via(ip("10.0.21.1"), "eth1"),
            ],
        ),
        route(
            vrf,
            "198.51.100.0/24",
            vec![NextHop::via(ip("10.9.9.9"), "eth0").onlink()],
        ),
        route(vrf, "203.0.113.0/24", vec![NextHop::connected("eth1")]),
        Entry::Neighbor(NeighborEntry {
            vrf,
            interface: "br100".into(),
            ip: ip("10.60.0.5"),
            mac: mac("02:00:00:00:60:05"),
        }),
        Entry::Mac(MacEntry {
            vni: vni(100),
            mac: mac("02:00:00:00:60:07"),
            vtep: ip("10.0.0.2"),
        }),
        Entry::Flood(FloodEntry {
            vni: vni(100),
            vtep: ip("10.0.0.2"),
        }),
        Entry::Flood(FloodEntry {
            vni: vni(100),
            vtep: ip("10.0.0.3"),
        }),
    ];
    let install: Vec<Change> = entries.iter().cloned().map(Change::Install).collect();

    assert_all_ok(&plane.apply(&install));
    // Applying the same batch again changes nothing and fails nothing.
    assert_all_ok(&plane.apply(&install));

    let ecmp = kernel_route(&ns, "192.0.2.0/24").expect("ECMP route installed");
    let mut gateways: Vec<(String, String)> = ecmp["nexthops"]
        .as_array()
        .expect("multipath route")
        .iter()
        .map(|hop| {
            (
                hop["gateway"].as_str().unwrap().to_string(),
                hop["dev"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    gateways.sort();
    assert_eq!(
        gateways,
        vec![
            ("10.0.11.1".into(), "eth0".into()),
            ("10.0.21.1".into(), "eth1".into())
        ]
    );
    assert_eq!(ecmp["metric"], 20);

    let onlink = kernel_route(&ns, "198.51.100.0/24").expect("on-link route installed");
    assert_eq!(onlink["gateway"], "10.9.9.9");
    assert_eq!(onlink["dev"], "eth0");
    assert_eq!(onlink["flags"], serde_json::json!(["onlink"]));

    let connected = kernel_route(&ns, "203.0.113.0/24").expect("connected route installed");
    assert_eq!(connected["dev"], "eth1");
    assert_eq!(connected["scope"], "link");
    assert_eq!(kernel_routes(&ns).len(), 3);

    let entry = neighbor(&ns, "br100", "10.60.0.5").expect("neighbor installed");
    assert_eq!(entry["lladdr"], "02:00:00:00:60:05");
    assert!(
        entry.get("extern_learn").is_some(),
        "neighbor not marked extern_learn: {entry}"
    );

    let extern_learn_self = vec!["self".to_string(), "extern_learn".to_string()];
    assert_eq!(
        vxlan_fdb(&ns, "vx100"),
        vec![
            (
                "00:00:00:00:00:00".into(),
                "10.0.0.2".into(),
                extern_learn_self.clone()
            ),
            (
                "00:00:00:00:00:00".into(),
                "10.0.0.3".into(),
                extern_learn_self.clone()
            ),
            (
                "02:00:00:00:60:07".into(),
                "10.0.0.2".into(),
                extern_learn_self.clone()
            ),
        ]
    );
    assert_eq!(
        bridge_fdb_macs(&ns, "vx100"),
        vec!["02:00:00:00:60:07".to_string()]
    );

    // The plane reads back exactly what it installed.
    let mut held = plane.dump().unwrap();
    let mut expected = entries.clone();
    held.sort_by_key(Entry::key);
    expected.sort_by_key(Entry::key);
    assert_eq!(held, expected);

    let remove: Vec<Change> = entries
        .iter()
        .map(|entry| Change::Remove(entry.key()))
        .collect();
    assert_all_ok(&plane.apply(&remove));
    assert_all_ok(&plane.apply(&remove));

    assert!(kernel_routes(&ns).is_empty(), "{:?}", kernel_routes(&ns));
    assert!(neighbor(&ns, "br100", "10.60.0.5").is_none());
    assert!(
        vxlan_fdb(&ns, "vx100").is_empty(),
        "{:?}",
        vxlan_fdb(&ns, "vx100")
    );
    assert!(bridge_fdb_macs(&ns, "vx100").is_empty());
    assert!(plane.dump().unwrap().is_empty());
}

#[test]
fn linux_plane_missing_device_fails_only_its_entry() {
    let ns = leaf("rib-missing");
    let mut plane = plane_in(&ns);
    let vrf = VrfId::DEFAULT;
    let changes = vec![
        Change::Install(route(
            vrf,
            "192.0.2.0/24",
            vec![NextHop::via(ip("10.0.11.1"), "nosuch0")],
        )),
        Change::Install(Entry::Neighbor(NeighborEntry {
            vrf,
            interface: "nosuch1".into(),
            ip: ip("10.60.0.5"),
            mac: mac("02:00:00:00:60:05"),
        })),
        Change::Install(route(
            vrf,
            "198.51.100.0/24",
            vec![NextHop::via(ip("10.0.11.1"), "eth0")],
        )),
        // The kernel rejects this one: the gateway is on no subnet of eth1 and not on-link.
        Change::Install(route(
            vrf,
            "198.51.101.0/24",
            vec![NextHop::via(ip("10.99.0.1"), "eth1")],
        )),
        Change::Install(Entry::Mac(MacEntry {
            vni: vni(100),
            mac: mac("02:00:00:00:60:07"),
            vtep: ip("10.0.0.2"),
        })),
        Change::Install(Entry::Neighbor(NeighborEntry {
            vrf,
            interface: "br100".into(),
            ip: ip("10.60.0.6"),
            mac: mac("02:00:00:00:60:06"),
        })),
    ];

    let results = plane.apply(&changes);

    assert_eq!(
        results[0],
        Err(PlaneError::MissingDevice {
            vrf,
            name: "nosuch0".into()
        })
    );
    assert_eq!(
        results[1],
        Err(PlaneError::MissingDevice {
            vrf,
            name: "nosuch1".into()
        })
    );
    assert_eq!(results[2], Ok(()));
    assert!(
        matches!(&results[3], Err(PlaneError::Kernel { errno, .. }) if *errno != 0),
        "{:?}",
        results[3]
    );
    assert_eq!(results[4], Err(PlaneError::UnboundVni(vni(100))));
    assert_eq!(results[5], Ok(()));
    assert!(kernel_route(&ns, "198.51.100.0/24").is_some());
    assert!(kernel_route(&ns, "198.51.101.0/24").is_none());
    assert!(neighbor(&ns, "br100", "10.60.0.6").is_some());
}

/// Two tenants with the same subnet 10.61.0.0/16 and the same host 10.61.0.3, each in its VRF
/// namespace, routed differently; the VXLAN devices are created in the underlay and moved in.
#[test]
fn linux_plane_keeps_tenants_apart() {
    let underlay = leaf("rib-tenants");
    let green = Netns::new("rib-green");
    let red = Netns::new("rib-red");
    for (ns, vni_l3, vni_l2, rmac) in [
        (&green, 200, 10001, "02:00:00:00:01:01"),
        (&red, 201, 10101, "02:00:00:00:01:02"),
    ] {
        underlay.sh(&format!(
            "ip link add vxl3 type vxlan id {vni_l3} local 10.0.0.1 dstport 4789 nolearning
             ip link add vxl2 type vxlan id {vni_l2} local 10.0.0.1 dstport 4789 nolearning
             ip link set vxl3 netns {ns} && ip link set vxl2 netns {ns}",
            ns = ns.name()
        ));
        ns.sh(&format!(
            "ip link add brl3 type bridge && ip link set brl3 address {rmac} && ip link set brl3 up
             ip link set vxl3 master brl3 && ip link set vxl3 up
             ip link add br1 type bridge && ip link set br1 up && ip addr add 10.61.0.254/16 dev br1
             ip link set vxl2 master br1 && ip link set vxl2 up
             ip link add pod0 type veth peer name pod0p && ip link set pod0p up
             ip link set pod0 up && ip addr add 10.70.0.1/24 dev pod0"
        ));
    }
    let mut plane = plane_in(&underlay);
    let (green_vrf, red_vrf) = (VrfId(100), VrfId(101));
    plane
        .add_vrf(green_vrf, Namespace::named(green.name()))
        .unwrap();
    plane
        .add_vrf(red_vrf, Namespace::named(red.name()))
        .unwrap();
    plane
        .bind_l3vni(
            green_vrf,
            L3VniDevices {
                vni: vni(200),
                vxlan: "vxl3".into(),
                svi: "brl3".into(),
            },
        )
        .unwrap();
    plane
        .bind_l3vni(
            red_vrf,
            L3VniDevices {
                vni: vni(201),
                vxlan: "vxl3".into(),
                svi: "brl3".into(),
            },
        )
        .unwrap();
    plane.bind_l2vni(vni(10001), green_vrf, "vxl2").unwrap();
    plane.bind_l2vni(vni(10101), red_vrf, "vxl2").unwrap();

    let remote_rmac = mac("02:00:00:00:02:01");
    let encap = VxlanEncap {
        vtep: ip("10.0.0.2"),
        vni: vni(200),
        router_mac: remote_rmac,
    };
    let host = mac("02:00:00:00:61:03");
    let entries = vec![
        // Green reaches 10.61.0.3 over VXLAN (symmetric IRB), red through its local pod port.
        route(
            green_vrf,
            "10.61.0.3/32",
            vec![NextHop::vxlan(encap.clone())],
        ),
        route(
            red_vrf,
            "10.61.0.3/32",
            vec![NextHop::via(ip("10.70.0.2"), "pod0")],
        ),
        route(
            green_vrf,
            "10.80.0.0/16",
            vec![NextHop::vxlan(encap.clone())],
        ),
        Entry::Neighbor(NeighborEntry {
            vrf: green_vrf,
            interface: "br1".into(),
            ip: ip("10.61.0.3"),
            mac: host,
        }),
        Entry::Mac(MacEntry {
            vni: vni(10001),
            mac: host,
            vtep: ip("10.0.0.2"),
        }),
        Entry::Flood(FloodEntry {
            vni: vni(10101),
            vtep: ip("10.0.0.3"),
        }),
    ];
    assert_all_ok(
        &plane.apply(
            &entries
                .iter()
                .cloned()
                .map(Change::Install)
                .collect::<Vec<_>>(),
        ),
    );

    let green_route = kernel_route(&green, "10.61.0.3").expect("green host route");
    assert_eq!(green_route["gateway"], "10.0.0.2");
    assert_eq!(green_route["dev"], "brl3");
    assert_eq!(green_route["flags"], serde_json::json!(["onlink"]));
    let red_route = kernel_route(&red, "10.61.0.3").expect("red host route");
    assert_eq!(red_route["gateway"], "10.70.0.2");
    assert_eq!(red_route["dev"], "pod0");
    assert!(
        kernel_routes(&underlay).is_empty(),
        "tenant routes leaked into the underlay"
    );
    assert!(
        kernel_route(&red, "10.80.0.0/16").is_none(),
        "green route leaked into red"
    );

    // Symmetric IRB: the remote router MAC as the VTEP's neighbor on the SVI and in the L3VNI
    // device's FDB, once for both routes.
    let rmac_neighbor = neighbor(&green, "brl3", "10.0.0.2").expect("router MAC neighbor");
    assert_eq!(rmac_neighbor["lladdr"], remote_rmac.to_string());
    let self_flags = vec!["self".to_string(), "extern_learn".to_string()];
    assert_eq!(
        vxlan_fdb(&green, "vxl3"),
        vec![(
            remote_rmac.to_string(),
            "10.0.0.2".into(),
            self_flags.clone()
        )]
    );
    assert!(neighbor(&red, "brl3", "10.0.0.2").is_none());
    assert_eq!(
        vxlan_fdb(&green, "vxl2"),
        vec![(host.to_string(), "10.0.0.2".into(), self_flags.clone())]
    );
    assert_eq!(
        vxlan_fdb(&red, "vxl2"),
        vec![(
            "00:00:00:00:00:00".into(),
            "10.0.0.3".into(),
            self_flags.clone()
        )]
    );
    assert!(neighbor(&green, "br1", "10.61.0.3").is_some());
    assert!(neighbor(&red, "br1", "10.61.0.3").is_none());

    // The VXLAN devices kept their UDP sockets in the underlay.
    let sockets = underlay.exec_ok("ss", &["-uln"]);
    assert!(
        sockets.contains(":4789"),
        "no VXLAN socket in the underlay: {sockets}"
    );

    let mut held = plane.dump().unwrap();
    let mut expected = entries.clone();
    held.sort_by_key(Entry::key);
    expected.sort_by_key(Entry::key);
    assert_eq!(held, expected);

    // Removing one of the two routes keeps the router MAC; removing the second drops it.
    let first = Change::Remove(EntryKey::Route {
        vrf: green_vrf,
        prefix: "10.80.0.0/16".parse().unwrap(),
    });
    assert_all_ok(&plane.apply(&[first]));
    assert!(neighbor(&green, "brl3", "10.0.0.2").is_some());
    let second = Change::Remove(EntryKey::Route {
        vrf: green_vrf,
        prefix: "10.61.0.3/32".parse().unwrap(),
    });
    assert_all_ok(&plane.apply(&[second]));
    assert!(neighbor(&green, "brl3", "10.0.0.2").is_none());
    assert!(vxlan_fdb(&green, "vxl3").is_empty());
    assert!(
        kernel_route(&red, "10.61.0.3").is_some(),
        "red route removed with green's"
    );
}

#[test]
fn linux_plane_reports_links_addresses_and_learned_entries() {
    let ns = leaf("rib-events");
    let mut plane = plane_in(&ns);
    let mut events = plane.subscribe().unwrap();
    let mut seen = Vec::new();
    let mut wait_for = |what: &str, predicate: &dyn Fn(&PlaneEvent) -> bool| {
        wait_until(Duration::from_secs(10), what, || {
            while let Ok(event) = events.try_recv() {
                seen.push(event);
            }
            seen.iter().any(predicate).then_some(())
        });
    };

    // The initial state.
    wait_for(
        "initial eth0 link",
        &|event| matches!(event, PlaneEvent::Link { name, up: true, .. } if name == "eth0"),
    );
    wait_for("initial br100 address", &|event| {
        matches!(event, PlaneEvent::Address { interface, address, added: true, .. }
            if interface == "br100" && address.to_string() == "10.60.0.254/16")
    });
    wait_for(
        "end of the initial state",
        &|event| matches!(event, PlaneEvent::InitialStateComplete { vrf } if *vrf == VrfId::DEFAULT),
    );

    // Changes as they happen.
    ns.ip(&["link", "set", "eth1", "down"]);
    wait_for(
        "eth1 down",
        &|event| matches!(event, PlaneEvent::Link { name, up: false, .. } if name == "eth1"),
    );
    ns.ip(&["addr", "add", "10.62.0.1/24", "dev", "eth0"]);
    wait_for("new eth0 address", &|event| {
        matches!(event, PlaneEvent::Address { interface, address, added: true, .. }
            if interface == "eth0" && address.to_string() == "10.62.0.1/24")
    });
    ns.sh(
        "ip link add pod1 type veth peer name pod1p && ip link set pod1p up
           ip link set pod1 master br100 && ip link set pod1 up",
    );
    // The bridge rejects a dynamic entry (EPERM) until the port forwards, which follows the
    // carrier change asynchronously and can take a while on a loaded machine.
    wait_until(Duration::from_secs(10), "pod1 forwarding in br100", || {
        let ports = run_ok(
            "bridge",
            &["-n", ns.name(), "-j", "link", "show", "dev", "pod1"],
        );
        let ports: Value = serde_json::from_str(&ports).ok()?;
        (ports[0]["state"] == "forwarding").then_some(())
    });
    ns.sh("bridge fdb add 02:00:00:00:60:09 dev pod1 master dynamic
           ip neigh add 10.60.0.9 lladdr 02:00:00:00:60:09 dev br100 nud reachable");
    wait_for("learned MAC on pod1", &|event| {
        matches!(event, PlaneEvent::LocalMac { bridge, port, mac, vni: Some(vni), learned: true, .. }
            if bridge == "br100" && port == "pod1" && mac.to_string() == "02:00:00:00:60:09" && vni.get() == 100)
    });
    wait_for("learned neighbor", &|event| {
        matches!(event, PlaneEvent::LocalNeighbor { interface, ip, learned: true, .. }
            if interface == "br100" && ip.to_string() == "10.60.0.9")
    });
    ns.ip(&["link", "del", "pod1"]);
    wait_for(
        "pod1 removed",
        &|event| matches!(event, PlaneEvent::LinkRemoved { name, .. } if name == "pod1"),
    );

    // Entries of the plane itself are not reported as learned.
    let ours = NeighborEntry {
        vrf: VrfId::DEFAULT,
        interface: "br100".into(),
        ip: ip("10.60.0.7"),
        mac: mac("02:00:00:00:60:07"),
    };
    assert_all_ok(&plane.apply(&[Change::Install(Entry::Neighbor(ours))]));
    ns.ip(&[
        "neigh",
        "add",
        "10.60.0.8",
        "lladdr",
        "02:00:00:00:60:08",
        "dev",
        "br100",
        "nud",
        "reachable",
    ]);
    wait_for(
        "second learned neighbor",
        &|event| matches!(event, PlaneEvent::LocalNeighbor { ip, learned: true, .. } if ip.to_string() == "10.60.0.8"),
    );
    assert!(
        !seen.iter().any(|event| matches!(event, PlaneEvent::LocalNeighbor { ip, .. } if ip.to_string() == "10.60.0.7")),
        "the plane's own neighbor was reported as learned"
    );

    // The end of the initial state is reported once, after the state that existed at the
    // subscription and before the changes made later.
    let position = |predicate: &dyn Fn(&PlaneEvent) -> bool| {
        seen.iter()
            .position(predicate)
            .unwrap_or_else(|| panic!("event missing from {seen:#?}"))
    };
    let complete = position(&|event| matches!(event, PlaneEvent::InitialStateComplete { .. }));
    let initial_link =
        position(&|event| matches!(event, PlaneEvent::Link { name, .. } if name == "eth0"));
    let initial_address = position(
        &|event| matches!(event, PlaneEvent::Address { interface, .. } if interface == "br100"),
    );
    let first_change = position(
        &|event| matches!(event, PlaneEvent::Link { name, up: false, .. } if name == "eth1"),
    );
    assert!(initial_link < complete, "{seen:#?}");
    assert!(initial_address < complete, "{seen:#?}");
    assert!(complete < first_change, "{seen:#?}");
    let completions = seen
        .iter()
        .filter(|event| matches!(event, PlaneEvent::InitialStateComplete { .. }))
        .count();
    assert_eq!(completions, 1, "{seen:#?}");
}
