//! A schedule forced on the bounded buffer: a script of turns, and hook points where each actor
//! waits for its turn, so a race that breaks a variant happens every run, with threads or
//! processes alike.
//!
//! OSTEP forces its schedules with sleeps (`-P 1,0,0`); a busy machine can reorder sleeps.
//! Here the buffer's monitor (a [`Stage`], seen through an [`Actor`]) has three hook points:
//!
//! | hook point | where | what happens |
//! |---|---|---|
//! | lock | before taking the lock for the next `put` or `get` | ends its turn, waits for one |
//! | asleep | in `wait`, with a ticket, after letting go of the lock | ends its turn and sleeps |
//! | woken | in `wait`, once signalled, before taking the lock again | waits for its turn |
//!
//! The script names whose turn comes next. An actor asleep (not yet signalled) or done when the
//! script names it is passed over, so one script serves all four variants. When the script
//! passes over everyone because every actor not done is asleep, nobody is left to signal: the
//! run ends as "all asleep" at once, as Go's runtime reports "all goroutines are asleep". Turns
//! are a word (`turn`) that waiters sleep on with the same futex as the condition variable, so
//! every wait is bounded and the same code runs in one process or across several: a `Stage` is
//! plain atomics, valid in a shared segment (its promise is in `sys/shareable.rs`).

use std::cell::Cell;
use std::sync::atomic::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, Release},
};
use std::time::{Duration, Instant};

use common::demo::segment::{Lock, LockGuard};

mod events;
mod schedules;

pub use events::Event;
pub use schedules::SCHEDULES;

use crate::bounded_buffer::{self, Broke, Buffer, Change, Monitor, Variant, VARIANTS};
use crate::shared_condvar::{FifoCondvar, Wake};
use crate::sys::{wait_while, wake_all};
use events::{decode, encode};

/// Actors in every schedule.
pub const ACTORS: usize = 3;
/// Runs of each variant under each schedule.
pub const RUNS: usize = 10;
/// Events a stage keeps for narration.
const LOG: usize = 24;
/// The bound of every wait for a turn, a signal or the lock.
const PATIENCE: Duration = Duration::from_secs(5);
/// How often a waiter for its turn looks at the run's outcome even if nobody woke it.
const RECHECK: Duration = Duration::from_millis(50);

/// A producer or a consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Producer,
    Consumer,
}

/// How a run ended (stored as a `u32` in its stage; 0 while it runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Running = 0,
    Passed = 1,
    OverFull = 2,
    TookNothing = 3,
    AllAsleep = 4,
    Stuck = 5,
    ScriptRanOut = 6,
}

impl Outcome {
    fn from_word(word: u32) -> Outcome {
        use Outcome::*;
        [
            Running,
            Passed,
            OverFull,
            TookNothing,
            AllAsleep,
            Stuck,
            ScriptRanOut,
        ]
        .into_iter()
        .find(|o| *o as u32 == word)
        .unwrap_or(Stuck)
    }

    /// How a table cell says it: `passed`, `over-full`, ...
    pub fn words(self) -> &'static str {
        match self {
            Outcome::Running => "unfinished",
            Outcome::Passed => "passed",
            Outcome::OverFull => "over-full",
            Outcome::TookNothing => "took nothing",
            Outcome::AllAsleep => "all asleep",
            Outcome::Stuck => "stuck",
            Outcome::ScriptRanOut => "script ran out",
        }
    }
}

