#![no_main]
//! Decodes arbitrary bytes as an OSPF packet: decoding must never panic, and a packet that
//! decodes without discarded LSAs must re-encode to a packet that decodes to the same value.

use hna_ospf::lsa::Lsa;
use hna_ospf::packet::{Packet, PacketBody};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(decoded) = Packet::decode(data) else { return };
    if let PacketBody::LsUpdate(update) = &decoded.packet.body {
        for lsa in &update.lsas {
            assert_eq!(Lsa::decode(lsa.raw()).as_ref(), Ok(lsa));
        }
    }
    if !decoded.discarded_lsas.is_empty() {
        return;
    }
    let encoded = decoded.packet.encode();
    let again = Packet::decode(&encoded).expect("a re-encoded packet decodes");
    assert_eq!(again.packet, decoded.packet);
});
