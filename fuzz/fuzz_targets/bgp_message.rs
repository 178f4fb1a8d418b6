#![no_main]
//! Fuzzes BGP message decoding. No input may panic, and every message that decodes must
//! re-encode to bytes that decode to the same message.
//!
//! The first input octet selects the session context: bit 0 four-octet AS, bit 1 extended
//! message, bits 2 to 4 add-path for ipv4-unicast, ipv6-unicast and l2vpn-evpn.

use hna_bgp::AfiSafi;
use hna_bgp::wire::{SessionContext, decode_message, frame_length};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, message)) = data.split_first() else {
        return;
    };
    let families = [
        AfiSafi::IPV4_UNICAST,
        AfiSafi::IPV6_UNICAST,
        AfiSafi::L2VPN_EVPN,
    ];
    let ctx = SessionContext {
        four_octet_as: selector & 1 != 0,
        extended_message: selector & 2 != 0,
        add_path: families
            .iter()
            .enumerate()
            .filter(|(i, _)| selector & (4 << i) != 0)
            .map(|(_, f)| *f)
            .collect(),
    };

    let _ = frame_length(message, &ctx);
    let Ok(decoded) = decode_message(message, &ctx) else {
        return;
    };
    let decoded = decoded.into_message();
    // A re-encoding may be longer than the input (FRR's Extended Length choices) and no longer
    // fit the maximum; that is an encoder error, not a decoding bug.
    let Ok(bytes) = decoded.to_bytes(&ctx) else {
        return;
    };
    let again = decode_message(&bytes, &ctx)
        .expect("a re-encoded message decodes")
        .into_message();
    assert_eq!(again, decoded);
});
