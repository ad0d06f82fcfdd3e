//! A bounded buffer in OSTEP's four variants (`if` or `while`, one condition variable or two);
//! forced schedules break the three wrong ones in every run, and the right one passes.
//!
//! A condition variable is a place to sleep until a condition *may* have changed; the
//! condition itself lives under the lock and is the sleeper's to check. Three schedules show
//! what goes wrong when it does not (`bounded_buffer.rs` has the code): a consumer barges in
//! between a signal and the woken consumer's return, so an `if` consumer takes from an empty
//! buffer; a producer barges in the same way, so an `if` producer over-fills; and with one
//! condition variable, a consumer's signal wakes the other consumer instead of the producer, so
//! a `while` consumer goes back to sleep and every actor left is asleep. Each schedule is a
//! script of turns taken at named hook points (`forced_schedule.rs`), not a sleep, so the bug
//! comes every run: 10 of 10, for threads and for processes.
//!
//! Across processes the buffer, its lock, both condition variables and the turns live in a
//! shared segment. The condition variable is this crate's own (`shared_condvar.rs`): a line of
//! tickets over a futex, the word the barrier sleeps on too. A process-shared pthread condition
//! variable would do for a correct buffer, but it wakes "one waiter", unnamed, so a schedule
//! that needs consumer 2 woken and not the producer could not be forced; and it is not valid at
//! every bit pattern, so it could not be a `Shareable` value. The ticket line wakes waiters in
//! the order they came, needs no `unsafe` (rustix's futex calls are safe), and the same code
//! runs with threads. Loom finds the same three bugs without any script
//! (`tests/loom_condvar.rs`).

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use common::demo::narrate::{header, pid_tag, say, thread_tag};
use common::demo::segment::Segment;

use crate::bounded_buffer::{Change, Variant, CAPACITY, VARIANTS};
use crate::crew::Crew;
use crate::forced_schedule::{
    fresh_stages, perform, Event, Outcome, Schedule, Stage, Stages, ACTORS, RUNS, SCHEDULES,
};
use crate::output::conclude;

/// The bound of every wait for the child processes.
const PATIENCE: Duration = Duration::from_secs(10);

/// Threads: each schedule's runs, its three actors as three threads.
///
/// # Errors
/// A check did not hold, or the output failed.
pub fn threads(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "condition-variable (threads)",
        "a bounded buffer in OSTEP's four variants, forced schedules",
        &[("capacity", CAPACITY as usize), ("runs", RUNS)],
    )?;
    intro(out)?;
    let mut rows = Vec::new();
    for schedule in &SCHEDULES {
        let stages = fresh_stages();
        std::thread::scope(|s| {
            for me in 0..ACTORS {
                let stages = &stages;
                s.spawn(move || perform(&stages[..], schedule, me));
            }
        });
        rows.push(show(out, schedule, &stages[..], &thread_tag)?);
    }
    finish(out, &rows)
}

/// Processes: the same runs with the stages in a shared segment, each actor a process.
///
/// # Errors
/// A spawn or segment operation failed, or a check did not hold.
pub fn processes(out: &mut impl Write) -> Result<()> {
    header(
        out,
        "condition-variable (processes)",
        "the same buffer in a shared segment, each actor a process",
        &[("capacity", CAPACITY as usize), ("runs", RUNS)],
    )?;
    intro(out)?;
    let mut rows = Vec::new();
    for (k, schedule) in SCHEDULES.iter().enumerate() {
        // Process boundary: the stages live in a segment every actor maps, not on our heap.
        let mut stages =
            Segment::<Stages>::create(&format!("cv-{k}")).context("creating the segment")?;
        let name = stages.name().to_string();
        let args = |me: usize| {
            [
                "cv-actor".into(),
                name.clone(),
                k.to_string(),
                me.to_string(),
            ]
        };
        let crew: Crew = Crew::spawn((0..ACTORS).map(args)).context("spawning the actors")?;
        stages
            .unlink_once_opened(ACTORS, PATIENCE)
            .context("waiting for every actor to map the segment")?;
        let pids = crew.pids();
        crew.finish(out, "done", PATIENCE)?;
        rows.push(show(out, schedule, &stages[..], &|i| pid_tag(pids[i]))?);
    }
    finish(out, &rows)
}

/// In a child: actor `me` of schedule `schedule`, in every run of the stages in `segment`.
///
/// # Errors
/// The segment could not be opened, or there is no such schedule or actor.
pub fn child(segment: &str, schedule: usize, me: usize) -> Result<()> {
    let stages = Segment::<Stages>::open(segment).context("opening the stages' segment")?;
    let schedule = SCHEDULES.get(schedule).context("no such schedule")?;
    anyhow::ensure!(me < ACTORS, "no actor {me}");
    perform(&stages[..], schedule, me);
    Ok(())
}

fn intro(out: &mut impl Write) -> Result<()> {
    let lines = [
        format!("a buffer of {CAPACITY}: producers wait on `empty` while it is full, consumers on"),
        "`fill` while it is empty (with one cv, both on `cv`); a script of turns says who goes on"
            .into(),
        "at each hook point (taking the lock, falling asleep, waking); an actor asleep when named"
            .into(),
        "is passed over".into(),
    ];
    for line in lines {
        writeln!(out, "   {line}")?;
    }
    Ok(())
}

/// One variant's outcomes under one schedule: (outcome, runs) and whether all were expected.
struct Cell {
    counts: Vec<(Outcome, usize)>,
    expected: Outcome,
}

impl Cell {
    fn as_expected(&self) -> bool {
        self.counts == [(self.expected, RUNS)]
    }

