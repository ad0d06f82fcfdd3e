//! The task functions every scenario sends to the pools.
//!
//! They are plain `fn(A) -> R` items, not closures: a process worker receives a task as a code
//! address in its own copy of this executable, so a task cannot capture anything. Whatever a task
//! needs travels in its argument, and everything it returns travels back as its result; both must
//! be serde values. The same functions run sequentially as the baseline.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One step of a xorshift generator: cheap, and impossible for the compiler to skip.
fn step(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// CPU-bound work: `rounds` generator steps. The result depends on every step.
pub fn spin(rounds: u64) -> u64 {
    (0..rounds).fold(rounds | 1, |x, _| step(x))
}

/// Work far cheaper than its trip to a worker and back.
pub fn tiny(x: u64) -> u64 {
    x.wrapping_mul(x) ^ 0x5bd1_e995
}

/// I/O-bound stand-in: sleeps `ms` milliseconds (needing no CPU meanwhile) and returns `ms`.
pub fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Keeps a CPU busy for `ms` milliseconds of wall time and returns `ms`: a task of a known
/// length, so that a timeline shows the intended shape even on a loaded machine.
pub fn busy(ms: u64) -> u64 {
    let until = Instant::now() + Duration::from_millis(ms);
    let mut x = ms | 1;
    while Instant::now() < until {
        x = (0..1000).fold(x, |x, _| step(x));
    }
    std::hint::black_box(x);
    ms
}

/// Item that makes [`faulty`] panic.
pub const PANIC_AT: u64 = 3;
/// Item that makes [`faulty`] abort its whole process.
pub const ABORT_AT: u64 = 6;

/// `x * 10`, except that item [`PANIC_AT`] panics and item [`ABORT_AT`] aborts the process
/// (`std::process::abort`: no unwinding, no destructors, the kernel ends it with `SIGABRT`).
pub fn faulty(x: u64) -> u64 {
    match x {
        PANIC_AT => panic!("item {x} panics on purpose"),
        ABORT_AT => std::process::abort(),
        _ => x * 10,
    }
}

/// The `spin` rounds that take about `target` on this machine and build, measured once.
///
/// Calibrating keeps the demo's timings similar in debug and release builds: the per-task
/// length is what matters for the lessons, not the number of steps.
pub fn rounds_for(target: Duration) -> u64 {
    static PER_ROUND: OnceLock<f64> = OnceLock::new();
    let per_round = *PER_ROUND.get_or_init(|| {
        let time = |rounds: u64| {
            let start = Instant::now();
            std::hint::black_box(spin(std::hint::black_box(rounds)));
            start.elapsed()
        };
        let mut rounds = 1u64 << 12;
        // Double until one run is long enough to measure well (a few ms, so the loop is short).
        while time(rounds) < Duration::from_millis(3) && rounds < 1 << 40 {
            rounds *= 2;
        }
        // The fastest of three: on a busy machine a run may lose the CPU for a while, and a
        // slow measurement would make every task too short.
        let best = (0..3).map(|_| time(rounds)).min().unwrap_or_default();
        best.as_secs_f64() / rounds as f64
    });
    ((target.as_secs_f64() / per_round) as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_return_what_the_checks_expect() {
        assert_eq!(spin(10), spin(10));
        assert_ne!(spin(10), spin(11));
        assert_eq!(faulty(4), 40);
        assert_eq!(busy(1), 1);
        assert_eq!(nap(0), 0);
        assert!(rounds_for(Duration::from_millis(1)) >= 1);
    }

    #[test]
    #[should_panic(expected = "item 3 panics on purpose")]
    fn the_panic_item_panics() {
        faulty(PANIC_AT);
    }
}
