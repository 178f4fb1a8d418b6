//! Our HNA against FRR 8.4: the daemon's core with the Linux plane in a namespace, an FRR
//! route reflector and an FRR VTEP (`advertise-all-vni` on a VXLAN device and a bridge). Both
//! VTEPs share L2VNI 10000 with automatic route targets, once in the AS:VNI form that FRR uses
//! by default (65500:10000) and once in the RFC 8365 form (65500:268445456) that the seed
//! configurations ask for with `auto-route-target rfc8365` and FRR with `autort
//! rfc8365-compatible`.
//!
//! ```text
//!   pod1 ── us (hna1, 10.0.0.1) ── eth1 ── rr (FRR leaf, 10.0.0.201) ── eth2 ── vtep (FRR, 10.0.0.2) ── pod2
//!   10.60.0.1/16    10.0.11.0/24                     10.0.12.0/24                         10.60.0.2/16
//! ```
//!
//! OSPF area 0 runs on both links and carries the loopbacks, which are the VTEP addresses and
//! the BGP sessions' endpoints. Our HNA builds its tenant namespace, bridge and VXLAN devices
//! from its configuration, as the daemon does.

mod bgp_support;

use std::thread::JoinHandle;
use std::time::Duration;

use bgp_support::{EvpnPath, frr_evpn_paths, wait_frr_established};
use hna_rib::linux::LinuxPlane;
use hna_routed::config;
use hna_routed::plane::PlaneThread;
use hna_routed::router::{CoreMessage, Router, RouterOptions, tenant_namespace};
use hna_testkit::{Frr, Netns, require_program, run, unique_name, veth, wait_until, wait_until_ok};
use serde_json::Value;
use tokio::sync::mpsc;

/// Deadline for OSPF, then BGP, then the EVPN routes and entries. FRR's connect retry (5 s)
/// and OSPF's dead interval (4 s) bound the usual time. The whole file's two tests take about
/// 16 s together on a 2-core machine.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Our HNA: hna1 of the seed reduced to one tenant (green, L3VNI 100) with one subnet (L2VNI
/// 10000 on br10000) and one pod port, one uplink, OSPF and an iBGP session to the reflector.
/// Without `auto-route-target rfc8365` (see [`RouteTargetForm::our_line`]) the tenant's VNIs
/// export AS:VNI route targets.
const OUR_CONFIG: &str = r#"
/ vrf main interface physical eth1 mtu 1600
/ vrf main interface physical eth1 ipv4 address 10.0.11.2/24
/ vrf main interface infrastructure veth-1000000000 description "pod1"
/ vrf main l3vrf vrf100 description "tenant green"
/ vrf main l3vrf vrf100 table-id 100
/ vrf main l3vrf vrf100 routing bgp l3vni 100
/ vrf main l3vrf vrf100 routing bgp address-family ipv4-unicast redistribute connected
/ vrf main l3vrf vrf100 routing bgp address-family l2vpn-evpn advertisement ipv4-unicast
/ vrf main interface vxlan vx100 mtu 1500
/ vrf main interface vxlan vx100 vni 100
/ vrf main interface vxlan vx100 local 10.0.0.1
/ vrf main interface vxlan vx100 link-interface loop0
/ vrf main interface vxlan vx100 learning false
/ vrf main l3vrf vrf100 interface bridge br10000 ipv4 address 10.60.0.254/16
/ vrf main l3vrf vrf100 interface bridge br10000 ethernet mac-address 00:00:00:00:01:01
/ vrf main l3vrf vrf100 interface bridge br10000 mtu 1550
/ vrf main l3vrf vrf100 interface bridge br10000 link-interface veth-1000000000
/ vrf main interface vxlan vx10000 mtu 1500
/ vrf main interface vxlan vx10000 vni 10000
/ vrf main interface vxlan vx10000 local 10.0.0.1
/ vrf main interface vxlan vx10000 link-interface loop0
/ vrf main interface vxlan vx10000 learning false
/ vrf main l3vrf vrf100 interface bridge br10000 link-interface vx10000 learning false
/ vrf main interface loopback loop0 ipv4 address 10.0.0.1/32
/ vrf main routing bgp as 65500
/ vrf main routing bgp router-id 10.0.0.1
/ vrf main routing bgp address-family l2vpn-evpn advertise-all-vni true
/ vrf main routing bgp neighbor 10.0.0.201 remote-as 65500
/ vrf main routing bgp neighbor 10.0.0.201 update-source loop0
/ vrf main routing bgp neighbor 10.0.0.201 address-family ipv4-unicast enabled false
/ vrf main routing bgp neighbor 10.0.0.201 address-family l2vpn-evpn
/ vrf main routing bgp neighbor 10.0.0.201 timers keepalive-interval 3 hold-time 9 connect-retry-interval 5
/ vrf main routing ospf router-id 10.0.0.1
/ vrf main routing ospf network 10.0.0.0/16 area 0
/ vrf main routing interface eth1 ip ospf network-type point-to-point hello-interval 1 dead-interval 4 retransmit-interval 1
"#;

