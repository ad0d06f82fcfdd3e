//! Exercises for students, in MPI: `mpi-demo exercise list | check <name> | hint <name>`, the
//! way the `exercises` crate runs its own (which stays free of Open MPI).
//!
//! One exercise: `reduce`. The blank is `exercises/reduce.rs` (module [`reduce`]), its solution
//! `solutions/reduce.rs` (module `solved`, behind the `solutions` feature, on by default). The
//! student writes a tree reduce of per-rank partial sums by hand, with [`Link`]'s `send` and
//! `receive`; MPI does the same inside `MPI_Reduce`.
//!
//! The check runs the student's code in child jobs (`mpirun -n 3, 4, 5` of this program: rank 0
//! submits, and 2, 3 and 4 worker ranks meet as a team, a non-power of two among them), under
//! the watchdog (`watchdog`): a panic ends its job through the team's guard, a receive that no
//! send matches is ended by the watchdog, and either is reported in one line with the hint. An
//! unsolved blank therefore fails at once, at its `todo!()`, and never hangs.

mod job;
mod judge;
mod link;

pub use job::{job_main, partial_sum, reduce_task, Report, NUMBERS};
pub use judge::{judge, sequential_sum, tree_rounds, Outcome, Seen};
pub use link::Link;

/// The blank: the file the student edits, `exercises/reduce.rs`.
#[path = "../exercises/reduce.rs"]
pub mod reduce;
/// The blank solved: `solutions/reduce.rs`.
#[cfg(feature = "solutions")]
#[path = "../solutions/reduce.rs"]
pub mod solved;

use crate::watchdog::{self, Watch};
use common::demo::narrate::{conclude, header, plural, say};
use std::io::Write;
use std::time::Duration;

/// The team sizes the check runs, in order; it stops at the first failure.
pub const RANKS: [usize; 3] = [2, 3, 4];
/// How long a team may run before the watchdog calls it stuck: a reduce of a few messages
/// takes milliseconds, even on a busy machine.
pub const PATIENCE: Duration = Duration::from_secs(10);
/// The bound on a whole child job, start-up included.
const JOB_LIMIT: Duration = Duration::from_secs(60);

/// One exercise: what `list`, `hint` and `check` say.
pub struct Exercise {
    /// What the student types: `check <name>`.
    pub name: &'static str,
    /// One line on what the student builds.
    pub about: &'static str,
    /// The file the student edits, from the crate's folder.
    pub file: &'static str,
    /// About how long it takes.
    pub minutes: u32,
    /// Printed by `hint`, and after a failed check.
    pub hint: &'static str,
    /// The closing line's lesson, once it passes.
    pub lesson: &'static str,
}

/// Every exercise of this crate.
pub const EXERCISES: [Exercise; 1] = [Exercise {
    name: "reduce",
    about: "partial sums to rank 0 in a tree of sends and receives",
    file: "exercises/reduce.rs",
    minutes: 20,
    hint: "Loop with step = 1, 2, 4, ... while step < size. A rank with \
           `me % (2 * step) == step` sends its total to `me - step` and returns None; any \
           other rank receives from `me + step` if that rank exists (`me + step < size`) and \
           adds. Rank 0 never sends: after the loop it returns Some(total).",
    lesson: "a tree adds n sums in ⌈log2 n⌉ rounds, as MPI_Reduce does inside",
}];

/// The exercise named `name`.
pub fn find(name: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|e| e.name == name)
}

/// Writes `list`: one exercise a line, its name first.
///
/// # Errors
/// Only the writer's.
pub fn list(out: &mut impl Write) -> std::io::Result<()> {
    for e in &EXERCISES {
        writeln!(out, "{:<12} {:>2} min  {}", e.name, e.minutes, e.about)?;
    }
    Ok(())
}

/// Writes `hint <name>`.
///
/// # Errors
/// Only the writer's.
pub fn hint(out: &mut impl Write, e: &Exercise) -> std::io::Result<()> {
    say(out, &format!("hint ({}): {}", e.name, e.hint))
}

