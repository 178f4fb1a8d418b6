//! Table of malformed inputs, each with the exact action RFC 4271, RFC 7606, RFC 7607, RFC 9234,
//! RFC 6514, RFC 7432 and RFC 9136 prescribe (docs/bgp-error-handling.md lists the same cases).

mod common;

use hna_bgp::wire::{DecodedMessage, SessionContext, decode_message};
use hna_bgp::{AfiSafi, UpdateAction, attr_flags};

/// The action a case must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// Session reset with this NOTIFICATION code and subcode.
    Notify(u8, u8),
    /// The UPDATE is used without these attributes.
    Discard(Vec<u8>),
    TreatAsWithdraw,
    Disable(AfiSafi),
    /// Accepted as is.
    Accept,
}
use Expect::*;

const O: u8 = attr_flags::OPTIONAL;
const T: u8 = attr_flags::TRANSITIVE;
const E: u8 = attr_flags::EXTENDED_LENGTH;
const EVPN: AfiSafi = AfiSafi::L2VPN_EVPN;

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(kind);
    m.extend_from_slice(body);
    m
}

fn attr(flags: u8, type_code: u8, value: &[u8]) -> Vec<u8> {
    let mut a = vec![flags, type_code];
    if flags & E != 0 {
        a.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        a.push(value.len() as u8);
    }
    a.extend_from_slice(value);
    a
}

fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = (withdrawn.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    message(2, &body)
}

fn origin() -> Vec<u8> {
    attr(T, 1, &[0])
}

/// AS_PATH of one AS_SEQUENCE [65001] in a 4-octet session.
fn as_path() -> Vec<u8> {
    attr(T, 2, &[2, 1, 0, 0, 0xfd, 0xe9])
}

fn next_hop() -> Vec<u8> {
    attr(T, 3, &[192, 0, 2, 1])
}

const NLRI: [u8; 4] = [24, 10, 0, 0];

/// Builds a well-formed IPv4 UPDATE with `extra` appended to its attributes.
fn ipv4_with(extra: &[u8]) -> Vec<u8> {
    let attrs = [origin(), as_path(), next_hop(), extra.to_vec()].concat();
    update(&[], &attrs, &NLRI)
}

/// MP_REACH_NLRI of l2vpn-evpn with next hop 10.0.0.1 and the given NLRI octets.
fn evpn_reach(nlri: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 25, 70, 4, 10, 0, 0, 1, 0];
    v.extend_from_slice(nlri);
    attr(O | E, 14, &v)
}

/// Builds an EVPN UPDATE carrying one route of `route_type` with `value`.
fn evpn_route(route_type: u8, value: &[u8]) -> Vec<u8> {
    let mut nlri = vec![route_type, value.len() as u8];
    nlri.extend_from_slice(value);
    let attrs = [evpn_reach(&nlri), origin(), as_path()].concat();
    update(&[], &attrs, &[])
}

const RD: [u8; 8] = [0, 1, 10, 0, 0, 1, 0, 2];
const ZERO_ESI: [u8; 10] = [0; 10];
const TAG: [u8; 4] = [0; 4];
const LABEL: [u8; 3] = [0, 0x27, 0x10];

fn mac_ip(mac_bits: u8, ip_bits: u8, ip: &[u8], labels: usize) -> Vec<u8> {
    let mut v = [
        &RD[..],
        &ZERO_ESI,
        &TAG,
        &[mac_bits],
        &[2, 0, 0, 0, 0, 1],
        &[ip_bits],
        ip,
    ]
    .concat();
    for _ in 0..labels {
        v.extend_from_slice(&LABEL);
    }
    v
}

fn ip_prefix(esi: [u8; 10], prefix_len: u8, prefix: &[u8], gateway: &[u8]) -> Vec<u8> {
    [&RD[..], &esi, &TAG, &[prefix_len], prefix, gateway, &LABEL].concat()
}