/// A schedule: its actors, the script of turns, what each variant does under it.
#[derive(Debug)]
pub struct Schedule {
    /// What the script makes happen: `a consumer barges in`.
    pub name: &'static str,
    /// Each actor: its name in narration, its side, how many items it puts or takes.
    pub actors: [(&'static str, Side, u32); ACTORS],
    /// Whose turn comes next, by actor index.
    pub script: &'static [u8],
    /// The variant whose first run is narrated step by step.
    pub shown: Variant,
    /// What each of [`VARIANTS`] does under this schedule, every run.
    pub expected: [Outcome; 4],
}

/// One run's shared state: the buffer under its lock, two condition variables, the turns, the
/// outcome and a log of events. All zeros is a new run (as a new segment is).
#[derive(Debug, Default)]
#[repr(C)]
pub struct Stage {
    buffer: Lock<Buffer>,
    cvs: [FifoCondvar; 2],
    /// Index into the script of the actor whose turn it is.
    turn: AtomicU32,
    /// An [`Outcome`] as a word.
    outcome: AtomicU32,
    /// Per actor: 0, or 1 + the condition variable it sleeps on.
    asleep_on: [AtomicU32; ACTORS],
    /// Per actor: its ticket in that condition variable's line.
    ticket: [AtomicU32; ACTORS],
    /// Per actor: non-zero once it has done all its work.
    done: [AtomicU32; ACTORS],
    log: [AtomicU32; LOG],
    logged: AtomicU32,
}

impl Stage {
    /// How the run ended ([`Outcome::Running`] if it has not).
    pub fn outcome(&self) -> Outcome {
        Outcome::from_word(self.outcome.load(Acquire))
    }

    /// The actors left asleep on a condition variable (for an "all asleep" run).
    pub fn sleepers(&self) -> Vec<usize> {
        (0..ACTORS)
            .filter(|&a| self.asleep_on[a].load(Acquire) != 0 && self.done[a].load(Acquire) == 0)
            .collect()
    }

    /// The run's events as `(actor, event)`, in order.
    pub fn events(&self) -> Vec<(usize, Event)> {
        let n = (self.logged.load(Acquire) as usize).min(LOG);
        self.log[..n]
            .iter()
            .filter_map(|w| decode(w.load(Acquire)))
            .collect()
    }

    fn record(&self, actor: usize, event: Event) {
        let at = self.logged.fetch_add(1, AcqRel) as usize;
        if let Some(word) = self.log.get(at) {
            word.store(encode(actor, event), Release);
        }
    }

    fn is_over(&self) -> bool {
        self.outcome() != Outcome::Running
    }

    /// Ends the run with `outcome` (the first end wins) and wakes every waiter to see it.
    fn end(&self, outcome: Outcome) {
        let _ = self
            .outcome
            .compare_exchange(0, outcome as u32, AcqRel, Acquire);
        wake_all(&self.turn);
        self.cvs.iter().for_each(FifoCondvar::nudge);
    }

    /// Whether `actor` can run: not done, and not asleep on a ticket nobody has woken.
    fn runnable(&self, actor: usize) -> bool {
        if self.done[actor].load(Acquire) != 0 {
            return false;
        }
        let on = self.asleep_on[actor].load(Acquire) as usize;
        match on.checked_sub(1).and_then(|cv| self.cvs.get(cv)) {
            Some(cv) => cv.is_woken(self.ticket[actor].load(Acquire)),
            None => true,
        }
    }

    /// Gives the turn to the next runnable actor the script names; at the script's end, ends
    /// the run: passed if all are done, all asleep if nobody can run.
    fn pass_turn(&self, script: &[u8]) {
        let mut next = self.turn.load(Acquire) as usize + 1;
        while let Some(&who) = script.get(next) {
            if self.runnable(who.into()) {
                self.turn.store(next as u32, Release);
                wake_all(&self.turn);
                return;
            }
            next += 1;
        }
        let outcome = if (0..ACTORS).all(|a| self.done[a].load(Acquire) != 0) {
            Outcome::Passed
        } else if (0..ACTORS).any(|a| self.runnable(a)) {
            Outcome::ScriptRanOut
        } else {
            Outcome::AllAsleep
        };
        self.end(outcome);
    }
}

/// One actor of a run: the monitor through which its `put`s and `get`s go, with the hook points.
pub struct Actor<'a> {
    stage: &'a Stage,
    schedule: &'a Schedule,
    me: usize,
    variant: Variant,
    holds_turn: Cell<bool>,
}

impl Actor<'_> {
    /// Waits until the script names this actor (at most [`PATIENCE`]).
    fn wait_turn(&self) -> Result<(), Broke> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.stage.is_over() {
                return Err(Broke::Stopped);
            }
            let turn = self.stage.turn.load(Acquire);
            if self.schedule.script.get(turn as usize) == Some(&(self.me as u8)) {
                self.holds_turn.set(true);
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.stage.end(Outcome::Stuck);
                return Err(Broke::Stuck);
            }
            wait_while(&self.stage.turn, turn, left.min(RECHECK));
        }
    }

    fn pass_turn(&self) {
        if self.holds_turn.replace(false) {
            self.stage.pass_turn(self.schedule.script);
        }
    }

    fn take_lock(&self) -> Result<LockGuard<'_, Buffer>, Broke> {
        self.stage.buffer.lock().map_err(|_| Broke::Stuck)
    }

    /// Does this actor's work; a broken invariant ends the run with its outcome.
    fn run(&self) {
        let (_, side, items) = self.schedule.actors[self.me];
        for _ in 0..items {
            let done = match side {
                Side::Producer => bounded_buffer::put(self, self.variant),
                Side::Consumer => bounded_buffer::get(self, self.variant).map(drop),
            };
            let broke = match done {
                Ok(()) => continue,
                Err(Broke::OverFull) => Outcome::OverFull,
                Err(Broke::TookNothing) => Outcome::TookNothing,
                // The run is over already, with its outcome.
                Err(_) => return,
            };
            self.stage.record(self.me, Event::Broke(broke));
            self.stage.end(broke);
            return;
        }
        // Hook point "done": the turn passes, never to come back here.
        self.stage.done[self.me].store(1, Release);
        self.pass_turn();
    }
}

