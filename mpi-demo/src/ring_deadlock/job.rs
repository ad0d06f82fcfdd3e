//! The child job's side: rank 0 of `mpirun` of this program hands the rings to its worker
//! ranks as teams, and prints what the program narrates, in sections, with one summary line.

use super::rings::{eager_limit_task, ring_task, size_words, Passed, Ring, Way};
use super::{LARGE, SMALL};
use crate::{rank_tag, team, MpiPool};
use common::demo::narrate::plural;
use std::io::Write;
use std::time::Duration;

/// The child job's own bound on its team tasks, should the watchdog be gone.
const TEAM_LIMIT: Duration = Duration::from_secs(20);

/// The child job's side. `hang`: one blocking ring of [`LARGE`] (it never ends: the watchdog
/// ends it). Otherwise the rings that complete, each in a section the program prints in its own
/// order, and one `summary` line it checks.
///
/// # Errors
/// A pool that cannot start, or the writer's error. A team that never answers ends the job.
pub fn job_main(out: &mut impl Write, workers: usize, hang: bool) -> anyhow::Result<()> {
    let pool = MpiPool::new(workers)?;
    let ring = |bytes, way| Ring {
        workers,
        bytes,
        way,
    };
    let run = |ring: Ring| -> anyhow::Result<Vec<Passed>> {
        match team::on_every_worker(&pool, ring_task, &ring, TEAM_LIMIT) {
            Ok(mut passed) => {
                passed.sort_by_key(|p| p.rank);
                Ok(passed)
            }
            // The other members may wait in the ring for good: end the job now.
            Err(e) => {
                eprintln!("error: {e:#}; ending the job");
                common::demo::sys::exit_now(1)
            }
        }
    };
    if hang {
        run(ring(LARGE, Way::Blocking))?;
        writeln!(out, "the 4 MiB ring completed")?;
        return Ok(());
    }
    let small = run(ring(SMALL, Way::Blocking))?;
    writeln!(out, "## small")?;
    for p in &small {
        let left = if p.rank == 1 { workers } else { p.rank - 1 };
        writeln!(
            out,
            "   {} sent {} on, then received {} from {}{}",
            rank_tag(p.rank),
            size_words(SMALL),
            size_words(SMALL),
            rank_tag(left),
            if p.intact { "" } else { " (garbled)" }
        )?;
    }
    let mut cured = true;
    writeln!(out, "## cures")?;
    for way in [Way::SendRecv, Way::Immediate] {
        let mut said = Vec::new();
        for bytes in [SMALL, LARGE] {
            let intact = run(ring(bytes, way))?.iter().all(|p| p.intact);
            cured &= intact;
            said.push(format!(
                "{} {}",
                size_words(bytes),
                if intact { "done" } else { "garbled" }
            ));
        }
        writeln!(
            out,
            "   {:<31} {}",
            format!("{}:", way.describe()),
            said.join(", ")
        )?;
    }
    let bounds = (workers, SMALL, LARGE);
    let limit = team::on_every_worker(&pool, eager_limit_task, &bounds, TEAM_LIMIT)?
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| anyhow::anyhow!("the bisection answered nothing"))?;
    // The measured limit, checked with the blocking ring itself: it must pass.
    let at_limit = run(ring(limit.eager, Way::Blocking))?
        .iter()
        .all(|p| p.intact);
    writeln!(out, "## limit")?;
    writeln!(
        out,
        "   largest send that completed before its receive: {} ({} probes)",
        plural(limit.eager, "byte", "bytes"),
        limit.probes
    )?;
    writeln!(
        out,
        "   {} waited for the receiver; a blocking ring at {} {}",
        plural(limit.waits, "byte", "bytes"),
        plural(limit.eager, "byte", "bytes"),
        if at_limit { "completed" } else { "failed" }
    )?;
    writeln!(
        out,
        "summary small={} cured={cured} eager={} waits={} at_limit={at_limit}",
        small.iter().all(|p| p.intact) && small.len() == workers,
        limit.eager,
        limit.waits
    )?;
    Ok(())
}

/// The child job's summary line, parsed.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Summary {
    pub(super) small: bool,
    pub(super) cured: bool,
    pub(super) eager: usize,
    pub(super) waits: usize,
    pub(super) at_limit: bool,
}

pub(super) fn parse_summary(stdout: &str) -> Option<Summary> {
    let line = stdout.lines().find(|l| l.starts_with("summary "))?;
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
    };
    Some(Summary {
        small: field("small")? == "true",
        cured: field("cured")? == "true",
        eager: field("eager")?.parse().ok()?,
        waits: field("waits")?.parse().ok()?,
        at_limit: field("at_limit")? == "true",
    })
}

/// The lines of `section` (`## name`) in a child job's output.
pub(super) fn section<'a>(stdout: &'a str, name: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .skip_while(|l| *l != format!("## {name}"))
        .skip(1)
        .take_while(|l| !l.starts_with("## ") && !l.starts_with("summary "))
        .collect()
}
