//! A team: every worker rank of a pool running one task at once, meeting over a communicator of
//! their own. This is mpi4py.futures' "parallel tasks" pattern.
//!
//! A pool hands out tasks one by one and brings each answer back to rank 0. Collectives
//! (broadcast, scatter, gather, reduce, barrier) need every rank of a communicator to call them
//! together. So the program submits exactly one task per worker rank, and each task joins the
//! team: the worker ranks 1..=n, without rank 0. Rank 0 takes no part, because it is busy running
//! the program, and only its MPI thread calls MPI (see `session`).
//!
//! Each worker gets exactly one of the n tasks: none can finish before all n have joined (forming
//! the communicator is itself collective), and a rank runs one batch at a time.
//!
//! How the team's communicator is formed depends on how the ranks were started:
//!
//! - under `mpirun -n N`, `MPI_COMM_WORLD` holds rank 0 too; the workers take ranks 1..=n out of
//!   it with `MPI_Comm_create_group`, which only the members of the new group call;
//! - started alone, the ranks were spawned together and their own `MPI_COMM_WORLD` holds the
//!   workers only (rank 0 is on the far side of an inter-communicator); the same call takes the
//!   first n of them.
//!
//! A team task is guarded: a panic inside it would leave every other member waiting in a
//! collective for good, so the guard prints the panic's message and calls `MPI_Abort`, which
//! ends the whole job (see `guard`).

use crate::MpiPool;
use common::plumbing::Task;
use common::{Error, Pool};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// This rank's place in a team, and the team's communicator.
pub struct Team {
    comm: SimpleCommunicator,
    world: usize,
}

impl Team {
    /// The communicator of the team's members (worker ranks 1..=n as ranks 0..n).
    pub fn comm(&self) -> &SimpleCommunicator {
        &self.comm
    }

    /// This rank's place in the team: its pool rank minus one.
    pub fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    /// How many worker ranks the team has.
    pub fn size(&self) -> usize {
        self.comm.size() as usize
    }

    /// The size of `MPI_COMM_WORLD` as this rank sees it: rank 0 included under `mpirun`, the
    /// spawned ranks only when the program was started alone.
    pub fn world_size(&self) -> usize {
        self.world
    }

    /// The pool rank of team member `member` (0-based): `member + 1`.
    pub fn pool_rank_of(member: usize) -> usize {
        member + 1
    }
}

/// Runs `f` as this rank's part of a team of the pool's first `workers` worker ranks, under the
/// guard that turns a panic into the end of the job.
///
/// Call it from a task that the program submits once per worker rank (see the module doc);
/// every member must call it with the same `workers`.
///
/// # Errors
/// Called outside a worker rank, or the first `workers` worker ranks are not in one MPI job (a
/// program started alone that spawned them at different times).
pub fn join<R>(workers: usize, f: impl FnOnce(&Team) -> R) -> Result<R, String> {
    let me = crate::rank();
    if me == 0 || !mpi::environment::is_initialized() {
        return Err("a team task runs only on the worker ranks of an MpiPool".into());
    }
    let world = SimpleCommunicator::world();
    // Pool rank = world rank + offset: 0 under mpirun, the spawn's first rank when spawned.
    let offset = me as i64 - i64::from(world.rank());
    let members: Vec<i32> = (1..=workers as i64).map(|r| (r - offset) as i32).collect();
    if members.iter().any(|&m| m < 0 || m >= world.size()) {
        return Err(format!(
            "worker ranks 1..={workers} are not one MPI job (spawned at different times?); \
             a team needs them together"
        ));
    }
    crate::guard::end_with_launcher();
    let group = world.group().include(&members);
    let comm = world
        .split_by_subgroup(&group)
        .ok_or_else(|| format!("rank {me} is not in the team of worker ranks 1..={workers}"))?;
    let team = Team {
        comm,
        world: world.size() as usize,
    };
    match catch_unwind(AssertUnwindSafe(|| f(&team))) {
        Ok(value) => Ok(value),
        Err(payload) if crate::guard::is_on() => {
            let message = crate::guard::panic_message(payload.as_ref());
            eprintln!(
                "{} panicked in a team task ({message}); MPI_Abort ends the job",
                crate::rank_tag(me)
            );
            team.comm.abort(crate::guard::PANIC_STATUS)
        }
        // Unguarded (the demonstration in `abort-on-panic`): the pool catches the panic, this
        // task fails alone, and the other members wait for it for good.
        Err(payload) => resume_unwind(payload),
    }
}

/// Submits `task(arg)` once per worker rank of `pool`, each as a batch of its own (so no rank
/// gets two), and waits at most `limit` in all for every answer; the answers in no particular
/// order (each names its rank, where it matters).
///
/// # Errors
/// A task's error (its `Err`, or the pool's: a panic, a dead rank), or `limit` passed first. Then
/// the other members may still wait in a collective: the caller should end the job.
pub fn on_every_worker<A: Task + Clone, R: Task>(
    pool: &MpiPool,
    task: fn(A) -> Result<R, String>,
    arg: &A,
    limit: Duration,
) -> anyhow::Result<Vec<R>> {
    let deadline = Instant::now() + limit;
    let handles: Vec<_> = (0..pool.workers())
        .map(|_| pool.submit(task, arg.clone()))
        .collect();
    let mut answers = Vec::with_capacity(handles.len());
    for mut handle in handles {
        let left = deadline.saturating_duration_since(Instant::now());
        match handle.wait_timeout(left) {
            Ok(Ok(answer)) => answers.push(answer),
            Ok(Err(why)) => anyhow::bail!("a team task failed: {why}"),
            Err(Error::Timeout(_)) => anyhow::bail!(
                "the team did not answer within {}",
                common::demo::narrate::duration(limit)
            ),
            Err(e) => anyhow::bail!("a team task failed: {e}"),
        }
    }
    Ok(answers)
}
