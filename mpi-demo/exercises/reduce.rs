//! # reduce: partial sums to rank 0 in a tree of messages, as `MPI_Reduce` does it
//!
//! **Goal.** Each of n ranks holds a partial sum; rank 0 must end with their total. Rank 0 could
//! receive from rank 1, then 2, then 3, ...: n - 1 receives, one after another, while the other
//! ranks wait their turn. A tree takes ⌈log2 n⌉ rounds, because every round halves the ranks
//! that still hold a sum:
//!
//! ```text
//! round 1:  1 -> 0   3 -> 2   5 -> 4   7 -> 6     (step 1: odd ranks send, and are done)
//! round 2:  2 -> 0   6 -> 4                       (step 2)
//! round 3:  4 -> 0                                (step 4: rank 0 holds the total)
//! ```
//!
//! Write [`reduce`] with `link.send(to, value)` and `link.receive(from)` (each is one MPI
//! message, rsmpi's `process_at_rank(..).send` and `receive_into`). It must work for any n, not
//! only powers of two: with 3 ranks, rank 2 has nobody to receive from in round 1.
//!
//! **Run.** In `mpi-demo/`: `cargo run -- exercise check reduce` (child jobs under `mpirun`
//! with teams of 2, 3 and 4 ranks; rank 0's total against the sequential sum and against
//! MPI's own reduce, and the number of rounds against a tree's).
//! Stuck? `cargo run -- exercise hint reduce`.
//!
//! **Time.** About 20 minutes.

use crate::exercise::Link;

/// The sum of every rank's `value`: `Some(total)` on rank 0, `None` on every other rank.
pub fn reduce(link: &Link, value: u64) -> Option<u64> {
    let _unused = (link, value); // (Only quiets the compiler: remove it.)
    todo!("a tree of sends and receives: step 1, 2, 4, ... while step < link.size()")
}
