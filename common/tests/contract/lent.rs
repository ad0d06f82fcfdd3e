//! A task submitted to an idle process pool goes straight to an idle worker, and its `wait`
//! reads the answer (see `src/process_pool/lend.rs`). Every other way of taking the result, and
//! every fault, must still end the same as through the supervisor.

use crate::harness::{self, check};
use common::{as_completed, Error, Exit, Pool, ProcessPool};
use std::time::{Duration, Instant};

fn nap(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

fn die(signal: i32) -> u32 {
    let _ = common::demo::sys::send_signal(std::process::id(), signal);
    std::thread::sleep(Duration::from_secs(10));
    0
}

/// Polls `future` to its end with a waker that does nothing (the test has no executor).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Noop;
    impl Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    let waker = Waker::from(std::sync::Arc::new(Noop));
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(&waker);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("a future was not ready within 20 s");
}

/// Each way to take a lent task's result gets it: `wait`, `wait_timeout` (timing out first),
/// `await`, `is_finished`, `as_completed`; and a dropped handle holds nothing up.
pub(crate) fn lent_tasks_answer_every_way() -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let workers = pool.worker_pids();
    let by_worker = |r: Result<u32, Error>| matches!(r, Ok(pid) if workers.contains(&pid));
    let from_worker = |r: &Result<u32, Error>| matches!(r, Ok(pid) if workers.contains(pid));
    check(by_worker(pool.submit(nap, 0).wait()), "wait")?;
    let mut slow = pool.submit(nap, 300);
    check(
        slow.wait_timeout(Duration::from_millis(20))
            == Err(Error::Timeout(Duration::from_millis(20))),
        "a short wait_timeout times out, naming its limit",
    )?;
    check(
        by_worker(slow.wait_timeout(Duration::from_secs(20))),
        "then the result comes",
    )?;
    check(by_worker(block_on(pool.submit(nap, 50))), "await")?;
    let checked = pool.submit(nap, 50);
    let finished = common::testing::eventually(Duration::from_secs(20), || checked.is_finished());
    check(
        finished && by_worker(checked.wait()),
        "is_finished, then wait",
    )?;
    let first = as_completed(vec![pool.submit(nap, 50)]).next();
    check(
        matches!(&first, Some((0, r)) if from_worker(r)),
        "as_completed",
    )?;
    drop(pool.submit(nap, 50));
    check(
        by_worker(pool.submit(nap, 0).wait()),
        "the pool goes on after a dropped handle",
    )?;
    let started = Instant::now();
    drop(pool);
    check(
        started.elapsed() < Duration::from_secs(5),
        "and drops at once",
    )
}

/// A lent task whose worker dies while its caller reads gets `WorkerDied` with the cause; the
/// worker is replaced, and the pool runs the next task.
pub(crate) fn lent_task_whose_worker_dies() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let before = pool.worker_pids();
    let outcome = pool.submit(die, libc::SIGKILL).wait();
    let expected = Err(Error::WorkerDied {
        pid: before[0],
        cause: Exit::Signal(libc::SIGKILL),
        attempts: 1,
    });
    check(
        outcome == expected,
        &format!("the task fails with its worker's death: {outcome:?}"),
    )?;
    let next = pool.submit(nap, 0).wait();
    check(
        matches!(next, Ok(pid) if pid != before[0]),
        "a replacement runs the next task",
    )
}

/// `terminate` while a caller reads a lent task: the caller gets `Cancelled` at once.
pub(crate) fn terminate_while_a_caller_reads() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let handle = pool.submit(nap, 10_000);
    let waiter = std::thread::spawn(move || handle.wait());
    std::thread::sleep(Duration::from_millis(200)); // the waiter is reading by now
    let started = Instant::now();
    pool.terminate();
    let outcome = waiter.join().map_err(|_| "the waiter panicked")?;
    check(
        outcome == Err(Error::Cancelled),
        &format!("Cancelled: {outcome:?}"),
    )?;
    check(
        started.elapsed() < Duration::from_secs(3),
        "within moments, not the task's 10 s",
    )
}

/// Lent tasks count toward `max_tasks_per_worker` exactly: one at a time on one worker with a
/// limit of 3, nine tasks run on three workers, three each.
pub(crate) fn lent_tasks_count_toward_max_tasks() -> harness::Result {
    let pool = ProcessPool::builder()
        .workers(1)
        .max_tasks_per_worker(3)
        .build()?;
    let mut pids = Vec::new();
    for _ in 0..9 {
        pids.push(pool.submit(nap, 0).wait()?); // the pool is idle each time: lent
    }
    let runs: Vec<usize> = pids.chunk_by(|a, b| a == b).map(<[u32]>::len).collect();
    check(
        runs == [3, 3, 3],
        &format!("three tasks per worker, in turn: {pids:?}"),
    )
}

/// An argument too large to lend, or one whose `Serialize` fails, takes the queued path as it
/// did before lending (`src/process_pool/lend/frame.rs`), and the line stays free to lend.
pub(crate) fn unlendable_arguments_take_the_queued_path() -> harness::Result {
    #[derive(serde::Deserialize)]
    struct Refuses;
    impl serde::Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refusing to encode"))
        }
    }
    fn length(s: String) -> usize {
        s.len()
    }
    let pool = ProcessPool::new(1)?;
    let large = pool.submit(length, "x".repeat(1 << 20)).wait();
    check(
        large == Ok(1 << 20),
        &format!("a 1 MiB argument: {large:?}"),
    )?;
    let refused = pool.submit(|_: Refuses| 0u8, Refuses).wait();
    check(
        matches!(&refused, Err(Error::Serde(why)) if why.contains("refusing to encode")),
        &format!("the encoding error, as before: {refused:?}"),
    )?;
    let workers = pool.worker_pids();
    let next = pool.submit(nap, 0).wait();
    check(
        matches!(next, Ok(pid) if workers.contains(&pid)),
        &format!("the next task runs on the same worker: {next:?}"),
    )
}

/// `wait_timeout(1 ms)` on a lent task running 2 s times out, naming its limit, and never
/// before the limit; the task then answers. (How close to the limit it returns is a timing,
/// measured by the compare bench's transport rows, not asserted here: on a loaded machine
/// the scheduler can stretch any wait. Measured on the 2-core machine at load 2.5, 450 tries:
/// with the socket's read timeout never under 4.06 ms, median 6.9 ms; with `ppoll`, median
/// 1.1 ms.)
pub(crate) fn a_lent_wait_timeout_ends_within_a_tick() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let limit = Duration::from_millis(1);
    for _ in 0..3 {
        let mut handle = pool.submit(nap, 2_000); // the pool is idle each time: lent
        let started = Instant::now();
        let outcome = handle.wait_timeout(limit);
        let waited = started.elapsed();
        check(
            outcome == Err(Error::Timeout(limit)),
            &format!("Timeout: {outcome:?}"),
        )?;
        check(
            waited >= limit,
            &format!("not before the limit: {waited:?}"),
        )?;
        handle.wait()?;
    }
    Ok(())
}
