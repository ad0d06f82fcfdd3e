//! Collectives: what MPI does that a pool cannot. π by reduce and all_reduce, a table by
//! broadcast, work by scatter and gather, and a barrier, among the worker ranks.
//!
//! A pool moves each task to a worker and each answer back to rank 0: every combination of
//! results happens on rank 0. In a collective, every rank of a communicator calls the same
//! function at once, and MPI moves the data among them: `reduce` combines a value from every
//! rank on one of them (in a tree, over log2(n) steps), `all_reduce` gives the combined value to
//! every rank, `broadcast` copies one rank's data to all, `scatter` deals one rank's array out in
//! equal parts and `gather` collects them back in rank order, and `barrier` lets no rank past it
//! until every rank has reached it.
//!
//! Here rank 0 submits one task per worker rank (mpi4py's "parallel tasks" pattern), and the
//! tasks meet as a team over a communicator of the worker ranks (see `team` for how it is formed
//! under `mpirun` and when started alone). The first worker rank is the team's root.

mod tasks;

pub use tasks::{
    barrier_task, pi_share, pi_share_task, pi_task, table, table_task, Crossing, PiPart, TablePart,
};

use crate::{rank_tag, team, MpiPool, Settings};
use common::demo::narrate::{conclude, duration, header, ratio};
use common::{Chunk, Pool};
use std::io::Write;
use std::time::{Duration, Instant};

/// Intervals of the midpoint rule for π.
pub const INTERVALS: u64 = 1_000_000;
/// How close each combined π must be to the sequential sum (only the order of additions
/// differs).
pub const TOLERANCE: f64 = 1e-12;
/// Entries of the broadcast table (the squares 0, 1, 4, ...).
pub const TABLE: usize = 16;
/// Items each rank gets from the scatter.
pub const PER_RANK: usize = 4;
/// Each team member sleeps this long times its place before the barrier (on purpose: so that
/// they arrive apart, and the barrier visibly holds the early ones).
pub const STAGGER: Duration = Duration::from_millis(30);
/// The bound on each round of team tasks.
const TEAM_LIMIT: Duration = Duration::from_secs(30);

/// How the team's communicator came to be, in this mode, with the world size the ranks saw.
fn formed(settings: &Settings, world: usize, workers: usize) -> String {
    match settings.fixed_workers {
        Some(_) => format!(
            "team: ranks 1..{workers} taken out of MPI_COMM_WORLD ({world} ranks, rank 0 \
             included)"
        ),
        None => format!(
            "team: the spawned ranks' own MPI_COMM_WORLD ({world} ranks; rank 0 is across an \
             inter-communicator)"
        ),
    }
}

fn sorted<T>(mut parts: Vec<T>, rank: impl Fn(&T) -> usize) -> Vec<T> {
    parts.sort_by_key(|p| rank(p));
    parts
}

