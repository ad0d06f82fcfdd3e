//! A per-thread initializer, and handles of both pools awaited together.

use super::files::{run_job, Files};
use crate::harness::{self, check};
use crate::{processes, threads};
use common::{Chunk, Error, Pool, ThreadPool};
use std::time::Duration;

/// The thread pool's initializer runs exactly once in each worker thread, before its first
/// task; a panicking initializer makes `build` fail with the panic.
pub(crate) fn thread_initializer_runs_once_per_thread() -> harness::Result {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static RUNS_HERE: Cell<u32> = const { Cell::new(0) });
    fn init() {
        RUNS.fetch_add(1, SeqCst);
        RUNS_HERE.set(RUNS_HERE.get() + 1);
    }
    /// Which thread ran the task, and how often the initializer ran there.
    fn who(_: u32) -> (String, u32) {
        std::thread::sleep(Duration::from_millis(1));
        let name = std::thread::current().name().unwrap_or("?").to_string();
        (name, RUNS_HERE.get())
    }

    let workers = 3;
    let pool = ThreadPool::builder()
        .workers(workers)
        .initializer(init)
        .build()?;
    check(
        RUNS.load(SeqCst) == workers,
        "build returns after every thread ran it",
    )?;
    let seen = pool.map_chunked(who, 0..60, Chunk::Size(1))?;
    check(
        seen.iter().all(|(_, runs)| *runs == 1),
        "each task's thread ran the initializer exactly once",
    )?;
    let mut names: Vec<&String> = seen.iter().map(|(name, _)| name).collect();
    names.sort();
    names.dedup();
    check(names.len() <= workers, "only the pool's threads ran tasks")?;
    drop(pool);
    check(RUNS.load(SeqCst) == workers, "and never again")?;

    let failed = ThreadPool::builder()
        .workers(2)
        .initializer(|| panic!("no database"))
        .build();
    check(
        matches!(&failed, Err(Error::InitializerPanicked { message, .. }) if message == "no database"),
        &format!("a panicking initializer fails build: {:?}", failed.err()),
    )
}

/// A thread-pool task and a process-pool task awaited together on one thread: awaiting never
/// blocks the executor, or the second future could not release the first task in time.
pub(crate) fn handles_on_both_pools_awaited_together() -> harness::Result {
    let (threads, processes) = (threads()?, processes()?);
    let files = Files::new("future", "both");
    let held = threads.submit(run_job, files.task("held", true));
    let quick = processes.submit(|x: u32| (x, std::process::id()), 7);
    let (held, quick) = futures::executor::block_on(async {
        futures::join!(held, async {
            let answer = quick.await;
            // Runs only if awaiting `held` left the executor free: it is what releases `held`.
            files.release().expect("the release file is written");
            answer
        })
    });
    check(
        held == Ok(("held".to_string(), true)),
        &format!("the thread task was released while awaited: {held:?}"),
    )?;
    check(
        matches!(quick, Ok((7, pid)) if pid != std::process::id()),
        "the process task ran in a worker",
    )
}
