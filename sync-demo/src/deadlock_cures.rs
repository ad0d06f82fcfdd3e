//! One transfer workload, four cures of its deadlock, timed; and try-lock without back-off.
//!
//! Two accounts, A and B; thread 1 moves 1 from A to B, thread 2 from B to A, each `TRANSFERS`
//! times. Taking "my source, then my destination" is the `deadlock` scenario's opposite order.
//! OSTEP's `threads-bugs` homework times the ways out, and so does this scenario, on the same
//! workload, each ending with the same total:
//! 1. one global order: both lock A before B, so no cycle can form;
//! 2. try-lock with back-off: take the source, *try* the destination, and if it is busy let go
//!    of both and wait a random moment before trying again (no hold-and-wait);
//! 3. one big lock over both accounts: no second lock to wait for, and no parallelism either;
//! 4. atomics: each account an `AtomicI64`, no lock at all (the total is right at the end, but
//!    a reader between the two steps of a transfer would see 1 missing).
//!
//! Try-lock *without* back-off trades the deadlock for a livelock: both threads take their
//! source, both find the destination busy, both let go and retry at once, in step, for ever.
//! Nobody is blocked, yet nobody gets on; the scenario shows it as a retry count that grows
//! while the transfers do not, for a bounded time.

use std::io::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Result;
use common::demo::narrate::{duration, header, plural, thread_tag};

use crate::output::conclude;

/// Transfers each thread makes in every cure.
pub const TRANSFERS: usize = 20_000;
/// What each account holds at the start; the total never changes.
const START: i64 = 1_000;
/// How long the livelock is watched.
const WATCH: Duration = Duration::from_millis(300);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held: a poisoned one still holds a whole number.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs thread 1 (`from` = 0, A to B) and thread 2 (`from` = 1, B to A); the time both took.
fn pair(body: impl Fn(usize) + Sync) -> Duration {
    let started = Instant::now();
    std::thread::scope(|s| {
        for from in [0, 1] {
            let body = &body;
            s.spawn(move || body(from));
        }
    });
    started.elapsed()
}

/// A small random pause from a per-thread xorshift: enough to put two threads out of step.
fn back_off(seed: &mut u64) {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    for _ in 0..(*seed % 64) {
        std::hint::spin_loop();
    }
    std::thread::yield_now();
}

