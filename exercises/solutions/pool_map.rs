//! # pool-map: a Python `Pool.map` program, ported (solution)
//!
//! `pool.map(collatz_steps, numbers)` is Python's line word for word: the function goes by
//! name (a plain `fn`, so a process worker can find it in its own copy of the program), the
//! items are moved in, the results come back in order. What Python raises, Rust returns: a
//! failed task is an `Err`, passed on with `?`. `longest` keeps the *first* maximum, as
//! `list.index` does: `max_by_key` would keep the last, so compare with `>` by hand.

use common::Pool;

/// The number of Collatz steps from `n` down to 1.
pub fn collatz_steps(n: u64) -> u32 {
    let (mut n, mut steps) = (n, 0);
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

/// `collatz_steps` of every number of `numbers`, in order, run on `pool`.
///
/// # Errors
/// The pool's error if a task failed (a panic, a worker process that died).
pub fn all_steps<P: Pool>(pool: &P, numbers: Vec<u64>) -> Result<Vec<u32>, common::Error> {
    pool.map(collatz_steps, numbers)
}

/// The number with the most steps and its steps; the first such number if several tie.
/// `steps[i]` belongs to the number `i + 1`. `None` for no steps at all.
pub fn longest(steps: &[u32]) -> Option<(u64, u32)> {
    let mut best: Option<(u64, u32)> = None;
    for (i, &s) in steps.iter().enumerate() {
        if best.is_none_or(|(_, most)| s > most) {
            best = Some((i as u64 + 1, s));
        }
    }
    best
}