const RR_CONFIG: &str = "\
hostname rr
interface eth1
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 4
!
interface eth2
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 4
!
router ospf
 ospf router-id 10.0.0.201
 network 10.0.0.0/16 area 0
!
router bgp 65500
 bgp router-id 10.0.0.201
 no bgp default ipv4-unicast
 timers bgp 3 9
 neighbor HNAs peer-group
 neighbor HNAs remote-as 65500
 neighbor HNAs update-source lo
 bgp listen range 10.0.0.0/16 peer-group HNAs
 address-family l2vpn evpn
  neighbor HNAs activate
  neighbor HNAs route-reflector-client
 exit-address-family
!
";

/// The FRR VTEP. [`RouteTargetForm::frr_line`] replaces `{autort}`.
const VTEP_CONFIG: &str = "\
hostname vtep
interface eth1
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 4
!
router ospf
 ospf router-id 10.0.0.2
 network 10.0.0.0/16 area 0
!
router bgp 65500
 bgp router-id 10.0.0.2
 no bgp default ipv4-unicast
 timers bgp 3 9
 neighbor 10.0.0.201 remote-as 65500
 neighbor 10.0.0.201 update-source lo
 neighbor 10.0.0.201 timers connect 5
 address-family l2vpn evpn
  neighbor 10.0.0.201 activate
  advertise-all-vni
{autort}
 exit-address-family
!
";

/// The anycast gateway MAC of subnet 10.60/16, on both VTEPs' bridges.
const GATEWAY_MAC: &str = "00:00:00:00:01:01";

/// The pods' MACs, set so that the checks can name them.
const POD1_MAC: &str = "02:00:00:60:00:01";
const POD2_MAC: &str = "02:00:00:60:00:02";

/// Creates a pod: a namespace whose `eth0` is the far end of a bridge port, on 10.60.0.0/16.
fn pod(tag: &str, host: &Netns, port: &str, address: &str, mac: &str) -> Netns {
    let pod = Netns::new(tag);
    veth(host, port, &pod, "eth0", 1500);
    pod.ip(&["link", "set", "eth0", "address", mac]);
    pod.ip(&["addr", "add", &format!("{address}/16"), "dev", "eth0"]);
    pod.ip(&["route", "add", "default", "via", "10.60.0.254"]);
    pod.sysctl("net.ipv4.neigh.eth0.retrans_time_ms=100");
    pod
}

/// Builds the FRR VTEP's L2VNI as FRR expects it: vx10000 (no learning) in bridge br10000,
/// which carries the anycast gateway.
fn frr_vtep_bridge(vtep: &Netns) {
    vtep.ip(&[
        "link",
        "add",
        "br10000",
        "address",
        GATEWAY_MAC,
        "type",
        "bridge",
        "stp_state",
        "0",
    ]);
    vtep.ip(&["addr", "add", "10.60.0.254/16", "dev", "br10000"]);
    vtep.ip(&[
        "link",
        "add",
        "vx10000",
        "type",
        "vxlan",
        "id",
        "10000",
        "local",
        "10.0.0.2",
        "dstport",
        "4789",
        "nolearning",
    ]);
    vtep.ip(&["link", "set", "vx10000", "master", "br10000"]);
    vtep.exec_ok(
        "bridge",
        &["link", "set", "dev", "vx10000", "learning", "off"],
    );
    vtep.ip(&["link", "set", "vx10000", "up"]);
    vtep.ip(&["link", "set", "br10000", "up"]);
}

/// Our core on a thread inside `ns`, with the Linux plane. Dropping it stops the core without
/// graceful restart, which deletes the tenant namespace it created; the guard deletes it too
/// when the core could not.
struct OurHna {
    messages: mpsc::Sender<CoreMessage>,
    thread: Option<JoinHandle<()>>,
    tenant: String,
}

