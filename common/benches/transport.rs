//! The process pool's transport against its floor: a raw Unix-socket conversation with a child.
//!
//! Rows (ours / floor, same run, interleaved A B A B so neither side gets the warmer machine):
//! one task's round trip hot, after 1 ms idle and after 10 ms idle; 10^4 submits then a wait on
//! each; 64 MiB there and back (time, and peak memory over the payload in pool and worker).
//! `cargo bench -p common --bench transport` (`BENCH_RUNS` sets the rounds, default 7).

use common::{Pool, ProcessPool};
use serde_bytes::ByteBuf;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const ECHO: &str = "TRANSPORT_ECHO";
const MIB64: usize = 64 << 20;

fn trivial(x: u64) -> u64 {
    x * 2 + 1
}

fn flip(mut bytes: ByteBuf) -> ByteBuf {
    bytes.iter_mut().for_each(|b| *b = !*b);
    bytes
}

/// The floor's other end: echoes what it reads on stdin (a socket) in messages of one size.
fn echo() {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned().unwrap();
    let mut line = UnixStream::from(fd);
    let size: usize = std::env::var(ECHO).unwrap().parse().unwrap();
    let mut buf = vec![0u8; size];
    while line.read_exact(&mut buf).is_ok() {
        buf.iter_mut().for_each(|b| *b = !*b);
        if line.write_all(&buf).is_err() {
            return;
        }
    }
}

struct Echo {
    child: std::process::Child,
    line: UnixStream,
    buf: Vec<u8>,
}

impl Echo {
    fn start(size: usize) -> Echo {
        let (line, theirs) = UnixStream::pair().unwrap();
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .env(ECHO, size.to_string())
            .stdin(std::os::fd::OwnedFd::from(theirs))
            .spawn()
            .unwrap();
        Echo {
            child,
            line,
            buf: vec![0u8; size],
        }
    }

    fn trip(&mut self, message: &[u8]) {
        self.line.write_all(message).unwrap();
        self.line.read_exact(&mut self.buf).unwrap();
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.line.shutdown(std::net::Shutdown::Both);
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn row(what: &str, ours: Duration, floor: Duration, target: f64) {
    let ratio = ours.as_secs_f64() / floor.as_secs_f64();
    let verdict = if ratio <= target { "met" } else { "missed" };
    println!(
        "{what:<40} ours {:>10}  floor {:>10}  {ratio:>6.2}x  target <= {target}x  {verdict}",
        common::narrate::duration(ours),
        common::narrate::duration(floor)
    );
}

/// Peak resident memory of `pid` in bytes (`VmHWM`), and a reset of this process's own peak.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    common::init();
    if std::env::var_os(ECHO).is_some() {
        return echo();
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "ProcessPool transport vs a raw Unix socket, {} CPUs, load {}",
        num_cpus::get(),
        load.split_whitespace().next().unwrap_or("?")
    );
    let pool = ProcessPool::new(2).unwrap();
    let mut echo8 = Echo::start(8);

    for (idle, name) in [
        (Duration::ZERO, "hot"),
        (Duration::from_millis(1), "after 1 ms idle"),
        (Duration::from_millis(10), "after 10 ms idle"),
    ] {
        let rounds = if idle.is_zero() { 2000 } else { 200 };
        let (mut ours, mut floor) = (Vec::new(), Vec::new());
        for i in 0..rounds {
            std::thread::sleep(idle);
            let start = Instant::now();
            assert_eq!(pool.submit(trivial, i).wait(), Ok(trivial(i)));
            ours.push(start.elapsed());
            std::thread::sleep(idle);
            let start = Instant::now();
            echo8.trip(&i.to_le_bytes());
            floor.push(start.elapsed());
        }
        row(
            &format!("round trip, {name}"),
            median(ours),
            median(floor),
            1.1,
        );
    }

    let (mut ours, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        let handles: Vec<_> = (0..10_000u64).map(|i| pool.submit(trivial, i)).collect();
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.wait(), Ok(trivial(i as u64)));
        }
        ours.push(start.elapsed() / 10_000);
        let start = Instant::now();
        for i in 0..10_000u64 {
            echo8.trip(&i.to_le_bytes());
        }
        floor.push(start.elapsed() / 10_000);
    }
    let ours = median(ours);
    println!(
        "{:<40} ours {:>10} a task (target <= 2.5 µs: {}); a raw round trip {}",
        "10^4 submits, then wait each",
        common::narrate::duration(ours),
        if ours <= Duration::from_nanos(2500) {
            "met"
        } else {
            "missed"
        },
        common::narrate::duration(median(floor))
    );

    let payload = vec![7u8; MIB64];
    let mut echo64 = Echo::start(MIB64);
    let me = std::process::id();
    let (mut ours, mut floor) = (Vec::new(), Vec::new());
    let (mut our_peak, mut worker_peak) = (0u64, 0u64);
    for _ in 0..runs.min(5) {
        let argument = ByteBuf::from(payload.clone());
        let base = rss(me);
        reset_peak(me);
        for pid in pool.worker_pids() {
            reset_peak(pid);
        }
        let worker_base: Vec<u64> = pool.worker_pids().iter().map(|&p| rss(p)).collect();
        let start = Instant::now();
        let back = pool.submit(flip, argument).wait().unwrap();
        ours.push(start.elapsed());
        our_peak = our_peak.max(peak_rss(me).saturating_sub(base));
        for (pid, base) in pool.worker_pids().iter().zip(worker_base) {
            worker_peak = worker_peak.max(peak_rss(*pid).saturating_sub(base));
        }
        assert!(back.len() == MIB64 && back[0] == !7u8);
        drop(back);
        let start = Instant::now();
        echo64.trip(&payload);
        floor.push(start.elapsed());
    }
    row(
        "64 MiB ByteBuf there and back",
        median(ours),
        median(floor),
        1.0,
    );
    println!(
        "{:<40} pool {:.2}x, worker {:.2}x the payload (target <= 1.5x)",
        "   peak memory above the idle level",
        our_peak as f64 / MIB64 as f64,
        worker_peak as f64 / MIB64 as f64
    );
}
