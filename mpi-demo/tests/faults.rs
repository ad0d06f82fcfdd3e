//! Faults, alone and under mpirun: a killed rank ends the job with a clear message within 5 s
//! (also when it died idle and a large batch is on its way to it);
//! Ctrl-C ends every rank; a SIGKILLed launcher leaves no rank running. After each, no process
//! and no file of the run is left (a SIGKILLed program's folder is swept by the next run).

mod support;

use std::time::{Duration, Instant};
use support::{wait_for, Run};

/// A long run: a million trivial tasks, one per message.
const LONG: [&str; 3] = ["batch-size", "--tasks", "1000000"];

/// Starts a long run and waits until worker rank 1 exists and has had time to start working.
fn long_run(under_mpirun: bool) -> Run {
    let run = if under_mpirun {
        Run::mpirun(3, &LONG)
    } else {
        Run::alone(&["--workers", "2", LONG[0], LONG[1], LONG[2]])
    };
    // The pool has its ranks (each has said hello) before it prints this.
    run.wait_for_line("2 worker ranks ready", Duration::from_secs(60));
    assert!(
        !run.ranks_numbered("1").is_empty(),
        "rank 1 is not among the run's processes"
    );
    run
}

fn killed_rank_ends_the_job(under_mpirun: bool) {
    let mut run = long_run(under_mpirun);
    let rank = run.ranks_numbered("1")[0];
    common::demo::sys::send_signal(rank, libc::SIGKILL).unwrap();
    let killed = Instant::now();
    let status = run.wait_within(Duration::from_secs(5));
    assert!(
        status.is_some(),
        "the job still ran 5 s after rank 1 was killed"
    );
    let (status, _, stderr, run) = run.finish(Duration::from_secs(1));
    assert!(!status.success(), "a job that lost a rank must fail");
    let clear =
        stderr.contains("error: [rank 1] (pid") || stderr.contains("noticed that process rank 1");
    assert!(
        clear,
        "no clear message after {:?}:\n{stderr}",
        killed.elapsed()
    );
    run.assert_nothing_left(Duration::from_secs(5), "after a killed rank");
}

/// Alone: the program notices its spawned rank died and ends the job, with a message.
#[test]
fn a_killed_rank_ends_the_job_started_alone() {
    killed_rank_ends_the_job(false);
}

/// Under mpirun: the job ends (rank 0's message, or mpirun's), within 5 s.
#[test]
fn a_killed_rank_ends_the_job_under_mpirun() {
    killed_rank_ends_the_job(true);
}

/// Alone: a rank that died idle, then a 16 MiB batch for it. A large send waits until the rank
/// receives it, so a blind `MPI_Send` would wait for ever (and spin a core): the program must
/// notice the dead rank while its send waits, and end with its message.
#[test]
fn a_large_send_to_a_rank_that_died_idle_ends_the_job() {
    let mut run = Run::alone(&["dead-rank-idle-job"]);
    run.wait_for_line("[rank 1] died idle", Duration::from_secs(60));
    let status = run.wait_within(Duration::from_secs(5));
    assert!(
        status.is_some(),
        "the program still waited 5 s after sending to a dead rank"
    );
    let (status, _, stderr, run) = run.finish(Duration::from_secs(1));
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains("error: [rank 1] (pid"),
        "no clear message:\n{stderr}"
    );
    run.assert_nothing_left(Duration::from_secs(5), "after a send to a dead rank");
}

fn ctrl_c_ends_every_rank(under_mpirun: bool) {
    let mut run = long_run(under_mpirun);
    common::demo::sys::send_signal(run.child.id(), libc::SIGINT).unwrap();
    assert!(
        run.wait_within(Duration::from_secs(5)).is_some(),
        "still running 5 s after Ctrl-C"
    );
    run.assert_nothing_left(Duration::from_secs(5), "after Ctrl-C");
}

/// Alone: Ctrl-C ends the program, its spawned ranks and Open MPI's daemon; the folder goes.
#[test]
fn ctrl_c_ends_every_rank_started_alone() {
    ctrl_c_ends_every_rank(false);
}

/// Under mpirun: Ctrl-C to mpirun ends every rank, and mpirun's files go.
#[test]
fn ctrl_c_ends_every_rank_under_mpirun() {
    ctrl_c_ends_every_rank(true);
}

/// SIGKILL of the launcher (the program alone, or mpirun): no rank survives it. The killed
/// program's janitor removes its folder (and a later run would sweep it, should the janitor
/// have been killed too); mpirun's files are in the folder its caller gave it (`TMPDIR`), which
/// the caller removes.
#[test]
fn a_sigkilled_launcher_leaves_no_rank() {
    for under_mpirun in [false, true] {
        let mut run = long_run(under_mpirun);
        common::demo::sys::send_signal(run.child.id(), libc::SIGKILL).unwrap();
        run.wait_within(Duration::from_secs(1))
            .expect("SIGKILL ends it");
        wait_for(Duration::from_secs(5), "end of every rank", || {
            run.processes().is_empty()
        });
        if !under_mpirun {
            run.assert_nothing_left(Duration::from_secs(5), "after SIGKILL, with its janitor");
        }
    }
}

/// Ctrl-C at a random moment of a whole scenario started alone (while MPI starts, ranks are
/// spawned, tasks run, or the job shuts down): it ends within 5 s, and within 5 s more no
/// process and no file of the run is left.
#[test]
fn ctrl_c_at_any_moment_started_alone() {
    for round in 0..4 {
        let at = Duration::from_millis(common::testing::random_below(3000));
        let mut run = Run::alone(&["same-interface"]);
        std::thread::sleep(at);
        common::demo::sys::send_signal(run.child.id(), libc::SIGINT).unwrap();
        let status = run.wait_within(Duration::from_secs(5));
        assert!(
            status.is_some(),
            "round {round}: running 5 s after Ctrl-C at {at:?}"
        );
        run.assert_nothing_left(Duration::from_secs(5), &format!("Ctrl-C at {at:?}"));
    }
}
