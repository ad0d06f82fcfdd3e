//! What runs: one scenario or the tour of all of them, or the role of a child process.
//! `main.rs` only parses (see `cli`) and maps errors to exit statuses.

use anyhow::Result;
use std::time::Duration;

use crate::cli::{check, Parsed, Role, Scenario};
use crate::{
    cleanup, copy_vs_share, lost_update, output, segment, separate_memory, shared_segment,
};

/// Runs what the command line asked for: a child's role, one scenario, or every scenario in
/// order.
///
/// # Errors
/// A [`UsageError`](common::demo::cli::UsageError) for knobs that do not fit (exit status 2);
/// a scenario's failure or failed check (exit status 1).
pub fn run(parsed: Parsed) -> Result<()> {
    let k = parsed.knobs;
    let scenario = parsed.scenario.unwrap_or(Scenario::All);
    let name = match &scenario {
        Scenario::Child { .. } => None,
        Scenario::All => Some("all"),
        Scenario::SeparateMemory => Some("separate-memory"),
        Scenario::SharedSegment => Some("shared-segment"),
        Scenario::LostUpdate => Some("lost-update"),
        Scenario::CopyVsShare => Some("copy-vs-share"),
        Scenario::Cleanup => Some("cleanup"),
    };
    let Some(name) = name else {
        let Scenario::Child { role } = scenario else {
            unreachable!("only a child has no name")
        };
        return child(role);
    };
    check(name, &k, &parsed.given)?;
    // clap's ranged parsers exist for u64, not usize; every range in `cli` fits a usize.
    let (workers, mib, rounds) = (k.workers as usize, k.mib as usize, k.rounds as usize);
    let (width, height) = (k.width as usize, k.height as usize);
    let increments = k.increments;
    segment::set_hooks(segment::Hooks {
        panic_after_map: k.panic_after_map,
        hold_before_unlink: k.hold_before_unlink_ms.map(Duration::from_millis),
    });
    let all = name == "all";
    let runs = |n: &str| all || name == n;
    // Refuse what the machine cannot hold before anything runs.
    if runs("copy-vs-share") {
        copy_vs_share::check_memory(mib)?;
    }
    if runs("shared-segment") {
        shared_segment::check_space(width, height)?;
    }
    let mut out = output::stdout();
    // Before anything else: remove segments that a SIGKILLed earlier run left behind.
    segment::remove_stale(&mut out)?;
    if runs("separate-memory") {
        separate_memory::run(&mut out)?;
    }
    if runs("shared-segment") {
        shared_segment::run(&mut out, workers, width, height)?;
    }
    if runs("lost-update") {
        lost_update::run(&mut out, workers, increments, &k.schedule)?;
    }
    if runs("copy-vs-share") {
        copy_vs_share::run(&mut out, workers, mib, rounds)?;
    }
    if runs("cleanup") {
        cleanup::run(&mut out, workers)?;
    }
    Ok(())
}

fn child(role: Role) -> Result<()> {
    match role {
        Role::SeparateMemory => separate_memory::child(),
        Role::SharedSegment {
            os_id,
            cols,
            lines,
            first,
            end,
        } => shared_segment::child(&os_id, cols, lines, first, end),
        Role::LostUpdate {
            os_id,
            count,
            of,
            index,
            plan,
        } => lost_update::child(&os_id, count, of, index, &plan),
        Role::CopyVsShare { index, of, len } => copy_vs_share::child(index, of, len),
        Role::Leak => cleanup::leak_child(),
        Role::Hold { os_id, index } => cleanup::hold_child(&os_id, index),
    }
}