impl OurHna {
    fn start(ns: &Netns, prefix: &str, config_text: &str) -> OurHna {
        let config = config::parse(config_text, std::path::Path::new("hna1-interop.nc-cli"))
            .unwrap_or_else(|errors| panic!("our configuration does not load: {errors}"));
        let options = RouterOptions {
            netns_prefix: prefix.to_string(),
            set_up_interfaces: true,
            ..RouterOptions::default()
        };
        let tenant = tenant_namespace(&options, "vrf100");
        let (messages, messages_rx) = mpsc::channel(16);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = ns.spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("build the core's runtime");
            runtime.block_on(async move {
                let started = async {
                    let (plane, _plane_thread) = PlaneThread::spawn(LinuxPlane::new)
                        .map_err(|error| format!("Linux plane: {error}"))?;
                    let events = plane
                        .subscribe()
                        .await
                        .map_err(|error| format!("plane events: {error}"))?;
                    let core = Router::start(config, options, plane).await?;
                    Ok::<_, String>((core, events))
                };
                match started.await {
                    Ok((core, events)) => {
                        let _ = ready_tx.send(Ok(()));
                        core.run(events, messages_rx).await;
                    }
                    Err(error) => {
                        let _ = ready_tx.send(Err(error));
                    }
                }
            });
        });
        let hna = OurHna {
            messages,
            thread: Some(thread),
            tenant,
        };
        match ready_rx.recv_timeout(CONVERGE_TIMEOUT) {
            Ok(Ok(())) => hna,
            Ok(Err(error)) => panic!("our core did not start: {error}"),
            Err(error) => panic!("our core did not report its start: {error}"),
        }
    }
}

impl Drop for OurHna {
    fn drop(&mut self) {
        let _ = self
            .messages
            .blocking_send(CoreMessage::Shutdown { graceful: false });
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = run("ip", &["netns", "del", &self.tenant]);
    }
}

/// Returns the forwarding entries of `device` in `namespace`, as `bridge -j fdb show` lists
/// them.
fn fdb(namespace: &str, device: &str) -> Vec<Value> {
    let output = run(
        "bridge",
        &["-j", "-n", namespace, "fdb", "show", "dev", device],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|json| json.as_array().cloned())
        .unwrap_or_default()
}

/// Returns whether the FDB has `mac` with VXLAN destination `vtep`.
fn fdb_has(entries: &[Value], mac: &str, vtep: &str) -> bool {
    entries
        .iter()
        .any(|entry| entry["mac"] == mac && entry["dst"] == vtep)
}

/// Waits until vx10000's FDB in `namespace` has both the flood entry (the all-zero MAC) and
/// `mac` toward `vtep`.
fn wait_for_fdb(namespace: &str, node: &str, vtep: &str, mac: &str) {
    let what = format!("the flood entry and {mac} toward {vtep} in the FDB of {node}");
    wait_until_ok(CONVERGE_TIMEOUT, &what, || {
        let entries = fdb(namespace, "vx10000");
        if fdb_has(&entries, "00:00:00:00:00:00", vtep) && fdb_has(&entries, mac, vtep) {
            Ok(())
        } else {
            Err(entries)
        }
    });
}

