//! Checks of the test kit itself: namespaces, veth links and the reference daemons' guards.

use std::time::Duration;

use hna_testkit::{Frr, Netns, veth, wait_until};

#[test]
fn netns_veth_pair_carries_ping_and_is_removed() {
    let name;
    {
        let a = Netns::new("kit-veth-a");
        let b = Netns::new("kit-veth-b");
        name = a.name().to_string();
        veth(&a, "va", &b, "vb", 1500);
        a.ip(&["addr", "add", "192.0.2.1/30", "dev", "va"]);
        b.ip(&["addr", "add", "192.0.2.2/30", "dev", "vb"]);
        assert!(a.ping("192.0.2.2", 2), "ping across the veth pair failed");

        let links = b.ip_json(&["link", "show", "vb"]);
        assert_eq!(links[0]["ifname"], "vb");
    }
    let listed = hna_testkit::run_ok("ip", &["netns", "list"]);
    assert!(
        !listed.contains(&name),
        "namespace {name} still exists after drop"
    );
}

#[test]
fn netns_thread_opens_sockets_inside_namespace() {
    let ns = Netns::new("kit-thread");
    ns.ip(&["addr", "add", "198.51.100.7/32", "dev", "lo"]);
    let bound = ns
        .spawn(|| std::net::UdpSocket::bind("198.51.100.7:0").is_ok())
        .join()
        .expect("thread");
    assert!(
        bound,
        "address of the namespace was not bindable from its thread"
    );
    assert!(
        std::net::UdpSocket::bind("198.51.100.7:0").is_err(),
        "host must not have the address"
    );
}

#[test]
fn frr_two_instances_form_ospf_adjacency() {
    let a = Netns::new("kit-frr-a");
    let b = Netns::new("kit-frr-b");
    veth(&a, "eth0", &b, "eth0", 1500);
    a.ip(&["addr", "add", "192.0.2.5/30", "dev", "eth0"]);
    b.ip(&["addr", "add", "192.0.2.6/30", "dev", "eth0"]);
    let config = |id: &str| {
        format!(
            "interface eth0\n ip ospf area 0\n ip ospf network point-to-point\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n!\nrouter ospf\n ospf router-id {id}\n!\n"
        )
    };
    let frr_a = Frr::start(&a, &["ospfd"], &config("10.0.0.1"));
    let _frr_b = Frr::start(&b, &["ospfd"], &config("10.0.0.2"));
    wait_until(Duration::from_secs(30), "OSPF neighbor Full", || {
        let json = frr_a.json("show ip ospf neighbor json");
        let full = json["neighbors"]["10.0.0.2"][0]["converged"] == "Full";
        full.then_some(())
    });
}
