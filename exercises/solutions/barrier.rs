//! # barrier: nobody goes on until everybody has arrived (solution)
//!
//! The last worker to arrive resets the count and moves the phase on, then wakes everyone.
//! The others sleep until the *phase* changes, not until the count reaches `parties`: by the
//! time a sleeper wakes, the count has been reset (and fast workers may already be arriving
//! for the next phase), so a sleeper waiting for the count would sleep through its own
//! wake-up.

use std::sync::{Condvar, Mutex};

/// What the barrier's lock guards.
struct State {
    /// Workers that have arrived in this phase.
    arrived: usize,
    /// How many phases have ended: a sleeper wakes for good when this moves on.
    phase: u64,
}

/// A reusable barrier for `parties` workers.
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
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.arrived += 1;
        if state.arrived == self.parties {
            // New: the last one resets for the next phase, then wakes the sleepers.
            state.arrived = 0;
            state.phase += 1;
            self.all_here.notify_all();
            return;
        }
        let mine = state.phase;
        let _state = self
            .all_here
            .wait_while(state, |s| s.phase == mine)
            .unwrap_or_else(|p| p.into_inner());
    }
}