/// Returns the neighbor entry of `address` on `device` in `namespace`.
fn neighbor(namespace: &str, device: &str, address: &str) -> Option<Value> {
    let output = run(
        "ip",
        &[
            "-j", "-n", namespace, "neigh", "show", "dev", device, "to", address,
        ],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let json: Value = serde_json::from_str(&text).ok()?;
    json.as_array()?.first().cloned()
}

/// Returns whether a neighbor entry of `ip -j neigh` has `flag`, which iproute2 prints as a key
/// with a null value.
fn has_flag(entry: &Value, flag: &str) -> bool {
    entry.get(flag).is_some()
}

/// Returns the EVPN paths of an FRR node for our routes (next hop 10.0.0.1).
fn paths_from_us(frr: &Frr) -> Vec<EvpnPath> {
    frr_evpn_paths(frr)
        .into_iter()
        .filter(|path| path.next_hop == "10.0.0.1")
        .collect()
}

/// Returns our type-3 route and pod1's type-2 routes (MAC, and MAC/IP once our bridge has its ARP
/// entry), in FRR's notation.
fn our_prefixes() -> [String; 3] {
    [
        "[3]:[0]:[32]:[10.0.0.1]".to_string(),
        format!("[2]:[0]:[48]:[{POD1_MAC}]"),
        format!("[2]:[0]:[48]:[{POD1_MAC}]:[32]:[10.60.0.1]"),
    ]
}

fn wait_for_our_routes(frr: &Frr, node: &str) -> Vec<EvpnPath> {
    wait_until_ok(
        CONVERGE_TIMEOUT,
        &format!("our type-2 and type-3 routes at FRR {node}"),
        || {
            let paths = paths_from_us(frr);
            let complete = our_prefixes()
                .iter()
                .all(|prefix| paths.iter().any(|path| path.prefix == *prefix));
            if complete { Ok(paths) } else { Err(paths) }
        },
    )
}

/// The form of the automatic route targets both VTEPs use for their VNIs.
#[derive(Clone, Copy)]
enum RouteTargetForm {
    AsVni,
    Rfc8365,
}

impl RouteTargetForm {
    /// Returns the line that selects this form in our configuration.
    fn our_line(self) -> &'static str {
        match self {
            RouteTargetForm::AsVni => "",
            RouteTargetForm::Rfc8365 => {
                "/ vrf main l3vrf vrf100 routing bgp address-family l2vpn-evpn auto-route-target rfc8365"
            }
        }
    }

    /// Returns the line that selects this form in FRR's `address-family l2vpn evpn`.
    fn frr_line(self) -> &'static str {
        match self {
            RouteTargetForm::AsVni => "!",
            RouteTargetForm::Rfc8365 => "  autort rfc8365-compatible",
        }
    }

    /// Returns L2VNI 10000's route target as FRR prints it.
    fn l2vni_target(self) -> &'static str {
        match self {
            RouteTargetForm::AsVni => "RT:65500:10000",
            // 2^28 (type 1, VXLAN, in the local administrator) + 10000 (RFC 8365 section 5.1.2.1).
            RouteTargetForm::Rfc8365 => "RT:65500:268445456",
        }
    }
}

#[test]
fn frr_vtep_exchanges_pods_with_as_vni_targets() {
    exchange_pods("evas", RouteTargetForm::AsVni);
}

#[test]
fn frr_vtep_exchanges_pods_with_rfc8365_targets() {
    exchange_pods("ev83", RouteTargetForm::Rfc8365);
}

