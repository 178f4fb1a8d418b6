//! Every `hna-routectl show` command in its JSON form, `clear bgp`, and the metrics endpoint,
//! against two running daemons (and an FRR 8.4 ipv4-unicast peer) in network namespaces.

mod daemon_support;

use std::time::Duration;

use daemon_support::{CONVERGENCE, Fabric, FabricOptions, metric, pod_mac, scrape_metrics};
use hna_testkit::{require_root, run_ok, wait_until_ok};
use serde_json::Value;

fn items(value: &Value) -> &Vec<Value> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a JSON array, got {value}"))
}

/// Returns the EVPN routes of `show bgp l2vpn evpn` as (RD, prefix, route type, paths).
fn evpn_routes(table: &Value) -> Vec<(String, String, u64, Vec<Value>)> {
    items(&table["route_distinguishers"])
        .iter()
        .flat_map(|rd| {
            items(&rd["routes"]).iter().map(|route| {
                (
                    rd["rd"].as_str().unwrap().to_string(),
                    route["prefix"].as_str().unwrap().to_string(),
                    route["route_type"].as_u64().unwrap(),
                    items(&route["paths"]).clone(),
                )
            })
        })
        .collect()
}

/// Finds the EVPN route `prefix` under `rd`; panics with the table when absent.
fn evpn_route(table: &Value, rd: &str, prefix: &str) -> Vec<Value> {
    evpn_routes(table)
        .into_iter()
        .find(|route| route.0 == rd && route.1 == prefix)
        .map(|route| route.3)
        .unwrap_or_else(|| panic!("no route {prefix} under RD {rd} in {table:#}"))
}

