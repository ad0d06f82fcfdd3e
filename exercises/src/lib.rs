//! Exercises: the demos' lessons as work for a student. Each exercise is one file in `work/`
//! with the place to write marked (`todo!()`, or a `// TODO:` beside a bug that runs), a
//! doc comment that states the goal, what to run and how long it takes, a check, a hint and a
//! solution kept apart in `solutions/`.
//!
//! ```text
//! cargo run -p exercises -- list               every exercise, one a line, its name first
//! cargo run -p exercises -- check torn-lines   pass, or what is wrong in one line and a hint
//! cargo run -p exercises -- hint torn-lines    the hint alone
//! cargo run -p exercises -- check --all --solution   every solution (what CI runs)
//! ```
//!
//! Races replay ([`replay`]): where an exercise has a race (torn lines, a lost update, a
//! deadlock), its check forces the bad interleaving with a schedule in the style of OSTEP's
//! (`--schedule rr`, the default: each worker one step in turn), so an unfixed exercise fails
//! on every run, at 2, 3 and 4 workers, not by luck. `--schedule 0011` or `--schedule free`
//! shows other interleavings.
//!
//! Modules:
//! - [`work`]: the blanks, one file per exercise (`work/*.rs`), what a student edits;
//! - [`solutions`]: the same files solved (`solutions/*.rs`), behind the `solutions` feature;
//! - [`checks`]: one check per exercise, and the types the exercises use (`Log`, `Counter`,
//!   `Account`);
//! - [`replay`]: forced schedules; [`harness`]: bounded runs, panics caught as one line.

pub mod checks;
pub mod harness;
pub mod replay;
#[cfg(feature = "solutions")]
pub mod solutions;
pub mod work;

use common::demo::narrate::{conclude, header, say};
use harness::Verdict;
use replay::Schedule;
use std::io::{self, Write};

/// One exercise: what `list`, `hint` and `check` say and run.
pub struct Exercise {
    /// What the student types: `check <name>`.
    pub name: &'static str,
    /// One line on what the student builds or fixes.
    pub about: &'static str,
    /// The file the student edits, from the crate's folder.
    pub file: &'static str,
    /// About how long it takes.
    pub minutes: u32,
    /// Printed by `hint`, and after a failed check.
    pub hint: &'static str,
    /// The closing line's lesson, once it passes.
    pub lesson: &'static str,
    /// Whether the check forces a schedule (and so takes `--schedule`).
    pub replays: bool,
    check: fn(&mut dyn Write, &Schedule, bool) -> io::Result<Verdict>,
}

/// `$solved` names the solution's item if `solution`, else the blank's.
macro_rules! pick {
    ($solution:expr, $($path:ident)::+) => {{
        #[cfg(feature = "solutions")]
        let chosen = if $solution { solutions::$($path)::+ } else { work::$($path)::+ };
        #[cfg(not(feature = "solutions"))]
        let chosen = { let _ = $solution; work::$($path)::+ };
        chosen
    }};
}

checks::semaphore::permits!(work::semaphore::Semaphore);
#[cfg(feature = "solutions")]
checks::semaphore::permits!(solutions::semaphore::Semaphore);
checks::barrier::barrier!(work::barrier::Barrier);
#[cfg(feature = "solutions")]
checks::barrier::barrier!(solutions::barrier::Barrier);

