//! Ring deadlock: every rank sends to the next, then receives. Fine at 1 KiB, stuck at 4 MiB.
//!
//! `MPI_Send` may return before the matching receive is posted, or wait for it: the standard
//! allows both. Open MPI copies a small message out at once (the eager protocol) and returns;
//! a message past the eager limit is announced, and the data follows only once the receiver
//! has posted its receive (the rendezvous protocol). So in a ring where every rank sends first,
//! small messages pass, and large ones wait for receives that nobody has reached yet: every rank
//! waits for its neighbour, a cycle, as in the seed's lock-ordering deadlock, now between hosts.
//!
//! The cures post the receive together with the send: `MPI_Sendrecv`, or an immediate send
//! (`MPI_Isend`), then the receive, then a wait for the send. The threshold is measured here
//! by bisection: an immediate send that completes before its receive is posted was eager.
//!
//! The rings run in child jobs (`mpirun` of this program, worker ranks as a team, see `team`),
//! because the stuck one can only end by being killed, which the watchdog does (`watchdog`).

mod job;
mod rings;

pub use job::job_main;
pub use rings::{eager_limit_task, ring_task, Limit, Passed, Ring, Way};

use crate::watchdog::{self, Watch};
use crate::Settings;
use common::demo::narrate::{conclude, duration, header, plural};
use job::{parse_summary, section};
use rings::{size_words, SENDING};
use std::cell::Cell;
use std::io::Write;
use std::time::Duration;

/// The message that passes: well under the eager limit.
pub const SMALL: usize = 1024;
/// The message that deadlocks: far past it.
pub const LARGE: usize = 4 << 20;
/// How long the watchdog waits, once every rank has begun its blocking send, before it ends
/// the job: a 4 MiB copy takes about a millisecond, so this is a hang.
pub const PATIENCE: Duration = Duration::from_secs(1);
/// The bound on a whole child job.
const JOB_LIMIT: Duration = Duration::from_secs(60);

/// Runs the rings in child jobs: 1 KiB, then 4 MiB under the watchdog, the cures, and the
/// bisection; checks that the small ring, the cures and the ring at the limit pass, that the
/// large one hung until the watchdog ended it, and that nothing of it was left.
///
/// # Errors
/// A child job that cannot start or fails, a failed check, or the writer's error.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    // Two ranks make a ring; more than four only take longer.
    let workers = settings.workers.clamp(2, 4);
    header(
        out,
        "ring-deadlock",
        "blocking sends around a ring: fine at 1 KiB, stuck at 4 MiB",
        &[("workers", workers), ("small", SMALL), ("large", LARGE)],
    )?;
    writeln!(
        out,
        "child jobs of mpirun -n {}: worker ranks 1..{workers} in a ring, each sends to the next",
        workers + 1
    )?;
    out.flush()?;
    // Under mpirun the worker ranks are its -n minus 1: the job needs no --workers.
    let safe = crate::child_job::run(workers + 1, &["ring-deadlock-job"], &[], JOB_LIMIT)?;
    let summary = parse_summary(&safe.stdout).ok_or_else(|| {
        anyhow::anyhow!(
            "the rings' job said no summary ({}): {}",
            common::demo::sys::describe_exit(safe.status),
            safe.stderr.lines().next().unwrap_or_default()
        )
    })?;
    writeln!(out, "{}, blocking send then receive:", size_words(SMALL))?;
    for line in section(&safe.stdout, "small") {
        writeln!(out, "{line}")?;
    }

    writeln!(out, "{}, blocking send then receive:", size_words(LARGE))?;
    out.flush()?;
    let began = Cell::new(0);
    let all_began = |line: &str| {
        if line.contains(SENDING) {
            began.set(began.get() + 1);
        }
        began.get() == workers
    };
    let watch = Watch {
        trigger: &all_began,
        patience: PATIENCE,
        limit: JOB_LIMIT,
    };
    let stuck = watchdog::run(workers + 1, &["ring-deadlock-job", "--hang"], &[], &watch)?;
    for line in stuck.stderr.lines().filter(|l| l.contains(SENDING)) {
        writeln!(out, "   {line}")?;
    }
    let hung = stuck.killed.is_some() && !stuck.stdout.contains("completed");
    match (stuck.killed, stuck.after_trigger) {
        (Some(killed), Some(after)) => {
            writeln!(
                out,
                "   watchdog: no rank got past its send in {}: it ended the job ({})",
                duration(PATIENCE),
                plural(killed, "process", "processes"),
            )?;
            writeln!(
                out,
                "   the job was gone {} after the last send began; {} of it left",
                duration(after),
                match stuck.left {
                    0 => "nothing".to_string(),
                    n => plural(n, "process", "processes"),
                }
            )?
        }
        _ => writeln!(
            out,
            "   the job ended by itself ({}): no deadlock this time",
            common::demo::sys::describe_exit(stuck.status)
        )?,
    }

    writeln!(out, "the cures, at both sizes:")?;
    for line in section(&safe.stdout, "cures") {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "the eager limit, by bisection between the two sizes:")?;
    for line in section(&safe.stdout, "limit") {
        writeln!(out, "{line}")?;
    }
    // Open MPI's shared-memory transport: 4096 bytes, its header included, by default.
    if (3900..=4096).contains(&summary.eager) {
        writeln!(
            out,
            "   (Open MPI's shared memory: btl_vader_eager_limit=4096, its header included)"
        )?;
    }
    let passed = summary.small
        && summary.cured
        && summary.at_limit
        && hung
        && stuck.left == 0
        && summary.eager >= SMALL
        && summary.waits <= LARGE
        && summary.waits == summary.eager + 1;
    conclude(
        out,
        passed,
        format_args!(
            "1 KiB ring done, 4 MiB ring stuck until the watchdog, cures done; limit {} B",
            summary.eager
        ),
        "past the eager limit a send waits for its receive",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_words(1024), "1 KiB");
        assert_eq!(size_words(4 << 20), "4 MiB");
        assert_eq!(size_words(4072), "4072 bytes");
        assert_eq!(size_words(1), "1 byte");
    }

    #[test]
    fn a_summary_parses_and_sections_split() {
        let out = "## small\n   a\n## cures\n   b\n   c\nsummary small=true cured=true \
                   eager=4072 waits=4073 at_limit=true\n";
        assert_eq!(section(out, "small"), vec!["   a"]);
        assert_eq!(section(out, "cures"), vec!["   b", "   c"]);
        let s = parse_summary(out).unwrap();
        assert_eq!(
            (s.eager, s.waits, s.small && s.cured && s.at_limit),
            (4072, 4073, true)
        );
        assert!(parse_summary("nothing").is_none());
    }
}
