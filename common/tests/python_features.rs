//! What Python users reach for, checked on both pools: `map_iter` (imap), `is_finished`
//! (done), `cancel`, `as_completed` (and `wait`), `map_timeout`, the initializer, and a task
//! handle awaited as a `Future`.
//!
//! Own `main` (harness = false), because `ProcessPool` workers re-enter this binary and
//! `common::init()` must run first. One generic body per behaviour runs on both pools. Tasks
//! that must wait for the test wait for a file to appear (a file reaches a worker process too),
//! always with a bound, so a failing test cannot hang. Which tasks ran is read from an
//! `O_APPEND` log each task writes its tag to when it starts. Run one test with
//! `cargo test -p common --test python_features -- <name-filter>`.

use common::{as_completed, Chunk, Error, Pool, ProcessPool, ThreadPool};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod harness;
use harness::{check, Test};

/// Workers in every pool of these tests.
const WORKERS: usize = 2;

fn main() {
    common::init(); // a worker process serves its pool from here and never returns
    harness::run(&[
        Test("map_iter_on_threads", || swept(|| map_iter(&threads()?))),
        Test("map_iter_on_processes", || {
            swept(|| map_iter(&processes()?))
        }),
        Test("is_finished_on_threads", || {
            swept(|| is_finished(&threads()?))
        }),
        Test("is_finished_on_processes", || {
            swept(|| is_finished(&processes()?))
        }),
        Test("cancel_on_threads", || swept(|| cancel(&threads()?))),
        Test("cancel_on_processes", || swept(|| cancel(&processes()?))),
        Test("as_completed_on_threads", || {
            swept(|| as_completed_all(&threads()?))
        }),
        Test("as_completed_on_processes", || {
            swept(|| as_completed_all(&processes()?))
        }),
        Test("map_timeout_on_threads", || {
            swept(|| map_timeout(&threads()?))
        }),
        Test("map_timeout_on_processes", || {
            swept(|| map_timeout(&processes()?))
        }),
        Test("thread_initializer_runs_once_per_thread", || {
            swept(thread_initializer_runs_once_per_thread)
        }),
        Test("handles_on_both_pools_awaited_together", || {
            swept(handles_on_both_pools_awaited_together)
        }),
    ]);
}

fn threads() -> Result<ThreadPool, Error> {
    ThreadPool::new(WORKERS)
}

fn processes() -> Result<ProcessPool, Error> {
    ProcessPool::new(WORKERS)
}

/// Runs one test, then removes every file this process's tests made. The test's pools are
/// gone by then (they live inside `body`), so no task can write a file after the sweep: a
/// failing test, or a cancelled task that a pool still ran, leaves nothing behind.
fn swept(body: impl FnOnce() -> harness::Result) -> harness::Result {
    let result = body();
    let prefix = format!("python_features-{}-", std::process::id());
    for entry in std::fs::read_dir(std::env::temp_dir())?.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    result
}

// ---- Files the tasks and the test share -------------------------------------------------

/// A release file and a start log, unique to one test on one pool; removed on drop.
struct Files {
    release: PathBuf,
    log: PathBuf,
}

impl Files {
    fn new(test: &str, kind: &str) -> Files {
        let base = format!("python_features-{}-{test}-{kind}", std::process::id());
        let dir = std::env::temp_dir();
        let files = Files {
            release: dir.join(format!("{base}.release")),
            log: dir.join(format!("{base}.log")),
        };
        files.remove();
        files
    }

    fn remove(&self) {
        let _ = std::fs::remove_file(&self.release);
        let _ = std::fs::remove_file(&self.log);
    }

    /// Lets every task waiting in `held` go on.
    fn release(&self) -> harness::Result {
        std::fs::write(&self.release, b"go")?;
        Ok(())
    }