#[test]
fn show_commands_return_fabric_state_as_json() {
    require_root();
    let fabric = Fabric::start(
        "dsh",
        FabricOptions {
            edge: true,
            ..FabricOptions::default()
        },
    );
    let r1 = &fabric.r1;
    let pod1_mac = pod_mac(&fabric.pods[0]);
    let pod2_mac = pod_mac(&fabric.pods[1]);

    // show bgp summary: both neighbors Established, with their prefix counts.
    let summary = r1.json(&["show", "bgp", "summary"]);
    assert_eq!(summary["router_id"], "10.0.0.1");
    assert_eq!(summary["local_as"], 65500);
    let neighbors = items(&summary["neighbors"]);
    assert_eq!(neighbors.len(), 2, "{summary:#}");
    let r2_line = neighbors
        .iter()
        .find(|n| n["address"] == "10.0.0.2")
        .expect("r2 in the summary");
    assert_eq!(r2_line["state"], "Established");
    assert_eq!(r2_line["remote_as"], 65500);
    assert_eq!(r2_line["description"], "r2");
    assert!(r2_line["uptime_secs"].is_u64(), "{r2_line}");
    assert!(r2_line["messages_in"].as_u64().unwrap() > 0);
    assert!(r2_line["messages_out"].as_u64().unwrap() > 0);
    let evpn_counts = items(&r2_line["families"])
        .iter()
        .find(|family| family["afi_safi"] == "l2vpn-evpn")
        .expect("l2vpn-evpn counts of r2");
    // r2 originates a type-2 route for pod2's MAC, a type-3 route for VNI 10 and a type-5
    // route for 10.60.0.0/16; the counts may be higher when a MAC/IP route was learned too.
    assert!(
        evpn_counts["accepted"].as_u64().unwrap() >= 3,
        "{evpn_counts}"
    );
    assert!(evpn_counts["sent"].as_u64().unwrap() >= 3, "{evpn_counts}");
    let edge_line = neighbors
        .iter()
        .find(|n| n["address"] == "172.16.0.2")
        .expect("edge in the summary");
    assert_eq!(edge_line["state"], "Established");
    assert_eq!(edge_line["remote_as"], 65099);
    let ipv4_counts = items(&edge_line["families"])
        .iter()
        .find(|family| family["afi_safi"] == "ipv4-unicast")
        .expect("ipv4-unicast counts of edge");
    assert_eq!(ipv4_counts["received"], 1, "{ipv4_counts}");
    assert_eq!(ipv4_counts["accepted"], 1, "{ipv4_counts}");

    // show bgp neighbors: both, in detail.
    let all = r1.json(&["show", "bgp", "neighbors"]);
    let mut addresses: Vec<&str> = items(&all)
        .iter()
        .map(|n| n["address"].as_str().unwrap())
        .collect();
    addresses.sort_unstable();
    assert_eq!(addresses, ["10.0.0.2", "172.16.0.2"]);

    // show bgp neighbors ADDRESS: only that one, with the OPEN exchange's result.
    let r2_detail = r1.neighbor("10.0.0.2");
    assert_eq!(r2_detail["state"], "Established");
    assert_eq!(r2_detail["local_address"], "10.0.0.1");
    assert_eq!(r2_detail["remote_router_id"], "10.0.0.2");
    let families = &r2_detail["capabilities"]["families"];
    assert!(
        items(families).contains(&Value::from("l2vpn-evpn")),
        "{families}"
    );
    assert!(
        items(families).contains(&Value::from("ipv4-unicast")),
        "{families}"
    );
    assert_eq!(r2_detail["bfd"]["multihop"], true);
    // At least one: a collision at start-up can add a flap (RFC 4271 section 6.8).
    assert!(
        r2_detail["counters"]["established_transitions"]
            .as_u64()
            .is_some_and(|count| count >= 1),
        "{r2_detail}"
    );
    assert_eq!(r2_detail["counters"]["notifications_in"], 0);
    assert!(r2_detail["counters"]["updates_in"].as_u64().unwrap() >= 1);
    let missing = r1.ctl(&["--json", "show", "bgp", "neighbors", "10.0.0.77"]);
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("neighbor 10.0.0.77 not found"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );

    // show bgp l2vpn evpn: r2's routes of each type as r2 originated them, and r1's own.
    let table = r1.json(&["show", "bgp", "l2vpn", "evpn"]);
    assert_eq!(table["afi_safi"], "l2vpn-evpn");
    let type3 = evpn_route(&table, "10.0.0.2:1", "[3]:[0]:[32]:[10.0.0.2]");
    assert_eq!(type3[0]["best"], true);
    assert_eq!(type3[0]["peer"], "10.0.0.2");
    assert_eq!(type3[0]["next_hop"], "10.0.0.2");
    assert_eq!(type3[0]["local"], false);
    let own_type3 = evpn_route(&table, "10.0.0.1:1", "[3]:[0]:[32]:[10.0.0.1]");
    assert_eq!(own_type3[0]["local"], true);
    let remote_mac = format!("[2]:[0]:[48]:[{pod2_mac}]");
    let type2 = evpn_route(&table, "10.0.0.2:1", &remote_mac);
    assert_eq!(type2[0]["next_hop"], "10.0.0.2");
    assert_eq!(type2[0]["best"], true);
    let type5 = evpn_route(&table, "10.0.0.2:100", "[5]:[0]:[16]:[10.60.0.0]");
    assert_eq!(type5[0]["next_hop"], "10.0.0.2");
    assert!(
        items(&type5[0]["extended_communities"]).contains(&Value::from("Rmac:02:00:0a:00:00:02")),
        "{:?}",
        type5[0]
    );

    // The tenant's only subnet is br10's: its namespace's loopback (127.0.0.0/8) must not
    // leave the host as a type-5 route.
    let type5_prefixes: Vec<(String, String)> = evpn_routes(&table)
        .into_iter()
        .filter(|route| route.2 == 5)
        .map(|route| (route.0, route.1))
        .collect();
    assert_eq!(
        type5_prefixes,
        [
            (
                "10.0.0.1:100".to_string(),
                "[5]:[0]:[16]:[10.60.0.0]".to_string()
            ),
            (
                "10.0.0.2:100".to_string(),
                "[5]:[0]:[16]:[10.60.0.0]".to_string()
            ),
        ]
    );

    // show bgp l2vpn evpn --route-type N: only routes of that type, and all of them.
    for route_type in [2u64, 3, 5] {
        let filtered = r1.json(&[
            "show",
            "bgp",
            "l2vpn",
            "evpn",
            "--route-type",
            &route_type.to_string(),
        ]);
        let routes = evpn_routes(&filtered);
        let expected: Vec<_> = evpn_routes(&table)
            .into_iter()
            .filter(|route| route.2 == route_type)
            .map(|route| (route.0, route.1))
            .collect();
        assert!(!expected.is_empty(), "no type-{route_type} routes");
        let got: Vec<_> = routes.into_iter().map(|route| (route.0, route.1)).collect();
        assert_eq!(got, expected, "--route-type {route_type}");
    }
    let prefix_routes = r1.json(&["show", "bgp", "l2vpn", "evpn", "--route-type", "prefix"]);
    assert!(
        evpn_routes(&prefix_routes).iter().all(|route| route.2 == 5),
        "{prefix_routes:#}"
    );
    let invalid = r1.ctl(&["show", "bgp", "l2vpn", "evpn", "--route-type", "9"]);
    assert!(!invalid.status.success());

    // show bgp ipv4 unicast: the edge's prefix, valid and best.
    let unicast = r1.json(&["show", "bgp", "ipv4", "unicast"]);
    assert_eq!(unicast["afi_safi"], "ipv4-unicast");
    let routes = items(&unicast["routes"]);
    assert_eq!(routes.len(), 1, "{unicast:#}");
    assert_eq!(routes[0]["prefix"], "10.99.0.0/24");
    let path = &routes[0]["paths"][0];
    assert_eq!(path["next_hop"], "172.16.0.2");
    assert_eq!(path["peer"], "172.16.0.2");
    assert_eq!(path["valid"], true);
    assert_eq!(path["best"], true);
    // An eBGP path carries no LOCAL_PREF (RFC 4271 section 5.1.5). Its AS_PATH is the edge's AS.
    assert_eq!(path["local_pref"], Value::Null);
    assert_eq!(path["as_path"], "65099");

    // show ip ospf neighbor: r2 Full on eth1.
    let ospf = r1.json(&["show", "ip", "ospf", "neighbor"]);
    let ospf = items(&ospf);
    assert_eq!(ospf.len(), 1, "{ospf:?}");
    assert_eq!(ospf[0]["neighbor_id"], "10.0.0.2");
    assert_eq!(ospf[0]["state"], "Full");
    assert_eq!(ospf[0]["address"], "10.1.0.2");
    assert_eq!(ospf[0]["interface"], "eth1");

    // show ip ospf interface|statistics|graceful-restart.
    let interfaces = r1.json(&["show", "ip", "ospf", "interface"]);
    let eth1 = items(&interfaces)
        .iter()
        .find(|interface| interface["name"] == "eth1")
        .unwrap_or_else(|| panic!("no eth1 in {interfaces:#}"));
    assert_eq!(eth1["adjacent_neighbors"], 1, "{eth1}");
    let statistics = r1.json(&["show", "ip", "ospf", "statistics"]);
    assert!(
        statistics["received"]["hello"].as_u64().unwrap_or(0) > 0,
        "{statistics:#}"
    );
    assert!(statistics["dropped"].is_object(), "{statistics:#}");
    let restart = r1.json(&["show", "ip", "ospf", "graceful-restart"]);
    assert_eq!(restart["restarting"], false, "{restart:#}");
    assert_eq!(restart["helper_enabled"], true, "{restart:#}");

    // show ip ospf database: both router-LSAs.
    let database = r1.json(&["show", "ip", "ospf", "database"]);
    for router in ["10.0.0.1", "10.0.0.2"] {
        let lsa = items(&database)
            .iter()
            .find(|lsa| lsa["ls_type"] == 1 && lsa["advertising_router"] == router)
            .unwrap_or_else(|| panic!("no router-LSA of {router} in {database:#}"));
        assert_eq!(lsa["type_name"], "router");
        assert_eq!(lsa["link_state_id"], router);
        assert!(lsa["sequence"].as_u64().unwrap() >= 0x8000_0001);
    }

    // show ip route: the loopback of r2 through OSPF, the edge's prefix through eBGP.
    let routes = r1.json(&["show", "ip", "route"]);
    let route = |prefix: &str| -> Value {
        items(&routes)
            .iter()
            .find(|route| route["prefix"] == prefix)
            .cloned()
            .unwrap_or_else(|| panic!("no route {prefix} in {routes:#}"))
    };
    let loopback = route("10.0.0.2/32");
    assert_eq!(loopback["source"], "ospf");
    assert_eq!(loopback["distance"], 110);
    assert_eq!(loopback["next_hops"][0], "via 10.1.0.2 dev eth1");
    let edge_prefix = route("10.99.0.0/24");
    assert_eq!(edge_prefix["source"], "ebgp");
    assert_eq!(edge_prefix["distance"], 20);
    assert!(
        edge_prefix["next_hops"][0]
            .as_str()
            .unwrap()
            .contains("172.16.0.2"),
        "{edge_prefix}"
    );
    assert_eq!(route("10.1.0.0/30")["source"], "connected");
    let kernel = fabric.ns[0].ip_json(&["route", "show", "10.99.0.0/24"]);
    assert_eq!(kernel[0]["gateway"], "172.16.0.2", "{kernel}");

    // show ip route --vrf vrf100: the tenant's subnet.
    let tenant = r1.json(&["show", "ip", "route", "--vrf", "vrf100"]);
    let subnet = items(&tenant)
        .iter()
        .find(|route| route["prefix"] == "10.60.0.0/16")
        .unwrap_or_else(|| panic!("no 10.60.0.0/16 in {tenant:#}"));
    assert_eq!(subnet["source"], "connected");
    assert_eq!(subnet["next_hops"][0], "dev br10");
    assert!(
        items(&tenant)
            .iter()
            .all(|route| route["prefix"] != "127.0.0.0/8"),
        "{tenant:#}"
    );
    let unknown = r1.ctl(&["show", "ip", "route", "--vrf", "vrf999"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("l3vrf `vrf999` not found"));

    // show evpn vni: the L2VNI and the L3VNI, each with r2 as remote VTEP.
    let vnis = r1.json(&["show", "evpn", "vni"]);
    let vni = |id: u64| -> Value {
        items(&vnis)
            .iter()
            .find(|vni| vni["vni"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no VNI {id} in {vnis:#}"))
    };
    let l2 = vni(10);
    assert_eq!(l2["kind"], "L2");
    assert_eq!(l2["vxlan_device"], "vx10");
    assert_eq!(l2["bridge"], "br10");
    assert_eq!(l2["vrf"], "vrf100");
    assert_eq!(l2["rd"], "10.0.0.1:1");
    assert_eq!(l2["remote_vteps"], serde_json::json!(["10.0.0.2"]));
    assert!(l2["local_macs"].as_u64().unwrap() >= 1);
    assert!(l2["remote_macs"].as_u64().unwrap() >= 1);
    let l3 = vni(100);
    assert_eq!(l3["kind"], "L3");
    assert_eq!(l3["router_mac"], "02:00:0a:00:00:01");
    assert_eq!(l3["rd"], "10.0.0.1:100");

    // show evpn mac: pod1's MAC local, pod2's MAC remote behind r2.
    let macs = r1.json(&["show", "evpn", "mac"]);
    let mac = |address: &str| -> Value {
        items(&macs)
            .iter()
            .find(|mac| mac["mac"] == address)
            .cloned()
            .unwrap_or_else(|| panic!("no MAC {address} in {macs:#}"))
    };
    let local = mac(&pod1_mac);
    assert_eq!(local["kind"], "local");
    assert_eq!(local["vni"], 10);
    let remote = mac(&pod2_mac);
    assert_eq!(remote["kind"], "remote");
    assert_eq!(remote["vtep"], "10.0.0.2");
    assert_eq!(remote["vni"], 10);
    // The kernel agrees: pod2's MAC points at r2's VTEP on vx10 in the tenant's namespace.
    let vni10 = r1.json(&["show", "evpn", "mac", "--vni", "10"]);
    assert_eq!(items(&vni10), items(&macs), "every MAC is in VNI 10");
    let vni99 = r1.json(&["show", "evpn", "mac", "--vni", "99"]);
    assert!(items(&vni99).is_empty(), "{vni99:#}");
    let fdb: Value = serde_json::from_str(&run_ok(
        "bridge",
        &[
            "-j",
            "-n",
            &r1.tenant("vrf100"),
            "fdb",
            "show",
            "dev",
            "vx10",
        ],
    ))
    .expect("bridge fdb JSON");
    assert!(
        items(&fdb)
            .iter()
            .any(|entry| entry["mac"] == pod2_mac.as_str() && entry["dst"] == "10.0.0.2"),
        "{fdb:#}"
    );

    // show bfd peers: the single-hop session of OSPF and the multihop session of BGP, Up.
    let sessions = r1.json(&["show", "bfd", "peers"]);
    let single = items(&sessions)
        .iter()
        .find(|session| session["peer"] == "10.1.0.2")
        .unwrap_or_else(|| panic!("no BFD session with 10.1.0.2 in {sessions:#}"));
    assert_eq!(single["multihop"], false);
    assert_eq!(single["interface"], "eth1");
    assert_eq!(single["state"], "up");
    assert_eq!(single["local"], "10.1.0.1");
    let multihop = items(&sessions)
        .iter()
        .find(|session| session["peer"] == "10.0.0.2")
        .unwrap_or_else(|| panic!("no BFD session with 10.0.0.2 in {sessions:#}"));
    assert_eq!(multihop["multihop"], true);
    assert_eq!(multihop["state"], "up");
    assert_eq!(multihop["remote_state"], "up");
    assert_eq!(multihop["detect_multiplier"], 5);
    assert!(multihop["counters"]["packets_in"].as_u64().unwrap() > 0);

    // show running-config: the configuration in effect, as typed values.
    let running = r1.json(&["show", "running-config"]);
    assert_eq!(running["bgp"]["asn"], 65500);
    assert_eq!(running["bgp"]["router_id"], "10.0.0.1");
    assert_eq!(
        running["bgp"]["neighbors"]["10.0.0.2"]["update_source"],
        "loop0"
    );
    assert_eq!(running["l3vrfs"]["vrf100"]["l3vni"], 100);
    assert_eq!(
        running["interfaces"]["eth1"]["ipv4_addresses"],
        serde_json::json!(["10.1.0.1/30"])
    );
    let text = r1.ctl(&["show", "running-config"]);
    assert!(text.status.success());
    assert!(
        String::from_utf8_lossy(&text.stdout)
            .contains("/ vrf main routing bgp neighbor 10.0.0.2 update-source loop0"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
}

#[test]
fn clear_bgp_resets_one_session_or_all() {
    require_root();
    let fabric = Fabric::start(
        "dcl",
        FabricOptions {
            edge: true,
            ..FabricOptions::default()
        },
    );
    let r1 = &fabric.r1;
    let edge = fabric.edge.as_ref().unwrap();
    let frr_counter = |path: &[&str]| {
        let neighbor = edge.json("show bgp neighbors 172.16.0.1 json");
        let mut value = &neighbor["172.16.0.1"];
        for key in path {
            value = &value[*key];
        }
        value.as_u64().unwrap_or(u64::MAX)
    };
    let frr_established = || frr_counter(&["connectionsEstablished"]);
    let transitions = |neighbor: &str| {
        r1.neighbor(neighbor)["counters"]["established_transitions"]
            .as_u64()
            .unwrap()
    };
    // The counts before the resets; a collision at start-up may have made them above 1.
    let r2_start = transitions("10.0.0.2");
    let edge_start = transitions("172.16.0.2");
    let frr_start = frr_established();
    let frr_notifications_start = frr_counter(&["messageStats", "notificationsRecv"]);

    // clear bgp ADDRESS: only that session goes down, with a NOTIFICATION, and comes back.
    let output = r1.ctl(&["clear", "bgp", "10.0.0.2"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let r2 = wait_until_ok(
        CONVERGENCE,
        "r2's session established a second time",
        || {
            // Both sides reconnect at once after the reset. Jittered timers make a collision
            // that costs one more flap rare (RFC 4271 section 6.8), so the count is a minimum.
            let neighbor = r1.neighbor("10.0.0.2");
            if neighbor["state"] == "Established"
                && neighbor["counters"]["established_transitions"]
                    .as_u64()
                    .is_some_and(|count| count > r2_start)
            {
                Ok(neighbor)
            } else {
                Err(neighbor["counters"].clone())
            }
        },
    );
    // Both sides reconnect at once, so a collision may add a NOTIFICATION of its own
    // (Cease, Connection Collision Resolution) to the Administrative Reset.
    assert!(r2["counters"]["notifications_out"].as_u64().unwrap() >= 1);
    let on_r2 = fabric.r2.neighbor("10.0.0.1");
    assert!(on_r2["counters"]["notifications_in"].as_u64().unwrap() >= 1);
    assert!(
        fabric
            .r2
            .log_text()
            .contains("received NOTIFICATION peer=10.0.0.1 code=6 subcode=4"),
        "r2 logged no Cease / Administrative Reset"
    );
    assert_eq!(transitions("172.16.0.2"), edge_start);
    assert_eq!(
        frr_established(),
        frr_start,
        "the edge's session was reset too"
    );
    assert_eq!(
        frr_counter(&["messageStats", "notificationsRecv"]),
        frr_notifications_start
    );

    // clear bgp *: every session.
    let r2_before = r2["counters"]["established_transitions"].as_u64().unwrap();
    let output = r1.ctl(&["clear", "bgp", "*"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    wait_until_ok(CONVERGENCE, "every session established again", || {
        let r2 = r1.neighbor("10.0.0.2");
        let edge_session = r1.neighbor("172.16.0.2");
        let done = r2["state"] == "Established"
            && r2["counters"]["established_transitions"]
                .as_u64()
                .is_some_and(|count| count > r2_before)
            && edge_session["state"] == "Established"
            && edge_session["counters"]["established_transitions"]
                .as_u64()
                .is_some_and(|count| count > edge_start);
        if done {
            Ok(())
        } else {
            Err((r2["counters"].clone(), edge_session["counters"].clone()))
        }
    });
    assert!(
        frr_established() > frr_start,
        "FRR did not see the edge session re-established"
    );
    let frr = edge.json("show bgp neighbors 172.16.0.1 json");
    let frr = &frr["172.16.0.1"];
    assert_eq!(frr["bgpState"], "Established");
    // FRR replaces its last reset reason when it resolves a collision, so the count of
    // received NOTIFICATIONs is what shows our Cease.
    assert!(
        frr["messageStats"]["notificationsRecv"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{frr:#}"
    );

    let invalid = r1.ctl(&["clear", "bgp", "r2"]);
    assert!(!invalid.status.success());
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("invalid neighbor `r2`"));
    let unknown = r1.ctl(&["clear", "bgp", "10.9.9.9"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("neighbor 10.9.9.9 not found"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}

#[test]
fn metrics_endpoint_exports_sessions_and_routes() {
    require_root();
    let fabric = Fabric::start(
        "dme",
        FabricOptions {
            metrics: true,
            ..FabricOptions::default()
        },
    );
    let r1 = &fabric.r1;
    let summary = r1.json(&["show", "bgp", "summary"]);
    let text = scrape_metrics(&fabric.ns[0]);

    // BGP: session state, prefixes per family, messages by type.
    assert_eq!(
        metric(&text, "hna_bgp_session_established", "peer=\"10.0.0.2\""),
        Some(1.0),
        "{text}"
    );
    let evpn = items(&summary["neighbors"][0]["families"])
        .iter()
        .find(|family| family["afi_safi"] == "l2vpn-evpn")
        .cloned()
        .expect("l2vpn-evpn counts");
    // The routes of r2 do not change once converged, so the two reads agree.
    assert_eq!(
        metric(
            &text,
            "hna_bgp_prefixes_accepted",
            "peer=\"10.0.0.2\",afi_safi=\"l2vpn-evpn\""
        ),
        evpn["accepted"].as_f64(),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "hna_bgp_messages_received_total",
            "peer=\"10.0.0.2\",type=\"update\""
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{text}"
    );
    // Both routers connect at once when the IGP reaches the other's loopback, so collision
    // detection (RFC 4271 section 6.8) may have seen a second OPEN on the losing connection.
    assert!(
        metric(
            &text,
            "hna_bgp_messages_received_total",
            "peer=\"10.0.0.2\",type=\"open\""
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "hna_bgp_messages_received_total",
            "peer=\"10.0.0.2\",type=\"notification\""
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "hna_bgp_established_transitions_total",
            "peer=\"10.0.0.2\""
        ),
        Some(1.0),
        "{text}"
    );

    // OSPF and BFD sessions.
    assert_eq!(
        metric(
            &text,
            "hna_ospf_neighbor_full",
            "neighbor=\"10.0.0.2\",interface=\"eth1\""
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "hna_bfd_session_up",
            "peer=\"10.1.0.2\",multihop=\"false\""
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "hna_bfd_session_up",
            "peer=\"10.0.0.2\",multihop=\"true\""
        ),
        Some(1.0),
        "{text}"
    );

    // Route counts: r2's loopback through OSPF, the connected routes as `show ip route` lists
    // them, and r2's MAC in VNI 10.
    assert_eq!(
        metric(
            &text,
            "hna_routes",
            "vrf=\"main\",source=\"ospf\",family=\"ipv4\""
        ),
        Some(1.0),
        "{text}"
    );
    for (vrf, words) in [
        ("main", &["show", "ip", "route"][..]),
        ("vrf100", &["show", "ip", "route", "--vrf", "vrf100"]),
    ] {
        let connected = items(&r1.json(words))
            .iter()
            .filter(|route| route["source"] == "connected")
            .count();
        assert!(connected >= 1, "{vrf}: no connected route");
        let labels = format!("vrf=\"{vrf}\",source=\"connected\",family=\"ipv4\"");
        assert_eq!(
            metric(&text, "hna_routes", &labels),
            Some(connected as f64),
            "{vrf}: {text}"
        );
    }
    assert_eq!(
        metric(&text, "hna_evpn_macs", "vni=\"10\",kind=\"remote\""),
        Some(1.0),
        "{text}"
    );

    // A session that goes down shows in the next scrape.
    fabric.r2.signal(libc::SIGTERM);
    wait_until_ok(
        Duration::from_secs(20),
        "the session metric of r2 to drop to 0",
        || {
            let text = scrape_metrics(&fabric.ns[0]);
            match metric(&text, "hna_bgp_session_established", "peer=\"10.0.0.2\"") {
                Some(0.0) => Ok(text),
                other => Err(other),
            }
        },
    );
}
