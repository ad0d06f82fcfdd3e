//! The scaling table: the CPU-bound rows at 1, 2, 4, 8 and 16 workers, for common's two pools
//! against rayon and Python's `multiprocessing.Pool`, as speed-ups over running the same tasks
//! one after another.
//!
//! `cargo bench -p common --bench scaling` (`-- --markdown` for common/README's table;
//! `BENCH_RUNS` runs a cell, default 3, the median shown). Each row is 256 tasks of about
//! 2.4 ms of arithmetic (Python: the same loop, shorter, about as long in its interpreter), so
//! that 16 workers still get 16 tasks each. Each speed-up is over that runner's own sequential
//! time: Python's interpreted loop is far slower than compiled Rust, and the question here is
//! how each scales, not which is fastest. Past the machine's CPU count a speed-up can only stay
//! flat or fall: the header says how many there are, and the load.

use common::{Pool, ProcessPool, ThreadPool};
use rayon::prelude::*;
use std::time::{Duration, Instant};

const TASKS: u64 = 256;
const WORKERS: [usize; 5] = [1, 2, 4, 8, 16];

/// About 2.4 ms of arithmetic on the development machine (as in the compare bench's `cpu`).
fn spin(seed: u64) -> u64 {
    let mut acc = seed;
    for i in 0..2_000_000u64 {
        acc = std::hint::black_box(acc.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    acc
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let value = f();
    (start.elapsed(), value)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Python's `Pool(n).map` on its own spin, as a speed-up over its own sequential run, from
/// `benches/python_scaling.py`; `None` if Python is missing.
fn python(workers: usize, runs: usize) -> Option<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python_scaling.py");
    let out = std::process::Command::new("python3")
        .args([
            script,
            &workers.to_string(),
            &TASKS.to_string(),
            &runs.to_string(),
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn main() {
    common::init();
    let markdown = std::env::args().any(|a| a == "--markdown");
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?");
    println!(
        "CPU-bound scaling: {TASKS} tasks of ~2.4 ms, speed-up over sequential (medians of \
         {runs}); {} CPUs, load {load}",
        num_cpus::get()
    );
    let seeds: Vec<u64> = (0..TASKS).collect();
    let expected: Vec<u64> = seeds.iter().map(|&s| spin(s)).collect();
    let sequential = median(
        (0..runs)
            .map(|_| time(|| seeds.iter().map(|&s| spin(s)).collect::<Vec<_>>()).0)
            .collect(),
    );
    let speedup = |took: Duration| sequential.as_secs_f64() / took.as_secs_f64();
    if markdown {
        println!("\n| workers | ThreadPool | ProcessPool | rayon | Python `Pool` |");
        println!("|---|---|---|---|---|");
    } else {
        println!("workers  ThreadPool  ProcessPool   rayon  Python Pool");
    }
    for workers in WORKERS {
        let threads = ThreadPool::new(workers).expect("threads start");
        let processes = ProcessPool::new(workers).expect("workers start");
        let rayon = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .expect("rayon starts");
        let (mut t, mut p, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            // Interleaved, so a change in the machine's load falls on every runner alike.
            let (took, out) = time(|| threads.map(spin, seeds.clone()).expect("ok"));
            assert_eq!(out, expected);
            t.push(took);
            let (took, out) = time(|| processes.map(spin, seeds.clone()).expect("ok"));
            assert_eq!(out, expected);
            p.push(took);
            let (took, out) =
                time(|| rayon.install(|| seeds.par_iter().map(|&s| spin(s)).collect::<Vec<_>>()));
            assert_eq!(out, expected);
            r.push(took);
        }
        let py = python(workers, runs).map_or_else(|| "n/a".to_string(), |s| format!("{s:.2}x"));
        let (t, p, r) = (speedup(median(t)), speedup(median(p)), speedup(median(r)));
        if markdown {
            println!("| {workers} | {t:.2}x | {p:.2}x | {r:.2}x | {py} |");
        } else {
            println!("{workers:>7}  {t:>9.2}x  {p:>10.2}x  {r:>6.2}x  {py:>11}");
        }
    }
}