    /// The tags logged so far, in the order the tasks started.
    fn started(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Waits (at most 20 s) until `n` tasks have logged their start.
    fn wait_started(&self, n: usize) -> harness::Result {
        for _ in 0..20_000 {
            if self.started().len() >= n {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        check(false, &format!("{n} tasks started within 20 s"))
    }

    /// What a task needs to know: where to log, where to look for the release, its tag, and
    /// whether it waits for the release.
    fn task(&self, tag: &str, holds: bool) -> Job {
        Job {
            log: self.log.to_string_lossy().into_owned(),
            release: self.release.to_string_lossy().into_owned(),
            tag: tag.to_string(),
            holds,
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        self.remove();
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Job {
    log: String,
    release: String,
    tag: String,
    holds: bool,
}

/// The one task of these tests: logs its start with a single `O_APPEND` write (so concurrent
/// starts never tear or overwrite), then, if it `holds`, waits for the release file (at most
/// 20 s); otherwise it works for 2 ms, long enough that a process pool never sends it ahead to a
/// busy worker. Returns `(tag, released)`: `released` is false only if a held task gave up.
///
/// Why "long enough" matters: once a process pool has seen short batches it sends several at
/// once to each worker, and a batch already sent cannot be cancelled. So each test runs its
/// held tasks first, on a fresh pool, and its many short tasks last.
fn run_job(job: Job) -> (String, bool) {
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&job.log)
        .expect("the test's log opens");
    log.write_all(format!("{}\n", job.tag).as_bytes())
        .expect("the start is logged");
    let released = if job.holds {
        wait_for(Path::new(&job.release))
    } else {
        std::thread::sleep(Duration::from_millis(2));
        true
    };
    (job.tag, released)
}

/// Waits (at most 20 s) for `path` to exist; whether it did.
fn wait_for(path: &Path) -> bool {
    for _ in 0..20_000 {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

// ---- The behaviours ----------------------------------------------------------------------

/// `map_iter` yields in item order, and lazily: the first result comes out while the last
/// task is still waiting for a release that the test gives only after seeing it.
fn map_iter<P: Pool>(pool: &P) -> harness::Result {
    // First, on the fresh pool: tasks that hold a worker (see `run_job`).
    let files = Files::new("map_iter", pool.kind());
    let jobs = (0..3).map(|i| files.task(&format!("item{i}"), i == 2));
    let mut results = pool.map_iter_chunked(run_job, jobs, Chunk::Size(1))?;
    check(
        results.next() == Some(Ok(("item0".to_string(), true))),
        "the first result comes first",
    )?;
    // Only now may the last item finish: had map_iter waited for every item before yielding
    // the first, the last would have given up waiting (`false`).
    files.release()?;
    let rest: Vec<_> = results.collect();
    check(
        rest == vec![
            Ok(("item1".to_string(), true)),
            Ok(("item2".to_string(), true)),
        ],
        &format!("the rest follow in order, the last released by the test: {rest:?}"),
    )?;

    // Then many short ones.
    let tripled: Result<Vec<u64>, Error> = pool.map_iter(|x: u64| x * 3, 0..500).collect();
    check(
        tripled? == (0..500).map(|x| x * 3).collect::<Vec<_>>(),
        "map_iter keeps item order",
    )?;
    for chunk in [Chunk::Size(1), Chunk::Size(7), Chunk::Size(1000)] {
        let lengths: Result<Vec<usize>, Error> = pool
            .map_iter_chunked(|s: String| s.len(), (0..50).map(|i| "y".repeat(i)), chunk)?
            .collect();
        check(
            lengths? == (0..50).collect::<Vec<_>>(),
            &format!("map_iter_chunked keeps item order with {chunk:?}"),
        )?;
    }
    check(
        pool.map_iter_chunked(|x: u8| x, 0..3, Chunk::Size(0)).err() == Some(Error::ZeroChunk),
        "a chunk of zero is refused",
    )
}

/// `is_finished` is false while the task waits for the test, true once it is answered.
fn is_finished<P: Pool>(pool: &P) -> harness::Result {
    let files = Files::new("is_finished", pool.kind());
    let handle = pool.submit(run_job, files.task("held", true));
    files.wait_started(1)?;
    check(!handle.is_finished(), "a held task is not finished")?;
    files.release()?;
    for _ in 0..20_000 {
        if handle.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    check(handle.is_finished(), "a released task finishes within 20 s")?;
    check(
        handle.wait() == Ok(("held".to_string(), true)),
        "and its result is there",
    )
}

/// `cancel` of a task queued behind busy workers: it returns true, the waiter gets
/// `Cancelled`, and (where the pool honours it) the task never starts.
fn cancel<P: Pool>(pool: &P) -> harness::Result {
    let files = Files::new("cancel", pool.kind());
    // Every worker takes one task that waits for the release; the rest queue behind them.
    let busy: Vec<_> = (0..WORKERS)
        .map(|i| pool.submit(run_job, files.task(&format!("busy{i}"), true)))
        .collect();
    files.wait_started(WORKERS)?;
    let queued: Vec<_> = (0..4)
        .map(|i| pool.submit(run_job, files.task(&format!("queued{i}"), false)))
        .collect();
    check(queued[0].cancel(), "a queued task can be cancelled")?;
    check(queued[2].cancel(), "another one too")?;
    check(
        !queued[2].cancel(),
        "cancelling twice says it was not cancelled now",
    )?;
    check(
        queued[0].is_finished(),
        "a cancelled task counts as finished",
    )?;
    if pool.kind() == "thread" {
        check(
            !busy[0].cancel(),
            "a running thread task cannot be cancelled",
        )?;
    }
    files.release()?;
    let mut answers = Vec::new();
    for handle in busy.into_iter().chain(queued) {
        answers.push(handle.wait());
    }
    let ok = |tag: &str| Ok((tag.to_string(), true));
    let expected = vec![
        ok("busy0"),
        ok("busy1"),
        Err(Error::Cancelled),
        ok("queued1"),
        Err(Error::Cancelled),
        ok("queued3"),
    ];
    check(answers == expected, &format!("answers: {answers:?}"))?;
    let done = pool.submit(|x: u8| x, 7);
    check(done.wait() == Ok(7), "the pool goes on")?;
    let started = files.started();
    for tag in ["queued0", "queued2"] {
        check(
            !started.iter().any(|s| s == tag),
            &format!("cancelled {tag} never started (started: {started:?})"),
        )?;
    }
    check(
        started.iter().any(|s| s == "queued1") && started.iter().any(|s| s == "queued3"),
        "the tasks not cancelled ran",
    )
}

/// `as_completed` yields every handle exactly once with its own result; its bounds hold.
fn as_completed_all<P: Pool>(pool: &P) -> harness::Result {
    // A deadline for the whole iteration (Python's `as_completed(fs, timeout)`): the held task
    // cannot finish before the test releases it, so it comes out as a timeout, once.
    let files = Files::new("as_completed", pool.kind());
    // Generous, so that the quick task is in long before it even on a loaded machine.
    let limit = Duration::from_secs(2);
    let handles = vec![
        pool.submit(run_job, files.task("held", true)),
        pool.submit(run_job, files.task("quick", false)),
    ];
    let all: Vec<_> = as_completed(handles).with_timeout(limit).collect();
    check(
        all == vec![
            (1, Ok(("quick".to_string(), true))),
            (0, Err(Error::Timeout(limit))),
        ],
        &format!("the quick one, then the held one timed out: {all:?}"),
    )?;
    files.release()?;

    // `next_timeout` (Python's `wait(FIRST_COMPLETED, timeout)`): nothing lost on a timeout.
    let files = Files::new("wait_first", pool.kind());
    let handles = vec![
        pool.submit(run_job, files.task("held0", true)),
        pool.submit(run_job, files.task("held1", true)),
    ];
    let mut first = as_completed(handles);
    let short = Duration::from_millis(20);
    check(
        first.next_timeout(short) == Err(Error::Timeout(short)),
        "nothing finished before the release",
    )?;
    check(first.remaining() == 2, "nothing was lost")?;
    files.release()?;
    let long = Duration::from_secs(20);
    let Ok(Some((one, Ok(_)))) = first.next_timeout(long) else {
        return check(false, "one finished after the release");
    };
    let pending = first.into_pending();
    check(
        pending.len() == 1 && pending[0].0 == 1 - one,
        "into_pending gives back the other handle",
    )?;
    let (index, handle) = pending.into_iter().next().expect("checked above");
    check(
        handle.wait() == Ok((format!("held{index}"), true)),
        "and it can still be waited on",
    )?;

    // Last, many short tasks (see `run_job` on why they come last).
    let handles: Vec<_> = (0..20u64).map(|x| pool.submit(|x: u64| x * x, x)).collect();
    let mut seen: Vec<usize> = Vec::new();
    for (index, result) in as_completed(handles) {
        check(
            result == Ok(index as u64 * index as u64),
            &format!("handle {index} carries its own result"),
        )?;
        seen.push(index);
    }
    seen.sort_unstable();
    check(
        seen == (0..20).collect::<Vec<_>>(),
        "every handle exactly once",
    )
}

/// `map_timeout`: past the deadline the call returns, while the first batches still run,
/// and the batches still queued are cancelled and (where the pool honours it) never start.
fn map_timeout<P: Pool>(pool: &P) -> harness::Result {
    let files = Files::new("map_timeout", pool.kind());
    // Eight items on two workers: `Chunk::Auto` makes batches of one. The first two hold
    // both workers until the test releases them, long after the deadline.
    let jobs: Vec<Job> = (0..8)
        .map(|i| files.task(&format!("item{i}"), i < WORKERS))
        .collect();
    let limit = Duration::from_millis(200);
    let out = pool.map_timeout(run_job, jobs, limit);
    check(
        out == Err(Error::Timeout(limit)),
        &format!("the deadline passed: {out:?}"),
    )?;
    // Still held: the call did not wait for the running batches.
    check(
        files.started().len() == WORKERS,
        "only the held batches started",
    )?;
    files.release()?;
    // The pool is free again once the held batches are done; one task per worker shows it.
    let after = pool.map_chunked(|x: u8| x, 0..WORKERS as u8, Chunk::Size(1))?;
    check(after.len() == WORKERS, "the pool goes on")?;
    let started = files.started();
    check(
        started.len() == WORKERS,
        &format!("the queued batches never started: {started:?}"),
    )?;
    check(
        pool.map_timeout(|x: u32| x + 1, 0..100, Duration::from_secs(20)) == Ok((1..101).collect()),
        "a map within its deadline gives every result",
    )
}

/// The thread pool's initializer runs exactly once in each worker thread, before its first
/// task; a panicking initializer makes `build` fail with the panic.
fn thread_initializer_runs_once_per_thread() -> harness::Result {
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
        matches!(&failed, Err(Error::Panicked { message, .. }) if message == "no database"),
        &format!("a panicking initializer fails build: {:?}", failed.err()),
    )
}

/// A thread-pool task and a process-pool task awaited together on one thread: awaiting never
/// blocks the executor, or the second future could not release the first task in time.
fn handles_on_both_pools_awaited_together() -> harness::Result {
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
