//! A task that waits on its own `ThreadPool` never hangs (Python's documented trap, run here):
//! in a pool of one thread, a task that submits to the pool and waits gets its value within a
//! second, because the waiting worker runs the awaited task itself (`thread_pool/nested.rs`).
//!
//! No process pool is involved, so this is an ordinary libtest target. Each test bounds its wait
//! on the outer task with `wait_timeout(1 s)`: a hang is a failed assertion, not a stuck test.

use common::{Error, Pool, ThreadPool};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One pool per test: a task reaches its pool through a static, as a plain `fn` must.
static ONE: OnceLock<ThreadPool> = OnceLock::new();
static NESTED_MAP: OnceLock<ThreadPool> = OnceLock::new();
static TWO: OnceLock<ThreadPool> = OnceLock::new();

fn one() -> &'static ThreadPool {
    ONE.get_or_init(|| ThreadPool::new(1).expect("a pool of one"))
}

/// Python's `wait_on_future`: submits `pow(5, 2)` to its own pool and waits for it.
fn wait_on_future(_: ()) -> Result<u64, Error> {
    one().submit(|(b, e): (u64, u32)| b.pow(e), (5, 2)).wait()
}

#[test]
fn a_task_that_waits_on_its_own_pool_of_one_gets_its_value_within_a_second() {
    let started = Instant::now();
    let mut outer = one().submit(wait_on_future, ());
    let got = outer.wait_timeout(Duration::from_secs(1));
    assert_eq!(got, Ok(Ok(25)), "after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(1));
    // The inner task ran on the pool's one thread, inline: the pool is still whole.
    assert_eq!(one().map(|x: u8| x + 1, [1, 2]).unwrap(), vec![2, 3]);
}

/// A task that maps over its own pool of one: each batch runs on the calling worker.
fn sum_of_squares(n: u64) -> u64 {
    let pool = NESTED_MAP.get_or_init(|| ThreadPool::new(1).expect("a pool of one"));
    let squares = pool.map(|x: u64| x * x, 0..n).expect("no square fails");
    squares.iter().sum()
}

#[test]
fn a_task_that_maps_over_its_own_pool_of_one_finishes() {
    let pool = NESTED_MAP.get_or_init(|| ThreadPool::new(1).expect("a pool of one"));
    let mut outer = pool.submit(sum_of_squares, 10);
    assert_eq!(outer.wait_timeout(Duration::from_secs(1)), Ok(285));
}

/// Two tasks on a pool of two, each waiting on a task it submitted: every thread waits at once.
fn wait_on_child(x: u64) -> u64 {
    let pool = TWO.get().expect("set before the tasks run");
    pool.submit(|y: u64| y * 10, x)
        .wait()
        .expect("the child runs")
        + 1
}

#[test]
fn every_thread_waiting_on_its_own_pool_still_finishes() {
    let pool = TWO.get_or_init(|| ThreadPool::new(2).expect("a pool of two"));
    let mut handles: Vec<_> = (0..8).map(|x| pool.submit(wait_on_child, x)).collect();
    for (x, h) in handles.iter_mut().enumerate() {
        assert_eq!(
            h.wait_timeout(Duration::from_secs(1)),
            Ok(x as u64 * 10 + 1)
        );
    }
}

#[test]
fn a_caller_that_is_no_worker_waits_as_before() {
    // From the test's own thread the task is not run inline: it runs on a pool thread.
    let pool = ThreadPool::new(1).expect("a pool of one");
    let on = pool.submit(|_: ()| std::thread::current().name().map(String::from), ());
    assert_eq!(on.wait(), Ok(Some("pool-thread-0".to_string())));
}
