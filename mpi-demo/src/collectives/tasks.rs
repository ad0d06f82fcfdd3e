//! The collectives' team tasks, one per worker rank, and the pool task for the same π.

use super::{PER_RANK, STAGGER, TABLE};
use crate::team::{self, Team};
use mpi::collective::SystemOperation;
use mpi::traits::*;
use serde::{Deserialize, Serialize};

/// The midpoint rule for π = ∫₀¹ 4/(1+x²) dx, over intervals `first, first + step, ...` of
/// `intervals`: one rank's share when `step` is the number of ranks, the whole sum when it is 1.
pub fn pi_share(intervals: u64, first: u64, step: u64) -> f64 {
    let h = 1.0 / intervals as f64;
    let sum: f64 = (first..intervals)
        .step_by(step.max(1) as usize)
        .map(|i| {
            let x = h * (i as f64 + 0.5);
            4.0 / (1.0 + x * x)
        })
        .sum();
    h * sum
}

/// A pool task: [`pi_share`] of `(intervals, first, step)`.
pub fn pi_share_task(share: (u64, u64, u64)) -> f64 {
    pi_share(share.0, share.1, share.2)
}

/// What one rank of the π team computed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PiPart {
    /// Its pool rank.
    pub rank: usize,
    /// The size of its `MPI_COMM_WORLD`.
    pub world: usize,
    /// Its own share.
    pub share: f64,
    /// The `reduce` (sum) of every share: on the root only.
    pub reduced: Option<f64>,
    /// The `all_reduce` (sum) of every share: on every rank.
    pub all: f64,
}

/// A team task: this rank's share of π, then `reduce` to the root and `all_reduce` to all.
///
/// # Errors
/// Not on a worker rank of a pool of `arg.0` ranks.
pub fn pi_task(arg: (usize, u64)) -> Result<PiPart, String> {
    let (workers, intervals) = arg;
    team::join(workers, |team| {
        let (me, size) = (team.rank(), team.size());
        let share = pi_share(intervals, me as u64, size as u64);
        let root = team.comm().process_at_rank(0);
        let mut reduced = 0.0;
        if me == 0 {
            root.reduce_into_root(&share, &mut reduced, SystemOperation::sum());
        } else {
            root.reduce_into(&share, SystemOperation::sum());
        }
        let mut all = 0.0;
        team.comm()
            .all_reduce_into(&share, &mut all, SystemOperation::sum());
        PiPart {
            rank: Team::pool_rank_of(me),
            world: team.world_size(),
            share,
            reduced: (me == 0).then_some(reduced),
            all,
        }
    })
}

/// The table the root broadcasts: the squares of 0..TABLE.
pub fn table() -> Vec<u64> {
    (0..TABLE as u64).map(|i| i * i).collect()
}

/// What one rank of the table team saw.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TablePart {
    /// Its pool rank.
    pub rank: usize,
    /// The table as it arrived.
    pub table: Vec<u64>,
    /// The items the scatter dealt it.
    pub items: Vec<u64>,
    /// On the root: every item, gathered back in rank order.
    pub back: Option<Vec<u64>>,
    /// On the root: every item's entry in the table, gathered.
    pub looked_up: Option<Vec<u64>>,
}

/// A team task: the root broadcasts [`table`], scatters the items `0..n*PER_RANK`, each rank
/// looks its items up, and the root gathers both the items and what they looked up.
///
/// # Errors
/// Not on a worker rank of a pool of `workers` ranks.
pub fn table_task(workers: usize) -> Result<TablePart, String> {
    team::join(workers, |team| {
        let (me, size) = (team.rank(), team.size());
        let root = team.comm().process_at_rank(0);
        let mut table = if me == 0 { table() } else { vec![0; TABLE] };
        root.broadcast_into(&mut table[..]);
        let mut items = vec![0u64; PER_RANK];
        let all: Vec<u64> = (0..(size * PER_RANK) as u64).collect();
        if me == 0 {
            root.scatter_into_root(&all[..], &mut items[..]);
        } else {
            root.scatter_into(&mut items[..]);
        }
        let looked_up: Vec<u64> = items.iter().map(|&i| table[i as usize % TABLE]).collect();
        let (mut back, mut values) = (vec![0u64; all.len()], vec![0u64; all.len()]);
        if me == 0 {
            root.gather_into_root(&items[..], &mut back[..]);
            root.gather_into_root(&looked_up[..], &mut values[..]);
        } else {
            root.gather_into(&items[..]);
            root.gather_into(&looked_up[..]);
        }
        TablePart {
            rank: Team::pool_rank_of(me),
            table,
            items,
            back: (me == 0).then_some(back),
            looked_up: (me == 0).then_some(values),
        }
    })
}

/// When one rank reached the barrier and when it left, on the system-wide monotonic clock.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Crossing {
    /// Its pool rank.
    pub rank: usize,
    /// Its host: clocks compare only on one host.
    pub host: String,
    /// Nanoseconds, when it reached the barrier.
    pub arrived: u64,
    /// Nanoseconds, when the barrier let it go.
    pub left: u64,
}

/// A team task: sleep [`STAGGER`] times this rank's place, then wait at the barrier.
///
/// # Errors
/// Not on a worker rank of a pool of `workers` ranks.
pub fn barrier_task(workers: usize) -> Result<Crossing, String> {
    team::join(workers, |team| {
        std::thread::sleep(STAGGER * team.rank() as u32); // on purpose: arrive apart
        let arrived = common::demo::sys::monotonic_nanos();
        team.comm().barrier();
        let left = common::demo::sys::monotonic_nanos();
        Crossing {
            rank: Team::pool_rank_of(team.rank()),
            host: crate::launch::host_name(),
            arrived,
            left,
        }
    })
}
