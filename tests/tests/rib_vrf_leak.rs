//! Routes leaked between VRFs on the Linux plane. Two VRF namespaces are joined by the plane's
//! leak link, with a leaked route each way and a host behind each VRF pinging the other. The
//! link goes with the last route that uses it, and a restarted plane takes the routes over.

use std::time::Duration;

use hna_rib::linux::{LEAK_LINK_ALIAS, LinuxPlane, Namespace};
use hna_rib::{Change, Entry, EntryKey, NextHop, PlaneError, RouteEntry, Southbound, VrfId};
use hna_testkit::{Netns, veth, wait_until};
use serde_json::Value;

const GREEN: VrfId = VrfId(100);
const RED: VrfId = VrfId(101);

fn plane_in(ns: &Netns) -> LinuxPlane {
    ns.spawn(|| LinuxPlane::new().expect("create Linux plane"))
        .join()
        .expect("plane thread")
}

fn leaked(vrf: VrfId, prefix: &str, target: VrfId) -> Entry {
    Entry::Route(RouteEntry::new(
        vrf,
        prefix.parse().unwrap(),
        vec![NextHop::vrf(target)],
    ))
}

fn remove(vrf: VrfId, prefix: &str) -> Change {
    Change::Remove(EntryKey::Route {
        vrf,
        prefix: prefix.parse().unwrap(),
    })
}

fn assert_all_ok(results: &[Result<(), PlaneError>]) {
    for (index, result) in results.iter().enumerate() {
        assert!(result.is_ok(), "change {index} failed: {result:?}");
    }
}

/// A VRF namespace routing like a tenant namespace of the daemon, with a host namespace behind
/// its gateway `gateway`/16 on the link `port`.
struct Tenant {
    vrf: Netns,
    host: Netns,
}

fn tenant(tag: &str, port: &str, gateway: &str, host_address: &str) -> Tenant {
    let vrf = Netns::new(tag);
    vrf.sysctl("net.ipv4.ip_forward=1");
    vrf.sysctl("net.ipv4.conf.all.rp_filter=0");
    vrf.sysctl("net.ipv4.conf.default.rp_filter=0");
    let host = Netns::new(&format!("{tag}-h"));
    veth(&vrf, port, &host, "eth0", 1500);
    vrf.ip(&["addr", "add", &format!("{gateway}/16"), "dev", port]);
    host.ip(&["addr", "add", &format!("{host_address}/16"), "dev", "eth0"]);
    host.ip(&["route", "add", "default", "via", gateway]);
    Tenant { vrf, host }
}

fn link(ns: &Netns, name: &str) -> Option<Value> {
    let links = ns.ip_json(&["-d", "link", "show"]);
    links
        .as_array()
        .unwrap()
        .iter()
        .find(|link| link["ifname"] == name)
        .cloned()
}

fn addresses(ns: &Netns, name: &str) -> Vec<String> {
    let json = ns.ip_json(&["-4", "addr", "show", "dev", name]);
    json[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|address| {
            format!(
                "{}/{}",
                address["local"].as_str().unwrap(),
                address["prefixlen"]
            )
        })
        .collect()
}

fn kernel_route(ns: &Netns, prefix: &str) -> Option<Value> {
    let routes = ns.ip_json(&["route", "show", "proto", "201"]);
    routes
        .as_array()
        .unwrap()
        .iter()
        .find(|route| route["dst"] == prefix)
        .cloned()
}

fn sysctl(ns: &Netns, key: &str) -> String {
    ns.exec_ok("sysctl", &["-n", key]).trim().to_string()
}

#[test]
fn leaked_routes_carry_traffic_between_vrfs() {
    let underlay = Netns::new("lk-under");
    let green = tenant("lk-green", "g0", "10.60.0.254", "10.60.0.1");
    let red = tenant("lk-red", "r0", "10.62.0.254", "10.62.0.1");
    let mut plane = plane_in(&underlay);
    plane
        .add_vrf(GREEN, Namespace::named(green.vrf.name()))
        .unwrap();
    plane
        .add_vrf(RED, Namespace::named(red.vrf.name()))
        .unwrap();

    // Green to red only: the link appears, but the replies have no way back yet.
    assert_all_ok(&plane.apply(&[Change::Install(leaked(GREEN, "10.62.0.0/16", RED))]));
    let green_end = link(&green.vrf, "lk100-101").expect("leak link end in the green namespace");
    let red_end = link(&red.vrf, "lk101-100").expect("leak link end in the red namespace");
    assert_eq!(green_end["linkinfo"]["info_kind"], "veth");
    assert_eq!(green_end["ifalias"], LEAK_LINK_ALIAS);
    assert_eq!(red_end["ifalias"], LEAK_LINK_ALIAS);
    assert!(
        link(&underlay, "lk100-101").is_none(),
        "a leak link end stayed in the underlay"
    );
    assert_eq!(addresses(&green.vrf, "lk100-101"), vec!["169.254.0.2/31"]);
    assert_eq!(addresses(&red.vrf, "lk101-100"), vec!["169.254.0.3/31"]);
    assert_eq!(sysctl(&green.vrf, "net.ipv4.conf.lk100-101.rp_filter"), "0");
    assert_eq!(sysctl(&red.vrf, "net.ipv4.conf.lk101-100.rp_filter"), "0");
    let route = kernel_route(&green.vrf, "10.62.0.0/16").expect("leaked route in green");
    assert_eq!(route["gateway"], "169.254.0.3");
    assert_eq!(route["dev"], "lk100-101");
    assert!(kernel_route(&red.vrf, "10.60.0.0/16").is_none());
    assert!(
        !green.host.ping("10.62.0.1", 1),
        "ping crossed without a route back"
    );

    // And back: red to green.
    assert_all_ok(&plane.apply(&[Change::Install(leaked(RED, "10.60.0.0/16", GREEN))]));
    let route = kernel_route(&red.vrf, "10.60.0.0/16").expect("leaked route in red");
    assert_eq!(route["gateway"], "169.254.0.2");
    assert_eq!(route["dev"], "lk101-100");
    wait_until(
        Duration::from_secs(5),
        "green host reaching red host",
        || green.host.ping("10.62.0.1", 1).then_some(()),
    );
    assert!(
        red.host.ping("10.60.0.1", 1),
        "red host cannot reach green host"
    );

    // The plane reads the leaked routes back as next hops into the other VRF.
    let mut held = plane.dump().unwrap();
    held.sort_by_key(Entry::key);
    assert_eq!(
        held,
        vec![
            leaked(GREEN, "10.62.0.0/16", RED),
            leaked(RED, "10.60.0.0/16", GREEN)
        ]
    );

    // Installing the same routes again keeps the link.
    let index = green_end["ifindex"].clone();
    assert_all_ok(&plane.apply(&[Change::Install(leaked(GREEN, "10.62.0.0/16", RED))]));
    assert_eq!(link(&green.vrf, "lk100-101").unwrap()["ifindex"], index);

    // The link stays while one route uses it, and goes with the last one.
    assert_all_ok(&plane.apply(&[remove(GREEN, "10.62.0.0/16")]));
    assert!(kernel_route(&green.vrf, "10.62.0.0/16").is_none());
    assert_eq!(
        link(&green.vrf, "lk100-101").expect("link used by red's route")["ifindex"],
        index
    );
    assert_all_ok(&plane.apply(&[remove(RED, "10.60.0.0/16")]));
    assert!(
        link(&green.vrf, "lk100-101").is_none(),
        "leak link left in green"
    );
    assert!(
        link(&red.vrf, "lk101-100").is_none(),
        "leak link left in red"
    );
    assert!(kernel_route(&red.vrf, "10.60.0.0/16").is_none());
    assert!(
        !green.host.ping("10.62.0.1", 1),
        "traffic still crosses after the routes went"
    );
}

