//! Races that replay: a forced schedule decides which worker takes each step, so a race that a
//! real machine loses only by luck is lost every time here.
//!
//! OSTEP's homework simulators do this with a seed or a string such as `-P 0011`: which thread
//! runs each instruction. Here the workers are real threads, and the calls an exercise gives them
//! (`Log::write`, `Counter::load`, `Account::lock`, ...) each begin with a *point*: the worker
//! waits there until the schedule says it is its *turn*, then runs its *step*, alone, until its
//! next point (or its end). So the interleaving is exactly the schedule's.
//!
//! A fixed exercise may block a worker outside any point: the lock it added (a `std` `Mutex`
//! sleeps in the kernel). Waiting for that worker's turn would then wait forever, so whoever
//! waits looks at the worker in `/proc`: asleep (`S`) outside a point five times in a row,
//! 1 ms apart, means it is blocked on something the schedule does not know, and the schedule
//! *lets go*: from then on the workers run free. A worker that takes no step for
//! [`LET_GO_AFTER`] (a spin lock) lets it go too. An unfixed exercise blocks nowhere but at its
//! points, so its schedule is followed to the end, and its result is the same on every run.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a schedule waits for a worker that is neither at a point nor asleep.
pub const LET_GO_AFTER: Duration = Duration::from_secs(2);

/// Which worker takes each turn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// No forcing: the operating system decides, as in a real program.
    Free,
    /// `rr`: each worker one step in turn, 0, 1, ..., n-1, 0, 1, ... (the default for races).
    RoundRobin,
    /// A string of worker numbers, `0011`, repeated until every worker is done.
    Listed(Vec<usize>),
}

impl std::str::FromStr for Schedule {
    type Err = String;

    /// `free`, `rr`, or digits (`0101`, `001`): the worker of each turn, repeated.
    fn from_str(text: &str) -> Result<Schedule, String> {
        match text {
            "free" => Ok(Schedule::Free),
            "rr" => Ok(Schedule::RoundRobin),
            "" => Err("an empty schedule: give rr, free, or worker numbers such as 0101".into()),
            digits => digits
                .chars()
                .map(|c| c.to_digit(10).map(|d| d as usize))
                .collect::<Option<Vec<usize>>>()
                .map(Schedule::Listed)
                .ok_or_else(|| {
                    format!("schedule \"{digits}\": give rr, free, or worker numbers such as 0101")
                }),
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Free => f.write_str("free"),
            Schedule::RoundRobin => f.write_str("rr"),
            Schedule::Listed(list) => list.iter().try_for_each(|w| write!(f, "{w}")),
        }
    }
}

impl Schedule {
    /// The worker named by turn `k` of `workers` (`None` when free). Turns naming a worker
    /// that is done, or that does not exist, are skipped by whoever uses the schedule.
    pub fn turn(&self, k: u64, workers: usize) -> Option<usize> {
        match self {
            Schedule::Free => None,
            Schedule::RoundRobin => Some((k % workers.max(1) as u64) as usize),
            Schedule::Listed(list) => Some(list[(k % list.len() as u64) as usize]),
        }
    }

    /// How many turns in a row may be skipped before none can name a live worker.
    fn period(&self, workers: usize) -> u64 {
        match self {
            Schedule::Listed(list) => list.len() as u64,
            _ => workers as u64,
        }
    }
}

/// The state every point reads: whose turn it is, who is done, who let the schedule go.
struct State {
    turn: u64,
    /// The worker running a step now: it took its turn and has not reached its next point.
    running: Option<usize>,
    done: Vec<bool>,
    tids: Vec<Option<i32>>,
    /// Why the schedule let go, once it has: the workers run free from then on.
    let_go: Option<String>,
}

/// One run's forced schedule, shared by its workers.
pub struct Turns {
    schedule: Schedule,
    state: Mutex<State>,
    moved: Condvar,
    /// Set while a worker is inside [`Turns::point`]: asleep there is waiting for its turn,
    /// not blocked elsewhere.
    at_point: Vec<AtomicBool>,
}

thread_local! {
    /// The worker number of this thread, set by [`Turns::enter`].
    static ME: Cell<Option<usize>> = const { Cell::new(None) };
}

/// This thread's worker number.
///
/// # Panics
/// On a thread that did not [`Turns::enter`]: a step taken outside a check's workers.
pub fn me() -> usize {
    ME.with(|me| me.get())
        .expect("a step taken outside the check's workers")
}

