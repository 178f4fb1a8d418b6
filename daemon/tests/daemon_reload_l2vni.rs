//! Reloads that re-create EVPN instances on router r1 of the two-router fabric, whose local
//! state the kernel and the RIB reported before the instance existed. An L2VNI removed and
//! added back must learn the MAC its bridge kept in the kernel, which the pod does not make
//! the bridge learn anew. An IP-VRF re-created with a new route distinguisher must learn its
//! connected subnet, which the RIB does not report again.

mod daemon_support;

use std::time::Duration;

use daemon_support::{CONVERGENCE, Daemon, Fabric, FabricOptions, pod_mac, router_config};
use hna_testkit::{require_root, run_ok, wait_until, wait_until_ok};
use serde_json::Value;

/// How long after a reload the EVPN routes and entries may take to follow it.
const RELOAD_SETTLE: Duration = Duration::from_secs(20);

/// Returns the entries of `show evpn mac` for `mac`.
fn evpn_macs(daemon: &Daemon, mac: &str) -> Vec<Value> {
    daemon
        .json(&["show", "evpn", "mac"])
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["mac"] == mac)
        .cloned()
        .collect()
}

/// Returns the VNIs of `show evpn vni`.
fn evpn_vnis(daemon: &Daemon) -> Vec<u64> {
    daemon
        .json(&["show", "evpn", "vni"])
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|vni| vni["vni"].as_u64())
        .collect()
}

/// Returns the FDB entries of `mac` in namespace `namespace`, as `bridge -j fdb show` lists them.
fn kernel_fdb(namespace: &str, mac: &str) -> Vec<Value> {
    let json: Value =
        serde_json::from_str(&run_ok("bridge", &["-j", "-n", namespace, "fdb", "show"])).unwrap();
    json.as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["mac"] == mac)
        .cloned()
        .collect()
}

/// Reloads `daemon` with `config` and asserts that the daemon applied it.
fn reload(daemon: &Daemon, config: &str) {
    daemon.write_config(config);
    let output = daemon.ctl(&["reload"]);
    assert!(
        output.status.success(),
        "reload failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "configuration reloaded"
    );
}

#[test]
fn readded_l2vni_advertises_bridge_macs() {
    require_root();
    let fabric = Fabric::start("drv", FabricOptions::default());
    let (r1, r2) = (&fabric.r1, &fabric.r2);
    let pod1_mac = pod_mac(&fabric.pods[0]);
    let r1_tenant = r1.tenant("vrf100");
    let r2_tenant = r2.tenant("vrf100");
    let full_config = router_config(1, &FabricOptions::default());
    wait_until_ok(RELOAD_SETTLE, "r1: pod1's MAC local in VNI 10", || {
        let entries = evpn_macs(r1, &pod1_mac);
        if entries
            .iter()
            .any(|entry| entry["kind"] == "local" && entry["vni"] == 10)
        {
            Ok(())
        } else {
            Err(entries)
        }
    });

    // Reload 1: without VXLAN device vx10, so without L2VNI 10. Bridge br10 and its pod stay.
    let without_vni: String = full_config
        .lines()
        .filter(|line| !line.contains(" vx10 ") && !line.ends_with(" vx10"))
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(without_vni, full_config, "the configuration has no vx10");
    reload(r1, &without_vni);
    wait_until_ok(RELOAD_SETTLE, "r1: VNI 10 removed", || {
        let vnis = evpn_vnis(r1);
        if vnis.contains(&10) {
            Err(vnis)
        } else {
            Ok(())
        }
    });
    wait_until_ok(RELOAD_SETTLE, "r2: pod1's remote MAC withdrawn", || {
        let entries = evpn_macs(r2, &pod1_mac);
        if entries.is_empty() {
            Ok(())
        } else {
            Err(entries)
        }
    });
    let kept = kernel_fdb(&r1_tenant, &pod1_mac);
    assert!(
        kept.iter()
            .any(|entry| entry["ifname"] == "pod1" && entry["master"] == "br10"),
        "r1's bridge lost pod1's MAC, so this test no longer covers MACs it holds: {kept:#?}"
    );

    // Reload 2: the full configuration again. The bridge learns nothing new, since it contains
    // pod1's MAC already.
    reload(r1, &full_config);
    wait_until_ok(
        RELOAD_SETTLE,
        "r1: pod1's MAC local in VNI 10 again",
        || {
            let entries = evpn_macs(r1, &pod1_mac);
            if entries
                .iter()
                .any(|entry| entry["kind"] == "local" && entry["vni"] == 10)
            {
                Ok(())
            } else {
                Err(entries)
            }
        },
    );
    wait_until_ok(RELOAD_SETTLE, "r2: pod1's MAC remote at r1 again", || {
        let entries = evpn_macs(r2, &pod1_mac);
        if entries
            .iter()
            .any(|entry| entry["kind"] == "remote" && entry["vtep"] == "10.0.0.1")
        {
            Ok(())
        } else {
            Err(entries)
        }
    });
    wait_until_ok(
        RELOAD_SETTLE,
        "r2's kernel: pod1's MAC behind vx10 towards r1",
        || {
            let entries = kernel_fdb(&r2_tenant, &pod1_mac);
            if entries
                .iter()
                .any(|entry| entry["ifname"] == "vx10" && entry["dst"] == "10.0.0.1")
            {
                Ok(())
            } else {
                Err(entries)
            }
        },
    );
    wait_until(CONVERGENCE, "pod2 to reach pod1 across VXLAN", || {
        fabric.pods[1].ping("10.60.0.1", 1).then_some(())
    });
}

