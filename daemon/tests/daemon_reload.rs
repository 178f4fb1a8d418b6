//! Reloads that add a BGP neighbor and an L3VRF to a running daemon peering with FRR 8.4. The
//! new neighbor and the new tenant come up. The established BGP session and OSPF adjacency are
//! untouched on both sides: no NOTIFICATION, no new connection, and a growing uptime.
//!
//! Topology: ours r1 (10.0.0.1) --eth1 10.1.0.0/30-- FRR f (10.0.0.3). OSPF point-to-point on
//! the link; iBGP between the loopbacks from the start (ipv4-unicast and l2vpn-evpn); FRR also
//! has a neighbor for r1's link address 10.1.0.1, which r1 only adds in the first reload.

mod daemon_support;

use std::collections::BTreeMap;
use std::time::Duration;

use daemon_support::{CONVERGENCE, Daemon, SessionMark, UnderlayMark};
use hna_testkit::{Frr, Netns, require_root, run_ok, scratch_dir, veth, wait_until, wait_until_ok};
use serde_json::Value;

const FRR_CONFIG: &str = "\
interface eth1
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 4
router ospf
 ospf router-id 10.0.0.3
 network 10.0.0.0/8 area 0
router bgp 65500
 bgp router-id 10.0.0.3
 no bgp default ipv4-unicast
 no bgp network import-check
 neighbor 10.0.0.1 remote-as 65500
 neighbor 10.0.0.1 update-source 10.0.0.3
 neighbor 10.0.0.1 timers connect 1
 neighbor 10.1.0.1 remote-as 65500
 neighbor 10.1.0.1 timers connect 1
 address-family ipv4 unicast
  network 10.98.0.0/24
  neighbor 10.0.0.1 activate
  neighbor 10.1.0.1 activate
 exit-address-family
 address-family l2vpn evpn
  neighbor 10.0.0.1 activate
  neighbor 10.1.0.1 activate
 exit-address-family
";

/// r1's configuration: loopback, link, tenant vrf100 with bridge br10 (L2VNI 10), BGP with
/// FRR's loopback, OSPF on the link.
const BASE_CONFIG: &str = "\
/ vrf main interface loopback loop0 ipv4 address 10.0.0.1/32
/ vrf main interface physical eth1 ipv4 address 10.1.0.1/30
/ vrf main l3vrf vrf100 table-id 100
/ vrf main l3vrf vrf100 routing bgp l3vni 100
/ vrf main l3vrf vrf100 routing bgp address-family ipv4-unicast redistribute connected
/ vrf main l3vrf vrf100 routing bgp address-family l2vpn-evpn advertisement ipv4-unicast
/ vrf main l3vrf vrf100 routing bgp address-family l2vpn-evpn export route-distinguisher 10.0.0.1:100
/ vrf main interface vxlan vx100 vni 100
/ vrf main interface vxlan vx100 local 10.0.0.1
/ vrf main interface vxlan vx100 link-interface loop0
/ vrf main interface vxlan vx100 learning false
/ vrf main l3vrf vrf100 interface bridge br10 ipv4 address 10.60.0.254/16
/ vrf main l3vrf vrf100 interface bridge br10 ethernet mac-address 00:00:00:00:01:01
/ vrf main interface vxlan vx10 vni 10
/ vrf main interface vxlan vx10 local 10.0.0.1
/ vrf main interface vxlan vx10 link-interface loop0
/ vrf main interface vxlan vx10 learning false
/ vrf main l3vrf vrf100 interface bridge br10 link-interface vx10 learning false
/ vrf main routing bgp as 65500
/ vrf main routing bgp router-id 10.0.0.1
/ vrf main routing bgp address-family l2vpn-evpn advertise-all-vni true
/ vrf main routing bgp neighbor 10.0.0.3 remote-as 65500
/ vrf main routing bgp neighbor 10.0.0.3 update-source loop0
/ vrf main routing bgp neighbor 10.0.0.3 timers connect-retry-interval 1
/ vrf main routing bgp neighbor 10.0.0.3 address-family ipv4-unicast
/ vrf main routing bgp neighbor 10.0.0.3 address-family l2vpn-evpn
/ vrf main routing ospf router-id 10.0.0.1
/ vrf main routing ospf network 10.0.0.0/8 area 0
/ vrf main routing interface eth1 ip ospf network-type point-to-point hello-interval 1 dead-interval 4
";

/// The second BGP session with FRR, to its link address.
const NEW_NEIGHBOR: &str = "\
/ vrf main routing bgp neighbor 10.1.0.2 remote-as 65500
/ vrf main routing bgp neighbor 10.1.0.2 timers connect-retry-interval 1
/ vrf main routing bgp neighbor 10.1.0.2 address-family ipv4-unicast
/ vrf main routing bgp neighbor 10.1.0.2 address-family l2vpn-evpn
";