    fn words(&self) -> String {
        let parts: Vec<String> = self
            .counts
            .iter()
            .map(|(o, n)| format!("{n} {}", o.words()))
            .collect();
        let surprise = if self.as_expected() { "" } else { " ?!" };
        format!("{}{surprise}", parts.join(", "))
    }
}

/// Narrates the first run of the schedule's shown variant, step by step; returns each variant's
/// cell of the table.
fn show(
    out: &mut impl Write,
    schedule: &Schedule,
    stages: &[Stage],
    tag: &dyn Fn(usize) -> String,
) -> Result<Vec<Cell>> {
    let names: Vec<&str> = schedule.actors.iter().map(|a| a.0).collect();
    let turns: Vec<&str> = schedule.script.iter().map(|&a| names[a as usize]).collect();
    writeln!(out, "-- {}", schedule.name)?;
    say(out, &format!("   turns: {}", turns.join(", ")))?;
    let shown = VARIANTS
        .iter()
        .position(|v| *v == schedule.shown)
        .unwrap_or(0);
    writeln!(
        out,
        "   run 1 of \"{}\", step by step:",
        schedule.shown.name()
    )?;
    let first = &stages[shown * RUNS];
    trace(out, schedule, first, schedule.shown, tag)?;
    let ending = match first.outcome() {
        Outcome::AllAsleep => {
            let sleepers: Vec<&str> = first.sleepers().into_iter().map(|a| names[a]).collect();
            format!(
                "{} asleep, nobody left to signal: all asleep",
                sleepers.join(" and ")
            )
        }
        Outcome::Passed => "every item put was taken: passed".into(),
        other => format!("the run broke: {}", other.words()),
    };
    writeln!(out, "   {ending}")?;
    Ok((0..VARIANTS.len())
        .map(|v| {
            let mut counts: Vec<(Outcome, usize)> = Vec::new();
            for stage in &stages[v * RUNS..(v + 1) * RUNS] {
                match counts.iter_mut().find(|(o, _)| *o == stage.outcome()) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((stage.outcome(), 1)),
                }
            }
            Cell {
                counts,
                expected: schedule.expected[v],
            }
        })
        .collect())
}

/// One line per event of `stage`, tagged with its actor; a signal joins the line before it.
fn trace(
    out: &mut impl Write,
    schedule: &Schedule,
    stage: &Stage,
    variant: Variant,
    tag: &dyn Fn(usize) -> String,
) -> Result<()> {
    let name = |a: usize| schedule.actors[a].0;
    let mut line = String::new();
    for (actor, event) in stage.events() {
        if let Event::Signals { cv, woke } = event {
            let whom = woke.map_or("nobody", name);
            line += &format!("; signals {}: wakes {whom}", variant.cv_name(cv));
            continue;
        }
        if !line.is_empty() {
            writeln!(out, "{line}")?;
        }
        let who = format!("{} {}", tag(actor), name(actor));
        line = match event {
            Event::Waits { cv, count } => {
                let state = if count == 0 { "empty" } else { "full" };
                let cv = variant.cv_name(cv);
                format!("{who}: buffer {state} ({count} of {CAPACITY}), waits on {cv}")
            }
            Event::Woken if variant.recheck => format!("{who}: woken, locks, looks again (while)"),
            Event::Woken => format!("{who}: woken, locks, does not look again (if)"),
            Event::Changed(Change::Put { item, count }) => {
                format!("{who}: puts item {item} ({count} of {CAPACITY})")
            }
            Event::Changed(Change::Got { item, count }) => {
                format!("{who}: takes item {item} ({count} of {CAPACITY})")
            }
            Event::Broke(Outcome::OverFull) => {
                format!("{who}: puts into a full buffer: over-full")
            }
            Event::Broke(outcome) => {
                format!("{who}: takes from an empty buffer: {}", outcome.words())
            }
            Event::Signals { .. } => unreachable!("handled above"),
        };
    }
    if !line.is_empty() {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The table of outcomes, and the result line.
fn finish(out: &mut impl Write, rows: &[Vec<Cell>]) -> Result<()> {
    writeln!(out, "-- {RUNS} runs of each variant under each schedule")?;
    let mut head = format!("   {:<16}", "variant");
    for schedule in &SCHEDULES {
        head += &format!("{:<25}", schedule.name);
    }
    writeln!(out, "{}", head.trim_end())?;
    for (v, variant) in VARIANTS.iter().enumerate() {
        let mut line = format!("   {:<16}", variant.name());
        for row in rows {
            line += &format!("{:<25}", row[v].words());
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    let cells = || rows.iter().flatten();
    let runs_where = |pick: &dyn Fn(&Cell) -> bool| -> usize {
        cells()
            .filter(|c| pick(c))
            .map(|c| {
                c.counts
                    .iter()
                    .find(|(o, _)| *o == c.expected)
                    .map_or(0, |p| p.1)
            })
            .sum()
    };
    let aimed = cells().filter(|c| c.expected != Outcome::Passed).count() * RUNS;
    let broke = runs_where(&|c| c.expected != Outcome::Passed);
    let right = VARIANTS.len() - 1;
    let passed_right: usize = rows
        .iter()
        .map(|row| &row[right])
        .map(|c| {
            c.counts
                .iter()
                .find(|(o, _)| *o == Outcome::Passed)
                .map_or(0, |p| p.1)
        })
        .sum();
    let all = cells().all(Cell::as_expected);
    let what = format!(
        "the wrong variants broke {broke} of {aimed} runs where a schedule aims at them (if: \
         took nothing, over-full; while with one cv: all asleep); while with two cvs passed \
         {passed_right} of {}",
        rows.len() * RUNS
    );
    conclude(
        out,
        all,
        &what,
        "a woken waiter must look again (while), and a signal must reach a side that can go on \
         (a condition variable each)",
    )?;
    Ok(())
}
