//! OSTEP's bounded buffer (`threads-cv`) in its four variants, written once over a [`Monitor`].
//!
//! A producer waits while the buffer is full, a consumer while it is empty, and each signals the
//! other side after its change. Two choices make four variants: look at the condition again
//! after waking (`while`) or not (`if`), and one condition variable for both sides or one each.
//! Only `while` with two is right. With `if`, a thread woken for a condition that another
//! thread has meanwhile undone goes on anyway (Mesa semantics: a signal is a hint, not a
//! hand-over): a consumer takes from an empty buffer, a producer fills a full one. With one
//! condition variable, a consumer's signal meant for the producer can wake the other consumer,
//! which goes back to sleep; the producer never hears, and every thread left sleeps.
//!
//! The same [`put`] and [`get`] run under two monitors: `forced_schedule.rs` (a condition
//! variable that wakes in order and a script of turns, for threads and processes) and loom's
//! `Mutex` and `Condvar` (`tests/loom_condvar.rs`), which tries every interleaving.

use std::ops::DerefMut;

/// Items the buffer holds: one, OSTEP's default (`-m 1`), with which each bug takes fewest steps.
pub const CAPACITY: u32 = 1;

/// One of the four variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variant {
    /// `while` (look at the condition again after every wake-up) rather than `if`.
    pub recheck: bool,
    /// A condition variable per side (`fill` for consumers, `empty` for producers).
    pub two_cvs: bool,
}

/// The four variants, the right one last.
pub const VARIANTS: [Variant; 4] = [
    Variant::new(false, false),
    Variant::new(false, true),
    Variant::new(true, false),
    Variant::new(true, true),
];

impl Variant {
    /// `recheck`: `while` rather than `if`; `two_cvs`: one condition variable per side.
    pub const fn new(recheck: bool, two_cvs: bool) -> Variant {
        Variant { recheck, two_cvs }
    }

    /// `if, one cv`, `while, two cvs`, ...
    pub fn name(self) -> &'static str {
        match (self.recheck, self.two_cvs) {
            (false, false) => "if, one cv",
            (false, true) => "if, two cvs",
            (true, false) => "while, one cv",
            (true, true) => "while, two cvs",
        }
    }

    /// The condition variable consumers wait on and producers signal (index 0 or 1).
    pub fn fill(self) -> usize {
        0
    }

    /// The condition variable producers wait on and consumers signal: `fill` again with one.
    pub fn empty(self) -> usize {
        usize::from(self.two_cvs)
    }

    /// What the condition variable `cv` is called in OSTEP's code: `cv`, `fill` or `empty`.
    pub fn cv_name(self, cv: usize) -> &'static str {
        match (self.two_cvs, cv) {
            (false, _) => "cv",
            (true, 0) => "fill",
            (true, _) => "empty",
        }
    }
}

/// The buffer: how many items it holds, the one slot, and how many were put and taken so far.
/// All `u32`s, so any bits are a buffer (it may live in a shared segment).
#[derive(Debug, Default)]
#[repr(C)]
pub struct Buffer {
    count: u32,
    slot: u32,
    put: u32,
    taken: u32,
}

impl Buffer {
    /// Items in the buffer now.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Items put and taken so far.
    pub fn totals(&self) -> (u32, u32) {
        (self.put, self.taken)
    }

    fn is_full(&self) -> bool {
        self.count >= CAPACITY
    }

    /// Puts the next item (numbered 1, 2, ... in the order they are put).
    fn put(&mut self) -> Result<u32, Broke> {
        if self.is_full() {
            return Err(Broke::OverFull);
        }
        self.put += 1;
        (self.slot, self.count) = (self.put, self.count + 1);
        Ok(self.put)
    }

    /// Takes the item in the slot.
    fn get(&mut self) -> Result<u32, Broke> {
        if self.count == 0 {
            return Err(Broke::TookNothing);
        }
        (self.count, self.taken) = (self.count - 1, self.taken + 1);
        Ok(self.slot)
    }
}

