//! Interface configuration through the Linux plane's links module, checked with `ip -j -d`:
//! a VRF namespace created by the module, VXLAN devices created in the underlay and moved in,
//! a bridge with MAC and MTU, ports with learning off, addresses and link state.

use hna_rib::linux::links::{Links, VxlanDevice};
use hna_rib::linux::{Namespace, create_namespace, delete_namespace};
use hna_rib::{PlaneError, Vni};
use hna_testkit::{Netns, unique_name};

/// Deletes a namespace created through the links module, even when the test fails.
struct NamespaceGuard(String);

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        let _ = delete_namespace(&self.0);
    }
}

#[test]
fn links_build_vrf_namespace_with_moved_vxlan() {
    let underlay = Netns::new("rib-links");
    underlay.ip(&["addr", "add", "10.0.0.1/32", "dev", "lo"]);
    let vrf_name = unique_name("rib-links-vrf");
    let _guard = NamespaceGuard(vrf_name.clone());
    let vrf = create_namespace(&vrf_name).expect("create VRF namespace");
    assert!(
        create_namespace(&vrf_name).is_err(),
        "a second namespace of the same name was created"
    );
    let vrf_ns = hna_testkit::run_ok("ip", &["netns", "list"]);
    assert!(
        vrf_ns.contains(&vrf_name),
        "ip netns does not list {vrf_name}: {vrf_ns}"
    );

    let mut outside = Links::open(&Namespace::named(underlay.name())).unwrap();
    let mut inside = Links::open(&vrf).unwrap();

    let device = VxlanDevice {
        mtu: Some(1450),
        ..VxlanDevice::new(
            "vx10000",
            Vni::new(10000).unwrap(),
            "10.0.0.1".parse().unwrap(),
        )
    };
    outside.create_vxlan(&device).unwrap();
    let exists = |errno: i32| {
        std::io::Error::from_raw_os_error(errno).kind() == std::io::ErrorKind::AlreadyExists
    };
    assert!(
        matches!(outside.create_vxlan(&device), Err(PlaneError::Kernel { errno, .. }) if exists(errno))
    );
    outside.move_to("vx10000", inside.namespace()).unwrap();
    assert_eq!(outside.link("vx10000").unwrap(), None);

    let mac = "00:00:00:00:01:01".parse().unwrap();
    inside
        .create_bridge("br10000", Some(mac), Some(1550))
        .unwrap();
    inside.set_master("vx10000", Some("br10000")).unwrap();
    inside.set_learning("vx10000", false).unwrap();
    inside.set_mtu("vx10000", 1500).unwrap();
    inside
        .add_address("br10000", "10.60.0.254/16".parse().unwrap())
        .unwrap();
    inside
        .add_address("br10000", "10.60.0.254/16".parse().unwrap())
        .unwrap();
    inside.set_up("br10000", true).unwrap();
    inside.set_up("vx10000", true).unwrap();

    let bridge = inside.link("br10000").unwrap().expect("bridge exists");
    assert_eq!(bridge.kind.as_deref(), Some("bridge"));
    assert_eq!(bridge.mac, Some(mac));
    assert!(bridge.admin_up);
    let vxlan = inside
        .link("vx10000")
        .unwrap()
        .expect("VXLAN device moved in");
    assert_eq!(vxlan.vni, Some(Vni::new(10000).unwrap()));
    assert_eq!(vxlan.master, Some(bridge.index));
    assert_eq!(vxlan.mtu, Some(1500));
    assert!(inside.links().unwrap().iter().any(|link| link.name == "lo"));

    // What iproute2 sees inside the VRF namespace.
    let details = hna_testkit::run_ok(
        "ip",
        &["-j", "-d", "-n", &vrf_name, "link", "show", "vx10000"],
    );
    let details: serde_json::Value = serde_json::from_str(&details).unwrap();
    let info = &details[0]["linkinfo"];
    assert_eq!(info["info_kind"], "vxlan");
    assert_eq!(info["info_data"]["id"], 10000);
    assert_eq!(info["info_data"]["local"], "10.0.0.1");
    assert_eq!(info["info_data"]["port"], 4789);
    assert_eq!(info["info_data"]["learning"], false);
    assert_eq!(info["info_slave_kind"], "bridge");
    assert_eq!(info["info_slave_data"]["learning"], false);
    let bridge_json =
        hna_testkit::run_ok("ip", &["-j", "-n", &vrf_name, "addr", "show", "br10000"]);
    let bridge_json: serde_json::Value = serde_json::from_str(&bridge_json).unwrap();
    assert_eq!(bridge_json[0]["mtu"], 1550);
    assert_eq!(bridge_json[0]["address"], "00:00:00:00:01:01");
    assert_eq!(bridge_json[0]["addr_info"][0]["local"], "10.60.0.254");

    // The device's UDP socket stayed in the underlay.
    let sockets = underlay.exec_ok("ss", &["-uln"]);
    assert!(
        sockets.contains(":4789"),
        "no VXLAN socket in the underlay: {sockets}"
    );

    inside
        .remove_address("br10000", "10.60.0.254/16".parse().unwrap())
        .unwrap();
    inside
        .remove_address("br10000", "10.60.0.254/16".parse().unwrap())
        .unwrap();
    inside.set_master("vx10000", None).unwrap();
    assert_eq!(inside.link("vx10000").unwrap().unwrap().master, None);
    inside.delete("vx10000").unwrap();
    inside.delete("vx10000").unwrap();
    assert_eq!(inside.link("vx10000").unwrap(), None);
    assert!(
        matches!(inside.set_up("vx10000", true), Err(PlaneError::LinkNotFound(name)) if name == "vx10000")
    );
}