/// Runs the three teams and the same π through `MpiPool::map`, and checks every value.
///
/// # Errors
/// A pool or team that fails, a failed check, or the writer's error.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    let workers = settings.workers;
    header(
        out,
        "collectives",
        "reduce, all_reduce, broadcast, scatter, gather, barrier",
        &[
            ("workers", workers as u64),
            ("intervals", INTERVALS),
            ("table", TABLE as u64),
        ],
    )?;
    let pool = MpiPool::new(workers)?;
    let started = Instant::now();
    let sequential = pi_share(INTERVALS, 0, 1);
    let alone = started.elapsed();
    writeln!(
        out,
        "rank 0 submits one task per worker rank; the tasks meet over MPI_Comm_create_group"
    )?;

    // π by reduce and all_reduce.
    let started = Instant::now();
    let pi = team::on_every_worker(&pool, pi_task, &(workers, INTERVALS), TEAM_LIMIT)?;
    let by_team = started.elapsed();
    let pi = sorted(pi, |p| p.rank);
    let world = pi.first().map_or(0, |p| p.world);
    writeln!(out, "{}", formed(settings, world, workers))?;
    writeln!(
        out,
        "π by the midpoint rule, {INTERVALS} intervals dealt round the ranks:"
    )?;
    for p in &pi {
        writeln!(
            out,
            "   {} share {:.12}; all_reduce gave it {:.15}",
            rank_tag(p.rank),
            p.share,
            p.all
        )?;
    }
    let reduced = pi.iter().find_map(|p| p.reduced);
    let close = |v: f64| (v - sequential).abs() <= TOLERANCE;
    let pi_right =
        pi.len() == workers && reduced.is_some_and(close) && pi.iter().all(|p| close(p.all));
    writeln!(
        out,
        "   reduce on {}: {:.15}; sequential on rank 0: {sequential:.15}",
        rank_tag(1),
        reduced.unwrap_or(f64::NAN)
    )?;

    // The same π through the pool: every share comes back to rank 0, which adds them.
    let started = Instant::now();
    let shares = (0..workers as u64).map(|k| (INTERVALS, k, workers as u64));
    let by_map: f64 = pool
        .map_chunked(pi_share_task, shares, Chunk::Size(1))?
        .iter()
        .sum();
    let by_pool = started.elapsed();
    let map_right = close(by_map);
    let faster = if by_team < by_pool {
        format!("collectives {:.2}x faster", ratio(by_pool, by_team))
    } else {
        format!("MpiPool::map {:.2}x faster", ratio(by_team, by_pool))
    };
    writeln!(
        out,
        "side by side: rank 0 alone {}; team (reduce + all_reduce) {};\n   MpiPool::map (shares \
         summed on rank 0) {}: {faster}",
        duration(alone),
        duration(by_team),
        duration(by_pool)
    )?;

    // A table by broadcast, work by scatter, results by gather.
    let parts = sorted(
        team::on_every_worker(&pool, table_task, &workers, TEAM_LIMIT)?,
        |p| p.rank,
    );
    writeln!(
        out,
        "broadcast, scatter, gather: {} holds a table of {TABLE} squares and {} items",
        rank_tag(1),
        workers * PER_RANK
    )?;
    let mut table_right = parts.len() == workers;
    for p in &parts {
        let first = (p.rank as u64 - 1) * PER_RANK as u64;
        let dealt: Vec<u64> = (first..first + PER_RANK as u64).collect();
        table_right &= p.table == table() && p.items == dealt;
        writeln!(
            out,
            "   {} got the table (sum {}) and items {:?}",
            rank_tag(p.rank),
            p.table.iter().sum::<u64>(),
            p.items
        )?;
    }
    let all: Vec<u64> = (0..(workers * PER_RANK) as u64).collect();
    let squares: Vec<u64> = all.iter().map(|&i| table()[i as usize % TABLE]).collect();
    let root = parts.iter().find(|p| p.back.is_some());
    let identity = root.is_some_and(|r| r.back.as_ref() == Some(&all));
    table_right &= identity && root.is_some_and(|r| r.looked_up.as_ref() == Some(&squares));
    writeln!(
        out,
        "   gathered on {}: items {} in order, each with its square: gather(scatter(x)) = x",
        rank_tag(1),
        if identity {
            "0, 1, 2, ..."
        } else {
            "out of place"
        }
    )?;

    // A barrier: nobody leaves before the last one arrives.
    let crossings = sorted(
        team::on_every_worker(&pool, barrier_task, &workers, TEAM_LIMIT)?,
        |c| c.rank,
    );
    writeln!(
        out,
        "barrier: each rank sleeps {} times its place first (on purpose), then waits",
        duration(STAGGER)
    )?;
    let start = crossings.iter().map(|c| c.arrived).min().unwrap_or(0);
    let since_start = |t: u64| match common::demo::sys::nanos_between(start, t) {
        d if d.is_zero() => "first".to_string(),
        d => format!("at +{}", duration(d)),
    };
    for c in &crossings {
        writeln!(
            out,
            "   {} arrived {}, left {}",
            rank_tag(c.rank),
            since_start(c.arrived),
            since_start(c.left)
        )?;
    }
    let last_in = crossings.iter().map(|c| c.arrived).max().unwrap_or(0);
    let first_out = crossings.iter().map(|c| c.left).min().unwrap_or(0);
    let one_host = crossings.windows(2).all(|w| w[0].host == w[1].host);
    let barrier_right = crossings.len() == workers && (!one_host || first_out >= last_in);
    writeln!(
        out,
        "   {}",
        if !one_host {
            "ranks on several hosts: their clocks differ, so times are not compared"
        } else if first_out >= last_in {
            "no rank left before the last one arrived (one host, one clock)"
        } else {
            "a rank left before the last one arrived"
        }
    )?;

    conclude(
        out,
        pi_right && map_right && table_right && barrier_right,
        format_args!("π within {TOLERANCE:e} 3 ways; table, scatter/gather, barrier as expected"),
        "in a collective every rank takes part; rank 0 only submits",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shares dealt round any number of ranks add up to the sequential sum, and it is π.
    #[test]
    fn shares_add_up_to_pi() {
        let whole = pi_share(10_000, 0, 1);
        for ranks in 1..=5 {
            let sum: f64 = (0..ranks).map(|k| pi_share(10_000, k, ranks)).sum();
            assert!((sum - whole).abs() <= TOLERANCE, "{ranks} ranks: {sum}");
        }
        assert!((whole - std::f64::consts::PI).abs() < 1e-8, "{whole}");
    }

    /// A team task outside a worker rank says so, instead of calling MPI.
    #[test]
    fn a_team_task_refuses_to_run_outside_a_worker_rank() {
        let why = pi_task((2, 10)).unwrap_err();
        assert!(why.contains("worker ranks of an MpiPool"), "{why}");
    }
}