/// Cure 1: both threads lock the lower-numbered account first.
fn global_order(accounts: &[Mutex<i64>; 2]) -> Duration {
    pair(|from| {
        for _ in 0..TRANSFERS {
            let (first, second) = (&accounts[0], &accounts[1]); // New: the same order for both
            let (mut a, mut b) = (lock(first), lock(second));
            let (source, dest) = if from == 0 {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            **source -= 1;
            **dest += 1;
        }
    })
}

/// Cure 2 (and, with `backoff` false, the livelock): source first, then try the destination.
/// Stops after `TRANSFERS` or at `until`; the retries it counted.
fn try_lock(accounts: &[Mutex<i64>; 2], backoff: bool, hold: Duration, until: Instant) -> u64 {
    let retries = AtomicU64::new(0);
    pair(|from| {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (from as u64 + 1);
        let mut done = 0;
        while done < TRANSFERS && Instant::now() < until {
            let mut source = lock(&accounts[from]);
            if !hold.is_zero() {
                std::thread::sleep(hold); // on purpose: both hold their source at once
            }
            match accounts[1 - from].try_lock() {
                Ok(mut dest) => {
                    *source -= 1;
                    *dest += 1;
                    done += 1;
                }
                Err(_) => {
                    drop(source); // let go of what we hold: no hold-and-wait
                    retries.fetch_add(1, Relaxed);
                    if backoff {
                        back_off(&mut seed);
                    }
                }
            }
        }
    });
    retries.load(Relaxed)
}

/// Threads: the four cures timed on the same workload, then the livelock watched.
///
/// # Errors
/// A check did not hold, or writing failed.
pub fn threads(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "deadlock-cures (threads)",
        "one two-lock transfer workload, cured four ways, timed",
        &[("workers", 2), ("transfers", TRANSFERS)],
    )?;
    writeln!(
        out,
        "   {} moves 1 from A to B, {} from B to A, {TRANSFERS} times each; A = B = {START}",
        thread_tag(1),
        thread_tag(2)
    )?;
    let fresh = || [Mutex::new(START), Mutex::new(START)];
    let total = |a: &[Mutex<i64>; 2]| *lock(&a[0]) + *lock(&a[1]);
    let mut totals = Vec::new();

    let accounts = fresh();
    let took = global_order(&accounts);
    totals.push(total(&accounts));
    writeln!(
        out,
        "-- cure 1, one global order (A before B): total {}, took {}",
        totals[0],
        duration(took)
    )?;

    let accounts = fresh();
    let started = Instant::now();
    let far = started + Duration::from_secs(60);
    let retries = try_lock(&accounts, true, Duration::ZERO, far);
    let took = started.elapsed();
    totals.push(total(&accounts));
    writeln!(
        out,
        "-- cure 2, try-lock with back-off: total {}, {}, took {}",
        totals[1],
        plural(retries as usize, "retry", "retries"),
        duration(took)
    )?;

    let big = Mutex::new([START, START]);
    let took = pair(|from| {
        for _ in 0..TRANSFERS {
            let mut both = lock(&big); // New: one lock over both accounts
            both[from] -= 1;
            both[1 - from] += 1;
        }
    });
    let [a, b] = *lock(&big);
    totals.push(a + b);
    writeln!(
        out,
        "-- cure 3, one big lock: total {}, took {}",
        totals[2],
        duration(took)
    )?;

    let atomic = [AtomicI64::new(START), AtomicI64::new(START)];
    let took = pair(|from| {
        for _ in 0..TRANSFERS {
            atomic[from].fetch_sub(1, Relaxed); // New: no lock; each step is one atomic add
            atomic[1 - from].fetch_add(1, Relaxed);
        }
    });
    totals.push(atomic[0].load(Relaxed) + atomic[1].load(Relaxed));
    writeln!(
        out,
        "-- cure 4, atomics, no lock: total {}, took {}",
        totals[3],
        duration(took)
    )?;

    writeln!(
        out,
        "-- no cure: try-lock WITHOUT back-off, each holding its source 1 ms, watched {}",
        duration(WATCH)
    )?;
    let accounts = fresh();
    let mut counts = Vec::new();
    let started = Instant::now();
    for step in 1..=3u32 {
        let until = started + WATCH * step / 3;
        counts.push(try_lock(&accounts, false, Duration::from_millis(1), until));
    }
    let grew: Vec<u64> = counts
        .iter()
        .scan(0, |sum, n| {
            *sum += n;
            Some(*sum)
        })
        .collect();
    let moved = (START - *lock(&accounts[0])).unsigned_abs();
    writeln!(
        out,
        "   retries after {}, {}, {}: {} -> {} -> {}; A is {} (net moved {moved})",
        duration(WATCH / 3),
        duration(WATCH * 2 / 3),
        duration(WATCH),
        grew[0],
        grew[1],
        grew[2],
        *lock(&accounts[0])
    )?;
    let livelocked = grew[2] > grew[0] && grew[0] > 0;
    let expected = 2 * START;
    let passed = totals.iter().all(|&t| t == expected) && total(&accounts) == expected;
    let what = format!(
        "totals {} (expected {expected} each); try-lock without back-off: {} in {}",
        totals
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        plural(grew[2] as usize, "retry", "retries"),
        duration(WATCH)
    );
    let lesson = if livelocked {
        "every cure removes the cycle; letting go without backing off only turns a deadlock into a livelock"
    } else {
        "every cure removes the cycle (this run's threads fell out of step by themselves: rerun to see the livelock)"
    };
    conclude(out, passed, &what, lesson)?;
    Ok(())
}
