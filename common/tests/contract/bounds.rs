//! Every timed wait is a bound, on every path, and a finished task is finished at once.
//!
//! The paths that broke these (issue 19): a lent task's answer that stalls half-way (its
//! `Serialize` sleeps after 64 KiB, or the worker is stopped with `SIGSTOP`), a limit of
//! `Duration::MAX`, and a lent task that nobody has read yet, asked `is_finished`.

use crate::harness::{self, check};
use common::demo::sys::send_signal;
use common::{as_completed, Error, Pool, ProcessPool, ThreadPool};
use serde::{Serialize, Serializer};
use serde_bytes::ByteBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// How much later than its limit a timed wait may return on a loaded 2-core machine. The
/// stalls below last seconds, so a wait that is not a bound overruns by far more.
const SLACK: Duration = Duration::from_millis(400);

/// How long the stalled answer sleeps half-way.
const STALL: Duration = Duration::from_millis(2_000);

/// A result whose `Serialize` writes 512 KiB, then pauses, then writes 512 KiB more: the
/// pool's reader has half an answer and must not wait for the rest past its limit. It pauses
/// by sleeping [`STALL`], or (`STOP`) by stopping its own process with `SIGSTOP` until the test
/// continues it; only on the pass that writes onto the line (the worker measures a large
/// result once before it writes it).
struct HalfWay<const STOP: bool>;

/// How many times this process has reached the middle of a [`HalfWay`].
static MIDDLES: AtomicUsize = AtomicUsize::new(0);

impl<const STOP: bool> Serialize for HalfWay<STOP> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let chunk = ByteBuf::from(vec![7u8; 64 * 1024]);
        let mut seq = s.serialize_seq(Some(16))?;
        for i in 0..16 {
            if i == 8 {
                match (STOP, MIDDLES.fetch_add(1, Relaxed)) {
                    (false, _) => std::thread::sleep(STALL),
                    (true, 0) => {} // the measuring pass
                    (true, _) => {
                        let _ = send_signal(std::process::id(), libc::SIGSTOP);
                    }
                }
            }
            seq.serialize_element(&chunk)?;
        }
        seq.end()
    }
}

/// On the pool's side: the answer, checked whole.
impl<'de, const STOP: bool> serde::Deserialize<'de> for HalfWay<STOP> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let chunks = Vec::<ByteBuf>::deserialize(d)?;
        let whole = chunks.len() == 16 && chunks.iter().all(|c| c.len() == 64 * 1024);
        whole
            .then_some(HalfWay)
            .ok_or_else(|| serde::de::Error::custom("a torn answer"))
    }
}

fn stalls(_: ()) -> HalfWay<false> {
    HalfWay
}

fn stops(_: ()) -> HalfWay<true> {
    HalfWay
}

/// Calls `wait_timeout(limit)` until the result comes (at most 20 s), and returns it with the
/// longest single call and how many calls timed out.
fn wait_in_steps<R>(
    handle: &mut common::TaskHandle<R>,
    limit: Duration,
) -> (Result<R, Error>, Duration, usize) {
    let (mut longest, mut timeouts) = (Duration::ZERO, 0);
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let started = Instant::now();
        let outcome = handle.wait_timeout(limit);
        longest = longest.max(started.elapsed());
        match outcome {
            Err(Error::Timeout(_)) if Instant::now() < give_up => timeouts += 1,
            outcome => return (outcome, longest, timeouts),
        }
    }
}

/// An answer that stalls half-way: each `wait_timeout(50 ms)` returns within its limit, and the
/// answer, read in parts by several calls, arrives whole.
pub(crate) fn a_stalled_answer_bounds_every_wait() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let mut handle = pool.submit(stalls, ()); // the pool is idle: lent to the worker
    let limit = Duration::from_millis(50);
    let (outcome, longest, timeouts) = wait_in_steps(&mut handle, limit);
    check(
        outcome.is_ok(),
        &format!("the answer, whole: {:?}", outcome.err()),
    )?;
    check(
        timeouts >= 20,
        &format!("the stall was waited through: {timeouts} timeouts"),
    )?;
    check(
        longest <= limit + SLACK,
        &format!("no call past its limit: the longest took {longest:?}"),
    )
}

