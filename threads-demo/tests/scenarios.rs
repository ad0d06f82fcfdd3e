//! Every scenario through the real binary: exit status 0, its checked `result:` line, and no
//! process left behind.

mod support;
use support::{assert_passed, results, run};

/// N workers join, all in one pid.
#[test]
fn spawn_join_joins_every_worker_in_one_process() {
    let out = run("spawn_join", &["spawn-join", "--workers", "3"]);
    assert_passed(
        "spawn_join",
        &out,
        "3 of 3 workers joined, every one in pid",
    );
    assert!(results(&out)[0].ends_with(
        "0 left [ok] -- threads live inside one process: one pid, and join waits for each to end"
    ));
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

/// The Mutex and the atomic give the exact total.
#[test]
fn shared_memory_counts_exactly() {
    let out = run(
        "shared_memory",
        &["shared-memory", "--workers", "3", "--increments", "5000"],
    );
    assert_passed(
        "shared_memory",
        &out,
        "mutex 15000, atomic 15000 (expected 15000)",
    );
}

/// Each worker's own counter reaches its count in both layouts; the ratio is printed, never
/// asserted.
#[test]
fn false_sharing_counts_exactly_in_both_layouts() {
    let out = run("false_sharing", &["false-sharing", "--workers", "3"]);
    assert_passed(
        "false_sharing",
        &out,
        "adjacent 12000000, padded 12000000 (expected 12000000)",
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("as fast"));
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

/// A panic is caught by join; an abort kills the child process with SIGABRT.
#[test]
fn crash_reports_panic_and_abort() {
    let out = run("crash", &["crash"]);
    assert_passed("crash", &out, "4 of 4 fates as expected");
    assert!(String::from_utf8_lossy(&out.stdout).contains("killed by signal 6 (SIGABRT)"));
}

/// Every worker count finds the same number of primes (25 below 100, 1229 below 10000).
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

/// The pool's total matches the serial count.
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

/// Scoped threads double the parent's array in place.
#[test]
fn borrow_stack_doubles_in_place() {
    let out = run(
        "borrow_stack",
        &["borrow-stack", "--workers", "3", "--size", "1000"],
    );
    assert_passed(
        "borrow_stack",
        &out,
        "1000 of 1000 elements doubled in place, 0 bytes copied",
    );
}

/// No arguments: every scenario runs and passes.
#[test]
fn no_arguments_runs_every_scenario() {
    let out = run("all", &["--limit", "20000", "--messages", "2000"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let results = results(&out);
    assert_eq!(results.len(), threads_demo::TOUR.len(), "{stdout}");
    assert!(results.iter().all(|r| r.contains("[ok]")), "{stdout}");
    support::assert_nothing_left("all");
}
