#![no_main]
//! Fuzzes EVPN NLRI decoding. No input may panic, and every route that decodes must re-encode
//! to exactly the octets it came from.

use hna_evpn::EvpnRoute;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok((route, used)) = EvpnRoute::decode(rest) {
        let mut bytes = Vec::with_capacity(used);
        route.encode(&mut bytes);
        assert_eq!(bytes.as_slice(), &rest[..used]);
        assert_eq!(route.encoded_len(), used);
        let _ = route.key();
        let _ = route.validate();
        rest = &rest[used..];
    }
});
