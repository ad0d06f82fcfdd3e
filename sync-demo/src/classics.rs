//! One more round of the classics: an event, a barrier, a read-write lock, a bounded buffer.
//!
//! Each is a few lines on top of `Mutex` + `Condvar` or straight from std, and each prints one
//! fact that shows what it is for: an event wakes every waiter at once; no thread passes a
//! barrier before all have reached it; a read-write lock lets readers in together but a writer
//! alone; a bounded buffer makes a fast producer wait for a slow consumer instead of growing.
//! Across processes (`classics/shared.rs`) the same four run with the same result line, on what
//! processes can share: the event, the barrier and the buffer live in a shared segment (a futex
//! word, `shared_barrier.rs`'s barrier, a ring under a lock with `shared_condvar.rs`'s condition
//! variables), and the read-write lock becomes `flock` in its shared and exclusive modes, which
//! the kernel keeps.

mod processes;
mod shared;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Barrier, Condvar, Mutex, PoisonError, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use common::demo::narrate::{header, plural, thread_tag};

use crate::output::conclude;

pub use processes::{child_party, child_producer, child_reader, processes};
pub use shared::{Ring, SharedClassics};

const PATIENCE: Duration = Duration::from_secs(10);

/// A one-shot event: threads wait until someone sets it (Python's `threading.Event`).
#[derive(Debug, Default)]
pub struct Event {
    set: Mutex<bool>,
    changed: Condvar,
}

impl Event {
    /// A new, unset event.
    pub fn new() -> Event {
        Event::default()
    }

    /// Sets the event and wakes every waiter.
    pub fn set(&self) {
        *self.set.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.changed.notify_all();
    }

    /// Waits at most `limit` for the event; whether it was set.
    pub fn wait_timeout(&self, limit: Duration) -> bool {
        let guard = self.set.lock().unwrap_or_else(PoisonError::into_inner);
        // `wait_timeout_while` re-checks the flag after every wake-up, spurious or not.
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, limit, |set| !*set)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

/// A bounded FIFO buffer: `push` waits while it is full, `pop` while it is empty.
struct Bounded<T> {
    items: Mutex<VecDeque<T>>,
    not_full: Condvar,
    not_empty: Condvar,
    capacity: usize,
}

impl<T> Bounded<T> {
    fn push(&self, item: T) -> Result<usize> {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut items, waited) = self
            .not_full
            .wait_timeout_while(items, PATIENCE, |q| q.len() >= self.capacity)
            .unwrap_or_else(PoisonError::into_inner);
        anyhow::ensure!(!waited.timed_out(), "the buffer stayed full");
        items.push_back(item);
        self.not_empty.notify_one();
        Ok(items.len())
    }

    fn pop(&self) -> Result<T> {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut items, _) = self
            .not_empty
            .wait_timeout_while(items, PATIENCE, |q| q.is_empty())
            .unwrap_or_else(PoisonError::into_inner);
        let item = items.pop_front().context("the buffer stayed empty")?;
        self.not_full.notify_one();
        Ok(item)
    }
}

