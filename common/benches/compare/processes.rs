//! ProcessPool rows against other process pools: start-up, a `map` of 10^4 items with the
//! pool's start against Python's pools (fork and spawn), 10^4 submits against procspawn.

use crate::measure::{interleaved, median, time, Row, Target};
use common::{Pool, ProcessPool};
use std::time::Duration;

fn trivial(x: u64) -> u64 {
    x * 2 + 1
}

/// `ProcessPool::new(2)` until both workers are ready (the drop is not timed).
pub fn start(runs: usize) -> Vec<Row> {
    let ready = median(
        (0..runs)
            .map(|_| {
                let (took, pool) = time(|| ProcessPool::new(2).expect("workers start"));
                drop(pool);
                took
            })
            .collect(),
    );
    let target = Duration::from_millis(10);
    let work = "ProcessPool::new(2): two workers ready";
    vec![Row::times(
        work,
        ready,
        "(target)",
        target,
        Target::AtMost(1.0),
    )]
}

/// `map` of 10^4 items, the pool's start and drop included, against Python's pools.
pub fn map_with_start(runs: usize) -> Vec<Row> {
    let items: Vec<u64> = (0..10_000).collect();
    let ours = || {
        time(|| {
            let pool = ProcessPool::new(2).expect("workers start");
            assert_eq!(pool.map(trivial, items.clone()).expect("ok").len(), 10_000);
        })
        .0
    };
    let work = "ProcessPool::map 10^4 items, start included";
    let mut rows = Vec::new();
    let peers = [
        ("fork", "pool_map", "python Pool(2).map, fork", 0.5, runs),
        ("spawn", "pool_map", "python Pool(2).map, spawn", 0.5, runs),
        (
            "fork",
            "executor_map_chunked",
            "python Executor, same chunks",
            f64::NAN,
            runs,
        ),
        (
            "fork",
            "executor_map",
            "python Executor, chunksize 1",
            f64::NAN,
            1,
        ),
    ];
    for (method, what, peer, target, runs) in peers {
        if python(method, what).is_none() {
            println!("(python3 not found: the Python peers are skipped)");
            return rows;
        }
        let (a, b) = interleaved(runs, ours, || python(method, what).expect("ran before"));
        let target = if target.is_nan() {
            Target::None
        } else {
            Target::AtMost(target)
        };
        rows.push(Row::times(work, a, peer, b, target));
    }
    rows
}

/// One run of a Python pool, as `python_pools.py` times it; `None` without python3.
fn python(method: &str, what: &str) -> Option<Duration> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python_pools.py");
    let out = std::process::Command::new("python3")
        .args([script, method, what, "1"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let secs: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix(what)?.trim().parse().ok())?;
    Some(Duration::from_secs_f64(secs))
}

/// 10^4 submits then a wait on each, against procspawn's pool.
pub fn submit(pool: &ProcessPool, runs: usize) -> Vec<Row> {
    let items: Vec<u64> = (0..10_000).collect();
    let spawner = procspawn::Pool::new(2).expect("procspawn starts");
    let ours = || {
        time(|| {
            let handles: Vec<_> = items.iter().map(|&i| pool.submit(trivial, i)).collect();
            handles.into_iter().for_each(|h| assert!(h.wait().is_ok()));
        })
        .0
    };
    let peer = || {
        time(|| {
            // procspawn holds 4 descriptors per pending task: 10,000 at once fail with EMFILE,
            // so it gets them in waves of 250.
            for wave in items.chunks(250) {
                let handles: Vec<_> = wave
                    .iter()
                    .map(|&i| procspawn::spawn!(in spawner, (i) || trivial(i)))
                    .collect();
                handles.into_iter().for_each(|h| assert!(h.join().is_ok()));
            }
        })
        .0
    };
    let (a, b) = interleaved(runs.min(3), ours, peer);
    let work = "ProcessPool::submit x 10^4, wait each";
    vec![Row::times(
        work,
        a,
        "procspawn Pool, waves of 250",
        b,
        Target::AtMost(0.1),
    )]
}
