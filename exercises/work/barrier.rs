//! # barrier: nobody goes on until everybody has arrived
//!
//! **Goal.** Workers compute in phases; none may start the next phase before all have ended
//! this one. Write [`Barrier::wait`]: the last of `parties` workers to arrive wakes the others,
//! and the barrier is then ready for the next phase (it is used again and again).
//!
//! **Run.** `cargo run -p exercises -- check barrier` (at 2, 3 and 4 workers, three phases;
//! the check holds the last worker back until the others are asleep in `wait`, so a barrier
//! that lets anyone through early is caught every time).
//! Stuck? `cargo run -p exercises -- hint barrier`.
//!
//! **Time.** About 20 minutes.

use std::sync::{Condvar, Mutex};

/// What the barrier's lock guards.
#[allow(dead_code)] // The fields are read once `wait` is written.
struct State {
    /// Workers that have arrived in this phase.
    arrived: usize,
    /// How many phases have ended: a sleeper wakes for good when this moves on.
    phase: u64,
}

/// A reusable barrier for `parties` workers.
#[allow(dead_code)] // The fields are read once `wait` is written.
pub struct Barrier {
    parties: usize,
    state: Mutex<State>,
    all_here: Condvar,
}

impl Barrier {
    /// A barrier for `parties` workers.
    pub fn new(parties: usize) -> Barrier {
        Barrier {
            parties,
            state: Mutex::new(State {
                arrived: 0,
                phase: 0,
            }),
            all_here: Condvar::new(),
        }
    }

    /// Waits until all `parties` workers have called `wait` in this phase.
    pub fn wait(&self) {
        todo!("count yourself in; the last one starts the next phase and wakes everyone")
    }
}
