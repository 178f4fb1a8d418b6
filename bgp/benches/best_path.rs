//! Best-path selection over one million IPv4 prefixes with two paths each.
//!
//! Two iBGP peers announce the same prefixes in UPDATEs of 1000 prefixes sharing one attribute
//! set, with different next hops. Measured:
//! - `second_path`: the RIB contains the first peer's paths; time to receive the second peer's
//!   1M paths, which win on LOCAL_PREF, so every route's best changes (decision, event and
//!   update-group bookkeeping included);
//! - `nexthop_change`: the RIB contains both peers' paths; time for one `nexthop_update` whose
//!   IGP cost change moves the best of every route to the other next hop, events drained.
//!
//! The heap in use after loading is printed as bytes per path (a counting allocator wraps the
//! system one).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hna_bgp::policy::PolicySet;
use hna_bgp::rib::{LocalInfo, PeerFamily, PeerId, PeerInfo, Rib};
use hna_bgp::{
    AfiSafi, AsPath, DecodedUpdate, Origin, PathAttributes, PathNlri, SessionContext, Update,
    UpdateAction,
};
use ipnet::Ipv4Net;

/// Counts the bytes currently allocated.
struct CountingAllocator;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by this allocator with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const PREFIXES: u32 = 1_000_000;
const PER_UPDATE: u32 = 1000;
const NEXT_HOP_1: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 1);
const NEXT_HOP_2: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 2);

fn new_rib() -> Rib {
    let local = LocalInfo {
        asn: 65000,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        cluster_id: Ipv4Addr::new(10, 0, 0, 1),
        ebgp_requires_policy: false,
    };
    let mut rib = Rib::new(local, Arc::new(PolicySet::default()));
    for id in 1..=2u32 {
        rib.peer_up(
            Instant::now(),
            PeerInfo {
                id: PeerId(id),
                address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, id as u8 + 10)),
                local_address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
                remote_as: 65000,
                bgp_identifier: Ipv4Addr::new(10, 0, 0, id as u8 + 10),
                send_context: SessionContext {
                    four_octet_as: true,
                    ..Default::default()
                },
                families: vec![PeerFamily::new(AfiSafi::IPV4_UNICAST)],
            },
        );
    }
    rib
}

/// Builds the UPDATEs announcing every prefix once, 1000 to a message.
fn updates(next_hop: Ipv4Addr, local_pref: u32) -> Vec<DecodedUpdate> {
    let attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(vec![65100, 65200])),
        next_hop: Some(next_hop),
        local_pref: Some(local_pref),
        ..Default::default()
    };
    (0..PREFIXES / PER_UPDATE)
        .map(|chunk| {
            let nlri = (0..PER_UPDATE)
                .map(|i| {
                    let n = chunk * PER_UPDATE + i;
                    let address = Ipv4Addr::from(0x1000_0000u32 + (n << 8));
                    PathNlri::new(Ipv4Net::new(address, 24).expect("valid length"))
                })
                .collect();
            DecodedUpdate {
                update: Update {
                    attributes: attributes.clone(),
                    nlri,
                    ..Default::default()
                },
                action: UpdateAction::None,
                errors: Vec::new(),
            }
        })
        .collect()
}

fn load(rib: &mut Rib, peer: u32, updates: &[DecodedUpdate]) {
    for u in updates {
        rib.receive(Instant::now(), PeerId(peer), u)
            .expect("no maximum-prefix configured");
    }
}

/// Drops what the RIB queued so that later measurements start from the same state.
fn drain(rib: &mut Rib) {
    black_box(rib.take_events());
    for id in 1..=2 {
        black_box(rib.take_updates(PeerId(id)));
    }
}

fn best_path(c: &mut Criterion) {
    let first = updates(NEXT_HOP_1, 100);
    let second = updates(NEXT_HOP_2, 200);

    // Memory: the RIB with both peers' paths.
    let before = ALLOCATED.load(Ordering::Relaxed);
    let mut rib = new_rib();
    load(&mut rib, 1, &first);
    load(&mut rib, 2, &second);
    drain(&mut rib);
    let used = ALLOCATED.load(Ordering::Relaxed) - before;
    eprintln!(
        "RIB with {} prefixes x 2 paths: {} bytes in use, {:.1} bytes per path",
        PREFIXES,
        used,
        used as f64 / (2.0 * PREFIXES as f64)
    );

    let mut group = c.benchmark_group("best_path_1m_prefixes");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));

    group.bench_function("second_path", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut rib = new_rib();
                load(&mut rib, 1, &first);
                drain(&mut rib);
                let start = Instant::now();
                load(&mut rib, 2, &second);
                total += start.elapsed();
                drain(&mut rib);
            }
            total
        })
    });

    // Peer 2's next hop costs 20; peer 1's alternates between 10 and 30 (after the LOCAL_PREF
    // tie is removed), so every call moves the best of every route.
    let mut rib = new_rib();
    load(&mut rib, 1, &first);
    load(&mut rib, 2, &updates(NEXT_HOP_2, 100));
    rib.nexthop_update(IpAddr::V4(NEXT_HOP_2), Some(20));
    drain(&mut rib);
    let mut cheap = false;
    group.bench_function("nexthop_change", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let metric = if cheap { 10 } else { 30 };
                cheap = !cheap;
                let start = Instant::now();
                rib.nexthop_update(IpAddr::V4(NEXT_HOP_1), Some(metric));
                let events = rib.take_events();
                total += start.elapsed();
                assert_eq!(events.len(), PREFIXES as usize, "every best path moved");
                drop(events);
                drain(&mut rib);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, best_path);
criterion_main!(benches);
