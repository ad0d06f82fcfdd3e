//! The process pool's transport against its floor: a raw Unix-socket conversation with a child.
//!
//! Rows: one task's round trip hot, after 1 ms idle and after 10 ms idle, against an 8-byte
//! ping-pong with a child process over a socket pair; 10^4 submits then a wait on each; 64 MiB
//! `ByteBuf` there and back against the same bytes over a raw socket (and `memcpy` for scale),
//! with the peak memory above the idle level in pool and worker; 100 tasks reading one 16 MiB
//! table, sent with each task against shared once (`Pool::share`, `Pool::share_slice`).

use crate::measure::{interleaved, median, time, Row, Target};
use common::{Array, Pool, ProcessPool, Shared};
use serde_bytes::ByteBuf;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Set in the echo child's environment: the size of the messages it echoes.
const ECHO: &str = "COMPARE_ECHO";
const MIB64: usize = 64 << 20;

fn trivial(x: u64) -> u64 {
    x * 2 + 1
}

fn negate(mut values: Array<f64>) -> Array<f64> {
    values.iter_mut().for_each(|v| *v = -*v);
    values
}

fn flip(mut bytes: ByteBuf) -> ByteBuf {
    bytes.iter_mut().for_each(|b| *b = !*b);
    bytes
}

/// In the echo child (started by [`Echo::start`]): echoes, flipped, what it reads; then exits.
pub fn serve_echo_if_asked() {
    let Some(size) = std::env::var_os(ECHO) else {
        return;
    };
    use std::os::fd::AsFd;
    let size: usize = size.to_string_lossy().parse().expect("a size");
    let fd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .expect("stdin");
    let mut line = UnixStream::from(fd);
    let mut buf = vec![0u8; size];
    while line.read_exact(&mut buf).is_ok() {
        buf.iter_mut().for_each(|b| *b = !*b);
        if line.write_all(&buf).is_err() {
            break;
        }
    }
    std::process::exit(0);
}

/// A child process at the other end of a socket pair, echoing messages of one size.
struct Echo {
    child: std::process::Child,
    line: UnixStream,
    buf: Vec<u8>,
}

impl Echo {
    fn start(size: usize) -> Echo {
        let (line, theirs) = UnixStream::pair().expect("a socket pair");
        let child = std::process::Command::new(std::env::current_exe().expect("this bench"))
            .env(ECHO, size.to_string())
            .stdin(std::os::fd::OwnedFd::from(theirs))
            .spawn()
            .expect("the echo child starts");
        Echo {
            child,
            line,
            buf: vec![0u8; size],
        }
    }

    fn trip(&mut self, message: &[u8]) {
        self.line.write_all(message).expect("echo alive");
        self.line.read_exact(&mut self.buf).expect("echo answers");
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.line.shutdown(std::net::Shutdown::Both);
        let _ = self.child.wait();
    }
}

/// Round trips after each idle time, and 10^4 submits.
pub fn round_trips(pool: &ProcessPool, runs: usize) -> Vec<Row> {
    let mut echo = Echo::start(8);
    let mut rows = Vec::new();
    for (idle, name) in [
        (Duration::ZERO, "hot"),
        (Duration::from_millis(1), "after 1 ms idle"),
        (Duration::from_millis(10), "after 10 ms idle"),
    ] {
        let rounds = if idle.is_zero() { 2000 } else { 200 };
        let mut i = 0u64;
        let (ours, floor) = interleaved(
            rounds,
            || {
                std::thread::sleep(idle);
                i += 1;
                let (took, answer) = time(|| pool.submit(trivial, i).wait());
                assert_eq!(answer, Ok(trivial(i)));
                took
            },
            || {
                std::thread::sleep(idle);
                time(|| echo.trip(&7u64.to_le_bytes())).0
            },
        );
        let work = format!("round trip {name}: ProcessPool submit + wait");
        let peer = "socket ping-pong, process";
        rows.push(Row::times(&work, ours, peer, floor, Target::AtMost(1.1)));
    }
    let ours = median(
        (0..runs)
            .map(|_| {
                let (took, ()) = time(|| {
                    let handles: Vec<_> = (0..10_000u64).map(|i| pool.submit(trivial, i)).collect();
                    for (i, h) in handles.into_iter().enumerate() {
                        assert_eq!(h.wait(), Ok(trivial(i as u64)));
                    }
                });
                took / 10_000
            })
            .collect(),
    );
    let work = "10^4 ProcessPool::submit, wait each: a task";
    let target = Duration::from_nanos(2500);
    rows.push(Row::times(
        work,
        ours,
        "(target)",
        target,
        Target::AtMost(1.0),
    ));
    rows
}

