//! Every scenario through the real binary: exit status 0, its checked `result:` line, and no
//! process (or shared-memory segment) left behind.

mod support;
use support::{assert_passed, results, run, run_with_pid};

/// N workers are reaped, each with its own pid.
#[test]
fn spawn_join_reaps_every_worker_with_its_own_pid() {
    let out = run("spawn_join", &["spawn-join", "--workers", "3"]);
    assert_passed(
        "spawn_join",
        &out,
        "3 of 3 workers exited 0, each with its own pid and parent",
    );
    assert!(results(&out)[0].contains(", 0 left [ok]"));
}

/// Each worker changes only its copy.
#[test]
fn private_memory_leaves_the_parents_value_alone() {
    let out = run("private_memory", &["private-memory", "--workers", "3"]);
    assert_passed(
        "private_memory",
        &out,
        "3 of 3 workers changed only their copy; parent still 100 (expected 100)",
    );
}

/// The lock and the atomic in the segment give the exact total; the segment is gone afterwards.
#[test]
fn shared_memory_counts_exactly_and_leaves_no_segment() {
    let (out, pid) = run_with_pid(
        "shared_memory",
        &["shared-memory", "--workers", "3", "--increments", "5000"],
    );
    assert_passed(
        "shared_memory",
        &out,
        "mutex 15000, atomic 15000 (expected 15000)",
    );
    // Its own segments only: a test beside it in this binary may hold one of its own.
    assert!(common::testing::shm_entries(&format!("processes-demo-{pid}-")).is_empty());
}

/// Each worker's own counter reaches its count in both layouts; the ratio is printed, never
/// asserted (the segment is gone afterwards).
#[test]
fn false_sharing_counts_exactly_in_both_layouts() {
    let (out, pid) = run_with_pid("false_sharing", &["false-sharing", "--workers", "3"]);
    assert_passed(
        "false_sharing",
        &out,
        "adjacent 12000000, padded 12000000 (expected 12000000)",
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("as fast"));
    assert!(common::testing::shm_entries(&format!("processes-demo-{pid}-")).is_empty());
}

/// Every message arrives, each producer's in order, through a small bound.
#[test]
fn messages_all_arrive_in_order() {
    let out = run(
        "messages",
        &[
            "messages",
            "--workers",
            "3",
            "--messages",
            "3001",
            "--capacity",
            "4",
        ],
    );
    assert_passed(
        "messages",
        &out,
        "3001 of 3001 messages, each producer's in order",
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("messages/s"));
}

/// A panic, an abort and a SIGKILL each show in the exit status; the parent goes on.
#[test]
fn crash_reports_every_ending() {
    let out = run("crash", &["crash"]);
    assert_passed(
        "crash",
        &out,
        "4 of 4 fates as expected: exit 0, exit 101 (panic), SIGABRT, SIGKILL",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("killed by signal 6 (SIGABRT)")
            && stdout.contains("killed by signal 9 (SIGKILL)")
    );
}

/// Every worker count finds the same number of primes (1229 below 10000).
#[test]
fn speedup_counts_agree_on_every_worker_count() {
    let out = run(
        "speedup",
        &["speedup", "--workers", "3", "--limit", "10000"],
    );
    assert_passed(
        "speedup",
        &out,
        "1229 primes below 10000 on every worker count (3 runs agree)",
    );
}

/// With a serial share injected the answer is unchanged, and the fitted share is printed beside
/// the injected one (its value is a measurement: never asserted).
#[test]
fn speedup_with_a_serial_share_prints_the_fit_and_the_same_count() {
    let out = run(
        "speedup_serial",
        &[
            "speedup",
            "--workers",
            "2",
            "--limit",
            "10000",
            "--serial",
            "30",
        ],
    );
    assert_passed(
        "speedup_serial",
        &out,
        "1229 primes below 10000 on every worker count (2 runs agree)",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("serial share: injected 30%, fitted "),
        "{stdout}"
    );
}

/// The process pool's total matches the serial count.
#[test]
fn pool_total_matches() {
    let out = run(
        "pool",
        &[
            "pool",
            "--workers",
            "2",
            "--tasks",
            "10",
            "--limit",
            "10000",
        ],
    );
    assert_passed(
        "pool",
        &out,
        "1229 primes below 10000 from 10 tasks (expected 1229)",
    );
}

/// The array travels to the workers and back, doubled.
#[test]
fn borrow_stack_doubles_through_copies() {
    let out = run(
        "borrow_stack",
        &["borrow-stack", "--workers", "3", "--size", "1000"],
    );
    assert_passed(
        "borrow_stack",
        &out,
        "1000 of 1000 elements doubled in copies",
    );
}

/// No arguments: every scenario runs and passes.
#[test]
fn no_arguments_runs_every_scenario() {
    let out = run("all", &["--limit", "20000", "--messages", "2000"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let results = results(&out);
    assert_eq!(results.len(), processes_demo::TOUR.len(), "{stdout}");
    assert!(results.iter().all(|r| r.contains("[ok]")), "{stdout}");
    support::assert_nothing_left("all");
}
