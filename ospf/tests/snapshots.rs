//! The show snapshots and counters serialise to JSON, as the daemon's control socket needs.

mod common;

use std::time::Duration;

use common::{Network, addr, config, ethernet, loopback};
use hna_ospf::{Input, NetworkType};

#[test]
fn snapshots_serialise_to_json() {
    let mut network = Network::new();
    let a = network.add_router(
        config("10.0.0.1", NetworkType::Broadcast),
        vec![loopback("10.0.0.1/32"), ethernet("eth1", 2, "10.1.12.1/24")],
    );
    let b = network.add_router(
        config("10.0.0.2", NetworkType::Broadcast),
        vec![loopback("10.0.0.2/32"), ethernet("eth1", 2, "10.1.12.2/24")],
    );
    network.link(&[(a, 2), (b, 2)]);
    network.advance(Duration::from_secs(10));
    // A header-only Hello with a zero checksum, so that a nested drop reason (decode failure)
    // keys the counters' JSON map.
    let bad_checksum = vec![
        2, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    network.input(
        a,
        Input::Packet {
            ifindex: 2,
            source: addr("10.1.12.2"),
            destination: addr("224.0.0.5"),
            data: bad_checksum,
        },
    );
    let instance = &network.routers[a].instance;

    let neighbors = serde_json::to_value(instance.neighbors(network.now)).unwrap();
    assert_eq!(neighbors[0]["neighbor_id"], "10.0.0.2");
    assert_eq!(neighbors[0]["state"], "Full");
    assert_eq!(neighbors[0]["role"], "DR");
    assert_eq!(neighbors[0]["address"], "10.1.12.2");
    assert_eq!(neighbors[0]["interface"], "eth1");
    assert!(neighbors[0]["dead_time_ms"].as_u64().unwrap() <= 4000);

    let database = serde_json::to_value(instance.database(network.now)).unwrap();
    let first = &database[0];
    assert_eq!(first["type_name"], "router");
    assert!(first["sequence"].as_u64().unwrap() >= 0x8000_0001);
    assert!(first["age"].as_u64().unwrap() < 3600);

    let interfaces = serde_json::to_value(instance.interfaces()).unwrap();
    assert_eq!(interfaces[1]["state"], "Backup");
    assert_eq!(interfaces[1]["network_type"], "broadcast");

    let counters = serde_json::to_value(instance.counters()).unwrap();
    assert!(
        counters["received"]["hello"].as_u64().unwrap() >= 5,
        "{counters}"
    );
    assert!(
        counters["sent"]["db_description"].as_u64().unwrap() >= 1,
        "{counters}"
    );
    assert_eq!(counters["dropped"]["decode.bad_checksum"], 1, "{counters}");

    let routes = serde_json::to_value(instance.routes()).unwrap();
    let route = &routes["routes"]["10.0.0.2/32"];
    assert_eq!(route["route_type"], "intra-area");
    assert_eq!(route["next_hops"][0]["address"], "10.1.12.2");
    assert_eq!(route["next_hops"][0]["interface"], "eth1");
}