/// 64 MiB there and back: time against a raw socket and `memcpy`, and peak memory.
pub fn large_payload(pool: &ProcessPool, runs: usize) -> Vec<Row> {
    let payload = vec![7u8; MIB64];
    let mut echo = Echo::start(MIB64);
    let me = std::process::id();
    let (mut our_peak, mut worker_peak) = (0u64, 0u64);
    let (ours, floor) = interleaved(
        runs,
        || {
            let argument = ByteBuf::from(payload.clone());
            let base = memory(me, "VmRSS:");
            reset_peak(me);
            let workers: Vec<(u32, u64)> = pool
                .worker_pids()
                .into_iter()
                .map(|p| {
                    reset_peak(p);
                    (p, memory(p, "VmRSS:"))
                })
                .collect();
            let (took, back) = time(|| pool.submit(flip, argument).wait().expect("flipped"));
            our_peak = our_peak.max(memory(me, "VmHWM:").saturating_sub(base));
            for (pid, base) in workers {
                worker_peak = worker_peak.max(memory(pid, "VmHWM:").saturating_sub(base));
            }
            assert!(back.len() == MIB64 && back.iter().all(|&b| b == !7u8));
            took
        },
        || time(|| echo.trip(&payload)).0,
    );
    let mut warm = vec![0u8; MIB64];
    let copies = median(
        (0..runs)
            .map(|_| {
                time(|| {
                    warm.copy_from_slice(std::hint::black_box(&payload));
                    std::hint::black_box(&mut warm);
                })
                .0 * 2
            })
            .collect(),
    );
    let work = "64 MiB ByteBuf to a worker and back";
    let peak = |who: &str, bytes: u64| Row {
        work: format!("   peak memory above idle, {who}"),
        ours: format!("{:.2}x", bytes as f64 / MIB64 as f64),
        peer: "(the payload)".into(),
        theirs: "1x".into(),
        ratio: bytes as f64 / MIB64 as f64,
        target: Target::AtMost(1.5),
    };
    // The same 64 MiB as numbers: an `Array<f64>` travels as its bytes (one copy back into
    // aligned memory on each side), against the `ByteBuf`, interleaved.
    let numbers = vec![0.5f64; MIB64 / 8];
    let (as_array, as_bytes) = interleaved(
        runs,
        || {
            let argument = Array::from(numbers.clone());
            let (took, back) = time(|| pool.submit(negate, argument).wait().expect("negated"));
            assert!(back.len() == MIB64 / 8 && back.iter().all(|&v| v == -0.5));
            took
        },
        || {
            let argument = ByteBuf::from(payload.clone());
            time(|| pool.submit(flip, argument).wait().expect("flipped")).0
        },
    );
    vec![
        Row::times(work, ours, "raw UnixStream", floor, Target::AtMost(1.0)),
        Row::times(work, ours, "memcpy there and back", copies, Target::None),
        peak("pool", our_peak),
        peak("worker", worker_peak),
        Row::times(
            "64 MiB Array<f64> to a worker and back",
            as_array,
            "the same as a ByteBuf",
            as_bytes,
            Target::AtMost(1.2),
        ),
    ]
}

/// A `/proc/<pid>/status` memory field (`VmRSS:`, `VmHWM:`) in bytes; 0 if unreadable.
fn memory(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Resets the peak (`VmHWM`) of `pid` to its current resident size.
fn reset_peak(pid: u32) {
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
}

/// The table the sharing rows read: 16 MiB, 100 windows of 64 KiB (pools-demo `share-vs-send`).
const TABLE: usize = 16 << 20;
const WINDOW: usize = 64 << 10;
const READERS: usize = 100;

fn window_sum(table: &[u8], i: usize) -> u64 {
    let start = i * WINDOW % (table.len() - WINDOW);
    table[start..start + WINDOW]
        .iter()
        .map(|&b| u64::from(b))
        .sum()
}

fn sent_sum((table, i): (ByteBuf, usize)) -> u64 {
    window_sum(&table, i)
}

fn shared_sum((table, i): (Shared<ByteBuf>, usize)) -> u64 {
    window_sum(&table, i)
}

fn in_place_sum((table, i): (Shared<[u8]>, usize)) -> u64 {
    window_sum(&table, i)
}

/// 100 tasks over one 16 MiB table: sent with every task (1600 MiB through the sockets) against
/// shared once, the `share` call inside the clock. Target 0.1x: a hundred copies of the table
/// against one should be at least ten times slower.
pub fn shared_table(pool: &ProcessPool, runs: usize) -> Vec<Row> {
    let table = ByteBuf::from((0..TABLE).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let expected: Vec<u64> = (0..READERS).map(|i| window_sum(&table, i)).collect();
    let sent = || {
        let items: Vec<_> = (0..READERS).map(|i| (table.clone(), i)).collect();
        let (took, sums) = time(|| pool.map_chunked(sent_sum, items, common::Chunk::Size(1)));
        assert_eq!(sums.expect("the sent map runs"), expected);
        took
    };
    let shared = || {
        let (took, sums) = time(|| {
            let shared = pool.share(table.clone()).expect("the table is shared");
            let items: Vec<_> = (0..READERS).map(|i| (shared.clone(), i)).collect();
            pool.map_chunked(shared_sum, items, common::Chunk::Size(1))
        });
        assert_eq!(sums.expect("the shared map runs"), expected);
        took
    };
    let in_place = || {
        let (took, sums) = time(|| {
            let shared = pool
                .share_slice(table.to_vec())
                .expect("the bytes are shared");
            let items: Vec<_> = (0..READERS).map(|i| (shared.clone(), i)).collect();
            pool.map_chunked(in_place_sum, items, common::Chunk::Size(1))
        });
        assert_eq!(sums.expect("the in-place map runs"), expected);
        took
    };
    let (ours, theirs) = interleaved(runs, shared, sent);
    let (slice, theirs_too) = interleaved(runs, in_place, sent);
    let work = "100 tasks read one 16 MiB table";
    vec![
        Row::times(
            &format!("{work}: pool.share once"),
            ours,
            "sent with each task",
            theirs,
            Target::AtMost(0.1),
        ),
        Row::times(
            &format!("{work}: pool.share_slice once"),
            slice,
            "sent with each task",
            theirs_too,
            Target::None,
        ),
    ]
}