/// Tenant vrf200 (L3VNI 200) with bridge br20 (10.70.0.254/16, L2VNI 20).
const NEW_VRF: &str = "\
/ vrf main l3vrf vrf200 table-id 200
/ vrf main l3vrf vrf200 routing bgp l3vni 200
/ vrf main l3vrf vrf200 routing bgp address-family ipv4-unicast redistribute connected
/ vrf main l3vrf vrf200 routing bgp address-family l2vpn-evpn advertisement ipv4-unicast
/ vrf main l3vrf vrf200 routing bgp address-family l2vpn-evpn export route-distinguisher 10.0.0.1:200
/ vrf main interface vxlan vx200 vni 200
/ vrf main interface vxlan vx200 local 10.0.0.1
/ vrf main interface vxlan vx200 link-interface loop0
/ vrf main interface vxlan vx200 learning false
/ vrf main l3vrf vrf200 interface bridge br20 ipv4 address 10.70.0.254/16
/ vrf main l3vrf vrf200 interface bridge br20 ethernet mac-address 00:00:00:00:01:01
/ vrf main interface vxlan vx20 vni 20
/ vrf main interface vxlan vx20 local 10.0.0.1
/ vrf main interface vxlan vx20 link-interface loop0
/ vrf main interface vxlan vx20 learning false
/ vrf main l3vrf vrf200 interface bridge br20 link-interface vx20 learning false
";

/// FRR's view of its session with `address`.
#[derive(Debug, Clone, PartialEq)]
struct FrrSession {
    state: String,
    established: u64,
    dropped: u64,
    notifications_received: u64,
    notifications_sent: u64,
    up_msec: u64,
}

impl FrrSession {
    fn read(frr: &Frr, address: &str) -> FrrSession {
        let json = frr.json(&format!("show bgp neighbors {address} json"));
        let neighbor = &json[address];
        let number = |value: &Value| value.as_u64().unwrap_or(u64::MAX);
        FrrSession {
            state: neighbor["bgpState"].as_str().unwrap_or("?").to_string(),
            established: number(&neighbor["connectionsEstablished"]),
            dropped: number(&neighbor["connectionsDropped"]),
            notifications_received: number(&neighbor["messageStats"]["notificationsRecv"]),
            notifications_sent: number(&neighbor["messageStats"]["notificationsSent"]),
            up_msec: neighbor["bgpTimerUpMsec"].as_u64().unwrap_or(0),
        }
    }
}

/// FRR's OSPF neighbor r1: its state (`Full/-` on a point-to-point link) and how often the
/// state changed.
fn frr_ospf_neighbor(frr: &Frr) -> (String, u64) {
    let json = frr.json("show ip ospf neighbor 10.0.0.1 detail json");
    let neighbor = &json["10.0.0.1"][0];
    (
        neighbor["nbrState"]
            .as_str()
            .unwrap_or("absent")
            .to_string(),
        neighbor["stateChangeCounter"].as_u64().unwrap_or(u64::MAX),
    )
}

/// Everything a reload must leave alone, read on both sides.
#[derive(Debug, Clone)]
struct Untouched {
    ours: SessionMark,
    theirs: FrrSession,
    our_ospf: UnderlayMark,
    their_ospf: (String, u64),
    /// Links of tenant vrf100 by name, with their ifindex.
    tenant_links: BTreeMap<String, u64>,
}

impl Untouched {
    fn read(r1: &Daemon, frr: &Frr) -> Untouched {
        Untouched {
            ours: SessionMark::of(&r1.neighbor("10.0.0.3")),
            theirs: FrrSession::read(frr, "10.0.0.1"),
            our_ospf: UnderlayMark::of(r1),
            their_ospf: frr_ospf_neighbor(frr),
            tenant_links: links(&r1.tenant("vrf100")),
        }
    }

