//! Model-checks `src/counting_semaphore.rs` with loom: every interleaving of three threads (up to the
//! preemption bound) keeps the count inside at or below the limit and ends without a deadlock.
//!
//! Run it with (it takes well under a minute):
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test -p sync-demo --test loom_semaphore --release`
#![cfg(loom)]

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
// std's Arc, not loom's: if loom finds a deadlock, a loom Arc can abort the whole test binary
// instead of failing this test (see FACTS.md).
use std::sync::Arc;
use sync_demo::counting_semaphore::Semaphore;

/// Three threads take a permit of a semaphore with `limit`, and each checks the count inside.
fn three_threads(limit: usize) {
    loom::model(move || {
        let sem = Arc::new(Semaphore::new(limit));
        let inside = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (sem, inside) = (Arc::clone(&sem), Arc::clone(&inside));
                loom::thread::spawn(move || {
                    // Under loom a timed wait never times out, so this is a plain wait: if the
                    // semaphore could lose a wake-up, loom would report the deadlock.
                    let permit = sem
                        .acquire_timeout(Duration::from_secs(60))
                        .expect("a permit");
                    let now = inside.fetch_add(1, SeqCst) + 1;
                    assert!(now <= limit, "{now} inside, limit {limit}");
                    inside.fetch_sub(1, SeqCst);
                    drop(permit);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no thread panicked");
        }
        assert_eq!(sem.available(), limit, "every permit came back");
        assert!(
            sem.release().is_err(),
            "one more release would pass the limit"
        );
    });
}

#[test]
fn limit_one_three_threads() {
    three_threads(1);
}

#[test]
fn limit_two_three_threads() {
    three_threads(2);
}
