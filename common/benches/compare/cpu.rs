//! The CPU-bound rows: 64 tasks of about 2.4 ms on 2 workers, each pool with `Chunk::Auto` and
//! `Chunk::Size(1)`, and rayon, as a speed-up over running them one after another.

use crate::measure::{interleaved, time, Row, Target};
use common::{Chunk, Pool, ProcessPool, ThreadPool};
use rayon::prelude::*;

/// About 2.4 ms of arithmetic on the development machine; `black_box` keeps the compiler from
/// folding the loop into a formula.
fn spin(seed: u64) -> u64 {
    let mut acc = seed;
    for i in 0..2_000_000u64 {
        acc = std::hint::black_box(acc.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    acc
}

/// One way to run the 64 tasks.
type Map<'a> = dyn Fn(Vec<u64>) -> Vec<u64> + 'a;

pub fn rows(threads: &ThreadPool, processes: &ProcessPool, runs: usize) -> Vec<Row> {
    let seeds: Vec<u64> = (0..64).collect();
    let expected: Vec<u64> = seeds.iter().map(|&s| spin(s)).collect();
    let sequential = || time(|| seeds.iter().map(|&s| spin(s)).collect::<Vec<_>>()).0;
    let check = |out: Vec<u64>| assert_eq!(out, expected);
    let on = |pool: &Map| {
        let (took, out) = time(|| pool(seeds.clone()));
        check(out);
        took
    };
    let thread_auto = |s| threads.map(spin, s).expect("ok");
    let thread_one = |s| threads.map_chunked(spin, s, Chunk::Size(1)).expect("ok");
    let process_auto = |s| processes.map(spin, s).expect("ok");
    let process_one = |s| processes.map_chunked(spin, s, Chunk::Size(1)).expect("ok");
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("rayon starts");
    let by_rayon = |s: Vec<u64>| rayon.install(|| s.into_par_iter().map(spin).collect());
    let cases: [(&str, &Map, Target); 5] = [
        (
            "ThreadPool, Chunk::Auto",
            &thread_auto,
            Target::AtLeast(1.9),
        ),
        (
            "ProcessPool, Chunk::Auto",
            &process_auto,
            Target::AtLeast(1.9),
        ),
        (
            "ThreadPool, Chunk::Size(1)",
            &thread_one,
            Target::AtLeast(1.9),
        ),
        (
            "ProcessPool, Chunk::Size(1)",
            &process_one,
            Target::AtLeast(1.9),
        ),
        ("rayon par_iter", &by_rayon, Target::None),
    ];
    cases
        .into_iter()
        .map(|(name, pool, target)| {
            let (ours, alone) = interleaved(runs.min(5), || on(pool), sequential);
            let work = format!("CPU-bound map, 64 x ~2.4 ms: {name}");
            Row::speedup(&work, ours, alone, target)
        })
        .collect()
}
