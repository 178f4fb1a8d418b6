//! An invalid configuration never reaches a running daemon: a reload with it (through
//! `hna-routectl reload` or SIGHUP) fails with a message naming the line and the problem, and
//! leaves the running configuration and every session as they were. At start, it makes the
//! daemon exit with status 2.

mod daemon_support;

use std::time::Duration;

use daemon_support::{Daemon, Fabric, FabricOptions, SessionMark, UnderlayMark, router_config};
use hna_testkit::{Netns, require_root, scratch_dir, wait_until};

/// Lines that each make r1's configuration invalid, with the problem the error must name.
/// Each is appended to the valid configuration, so the error is on its last line.
const BROKEN_LINES: &[(&str, &str)] = &[
    (
        "/ vrf main routing bgp neighbor 10.0.0.300 remote-as 65500",
        "invalid neighbor address `10.0.0.300`",
    ),
    (
        "/ vrf main routing bgp neighbor 10.0.0.5 remote-as 0",
        "AS number 0 is out of range",
    ),
    (
        "/ vrf main routing bgp neighbor 10.0.0.2 remote-az 65500",
        "unknown word `remote-az`",
    ),
    (
        "/ vrf main routing bgp neighbor 10.0.0.5 remote-as 65500 update-source lo9",
        "interface `lo9` is not defined",
    ),
    (
        "/ vrf main routing bgp neighbor 10.0.0.5",
        "neighbor 10.0.0.5 has no remote-as",
    ),
    (
        "/ vrf main routing bgp neighbor 10.0.0.2 timers hold-time 2",
        "hold time 2 is invalid",
    ),
    (
        "/ vrf main routing bgp listen neighbor-range 10.0.0.0/16 neighbor-group NOPE",
        "neighbor-group `NOPE` is not defined",
    ),
    (
        "/ vrf main routing ospf network 10.0.0.0/16 area 1",
        "area 0.0.0.1 is not supported",
    ),
    (
        "/ vrf main routing interface eth1 ip ospf hello-interval 0",
        "hello interval (s) 0 is out of range",
    ),
    (
        "/ vrf main routing bfd detection-multiplier 1",
        "detection multiplier 1 is out of range",
    ),
    (
        "/ vrf main interface vxlan vx20 vni 16777216",
        "VNI 16777216 is out of range",
    ),
    (
        "/ vrf main interface physical eth1 mtu 9x",
        "invalid MTU `9x`",
    ),
    (
        "/ vrf main interface physical eth1 ipv4 address 10.1.0.9",
        "invalid IPv4 interface address `10.1.0.9`",
    ),
    (
        "/ vrf main l3vrf vrf100 interface bridge br10 ethernet mac-address 00:00:00:00:01",
        "invalid MAC address",
    ),
    (
        "/ vrf main l3vrf vrf200 routing bgp l3vni 200",
        "no vxlan interface carries that vni",
    ),
    (
        "/ vrf main l3vrf vrf100 routing bgp address-family ipv4-unicast l3vrf import l3vrf vrf999",
        "l3vrf `vrf999` is not defined",
    ),
    (
        "/ routing ipv4-prefix-list pl1 seq 10 address 10.60.0.1/16 policy permit",
        "prefix 10.60.0.1/16 has host bits set",
    ),
    (
        "/ routing route-map rm1 seq 10 policy permit match ip address prefix-list nope",
        "ipv4-prefix-list `nope` is not defined",
    ),
    ("/ vrf blue routing bgp as 1", "unsupported vrf `blue`"),
    (
        "/ vrf main interface vxlan vx10 description \"unterminated",
        "unterminated quoted string",
    ),
];

/// What a rejected reload must leave as it was: the running configuration and every session.
#[derive(Debug, PartialEq)]
struct RunningState {
    config: serde_json::Value,
    session: SessionMark,
    peer_session: SessionMark,
    underlay: UnderlayMark,
}

impl RunningState {
    fn read(fabric: &Fabric) -> RunningState {
        RunningState {
            config: fabric.r1.json(&["show", "running-config"]),
            session: SessionMark::of(&fabric.r1.neighbor("10.0.0.2")),
            peer_session: SessionMark::of(&fabric.r2.neighbor("10.0.0.1")),
            underlay: UnderlayMark::of(&fabric.r1),
        }
    }

    fn assert_kept(&self, later: &RunningState, case: &str) {
        assert_eq!(
            later.config, self.config,
            "{case}: the running configuration changed"
        );
        self.session
            .assert_unchanged(&later.session, &format!("{case}: r1's session with r2"));
        self.peer_session.assert_unchanged(
            &later.peer_session,
            &format!("{case}: r2's session with r1"),
        );
        assert_eq!(
            later.underlay, self.underlay,
            "{case}: an OSPF adjacency or a BFD session changed"
        );
    }
}

