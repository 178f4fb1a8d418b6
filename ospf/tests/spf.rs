//! The routing table calculation on hand-built databases: ECMP over a diamond, next hops across a
//! transit network, inter-area routes from summary-LSAs and type 1 and 2 external routes.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use hna_ospf::RouteType;
use hna_ospf::lsa::{
    AsExternalLsa, LsType, Lsa, LsaBody, LsaHeader, NetworkLsa, Options, RouterLink,
    RouterLinkType, RouterLsa, SummaryLsa,
};
use hna_ospf::lsdb::Lsdb;
use hna_ospf::spf::{RootInterface, compute};

fn addr(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

fn header(ls_type: LsType, id: &str, advertising_router: &str) -> LsaHeader {
    LsaHeader {
        ls_age: 1,
        options: Options(Options::E),
        ls_type,
        link_state_id: addr(id),
        advertising_router: addr(advertising_router),
        ls_sequence_number: 0x8000_0001u32 as i32,
        ls_checksum: 0,
        length: 0,
    }
}

fn link(link_type: RouterLinkType, id: &str, data: &str, metric: u16) -> RouterLink {
    RouterLink {
        link_id: addr(id),
        link_data: addr(data),
        link_type,
        metric,
        tos: Vec::new(),
    }
}

fn p2p(to: &str, own_address: &str) -> RouterLink {
    link(RouterLinkType::POINT_TO_POINT, to, own_address, 10)
}

fn loopback(id: &str) -> RouterLink {
    link(RouterLinkType::STUB, id, "255.255.255.255", 0)
}

struct Database {
    lsdb: Lsdb,
    now: Instant,
}

impl Database {
    fn new() -> Database {
        Database {
            lsdb: Lsdb::new(),
            now: Instant::now(),
        }
    }

    fn add(&mut self, header: LsaHeader, body: LsaBody) {
        self.lsdb
            .insert(0, Arc::new(Lsa::originate(header, body)), self.now, true);
    }

    fn router(&mut self, id: &str, flags: u8, links: Vec<RouterLink>) {
        self.add(
            header(LsType::ROUTER, id, id),
            LsaBody::Router(RouterLsa { flags, links }),
        );
    }
}

fn interface(ifindex: u32, address: &str, neighbors: &[(&str, &str)]) -> RootInterface {
    RootInterface {
        ifindex,
        name: format!("eth{ifindex}").into(),
        address: address.parse().unwrap(),
        neighbors: neighbors
            .iter()
            .map(|(id, address)| (addr(id), addr(address)))
            .collect(),
    }
}

fn hops(table: &hna_ospf::RoutingTable, prefix: &str) -> Vec<(Option<Ipv4Addr>, u32)> {
    let route = table
        .get(&prefix.parse().unwrap())
        .unwrap_or_else(|| panic!("no route to {prefix}"));
    route
        .next_hops
        .iter()
        .map(|hop| (hop.address, hop.ifindex))
        .collect()
}

#[test]
fn spf_diamond_gives_two_next_hops() {
    // R1 -- R2 -- R4 and R1 -- R3 -- R4, every link of cost 10.
    let mut db = Database::new();
    db.router(
        "10.0.0.1",
        0,
        vec![
            p2p("10.0.0.2", "10.12.0.1"),
            p2p("10.0.0.3", "10.13.0.1"),
            loopback("10.0.0.1"),
        ],
    );
    db.router(
        "10.0.0.2",
        0,
        vec![
            p2p("10.0.0.1", "10.12.0.2"),
            p2p("10.0.0.4", "10.24.0.2"),
            loopback("10.0.0.2"),
        ],
    );
    db.router(
        "10.0.0.3",
        0,
        vec![
            p2p("10.0.0.1", "10.13.0.3"),
            p2p("10.0.0.4", "10.34.0.3"),
            loopback("10.0.0.3"),
        ],
    );
    db.router(
        "10.0.0.4",
        0,
        vec![
            p2p("10.0.0.2", "10.24.0.4"),
            p2p("10.0.0.3", "10.34.0.4"),
            loopback("10.0.0.4"),
        ],
    );
    let interfaces = [
        interface(2, "10.12.0.1/24", &[("10.0.0.2", "10.12.0.2")]),
        interface(3, "10.13.0.1/24", &[("10.0.0.3", "10.13.0.3")]),
    ];
    let table = compute(&db.lsdb, addr("10.0.0.1"), &interfaces, db.now);

    assert_eq!(
        hops(&table, "10.0.0.4/32"),
        vec![(Some(addr("10.12.0.2")), 2), (Some(addr("10.13.0.3")), 3)]
    );
    assert_eq!(table.get(&"10.0.0.4/32".parse().unwrap()).unwrap().cost, 20);
    assert_eq!(
        hops(&table, "10.0.0.2/32"),
        vec![(Some(addr("10.12.0.2")), 2)]
    );
    assert!(
        table.get(&"10.0.0.1/32".parse().unwrap()).is_none(),
        "no interface holds our own loopback here"
    );
}

#[test]
fn spf_one_way_link_is_not_used() {
    // R2 lists R1 but R1 does not list R2: no bidirectional link, no route (16.1 step 2b).
    let mut db = Database::new();
    db.router("10.0.0.1", 0, vec![loopback("10.0.0.1")]);
    db.router(
        "10.0.0.2",
        0,
        vec![p2p("10.0.0.1", "10.12.0.2"), loopback("10.0.0.2")],
    );
    let table = compute(
        &db.lsdb,
        addr("10.0.0.1"),
        &[interface(2, "10.12.0.1/24", &[])],
        db.now,
    );
    assert!(
        table.routes.is_empty(),
        "{:?}",
        table.routes.keys().collect::<Vec<_>>()
    );
}

#[test]
fn spf_transit_network_next_hop_is_router_address() {
    // R1, R5 and R6 on 10.50.0.0/24 with R5 (10.50.0.5) as DR.
    let mut db = Database::new();
    let transit = |own: &str| link(RouterLinkType::TRANSIT, "10.50.0.5", own, 10);
    db.router("10.0.0.1", 0, vec![transit("10.50.0.1")]);
    db.router(
        "10.0.0.5",
        0,
        vec![transit("10.50.0.5"), loopback("10.0.0.5")],
    );
    db.router(
        "10.0.0.6",
        0,
        vec![transit("10.50.0.6"), loopback("10.0.0.6")],
    );
    let attached = vec![addr("10.0.0.5"), addr("10.0.0.1"), addr("10.0.0.6")];
    db.add(
        header(LsType::NETWORK, "10.50.0.5", "10.0.0.5"),
        LsaBody::Network(NetworkLsa {
            network_mask: addr("255.255.255.0"),
            attached_routers: attached,
        }),
    );
    let table = compute(
        &db.lsdb,
        addr("10.0.0.1"),
        &[interface(2, "10.50.0.1/24", &[])],
        db.now,
    );

    assert_eq!(hops(&table, "10.50.0.0/24"), vec![(None, 2)]);
    assert_eq!(
        hops(&table, "10.0.0.6/32"),
        vec![(Some(addr("10.50.0.6")), 2)]
    );
    assert_eq!(
        hops(&table, "10.0.0.5/32"),
        vec![(Some(addr("10.50.0.5")), 2)]
    );
    assert_eq!(table.get(&"10.0.0.6/32".parse().unwrap()).unwrap().cost, 10);
}

#[test]
fn spf_summary_and_external_routes() {
    // R2 is an area border router and AS boundary router; 10.0.0.9 is an ASBR in another area,
    // reachable through R2's type 4 summary.
    let mut db = Database::new();
    db.router("10.0.0.1", 0, vec![p2p("10.0.0.2", "10.12.0.1")]);
    db.router(
        "10.0.0.2",
        RouterLsa::FLAG_B | RouterLsa::FLAG_E,
        vec![p2p("10.0.0.1", "10.12.0.2"), loopback("10.0.0.2")],
    );
    let summary = |mask: &str, metric| SummaryLsa {
        network_mask: addr(mask),
        metric,
        tos: Vec::new(),
    };
    db.add(
        header(LsType::SUMMARY_NETWORK, "192.168.1.0", "10.0.0.2"),
        LsaBody::SummaryNetwork(summary("255.255.255.0", 5)),
    );
    db.add(
        header(LsType::SUMMARY_NETWORK, "192.168.2.0", "10.0.0.2"),
        LsaBody::SummaryNetwork(summary("255.255.255.0", 0xff_ffff)),
    );
    db.add(
        header(LsType::SUMMARY_ASBR, "10.0.0.9", "10.0.0.2"),
        LsaBody::SummaryAsbr(summary("0.0.0.0", 7)),
    );
    let external = |mask: &str, metric_type2, metric, forwarding: &str| AsExternalLsa {
        network_mask: addr(mask),
        metric_type2,
        metric,
        forwarding_address: addr(forwarding),
        external_route_tag: 0,
        tos: Vec::new(),
    };
    db.add(
        header(LsType::AS_EXTERNAL, "172.16.0.0", "10.0.0.2"),
        LsaBody::AsExternal(external("255.255.0.0", true, 20, "0.0.0.0")),
    );
    db.add(
        header(LsType::AS_EXTERNAL, "172.17.0.0", "10.0.0.9"),
        LsaBody::AsExternal(external("255.255.0.0", false, 3, "0.0.0.0")),
    );
    db.add(
        header(LsType::AS_EXTERNAL, "172.18.0.0", "10.0.0.2"),
        LsaBody::AsExternal(external("255.255.0.0", false, 1, "192.168.1.7")),
    );
    db.add(
        header(LsType::AS_EXTERNAL, "172.19.0.0", "10.0.0.8"),
        LsaBody::AsExternal(external("255.255.0.0", false, 1, "0.0.0.0")),
    );
    let table = compute(
        &db.lsdb,
        addr("10.0.0.1"),
        &[interface(2, "10.12.0.1/24", &[("10.0.0.2", "10.12.0.2")])],
        db.now,
    );
    let route = |prefix: &str| {
        table
            .get(&prefix.parse().unwrap())
            .cloned()
            .unwrap_or_else(|| panic!("no route to {prefix}"))
    };

    let inter = route("192.168.1.0/24");
    assert_eq!((inter.route_type, inter.cost), (RouteType::InterArea, 15));
    assert!(
        table.get(&"192.168.2.0/24".parse().unwrap()).is_none(),
        "LSInfinity summary was used"
    );

    let type2 = route("172.16.0.0/16");
    assert_eq!(
        (type2.route_type, type2.cost, type2.type2_cost),
        (RouteType::External2, 10, 20)
    );
    let via_summary = route("172.17.0.0/16");
    assert_eq!(
        (via_summary.route_type, via_summary.cost),
        (RouteType::External1, 10 + 7 + 3)
    );
    let forwarded = route("172.18.0.0/16");
    assert_eq!(
        (forwarded.route_type, forwarded.cost),
        (RouteType::External1, 15 + 1)
    );
    assert!(
        table.get(&"172.19.0.0/16".parse().unwrap()).is_none(),
        "external route of an unreachable ASBR"
    );
    for prefix in [
        "192.168.1.0/24",
        "172.16.0.0/16",
        "172.17.0.0/16",
        "172.18.0.0/16",
    ] {
        assert_eq!(
            hops(&table, prefix),
            vec![(Some(addr("10.12.0.2")), 2)],
            "{prefix}"
        );
    }
}
