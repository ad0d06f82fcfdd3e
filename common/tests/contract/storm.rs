//! Many workers killed at once, and long batches after short ones.

use crate::harness::{self, check};
use common::{Chunk, Error, Exit, Pool, ProcessPool};
use std::time::{Duration, Instant};

/// Kills in the storm: a few here, 1,000 with `FAULTS_FULL=1` (see the root README).
fn storm_kills() -> usize {
    if std::env::var_os("FAULTS_FULL").is_some() {
        1000
    } else {
        25
    }
}

/// Where a storm task notes that it started: one line per start, appended atomically.
const STORM_LOG: &str = "POOL_CONTRACT_STORM_LOG";

/// A storm task: notes its start, spins for about 0.2 ms, returns its index.
fn storm_task(index: u64) -> u64 {
    use std::io::Write;
    if let Some(path) = std::env::var_os(STORM_LOG) {
        // O_APPEND makes each short write land whole, even from several processes at once.
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("the log exists");
        log.write_all(format!("{index}\n").as_bytes())
            .expect("the log is writable");
    }
    let until = Instant::now() + Duration::from_micros(200);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    index
}

/// Workers are SIGKILLed at random moments under a steady load. Every task must end exactly
/// once, with its value or `WorkerDied`; none may run twice; nothing may hang or be left over.
pub(crate) fn kill_storm() -> harness::Result {
    let kills = storm_kills();
    let log = std::env::temp_dir().join(format!("pool-contract-storm-{}", std::process::id()));
    let _log_guard = common::demo::cleanup::PathGuard::new(&log);
    std::fs::write(&log, "")?;
    let pool = ProcessPool::builder()
        .workers(2)
        .env(STORM_LOG, &log)
        .build()?;
    let mut seen_pids = std::collections::HashSet::new();
    let mut rng = Instant::now().elapsed().subsec_nanos() as u64 | 1;
    let mut next_random = move |bound: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % bound
    };
    let tasks_per_kill = 40;
    let total = (kills * tasks_per_kill) as u64;
    let handles: Vec<_> = (0..total).map(|i| pool.submit(storm_task, i)).collect();
    let started = Instant::now();
    let mut done_kills = 0;
    while done_kills < kills && started.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_micros(next_random(3000)));
        let pids = pool.worker_pids();
        if pids.is_empty() {
            continue; // both slots are between a death and a replacement
        }
        let victim = pids[next_random(pids.len() as u64) as usize];
        seen_pids.insert(victim);
        if common::demo::sys::send_signal(victim, libc::SIGKILL).is_ok() {
            done_kills += 1;
        }
    }
    let (mut values, mut died) = (0, 0);
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.wait() {
            Ok(v) => {
                check(v == i as u64, "a task's own value")?;
                values += 1;
            }
            Err(Error::WorkerDied { cause, .. }) => {
                check(cause == Exit::Signal(9), "deaths are the storm's")?;
                died += 1;
            }
            Err(e) => return Err(format!("task {i}: unexpected {e}").into()),
        }
    }
    let log_text = std::fs::read_to_string(&log)?;
    let mut starts = vec![0u32; total as usize];
    for line in log_text.lines() {
        starts[line.parse::<usize>()?] += 1;
    }
    let twice = starts.iter().filter(|&&n| n > 1).count();
    println!("   kill storm: {done_kills} kills, {total} tasks: {values} values, {died} worker-died, {twice} ran twice");
    check(done_kills == kills, "every planned kill landed")?;
    check(
        values + died == total as usize,
        "every task ended exactly once",
    )?;
    check(twice == 0, "no task ran twice")?;
    let survivors = pool.worker_pids();
    drop(pool);
    let all: Vec<u32> = seen_pids.into_iter().chain(survivors).collect();
    check(
        all.iter()
            .all(|&p| common::testing::process_state(p).is_none()),
        "no worker left, not even a zombie",
    )
}

/// After short batches a supervisor prefetches several at once; it must still leave a fair
/// share of the queue to the other workers, or long batches that follow run one after another
/// on a single worker (seen once: all 8 batches on worker 1, the other idle).
pub(crate) fn long_batches_after_short_ones_are_shared() -> harness::Result {
    let pool = ProcessPool::builder()
        .workers(2)
        .record_timeline(true)
        .build()?;
    pool.map(|x: u64| x + 1, 0..20_000)?; // short batches: the prefetch window opens
    let before = pool.timeline().len();
    let nap = |ms: u64| std::thread::sleep(Duration::from_millis(ms));
    pool.map_chunked(nap, vec![20u64; 16], Chunk::Size(2))?;
    let spans = pool.timeline();
    let per_worker: Vec<usize> = (0..2)
        .map(|w| spans[before..].iter().filter(|s| s.worker == w).count())
        .collect();
    check(
        per_worker.iter().all(|&n| n >= 2),
        &format!("both workers run some of the 8 long batches (got {per_worker:?})"),
    )
}
