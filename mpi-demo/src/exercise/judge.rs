//! The `reduce` check's verdict on one child job, apart from running it, so that every verdict
//! has a unit test that needs no MPI.

use super::job::{Report, NUMBERS};
use common::demo::narrate::{duration, plural};
use std::time::Duration;

/// How one child job ended, as the check saw it.
#[derive(Debug)]
pub enum Outcome {
    /// Every rank reported (in rank order).
    Reports(Vec<Report>),
    /// A rank's panic line: `rank 1 panicked: <message> (<file>:<line>)`.
    Panicked(String),
    /// No report this long after the team started: the watchdog ended the job.
    Hung(Duration),
    /// The job ended with no report and no panic line; why, in words.
    Ended(String),
}

/// What a passing job showed.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    /// Rank 0's total.
    pub total: u64,
    /// The rounds it took (see `Link::rounds`).
    pub rounds: u64,
}

/// The sum of 1..=NUMBERS, as a plain loop would find it.
pub fn sequential_sum() -> u64 {
    (1..=NUMBERS).sum()
}

/// The rounds a tree of `ranks` takes: ⌈log2 ranks⌉.
pub fn tree_rounds(ranks: usize) -> u64 {
    u64::from(usize::BITS - ranks.saturating_sub(1).leading_zeros())
}

/// The verdict on a job of `ranks` ranks: what it showed, or one line of what is wrong.
///
/// # Errors
/// One line, which the check prefixes with the number of ranks.
pub fn judge(ranks: usize, outcome: &Outcome) -> Result<Seen, String> {
    let reports = match outcome {
        Outcome::Reports(reports) => reports,
        Outcome::Panicked(line) => {
            let what = line
                .split_once(" panicked: ")
                .map_or(line.as_str(), |p| p.1);
            return Err(if what.starts_with("not yet implemented") {
                format!("not written yet: {what}")
            } else {
                line.clone()
            });
        }
        Outcome::Hung(after) => {
            return Err(format!(
                "no answer {} after the team started: a receive waits for a send that never \
                 comes",
                duration(*after)
            ))
        }
        Outcome::Ended(why) => return Err(format!("the job ended without a report ({why})")),
    };
    if reports.len() != ranks || reports.iter().enumerate().any(|(i, r)| r.rank != i) {
        return Err(format!(
            "{} for {ranks} ranks",
            plural(reports.len(), "report", "reports")
        ));
    }
    let expected = sequential_sum();
    let root = &reports[0];
    let Some(total) = root.returned else {
        return Err("rank 0 returned None: the total must end there, as Some(total)".into());
    };
    if let Some(r) = reports[1..].iter().find(|r| r.returned.is_some()) {
        return Err(format!(
            "rank {} returned Some({}): only rank 0 returns the total, the others None",
            r.rank,
            r.returned.unwrap_or_default()
        ));
    }
    if total != expected {
        let (gap, word) = if total < expected {
            (expected - total, "missing")
        } else {
            (total - expected, "too many")
        };
        let whose = reports
            .iter()
            .find(|r| r.value == gap)
            .map(|r| format!(": rank {}'s share", r.rank))
            .unwrap_or_default();
        return Err(format!(
            "rank 0 returned {total}, expected {expected} (the sequential sum; {gap} \
             {word}{whose})"
        ));
    }
    let (sent, received) = reports
        .iter()
        .fold((0, 0), |(s, r), rep| (s + rep.sent, r + rep.received));
    if sent != received {
        return Err(format!(
            "{} sent, {received} received: every send needs its receive",
            plural(sent, "message", "messages")
        ));
    }
    if root.by_mpi != Some(expected) {
        return Err(format!(
            "MPI's own reduce gave {:?}, expected {expected}: this machine's MPI is amiss",
            root.by_mpi
        ));
    }
    let tree = tree_rounds(ranks);
    if root.rounds > tree {
        return Err(format!(
            "rank 0 had the total after {}; a tree of {ranks} ranks needs {tree}: \
             let ranks add in pairs at once, not one after another",
            plural(root.rounds as usize, "round", "rounds")
        ));
    }
    Ok(Seen {
        total,
        rounds: root.rounds,
    })
}

