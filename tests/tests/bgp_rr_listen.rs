//! Our speaker as l2vpn-evpn route reflector with a listen range, and two FRR 8.4 clients that
//! originate type-2, type-3 (`advertise-all-vni` on a VXLAN device and bridge) and type-5
//! routes (an L3VNI bound to the default VRF with `advertise ipv4 unicast`). Each client must
//! receive the other's routes from us unchanged, with ORIGINATOR_ID and CLUSTER_LIST added.

mod bgp_support;

use std::time::Duration;

use bgp_support::{
    EvpnPath, Speaker, frr_evpn_paths, link, neighbor, options, our_config, wait_frr_established,
};
use hna_bgp::AfiSafi;
use hna_bgp::config::{FamilySettings, ListenRange};
use hna_bgp::session::State;
use hna_testkit::{Frr, Netns, veth, wait_until, wait_until_ok};

/// One FRR client `h` (1 or 2): VTEP 10.0.0.h, uplink 10.80.h.2, L2VNI 10100 on br10100 with a
/// pod at 10.100.0.h, L3VNI 100 in the default VRF announcing 10.70.h.0/24.
struct Client {
    ns: Netns,
    pod: Netns,
    frr: Frr,
}

fn client(h: u8, ours: &Netns) -> Client {
    let ns = Netns::new(&format!("bgprr-c{h}"));
    let pod = Netns::new(&format!("bgprr-p{h}"));
    let other = 3 - h;
    link(
        ours,
        &format!("eth{h}"),
        &format!("10.80.{h}.1"),
        &ns,
        "eth0",
        &format!("10.80.{h}.2"),
    );
    ns.sysctl("net.ipv4.ip_forward=1");
    ns.ip(&["addr", "add", &format!("10.0.0.{h}/32"), "dev", "lo"]);
    ns.ip(&[
        "route",
        "add",
        &format!("10.0.0.{other}/32"),
        "via",
        &format!("10.80.{h}.1"),
    ]);
    ours.ip(&[
        "route",
        "add",
        &format!("10.0.0.{h}/32"),
        "via",
        &format!("10.80.{h}.2"),
    ]);

    // L2VNI 10100: bridge with an anycast gateway address, VXLAN port, and a pod behind it.
    ns.ip(&[
        "link",
        "add",
        "br10100",
        "address",
        "02:00:0a:64:00:fe",
        "type",
        "bridge",
        "stp_state",
        "0",
    ]);
    ns.ip(&["addr", "add", "10.100.0.254/16", "dev", "br10100"]);
    let local = format!("10.0.0.{h}");
    ns.ip(&[
        "link",
        "add",
        "vx10100",
        "type",
        "vxlan",
        "id",
        "10100",
        "local",
        &local,
        "dstport",
        "4789",
        "nolearning",
    ]);
    ns.ip(&["link", "set", "vx10100", "master", "br10100"]);
    ns.sh("bridge link set dev vx10100 learning off");
    ns.ip(&["link", "set", "vx10100", "up"]);
    ns.ip(&["link", "set", "br10100", "up"]);
    veth(&ns, "pod", &pod, "eth0", 1500);
    ns.ip(&["link", "set", "pod", "master", "br10100"]);
    pod.ip(&["addr", "add", &format!("10.100.0.{h}/16"), "dev", "eth0"]);
    pod.ip(&["route", "add", "default", "via", "10.100.0.254"]);

    // L3VNI 100 bound to the default VRF (no VRF devices here), and the prefix for type-5.
    ns.ip(&["link", "add", "br100", "type", "bridge"]);
    ns.ip(&[
        "link",
        "add",
        "vx100",
        "type",
        "vxlan",
        "id",
        "100",
        "local",
        &local,
        "dstport",
        "4789",
        "nolearning",
    ]);
    ns.ip(&["link", "set", "vx100", "master", "br100"]);
    ns.sh("bridge link set dev vx100 learning off");
    ns.ip(&["link", "set", "vx100", "up"]);
    ns.ip(&["link", "set", "br100", "up"]);
    ns.ip(&["addr", "add", &format!("10.70.{h}.1/24"), "dev", "br10100"]);

    let config = format!(
        "vrf default\n vni 100\nexit-vrf\n\
         router bgp 65500\n bgp router-id 10.0.0.{h}\n no bgp default ipv4-unicast\n timers bgp 3 9\n \
         neighbor 10.80.{h}.1 remote-as 65500\n neighbor 10.80.{h}.1 timers connect 5\n \
         address-family ipv4 unicast\n  network 10.70.{h}.0/24\n exit-address-family\n \
         address-family l2vpn evpn\n  neighbor 10.80.{h}.1 activate\n  advertise-all-vni\n  advertise ipv4 unicast\n \
         exit-address-family\n"
    );
    let frr = Frr::start(&ns, &["bgpd"], &config);
    Client { ns, pod, frr }
}