    /// Asserts that nothing changed since `self`, and waits for the uptimes to grow past
    /// their values in `self`, which shows that the same sessions are still running.
    fn assert_kept(&self, r1: &Daemon, frr: &Frr, what: &str) {
        let later = wait_until_ok(
            Duration::from_secs(10),
            &format!("{what}: session uptimes to grow"),
            || {
                let later = Untouched::read(r1, frr);
                if later.ours.uptime_secs > self.ours.uptime_secs
                    && later.theirs.up_msec > self.theirs.up_msec
                {
                    Ok(later)
                } else {
                    Err((later.ours.uptime_secs, later.theirs.up_msec))
                }
            },
        );
        self.ours
            .assert_unchanged(&later.ours, &format!("{what}: r1's session with FRR"));
        assert_eq!(later.theirs.state, "Established", "{what}: {later:?}");
        assert_eq!(
            later.theirs.established, self.theirs.established,
            "{what}: FRR established the session again"
        );
        assert_eq!(
            later.theirs.dropped, self.theirs.dropped,
            "{what}: FRR dropped the session"
        );
        assert_eq!(
            later.theirs.notifications_received, 0,
            "{what}: FRR received a NOTIFICATION"
        );
        assert_eq!(
            later.theirs.notifications_sent, 0,
            "{what}: FRR sent a NOTIFICATION"
        );
        assert_eq!(
            later.our_ospf, self.our_ospf,
            "{what}: our OSPF adjacency changed"
        );
        assert_eq!(
            later.their_ospf, self.their_ospf,
            "{what}: FRR's OSPF adjacency changed state"
        );
        assert_eq!(
            later.tenant_links, self.tenant_links,
            "{what}: a link of vrf100 was recreated"
        );
    }
}

