//! Unit tests of `thread_pool`.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
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
    let batch = pool.map_iter_chunked(|x: u32| x, 0..4, crate::Chunk::Size(2));
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
    let batch: Vec<_> = batch.unwrap().collect();
    assert_eq!(batch, vec![Err(Error::Cancelled); 4], "queued batches too");
    assert_eq!(STARTED.load(SeqCst), 2, "the stuck tasks still run");
    *RELEASED.0.lock().unwrap() = true;
    RELEASED.1.notify_all();
    for handle in running {
        assert_eq!(handle.wait(), Ok(true), "a running task finishes");
    }
}
