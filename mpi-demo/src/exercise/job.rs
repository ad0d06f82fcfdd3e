//! The `reduce` exercise's child job: rank 0 of `mpirun -n n+1` of this program hands the
//! student's `reduce` to its n worker ranks as a team (see `team`), and prints one report line
//! per rank, which the check reads.
//!
//! A panic in the student's code is told on stderr in one line with its place (the pool would
//! keep the place to itself), then goes on to the team's guard, which ends the job with
//! `MPI_Abort`: the other ranks may be waiting for a message from the one that panicked.

use super::Link;
use crate::team;
use crate::MpiPool;
use mpi::collective::SystemOperation;
use mpi::traits::*;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

/// The numbers 1..=NUMBERS are dealt round the ranks; each rank's partial sum is its share.
pub const NUMBERS: u64 = 1000;
/// What rank 0 prints just before the team starts: the watchdog's clock starts there.
pub(super) const STARTS: &str = "reduce: the team starts";
/// How a panic line on stderr begins.
pub(super) const PANICKED: &str = "reduce-job: ";
/// The job's own bound on the team, should the watchdog be gone.
const TEAM_LIMIT: Duration = Duration::from_secs(30);

/// Rank `rank`'s partial sum: the numbers `rank + 1, rank + 1 + size, ...` up to [`NUMBERS`].
pub fn partial_sum(rank: usize, size: usize) -> u64 {
    (rank as u64 + 1..=NUMBERS).step_by(size.max(1)).sum()
}

/// What one rank of the team did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Its rank in the team, as `Link::rank` numbers it.
    pub rank: usize,
    /// Its partial sum, given to `reduce`.
    pub value: u64,
    /// What `reduce` returned.
    pub returned: Option<u64>,
    /// Its `Link::rounds` at the end.
    pub rounds: u64,
    /// Messages it sent.
    pub sent: usize,
    /// Messages it received.
    pub received: usize,
    /// On rank 0: MPI's own reduce (sum) of the same values.
    pub by_mpi: Option<u64>,
}

impl Report {
    /// The report as one line of `key=value` fields.
    pub fn line(&self) -> String {
        let opt = |v: Option<u64>| v.map_or("none".to_string(), |v| v.to_string());
        format!(
            "report rank={} value={} returned={} rounds={} sent={} received={} mpi={}",
            self.rank,
            self.value,
            opt(self.returned),
            self.rounds,
            self.sent,
            self.received,
            opt(self.by_mpi)
        )
    }

    /// A line that [`Report::line`] wrote, read back.
    pub fn parse(line: &str) -> Option<Report> {
        let fields = line.strip_prefix("report ")?;
        let field = |key: &str| {
            fields
                .split_whitespace()
                .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
        };
        let opt = |key: &str| -> Option<Option<u64>> {
            match field(key)? {
                "none" => Some(None),
                v => v.parse().ok().map(Some),
            }
        };
        Some(Report {
            rank: field("rank")?.parse().ok()?,
            value: field("value")?.parse().ok()?,
            returned: opt("returned")?,
            rounds: field("rounds")?.parse().ok()?,
            sent: field("sent")?.parse().ok()?,
            received: field("received")?.parse().ok()?,
            by_mpi: opt("mpi")?,
        })
    }
}

/// The `reduce` to run: the blank's, or with `solution` the solved one's.
fn the_reduce(solution: bool) -> fn(&Link, u64) -> Option<u64> {
    #[cfg(feature = "solutions")]
    if solution {
        return super::solved::reduce;
    }
    let _ = solution;
    super::reduce::reduce
}

/// A team task: this rank's partial sum through the student's `reduce`, then through MPI's.
///
/// # Errors
/// Not on a worker rank of a pool of `arg.0` ranks.
pub fn reduce_task(arg: (usize, bool)) -> Result<Report, String> {
    let (workers, solution) = arg;
    team::join(workers, |team| {
        let link = Link::new(team.comm());
        let (me, size) = (link.rank(), link.size());
        let value = partial_sum(me, size);
        let returned = told_if_it_panics(me, || the_reduce(solution)(&link, value));
        // MPI's own reduce, in a tree of its choosing: point-to-point messages the student's
        // code left unreceived cannot meet it (a collective has a context of its own).
        let root = team.comm().process_at_rank(0);
        let mut by_mpi = 0;
        if me == 0 {
            root.reduce_into_root(&value, &mut by_mpi, SystemOperation::sum());
        } else {
            root.reduce_into(&value, SystemOperation::sum());
        }
        Report {
            rank: me,
            value,
            returned,
            rounds: link.rounds(),
            sent: link.sent(),
            received: link.received(),
            by_mpi: (me == 0).then_some(by_mpi),
        }
    })
}

/// Runs `f`; if it panics, prints one line with the message and its place, then panics on
/// (the team's guard then ends the job). The hook is this run's only: the previous one is put
/// back whichever way `f` ends.
fn told_if_it_panics<T>(me: usize, f: impl FnOnce() -> T) -> T {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = crate::guard::panic_message(info.payload());
        let at = info
            .location()
            .map(|l| format!(" ({}:{})", l.file().replace("src/../", ""), l.line()))
            .unwrap_or_default();
        let line = format!("{PANICKED}rank {me} panicked: {message}{at}\n");
        // One write: the line stays whole beside the other ranks' lines.
        let _ = std::io::stderr().write_all(line.as_bytes());
    }));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    outcome.unwrap_or_else(|payload| resume_unwind(payload))
}

/// The child job's side: the team runs [`reduce_task`] once, and rank 0 prints the reports in
/// rank order.
///
/// # Errors
/// A pool that cannot start, or the writer's error. A team that never answers ends the job.
pub fn job_main(out: &mut impl Write, workers: usize, solution: bool) -> anyhow::Result<()> {
    let pool = MpiPool::new(workers)?;
    writeln!(out, "{STARTS}")?;
    out.flush()?;
    let arg = (workers, solution);
    let mut reports = match team::on_every_worker(&pool, reduce_task, &arg, TEAM_LIMIT) {
        Ok(reports) => reports,
        // The other members may wait for good: end the job now.
        Err(e) => {
            eprintln!("error: {e:#}; ending the job");
            common::demo::sys::exit_now(1)
        }
    };
    reports.sort_by_key(|r| r.rank);
    for r in &reports {
        writeln!(out, "{}", r.line())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shares dealt round any number of ranks add up to the sequential sum.
    #[test]
    fn partial_sums_add_up() {
        for size in 1..=5 {
            let sum: u64 = (0..size).map(|r| partial_sum(r, size)).sum();
            assert_eq!(sum, NUMBERS * (NUMBERS + 1) / 2, "{size} ranks");
        }
        assert_eq!(partial_sum(1, 2), 250_500);
    }

    /// A report line reads back as it was written, with and without its options.
    #[test]
    fn a_report_line_reads_back() {
        let root = Report {
            rank: 0,
            value: 250_000,
            returned: Some(500_500),
            rounds: 1,
            sent: 0,
            received: 1,
            by_mpi: Some(500_500),
        };
        let other = Report {
            rank: 1,
            returned: None,
            by_mpi: None,
            ..root.clone()
        };
        for r in [root, other] {
            assert_eq!(Report::parse(&r.line()), Some(r));
        }
        assert_eq!(Report::parse("report rank=x"), None);
    }
}
