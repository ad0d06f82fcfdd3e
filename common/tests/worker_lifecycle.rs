//! A process worker's life: an initializer runs once in every worker (replacements too), and
//! `max_tasks_per_worker` retires workers without losing a task. And a pool thread's: user code
//! that panics on it never ends it (`lifecycle/user_panics.rs`).

use common::{Error, Pool, ProcessPool, ThreadPool};
use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

mod harness;
mod lifecycle;
use harness::{check, Test};
use lifecycle::user_panics::{
    a_large_argument_that_panics, a_result_drop_that_panics,
    a_result_drop_that_panics_in_the_worker, a_thread_initializer_that_panics,
    an_argument_drop_that_panics,
};

/// Where the initializer logs the pid of each worker it runs in (`O_APPEND`: whole lines).
const INIT_LOG: &str = "LIFECYCLE_INIT_LOG";

fn main() {
    common::init();
    harness::run(&[
        Test("initializer_runs_once_per_worker", initializer_once),
        Test("a_panicking_initializer_fails_new", panicking_initializer),
        Test("max_tasks_per_worker_recycles", recycles),
        Test("a_result_drop_that_panics_on_threads", || {
            a_result_drop_that_panics(&ThreadPool::new(1)?)
        }),
        Test(
            "a_result_drop_that_panics_in_the_worker",
            a_result_drop_that_panics_in_the_worker,
        ),
        Test("a_result_drop_that_panics_on_processes", || {
            a_result_drop_that_panics(&ProcessPool::new(1)?)
        }),
        Test(
            "an_argument_drop_that_panics_on_threads",
            an_argument_drop_that_panics,
        ),
        Test(
            "a_large_argument_that_panics_on_processes",
            a_large_argument_that_panics,
        ),
        Test(
            "a_thread_initializer_that_panics",
            a_thread_initializer_that_panics,
        ),
    ]);
}

fn log_init() {
    let path = std::env::var(INIT_LOG).expect("the pool sets the log's path");
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("log opens");
    // One write per line: `writeln!` may split a line into several writes, and lines of
    // processes writing at the same moment would then interleave.
    log.write_all(format!("{}\n", std::process::id()).as_bytes())
        .expect("the log takes a line");
}

fn pid(_: u32) -> u32 {
    std::process::id()
}

fn logged(path: &std::path::Path) -> Vec<u32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("lifecycle-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn initializer_once() -> harness::Result {
    let log = scratch("init.log");
    let pool = ProcessPool::builder()
        .workers(2)
        .initializer(log_init)
        .env(INIT_LOG, &log)
        .build()?;
    let first: HashSet<u32> = pool.worker_pids().into_iter().collect();
    check(
        logged(&log).into_iter().collect::<HashSet<_>>() == first,
        "each worker ran it before the pool was ready",
    )?;
    // A replacement runs it too.
    let victim = pool.worker_pids()[0];
    common::demo::sys::send_signal(victim, libc::SIGKILL)?;
    check(
        common::testing::eventually(Duration::from_secs(5), || {
            pool.worker_pids().len() == 2 && !pool.worker_pids().contains(&victim)
        }),
        "the killed worker is replaced",
    )?;
    let ran: HashSet<u32> = pool.map(pid, 0..200)?.into_iter().collect();
    let runs = logged(&log);
    let distinct: HashSet<u32> = runs.iter().copied().collect();
    check(
        runs.len() == distinct.len(),
        &format!("once per worker, never twice: {runs:?}"),
    )?;
    check(runs.len() == 3, "two workers and one replacement")?;
    check(
        ran.is_subset(&distinct),
        "every worker that ran a task ran the initializer",
    )?;
    let _ = std::fs::remove_file(&log);
    Ok(())
}

fn boom() {
    panic!("no database today");
}

fn panicking_initializer() -> harness::Result {
    let err = ProcessPool::builder()
        .workers(1)
        .initializer(boom)
        .build()
        .err()
        .ok_or("the pool should not start")?;
    // The same kind as a thread pool's, with the panic's message and place (issue 26).
    check(
        matches!(&err, Error::InitializerPanicked { message, location: Some(at) }
            if message == "no database today" && at.contains("worker_lifecycle.rs")),
        &format!("the error names the panic and its place: {err:?}"),
    )
}

fn recycles() -> harness::Result {
    let zero = ProcessPool::builder().max_tasks_per_worker(0).build().err();
    check(
        zero == Some(Error::ZeroTasksPerWorker),
        &format!("zero tasks per worker is a configuration error, not Spawn: {zero:?}"),
    )?;
    let pool = ProcessPool::builder()
        .workers(2)
        .max_tasks_per_worker(3)
        .build()?;
    let handles: Vec<_> = (0..30u32).map(|i| pool.submit(pid, i)).collect();
    let mut pids = Vec::new();
    for handle in handles {
        pids.push(handle.wait()?); // no task lost: every handle answers with a value
    }
    let distinct: HashSet<u32> = pids.iter().copied().collect();
    check(
        distinct.len() >= 10,
        &format!("30 tasks, 3 per worker: {} workers", distinct.len()),
    )?;
    for p in &distinct {
        let n = pids.iter().filter(|&q| q == p).count();
        check(n <= 3, &format!("worker {p} ran {n} tasks"))?;
    }
    // map with one item per batch follows the same count.
    let mapped = pool.map_chunked(pid, 0..12u32, common::Chunk::Size(1))?;
    check(
        mapped.iter().collect::<HashSet<_>>().len() >= 4,
        "map recycles too",
    )
}
