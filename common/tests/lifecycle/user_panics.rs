//! Item 2 of issue 19: user code never kills a pool's thread.
//!
//! A pool's own threads (a thread pool's workers, a process pool's supervisors) run user code
//! besides the tasks: the `Drop` of a result nobody waits for any more and of an argument that
//! never ran, a large argument's `Serialize`, a result's `Deserialize`, an initializer. A panic
//! there used to end the thread while `workers()` still counted it: the next call then timed
//! out, or with `map` waited for ever. Each test makes one such panic, then checks that the
//! pool still has its workers and that a call with a 5 s deadline gets every value.

use crate::harness::{self, check};
use common::{Chunk, Error, Pool, ProcessPool, ThreadPool};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::ByteBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// Set by each test, in the test process only: a process worker runs this binary too, and
/// drops (and encodes) values of these types, but never sets it, so it never panics there.
static ARMED: AtomicBool = AtomicBool::new(false);
/// How many armed values have panicked in their `Drop` so far.
static WENT_OFF: AtomicUsize = AtomicUsize::new(0);
/// The tag of a value that panics when dropped (or encoded, for `Heavy`).
const LIVE: u32 = 13;

/// Its `Drop` panics when its tag is [`LIVE`] (in the test process).
#[derive(Serialize, Deserialize)]
pub(crate) struct Bomb(u32);

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.0 == LIVE && ARMED.load(SeqCst) {
            WENT_OFF.fetch_add(1, SeqCst);
            panic!("bomb {} went off", self.0);
        }
    }
}

/// Takes long enough (300 ms) that a 50 ms deadline passes first.
fn slow_bomb(tag: u32) -> Bomb {
    std::thread::sleep(Duration::from_millis(300));
    Bomb(tag)
}

/// The pool kept its single worker, a 5 s call gets every value, and `went_off` values
/// panicked in their `Drop` (so the test made the panic it meant to).
fn still_works<P: Pool>(pool: &P, went_off: usize) -> harness::Result {
    let next = pool.map_timeout(|x: u32| x + 1, 0..8, Duration::from_secs(5));
    check(
        next == Ok((1..9).collect()),
        &format!("the next map with a 5 s deadline gets every value: {next:?}"),
    )?;
    let mut handle = pool.submit(|x: u32| x * 2, 21);
    let single = handle.wait_timeout(Duration::from_secs(5));
    check(single == Ok(42), &format!("so does a task: {single:?}"))?;
    check(pool.workers() == 1, "the pool still has its worker")?;
    let counted =
        common::testing::eventually(Duration::from_secs(5), || WENT_OFF.load(SeqCst) == went_off);
    check(
        counted,
        &format!(
            "{went_off} values panicked in their Drop (saw {})",
            WENT_OFF.load(SeqCst)
        ),
    )
}

/// Results left behind, each dropped on a pool thread: by `map_timeout` (the map gave up at
/// its deadline), and by a handle dropped before its task finished.
pub(crate) fn a_result_drop_that_panics<P: Pool>(pool: &P) -> harness::Result {
    ARMED.store(true, SeqCst);
    let before = WENT_OFF.load(SeqCst);
    let late = pool.map_timeout(slow_bomb, [LIVE], Duration::from_millis(50));
    check(
        matches!(late, Err(Error::Timeout(_))),
        "the slow map times out",
    )?;
    drop(pool.submit(slow_bomb, LIVE));
    still_works(pool, before + 2)
}

/// Takes its argument apart, slowly for tag 0: the batches behind it wait in the queue.
fn open_slowly(bomb: Bomb) -> u32 {
    if bomb.0 == 0 {
        std::thread::sleep(Duration::from_millis(300));
    }
    let tag = bomb.0;
    std::mem::forget(bomb); // only a bomb the pool drops should go off
    tag
}

/// The argument of a batch cancelled before it ran (a dropped `MapIter`), dropped by the
/// thread pool's worker that comes by it. (A process pool encodes arguments on the caller's
/// thread and drops them there; its own case is [`a_large_argument_that_panics`].)
pub(crate) fn an_argument_drop_that_panics() -> harness::Result {
    let pool = ThreadPool::new(1)?;
    ARMED.store(true, SeqCst);
    let before = WENT_OFF.load(SeqCst);
    let items = [0, LIVE].map(Bomb);
    drop(pool.map_iter_chunked(open_slowly, items, Chunk::Size(1))?);
    still_works(&pool, before + 1)
}

/// A lone argument large enough (64 KiB) that the supervisor encodes it onto the line; its
/// second `Serialize` (the supervisor's, after the caller's counting pass) panics, and so does
/// its `Drop`, which the supervisor runs when it lets the batch go.
#[derive(Deserialize)]
pub(crate) struct Heavy {
    tag: u32,
    bytes: ByteBuf,
}

/// How many times an armed `Heavy` was encoded.
static ENCODED: AtomicUsize = AtomicUsize::new(0);

