//! Every scenario, run by the real binary started alone (it spawns its ranks) and under
//! `mpirun -n 3`: each ends with its checked `result:` line, identical results on three pools,
//! a panicking task failing alone on each, collectives that agree, a ring that deadlocks until
//! the watchdog ends it within 2 s, panics that end their job within 2 s with the guard, and
//! nothing left behind.

mod support;

use std::time::Duration;
use support::{assert_narration, Run};

const SCENARIOS: [&str; 9] = [
    "same-interface",
    "speedup",
    "latency",
    "batch-size",
    "dead-rank",
    "across-hosts",
    "collectives",
    "ring-deadlock",
    "abort-on-panic",
];

/// The duration just before `marker` on the first line that holds it (`1.06 s after`), in
/// seconds: the narration's own number, read back.
fn seconds_before(text: &str, marker: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|line| {
            let before = line
                .split(marker)
                .next()
                .filter(|_| line.contains(marker))?;
            let mut words = before.split_whitespace().rev();
            let unit = words.next()?;
            let value: f64 = words.next()?.parse().ok()?;
            let scale = match unit {
                "s" => 1.0,
                "ms" => 1e-3,
                "µs" => 1e-6,
                "ns" => 1e-9,
                _ => return None,
            };
            Some(value * scale)
        })
        .collect()
}

/// The new scenarios' invariants, beyond their `[ok]`: values agree, the ring hung and was
/// ended within 2 s of its last send, and each guarded panic ended its job within 2 s.
fn check_part_two(stdout: &str, how: &str) {
    for seen in [
        "gather(scatter(x)) = x",
        "no rank left before the last one arrived",
        "π within 1e-12 3 ways",
        "   watchdog: no rank got past its send in 1.00 s: it ended the job (",
        "a blocking ring at ",
        "the watchdog ended it",
        "panicked in a team task ([rank 2] found no share to add); MPI_Abort ends the job",
    ] {
        assert!(stdout.contains(seen), "{how}: no {seen:?}:\n{stdout}");
    }
    let ring = seconds_before(stdout, " after the last send began; nothing of it left");
    assert_eq!(ring.len(), 1, "{how}: no watchdog time:\n{stdout}");
    assert!(
        ring[0] < 2.0,
        "{how}: the watchdog took {} s:\n{stdout}",
        ring[0]
    );
    let ended = seconds_before(stdout, " after the panic; mpirun ended");
    assert_eq!(ended.len(), 2, "{how}: two guarded jobs:\n{stdout}");
    for t in ended {
        assert!(t < 2.0, "{how}: a guarded job took {t} s to end:\n{stdout}");
    }
}

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
    check_part_two(&stdout, how);
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

/// `mpirun -n 4 mpi-demo collectives`: three worker ranks form the team out of the world.
#[test]
fn collectives_under_mpirun_4() {
    let (status, stdout, stderr, run) =
        Run::mpirun(4, &["collectives"]).finish(Duration::from_secs(60));
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    assert_narration(&stdout, &["collectives"]);
    assert!(
        stdout.contains("team: ranks 1..3 taken out of MPI_COMM_WORLD (4 ranks, rank 0 included)"),
        "{stdout}"
    );
    for rank in 1..=3 {
        assert!(stdout.contains(&format!("   [rank {rank}] got the table (sum 1240)")));
    }
    run.assert_nothing_left(Duration::from_secs(5), "collectives under mpirun -n 4");
}

/// The tours above run every scenario `--help` lists (and `.ci/run` relies on it): a new
/// scenario cannot be left out of them.
#[test]
fn the_tours_cover_every_listed_scenario() {
    let (status, help, _, _run) = Run::alone(&["--help"]).finish(Duration::from_secs(30));
    assert!(status.success());
    let listed: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A command's line starts with two spaces; a wrapped description with more.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        // `exercise` is for students, not a scenario: tests/exercise.rs runs it.
        .filter(|c| !["all", "help", "exercise"].contains(c))
        .collect();
    assert_eq!(listed, SCENARIOS, "--help:\n{help}");
}
