//! # pool-map: a Python `Pool.map` program, ported
//!
//! **Goal.** Port this Python program to the workspace's `Pool` trait, so that the same code
//! runs on a `ThreadPool` and on a `ProcessPool`:
//!
//! ```python
//! from multiprocessing import Pool
//!
//! def collatz_steps(n):
//!     steps = 0
//!     while n != 1:
//!         n = n // 2 if n % 2 == 0 else 3 * n + 1
//!         steps += 1
//!     return steps
//!
//! if __name__ == "__main__":
//!     with Pool() as pool:
//!         steps = pool.map(collatz_steps, range(1, 10_001))
//!     longest = max(steps)
//!     print(steps.index(longest) + 1, longest)
//! ```
//!
//! [`collatz_steps`] is ported already. Write [`all_steps`] (the `pool.map` line) and
//! [`longest`] (the last two lines). The `if __name__ == "__main__":` guard has a Rust twin:
//! `common::init()`, the first line of this crate's `main`, where a process worker starts.
//!
//! **Run.** `cargo run -p exercises -- check pool-map` (a thread pool and a process pool of 2
//! workers, against a plain loop).
//! Stuck? `cargo run -p exercises -- hint pool-map`.
//!
//! **Time.** About 15 minutes.

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
    let _unused = (pool, numbers); // (Only quiets the compiler: remove it.)
    todo!("pool.map(...), as Python's pool.map(collatz_steps, range(1, 10_001))")
}

/// The number with the most steps and its steps; the first such number if several tie.
/// `steps[i]` belongs to the number `i + 1`. `None` for no steps at all.
pub fn longest(steps: &[u32]) -> Option<(u64, u32)> {
    let _unused = steps; // (Only quiets the compiler: remove it.)
    todo!("Python's steps.index(max(steps)) + 1, and max(steps)")
}