/// Threads: the four classics in turn, `workers` threads each.
///
/// # Errors
/// A wait ran out of patience, or a check did not hold.
pub fn threads(out: &mut impl Write, workers: usize) -> Result<()> {
    header(
        out,
        "classics (threads)",
        "event, barrier, read-write lock, bounded buffer",
        &[("workers", workers)],
    )?;
    // Event: every waiter wakes when it is set.
    let event = Event::new();
    let woke = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                if event.wait_timeout(PATIENCE) {
                    woke.fetch_add(1, SeqCst);
                }
            });
        }
        std::thread::sleep(Duration::from_millis(10)); // on purpose: let them all start waiting
        event.set();
    });
    let woke = woke.load(SeqCst);
    writeln!(out, "   event: set once, {woke} of {workers} waiters woke")?;

    // Barrier: nobody starts phase 2 before everybody finished phase 1.
    let barrier = Barrier::new(workers);
    let (phase1, early) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for i in 0..workers {
            let (barrier, phase1, early) = (&barrier, &phase1, &early);
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(2 * i as u64)); // on purpose: arrive at different times
                phase1.fetch_add(1, SeqCst);
                // Every thread reaches this wait (none can fail before it), so it cannot hang.
                barrier.wait();
                if phase1.load(SeqCst) < workers {
                    early.fetch_add(1, SeqCst);
                }
            });
        }
    });
    let early = early.load(SeqCst);
    writeln!(
        out,
        "   barrier: {workers} threads arrived at different times; {early} started phase 2 early"
    )?;

    // Read-write lock: readers together, a writer alone.
    let lock = RwLock::new(0u64);
    let (readers, most_readers, writer_saw) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let _value = lock.read().unwrap_or_else(PoisonError::into_inner);
                let now = readers.fetch_add(1, SeqCst) + 1;
                most_readers.fetch_max(now, SeqCst);
                std::thread::sleep(Duration::from_millis(20)); // on purpose: stay inside together
                readers.fetch_sub(1, SeqCst);
            });
        }
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(5));
            let mut value = lock.write().unwrap_or_else(PoisonError::into_inner);
            writer_saw.fetch_max(readers.load(SeqCst), SeqCst);
            *value += 1;
        });
    });
    let (most_readers, writer_saw) = (most_readers.load(SeqCst), writer_saw.load(SeqCst));
    writeln!(out, "   rwlock: up to {most_readers} readers inside at once; the writer saw {writer_saw} readers inside")?;

    // Bounded buffer: a fast producer, a slow consumer, capacity 2.
    let buffer = Bounded {
        items: Mutex::new(VecDeque::new()),
        not_full: Condvar::new(),
        not_empty: Condvar::new(),
        capacity: 2,
    };
    let items = 10;
    let (fullest, received) = std::thread::scope(|s| -> Result<(usize, Vec<usize>)> {
        let producer = s.spawn(|| -> Result<usize> {
            let mut fullest = 0;
            for i in 0..items {
                fullest = fullest.max(buffer.push(i)?);
            }
            Ok(fullest)
        });
        let mut received = Vec::new();
        for _ in 0..items {
            std::thread::sleep(Duration::from_millis(2)); // on purpose: a slow consumer
            received.push(buffer.pop()?);
        }
        writeln!(
            out,
            "   {} consumed {}",
            thread_tag(1),
            plural(items, "item", "items")
        )?;
        Ok((
            producer
                .join()
                .map_err(|_| anyhow::anyhow!("the producer panicked"))??,
            received,
        ))
    })?;
    let in_order = received == (0..items).collect::<Vec<_>>();
    writeln!(
        out,
        "   buffer: never held more than {fullest} (capacity 2); {} received, in order: {in_order}",
        plural(received.len(), "item", "items")
    )?;

    let facts = Facts {
        woke,
        workers,
        early,
        most_readers,
        writer_alone: writer_saw == 0,
        fullest,
        in_order,
    };
    facts.conclude(out)
}

/// What each classic showed; threads and processes conclude with the same line.
pub(crate) struct Facts {
    woke: usize,
    workers: usize,
    early: usize,
    most_readers: usize,
    writer_alone: bool,
    fullest: usize,
    in_order: bool,
}

impl Facts {
    pub(crate) fn conclude(&self, out: &mut impl Write) -> Result<()> {
        let Facts {
            woke,
            workers,
            early,
            most_readers,
            writer_alone,
            fullest,
            in_order,
        } = *self;
        let passed = woke == workers
            && early == 0
            && (workers < 2 || most_readers >= 2)
            && writer_alone
            && fullest <= 2
            && in_order;
        let what = format!(
            "event woke {woke}/{workers}; barrier early 0={}; readers together {most_readers}, \
             writer alone; buffer max {fullest}/2, in order",
            early == 0
        );
        conclude(
            out,
            passed,
            &what,
            "each classic is a condition waited on under a lock",
        )?;
        Ok(())
    }
}