#[cfg(test)]
mod tests {
    use super::super::job::partial_sum;
    use super::*;

    /// Reports of `ranks` ranks where rank 0 returned `total` after `rounds`, each rank sent
    /// once (rank 0 received them all).
    fn reports(ranks: usize, total: Option<u64>, rounds: u64) -> Vec<Report> {
        (0..ranks)
            .map(|rank| Report {
                rank,
                value: partial_sum(rank, ranks),
                returned: if rank == 0 { total } else { None },
                rounds: if rank == 0 { rounds } else { 0 },
                sent: usize::from(rank != 0),
                received: if rank == 0 { ranks - 1 } else { 0 },
                by_mpi: (rank == 0).then_some(sequential_sum()),
            })
            .collect()
    }

    #[test]
    fn a_tree_takes_the_ceiling_of_log2() {
        let rounds: Vec<u64> = (1..=9).map(tree_rounds).collect();
        assert_eq!(rounds, [0, 1, 2, 2, 3, 3, 3, 3, 4]);
    }

    #[test]
    fn a_right_tree_passes() {
        let seen = judge(4, &Outcome::Reports(reports(4, Some(500_500), 2)));
        assert_eq!(
            seen,
            Ok(Seen {
                total: 500_500,
                rounds: 2
            })
        );
    }

    /// Rank 0 receiving from each rank in turn adds right, but takes n - 1 rounds.
    #[test]
    fn a_line_of_receives_fails_at_4_ranks() {
        let why = judge(4, &Outcome::Reports(reports(4, Some(500_500), 3))).unwrap_err();
        assert!(
            why.starts_with("rank 0 had the total after 3 rounds; a tree of 4"),
            "{why}"
        );
        assert!(judge(3, &Outcome::Reports(reports(3, Some(500_500), 2))).is_ok());
    }

    #[test]
    fn a_missing_share_is_named() {
        let short = 500_500 - partial_sum(2, 3);
        let why = judge(3, &Outcome::Reports(reports(3, Some(short), 2))).unwrap_err();
        assert!(why.ends_with("missing: rank 2's share)"), "{why}");
    }

    #[test]
    fn only_rank_0_returns_the_total() {
        let why = judge(2, &Outcome::Reports(reports(2, None, 1))).unwrap_err();
        assert!(why.starts_with("rank 0 returned None"), "{why}");
        let mut both = reports(2, Some(500_500), 1);
        both[1].returned = Some(500_500);
        let why = judge(2, &Outcome::Reports(both)).unwrap_err();
        assert!(why.starts_with("rank 1 returned Some(500500)"), "{why}");
    }

    #[test]
    fn an_unreceived_message_is_counted() {
        let mut extra = reports(2, Some(500_500), 1);
        extra[1].sent = 2;
        let why = judge(2, &Outcome::Reports(extra)).unwrap_err();
        assert!(why.starts_with("2 messages sent, 1 received"), "{why}");
    }

    #[test]
    fn a_todo_reads_as_not_written_yet() {
        let line = "rank 0 panicked: not yet implemented: a tree (exercises/reduce.rs:30)";
        let why = judge(2, &Outcome::Panicked(line.into())).unwrap_err();
        assert_eq!(
            why,
            "not written yet: not yet implemented: a tree (exercises/reduce.rs:30)"
        );
        let line = "rank 1 panicked: rank 1 tried to send to itself (exercises/reduce.rs:31)";
        assert_eq!(judge(2, &Outcome::Panicked(line.into())).unwrap_err(), line);
    }

    #[test]
    fn a_hang_says_what_waits() {
        let why = judge(2, &Outcome::Hung(Duration::from_secs(10))).unwrap_err();
        assert!(why.contains("a receive waits for a send"), "{why}");
    }
}