#[test]
fn restarted_plane_takes_over_leaked_routes() {
    let underlay = Netns::new("lk-restart");
    let green = tenant("lk-rgreen", "g0", "10.60.0.254", "10.60.0.1");
    let red = tenant("lk-rred", "r0", "10.62.0.254", "10.62.0.1");
    let wanted = vec![
        leaked(GREEN, "10.62.0.0/16", RED),
        leaked(RED, "10.60.0.0/16", GREEN),
    ];
    let index = {
        let mut plane = plane_in(&underlay);
        plane
            .add_vrf(GREEN, Namespace::named(green.vrf.name()))
            .unwrap();
        plane
            .add_vrf(RED, Namespace::named(red.vrf.name()))
            .unwrap();
        assert_all_ok(
            &plane.apply(
                &wanted
                    .iter()
                    .cloned()
                    .map(Change::Install)
                    .collect::<Vec<_>>(),
            ),
        );
        link(&green.vrf, "lk100-101").expect("leak link")["ifindex"].clone()
    };

    // A new plane finds the routes and the link as they are.
    let mut plane = plane_in(&underlay);
    plane
        .add_vrf(GREEN, Namespace::named(green.vrf.name()))
        .unwrap();
    plane
        .add_vrf(RED, Namespace::named(red.vrf.name()))
        .unwrap();
    let report = plane.resync(&wanted).unwrap();
    assert_eq!(report.unchanged, 2, "{report:?}");
    assert_eq!(report.installed + report.removed, 0, "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(link(&green.vrf, "lk100-101").unwrap()["ifindex"], index);
    assert!(
        green.host.ping("10.62.0.1", 2),
        "traffic stopped across the restart"
    );

    // Dropping one route keeps the link for the other; dropping both deletes it.
    let report = plane.resync(&wanted[..1]).unwrap();
    assert_eq!(report.removed, 1, "{report:?}");
    assert_eq!(link(&green.vrf, "lk100-101").unwrap()["ifindex"], index);
    let report = plane.resync(&[]).unwrap();
    assert_eq!(report.removed, 1, "{report:?}");
    assert!(
        link(&green.vrf, "lk100-101").is_none(),
        "unused leak link left after resync"
    );
    assert!(
        link(&red.vrf, "lk101-100").is_none(),
        "unused leak link left after resync"
    );
}

#[test]
fn removed_vrf_takes_its_leak_links() {
    let underlay = Netns::new("lk-remove");
    let green = tenant("lk-mgreen", "g0", "10.60.0.254", "10.60.0.1");
    let red = tenant("lk-mred", "r0", "10.62.0.254", "10.62.0.1");
    let mut plane = plane_in(&underlay);
    plane
        .add_vrf(GREEN, Namespace::named(green.vrf.name()))
        .unwrap();
    plane
        .add_vrf(RED, Namespace::named(red.vrf.name()))
        .unwrap();
    assert_all_ok(&plane.apply(&[Change::Install(leaked(GREEN, "10.62.0.0/16", RED))]));

    plane.remove_vrf(RED);

    assert!(
        link(&green.vrf, "lk100-101").is_none(),
        "leak link into a removed VRF left"
    );
    assert!(kernel_route(&green.vrf, "10.62.0.0/16").is_none());
    // The route's removal that the RIB then sends succeeds.
    assert_all_ok(&plane.apply(&[remove(GREEN, "10.62.0.0/16")]));
    // A route into a VRF the plane does not know fails alone.
    let results = plane.apply(&[Change::Install(leaked(GREEN, "10.62.0.0/16", RED))]);
    assert_eq!(results, vec![Err(PlaneError::UnknownVrf(RED))]);
}