impl Monitor for Actor<'_> {
    type Guard<'g>
        = LockGuard<'g, Buffer>
    where
        Self: 'g;

    fn lock(&self) -> Result<LockGuard<'_, Buffer>, Broke> {
        // Hook point "lock": the previous operation's turn ends; this one starts at its turn.
        self.pass_turn();
        self.wait_turn()?;
        self.take_lock()
    }

    fn wait<'g>(
        &'g self,
        cv: usize,
        guard: LockGuard<'g, Buffer>,
    ) -> Result<LockGuard<'g, Buffer>, Broke> {
        let line = &self.stage.cvs[cv];
        let ticket = line.enqueue();
        let count = guard.count();
        self.stage.record(self.me, Event::Waits { cv, count });
        self.stage.ticket[self.me].store(ticket, Release);
        self.stage.asleep_on[self.me].store(cv as u32 + 1, Release);
        drop(guard);
        // Hook point "asleep": the turn passes while this actor sleeps.
        self.pass_turn();
        match line.sleep(ticket, PATIENCE, || self.stage.is_over()) {
            Wake::Signalled => {}
            Wake::Stopped => return Err(Broke::Stopped),
            Wake::TimedOut => {
                self.stage.end(Outcome::Stuck);
                return Err(Broke::Stuck);
            }
        }
        // Hook point "woken": back in line for a turn before taking the lock again.
        self.wait_turn()?;
        self.stage.asleep_on[self.me].store(0, Release);
        self.stage.record(self.me, Event::Woken);
        self.take_lock()
    }

    fn signal(&self, cv: usize) {
        let woke = self.stage.cvs[cv].signal().and_then(|ticket| {
            (0..ACTORS).find(|&a| {
                self.stage.asleep_on[a].load(Acquire) == cv as u32 + 1
                    && self.stage.ticket[a].load(Acquire) == ticket
            })
        });
        self.stage.record(self.me, Event::Signals { cv, woke });
    }

    fn note(&self, change: Change) {
        self.stage.record(self.me, Event::Changed(change));
    }
}

/// What each thread or process of a schedule does: actor `me`'s part in every run, one
/// [`Stage`] per run, [`RUNS`] runs of each variant in [`VARIANTS`] order.
pub fn perform(stages: &[Stage], schedule: &Schedule, me: usize) {
    for (k, stage) in stages.iter().enumerate() {
        let actor = Actor {
            stage,
            schedule,
            me,
            variant: VARIANTS[(k / RUNS).min(VARIANTS.len() - 1)],
            holds_turn: Cell::new(false),
        };
        actor.run();
    }
}

/// The stages of one schedule's runs: [`RUNS`] of each variant.
pub type Stages = [Stage; RUNS * 4];

/// A fresh set of stages (all zeros, as in a new segment).
pub fn fresh_stages() -> Box<Stages> {
    Box::new(std::array::from_fn(|_| Stage::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant does what its schedule expects, every run (threads, in this process).
    #[test]
    fn each_schedule_breaks_what_it_aims_at() {
        for schedule in &SCHEDULES {
            let stages = fresh_stages();
            std::thread::scope(|s| {
                for me in 0..ACTORS {
                    let stages = &stages;
                    s.spawn(move || perform(&stages[..], schedule, me));
                }
            });
            for (k, stage) in stages.iter().enumerate() {
                let expected = schedule.expected[k / RUNS];
                assert_eq!(stage.outcome(), expected, "{}, run {k}", schedule.name);
            }
        }
    }
}