/// Runs the check of `e` (the solution's if `solution`) and writes its lines: a header, what
/// each job showed, and `result: ... [ok]`, or `result: ... [FAILED]` and the hint. Returns
/// whether it passed.
///
/// # Errors
/// A child job that could not start or did not reach its team, or the writer's error.
pub fn check(out: &mut impl Write, e: &Exercise, solution: bool) -> anyhow::Result<bool> {
    let (file, which) = if solution {
        (e.file.replace("exercises/", "solutions/"), "solution")
    } else {
        (e.file.to_string(), "your work")
    };
    let ranks: Vec<String> = RANKS.iter().map(usize::to_string).collect();
    header(
        out,
        &format!("check {}", e.name),
        e.about,
        &[
            ("file", file),
            ("checks", which.to_string()),
            ("ranks", ranks.join(",")),
        ],
    )?;
    writeln!(
        out,
        "each team is a child job of mpirun (its rank 0 submits); ranks as link.rank() sees them"
    )?;
    let mut seen = Vec::new();
    let mut failed = None;
    for ranks in RANKS {
        writeln!(out, "{ranks} ranks, mpirun -n {}:", ranks + 1)?;
        out.flush()?;
        let outcome = run_job(ranks, solution)?;
        if let Outcome::Reports(reports) = &outcome {
            tell(out, reports)?;
        }
        match judge(ranks, &outcome) {
            Ok(s) => seen.push(s),
            Err(why) => {
                failed = Some(format!("{ranks} ranks: {why}"));
                break;
            }
        }
    }
    let what = match &failed {
        Some(why) => format!("{}: {why}", e.name),
        None => {
            let rounds: Vec<String> = seen.iter().map(|s| s.rounds.to_string()).collect();
            format!(
                "{}: {} ranks: {} on rank 0 in {} rounds, as a tree; MPI's reduce agrees",
                e.name,
                ranks.join(", "),
                sequential_sum(),
                rounds.join(", ")
            )
        }
    };
    if conclude(out, failed.is_none(), what, e.lesson).is_err() {
        hint(out, e)?;
    }
    Ok(failed.is_none())
}

/// What each rank did, and rank 0's total beside the sequential sum and MPI's.
fn tell(out: &mut impl Write, reports: &[Report]) -> std::io::Result<()> {
    for r in reports {
        let total = match r.returned {
            Some(total) => format!(
                "; returned {total} after {}",
                plural(r.rounds as usize, "round", "rounds")
            ),
            None => String::new(),
        };
        writeln!(
            out,
            "   {} holds {}; received {}, sent {}{total}",
            crate::rank_tag(r.rank),
            r.value,
            r.received,
            r.sent
        )?;
    }
    let by_mpi = reports.first().and_then(|r| r.by_mpi);
    writeln!(
        out,
        "   sequential sum {}; MPI's reduce (reduce_into_root) gave {}",
        sequential_sum(),
        by_mpi.map_or("nothing".to_string(), |v| v.to_string())
    )
}

/// Runs one child job of `ranks` worker ranks under the watchdog, and says how it ended.
fn run_job(ranks: usize, solution: bool) -> anyhow::Result<Outcome> {
    let started = |line: &str| line == job::STARTS;
    let watch = Watch {
        trigger: &started,
        patience: PATIENCE,
        limit: JOB_LIMIT,
    };
    let mut args = vec!["reduce-job"];
    if solution {
        args.push("--solution");
    }
    let job = watchdog::run(ranks + 1, &args, &[], &watch)?;
    if job.killed.is_some() {
        return Ok(Outcome::Hung(job.after_trigger.unwrap_or(PATIENCE)));
    }
    let panicked = job
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix(job::PANICKED));
    if let Some(line) = panicked {
        return Ok(Outcome::Panicked(line.to_string()));
    }
    let reports: Vec<Report> = job.stdout.lines().filter_map(Report::parse).collect();
    if job.status.success() && !reports.is_empty() {
        return Ok(Outcome::Reports(reports));
    }
    let why = job
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .map_or_else(
            || common::demo::sys::describe_exit(job.status),
            |l| l.to_string(),
        );
    Ok(Outcome::Ended(why))
}
