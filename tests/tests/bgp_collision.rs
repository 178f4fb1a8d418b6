//! Connections from the address of an Established peer, against FRR 8.4 over iBGP. A process in
//! FRR's namespace opens raw TCP connections to our port 179 from FRR's own address and sends an
//! OPEN: with the wrong AS it gets an OPEN error on its own connection, and with a valid OPEN
//! but no graceful restart on the session it loses the collision (Cease, Connection Collision
//! Resolution). In both cases the session with FRR stays Established on both sides, which a
//! stray connection used to tear down when graceful restart was negotiated.

mod bgp_support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use bgp_support::{Speaker, ip, link, neighbor, options, our_config, wait_frr_established};
use hna_bgp::AfiSafi;
use hna_bgp::message::{Message, Open};
use hna_bgp::session::State;
use hna_bgp::wire::{cease_subcode, error_code, open_subcode};
use hna_testkit::{Frr, Netns, wait_until_ok};

const OURS: &str = "10.60.0.1";
const FRR_ADDRESS: &str = "10.60.0.2";
const AS: u32 = 65500;
/// Forged connections per test: several, so that a reset caused by any one of them shows.
const FORGERIES: usize = 7;

fn frr_config(graceful_restart: bool) -> String {
    let gr = if graceful_restart {
        " bgp graceful-restart\n bgp graceful-restart restart-time 120\n"
    } else {
        " bgp graceful-restart-disable\n"
    };
    format!(
        "router bgp {AS}\n bgp router-id 10.0.0.2\n{gr} timers bgp 3 9\n \
         neighbor {OURS} remote-as {AS}\n neighbor {OURS} timers connect 5\n"
    )
}

/// Starts FRR and our speaker over iBGP, graceful restart advertised by both or by neither,
/// and waits until both sides are Established.
fn established(tag: &str, graceful_restart: bool) -> (Netns, Netns, Frr, Speaker) {
    let ours = Netns::new(&format!("{tag}-us"));
    let theirs = Netns::new(&format!("{tag}-frr"));
    link(&ours, "eth0", OURS, &theirs, "eth0", FRR_ADDRESS);
    let frr = Frr::start(&theirs, &["bgpd"], &frr_config(graceful_restart));
    let mut config = our_config(AS, "10.0.0.1");
    config.graceful_restart.enabled = graceful_restart;
    config.graceful_restart.restart_time = 120;
    config
        .neighbors
        .insert(ip(FRR_ADDRESS), neighbor(AS, &[AfiSafi::IPV4_UNICAST]));
    let speaker = Speaker::start(&ours, config, options());
    speaker.wait_established(FRR_ADDRESS, Duration::from_secs(30));
    wait_frr_established(&frr, "ipv4 unicast", OURS, Duration::from_secs(30));
    let negotiated_gr = speaker
        .neighbor(FRR_ADDRESS)
        .and_then(|n| n.capabilities)
        .is_some_and(|c| c.graceful_restart.is_some());
    assert_eq!(
        negotiated_gr, graceful_restart,
        "graceful restart negotiation"
    );
    (ours, theirs, frr, speaker)
}

/// Returns FRR's view of its session with us: (state, connections established, connections
/// dropped, keepalives received).
fn frr_session(frr: &Frr) -> (String, u64, u64, u64) {
    let json = frr.json(&format!("show bgp neighbors {OURS} json"));
    let peer = &json[OURS];
    let count = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("{json}"));
    (
        peer["bgpState"].as_str().unwrap_or("").to_string(),
        count(&peer["connectionsEstablished"]),
        count(&peer["connectionsDropped"]),
        count(&peer["messageStats"]["keepalivesRecv"]),
    )
}

