//! Every scenario, run by the real binary started alone (it spawns its ranks) and under
//! `mpirun -n 3`: each ends with its checked `result:` line, identical results on three pools,
//! a panicking task failing alone on each, and nothing left behind.

mod support;

use std::time::Duration;
use support::{assert_narration, Run};

const SCENARIOS: [&str; 6] = [
    "same-interface",
    "speedup",
    "latency",
    "batch-size",
    "dead-rank",
    "across-hosts",
];

fn check_tour(run: Run, how: &str) {
    let (status, stdout, stderr, run) = run.finish(Duration::from_secs(120));
    assert!(
        status.success(),
        "{how}: {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_narration(&stdout, &SCENARIOS);
    assert!(stdout.contains("result: 3 pools, 10000 items, 1 panic: identical [ok]"));
    for pool in ["thread", "process", "mpi"] {
        let alone = format!("   {pool}: item 2 failed alone: task panicked at");
        assert!(
            stdout.contains(&alone),
            "{how}: no lone panic on the {pool} pool:\n{stdout}"
        );
    }
    // Where the MPI pool ran: worker ranks 1 and 2, each a process of its own.
    let placed = |rank: usize| {
        let tag = format!("   [rank {rank}] pid ");
        stdout
            .lines()
            .any(|l| l.starts_with(&tag) && l.contains(" on "))
    };
    assert!(
        stdout.contains("mpi pool: total 849666 steps; ran in 2 processes")
            && placed(1)
            && placed(2),
        "{stdout}"
    );
    run.assert_nothing_left(Duration::from_secs(5), how);
}

/// `cargo run --release` with no arguments: every scenario, ranks spawned by the program.
#[test]
fn every_scenario_started_alone() {
    check_tour(Run::alone(&["--workers", "2"]), "started alone");
}

/// `mpirun -n 3 mpi-demo`: rank 0 runs every scenario, ranks 1 and 2 serve.
#[test]
fn every_scenario_under_mpirun() {
    check_tour(Run::mpirun(3, &[]), "under mpirun -n 3");
}
