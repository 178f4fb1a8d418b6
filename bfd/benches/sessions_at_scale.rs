//! Benchmark (run as root): many BFD sessions at a fast interval between two instances in two
//! network namespaces joined by one veth pair, held for a fixed time. Reports false Down events
//! (any session leaving Up while nothing disturbs the link), the CPU time of each instance and
//! of the whole process, and the packet rates.
//!
//! ```text
//! cargo bench -p hna-bfd --bench sessions_at_scale -- [--sessions 1000] [--interval-ms 50]
//!     [--multiplier 3] [--seconds 60] [--realtime PRIORITY]
//! ```
//!
//! Each instance runs on a thread of its own (`Bfd::spawn_on_thread`); `--realtime` gives
//! those threads SCHED_FIFO at PRIORITY. `BFD_BENCH_DEBUG=1` prints every transition out of Up,
//! including those caused by the AdminDown packets the instances send when the benchmark stops.
//!
//! Each session is single-hop on the veth between its own pair of addresses (10.77.0.0/16), so
//! sessions are distinguished by address as well as by discriminator, as on a router with many
//! peers on one segment. Neighbor entries are installed permanent, so the 2,000 entries need no
//! ARP and stay outside the neighbor table's garbage-collection limits (gc_thresh3 is 1,024 by
//! default and cannot be raised from inside a namespace; Linux 4.19 and later do not count
//! permanent entries against it).

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hna_bfd::{Bfd, BfdConfig, SessionKey, SessionParams, SessionSnapshot, State};
use tokio::sync::oneshot;

struct Options {
    sessions: usize,
    interval_ms: u64,
    multiplier: u8,
    seconds: u64,
    realtime_priority: Option<u8>,
}