#[test]
fn invalid_reload_keeps_running_state() {
    require_root();
    let fabric = Fabric::start("dri", FabricOptions::default());
    let valid = router_config(1, &FabricOptions::default());
    let error_line = valid.lines().count() + 1;
    let before = RunningState::read(&fabric);
    let tenants_before = fabric.r1.tenant_namespaces();
    assert_eq!(tenants_before, [fabric.r1.tenant("vrf100")]);
    assert!(BROKEN_LINES.len() >= 15);

    let location = format!("{}:{error_line}:", fabric.r1.config.display());
    for (line, problem) in BROKEN_LINES {
        fabric.r1.write_config(&format!("{valid}{line}\n"));
        let output = fabric.r1.ctl(&["reload"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "`{line}` was accepted");
        assert!(
            stderr.contains(&location),
            "`{line}`: the message does not name {location}: {stderr}"
        );
        assert!(
            stderr.contains(problem),
            "`{line}`: the message does not say `{problem}`: {stderr}"
        );
        assert!(stderr.contains("expected"), "`{line}`: {stderr}");

        let after = RunningState::read(&fabric);
        before.assert_kept(&after, line);
        assert_eq!(fabric.r1.tenant_namespaces(), tenants_before, "{line}");
    }

    // SIGHUP has no caller to tell, so the log must name the line and the problem.
    let (line, problem) = BROKEN_LINES[5];
    fabric.r1.write_config(&format!("{valid}{line}\n"));
    fabric.r1.signal(libc::SIGHUP);
    let logged = wait_until(
        Duration::from_secs(10),
        "r1 to log the rejected SIGHUP reload",
        || {
            fabric
                .r1
                .log_text()
                .lines()
                .find(|entry| entry.contains("reload rejected") && entry.contains(problem))
                .map(str::to_string)
        },
    );
    assert!(logged.contains(&location), "{logged}");
    let after = RunningState::read(&fabric);
    before.assert_kept(&after, "SIGHUP");

    // The valid file again: the daemon still runs it, so nothing is left to change.
    fabric.r1.write_config(&valid);
    let output = fabric.r1.ctl(&["reload"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "configuration unchanged"
    );
    let after = RunningState::read(&fabric);
    before.assert_kept(&after, "valid reload");
}

#[test]
fn invalid_configuration_at_start_exits_with_2() {
    require_root();
    let netns = Netns::new("dis");
    let dir = scratch_dir("dis");
    let valid = router_config(1, &FabricOptions::default());
    let broken = format!("{valid}{}\n", BROKEN_LINES[0].0);
    let mut daemon = Daemon::spawn(&netns, &dir, "r1", &broken, false);

    let status = daemon.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(2), "{}", daemon.log_text());
    let log = daemon.log_text();
    let location = format!("{}:{}:", daemon.config.display(), valid.lines().count() + 1);
    assert!(log.contains(&location), "{log}");
    assert!(log.contains(BROKEN_LINES[0].1), "{log}");
    assert!(
        log.contains("configuration rejected, not starting"),
        "{log}"
    );
    assert!(
        daemon.tenant_namespaces().is_empty(),
        "a rejected start created {:?}",
        daemon.tenant_namespaces()
    );
    assert!(
        !daemon.socket.exists(),
        "a rejected start opened its socket"
    );
    // Nothing of the configuration reached the kernel: no loopback address, no dummy device.
    let addresses = netns.ip_json(&["-4", "addr", "show"]);
    let configured: Vec<&str> = addresses
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|link| link["addr_info"].as_array().into_iter().flatten())
        .filter_map(|address| address["local"].as_str())
        .filter(|address| *address != "127.0.0.1")
        .collect();
    assert!(configured.is_empty(), "addresses set: {configured:?}");
}

#[test]
fn reload_names_changes_it_cannot_apply() {
    require_root();
    let netns = Netns::new("dna");
    let dir = scratch_dir("dna");
    let with_bgp = router_config(1, &FabricOptions::default());
    let without_bgp: String = with_bgp
        .lines()
        .filter(|line| !line.contains("routing bgp"))
        .map(|line| format!("{line}\n"))
        .collect();

    // Started without BGP, then BGP added: the running daemon cannot start it.
    let daemon = Daemon::start(&netns, &dir, "r1", &without_bgp, false);
    daemon.write_config(&with_bgp);
    let output = daemon.ctl(&["reload"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("configuration reloaded, except:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("BGP was added: it starts at the next start of the daemon"),
        "{stdout}"
    );
    let summary = daemon.ctl(&["show", "bgp", "summary"]);
    assert!(!summary.status.success(), "BGP runs after all");
    assert!(
        daemon.log_text().contains("configuration reloaded in part"),
        "{}",
        daemon.log_text()
    );
}
