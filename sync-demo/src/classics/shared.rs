//! What the classics share between processes: an event, a barrier and a bounded buffer in one
//! segment.
//!
//! Threads share a `Mutex` and a `Condvar`; processes share only what they map. So the event is
//! a word that waiters sleep on (a futex: `set` stores 1 and wakes them all), the barrier is
//! `shared_barrier.rs`'s three words, and the bounded buffer is a ring of two items under
//! `common`'s segment `Lock` with two of `shared_condvar.rs`'s condition variables, `not_full`
//! and `not_empty`, as in the threads' version.

use std::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Release},
};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::demo::segment::Lock;

use crate::shared_barrier::BarrierWords;
use crate::shared_condvar::FifoCondvar;
use crate::sys::{wait_while, wake_all};

/// The bound of every wait.
const PATIENCE: Duration = Duration::from_secs(10);
/// Items the buffer holds.
pub const CAPACITY: u32 = 2;

/// A ring of `CAPACITY` (2) items; any bits are a ring (indices are taken modulo its size).
#[derive(Debug, Default)]
#[repr(C)]
pub struct Ring {
    items: [u32; CAPACITY as usize],
    head: u32,
    len: u32,
}

impl Ring {
    fn push(&mut self, item: u32) {
        self.items[(self.head.wrapping_add(self.len) % CAPACITY) as usize] = item;
        self.len += 1;
    }

    fn pop(&mut self) -> u32 {
        let item = self.items[(self.head % CAPACITY) as usize];
        (self.head, self.len) = ((self.head + 1) % CAPACITY, self.len - 1);
        item
    }
}

/// Everything the classics share between processes; all zeros is the start.
#[derive(Debug, Default)]
#[repr(C)]
pub struct SharedClassics {
    /// Non-zero once the event is set.
    event: AtomicU32,
    pub barrier: BarrierWords,
    /// Parties that finished phase 1.
    pub phase1: AtomicU32,
    buffer: Lock<Ring>,
    not_full: FifoCondvar,
    not_empty: FifoCondvar,
}

impl SharedClassics {
    /// Sets the event and wakes every waiter.
    pub fn set(&self) {
        self.event.store(1, Release);
        wake_all(&self.event);
    }

    /// Waits at most `limit` for the event; whether it was set.
    pub fn wait_event(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.event.load(Acquire) == 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            wait_while(&self.event, 0, left);
        }
        true
    }

    /// Puts `item`, waiting while the buffer is full; how many items it holds after.
    ///
    /// # Errors
    /// The buffer stayed full past the bound, or its lock stayed taken.
    pub fn push(&self, item: u32) -> Result<u32> {
        let mut ring = self.buffer.lock()?;
        while ring.len >= CAPACITY {
            ring = (self.not_full)
                .wait(&self.buffer, ring, PATIENCE)?
                .context("the buffer stayed full")?;
        }
        ring.push(item);
        self.not_empty.signal();
        Ok(ring.len)
    }

    /// Takes the oldest item, waiting while the buffer is empty.
    ///
    /// # Errors
    /// The buffer stayed empty past the bound, or its lock stayed taken.
    pub fn pop(&self) -> Result<u32> {
        let mut ring = self.buffer.lock()?;
        while ring.len == 0 {
            ring = (self.not_empty)
                .wait(&self.buffer, ring, PATIENCE)?
                .context("the buffer stayed empty")?;
        }
        let item = ring.pop();
        self.not_full.signal();
        Ok(item)
    }
}