/// Returns the paths a client originated itself: those of its own route distinguishers that
/// carry no reflection attributes.
fn own_paths(paths: &[EvpnPath], h: u8) -> Vec<EvpnPath> {
    let rd = format!("10.0.0.{h}:");
    paths
        .iter()
        .filter(|p| p.rd.starts_with(&rd) && p.originator_id.is_none() && p.cluster_list.is_empty())
        .cloned()
        .collect()
}

fn route_type(path: &EvpnPath) -> &str {
    &path.prefix[..3]
}

#[test]
fn reflector_passes_types_2_3_5_unchanged() {
    let ours = Netns::new("bgprr-us");
    ours.sysctl("net.ipv4.ip_forward=1");
    let clients = [client(1, &ours), client(2, &ours)];

    let mut config = our_config(65500, "10.0.0.100");
    let mut group = neighbor(65500, &[AfiSafi::L2VPN_EVPN]);
    group.families.insert(
        AfiSafi::L2VPN_EVPN,
        FamilySettings {
            route_reflector_client: Some(true),
            ..FamilySettings::default()
        },
    );
    config.groups.insert("clients".into(), group);
    config.listen_ranges.push(ListenRange {
        prefix: "10.80.0.0/16".parse().unwrap(),
        group: "clients".into(),
    });
    let speaker = Speaker::start(&ours, config, options());

    for (i, c) in clients.iter().enumerate() {
        let h = i + 1;
        speaker.wait_established(&format!("10.80.{h}.2"), Duration::from_secs(30));
        wait_frr_established(
            &c.frr,
            "l2vpn evpn",
            &format!("10.80.{h}.1"),
            Duration::from_secs(10),
        );
        // The pod's ARP for its gateway gives FRR a MAC/IP entry to advertise.
        wait_until(Duration::from_secs(10), "pod reaches its gateway", || {
            c.pod.ping("10.100.0.254", 1).then_some(())
        });
    }
    let summary = speaker.summary();
    assert!(
        summary
            .neighbors
            .iter()
            .all(|n| n.dynamic && n.state == State::Established),
        "{summary:?}"
    );
    assert_eq!(summary.neighbors.len(), 2);

    // Each client has originated types 2 (MAC and MAC/IP), 3 and 5.
    let originated: Vec<Vec<EvpnPath>> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let h = i as u8 + 1;
            wait_until_ok(
                Duration::from_secs(30),
                &format!("client {h} originates types 2, 3, 5"),
                || {
                    let own = own_paths(&frr_evpn_paths(&c.frr), h);
                    let mac_ip = own.iter().any(|p| {
                        route_type(p) == "[2]" && p.prefix.contains(&format!("[10.100.0.{h}]"))
                    });
                    let imet = own.iter().any(|p| route_type(p) == "[3]");
                    let prefix = own
                        .iter()
                        .any(|p| p.prefix == format!("[5]:[0]:[24]:[10.70.{h}.0]"));
                    if mac_ip && imet && prefix {
                        Ok(own)
                    } else {
                        Err(own)
                    }
                },
            )
        })
        .collect();

    // Each client receives every route of the other through us, unchanged but for reflection.
    // FRR 8.4 sorts the extended communities it receives, so the receiver's copy is compared
    // with the original as a set. Our table keeps the received order, so it is compared with
    // the order the originator sent.
    let words = |text: &str| {
        let mut list: Vec<String> = text.split_whitespace().map(str::to_string).collect();
        list.sort();
        list
    };
    let our_communities = |rd: &str, prefix: &str| -> Option<String> {
        let table = speaker
            .block_on(speaker.bgp.table(AfiSafi::L2VPN_EVPN))
            .ok()?;
        let routes = &table
            .route_distinguishers
            .iter()
            .find(|r| r.rd == rd)?
            .routes;
        let path = routes
            .iter()
            .find(|r| r.prefix == prefix)?
            .paths
            .first()?
            .clone();
        Some(path.extended_communities.join(" "))
    };
    for (i, receiver) in clients.iter().enumerate() {
        let h = i as u8 + 1;
        let other = 3 - h;
        let sent = &originated[other as usize - 1];
        let received = wait_until_ok(
            Duration::from_secs(30),
            &format!("client {h} has client {other}'s routes"),
            || {
                let paths = frr_evpn_paths(&receiver.frr);
                let all = sent.iter().all(|s| {
                    paths
                        .iter()
                        .any(|p| p.rd == s.rd && p.prefix == s.prefix && p.peer.is_some())
                });
                if all {
                    Ok(paths)
                } else {
                    Err((sent.clone(), paths))
                }
            },
        );
        for original in sent {
            let copy = received
                .iter()
                .find(|p| p.rd == original.rd && p.prefix == original.prefix && p.peer.is_some())
                .unwrap();
            let context = format!("client {other} sent {original:?}, client {h} got {copy:?}");
            assert_eq!(
                words(&copy.extended_communities),
                words(&original.extended_communities),
                "{context}"
            );
            let ours = our_communities(&original.rd, &original.prefix);
            assert_eq!(
                ours.as_deref(),
                Some(original.extended_communities.as_str()),
                "{context}"
            );
            // FRR 8.4 shows no VNI for a received type-3 route (the VNI is in its PMSI
            // Tunnel attribute), so the type-3 check is the flood entry below.
            if route_type(original) != "[3]" {
                assert_eq!(copy.vni, original.vni, "{context}");
            }
            assert_eq!(copy.origin, original.origin, "{context}");
            assert_eq!(copy.as_path, original.as_path, "{context}");
            assert_eq!(copy.next_hop, format!("10.0.0.{other}"), "{context}");
            assert_eq!(
                copy.originator_id,
                Some(format!("10.0.0.{other}")),
                "{context}"
            );
            assert_eq!(
                copy.cluster_list,
                vec!["10.0.0.100".to_string()],
                "{context}"
            );
            assert_eq!(copy.peer, Some(format!("10.80.{h}.1")), "{context}");
        }
        let types: std::collections::BTreeSet<&str> = sent.iter().map(route_type).collect();
        assert_eq!(
            types.into_iter().collect::<Vec<_>>(),
            vec!["[2]", "[3]", "[5]"]
        );

        // The reflected type-3 route, PMSI Tunnel included, became a flood entry to the other
        // VTEP in the kernel.
        let vtep = format!("10.0.0.{other}");
        wait_until_ok(
            Duration::from_secs(10),
            &format!("client {h} floods to {vtep}"),
            || {
                let fdb = receiver.ns.bridge_json(&["fdb", "show", "dev", "vx10100"]);
                let flood = fdb.as_array().is_some_and(|entries| {
                    entries
                        .iter()
                        .any(|e| e["mac"] == "00:00:00:00:00:00" && e["dst"] == vtep.as_str())
                });
                if flood { Ok(()) } else { Err(fdb) }
            },
        );
    }

    // The overlay works through the reflected routes: pod 1 reaches pod 2 over VXLAN.
    wait_until(
        Duration::from_secs(20),
        "pod 1 pings pod 2 across VXLAN",
        || clients[0].pod.ping("10.100.0.2", 1).then_some(()),
    );
}
