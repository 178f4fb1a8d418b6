//! Throughput of the Linux plane: install, then remove, 50,000 remote MACs and 50,000 neighbor
//! entries (100,000 entries) in one batch each, in a network namespace of the benchmark's own.
//!
//! Needs root. Run with `cargo bench -p hna-rib --bench linux_plane`.

use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hna_rib::linux::{LinuxPlane, create_namespace, delete_namespace};
use hna_rib::{Change, Entry, MacAddr, MacEntry, NeighborEntry, Southbound, Vni, VrfId};

const MACS: u32 = 50_000;
const NEIGHBORS: u32 = 50_000;

/// A namespace with a bridge and a bridged VXLAN device, deleted on drop.
struct Lab {
    name: String,
}

impl Lab {
    fn new() -> Lab {
        let name = format!("rib-bench-{}", std::process::id());
        let _ = delete_namespace(&name);
        create_namespace(&name).expect("create namespace (the benchmark needs root)");
        let lab = Lab { name };
        lab.ip("link set lo up");
        lab.ip("link add br100 type bridge");
        lab.ip("link set br100 up");
        lab.ip("addr add 10.0.0.254/8 dev br100");
        lab.ip("link add vx100 type vxlan id 100 local 192.0.2.1 dstport 4789 nolearning");
        lab.ip("link set vx100 master br100");
        lab.ip("link set vx100 up");
        lab
    }

    fn ip(&self, args: &str) {
        let status = Command::new("ip")
            .args(["-n", &self.name])
            .args(args.split_whitespace())
            .status()
            .expect("run ip");
        assert!(status.success(), "ip -n {} {args} failed", self.name);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = delete_namespace(&self.name);
    }
}

fn entries() -> Vec<Entry> {
    let vni = Vni::new(100).unwrap();
    let mut entries = Vec::with_capacity((MACS + NEIGHBORS) as usize);
    for i in 0..MACS {
        let [_, b, c, d] = i.to_be_bytes();
        let vtep = std::net::Ipv4Addr::new(192, 0, 2, 2 + (i % 200) as u8).into();
        entries.push(Entry::Mac(MacEntry {
            vni,
            mac: MacAddr([0x02, 0x01, 0, b, c, d]),
            vtep,
        }));
    }
    for i in 0..NEIGHBORS {
        let [_, b, c, d] = i.to_be_bytes();
        let ip = std::net::Ipv4Addr::new(10, b + 1, c, d).into();
        let mac = MacAddr([0x02, 0x02, 0, b, c, d]);
        entries.push(Entry::Neighbor(NeighborEntry {
            vrf: VrfId::DEFAULT,
            interface: "br100".into(),
            ip,
            mac,
        }));
    }
    entries
}

fn apply_all(plane: &mut LinuxPlane, changes: &[Change]) -> Duration {
    let start = Instant::now();
    let results = plane.apply(changes);
    let elapsed = start.elapsed();
    let failed = results.iter().filter(|result| result.is_err()).count();
    assert_eq!(
        failed,
        0,
        "{failed} changes failed, first: {:?}",
        results.iter().find(|r| r.is_err())
    );
    elapsed
}

fn linux_plane(c: &mut Criterion) {
    let lab = Lab::new();
    let namespace = hna_rib::linux::Namespace::named(&lab.name);
    let mut plane = namespace
        .run(LinuxPlane::new)
        .expect("enter namespace")
        .expect("create plane");
    plane
        .bind_l2vni(Vni::new(100).unwrap(), VrfId::DEFAULT, "vx100")
        .unwrap();

    let entries = entries();
    let install: Vec<Change> = entries.iter().cloned().map(Change::Install).collect();
    let remove: Vec<Change> = entries
        .iter()
        .map(|entry| Change::Remove(entry.key()))
        .collect();

    // Check once that the batch lands in full.
    apply_all(&mut plane, &install);
    assert_eq!(plane.dump().unwrap().len(), entries.len());
    apply_all(&mut plane, &remove);
    assert!(plane.dump().unwrap().is_empty());

    let mut group = c.benchmark_group("linux_plane");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(entries.len() as u64));
    group.bench_function("install_50k_macs_50k_neighbors", |bencher| {
        bencher.iter_custom(|iterations| {
            let mut measured = Duration::ZERO;
            for _ in 0..iterations {
                measured += apply_all(&mut plane, &install);
                apply_all(&mut plane, &remove);
            }
            measured
        })
    });
    group.bench_function("remove_50k_macs_50k_neighbors", |bencher| {
        bencher.iter_custom(|iterations| {
            let mut measured = Duration::ZERO;
            for _ in 0..iterations {
                apply_all(&mut plane, &install);
                measured += apply_all(&mut plane, &remove);
            }
            measured
        })
    });
    group.finish();
}

criterion_group!(benches, linux_plane);
criterion_main!(benches);