impl Turns {
    /// A schedule for `workers` workers.
    pub fn new(schedule: Schedule, workers: usize) -> Turns {
        Turns {
            schedule,
            state: Mutex::new(State {
                turn: 0,
                running: None,
                done: vec![false; workers],
                tids: vec![None; workers],
                let_go: None,
            }),
            moved: Condvar::new(),
            at_point: (0..workers).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned lock still holds consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by worker `me` on its own thread before its first step.
    pub fn enter(&self, me: usize) {
        ME.with(|cell| cell.set(Some(me)));
        self.lock().tids[me] = Some(rustix::thread::gettid().as_raw_nonzero().get());
    }

    /// Called by worker `me` after its last step: its turns are skipped from now on.
    pub fn leave(&self, me: usize) {
        let mut state = self.lock();
        state.done[me] = true;
        if state.running == Some(me) {
            state.running = None;
            state.turn += 1;
        }
        drop(state);
        self.moved.notify_all();
    }

    /// Why the schedule let go, if it did (for narration).
    pub fn let_go(&self) -> Option<String> {
        self.lock().let_go.clone()
    }

    /// The worker whose turn it is, skipping those that are done; `None` if none is left.
    fn current(&self, state: &mut State) -> Option<usize> {
        let workers = state.done.len();
        for _ in 0..self.schedule.period(workers) {
            match self.schedule.turn(state.turn, workers) {
                Some(w) if w < workers && !state.done[w] => return Some(w),
                _ => state.turn += 1,
            }
        }
        None
    }

    /// Ends this thread's step, if it was running one, then waits until it is this thread's
    /// turn and takes it: what the caller does until its next point (or [`Turns::leave`])
    /// runs alone.
    pub fn point(&self) {
        let me = me();
        if self.schedule == Schedule::Free {
            return;
        }
        self.at_point[me].store(true, SeqCst);
        let mut state = self.lock();
        if state.running == Some(me) {
            state.running = None;
            state.turn += 1;
            self.moved.notify_all();
        }
        let (mut seen_turn, mut since, mut asleep) = (state.turn, Instant::now(), 0);
        loop {
            if state.let_go.is_some() {
                break;
            }
            // The worker everyone waits for: the one running a step, or the one whose turn is
            // next.
            let watched = match state.running {
                Some(running) => running,
                None => match self.current(&mut state) {
                    Some(next) if next == me => {
                        state.running = Some(me);
                        break;
                    }
                    Some(next) => next,
                    None => {
                        state.let_go = Some("no worker left to schedule".into());
                        break;
                    }
                },
            };
            if state.turn != seen_turn {
                (seen_turn, since, asleep) = (state.turn, Instant::now(), 0);
            }
            let tid = state.tids[watched];
            // Read /proc without the lock, so that `watched` is not seen asleep on it.
            drop(state);
            let sleeping = !self.at_point[watched].load(SeqCst) && tid.is_some_and(is_asleep);
            asleep = if sleeping { asleep + 1 } else { 0 };
            state = self.lock();
            if state.turn == seen_turn && state.let_go.is_none() {
                if asleep >= 5 {
                    state.let_go = Some(format!("worker {watched} slept in a lock"));
                } else if since.elapsed() >= LET_GO_AFTER {
                    state.let_go = Some(format!("worker {watched} took no step for 2 s"));
                } else {
                    let wait = Duration::from_millis(1);
                    state = self
                        .moved
                        .wait_timeout(state, wait)
                        .map_or_else(|p| p.into_inner().0, |(guard, _)| guard);
                }
            }
        }
        drop(state);
        self.moved.notify_all();
        self.at_point[me].store(false, SeqCst);
    }
}

/// Whether thread `tid` of this process is asleep (`S`) now.
fn is_asleep(tid: i32) -> bool {
    let path = format!("/proc/self/task/{tid}/stat");
    // The state follows the last ')' (a thread's name may hold one).
    std::fs::read_to_string(path).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn schedules_parse_and_print() {
        for text in ["rr", "free", "0101", "0"] {
            assert_eq!(text.parse::<Schedule>().unwrap().to_string(), text);
        }
        assert!("01x".parse::<Schedule>().is_err());
        assert!("".parse::<Schedule>().is_err());
    }

    /// Round robin interleaves two workers' steps exactly, run after run.
    #[test]
    fn round_robin_interleaves_exactly() {
        for _ in 0..10 {
            let turns = Arc::new(Turns::new(Schedule::RoundRobin, 2));
            let log = Arc::new(Mutex::new(Vec::new()));
            let handles: Vec<_> = (0..2)
                .map(|w| {
                    let (turns, log) = (turns.clone(), log.clone());
                    std::thread::spawn(move || {
                        turns.enter(w);
                        for step in 0..3 {
                            turns.point();
                            log.lock().unwrap().push((w, step));
                        }
                        turns.leave(w);
                    })
                })
                .collect();
            handles.into_iter().for_each(|h| h.join().unwrap());
            let order = log.lock().unwrap().clone();
            assert_eq!(order, [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)]);
            assert_eq!(turns.let_go(), None);
        }
    }

    /// A worker asleep in a lock that the schedule does not know about lets the schedule go,
    /// instead of hanging both.
    #[test]
    fn a_worker_asleep_in_a_lock_lets_the_schedule_go() {
        let turns = Arc::new(Turns::new(Schedule::RoundRobin, 2));
        let lock = Arc::new(Mutex::new(()));
        let handles: Vec<_> = (0..2)
            .map(|w| {
                let (turns, lock) = (turns.clone(), lock.clone());
                std::thread::spawn(move || {
                    turns.enter(w);
                    turns.point();
                    let _held = lock.lock().unwrap();
                    for _ in 0..3 {
                        turns.point();
                    }
                    turns.leave(w);
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert!(turns.let_go().unwrap().contains("slept in a lock"));
    }
}