/// How a run of the buffer broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broke {
    /// A producer put an item into a full buffer.
    OverFull,
    /// A consumer took from an empty buffer.
    TookNothing,
    /// Every actor not yet done sleeps on a condition variable: nobody is left to signal.
    AllAsleep,
    /// A wait passed its bound (this crate's safety net; never part of a lesson).
    Stuck,
    /// Another actor broke the run; this one stopped.
    Stopped,
}

impl std::fmt::Display for Broke {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Broke::OverFull => "over-full: an item put into a full buffer",
            Broke::TookNothing => "took nothing: a get from an empty buffer",
            Broke::AllAsleep => "all asleep: nobody is left to signal",
            Broke::Stuck => "stuck: a wait passed its bound",
            Broke::Stopped => "stopped: another actor broke the run",
        })
    }
}

impl std::error::Error for Broke {}

/// What a change to the buffer was, for narration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Item `item` put; `count` items in the buffer after.
    Put { item: u32, count: u32 },
    /// Item `item` taken; `count` items in the buffer after.
    Got { item: u32, count: u32 },
}

/// A lock around a [`Buffer`] and two condition variables (indices 0 and 1).
pub trait Monitor {
    /// The lock, held.
    type Guard<'a>: DerefMut<Target = Buffer>
    where
        Self: 'a;

    /// Takes the lock.
    ///
    /// # Errors
    /// The run is broken or a bound passed.
    fn lock(&self) -> Result<Self::Guard<'_>, Broke>;

    /// Lets go of the lock, sleeps on condition variable `cv` until signalled, takes the lock
    /// again.
    ///
    /// # Errors
    /// The run is broken or a bound passed.
    fn wait<'a>(&'a self, cv: usize, guard: Self::Guard<'a>) -> Result<Self::Guard<'a>, Broke>;

    /// Wakes one waiter of condition variable `cv`, if any; called holding the lock.
    fn signal(&self, cv: usize);

    /// Hears of each change, for narration (nothing by default).
    fn note(&self, _change: Change) {}
}

/// The producer's half: waits while the buffer is full, puts an item, signals `fill`.
///
/// # Errors
/// [`Broke::OverFull`] if it puts into a full buffer (the `if` variants can), or the monitor's.
pub fn put<M: Monitor>(m: &M, v: Variant) -> Result<(), Broke> {
    let mut buffer = m.lock()?;
    if v.recheck {
        while buffer.is_full() {
            buffer = m.wait(v.empty(), buffer)?;
        }
    } else if buffer.is_full() {
        // The bug: once woken, it does not look again.
        buffer = m.wait(v.empty(), buffer)?;
    }
    let item = buffer.put()?;
    m.note(Change::Put {
        item,
        count: buffer.count,
    });
    m.signal(v.fill());
    Ok(())
}

/// The consumer's half: waits while the buffer is empty, takes the item, signals `empty`.
///
/// # Errors
/// [`Broke::TookNothing`] if it takes from an empty buffer (the `if` variants can), or the
/// monitor's.
pub fn get<M: Monitor>(m: &M, v: Variant) -> Result<u32, Broke> {
    let mut buffer = m.lock()?;
    if v.recheck {
        while buffer.count == 0 {
            buffer = m.wait(v.fill(), buffer)?;
        }
    } else if buffer.count == 0 {
        // The bug: once woken, it does not look again.
        buffer = m.wait(v.fill(), buffer)?;
    }
    let item = buffer.get()?;
    m.note(Change::Got {
        item,
        count: buffer.count,
    });
    m.signal(v.empty());
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_refuses_to_overfill_or_give_nothing() {
        let mut b = Buffer::default();
        assert_eq!(b.get(), Err(Broke::TookNothing));
        assert_eq!(b.put(), Ok(1));
        assert_eq!(b.put(), Err(Broke::OverFull));
        assert_eq!(b.get(), Ok(1));
        assert_eq!(b.totals(), (1, 1));
    }

    #[test]
    fn one_cv_is_shared_by_both_sides() {
        let one = Variant::new(true, false);
        assert_eq!((one.fill(), one.empty()), (0, 0));
        let two = Variant::new(true, true);
        assert_eq!(
            (two.cv_name(two.fill()), two.cv_name(two.empty())),
            ("fill", "empty")
        );
    }
}
