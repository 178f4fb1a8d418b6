#![no_main]
//! Decodes arbitrary bytes as an OSPF packet: decoding must never panic, and a packet that
//! decodes without discarded LSAs must re-encode to a packet that decodes to the same value, and
//! so must the TLVs of every grace-LSA it carries.

use hna_ospf::lsa::{GraceLsa, Lsa};
use hna_ospf::packet::{Packet, PacketBody};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(decoded) = Packet::decode(data) else {
        return;
    };
    if let PacketBody::LsUpdate(update) = &decoded.packet.body {
        for lsa in &update.lsas {
            assert_eq!(Lsa::decode(lsa.raw()).as_ref(), Ok(lsa));
            // A grace-LSA that decodes re-encodes to the same TLV values (unknown TLVs drop out).
            if let Ok(grace) = GraceLsa::from_lsa(lsa) {
                let mut body = Vec::new();
                grace.encode(&mut body);
                assert_eq!(GraceLsa::decode(&body), Ok(grace));
            }
        }
    }
    if !decoded.discarded_lsas.is_empty() {
        return;
    }
    let encoded = decoded.packet.encode();
    let again = Packet::decode(&encoded).expect("a re-encoded packet decodes");
    assert_eq!(again.packet, decoded.packet);
});