fn parse_options() -> Options {
    let mut options = Options {
        sessions: 1000,
        interval_ms: 50,
        multiplier: 3,
        seconds: 60,
        realtime_priority: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut index = 0;
    while index < args.len() {
        let value = || {
            args.get(index + 1)
                .and_then(|text| text.parse::<u64>().ok())
        };
        match args[index].as_str() {
            "--sessions" => options.sessions = value().map_or(options.sessions, |v| v as usize),
            "--interval-ms" => options.interval_ms = value().unwrap_or(options.interval_ms),
            "--multiplier" => {
                options.multiplier = value().map_or(options.multiplier, |v| v.clamp(1, 255) as u8)
            }
            "--seconds" => options.seconds = value().unwrap_or(options.seconds),
            "--realtime" => options.realtime_priority = value().map(|v| v.clamp(1, 99) as u8),
            // cargo bench passes --bench; other flags are not ours.
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    options.sessions = options.sessions.clamp(1, 20_000);
    options
}

/// A namespace deleted on drop.
struct Namespace(String);

impl Namespace {
    fn new(tag: &str) -> Namespace {
        let name = format!("{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run("ip", &["netns", "add", &name]);
        let namespace = Namespace(name);
        namespace.ip(&["link", "set", "lo", "up"]);
        namespace
    }

    fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.0.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Runs `ip -batch` with one command per line.
    fn ip_batch(&self, lines: &[String]) {
        let path = std::env::temp_dir().join(format!("bfd-bench-{}-{}.batch", self.0, lines.len()));
        fs::write(&path, lines.join("\n") + "\n").expect("write batch file");
        run(
            "ip",
            &["-n", &self.0, "-batch", path.to_str().expect("UTF-8 path")],
        );
        let _ = fs::remove_file(path);
    }

    fn mac(&self, interface: &str) -> String {
        let json: serde_json::Value =
            serde_json::from_str(&self.ip(&["-j", "link", "show", interface]))
                .expect("ip -j prints JSON");
        json[0]["address"]
            .as_str()
            .expect("interface has a MAC address")
            .to_string()
    }

    /// Moves the calling thread into the namespace.
    fn enter(&self) {
        let file = fs::File::open(format!("/run/netns/{}", self.0)).expect("open namespace");
        // SAFETY: the descriptor is valid for the call, and CLONE_NEWNET only changes the
        // calling thread's network namespace.
        let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns failed: {}", std::io::Error::last_os_error());
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .expect("start command");
    assert!(
        output.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Returns the address of session `index` on side A (`offset` 0) or B (`offset` 100).
fn address(index: usize, offset: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        10,
        77,
        (offset + index / 250) as u8,
        (index % 250 + 1) as u8,
    )
}

/// One BFD instance on its own thread ([`Bfd::spawn_on_thread`]) inside a namespace, and a
/// driver thread with a runtime for its clients.
struct Side {
    name: &'static str,
    bfd: Bfd,
    runtime: tokio::runtime::Handle,
    /// Thread id of the instance's thread, for its CPU time.
    instance_thread: i32,
    /// Transitions out of Up seen by the clients.
    downs: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Side {
    fn start(
        name: &'static str,
        namespace: &Namespace,
        local_offset: usize,
        peer_offset: usize,
        options: &Options,
    ) -> Side {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let downs = Arc::new(AtomicU64::new(0));
        let downs_in = downs.clone();
        let namespace_name = namespace.0.clone();
        let sessions = options.sessions;
        let config = BfdConfig {
            realtime_priority: options.realtime_priority,
            ..BfdConfig::default()
        };
        let params = SessionParams::new(
            Duration::from_millis(options.interval_ms),
            Duration::from_millis(options.interval_ms),
            options.multiplier,
        )
        .expect("valid benchmark parameters");
        let debug = std::env::var_os("BFD_BENCH_DEBUG").is_some();

        let thread = std::thread::spawn(move || {
            Namespace(namespace_name).enter_and_forget();
            let before = bfd_threads();
            // The instance's thread is created from this one and so starts in the namespace.
            let bfd = Bfd::spawn_on_thread(config).expect("BFD sockets open");
            let instance_thread = bfd_threads()
                .into_iter()
                .find(|id| !before.contains(id))
                .expect("the instance thread exists");

            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let start = Instant::now();
                for index in 0..sessions {
                    let key = SessionKey::single_hop(IpAddr::V4(address(index, peer_offset)))
                        .with_local(IpAddr::V4(address(index, local_offset)))
                        .with_interface("eth0");
                    let mut subscription = bfd.register(key, params.clone());
                    let downs = downs_in.clone();
                    tokio::spawn(async move {
                        while let Some(change) = subscription.recv().await {
                            if change.previous == State::Up && change.state != State::Up {
                                downs.fetch_add(1, Ordering::Relaxed);
                                if debug {
                                    let key = subscription.key();
                                    eprintln!(
                                        "{name} {} -> {}: {:?} at {:?}",
                                        key.local.map_or(String::new(), |local| local.to_string()),
                                        key.peer,
                                        change.diagnostic,
                                        change.at.duration_since(start)
                                    );
                                }
                            }
                        }
                    });
                }
                started_tx
                    .send((bfd, tokio::runtime::Handle::current(), instance_thread))
                    .expect("main thread waiting");
                let _ = stopped.await;
            });
        });
        let (bfd, runtime, instance_thread) = started_rx.recv().expect("side started");
        Side {
            name,
            bfd,
            runtime,
            instance_thread,
            downs,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn sessions(&self) -> Vec<SessionSnapshot> {
        self.runtime.block_on(self.bfd.sessions())
    }

    /// CPU time (user + system) of the instance's thread.
    fn cpu_time(&self) -> Duration {
        thread_cpu_time(self.instance_thread)
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Ids of this process's threads named like the instance threads.
fn bfd_threads() -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            fs::read_to_string(entry.path().join("comm")).is_ok_and(|name| name.trim() == "hna-bfd")
        })
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect()
}

impl Namespace {
    /// Enters the namespace without deleting it when this value goes away.
    fn enter_and_forget(self) {
        self.enter();
        std::mem::forget(self);
    }
}

fn thread_cpu_time(thread_id: i32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/self/task/{thread_id}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&at| fields.get(at)?.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros(ticks * 1_000_000 / per_second)
}

fn process_cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |time: libc::timeval| time.tv_sec as u64 * 1_000_000 + time.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn count_up(sessions: &[SessionSnapshot]) -> usize {
    sessions
        .iter()
        .filter(|session| session.state == State::Up)
        .count()
}

/// Waits until `done` holds for both sides, polling every 500 ms; returns the time taken.
fn wait_both(
    sides: &[&Side],
    limit: Duration,
    what: &str,
    done: impl Fn(&[SessionSnapshot]) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        if sides.iter().all(|side| done(&side.sessions())) {
            return start.elapsed();
        }
        if start.elapsed() > limit {
            let counts: Vec<String> = sides
                .iter()
                .map(|side| format!("{}: {} Up", side.name, count_up(&side.sessions())))
                .collect();
            panic!("{what} not reached after {limit:?} ({})", counts.join(", "));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn packets(sessions: &[SessionSnapshot]) -> (u64, u64) {
    sessions.iter().fold((0, 0), |(inward, outward), session| {
        (
            inward + session.counters.packets_in,
            outward + session.counters.packets_out,
        )
    })
}

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("this benchmark builds network namespaces and needs root");
        std::process::exit(2);
    }
    let options = parse_options();
    let sessions = options.sessions;
    println!(
        "BFD sessions at scale: {sessions} single-hop sessions, {} ms x {}, {} s, SCHED_FIFO priority {:?}, {} CPUs, load average {}",
        options.interval_ms,
        options.multiplier,
        options.seconds,
        options.realtime_priority,
        std::thread::available_parallelism().map_or(0, |count| count.get()),
        load_average()
    );

    let a = Namespace::new("bfdbench-a");
    let b = Namespace::new("bfdbench-b");
    a.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", &b.0,
    ]);
    a.ip(&["link", "set", "eth0", "up"]);
    b.ip(&["link", "set", "eth0", "up"]);
    let (mac_a, mac_b) = (a.mac("eth0"), b.mac("eth0"));
    let addresses = |offset| {
        (0..sessions)
            .map(move |index| address(index, offset))
            .collect::<Vec<_>>()
    };
    for (namespace, own, peers, peer_mac) in [(&a, 0, 100, &mac_b), (&b, 100, 0, &mac_a)] {
        let mut lines: Vec<String> = addresses(own)
            .iter()
            .map(|address| format!("addr add {address}/16 dev eth0"))
            .collect();
        lines.extend(addresses(peers).iter().map(|address| {
            format!("neigh replace {address} lladdr {peer_mac} dev eth0 nud permanent")
        }));
        namespace.ip_batch(&lines);
    }

    let started = Instant::now();
    let side_a = Side::start("A", &a, 0, 100, &options);
    let side_b = Side::start("B", &b, 100, 0, &options);
    let sides = [&side_a, &side_b];
    let up_after = wait_both(
        &sides,
        Duration::from_secs(120),
        "all sessions Up",
        |snapshot| snapshot.len() == sessions && count_up(snapshot) == sessions,
    );
    let detection_us = options.interval_ms * 1000 * u64::from(options.multiplier);
    let fast_after = wait_both(
        &sides,
        Duration::from_secs(60),
        "fast timers on every session",
        |snapshot| {
            snapshot
                .iter()
                .all(|session| session.timers.detection_time_us == detection_us)
        },
    );
    println!(
        "all {sessions} sessions Up on both sides after {up_after:.1?}; fast timers after {:.1?} more",
        fast_after
    );
    println!(
        "sessions created to steady state: {:.1?}",
        started.elapsed()
    );

    let downs_before: Vec<u64> = sides
        .iter()
        .map(|side| side.downs.load(Ordering::Relaxed))
        .collect();
    let packets_before: Vec<(u64, u64)> =
        sides.iter().map(|side| packets(&side.sessions())).collect();
    let cpu_before: Vec<Duration> = sides.iter().map(|side| side.cpu_time()).collect();
    let process_before = process_cpu_time();
    let load_before = load_average();
    let window_start = Instant::now();

    let mut lowest_up = sessions;
    let window = Duration::from_secs(options.seconds);
    while window_start.elapsed() < window {
        std::thread::sleep(
            Duration::from_secs(10).min(window.saturating_sub(window_start.elapsed())),
        );
        for side in &sides {
            lowest_up = lowest_up.min(count_up(&side.sessions()));
        }
    }

    let wall = window_start.elapsed();
    let process_cpu = process_cpu_time() - process_before;
    let load_after = load_average();
    println!("steady window: {wall:.1?}; load average before {load_before}, after {load_after}");
    let mut false_downs = 0;
    for (index, side) in sides.iter().enumerate() {
        let snapshot = side.sessions();
        let downs = side.downs.load(Ordering::Relaxed) - downs_before[index];
        false_downs += downs;
        let (packets_in, packets_out) = packets(&snapshot);
        let (in_before, out_before) = packets_before[index];
        let cpu = side.cpu_time() - cpu_before[index];
        let drops: u64 = snapshot
            .iter()
            .map(|session| session.counters.dropped.total())
            .sum();
        let send_errors: u64 = snapshot
            .iter()
            .map(|session| session.counters.send_errors)
            .sum();
        println!(
            "instance {}: false Down events {downs}, packets in {:.0}/s, out {:.0}/s, dropped {drops}, send errors {send_errors}, CPU {:.1?} = {:.1} % of one core",
            side.name,
            (packets_in - in_before) as f64 / wall.as_secs_f64(),
            (packets_out - out_before) as f64 / wall.as_secs_f64(),
            cpu,
            100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        );
    }
    println!(
        "process (both instances and the benchmark driver): CPU {process_cpu:.1?} = {:.1} % of one core; lowest Up count seen {lowest_up} of {sessions}",
        100.0 * process_cpu.as_secs_f64() / wall.as_secs_f64()
    );
    println!("false Down events in the window: {false_downs}");

    // process::exit skips destructors: stop the instances and delete the namespaces first.
    drop(side_a);
    drop(side_b);
    drop(a);
    drop(b);
    if false_downs > 0 {
        std::process::exit(1);
    }
}
