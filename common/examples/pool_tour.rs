//! A tour of both pools: the same generic code on threads and on processes, then what differs.
//!
//! Run it with `cargo run -p common --example pool_tour`.

use common::narrate::{header, millis, pid_tag};
use common::{Error, Pool, ProcessPool, ThreadPool};
use std::time::{Duration, Instant};

/// Counts the primes below `n` the slow way: honest CPU work for a task.
fn count_primes(n: u64) -> u64 {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count() as u64
}

/// A task that fails in the ways a task can, chosen by its argument.
fn fragile(how: String) -> String {
    match how.as_str() {
        "panic" => panic!("this task panics on purpose"),
        "abort" => std::process::abort(),
        _ => format!("fine, from {}", pid_tag(std::process::id())),
    }
}

/// The same function for both pools: this is what one interface buys.
fn tour<P: Pool>(pool: &P) -> anyhow::Result<Vec<u64>> {
    let mut out = std::io::stdout();
    header(
        &mut out,
        &format!("{} pool", pool.kind()),
        "one generic function, run unchanged",
        &[("workers", pool.workers())],
    )?;
    let started = Instant::now();
    let primes = pool.map(count_primes, [20_000, 40_000, 60_000, 80_000])?;
    println!(
        "   map(count_primes) -> {primes:?} in {}",
        millis(started.elapsed())
    );
    for (i, r) in pool.map_unordered(fragile, ["ok".to_string(), "panic".to_string()]) {
        println!(
            "   task {i}: {}",
            match r {
                Ok(v) => v,
                Err(e) => e.to_string(),
            }
        );
    }
    let mut late = pool.submit(|ms: u64| std::thread::sleep(Duration::from_millis(ms)), 200);
    println!(
        "   wait_timeout(10 ms) on a 200 ms task: {:?}",
        late.wait_timeout(Duration::from_millis(10)).unwrap_err()
    );
    late.wait()?;
    Ok(primes)
}

fn main() -> anyhow::Result<()> {
    common::init(); // a worker process never returns from here
    let on_threads = tour(&ThreadPool::new(2)?)?;
    let processes = ProcessPool::new(2)?;
    let on_processes = tour(&processes)?;
    assert_eq!(
        on_threads, on_processes,
        "both pools compute the same answers"
    );

    println!("\n== what only a process pool survives ==");
    let answer = processes.submit(fragile, "abort".to_string()).wait();
    println!(
        "   a task that aborts its worker: {}",
        answer.as_ref().unwrap_err()
    );
    assert!(matches!(answer, Err(Error::WorkerDied { .. })));
    println!(
        "   the next task still runs: {}",
        processes.submit(fragile, "ok".to_string()).wait()?
    );
    println!("result: same answers on both pools {on_threads:?} [ok] -- one interface; a process pool also survives a dead worker");
    Ok(())
}
