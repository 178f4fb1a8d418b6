//! Full SPF over synthetic databases: routers on a torus grid, each with four point-to-point
//! links (to its left, right, upper and lower neighbors, cost 10) and a /32 loopback stub.
//!
//! Two groups measure the same work: `ospf_full_spf` in wall-clock time, and
//! `ospf_full_spf_cpu` in CPU time of the benchmark thread, which other processes on a busy
//! machine do not inflate.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hna_ospf::lsa::{
    LsType, Lsa, LsaBody, LsaHeader, Options, RouterLink, RouterLinkType, RouterLsa,
};
use hna_ospf::lsdb::Lsdb;
use hna_ospf::spf::{RootInterface, compute};

fn router_id(index: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0001 + index as u32)
}

/// Address of router `index` on its link in direction `direction` (0 right, 1 left, 2 down, 3 up).
fn link_address(index: usize, direction: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x6440_0000 + (index * 4 + direction) as u32)
}

struct Grid {
    width: usize,
    height: usize,
}

impl Grid {
    fn neighbor(&self, index: usize, direction: usize) -> usize {
        let (x, y) = (index % self.width, index / self.width);
        let (x, y) = match direction {
            0 => ((x + 1) % self.width, y),
            1 => ((x + self.width - 1) % self.width, y),
            2 => (x, (y + 1) % self.height),
            _ => (x, (y + self.height - 1) % self.height),
        };
        y * self.width + x
    }

    fn lsdb(&self, now: Instant) -> Lsdb {
        let mut lsdb = Lsdb::new();
        for index in 0..self.width * self.height {
            let mut links: Vec<RouterLink> = (0..4)
                .map(|direction| RouterLink {
                    link_id: router_id(self.neighbor(index, direction)),
                    link_data: link_address(index, direction),
                    link_type: RouterLinkType::POINT_TO_POINT,
                    metric: 10,
                    tos: Vec::new(),
                })
                .collect();
            links.push(RouterLink {
                link_id: router_id(index),
                link_data: Ipv4Addr::BROADCAST,
                link_type: RouterLinkType::STUB,
                metric: 0,
                tos: Vec::new(),
            });
            let header = LsaHeader {
                ls_age: 1,
                options: Options(Options::E),
                ls_type: LsType::ROUTER,
                link_state_id: router_id(index),
                advertising_router: router_id(index),
                ls_sequence_number: 0x8000_0001u32 as i32,
                ls_checksum: 0,
                length: 0,
            };
            let lsa = Lsa::originate(header, LsaBody::Router(RouterLsa { flags: 0, links }));
            lsdb.insert(0, Arc::new(lsa), now, true);
        }
        lsdb
    }

    fn root_interfaces(&self) -> Vec<RootInterface> {
        let reverse = [1, 0, 3, 2];
        (0..4)
            .map(|direction| {
                let peer = self.neighbor(0, direction);
                RootInterface {
                    ifindex: direction as u32 + 2,
                    name: format!("eth{direction}").into(),
                    address: ipnet::Ipv4Net::new(link_address(0, direction), 32).unwrap(),
                    neighbors: vec![(router_id(peer), link_address(peer, reverse[direction]))],
                }
            })
            .collect()
    }
}

/// CPU time consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID).
struct ThreadCpuTime;

fn thread_cpu_time() -> Duration {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

/// Formats nanoseconds like criterion's wall-clock formatter.
struct NanosecondFormatter;

impl ValueFormatter for NanosecondFormatter {
    fn scale_values(&self, typical_value: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical_value < 1e3 {
            (1.0, "ns")
        } else if typical_value < 1e6 {
            (1e-3, "µs")
        } else if typical_value < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        for value in values {
            *value *= factor;
        }
        unit
    }

    fn scale_throughputs(
        &self,
        _typical_value: f64,
        _throughput: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "(no throughput)"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }

    fn end(&self, start: Duration) -> Duration {
        thread_cpu_time().saturating_sub(start)
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &NanosecondFormatter
    }
}

fn full_spf(c: &mut Criterion) {
    run_group(c, "ospf_full_spf");
}

fn full_spf_cpu(c: &mut Criterion<ThreadCpuTime>) {
    run_group(c, "ospf_full_spf_cpu");
}

fn run_group<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    for (width, height) in [(40, 25), (100, 100)] {
        let grid = Grid { width, height };
        let now = Instant::now();
        let lsdb = grid.lsdb(now);
        let interfaces = grid.root_interfaces();
        let routers = width * height;
        let table = compute(&lsdb, router_id(0), &interfaces, now);
        // One loopback route per router but the root, whose loopback has no interface here.
        assert_eq!(table.routes.len(), routers - 1);
        group.bench_with_input(BenchmarkId::new("routers", routers), &routers, |b, _| {
            b.iter(|| compute(&lsdb, router_id(0), &interfaces, now));
        });
    }
    group.finish();
}

criterion_group!(wall, full_spf);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = full_spf_cpu
}
criterion_main!(wall, cpu);