/// Returns the prefixes of the type-5 routes in `daemon`'s BGP table under route
/// distinguisher `rd`.
fn type5_prefixes(daemon: &Daemon, rd: &str) -> Vec<String> {
    daemon.json(&["show", "bgp", "l2vpn", "evpn", "--route-type", "prefix"])["route_distinguishers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["rd"] == rd)
        .flat_map(|entry| entry["routes"].as_array().cloned().unwrap_or_default())
        .filter_map(|route| route["prefix"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn recreated_ip_vrf_advertises_connected_subnet() {
    require_root();
    let fabric = Fabric::start("dri", FabricOptions::default());
    let (r1, r2) = (&fabric.r1, &fabric.r2);
    let full_config = router_config(1, &FabricOptions::default());
    wait_until_ok(
        RELOAD_SETTLE,
        "r2: r1's type-5 route of 10.60.0.0/16",
        || {
            let prefixes = type5_prefixes(r2, "10.0.0.1:100");
            if prefixes.iter().any(|prefix| prefix.contains("10.60.0.0")) {
                Ok(())
            } else {
                Err(prefixes)
            }
        },
    );

    // A new route distinguisher re-creates IP-VRF vrf100; its subnet on br10 stays.
    let old_rd = "export route-distinguisher 10.0.0.1:100";
    assert!(full_config.contains(old_rd), "{full_config}");
    let new_rd = full_config.replace(old_rd, "export route-distinguisher 10.0.0.1:150");
    reload(r1, &new_rd);

    wait_until_ok(
        RELOAD_SETTLE,
        "r2: r1's type-5 route of 10.60.0.0/16 under the new RD",
        || {
            let prefixes = type5_prefixes(r2, "10.0.0.1:150");
            if prefixes.iter().any(|prefix| prefix.contains("10.60.0.0")) {
                Ok(())
            } else {
                Err(prefixes)
            }
        },
    );
    wait_until_ok(
        RELOAD_SETTLE,
        "r2: the route under the old RD withdrawn",
        || {
            let prefixes = type5_prefixes(r2, "10.0.0.1:100");
            if prefixes.is_empty() {
                Ok(())
            } else {
                Err(prefixes)
            }
        },
    );
}