/// Returns the links of namespace `namespace` by name, with their ifindex.
fn links(namespace: &str) -> BTreeMap<String, u64> {
    let json: Value =
        serde_json::from_str(&run_ok("ip", &["-j", "-n", namespace, "link", "show"])).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|link| {
            (
                link["ifname"].as_str().unwrap().to_string(),
                link["ifindex"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Returns the RDs under which FRR has a type-3 route from r1 (next hop 10.0.0.1).
fn frr_type3_from_r1(frr: &Frr) -> Vec<String> {
    let json = frr.json("show bgp l2vpn evpn route type multicast json");
    let Some(rds) = json.as_object() else {
        return Vec::new();
    };
    rds.iter()
        .filter(|(rd, _)| rd.starts_with("10.0.0.1:"))
        .filter(|(_, routes)| {
            routes.as_object().is_some_and(|routes| {
                routes.values().any(|route| {
                    route["paths"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|paths| paths.as_array().into_iter().flatten())
                        .any(|path| path["nexthops"][0]["ip"] == "10.0.0.1")
                })
            })
        })
        .map(|(rd, _)| rd.clone())
        .collect()
}

/// Reloads r1 with `config` and asserts that the daemon applied it.
fn reload(r1: &Daemon, config: &str) {
    r1.write_config(config);
    let output = r1.ctl(&["reload"]);
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
fn reload_adds_neighbor_and_vrf_without_flap() {
    require_root();
    let ours = Netns::new("drl-r1");
    let theirs = Netns::new("drl-f");
    veth(&ours, "eth1", &theirs, "eth1", 1500);
    theirs.ip(&["addr", "add", "10.1.0.2/30", "dev", "eth1"]);
    theirs.ip(&["addr", "add", "10.0.0.3/32", "dev", "lo"]);
    let frr = Frr::start(&theirs, &["ospfd", "bgpd"], FRR_CONFIG);
    let dir = scratch_dir("drl");
    let r1 = Daemon::start(&ours, &dir, "r1", BASE_CONFIG, false);

    r1.wait_established("10.0.0.3", CONVERGENCE);
    wait_until_ok(CONVERGENCE, "FRR's session with r1 Established", || {
        let session = FrrSession::read(&frr, "10.0.0.1");
        if session.state == "Established" {
            Ok(())
        } else {
            Err(session)
        }
    });
    wait_until_ok(CONVERGENCE, "FRR's OSPF neighbor r1 Full", || {
        let (state, _) = frr_ospf_neighbor(&frr);
        if state.starts_with("Full") {
            Ok(())
        } else {
            Err(state)
        }
    });
    let ospf = r1.json(&["show", "ip", "ospf", "neighbor"]);
    assert_eq!(ospf[0]["state"], "Full", "{ospf}");
    wait_until(
        CONVERGENCE,
        "FRR to hold r1's type-3 route of VNI 10",
        || (frr_type3_from_r1(&frr).len() == 1).then_some(()),
    );
    let edge_before = FrrSession::read(&frr, "10.1.0.1");
    assert_ne!(edge_before.state, "Established");
    let before = Untouched::read(&r1, &frr);
    assert_eq!(before.theirs.established, 1);
    assert_eq!(before.ours.established_transitions, 1);

    // Reload 1: a neighbor for FRR's link address.
    reload(&r1, &format!("{BASE_CONFIG}{NEW_NEIGHBOR}"));
    let new_session = r1.wait_established("10.1.0.2", CONVERGENCE);
    assert_eq!(new_session["local_address"], "10.1.0.1");
    assert_eq!(new_session["remote_router_id"], "10.0.0.3");
    wait_until_ok(
        CONVERGENCE,
        "FRR's session with 10.1.0.1 Established",
        || {
            let session = FrrSession::read(&frr, "10.1.0.1");
            if session.state == "Established" {
                Ok(())
            } else {
                Err(session)
            }
        },
    );
    wait_until_ok(CONVERGENCE, "FRR's prefix on the new session", || {
        let summary = r1.json(&["show", "bgp", "summary"]);
        let line = summary["neighbors"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|neighbor| neighbor["address"] == "10.1.0.2")
            .cloned()
            .unwrap_or_default();
        let ipv4 = line["families"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|family| family["afi_safi"] == "ipv4-unicast")
            .cloned()
            .unwrap_or_default();
        if ipv4["accepted"] == 1 {
            Ok(())
        } else {
            Err(line)
        }
    });
    before.assert_kept(&r1, &frr, "after adding a neighbor");

    // Reload 2: tenant vrf200 with its bridge, L2VNI 20 and L3VNI 200.
    let before = Untouched::read(&r1, &frr);
    let new_session_before = SessionMark::of(&r1.neighbor("10.1.0.2"));
    reload(&r1, &format!("{BASE_CONFIG}{NEW_NEIGHBOR}{NEW_VRF}"));

    let tenant = r1.tenant("vrf200");
    let tenant_links = wait_until_ok(
        Duration::from_secs(10),
        "vrf200's namespace and devices",
        || {
            if !r1.tenant_namespaces().contains(&tenant) {
                return Err(r1.tenant_namespaces());
            }
            let links = links(&tenant);
            if ["br20", "vx20", "vx200"]
                .iter()
                .all(|name| links.contains_key(*name))
            {
                Ok(links)
            } else {
                Err(links.keys().cloned().collect())
            }
        },
    );
    assert!(tenant_links.contains_key("irb200"), "{tenant_links:?}");
    let bridge_ports: Value =
        serde_json::from_str(&run_ok("bridge", &["-j", "-n", &tenant, "link", "show"])).unwrap();
    assert!(
        bridge_ports
            .as_array()
            .unwrap()
            .iter()
            .any(|port| port["ifname"] == "vx20" && port["master"] == "br20"),
        "{bridge_ports:#}"
    );
    let addresses = run_ok("ip", &["-n", &tenant, "-4", "-br", "addr", "show", "br20"]);
    assert!(addresses.contains("10.70.0.254/16"), "{addresses}");
    let vxlan: Value = serde_json::from_str(&run_ok(
        "ip",
        &["-j", "-d", "-n", &tenant, "link", "show", "vx20"],
    ))
    .unwrap();
    assert_eq!(vxlan[0]["linkinfo"]["info_data"]["id"], 20, "{vxlan:#}");

    let vnis = r1.json(&["show", "evpn", "vni"]);
    let vni = |id: u64| {
        vnis.as_array()
            .into_iter()
            .flatten()
            .find(|vni| vni["vni"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no VNI {id} in {vnis:#}"))
    };
    assert_eq!(vni(20)["kind"], "L2");
    assert_eq!(vni(20)["vrf"], "vrf200");
    assert_eq!(vni(200)["kind"], "L3");
    let routes = r1.json(&["show", "ip", "route", "--vrf", "vrf200"]);
    assert!(
        routes
            .as_array()
            .into_iter()
            .flatten()
            .any(|route| route["prefix"] == "10.70.0.0/16" && route["source"] == "connected"),
        "{routes:#}"
    );
    // FRR receives the new tenant's routes: a type-3 route for VNI 20, a type-5 for its subnet.
    wait_until_ok(
        CONVERGENCE,
        "FRR to hold r1's type-3 routes of VNI 10 and 20",
        || {
            let rds = frr_type3_from_r1(&frr);
            if rds.len() == 2 { Ok(()) } else { Err(rds) }
        },
    );
    wait_until_ok(
        CONVERGENCE,
        "FRR to hold r1's type-5 route of 10.70.0.0/16",
        || {
            let json = frr.json("show bgp l2vpn evpn route rd 10.0.0.1:200 type prefix json");
            if json.to_string().contains("10.70.0.0") {
                Ok(())
            } else {
                Err(json)
            }
        },
    );

    before.assert_kept(&r1, &frr, "after adding a VRF");
    let new_session_after = SessionMark::of(&r1.neighbor("10.1.0.2"));
    new_session_before.assert_unchanged(&new_session_after, "after adding a VRF: the new session");
}
