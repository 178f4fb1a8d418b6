#![no_main]
//! Decodes arbitrary bytes as a BFD Control packet and feeds them to an instance with a plain
//! and an authenticated session: nothing may panic, and a packet that decodes must decode again
//! to the same value after encoding. Its encoding must equal the input's first bytes, except
//! for two fields the decoder ignores. A Length beyond the packet's sections is accepted, since
//! RFC 5880 section 6.8.6 only rejects a Length below the minimum, and the digest section's
//! Reserved byte is ignored on receipt. The encoder writes the exact Length and a zero byte.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use hna_bfd::packet::{AuthSection, AuthType};
use hna_bfd::{
    Authentication, ControlPacket, Instance, RandomSource, Received, SessionKey, SessionParams,
};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const PLAIN_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
const AUTH_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));

/// Fixed discriminators (1 and 2) and no jitter, so that runs are reproducible.
struct Counter(u32);

impl RandomSource for Counter {
    fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(1);
        self.0
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = ControlPacket::decode(data) {
        let encoded = packet.encode();
        let mut expected = data[..packet.encoded_len()].to_vec();
        expected[3] = packet.encoded_len() as u8;
        if matches!(packet.auth, Some(AuthSection::Digest { .. })) {
            expected[27] = 0;
        }
        assert_eq!(encoded.as_bytes(), expected.as_slice());
        assert_eq!(ControlPacket::decode(encoded.as_bytes()), Ok(packet));
    }

    let now = Instant::now();
    let mut random = Counter(0);
    let mut instance = Instance::new();
    let params =
        SessionParams::new(Duration::from_millis(50), Duration::from_millis(50), 3).expect("valid");
    instance.add_session(
        SessionKey::single_hop(PLAIN_PEER).with_local(LOCAL),
        params.clone(),
        now,
        &mut random,
    );
    let auth =
        Authentication::new(AuthType::MeticulousKeyedSha1, 1, b"fuzz".to_vec()).expect("valid key");
    instance.add_session(
        SessionKey::single_hop(AUTH_PEER).with_local(LOCAL),
        params.with_authentication(auth),
        now,
        &mut random,
    );

    let mut out = Vec::new();
    for source in [PLAIN_PEER, AUTH_PEER] {
        let received = Received {
            payload: data,
            source,
            destination: LOCAL,
            interface: None,
            ttl: 255,
            multihop: false,
            arrival: None,
        };
        let _ = instance.receive(&received, now, &mut random, &mut out);
        instance.handle_timers(now + Duration::from_secs(1), &mut random, &mut out);
    }
});