/// Builds a well-formed IPv4 UPDATE of a 2-octet AS session with `extra` appended to its attributes.
fn ipv4_2_with(extra: &[u8]) -> Vec<u8> {
    let attrs = [
        origin(),
        attr(T, 2, &[2, 1, 0xfd, 0xe9]),
        next_hop(),
        extra.to_vec(),
    ]
    .concat();
    update(&[], &attrs, &NLRI)
}

fn open(version: u8, my_as: u16, hold_time: u16, id: [u8; 4], params: &[u8]) -> Vec<u8> {
    let mut body = vec![version];
    body.extend_from_slice(&my_as.to_be_bytes());
    body.extend_from_slice(&hold_time.to_be_bytes());
    body.extend_from_slice(&id);
    body.push(params.len() as u8);
    body.extend_from_slice(params);
    message(1, &body)
}

fn open_with(params: &[u8]) -> Vec<u8> {
    open(4, 65001, 90, [192, 0, 2, 1], params)
}

/// Builds an OPEN whose parameters use the RFC 9072 encoding. `params` starts at the Non-Ext
/// OP Type.
fn open_extended(params: &[u8]) -> Vec<u8> {
    let mut m = open_with(params);
    m[28] = 255;
    m
}

fn ctx4() -> SessionContext {
    SessionContext {
        four_octet_as: true,
        ..Default::default()
    }
}

fn ctx2() -> SessionContext {
    SessionContext::default()
}

