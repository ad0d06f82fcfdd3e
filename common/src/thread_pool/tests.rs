//! Unit tests of `thread_pool`.

use super::*;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::SeqCst};
use std::sync::Condvar;
use std::time::Duration;

/// How many `stuck` tasks have started, and whether the test has released them.
static STARTED: AtomicUsize = AtomicUsize::new(0);
static RELEASED: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

/// Blocks until the test releases it (at most 30 s, so a failing test cannot hang);
/// returns whether it was released.
fn stuck(_: ()) -> bool {
    STARTED.fetch_add(1, SeqCst);
    let (lock, cv) = &RELEASED;
    let guard = lock.lock().unwrap();
    let (guard, _) = cv
        .wait_timeout_while(guard, Duration::from_secs(30), |r| !*r)
        .unwrap();
    *guard
}

#[test]
fn terminate_cancels_queued_tasks_while_every_thread_is_stuck() {
    let pool = ThreadPool::new(2).unwrap();
    let running: Vec<_> = (0..2).map(|_| pool.submit(stuck, ())).collect();
    // A map's batch, queued behind them (a map's stream borrows its pool, so terminate cannot
    // run while one is read: the batch is dispatched on its own).
    let (to, batch) = crossbeam_channel::unbounded();
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sink = crate::batch::Sink(crate::pool::SinkTo::channel(to, &cancel, 0, 4));
    pool.dispatch(|x: u32| x, 0, vec![0, 1, 2, 3], sink);
    let mut queued: Vec<_> = (0..3).map(|i| pool.submit(|x: u32| x, i)).collect();
    // Bounded wait until both threads are inside a stuck task.
    for _ in 0..30_000 {
        if STARTED.load(SeqCst) == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(STARTED.load(SeqCst), 2, "both threads run a stuck task");
    pool.terminate();
    // Both threads are still stuck, so only terminate itself can have answered these.
    for handle in &mut queued {
        let answer = handle.wait_timeout(Duration::from_secs(10));
        assert_eq!(answer, Err(Error::Cancelled), "a queued task is cancelled");
    }
    let batch = batch
        .recv_timeout(Duration::from_secs(10))
        .expect("answered");
    assert_eq!(batch.first, 0);
    assert_eq!(
        batch.results.into_vec(),
        vec![Err(Error::Cancelled); 4],
        "queued batches too"
    );
    assert_eq!(STARTED.load(SeqCst), 2, "the stuck tasks still run");
    *RELEASED.0.lock().unwrap() = true;
    RELEASED.1.notify_all();
    for handle in running {
        assert_eq!(handle.wait(), Ok(true), "a running task finishes");
    }
}

/// Values alive, one counter per test (tests run in parallel): made +1, dropped -1.
static ALIVE: [AtomicIsize; 2] = [const { AtomicIsize::new(0) }; 2];
/// How many items the deadline test's task was called on.
static CALLS: AtomicUsize = AtomicUsize::new(0);

/// A task's value that counts itself in `ALIVE[test]`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Counted {
    test: usize,
    value: u64,
}

impl Counted {
    fn new(test: usize, value: u64) -> Counted {
        ALIVE[test].fetch_add(1, SeqCst);
        Counted { test, value }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        ALIVE[self.test].fetch_sub(1, SeqCst);
    }
}

/// Waits (at most 10 s) until no value of `test` is alive; how many are.
fn alive_after_the_workers_let_go(test: usize) -> isize {
    for _ in 0..10_000 {
        if ALIVE[test].load(SeqCst) == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    ALIVE[test].load(SeqCst)
}

#[test]
fn a_map_past_its_deadline_drops_every_value_once() {
    fn slow(item: Counted) -> Counted {
        CALLS.fetch_add(1, SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        Counted::new(item.test, item.value * 2)
    }
    let pool = ThreadPool::new(1).unwrap();
    let items: Vec<Counted> = (0..8).map(|i| Counted::new(0, i)).collect();
    // One worker, batches of 2, 2, 2, 1 and 1 items of 100 ms: 800 ms of work against 10 ms.
    let limit = Duration::from_millis(10);
    assert_eq!(
        pool.map_timeout(slow, items, limit).err(),
        Some(Error::Timeout(limit))
    );
    // The batches queued are cancelled; the one running finishes in the background, and
    // the last of them to let the job go drops its results and the inputs never taken.
    pool.terminate();
    assert_eq!(
        alive_after_the_workers_let_go(0),
        0,
        "each value dropped, once"
    );
    assert!(
        CALLS.load(SeqCst) < 8,
        "the last batch was cancelled before it started"
    );
}

#[test]
fn a_map_with_panicking_items_drops_every_value_once() {
    fn fussy(item: Counted) -> Counted {
        if item.value % 6 == 1 {
            panic!("item {} fails", item.value);
        }
        Counted::new(item.test, item.value * 2)
    }
    let pool = ThreadPool::new(2).unwrap();
    let items: Vec<Counted> = (0..20).map(|i| Counted::new(1, i)).collect();
    let Err(Error::Panicked { message, .. }) = pool.map_chunked(fussy, items, Chunk::Size(3))
    else {
        panic!("the map fails");
    };
    assert_eq!(
        message, "item 1 fails",
        "the first failed item's error, in item order"
    );
    assert_eq!(
        alive_after_the_workers_let_go(1),
        0,
        "each value dropped, once"
    );
    let ok = pool.map_chunked(|x: u64| x + 1, 0..10, Chunk::Size(3));
    assert_eq!(ok, Ok((1..11).collect()), "the pool goes on");
}

/// This thread's id, as `/proc/self/task/<id>` names it.
fn thread_id() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

/// Nanoseconds of CPU a thread of this process has used (`schedstat`'s first field).
fn cpu_nanos(thread: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{thread}/schedstat")).unwrap();
    stat.split_whitespace().next().unwrap().parse().unwrap()
}

/// A worker polls for a moment before it sleeps (`builder::POLL_BEFORE_SLEEP`); then it must
/// sleep, whatever the machine's load: an idle pool costs no CPU.
#[test]
fn an_idle_pool_sleeps() {
    let pool = ThreadPool::new(2).unwrap();
    let threads = pool.broadcast(thread_id).unwrap();
    assert_eq!(threads.len(), 2);
    std::thread::sleep(Duration::from_millis(20));
    let before: Vec<u64> = threads.iter().map(|&t| cpu_nanos(t)).collect();
    std::thread::sleep(Duration::from_millis(300));
    for (&thread, before) in threads.iter().zip(before) {
        let used = Duration::from_nanos(cpu_nanos(thread) - before);
        assert!(
            used < Duration::from_millis(30),
            "thread {thread} used {used:?} of CPU in 300 ms of idling"
        );
    }
}