/// Builds the lab with namespaces named after `tag` and checks both sides: the routes FRR
/// learns from us, the kernel entries each side installs for the other's pod, and the pings.
fn exchange_pods(tag: &str, form: RouteTargetForm) {
    require_program("/usr/lib/frr/bgpd", "frr");
    let us = Netns::new(&format!("{tag}-us"));
    let rr = Netns::new(&format!("{tag}-rr"));
    let vtep = Netns::new(&format!("{tag}-vt"));

    veth(&us, "eth1", &rr, "eth1", 1600);
    veth(&rr, "eth2", &vtep, "eth1", 1600);
    rr.ip(&["addr", "add", "10.0.11.1/24", "dev", "eth1"]);
    rr.ip(&["addr", "add", "10.0.12.1/24", "dev", "eth2"]);
    rr.ip(&["addr", "add", "10.0.0.201/32", "dev", "lo"]);
    rr.sysctl("net.ipv4.ip_forward=1");
    vtep.ip(&["addr", "add", "10.0.12.2/24", "dev", "eth1"]);
    vtep.ip(&["addr", "add", "10.0.0.2/32", "dev", "lo"]);
    // The loopback our configuration names is an ifb device (always up, sending nothing), as
    // the lab makes it, because kernels without the dummy driver exist. Our core gives it its
    // address.
    us.ip(&["link", "add", "loop0", "type", "ifb"]);
    us.ip(&["link", "set", "loop0", "up"]);
    frr_vtep_bridge(&vtep);
    let pod1 = pod(
        &format!("{tag}-p1"),
        &us,
        "veth-1000000000",
        "10.60.0.1",
        POD1_MAC,
    );
    let pod2 = pod(&format!("{tag}-p2"), &vtep, "pod2", "10.60.0.2", POD2_MAC);
    vtep.ip(&["link", "set", "pod2", "master", "br10000"]);

    let rr_frr = Frr::start(&rr, &["ospfd", "bgpd"], RR_CONFIG);
    let vtep_config = VTEP_CONFIG.replace("{autort}", form.frr_line());
    let vtep_frr = Frr::start(&vtep, &["ospfd", "bgpd"], &vtep_config);
    // Declared last, so it drops first: our core stops and deletes its tenant namespace before
    // the FRR instances and the namespaces go, also when a check fails.
    let our_config = format!("{OUR_CONFIG}{}\n", form.our_line());
    let ours = OurHna::start(&us, &format!("{}-", unique_name(tag)), &our_config);

    wait_frr_established(&rr_frr, "l2vpn evpn", "10.0.0.1", CONVERGE_TIMEOUT);
    wait_frr_established(&rr_frr, "l2vpn evpn", "10.0.0.2", CONVERGE_TIMEOUT);

    // The pods talk to their gateways, so each bridge learns its pod's MAC and each SVI its ARP
    // entry: the sources of the MAC and MAC/IP routes on both sides.
    wait_until(CONVERGE_TIMEOUT, "pod1 to reach our gateway", || {
        pod1.ping("10.60.0.254", 1).then_some(())
    });
    wait_until(CONVERGE_TIMEOUT, "pod2 to reach FRR's gateway", || {
        pod2.ping("10.60.0.254", 1).then_some(())
    });

    // FRR learns our routes, at the reflector and, reflected, at the VTEP.
    for (node, frr) in [("rr", &rr_frr), ("vtep", &vtep_frr)] {
        let paths = wait_for_our_routes(frr, node);
        for prefix in our_prefixes() {
            let path = paths.iter().find(|path| path.prefix == prefix).unwrap();
            assert!(
                path.extended_communities.contains(form.l2vni_target()),
                "{node}: {prefix} without the L2VNI's route target: {path:?}"
            );
            assert!(
                path.extended_communities.contains("ET:8"),
                "{node}: {prefix} without VXLAN encapsulation: {path:?}"
            );
        }
        let mac_ip = paths
            .iter()
            .find(|path| path.prefix == our_prefixes()[2])
            .unwrap();
        assert_eq!(
            mac_ip.vni, "10000/100",
            "{node}: the MAC/IP route carries the L2VNI and the L3VNI: {mac_ip:?}"
        );
        assert!(
            mac_ip
                .extended_communities
                .contains("Rmac:02:00:0a:00:00:01"),
            "{node}: the MAC/IP route carries our router MAC: {mac_ip:?}"
        );
    }

    // FRR's VTEP exports the same form. Our import accepts both forms, so only this shows that
    // the two sides agree.
    let frr_type3 = wait_until_ok(
        CONVERGE_TIMEOUT,
        "FRR's type-3 route at the reflector",
        || {
            let paths = frr_evpn_paths(&rr_frr);
            match paths.iter().find(|path| {
                path.next_hop == "10.0.0.2" && path.prefix == "[3]:[0]:[32]:[10.0.0.2]"
            }) {
                Some(path) => Ok(path.clone()),
                None => Err(paths),
            }
        },
    );
    assert!(
        frr_type3.extended_communities.contains(form.l2vni_target()),
        "FRR's route target form: {frr_type3:?}"
    );

    // FRR's VTEP installs pod1's MAC and the flood entry toward us in its kernel FDB, and
    // pod1's ARP entry on its bridge.
    // The type-2 and type-3 routes travel in separate UPDATEs, in either order, so the test
    // waits for both entries.
    wait_for_fdb(vtep.name(), "FRR's VTEP", "10.0.0.1", POD1_MAC);
    let pod1_neighbor = wait_until_ok(
        CONVERGE_TIMEOUT,
        "pod1's ARP entry from our MAC/IP route at FRR",
        || match neighbor(vtep.name(), "br10000", "10.60.0.1") {
            Some(entry) if entry["lladdr"] == POD1_MAC && has_flag(&entry, "extern_learn") => {
                Ok(entry)
            }
            other => Err(other),
        },
    );
    assert_eq!(
        pod1_neighbor["protocol"], "zebra",
        "FRR installed pod1's ARP entry: {pod1_neighbor}"
    );

    // We install pod2's MAC and the flood entry toward FRR's VTEP in our tenant's FDB, and
    // pod2's ARP entry on our bridge.
    wait_for_fdb(&ours.tenant, "our tenant", "10.0.0.2", POD2_MAC);
    wait_until_ok(
        CONVERGE_TIMEOUT,
        "pod2's ARP entry from FRR's MAC/IP route on our bridge",
        || match neighbor(&ours.tenant, "br10000", "10.60.0.2") {
            Some(entry) if entry["lladdr"] == POD2_MAC && has_flag(&entry, "extern_learn") => {
                Ok(entry)
            }
            other => Err(other),
        },
    );

    // Traffic crosses the VXLAN tunnel both ways.
    wait_until(CONVERGE_TIMEOUT, "pod1 to ping pod2 across VXLAN", || {
        pod1.ping("10.60.0.2", 1).then_some(())
    });
    assert!(pod2.ping("10.60.0.1", 2), "pod2 does not reach pod1");
}