impl Serialize for Heavy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.tag == LIVE && ARMED.load(SeqCst) && ENCODED.fetch_add(1, SeqCst) == 1 {
            panic!("cannot encode twice");
        }
        (self.tag, &self.bytes).serialize(s)
    }
}

impl Drop for Heavy {
    fn drop(&mut self) {
        if self.tag == LIVE && ARMED.load(SeqCst) {
            WENT_OFF.fetch_add(1, SeqCst);
            panic!("heavy {} went off", self.tag);
        }
    }
}

fn weigh(heavy: Heavy) -> usize {
    let len = heavy.bytes.len();
    std::mem::forget(heavy);
    len
}

/// Its `Deserialize` panics for [`LIVE`].
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct Fragile(u32);

impl<'de> Deserialize<'de> for Fragile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u32::deserialize(d)? {
            LIVE => panic!("cannot decode {LIVE}"),
            n => Ok(Fragile(n)),
        }
    }
}

/// A process pool's supervisor runs a large argument's `Serialize` and `Drop`, and every
/// result's `Deserialize`: panics in each leave the pool working.
pub(crate) fn a_large_argument_that_panics() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    ARMED.store(true, SeqCst);
    ENCODED.store(0, SeqCst);
    let before = WENT_OFF.load(SeqCst);
    let heavy = Heavy {
        tag: LIVE,
        bytes: ByteBuf::from(vec![7u8; 100_000]),
    };
    let sent = pool.map(weigh, [heavy]);
    check(
        matches!(&sent, Err(Error::Serde(why)) if why.contains("cannot encode twice")),
        &format!("the supervisor's encoding fails the batch: {sent:?}"),
    )?;
    check(
        ENCODED.load(SeqCst) == 2,
        "counted on the caller, then encoded by the supervisor",
    )?;
    // The worker, its line out of step, is replaced: wait for it before counting workers.
    let replaced =
        common::testing::eventually(Duration::from_secs(5), || pool.worker_pids().len() == 1);
    check(replaced, "the worker is replaced")?;
    still_works(&pool, before + 1)?;

    let decoded = pool.map_unordered_chunked(Fragile, [1, LIVE, 2], Chunk::Size(3))?;
    let mut decoded: Vec<_> = decoded.collect();
    decoded.sort_by_key(|(i, _)| *i);
    check(
        matches!(&decoded[1].1, Err(Error::Panicked { message, .. }) if message.contains("cannot decode")),
        &format!("the panicking Deserialize fails its item: {decoded:?}"),
    )?;
    check(
        decoded[0].1 == Ok(Fragile(1)) && decoded[2].1 == Ok(Fragile(2)),
        "the others decode",
    )?;
    still_works(&pool, before + 1)
}

/// An initializer that panics in one thread of two fails `build` with the panic, and leaves
/// nothing behind: the next pool builds and runs.
pub(crate) fn a_thread_initializer_that_panics() -> harness::Result {
    fn second_fails() {
        static RAN: AtomicUsize = AtomicUsize::new(0);
        if RAN.fetch_add(1, SeqCst) == 1 {
            panic!("the second thread has no database");
        }
    }
    let failed = ThreadPool::builder()
        .workers(2)
        .initializer(second_fails)
        .build();
    check(
        matches!(
            &failed,
            Err(Error::InitializerPanicked { message, location: Some(at) })
                if message == "the second thread has no database" && at.contains("user_panics.rs")
        ),
        &format!(
            "build fails with the panic and its place: {:?}",
            failed.err()
        ),
    )?;
    let pool = ThreadPool::builder()
        .workers(1)
        .initializer(second_fails)
        .build()?;
    still_works(&pool, WENT_OFF.load(SeqCst))
}

/// Its `Drop` panics in a process worker (which is this binary, started with the pool's
/// variable set), never in the test process.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
pub(crate) struct WorkerBomb(u32);

impl Drop for WorkerBomb {
    fn drop(&mut self) {
        if std::env::var_os("COMMON_POOL_WORKER").is_some() {
            panic!("a result's Drop went off in the worker");
        }
    }
}

fn worker_bomb(n: u32) -> WorkerBomb {
    WorkerBomb(n)
}

/// A result whose `Drop` panics in the worker, after the worker encoded it: every value still
/// arrives, alone and in batches, and the worker is the same process after (not replaced).
pub(crate) fn a_result_drop_that_panics_in_the_worker() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let before = pool.worker_pids();
    let one = pool.submit(worker_bomb, 7).wait();
    check(
        one == Ok(WorkerBomb(7)),
        &format!("a lone task's value: {one:?}"),
    )?;
    let many = pool.map_chunked(worker_bomb, 0..20, Chunk::Size(5));
    check(
        many == Ok((0..20).map(WorkerBomb).collect()),
        &format!("every value of a chunked map: {many:?}"),
    )?;
    check(
        pool.worker_pids() == before,
        "the worker lived on: the same pid",
    )
}
