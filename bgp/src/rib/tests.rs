use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use super::*;
use crate::message::{AsPath, Origin, PathNlri, Update};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("valid address in test")
}

fn local_info() -> LocalInfo {
    LocalInfo {
        asn: 65000,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        cluster_id: Ipv4Addr::new(10, 0, 0, 1),
        ebgp_requires_policy: false,
    }
}

fn peer_info(id: u32, address: &str, remote_as: u32) -> PeerInfo {
    PeerInfo {
        id: PeerId(id),
        address: ip(address),
        local_address: ip("192.0.2.1"),
        remote_as,
        bgp_identifier: Ipv4Addr::new(10, 9, 9, id as u8),
        send_context: SessionContext {
            four_octet_as: true,
            ..Default::default()
        },
        families: vec![PeerFamily::new(AfiSafi::IPV4_UNICAST)],
    }
}

fn announce_v4(prefixes: &[&str], next_hop: &str, attrs: PathAttributes) -> DecodedUpdate {
    let mut attributes = attrs;
    attributes.origin.get_or_insert(Origin::Igp);
    attributes.as_path.get_or_insert_with(AsPath::default);
    attributes.next_hop = Some(next_hop.parse().expect("valid IPv4 next hop"));
    DecodedUpdate {
        update: Update {
            attributes,
            nlri: prefixes
                .iter()
                .map(|p| PathNlri::new(p.parse().expect("valid prefix")))
                .collect(),
            ..Default::default()
        },
        action: UpdateAction::None,
        errors: Vec::new(),
    }
}

#[test]
fn receive_selects_and_snapshots() {
    let mut rib = Rib::new(local_info(), Arc::new(PolicySet::default()));
    let now = Instant::now();
    rib.peer_up(now, peer_info(1, "192.0.2.2", 65000));
    rib.receive(now, PeerId(1), &announce_v4(&["10.1.0.0/16"], "192.0.2.2", Default::default()))
        .expect("under any limit");
    let table = rib.table(AfiSafi::IPV4_UNICAST);
    assert_eq!(table.routes.len(), 1);
    assert!(table.routes[0].paths[0].best);
}
