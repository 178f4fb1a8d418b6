//! The configuration reader against the seed fabric's files and against broken inputs.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use hna_routed::config::{
    self, AddressFamily, InterfaceKind, OutOfScopeKind, RouteMapMatch, Summary,
};

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/seed")
        .join(name)
}

#[test]
fn seed_configurations_load_unchanged() {
    for name in ["hna1.nc-cli", "hna2.nc-cli", "leaf1.nc-cli", "leaf2.nc-cli"] {
        let loaded = config::load(&seed(name));
        assert!(loaded.is_ok(), "{name}: {}", loaded.unwrap_err());
    }
}

#[test]
fn hna1_maps_to_typed_configuration() {
    let config = config::load(&seed("hna1.nc-cli")).expect("hna1 loads");

    let bgp = config.bgp.as_ref().expect("bgp");
    assert_eq!(bgp.asn, Some(65500));
    assert_eq!(bgp.router_id, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(bgp.ebgp_requires_policy, Some(false));
    assert!(bgp.advertise_all_vni);
    assert_eq!(bgp.neighbors.len(), 2);
    let leaf1 = &bgp.neighbors[&"10.0.0.201".parse().unwrap()];
    assert_eq!(leaf1.remote_as, Some(65500));
    assert_eq!(leaf1.update_source.as_deref(), Some("loop0"));
    assert_eq!(leaf1.track_bfd, Some(true));
    assert_eq!(leaf1.description.as_deref(), Some("leaf-1"));
    assert_eq!(
        leaf1.address_families[&AddressFamily::Ipv4Unicast].enabled,
        Some(false)
    );
    assert_eq!(
        leaf1.address_families[&AddressFamily::L2vpnEvpn].enabled,
        None
    );

    let green = &config.l3vrfs["vrf100"];
    assert_eq!(green.table_id, Some(100));
    assert_eq!(green.l3vni, Some(100));
    assert!(green.ipv4_unicast.redistribute_connected);
    assert_eq!(green.ipv4_unicast.import_l3vrfs, ["vrf101"]);
    assert_eq!(
        green.ipv4_unicast.import_route_map.as_deref(),
        Some("rm100-import")
    );
    assert!(green.evpn.advertise_ipv4_unicast);
    assert_eq!(
        green.evpn.advertise_route_map.as_deref(),
        Some("rm100-export")
    );
    assert_eq!(
        green
            .evpn
            .export_route_distinguisher
            .map(|rd| rd.to_string())
            .as_deref(),
        Some("65500:100")
    );

    let bridge = &config.interfaces["br10000"];
    assert_eq!(bridge.kind, InterfaceKind::Bridge);
    assert_eq!(bridge.l3vrf.as_deref(), Some("vrf100"));
    assert_eq!(
        bridge.mac_address.map(|m| m.to_string()).as_deref(),
        Some("00:00:00:00:01:01")
    );
    assert_eq!(bridge.ipv4_addresses[0].to_string(), "10.60.0.254/16");
    let members: Vec<_> = bridge
        .bridge
        .as_ref()
        .unwrap()
        .members
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(members, ["vho-1000000000", "vho-1000000001", "vx10000"]);
    assert_eq!(
        bridge.bridge.as_ref().unwrap().members[2].learning,
        Some(false)
    );

    let vxlan = config.interfaces["vx10000"].vxlan.as_ref().unwrap();
    assert_eq!(vxlan.vni, Some(10000));
    assert_eq!(vxlan.local, Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(vxlan.learning, Some(false));

    let ospf = config.ospf.as_ref().expect("ospf");
    assert_eq!(ospf.networks[0].prefix.to_string(), "10.0.0.0/16");
    assert_eq!(
        config.routing_interfaces["pci-b0s4"].ospf.track_bfd,
        Some(true)
    );

    let import = &config.route_maps["rm100-import"].entries[&10000];
    assert!(
        import
            .matches
            .contains(&RouteMapMatch::SourceL3vrf("vrf101".into()))
    );
    assert!(
        import
            .matches
            .contains(&RouteMapMatch::IpAddressPrefixList("pl100-import".into()))
    );
    assert_eq!(
        config.prefix_lists["pl100-import"].entries[&10000]
            .prefix
            .unwrap()
            .to_string(),
        "10.62.0.0/16"
    );
}

#[test]
fn leaf_maps_listen_range_and_group() {
    let config = config::load(&seed("leaf1.nc-cli")).expect("leaf1 loads");
    let bgp = config.bgp.as_ref().unwrap();
    assert_eq!(config.hostname.as_deref(), Some("leaf1"));
    assert_eq!(bgp.listen_ranges[0].prefix.to_string(), "10.0.0.0/16");
    assert_eq!(bgp.listen_ranges[0].group, "HNAs");
    let group = &bgp.neighbor_groups["HNAs"];
    assert_eq!(
        group.address_families[&AddressFamily::L2vpnEvpn].route_reflector_client,
        Some(true)
    );
    assert_eq!(group.track_bfd, Some(true));
}

#[test]
fn summary_lists_out_of_scope_lines_by_kind() {
    let config = config::load(&seed("hna1.nc-cli")).unwrap();
    let summary = Summary::of(&config);
    let kinds: Vec<_> = summary.out_of_scope.iter().map(|kind| kind.kind).collect();
    for expected in [
        OutOfScopeKind::ShellCommand,
        OutOfScopeKind::FastPath,
        OutOfScopeKind::Firewall,
        OutOfScopeKind::Kpi,
    ] {
        assert!(
            kinds.contains(&expected),
            "{expected:?} missing from {kinds:?}"
        );
    }
    let firewall = summary
        .out_of_scope
        .iter()
        .find(|k| k.kind == OutOfScopeKind::Firewall)
        .unwrap();
    let firewall_lines = std::fs::read_to_string(seed("hna1.nc-cli"))
        .unwrap()
        .lines()
        .filter(|line| {
            line.starts_with("/ vrf main firewall") || line.starts_with("/ system network-stack")
        })
        .count();
    assert_eq!(firewall.lines, firewall_lines);
    let text = summary.to_string();
    assert!(text.contains("firewall"), "{text}");
    assert!(
        text.contains(
            "l3vrf          vrf100 (table 100, L3VNI 100, 2 bridges, imports routes of vrf101)"
        ),
        "{text}"
    );

    let leaf = Summary::of(&config::load(&seed("leaf1.nc-cli")).unwrap());
    let kinds: Vec<_> = leaf.out_of_scope.iter().map(|kind| kind.kind).collect();
    assert_eq!(kinds, [OutOfScopeKind::FastPath, OutOfScopeKind::License]);
}

#[test]
fn rendered_configuration_parses_to_the_same_value() {
    for name in ["hna1.nc-cli", "hna2.nc-cli", "leaf1.nc-cli", "leaf2.nc-cli"] {
        let original = config::load(&seed(name)).unwrap();
        let text = config::render(&original);
        let reparsed = config::parse(&text, Path::new("rendered"))
            .unwrap_or_else(|errors| panic!("{name} rendered does not parse:\n{errors}\n{text}"));
        let mut left = original.clone();
        let mut right = reparsed;
        // Line numbers of out-of-scope lines change; their text and order do not.
        for item in left
            .out_of_scope
            .iter_mut()
            .chain(right.out_of_scope.iter_mut())
        {
            item.line = 0;
        }
        assert_eq!(left, right, "{name}");
    }
}

/// Each broken configuration is a valid base plus one bad line. The first error must name that
/// line, the column of the offending word, and the problem.
#[test]
fn broken_configurations_name_line_column_and_problem() {
    let base = "/ vrf main interface loopback loop0 ipv4 address 10.0.0.1/32\n\
                / vrf main routing bgp as 65500\n\
                / vrf main routing bgp router-id 10.0.0.1\n";
    let cases: &[(&str, usize, &str)] = &[
        (
            "/ vrf main routing bgp neighbor 10.0.0.300 remote-as 65500",
            33,
            "invalid neighbor address `10.0.0.300`",
        ),
        (
            "/ vrf main routing bgp neighbor 10.0.0.2 remote-as 0",
            52,
            "AS number 0 is out of range",
        ),
        (
            "/ vrf main routing bgp neighbor 10.0.0.2 remote-az 65500",
            42,
            "unknown word `remote-az`",
        ),
        (
            "/ vrf main routing bgp neighbor 10.0.0.2 remote-as 65500 update-source lo9",
            72,
            "interface `lo9` is not defined",
        ),
        (
            "/ vrf main routing bgp neighbor 10.0.0.2",
            33,
            "neighbor 10.0.0.2 has no remote-as",
        ),
        (
            "/ vrf main routing bgp neighbor 10.0.0.2 remote-as 65500 timers hold-time 2",
            75,
            "hold time 2 is invalid",
        ),
        (
            "/ vrf main routing bgp listen neighbor-range 10.0.0.1/16 neighbor-group HNAs",
            46,
            "has host bits set",
        ),
        (
            "/ vrf main routing bgp listen neighbor-range 10.0.0.0/16 neighbor-group NOPE",
            73,
            "neighbor-group `NOPE` is not defined",
        ),
        (
            "/ vrf main routing ospf network 10.0.0.0/16 area 1",
            33,
            "area 0.0.0.1 is not supported",
        ),
        (
            "/ vrf main routing ospf network 10.0.0.0/16",
            45,
            "incomplete statement",
        ),
        (
            "/ vrf main interface vxlan vx1 vni 16777216",
            36,
            "VNI 16777216 is out of range",
        ),
        (
            "/ vrf main interface vxlan vx1 vni 10",
            28,
            "vxlan `vx1` has no local address",
        ),
        (
            "/ vrf main interface physical eth0 mtu 9x",
            40,
            "invalid MTU `9x`",
        ),
        (
            "/ vrf main interface physical an-interface-name-too-long mtu 1500",
            31,
            "invalid interface name",
        ),
        (
            "/ vrf main interface physical eth0 ipv4 address 10.0.0.1",
            49,
            "invalid IPv4 interface address `10.0.0.1`",
        ),
        (
            "/ vrf main interface bridge br0 ethernet mac-address 00:00:00:00:01",
            54,
            "invalid MAC address",
        ),
        (
            "/ vrf main l3vrf vrf100 routing bgp l3vni 100",
            18,
            "no vxlan interface carries that vni",
        ),
        (
            "/ vrf main l3vrf vrf100 routing bgp address-family ipv4-unicast l3vpn export route-target 65500",
            91,
            "invalid route target `65500`",
        ),
        (
            "/ vrf main l3vrf vrf100 routing bgp address-family ipv4-unicast l3vrf import l3vrf vrf999",
            84,
            "l3vrf `vrf999` is not defined",
        ),
        (
            "/ routing ipv4-prefix-list pl1 seq 10 address 10.60.0.0/16 policy allow",
            67,
            "unknown word `allow`",
        ),
        (
            "/ routing ipv4-prefix-list pl1 seq 10 address 10.60.0.1/16 policy permit",
            47,
            "prefix 10.60.0.1/16 has host bits set",
        ),
        (
            "/ routing ipv4-prefix-list pl1 seq 10 address 10.60.0.0/16 policy permit ge 8",
            36,
            "do not fit prefix length 16",
        ),
        (
            "/ routing route-map rm1 seq 10 policy permit match ip address prefix-list nope",
            75,
            "ipv4-prefix-list `nope` is not defined",
        ),
        (
            "/ routing route-map rm1 seq 10 match source-l3vrf vrf100",
            29,
            "route-map `rm1` seq 10 has no policy",
        ),
        ("/ vrf blue routing bgp as 1", 7, "unsupported vrf `blue`"),
        (
            "/ vrf main routing isis net 49.0001",
            20,
            "unknown word `isis`",
        ),
        (
            "/ vrf main interface vxlan vx1 description \"unterminated",
            44,
            "unterminated quoted string",
        ),
        ("set protocols bgp", 1, "unknown command `set`"),
        (
            "/ vrf main routing interface eth9 ip ospf cost 10",
            30,
            "interface `eth9` is not defined",
        ),
        (
            "/ vrf main routing bgp neighbor 10.0.0.2 remote-as 65500 password \"\"",
            67,
            "invalid TCP-MD5 password length",
        ),
    ];
    assert!(cases.len() >= 15);

    let mut failures = Vec::new();
    for (bad_line, column, problem) in cases {
        let text = format!("{base}{bad_line}\n");
        let Err(errors) = config::parse(&text, Path::new("broken.nc-cli")) else {
            failures.push(format!("accepted: {bad_line}"));
            continue;
        };
        let first = &errors.errors[0];
        let message = errors.to_string();
        let fits = first.position.line == 4
            && first.position.column == *column
            && first.problem.contains(problem)
            && message.starts_with("broken.nc-cli:4:")
            && !first.expected.is_empty();
        if !fits {
            failures.push(format!(
                "`{bad_line}`\n  want 4:{column} containing `{problem}`\n  got  {message}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn unknown_keyword_error_lists_expected_words() {
    let errors =
        config::parse("/ vrf main routing bgp nieghbor 10.0.0.2\n", Path::new("f")).unwrap_err();
    let message = errors.to_string();
    assert!(message.contains("unknown word `nieghbor`"), "{message}");
    assert!(message.contains("`neighbor`"), "{message}");
    assert!(message.contains("`listen`"), "{message}");
}

#[test]
fn every_error_of_a_file_is_reported() {
    let text = "/ vrf main routing bgp as x\n/ vrf main interface physical eth0 mtu 1\n";
    let errors = config::parse(text, Path::new("f")).unwrap_err();
    assert_eq!(errors.errors.len(), 2, "{errors}");
    assert_eq!(errors.errors[0].position.line, 1);
    assert_eq!(errors.errors[1].position.line, 2);
}

#[test]
fn l3vni_on_a_bridged_vxlan_is_rejected() {
    // The red tenant's L3VNI set to the green subnet's L2VNI.
    let text = std::fs::read_to_string(seed("hna1.nc-cli"))
        .unwrap()
        .replace(
            "l3vrf vrf101 routing bgp l3vni 101",
            "l3vrf vrf101 routing bgp l3vni 10000",
        );
    let errors = config::parse(&text, Path::new("hna1.nc-cli")).unwrap_err();
    let messages: Vec<&str> = errors
        .errors
        .iter()
        .map(|error| error.problem.as_str())
        .collect();
    assert!(
        messages.iter().any(|message| message
            .contains("l3vni 10000 of l3vrf `vrf101` is the L2VNI of bridge")),
        "{messages:#?}"
    );
}

#[test]
fn contradictory_statements_are_rejected() {
    let base = "/ vrf main interface loopback loop0 ipv4 address 10.0.0.1/32\n\
                / vrf main routing bgp as 65500\n\
                / vrf main routing bgp router-id 10.0.0.1\n\
                / vrf main routing bgp neighbor 10.0.0.2 remote-as 65500\n\
                / vrf main interface physical eth1 ipv4 address 10.1.0.1/30\n";
    let cases: &[(&str, &str)] = &[
        (
            "/ vrf main routing bgp neighbor 10.0.0.2 remote-as 65501",
            "remote-as 65501 contradicts remote-as 65500 set earlier",
        ),
        (
            "/ vrf main routing interface eth1 ip ospf hello-interval 10 dead-interval 5",
            "dead interval 5 s of `eth1` is not above its hello interval 10 s",
        ),
        (
            "/ vrf main routing interface eth1 ip ospf dead-interval 8",
            "dead interval 8 s of `eth1` is not above its hello interval 10 s",
        ),
        (
            "/ vrf main l3vrf a table-id 100\n\
             / vrf main l3vrf a routing bgp address-family l2vpn-evpn export route-distinguisher 65500:100\n\
             / vrf main l3vrf b table-id 101\n\
             / vrf main l3vrf b routing bgp address-family l2vpn-evpn export route-distinguisher 65500:100",
            "route distinguisher 65500:100 is used by l3vrf `a` and `b`",
        ),
    ];
    for (lines, problem) in cases {
        let text = format!("{base}{lines}\n");
        let errors = config::parse(&text, Path::new("f")).unwrap_err();
        assert!(
            errors.errors.iter().any(|error| error.problem == *problem),
            "{lines}: {errors}"
        );
    }
    // The same statement twice is no contradiction, and a dead interval above the hello
    // interval, set before it, is valid.
    let text = format!(
        "{base}/ vrf main routing bgp neighbor 10.0.0.2 remote-as 65500\n\
         / vrf main routing interface eth1 ip ospf dead-interval 4\n\
         / vrf main routing interface eth1 ip ospf hello-interval 1\n"
    );
    if let Err(errors) = config::parse(&text, Path::new("f")) {
        panic!("{errors}");
    }
}