fn cases() -> Vec<(&'static str, Vec<u8>, SessionContext, Expect)> {
    let mut bad_marker = message(4, &[]);
    bad_marker[3] = 0;
    let mut short_length = message(4, &[]);
    short_length[17] = 18;
    let mut big = message(2, &vec![0; 4100 - 19]);
    big[19..23].copy_from_slice(&[0, 0, 0, 0]);
    let mut too_big_open = open_with(&[]);
    too_big_open[16..18].copy_from_slice(&5000u16.to_be_bytes());
    let evpn_ctx = SessionContext {
        four_octet_as: true,
        add_path: vec![EVPN],
        ..Default::default()
    };

    vec![
        // Message header (RFC 4271 section 6.1).
        (
            "header marker not all ones",
            bad_marker,
            ctx4(),
            Notify(1, 1),
        ),
        ("header length below 19", short_length, ctx4(), Notify(1, 2)),
        (
            "update above 4096 without extended message",
            big,
            ctx4(),
            Notify(1, 2),
        ),
        (
            "open above 4096",
            too_big_open,
            SessionContext {
                extended_message: true,
                ..ctx4()
            },
            Notify(1, 2),
        ),
        (
            "unknown message type",
            message(6, &[]),
            ctx4(),
            Notify(1, 3),
        ),
        (
            "keepalive with a body",
            message(4, &[0]),
            ctx4(),
            Notify(1, 2),
        ),
        (
            "notification without subcode",
            message(3, &[6]),
            ctx4(),
            Notify(1, 2),
        ),
        (
            "update shorter than its two lengths",
            message(2, &[0, 0]),
            ctx4(),
            Notify(1, 2),
        ),
        // ROUTE-REFRESH (RFC 7313 section 5).
        (
            "route refresh of 24 octets",
            message(5, &[0, 1, 0, 1, 0]),
            ctx4(),
            Notify(7, 1),
        ),
        (
            "route refresh of 22 octets",
            message(5, &[0, 1, 0]),
            ctx4(),
            Notify(7, 1),
        ),
        // OPEN (RFC 4271 section 6.2, RFC 5492, RFC 9072, RFC 7607).
        (
            "open version 3",
            open(3, 65001, 90, [192, 0, 2, 1], &[]),
            ctx4(),
            Notify(2, 1),
        ),
        (
            "open my as 0",
            open(4, 0, 90, [192, 0, 2, 1], &[]),
            ctx4(),
            Notify(2, 2),
        ),
        (
            "open hold time 1",
            open(4, 65001, 1, [192, 0, 2, 1], &[]),
            ctx4(),
            Notify(2, 6),
        ),
        (
            "open hold time 2",
            open(4, 65001, 2, [192, 0, 2, 1], &[]),
            ctx4(),
            Notify(2, 6),
        ),
        (
            "open bgp identifier 0",
            open(4, 65001, 90, [0; 4], &[]),
            ctx4(),
            Notify(2, 3),
        ),
        (
            "open parameters overrun message",
            {
                let mut m = open_with(&[2, 2, 2, 0]);
                m[28] = 10;
                m
            },
            ctx4(),
            Notify(2, 0),
        ),
        (
            "open parameters shorter than message",
            {
                let mut m = open_with(&[2, 2, 2, 0]);
                m[28] = 2;
                m
            },
            ctx4(),
            Notify(2, 0),
        ),
        (
            "open parameter overruns parameters",
            open_with(&[2, 9, 2, 0]),
            ctx4(),
            Notify(2, 0),
        ),
        (
            "open parameter header truncated",
            open_with(&[2]),
            ctx4(),
            Notify(2, 0),
        ),
        (
            "open authentication parameter",
            open_with(&[1, 1, 0]),
            ctx4(),
            Notify(2, 4),
        ),
        (
            "capability overruns parameter",
            open_with(&[2, 4, 65, 4, 0, 0]),
            ctx4(),
            Notify(2, 0),
        ),
        (
            "capability header truncated",
            open_with(&[2, 3, 2, 0, 65]),
            ctx4(),
            Notify(2, 0),
        ),
        (
            "four-octet as capability with as 0",
            open_with(&[2, 6, 65, 4, 0, 0, 0, 0]),
            ctx4(),
            Notify(2, 2),
        ),
        (
            "extended parameters length mismatch",
            open_extended(&[255, 0, 9, 2, 0, 2, 2, 0]),
            ctx4(),
            Notify(2, 0),
        ),
        (
            "extended parameter overruns",
            open_extended(&[255, 0, 5, 2, 0, 9, 2, 0]),
            ctx4(),
            Notify(2, 0),
        ),
        (
            "extended parameters well formed",
            open_extended(&[255, 0, 5, 2, 0, 2, 2, 0]),
            ctx4(),
            Accept,
        ),
        (
            "multiprotocol capability of 3 octets kept unknown",
            open_with(&[2, 5, 1, 3, 0, 1, 1]),
            ctx4(),
            Accept,
        ),
        (
            "unknown capability kept",
            open_with(&[2, 4, 200, 2, 1, 2]),
            ctx4(),
            Accept,
        ),
        // UPDATE structure (RFC 7606 sections 3, 4 and 5.3).
        (
            "withdrawn length overruns message",
            message(2, &[0, 9, 24, 10, 0, 0]),
            ctx4(),
            Notify(3, 1),
        ),
        (
            "attribute length overruns message",
            message(2, &[0, 0, 0, 20, 0x40, 1, 1, 0]),
            ctx4(),
            Notify(3, 1),
        ),
        (
            "withdrawn prefix length 33",
            update(&[33, 10, 0, 0, 0, 0], &[], &[]),
            ctx4(),
            Notify(3, 10),
        ),
        (
            "nlri prefix length 33",
            update(
                &[],
                &[origin(), as_path(), next_hop()].concat(),
                &[33, 1, 2, 3, 4, 5],
            ),
            ctx4(),
            Notify(3, 10),
        ),
        (
            "nlri prefix truncated",
            update(
                &[],
                &[origin(), as_path(), next_hop()].concat(),
                &[24, 10, 0],
            ),
            ctx4(),
            Notify(3, 10),
        ),
        (
            "attribute header cut by total length",
            ipv4_with(&[0x40, 5]),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "attribute value overruns total length",
            ipv4_with(&[0x80, 4, 4, 0, 0]),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "extended length header cut by total length",
            ipv4_with(&[0x90, 4, 0]),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "duplicate origin",
            ipv4_with(&attr(T, 1, &[2])),
            ctx4(),
            Discard(vec![1]),
        ),
        (
            "duplicate mp_reach_nlri",
            update(
                &[],
                &[evpn_reach(&[]), evpn_reach(&[]), origin(), as_path()].concat(),
                &[],
            ),
            ctx4(),
            Notify(3, 1),
        ),
        (
            "duplicate mp_unreach_nlri",
            update(
                &[],
                &[attr(O, 15, &[0, 25, 70]), attr(O, 15, &[0, 25, 70])].concat(),
                &[],
            ),
            ctx4(),
            Notify(3, 1),
        ),
        (
            "unrecognized well-known attribute",
            ipv4_with(&attr(T, 100, &[1])),
            ctx4(),
            Notify(3, 2),
        ),
        (
            "missing origin",
            update(&[], &[as_path(), next_hop()].concat(), &NLRI),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "missing as_path",
            update(&[], &[origin(), next_hop()].concat(), &NLRI),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "missing next_hop with nlri",
            update(&[], &[origin(), as_path()].concat(), &NLRI),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "missing next_hop with only mp_reach_nlri",
            evpn_route(3, &[&RD[..], &TAG, &[32, 10, 0, 0, 1]].concat()),
            ctx4(),
            Accept,
        ),
        (
            "withdrawal without attributes",
            update(&[24, 10, 0, 0], &[], &[]),
            ctx4(),
            Accept,
        ),
        // ORIGIN (RFC 7606 section 7.1).
        (
            "origin of 2 octets",
            update(
                &[],
                &[attr(T, 1, &[0, 0]), as_path(), next_hop()].concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "origin value 3",
            update(
                &[],
                &[attr(T, 1, &[3]), as_path(), next_hop()].concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "origin flagged optional",
            update(
                &[],
                &[attr(O | T, 1, &[0]), as_path(), next_hop()].concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        // AS_PATH (RFC 7606 section 7.2, RFC 7607).
        (
            "as_path segment overruns",
            update(
                &[],
                &[origin(), attr(T, 2, &[2, 2, 0, 0, 0xfd, 0xe9]), next_hop()].concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "as_path segment type 5",
            update(
                &[],
                &[origin(), attr(T, 2, &[5, 1, 0, 0, 0xfd, 0xe9]), next_hop()].concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "as_path segment of zero length",
            update(
                &[],
                &[origin(), attr(T, 2, &[2, 0]), next_hop()].concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "as_path with trailing octet",
            update(
                &[],
                &[
                    origin(),
                    attr(T, 2, &[2, 1, 0, 0, 0xfd, 0xe9, 2]),
                    next_hop(),
                ]
                .concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "as_path with as 0",
            update(
                &[],
                &[
                    origin(),
                    attr(T, 2, &[2, 2, 0, 0, 0xfd, 0xe9, 0, 0, 0, 0]),
                    next_hop(),
                ]
                .concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "as_path with as 0 in 2-octet session",
            update(
                &[],
                &[origin(), attr(T, 2, &[2, 1, 0, 0]), next_hop()].concat(),
                &NLRI,
            ),
            ctx2(),
            TreatAsWithdraw,
        ),
        (
            "as_path of 4-octet numbers in 2-octet session",
            update(
                &[],
                &[origin(), attr(T, 2, &[2, 1, 0, 0, 0xfd, 0xe9]), next_hop()].concat(),
                &NLRI,
            ),
            ctx2(),
            TreatAsWithdraw,
        ),
        // NEXT_HOP (RFC 7606 section 7.3).
        (
            "next_hop of 3 octets",
            update(
                &[],
                &[origin(), as_path(), attr(T, 3, &[192, 0, 2])].concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "next_hop 0.0.0.0",
            update(
                &[],
                &[origin(), as_path(), attr(T, 3, &[0, 0, 0, 0])].concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "next_hop multicast",
            update(
                &[],
                &[origin(), as_path(), attr(T, 3, &[224, 0, 0, 1])].concat(),
                &NLRI,
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        // MULTI_EXIT_DISC and LOCAL_PREF (RFC 7606 sections 7.4 and 7.5).
        (
            "med of 2 octets",
            ipv4_with(&attr(O, 4, &[0, 1])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "med flagged transitive",
            ipv4_with(&attr(O | T, 4, &[0, 0, 0, 1])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "local_pref of 5 octets",
            ipv4_with(&attr(T, 5, &[0, 0, 0, 100, 0])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "local_pref flagged optional",
            ipv4_with(&attr(O | T, 5, &[0, 0, 0, 100])),
            ctx4(),
            TreatAsWithdraw,
        ),
        // ATOMIC_AGGREGATE and AGGREGATOR (RFC 7606 sections 7.6 and 7.7, RFC 7607).
        (
            "atomic_aggregate of 1 octet",
            ipv4_with(&attr(T, 6, &[0])),
            ctx4(),
            Discard(vec![6]),
        ),
        (
            "aggregator of 7 octets",
            ipv4_with(&attr(O | T, 7, &[0, 0, 0xfd, 0xe9, 192, 0, 2])),
            ctx4(),
            Discard(vec![7]),
        ),
        (
            "aggregator of 8 octets in 2-octet session",
            update(
                &[],
                &[
                    origin(),
                    attr(T, 2, &[2, 1, 0xfd, 0xe9]),
                    next_hop(),
                    attr(O | T, 7, &[0, 0, 0xfd, 0xe9, 192, 0, 2, 1]),
                ]
                .concat(),
                &NLRI,
            ),
            ctx2(),
            Discard(vec![7]),
        ),
        (
            "aggregator with as 0",
            ipv4_with(&attr(O | T, 7, &[0, 0, 0, 0, 192, 0, 2, 1])),
            ctx4(),
            Discard(vec![7]),
        ),
        (
            "aggregator flagged non-transitive",
            ipv4_with(&attr(O, 7, &[0, 0, 0xfd, 0xe9, 192, 0, 2, 1])),
            ctx4(),
            Discard(vec![7]),
        ),
        // COMMUNITIES, ORIGINATOR_ID, CLUSTER_LIST (RFC 7606 sections 7.8 to 7.10).
        (
            "communities of 0 octets",
            ipv4_with(&attr(O | T, 8, &[])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "communities of 5 octets",
            ipv4_with(&attr(O | T, 8, &[0, 0, 0, 1, 2])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "originator_id of 5 octets",
            ipv4_with(&attr(O, 9, &[10, 0, 0, 2, 0])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "cluster_list of 6 octets",
            ipv4_with(&attr(O, 10, &[10, 0, 0, 201, 0, 0])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "cluster_list of 0 octets",
            ipv4_with(&attr(O, 10, &[])),
            ctx4(),
            TreatAsWithdraw,
        ),
        // EXTENDED_COMMUNITIES (RFC 7606 section 7.14), LARGE_COMMUNITY (RFC 8092 section 6).
        (
            "extended_communities of 12 octets",
            ipv4_with(&attr(O | T, 16, &[0; 12])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "extended_communities of 0 octets",
            ipv4_with(&attr(O | T, 16, &[])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "large_community of 13 octets",
            ipv4_with(&attr(O | T, 32, &[0; 13])),
            ctx4(),
            TreatAsWithdraw,
        ),
        // AS4_PATH and AS4_AGGREGATOR (RFC 6793 section 6, RFC 7607).
        (
            "as4_path with as 0",
            ipv4_2_with(&attr(O | T, 17, &[2, 1, 0, 0, 0, 0])),
            ctx2(),
            Discard(vec![17]),
        ),
        (
            "as4_path with confederation segment",
            ipv4_2_with(&attr(O | T, 17, &[3, 1, 0, 1, 0, 0])),
            ctx2(),
            Discard(vec![17]),
        ),
        (
            "as4_path segment overruns",
            ipv4_2_with(&attr(O | T, 17, &[2, 2, 0, 1, 0, 0])),
            ctx2(),
            Discard(vec![17]),
        ),
        (
            "as4_aggregator of 6 octets",
            ipv4_2_with(&attr(O | T, 18, &[0, 1, 192, 0, 2, 1])),
            ctx2(),
            Discard(vec![18]),
        ),
        (
            "as4_aggregator with as 0",
            ipv4_2_with(&attr(O | T, 18, &[0, 0, 0, 0, 192, 0, 2, 1])),
            ctx2(),
            Discard(vec![18]),
        ),
        // PMSI_TUNNEL (RFC 6514 section 5, RFC 7432 section 11.2).
        (
            "pmsi_tunnel of 4 octets",
            ipv4_with(&attr(O | T, 22, &[0, 6, 0, 0])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "pmsi_tunnel type 8",
            ipv4_with(&attr(O | T, 22, &[0, 8, 0, 0x27, 0x10, 10, 0, 0, 1])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "pmsi ingress replication with 5-octet identifier",
            ipv4_with(&attr(O | T, 22, &[0, 6, 0, 0x27, 0x10, 10, 0, 0, 1, 0])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "pmsi no tunnel information with identifier",
            ipv4_with(&attr(O | T, 22, &[0, 0, 0, 0, 0, 10, 0, 0, 1])),
            ctx4(),
            TreatAsWithdraw,
        ),
        // OTC (RFC 9234 section 5).
        (
            "otc of 3 octets",
            ipv4_with(&attr(O | T, 35, &[0, 0, 1])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "otc of 5 octets",
            ipv4_with(&attr(O | T, 35, &[0, 0, 0, 1, 0])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "otc flagged non-transitive",
            ipv4_with(&attr(O, 35, &[0, 0, 0, 1])),
            ctx4(),
            TreatAsWithdraw,
        ),
        // MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 7606 sections 5.3 and 7.11).
        (
            "mp_reach_nlri of 2 octets",
            update(
                &[],
                &[attr(O, 14, &[0, 25]), origin(), as_path()].concat(),
                &[],
            ),
            ctx4(),
            Notify(3, 9),
        ),
        (
            "mp_reach_nlri next hop overruns",
            update(
                &[],
                &[
                    attr(O, 14, &[0, 25, 70, 16, 10, 0, 0, 1]),
                    origin(),
                    as_path(),
                ]
                .concat(),
                &[],
            ),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "mp_reach_nlri next hop of 5 octets",
            update(
                &[],
                &[
                    attr(O, 14, &[0, 25, 70, 5, 10, 0, 0, 1, 0, 0]),
                    origin(),
                    as_path(),
                ]
                .concat(),
                &[],
            ),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "mp_reach_nlri without reserved octet",
            update(
                &[],
                &[
                    attr(O, 14, &[0, 25, 70, 4, 10, 0, 0, 1]),
                    origin(),
                    as_path(),
                ]
                .concat(),
                &[],
            ),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "mp_reach_nlri ipv4 prefix length 33",
            update(
                &[],
                &[
                    attr(O, 14, &[0, 1, 1, 4, 10, 0, 0, 1, 0, 33, 1, 2, 3, 4, 5]),
                    origin(),
                    as_path(),
                ]
                .concat(),
                &[],
            ),
            ctx4(),
            Disable(AfiSafi::IPV4_UNICAST),
        ),
        (
            "mp_reach_nlri ipv6 prefix truncated",
            update(
                &[],
                &[
                    attr(
                        O,
                        14,
                        &[&[0u8, 2, 1, 16][..], &[0; 16], &[0, 64, 0x20, 1]].concat(),
                    ),
                    origin(),
                    as_path(),
                ]
                .concat(),
                &[],
            ),
            ctx4(),
            Disable(AfiSafi::IPV6_UNICAST),
        ),
        (
            "mp_reach_nlri flagged transitive",
            update(
                &[],
                &[
                    attr(O | T | E, 14, &[0, 25, 70, 4, 10, 0, 0, 1, 0]),
                    origin(),
                    as_path(),
                ]
                .concat(),
                &[],
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "mp_unreach_nlri of 1 octet",
            update(&[], &attr(O, 15, &[0]), &[]),
            ctx4(),
            Notify(3, 9),
        ),
        (
            "mp_unreach_nlri evpn route overruns",
            update(&[], &attr(O, 15, &[0, 25, 70, 2, 33, 0]), &[]),
            ctx4(),
            Disable(EVPN),
        ),
        // EVPN route lengths (RFC 7432 section 7, RFC 9136 section 3.1).
        (
            "evpn type 1 of 24 octets",
            evpn_route(1, &[0; 24]),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 1 of 26 octets",
            evpn_route(1, &[0; 26]),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 2 of 29 octets",
            evpn_route(2, &[0; 29]),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 2 mac length 47",
            evpn_route(2, &mac_ip(47, 0, &[], 1)),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 2 ip length 24",
            evpn_route(2, &mac_ip(48, 24, &[10, 0, 0], 1)),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 2 ip length 32 without address",
            evpn_route(2, &mac_ip(48, 32, &[], 1)),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 2 with extra octet",
            evpn_route(2, &[mac_ip(48, 32, &[10, 60, 0, 1], 1), vec![0]].concat()),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 2 ip length 128 with ipv4 address",
            evpn_route(2, &mac_ip(48, 128, &[10, 60, 0, 1], 1)),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 2 with three labels",
            evpn_route(2, &mac_ip(48, 0, &[], 3)),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 3 of 16 octets",
            evpn_route(3, &[&RD[..], &TAG, &[32, 10, 0, 0]].concat()),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 3 ip length 128 in 17 octets",
            evpn_route(3, &[&RD[..], &TAG, &[128, 10, 0, 0, 1]].concat()),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 3 ip length 64",
            evpn_route(3, &[&RD[..], &TAG, &[64], &[0; 8]].concat()),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 4 of 22 octets",
            evpn_route(4, &[&RD[..], &ZERO_ESI, &[32, 10, 0, 0]].concat()),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 4 ip length 16",
            evpn_route(4, &[&RD[..], &ZERO_ESI, &[16, 10, 0]].concat()),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 5 of 35 octets",
            evpn_route(
                5,
                &[ip_prefix(ZERO_ESI, 24, &[10, 70, 1, 0], &[0; 4]), vec![0]].concat(),
            ),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 5 of 46 octets",
            evpn_route(5, &[0; 46]),
            ctx4(),
            Disable(EVPN),
        ),
        (
            "evpn type 5 ipv4 prefix length 33",
            evpn_route(5, &ip_prefix(ZERO_ESI, 33, &[10, 70, 1, 0], &[0; 4])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "evpn type 5 ipv6 prefix length 129",
            evpn_route(5, &ip_prefix(ZERO_ESI, 129, &[0x20; 16], &[0; 16])),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "evpn type 5 with esi and gateway",
            evpn_route(
                5,
                &ip_prefix(
                    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
                    24,
                    &[10, 70, 1, 0],
                    &[10, 0, 0, 1],
                ),
            ),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "evpn unknown route type kept",
            evpn_route(9, &[1, 2, 3]),
            ctx4(),
            Accept,
        ),
        (
            "evpn add-path identifier truncated",
            update(
                &[],
                &[evpn_reach(&[0, 0, 0]), origin(), as_path()].concat(),
                &[],
            ),
            evpn_ctx.clone(),
            Disable(EVPN),
        ),
        (
            "evpn route header truncated",
            update(&[], &[evpn_reach(&[3]), origin(), as_path()].concat(), &[]),
            ctx4(),
            Disable(EVPN),
        ),
        // Unknown attributes (RFC 4271 section 5).
        (
            "unknown optional transitive attribute kept",
            ipv4_with(&attr(O | T, 200, &[1, 2, 3])),
            ctx4(),
            Accept,
        ),
        (
            "unknown optional non-transitive attribute dropped",
            ipv4_with(&attr(O, 201, &[1, 2, 3])),
            ctx4(),
            Accept,
        ),
        // Several errors: the strongest action wins (RFC 7606 section 3, item h).
        (
            "discard and withdraw together",
            ipv4_with(&[attr(T, 6, &[0]), attr(O, 4, &[0])].concat()),
            ctx4(),
            TreatAsWithdraw,
        ),
        (
            "withdraw and disable together",
            update(
                &[],
                &[
                    attr(O, 14, &[0, 25, 70, 5, 10, 0, 0, 1, 0, 0]),
                    attr(T, 1, &[9]),
                    as_path(),
                ]
                .concat(),
                &[],
            ),
            ctx4(),
            Disable(EVPN),
        ),
    ]
}

fn outcome(bytes: &[u8], ctx: &SessionContext) -> Expect {
    match decode_message(bytes, ctx) {
        Err(e) => Notify(e.notification.code, e.notification.subcode),
        Ok(DecodedMessage::Update(u)) => match u.action {
            UpdateAction::None => Accept,
            UpdateAction::AttributeDiscard(codes) => Discard(codes),
            UpdateAction::TreatAsWithdraw => TreatAsWithdraw,
            UpdateAction::AfiSafiDisable { families, .. } => {
                assert_eq!(families.len(), 1, "{families:?}");
                Disable(families[0])
            }
        },
        Ok(_) => Accept,
    }
}

#[test]
fn malformed_inputs_get_their_action() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (name, bytes, ctx, expected) in &cases {
        let got = outcome(bytes, ctx);
        if got != *expected {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn nlri_is_located_after_attribute_overrun() {
    // The value of the last attribute claims 4 octets but the total length leaves 2.
    let bytes = ipv4_with(&[0x80, 4, 4, 0, 0]);
    let Ok(DecodedMessage::Update(u)) = decode_message(&bytes, &ctx4()) else {
        panic!("not decoded")
    };
    assert_eq!(u.action, UpdateAction::TreatAsWithdraw);
    assert_eq!(u.update.nlri.len(), 1);
    assert_eq!(
        u.update.nlri[0].nlri,
        "10.0.0.0/24".parse::<ipnet::Ipv4Net>().unwrap()
    );
}

#[test]
fn nlri_is_located_after_malformed_attribute() {
    let bytes = ipv4_with(&attr(O | T, 8, &[0, 0, 0, 1, 2]));
    let Ok(DecodedMessage::Update(u)) = decode_message(&bytes, &ctx4()) else {
        panic!("not decoded")
    };
    assert_eq!(u.action, UpdateAction::TreatAsWithdraw);
    assert_eq!(u.update.nlri.len(), 1);
    assert_eq!(u.update.attributes.communities, None);
    assert_eq!(
        u.update.attributes.next_hop,
        Some(std::net::Ipv4Addr::new(192, 0, 2, 1))
    );
}

#[test]
fn discarded_attribute_is_absent() {
    let bytes = ipv4_with(&attr(T, 6, &[0]));
    let Ok(DecodedMessage::Update(u)) = decode_message(&bytes, &ctx4()) else {
        panic!("not decoded")
    };
    assert!(!u.update.attributes.atomic_aggregate);
    assert_eq!(u.update.nlri.len(), 1);
}

#[test]
fn unknown_transitive_attribute_gets_partial_bit() {
    let bytes = ipv4_with(&attr(O | T, 200, &[1, 2, 3]));
    let Ok(DecodedMessage::Update(u)) = decode_message(&bytes, &ctx4()) else {
        panic!("not decoded")
    };
    let raw = &u.update.attributes.unknown;
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].flags, O | T | attr_flags::PARTIAL);
    assert_eq!(raw[0].value, vec![1, 2, 3]);
}

#[test]
fn afi_safi_disable_carries_notification() {
    let bytes = evpn_route(1, &[0; 24]);
    let Ok(DecodedMessage::Update(u)) = decode_message(&bytes, &ctx4()) else {
        panic!("not decoded")
    };
    let UpdateAction::AfiSafiDisable { notification, .. } = u.action else {
        panic!("not AFI/SAFI disable")
    };
    assert_eq!((notification.code, notification.subcode), (3, 9));
}

#[test]
fn capture_with_duplicate_mp_attributes_resets_session() {
    // tcpdump's add-path test capture repeats MP_REACH_NLRI in one UPDATE.
    let messages = common::bgp_messages(&common::data_dir().join("bgp-addpath.pcap"));
    let ctx = SessionContext {
        four_octet_as: false,
        add_path: vec![AfiSafi::IPV4_UNICAST],
        ..Default::default()
    };
    let err = decode_message(&messages[0].bytes, &ctx).unwrap_err();
    assert_eq!((err.notification.code, err.notification.subcode), (3, 1));
}
