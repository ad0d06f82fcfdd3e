//! Model-checks OSTEP's bounded buffer (`src/bounded_buffer.rs`) with loom: the same `put` and
//! `get`, under loom's `Mutex` and `Condvar` and no script at all, in every interleaving up to
//! the preemption bound. Loom finds the bugs the forced schedules of `condition-variable` show:
//! an `if` consumer takes nothing, an `if` producer over-fills, and with one condition variable
//! and `while` every thread left sleeps (loom's "deadlock"); `while` with two passes.
//!
//! Run it with (a few seconds once built):
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test -p sync-demo --test loom_condvar --release`
#![cfg(loom)]

use loom::sync::{Condvar, Mutex, MutexGuard};
// std's Arc, not loom's: if loom finds a deadlock, a loom Arc can abort the whole test binary
// instead of failing this test (see FACTS.md).
use std::sync::Arc;
use sync_demo::bounded_buffer::{get, put, Broke, Buffer, Monitor, Variant};

/// The buffer under loom's lock, with two condition variables (a one-cv variant uses only 0).
#[derive(Default)]
struct LoomMonitor {
    buffer: Mutex<Buffer>,
    cvs: [Condvar; 2],
}

impl Monitor for LoomMonitor {
    type Guard<'a> = MutexGuard<'a, Buffer>;

    fn lock(&self) -> Result<MutexGuard<'_, Buffer>, Broke> {
        Ok(self.buffer.lock().expect("no thread panics holding it"))
    }

    fn wait<'a>(
        &'a self,
        cv: usize,
        guard: MutexGuard<'a, Buffer>,
    ) -> Result<MutexGuard<'a, Buffer>, Broke> {
        Ok(self.cvs[cv]
            .wait(guard)
            .expect("no thread panics holding it"))
    }

    fn signal(&self, cv: usize) {
        self.cvs[cv].notify_one();
    }
}

/// `producers` threads each put `per_producer` items and `consumers` each take `per_consumer`;
/// any broken invariant panics with its words ("took nothing", "over-full").
fn model(
    variant: Variant,
    producers: usize,
    per_producer: usize,
    consumers: usize,
    per_consumer: usize,
) {
    loom::model(move || {
        let m = Arc::new(LoomMonitor::default());
        let mut threads = Vec::new();
        for _ in 0..producers {
            let m = Arc::clone(&m);
            threads.push(loom::thread::spawn(move || {
                for _ in 0..per_producer {
                    put(&*m, variant).unwrap_or_else(|e| panic!("{e}"));
                }
            }));
        }
        for _ in 0..consumers {
            let m = Arc::clone(&m);
            threads.push(loom::thread::spawn(move || {
                for _ in 0..per_consumer {
                    get(&*m, variant).unwrap_or_else(|e| panic!("{e}"));
                }
            }));
        }
        for t in threads {
            t.join().expect("no thread panicked");
        }
        let buffer = m.lock().expect("a lock");
        assert_eq!(
            buffer.totals(),
            (
                (producers * per_producer) as u32,
                (consumers * per_consumer) as u32
            )
        );
    });
}

/// One producer, two consumers: the shape of "a consumer barges in" and "a consumer wakes a
/// consumer".
fn one_producer_two_consumers(variant: Variant) {
    model(variant, 1, 2, 2, 1);
}

/// Two producers, one consumer: the shape of "a producer barges in" (a producer that puts a
/// second item is one that can barge in).
fn two_producers_one_consumer(variant: Variant) {
    model(variant, 2, 2, 1, 4);
}

#[test]
#[should_panic(expected = "took nothing")]
fn if_one_cv_a_consumer_takes_nothing() {
    one_producer_two_consumers(Variant::new(false, false));
}

#[test]
#[should_panic(expected = "took nothing")]
fn if_two_cvs_a_consumer_takes_nothing() {
    one_producer_two_consumers(Variant::new(false, true));
}

#[test]
#[should_panic(expected = "over-full")]
fn if_two_cvs_a_producer_overfills() {
    two_producers_one_consumer(Variant::new(false, true));
}

#[test]
#[should_panic(expected = "deadlock")]
fn while_one_cv_every_thread_sleeps() {
    one_producer_two_consumers(Variant::new(true, false));
}

#[test]
fn while_two_cvs_passes_with_two_consumers() {
    one_producer_two_consumers(Variant::new(true, true));
}

#[test]
fn while_two_cvs_passes_with_two_producers() {
    two_producers_one_consumer(Variant::new(true, true));
}
