//! `Pool::share` on MPI ranks: `same-interface` shares a 4 MiB table and has 100 tasks read
//! it. The table goes once to each rank and each task's batch carries a key, so the bytes
//! sent stay near one copy per rank, far below the 100 copies of sending it with each task;
//! the sums are the thread pool's; and once the last handle is dropped no rank keeps it.

mod support;

use std::time::Duration;
use support::{assert_narration, Run};

/// The number before `unit` that ends the text just before `marker` on `line`: in
/// `"(8.00 MiB); 100 sums"`, the number before `" MiB); "` is 8.0.
fn number_before(line: &str, marker: &str) -> f64 {
    let before = line.split(marker).next().filter(|_| line.contains(marker));
    let word = before.and_then(|b| b.split([' ', '(']).next_back());
    word.and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no number before {marker:?} in {line:?}"))
}

fn shared_once(run: Run, ranks: usize, how: &str) {
    let (status, stdout, stderr, run) = run.finish(Duration::from_secs(90));
    assert!(status.success(), "{how}: {status}\n{stdout}\n{stderr}");
    assert_narration(&stdout, &["same-interface"]);
    let line = |prefix: &str| {
        let found = stdout.lines().find(|l| l.starts_with(prefix));
        found.unwrap_or_else(|| panic!("{how}: no {prefix:?} line:\n{stdout}"))
    };
    let shared = line("   mpi share: a ");
    let batches = line("   batches: ");
    let ranks_said = if ranks == 1 {
        "1 rank"
    } else {
        &format!("{ranks} ranks")
    };

    // One copy of the value to each rank.
    let value = number_before(shared, " MiB table sent once");
    let sent_shared = number_before(shared, " MiB); ");
    assert!(value >= 4.0, "{how}: a value of several MiB: {shared}");
    assert!(
        shared.contains(&format!("to each of {ranks_said} (")),
        "{how}: {shared}"
    );
    let copies = sent_shared / value;
    assert!(
        (ranks as f64 - 0.01..=ranks as f64 + 0.01).contains(&copies),
        "{how}: {copies:.3} copies of the value for {ranks} ranks: {shared}"
    );
    // The batches name it: a few bytes a task, where each task would carry 4 MiB by value.
    let per_task = number_before(batches, " bytes a task");
    let total_mib = sent_shared + per_task * 100.0 / f64::from(1 << 20);
    assert!(per_task < 100.0, "{how}: {batches}");
    assert!(
        total_mib < 10.0 * value,
        "{how}: {total_mib} MiB sent for 100 tasks over a {value} MiB value, not far below 100 copies"
    );
    // The sums match the thread pool's, and the ranks let the value go.
    assert!(
        shared.ends_with("; 100 sums as on threads"),
        "{how}: {shared}"
    );
    assert!(
        batches.ends_with(&format!("then dropped: 0 kept on {ranks_said}")),
        "{how}: {batches}"
    );
    assert!(
        stdout.contains("result: 3 pools, 10000 items, 1 panic: identical [ok]"),
        "{how}:\n{stdout}"
    );
    run.assert_nothing_left(Duration::from_secs(5), how);
}

/// `mpirun -n 3 mpi-demo same-interface`: worker ranks 1 and 2, over shared memory.
#[test]
fn a_shared_value_goes_once_to_each_rank_under_mpirun() {
    shared_once(Run::mpirun(3, &["same-interface"]), 2, "under mpirun -n 3");
}

/// Started alone with 3 workers: spawned ranks, reached over TCP.
#[test]
fn a_shared_value_goes_once_to_each_spawned_rank() {
    let run = Run::alone(&["same-interface", "--workers", "3"]);
    shared_once(run, 3, "started alone");
}
