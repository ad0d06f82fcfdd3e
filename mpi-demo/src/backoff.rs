//! Waiting for a message that MPI can only be asked about: spin first, then sleep a little.
//!
//! MPI has no way to wake a thread when a message arrives: a rank either blocks inside MPI
//! (Open MPI's blocking receive spins at 100 % of a core) or polls (`MPI_Improbe`) and sleeps
//! in between. Polling has a trap, measured on this kind of machine (2 cores): when *both*
//! sides back off, each one's sleep lengthens the other's wait, and a submit/wait loop took
//! 2.7-3.0 ms per round trip. Spinning about 1 ms before sleeping, and capping the program's
//! sleep at 100 µs, brought it to 24 µs: an answer that comes quickly is caught while spinning,
//! and a rank that waits long costs a core for 1 ms only, then almost nothing. mpi4py.futures
//! falls into the same trap (3.3 ms per round trip with its defaults).

use std::time::{Duration, Instant};

/// How long a waiting rank spins before it starts to sleep.
pub const SPIN: Duration = Duration::from_millis(1);
/// The longest sleep of the program's MPI thread: it answers the user, so it stays quick.
pub const PROGRAM_CAP: Duration = Duration::from_micros(100);
/// The longest sleep of a worker rank: an idle worker should leave its core to others; one
/// that has just answered is still spinning when the next task comes.
pub const WORKER_CAP: Duration = Duration::from_millis(1);
const FIRST_SLEEP: Duration = Duration::from_micros(5);

/// One waiter's back-off state: call [`Backoff::reset`] on every message, [`Backoff::pause`]
/// when a poll found nothing.
#[derive(Debug)]
pub struct Backoff {
    idle_since: Instant,
    sleep: Duration,
    cap: Duration,
}

/// What [`Backoff::pause`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Pause {
    /// Poll again at once (still in the spin phase).
    Spin,
    /// Sleep (or wait on something that can wake us) this long, then poll again.
    Sleep(Duration),
}

impl Backoff {
    /// A back-off whose sleeps double from 5 µs up to `cap`.
    pub fn new(cap: Duration) -> Backoff {
        Backoff {
            idle_since: Instant::now(),
            sleep: FIRST_SLEEP,
            cap,
        }
    }

    /// Something arrived: the next wait spins again.
    pub fn reset(&mut self) {
        self.idle_since = Instant::now();
        self.sleep = FIRST_SLEEP;
    }

    /// Nothing arrived: spin or sleep, and how long.
    pub fn pause(&mut self) -> Pause {
        if self.idle_since.elapsed() < SPIN {
            std::hint::spin_loop();
            return Pause::Spin;
        }
        let sleep = self.sleep;
        self.sleep = (self.sleep * 2).min(self.cap);
        Pause::Sleep(sleep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spins_first_then_sleeps_longer_up_to_the_cap() {
        let mut backoff = Backoff::new(PROGRAM_CAP);
        assert_eq!(backoff.pause(), Pause::Spin);
        std::thread::sleep(SPIN);
        let sleeps: Vec<Pause> = (0..7).map(|_| backoff.pause()).collect();
        let micros = |p: &Pause| match p {
            Pause::Sleep(d) => d.as_micros(),
            Pause::Spin => 0,
        };
        let micros: Vec<u128> = sleeps.iter().map(micros).collect();
        assert_eq!(micros, vec![5, 10, 20, 40, 80, 100, 100]);
        backoff.reset();
        assert_eq!(backoff.pause(), Pause::Spin);
    }
}
