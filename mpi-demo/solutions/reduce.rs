//! # reduce: partial sums to rank 0 in a tree of messages, as `MPI_Reduce` does it (solution)
//!
//! In the round of `step` (1, 2, 4, ...), the ranks still holding a sum are the multiples of
//! `step`. Half of them, the odd multiples (`rank % (2 * step) == step`), send their sum to
//! `rank - step` and are done; the other half receive from `rank + step`, if that rank exists,
//! and add. The check `rank + step < size` is all that a number of ranks other than a power of
//! two needs: a rank whose partner is missing just carries its sum to the next round. Every
//! rank but 0 has a lowest set bit, so each sends exactly once, in the round of that bit; rank
//! 0 never sends, and holds the total when `step` reaches the size.
//!
//! Each send is matched by exactly one receive, posted by a rank that will take it: a blocking
//! send can never wait for ever here, whatever the message size (compare `ring-deadlock`).

use crate::exercise::Link;

/// The sum of every rank's `value`: `Some(total)` on rank 0, `None` on every other rank.
pub fn reduce(link: &Link, value: u64) -> Option<u64> {
    let (me, size) = (link.rank(), link.size());
    let mut total = value;
    let mut step = 1;
    while step < size {
        if me % (2 * step) == step {
            link.send(me - step, total);
            return None;
        }
        if me + step < size {
            total += link.receive(me + step);
        }
        step *= 2;
    }
    // Only rank 0 gets here: every other rank sent, and returned, in the round of its lowest bit.
    Some(total)
}
