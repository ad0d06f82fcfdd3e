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

use crate::team::{self, Team};
use crate::watchdog::{self, Watch};
use crate::{rank_tag, MpiPool, Settings};
use common::demo::narrate::{conclude, duration, header, plural};
use mpi::traits::*;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::io::Write;
use std::time::{Duration, Instant};

/// The message that passes: well under the eager limit.
pub const SMALL: usize = 1024;
/// The message that deadlocks: far past it.
pub const LARGE: usize = 4 << 20;
/// How long the watchdog waits, once every rank has begun its blocking send, before it ends
/// the job: a 4 MiB copy takes about a millisecond, so this is a hang.
pub const PATIENCE: Duration = Duration::from_secs(1);
/// How long an immediate send is given to complete before its receive is posted.
const PROBE_WAIT: Duration = Duration::from_millis(20);
/// The child job's own bound on its team tasks, should the watchdog be gone.
const TEAM_LIMIT: Duration = Duration::from_secs(20);
/// The bound on a whole child job.
const JOB_LIMIT: Duration = Duration::from_secs(60);
/// What each rank prints just before its blocking send; the watchdog counts these lines.
const SENDING: &str = "blocking send of";

/// How a rank passes its message on around the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Way {
    /// `send`, then `receive`: deadlocks past the eager limit.
    Blocking,
    /// `MPI_Sendrecv`: both at once.
    SendRecv,
    /// `MPI_Isend`, `receive`, then wait for the send.
    Immediate,
}

impl Way {
    fn describe(self) -> &'static str {
        match self {
            Way::Blocking => "blocking send, then receive",
            Way::SendRecv => "sendrecv (MPI_Sendrecv)",
            Way::Immediate => "immediate send, receive, wait",
        }
    }
}

/// One ring: the team's size, the message's, and the way.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Ring {
    /// Worker ranks in the ring.
    pub workers: usize,
    /// Bytes each rank sends.
    pub bytes: usize,
    /// How.
    pub way: Way,
}

/// What a rank of the ring saw.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Passed {
    /// Its pool rank.
    pub rank: usize,
    /// Whether every byte it received came from its left neighbour.
    pub intact: bool,
}

/// A team task: one rank's part of a ring (see [`Way`]).
///
/// # Errors
/// Not on a worker rank of a pool of `ring.workers`.
pub fn ring_task(ring: Ring) -> Result<Passed, String> {
    team::join(ring.workers, |team| pass_on(team, ring))
}

fn pass_on(team: &Team, ring: Ring) -> Passed {
    let (me, size) = (team.rank(), team.size());
    let (right, left) = ((me + 1) % size, (me + size - 1) % size);
    let comm = team.comm();
    let message = vec![me as u8; ring.bytes];
    let mut got = vec![0u8; ring.bytes];
    let (to, from) = (
        comm.process_at_rank(right as i32),
        comm.process_at_rank(left as i32),
    );
    match ring.way {
        Way::Blocking => {
            eprintln!(
                "{} {SENDING} {} to {}, then a receive",
                rank_tag(Team::pool_rank_of(me)),
                size_words(ring.bytes),
                rank_tag(Team::pool_rank_of(right))
            );
            to.send(&message[..]);
            from.receive_into(&mut got[..]);
        }
        Way::SendRecv => {
            mpi::point_to_point::send_receive_into(&message[..], &to, &mut got[..], &from);
        }
        Way::Immediate => mpi::request::scope(|scope| {
            let sent = to.immediate_send(scope, &message[..]);
            from.receive_into(&mut got[..]);
            sent.wait();
        }),
    }
    Passed {
        rank: Team::pool_rank_of(me),
        intact: got.iter().all(|&b| b == left as u8),
    }
}

/// What the bisection found, on the team's first rank (the others answer `None`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Limit {
    /// The largest message whose immediate send completed before its receive was posted.
    pub eager: usize,
    /// The smallest that did not (`eager + 1` when the bisection is done).
    pub waits: usize,
    /// How many sizes were tried.
    pub probes: usize,
}

/// A team task: the eager limit between the team's first two ranks, by bisection between
/// `bounds.1` (which must complete) and `bounds.2` (which must wait); `bounds.0` is the team's
/// size.
///
/// # Errors
/// Fewer than two worker ranks, or not on a worker rank.
pub fn eager_limit_task(bounds: (usize, usize, usize)) -> Result<Option<Limit>, String> {
    let (workers, small, large) = bounds;
    if workers < 2 {
        return Err("a send needs two worker ranks".into());
    }
    team::join(workers, |team| {
        let root = team.rank() == 0;
        // Both ends are tried first: the bisection means something only if they differ.
        let (mut eager, mut waits, mut probes) = (0, usize::MAX, 0);
        let mut next = small;
        loop {
            // The first rank decides the next size; everyone learns it (0: done).
            let mut size = next as u64;
            team.comm().process_at_rank(0).broadcast_into(&mut size);
            if size == 0 {
                break;
            }
            let size = size as usize;
            let completed = completes_before_receive(team, size);
            probes += 1;
            if completed {
                eager = eager.max(size);
            } else {
                waits = waits.min(size);
            }
            next = if probes == 1 {
                large
            } else if eager == 0 || waits == usize::MAX || waits - eager <= 1 {
                0 // done, or an end did not behave: nothing to bisect
            } else {
                eager + (waits - eager) / 2
            };
        }
        root.then_some(Limit {
            eager,
            waits,
            probes,
        })
    })
}

/// Whether an immediate send of `bytes` from the team's rank 0 to its rank 1 completes before
/// rank 1 posts the receive. Every member must call it (the barrier is collective).
fn completes_before_receive(team: &Team, bytes: usize) -> bool {
    let comm = team.comm();
    match team.rank() {
        0 => {
            let message = vec![7u8; bytes];
            mpi::request::scope(|scope| {
                let mut sent = comm.process_at_rank(1).immediate_send(scope, &message[..]);
                let until = Instant::now() + PROBE_WAIT;
                let completed = loop {
                    match sent.test() {
                        Ok(_) => break None,
                        Err(pending) => sent = pending,
                    }
                    if Instant::now() > until {
                        break Some(sent);
                    }
                    std::thread::yield_now();
                };
                let eager = completed.is_none();
                comm.barrier(); // now rank 1 may receive
                if let Some(pending) = completed {
                    pending.wait();
                }
                eager
            })
        }
        1 => {
            comm.barrier();
            let mut got = vec![0u8; bytes];
            comm.process_at_rank(0).receive_into(&mut got[..]);
            true
        }
        _ => {
            comm.barrier();
            true
        }
    }
}

/// `1 KiB`, `4 MiB`, or a number of bytes.
fn size_words(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => plural(b, "byte", "bytes"),
    }
}

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
struct Summary {
    small: bool,
    cured: bool,
    eager: usize,
    waits: usize,
    at_limit: bool,
}

fn parse_summary(stdout: &str) -> Option<Summary> {
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
fn section<'a>(stdout: &'a str, name: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .skip_while(|l| *l != format!("## {name}"))
        .skip(1)
        .take_while(|l| !l.starts_with("## ") && !l.starts_with("summary "))
        .collect()
}

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