/// Every exercise, in the order a course would take them.
pub const EXERCISES: [Exercise; 7] = [
    Exercise {
        name: "torn-lines",
        about: "a Mutex that keeps each line of a shared log whole",
        file: "work/torn_lines.rs",
        minutes: 10,
        hint: "Take `shared.lock` before the first piece and keep the guard until after the \
               last: `let _held = shared.lock.lock().unwrap();` at the top of `write_line`. A \
               guard taken inside the loop keeps only each piece whole.",
        lesson: "one lock held across the whole line keeps it whole",
        replays: true,
        check: |out, s, solution| {
            checks::torn_lines::check(out, s, pick!(solution, torn_lines::write_line))
        },
    },
    Exercise {
        name: "semaphore",
        about: "a semaphore from a Mutex and a Condvar: at most N at once",
        file: "work/semaphore.rs",
        minutes: 20,
        hint: "acquire: lock `free`, then `self.released.wait_while(guard, |free| *free == 0)`, \
               then take one (`*free -= 1`). release: add one under the lock, then \
               `notify_one()`. Wait in a loop (wait_while does): a wake-up only says that \
               something changed.",
        lesson: "a count under a lock, and a condition variable to sleep on while it is 0",
        replays: false,
        check: |out, _, solution| {
            #[cfg(feature = "solutions")]
            if solution {
                return checks::semaphore::check::<solutions::semaphore::Semaphore>(out);
            }
            let _ = solution;
            checks::semaphore::check::<work::semaphore::Semaphore>(out)
        },
    },
    Exercise {
        name: "deadlock",
        about: "fix a transfer that takes two locks in opposite orders",
        file: "work/deadlock.rs",
        minutes: 15,
        hint: "Give the locks one order that every worker follows: take the account with the \
               lower `id()` first, whichever way the money goes, then the other. A cycle of \
               waits then cannot form.",
        lesson: "one global order of locks leaves no cycle to wait in",
        replays: true,
        check: |out, s, solution| {
            checks::deadlock::check(out, s, pick!(solution, deadlock::transfer))
        },
    },
    Exercise {
        name: "lost-update",
        about: "a shared counter loses updates: fix it with an atomic or a lock",
        file: "work/lost_update.rs",
        minutes: 10,
        hint: "Load-then-store is two steps, and another worker stores between them. Use one \
               indivisible step, `counter.fetch_add(1);`, or make the two one with the lock: \
               `let mut held = counter.lock();` then `held.load()` and `held.store(..)`.",
        lesson: "fetch_add (or the lock) makes each increment one step",
        replays: true,
        check: |out, s, solution| {
            checks::lost_update::check(out, s, pick!(solution, lost_update::add_one))
        },
    },
    Exercise {
        name: "pool-map",
        about: "port a Python Pool.map program to the Pool trait",
        file: "work/pool_map.rs",
        minutes: 15,
        hint: "all_steps is one line: `pool.map(collatz_steps, numbers)` returns the Result \
               already. longest: walk `steps.iter().enumerate()` keeping the best so far, \
               replacing it only on a strictly larger count (the first maximum wins, as \
               Python's list.index); the number is the index + 1.",
        lesson: "a fn and its items: the same map on threads and processes",
        replays: false,
        check: |out, _, solution| {
            checks::pool_map::check(
                out,
                pick!(solution, pool_map::all_steps),
                pick!(solution, pool_map::all_steps),
                pick!(solution, pool_map::longest),
                pick!(solution, pool_map::collatz_steps),
            )
        },
    },
    Exercise {
        name: "pipeline",
        about: "a channel pipeline: a producer, N workers, a collector",
        file: "work/pipeline.rs",
        minutes: 20,
        hint: "For each worker, clone `from_producer` and `to_collector` and spawn \
               `for n in from_producer { to_collector.send(n * n)... }` on the scope. Then \
               `drop(to_collector)`: the collector's `from_workers.iter().sum()` ends only \
               when every sender is gone, yours too.",
        lesson: "a loop over a channel ends when the last sender is dropped",
        replays: false,
        check: |out, _, solution| {
            checks::pipeline::check(out, pick!(solution, pipeline::sum_of_squares))
        },
    },
    Exercise {
        name: "barrier",
        about: "a barrier: nobody starts phase 2 before all end phase 1",
        file: "work/barrier.rs",
        minutes: 20,
        hint: "Under the lock: count yourself in. The last to arrive sets `arrived = 0`, moves \
               `phase` on and calls `notify_all()`. The others remember the phase they \
               arrived in and `wait_while(guard, |s| s.phase == mine)`: wait for the phase to \
               change, not for the count (it is reset by the time they wake).",
        lesson: "sleep until the phase changes, not until a count that is reset",
        replays: false,
        check: |out, _, solution| {
            #[cfg(feature = "solutions")]
            if solution {
                return checks::barrier::check::<solutions::barrier::Barrier>(out);
            }
            let _ = solution;
            checks::barrier::check::<work::barrier::Barrier>(out)
        },
    },
];

/// The exercise named `name`.
pub fn find(name: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|e| e.name == name)
}

/// Writes `list`: one exercise a line, its name first.
///
/// # Errors
/// Only the writer's.
pub fn list(out: &mut impl Write) -> io::Result<()> {
    for e in &EXERCISES {
        writeln!(out, "{:<12} {:>2} min  {}", e.name, e.minutes, e.about)?;
    }
    Ok(())
}

/// Writes `hint <name>`.
///
/// # Errors
/// Only the writer's.
pub fn hint(out: &mut impl Write, e: &Exercise) -> io::Result<()> {
    say(out, &format!("hint ({}): {}", e.name, e.hint))
}

/// Runs the check of `e`, the solution's if `solution`, and writes its lines: a header, what
/// it saw, and `result: ... [ok]`, or `result: ... [FAILED]` and the hint. Returns whether it
/// passed.
///
/// # Errors
/// The writer's, or the check's own (a segment it could not make).
pub fn check(
    out: &mut impl Write,
    e: &Exercise,
    schedule: &Schedule,
    solution: bool,
) -> io::Result<bool> {
    let which = if solution { "solution" } else { "your work" };
    let file = e
        .file
        .replace("work/", if solution { "solutions/" } else { "work/" });
    let mut params = vec![("file", file), ("checks", which.to_string())];
    if e.replays {
        params.push(("schedule", schedule.to_string()));
    }
    header(out, &format!("check {}", e.name), e.about, &params)?;
    harness::quiet_panics();
    let verdict = (e.check)(out, schedule, solution)?;
    let passed = verdict.is_ok();
    let what = match verdict {
        Ok(saw) | Err(saw) => format!("{}: {saw}", e.name),
    };
    if conclude(out, passed, &what, e.lesson).is_err() {
        hint(out, e)?;
    }
    Ok(passed)
}