/// Opens a TCP connection to our port 179 from inside `ns` (so from FRR's address), sends
/// `open`, and returns the (code, subcode) of the NOTIFICATION that comes back, or what ended
/// the wait instead.
fn forged_connection(ns: &Netns, open: Open) -> Result<(u8, u8), String> {
    let bytes = Message::Open(open)
        .to_bytes(&Default::default())
        .expect("OPEN encodes");
    let target = SocketAddr::new(ip(OURS), 179);
    ns.spawn(move || -> Result<(u8, u8), String> {
        let mut stream = TcpStream::connect_timeout(&target, Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
        let local = stream.local_addr().map_err(|e| e.to_string())?;
        if local.ip() != ip(FRR_ADDRESS) {
            return Err(format!("connection from {local}, not from FRR's address"));
        }
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        stream
            .write_all(&bytes)
            .map_err(|e| format!("write: {e}"))?;
        // Our OPEN comes first; read whole messages until a NOTIFICATION.
        for _ in 0..8 {
            let mut header = [0u8; 19];
            stream
                .read_exact(&mut header)
                .map_err(|e| format!("read: {e}"))?;
            let length = usize::from(u16::from_be_bytes([header[16], header[17]]));
            let mut body = vec![0u8; length.saturating_sub(19)];
            stream
                .read_exact(&mut body)
                .map_err(|e| format!("read: {e}"))?;
            if header[18] == 3 && body.len() >= 2 {
                return Ok((body[0], body[1]));
            }
        }
        Err("no NOTIFICATION among the first messages".to_string())
    })
    .join()
    .expect("client thread")
}

/// Checks that both sides still run the session they had: our counters and FRR's unchanged,
/// and FRR still receiving our keepalives on it after the forgeries.
fn assert_session_untouched(
    frr: &Frr,
    speaker: &Speaker,
    ours_before: (u64, u64),
    frr_before: (String, u64, u64, u64),
) {
    let (_, _, _, keepalives) = frr_before;
    // Two more of our keepalives (3 s apart) on FRR's session prove it carried on.
    let frr_after = wait_until_ok(
        Duration::from_secs(20),
        "FRR receiving our keepalives",
        || {
            let now = frr_session(frr);
            if now.3 >= keepalives + 2 {
                Ok(now)
            } else {
                Err(now)
            }
        },
    );
    assert_eq!(frr_after.0, "Established", "{frr_after:?}");
    assert_eq!(
        (frr_after.1, frr_after.2),
        (frr_before.1, frr_before.2),
        "FRR's session was reset: {frr_before:?} -> {frr_after:?}"
    );
    let detail = speaker.neighbor(FRR_ADDRESS).expect("neighbor");
    assert_eq!(detail.summary.state, State::Established);
    assert_eq!(
        (
            detail.counters.established_transitions,
            detail.counters.drops
        ),
        ours_before,
        "our session was reset"
    );
}

fn our_counts(speaker: &Speaker) -> (u64, u64) {
    let counters = speaker.neighbor(FRR_ADDRESS).expect("neighbor").counters;
    (counters.established_transitions, counters.drops)
}

#[test]
fn forged_bad_as_open_keeps_session() {
    let (_ours, theirs, frr, speaker) = established("bgpcol-gr", true);
    let ours_before = our_counts(&speaker);
    let frr_before = frr_session(&frr);

    for _ in 0..FORGERIES {
        let open = Open::new(65001, 90, Ipv4Addr::new(10, 0, 0, 2), vec![]);
        let reply = forged_connection(&theirs, open);
        assert_eq!(
            reply,
            Ok((error_code::OPEN_MESSAGE, open_subcode::BAD_PEER_AS))
        );
    }
    assert_session_untouched(&frr, &speaker, ours_before, frr_before);
}

#[test]
fn forged_valid_open_loses_collision() {
    let (_ours, theirs, frr, speaker) = established("bgpcol-plain", false);
    let ours_before = our_counts(&speaker);
    let collisions = speaker
        .neighbor(FRR_ADDRESS)
        .expect("neighbor")
        .counters
        .collisions;
    let frr_before = frr_session(&frr);

    for _ in 0..FORGERIES {
        let open = Open::new(AS, 90, Ipv4Addr::new(10, 0, 0, 2), vec![]);
        let reply = forged_connection(&theirs, open);
        assert_eq!(
            reply,
            Ok((
                error_code::CEASE,
                cease_subcode::CONNECTION_COLLISION_RESOLUTION
            ))
        );
    }
    assert_session_untouched(&frr, &speaker, ours_before, frr_before);
    let after = speaker
        .neighbor(FRR_ADDRESS)
        .expect("neighbor")
        .counters
        .collisions;
    assert_eq!(after - collisions, FORGERIES as u64);
}