/// A worker stopped (`SIGSTOP`) in the middle of its answer: `wait_timeout` still returns
/// within its limit; continued, the answer read in parts arrives whole.
pub(crate) fn a_stopped_worker_bounds_every_wait() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let pid = pool.worker_pids()[0];
    let mut handle = pool.submit(stops, ()); // the pool is idle: lent to the worker
                                             // A bound on the test itself: without the fix, the first wait would block until this.
    let (done, finished) = crossbeam_channel::bounded::<()>(1);
    let watchdog = std::thread::spawn(move || {
        let _ = finished.recv_timeout(Duration::from_secs(5));
        let _ = send_signal(pid, libc::SIGCONT);
    });
    let limit = Duration::from_millis(50);
    let mut longest = Duration::ZERO;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        let call = Instant::now();
        let outcome = handle.wait_timeout(limit);
        longest = longest.max(call.elapsed());
        check(outcome.is_err(), "a stopped worker's task is not answered")?;
    }
    let state = common::demo::procfs::process_state(pid);
    send_signal(pid, libc::SIGCONT)?;
    let outcome = handle.wait_timeout(Duration::from_secs(20));
    check(
        state == Some('T'),
        &format!("the worker was stopped: {state:?}"),
    )?;
    check(
        longest <= limit + SLACK,
        &format!("no call past its limit: the longest took {longest:?}"),
    )?;
    check(
        outcome.is_ok(),
        &format!("then the answer, whole: {:?}", outcome.err()),
    )?;
    drop(done);
    let _ = watchdog.join();
    Ok(())
}

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// `Duration::MAX` is no limit, on both pools: no overflow panic, the result comes.
pub(crate) fn duration_max_is_no_limit() -> harness::Result {
    let forever = Duration::MAX;
    duration_max_on(&ThreadPool::new(2)?, forever)?;
    duration_max_on(&ProcessPool::new(2)?, forever)
}

fn duration_max_on<P: Pool>(pool: &P, forever: Duration) -> harness::Result {
    let kind = pool.kind();
    let mut handle = pool.submit(nap, 5);
    check(
        handle.wait_timeout(forever) == Ok(5),
        &format!("{kind}: wait_timeout"),
    )?;
    check(
        pool.map_timeout(nap, vec![1, 2], forever) == Ok(vec![1, 2]),
        &format!("{kind}: map_timeout"),
    )?;
    let mut all = as_completed(vec![pool.submit(nap, 1)]);
    check(
        all.next_timeout(forever) == Ok(Some((0, Ok(1)))),
        &format!("{kind}: next_timeout"),
    )?;
    let mut bounded = as_completed(vec![pool.submit(nap, 1)]).with_timeout(forever);
    check(
        bounded.next() == Some((0, Ok(1))),
        &format!("{kind}: with_timeout"),
    )
}

/// A 1 ms task, asked 100 ms after it ended, is finished: 50 times in a row, on both pools,
/// with no wait before (a lent task's answer is in, though nobody has read it yet). "Ended" is
/// the task's own word, a file it writes as its last act: on a loaded machine a task may not
/// even have started 100 ms after its submission, and that is not what this checks.
pub(crate) fn is_finished_right_after_the_task() -> harness::Result {
    is_finished_on(&ThreadPool::new(2)?)?;
    is_finished_on(&ProcessPool::new(2)?)
}

/// Sleeps 1 ms, then writes the file `done` (its last act), and returns 1.
fn nap_then_say(done: String) -> u64 {
    std::thread::sleep(Duration::from_millis(1));
    let _ = std::fs::write(done, b"");
    1
}

fn is_finished_on<P: Pool>(pool: &P) -> harness::Result {
    let dir = std::env::temp_dir().join(format!("bounds-{}-{}", std::process::id(), pool.kind()));
    std::fs::create_dir_all(&dir)?;
    let outcome = (|| {
        for round in 0..50 {
            let done = dir.join(round.to_string());
            let handle = pool.submit(nap_then_say, done.display().to_string());
            let ended = common::testing::eventually(Duration::from_secs(10), || done.exists());
            check(
                ended,
                &format!("{}: round {round}: the task ran", pool.kind()),
            )?;
            std::thread::sleep(Duration::from_millis(100));
            check(
                handle.is_finished(),
                &format!(
                    "{}: round {round}: finished 100 ms after the task",
                    pool.kind()
                ),
            )?;
            check(handle.wait() == Ok(1), "and its result is there")?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}
