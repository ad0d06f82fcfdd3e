//! What a student sees of the scenarios that run child jobs, started alone through common's
//! `faces` and `testing` helpers: a closed stdout (`| head -1`) ends quietly; Ctrl-C during
//! `ring-deadlock`, while a job is stuck, and a SIGKILL of the program, leave no process and no
//! file; every help screen fits. And the panic guard, started alone: a panic on rank 0 or in a
//! team task ends the job within 2 s, with the panic's message, leaving nothing.

mod support;

use std::time::{Duration, Instant};
use support::{Run, BIN};

/// `mpi-demo <scenario> | head -1`, and readers that leave at a later line: status 0 or 141 and
/// nothing on stderr.
#[test]
fn a_closed_stdout_ends_quietly() {
    for scenario in ["collectives", "ring-deadlock", "abort-on-panic"] {
        common::testing::faces::closed_stdout_ends_quietly(BIN, &[scenario], 2, |_| false);
    }
}

/// Ctrl-C at any moment of `ring-deadlock` (a ring job running, or stuck, or being killed by
/// the watchdog): the program ends within 2 s, and no process, `/dev/shm` entry or file of it is
/// left within 1 s more.
#[test]
fn ctrl_c_during_ring_deadlock_leaves_nothing() {
    common::testing::ctrl_c_anywhere(BIN, &["ring-deadlock"], 3000, 4);
}

/// SIGKILL of the program during `ring-deadlock`: its janitor ends the child job (mpirun and
/// ranks blocked in their sends) within 1 s, and removes the folder; a later run sweeps the rest.
#[test]
fn a_killed_program_leaves_no_ring_behind() {
    common::testing::parent_killed(BIN, &["ring-deadlock"], 3000, 2, &["--help"]);
}

/// Every help screen fits in 100 columns.
#[test]
fn help_fits_in_100_columns() {
    common::testing::faces::help_fits(BIN, 100);
}

/// The guard, started alone (the pool's ranks spawned): `who` panics; the program ends within
/// 2 s of the panic with a failure status and the panic's message, and nothing is left.
fn guarded_panic_ends_the_job(who: &str, message: &str) {
    let mut run = Run::alone(&["--workers", "2", "abort-on-panic-job", "--panicker", who]);
    support::wait_for(Duration::from_secs(60), "panic", || {
        run.stderr.lock().unwrap().contains(message)
    });
    let panicked = Instant::now();
    let status = run.wait_within(Duration::from_secs(2));
    assert!(
        status.is_some(),
        "{who}: still running {:?} after the panic:\n{}",
        panicked.elapsed(),
        run.stderr.lock().unwrap()
    );
    let (status, _, stderr, run) = run.finish(Duration::from_secs(1));
    assert!(!status.success(), "{who}: {status}\n{stderr}");
    run.assert_nothing_left(Duration::from_secs(2), who);
}

/// Rank 0 panics outside any task while worker rank 1 waits in a receive.
#[test]
fn a_panic_on_rank_0_ends_the_job_started_alone() {
    guarded_panic_ends_the_job("program", "could not compute the share of [rank 2]");
}

/// Worker rank 2 panics in a team task, before an `all_reduce` that rank 1 waits in.
#[test]
fn a_panic_in_a_team_task_ends_the_job_started_alone() {
    guarded_panic_ends_the_job("worker", "[rank 2] found no share to add");
}
