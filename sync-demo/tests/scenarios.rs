//! Every scenario, each variant, through the real binary: the invariant in its `result:` line.

mod support;
use support::{number_after, results};

/// Without the lock lines tear (> 0); with it none do and every line is present.
fn mutex(with: &str) {
    let (_, r) = results(&format!("mutex-{with}"), &["mutex", "--with", with], 1);
    assert!(
        r[0].contains("with the lock 0 torn of 50 lines, all present: true"),
        "{}",
        r[0]
    );
    assert!(number_after(&r[0], "without it ") > 0, "{}", r[0]);
}

#[test]
fn mutex_threads() {
    mutex("threads");
}

#[test]
fn mutex_processes() {
    mutex("processes");
}

/// The most inside each kind never passes its limit with the semaphore, and does without it.
fn semaphore(with: &str) {
    let (_, r) = results(
        &format!("semaphore-{with}"),
        &[
            "semaphore",
            "--with",
            with,
            "--workers",
            "60",
            "--limits",
            "3,2,1",
        ],
        1,
    );
    let (with_part, without_part) = r[0].split_once("without it").expect("two parts");
    for (kind, limit) in [("A", 3), ("B", 2), ("C", 1)] {
        let inside = number_after(with_part, &format!("{kind}="));
        assert!(
            inside <= limit && inside >= 1,
            "{kind}: {inside} > {limit}: {}",
            r[0]
        );
        assert!(
            number_after(without_part, &format!("{kind}=")) > limit,
            "{}",
            r[0]
        );
    }
    assert!(r[0].contains("never above the limit: true"), "{}", r[0]);
}

#[test]
fn semaphore_threads() {
    semaphore("threads");
}

#[test]
fn semaphore_processes() {
    semaphore("processes");
}

/// Threads: the cycle is detected and printed, both finish; the cures see no deadlock.
#[test]
fn deadlock_threads() {
    let (out, r) = results("deadlock-threads", &["deadlock", "--with", "threads"], 1);
    assert!(
        out.contains("worker 1 holds A and waits for B; worker 2 holds B and waits for A"),
        "{out}"
    );
    assert!(number_after(&r[0], "opposite order: ") >= 1, "{}", r[0]);
    assert!(r[0].contains("global order: 0 deadlocks"), "{}", r[0]);
    assert!(r[0].contains(", 0 deadlocks"), "{}", r[0]);
}

/// Five philosophers: the 5-way cycle is detected and printed; the ordered forks see none.
#[test]
fn dining_philosophers_threads() {
    let (out, r) = results("dining", &["dining-philosophers"], 1);
    assert!(
        out.contains("philosopher 5 holds fork 5 and waits for fork 1"),
        "{out}"
    );
    assert!(number_after(&r[0], "left first: ") >= 1, "{}", r[0]);
    assert!(
        r[0].contains("15/15 meals; lower fork first: 0 deadlocks, 15/15 meals"),
        "{}",
        r[0]
    );
}

/// No coordination: two runs are found whose orders differ (the demo retries until they do).
fn independent_order(with: &str) {
    let (out, r) = results(
        &format!("independent-{with}"),
        &["independent-order", "--with", with],
        1,
    );
    assert!(
        r[0].contains("announced 12 steps in different orders"),
        "{}",
        r[0]
    );
    // The two orders it names really differ.
    let orders: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once("order (worker of each step): ").map(|p| p.1))
        .collect();
    assert!(orders.len() >= 2, "{out}");
    assert_ne!(orders[0], orders[orders.len() - 1], "{out}");
}

#[test]
fn independent_order_threads() {
    independent_order("threads");
}

#[test]
fn independent_order_processes() {
    independent_order("processes");
}

/// Turns: both coordinated runs announce the steps exactly in the agreed order.
fn agreed_order(with: &str) {
    let (out, r) = results(
        &format!("agreed-{with}"),
        &[
            "agreed-order",
            "--with",
            with,
            "--workers",
            "3",
            "--steps",
            "2",
        ],
        1,
    );
    assert!(
        r[0].contains("2 of 2 runs in the agreed order (workers 1 to 3, 2 rounds): true"),
        "{}",
        r[0]
    );
    // The coordinated runs come after the uncoordinated one (which may match by chance).
    let (_, coordinated) = out.split_once("-- agreed order, run 1").expect("run 1");
    let orders: Vec<&str> = coordinated
        .lines()
        .filter_map(|l| l.trim().strip_prefix("order: "))
        .collect();
    assert_eq!(orders, ["1 2 3 1 2 3", "1 2 3 1 2 3"], "{out}");
    assert!(r[0].contains("uncoordinated ("), "{}", r[0]);
}

#[test]
fn agreed_order_threads() {
    agreed_order("threads");
}

#[test]
fn agreed_order_processes() {
    agreed_order("processes");
}

/// Processes: the kernel refuses exactly one `F_SETLKW` with EDEADLK; one order needs none.
#[test]
fn deadlock_processes() {
    let (out, r) = results(
        "deadlock-processes",
        &["deadlock", "--with", "processes"],
        1,
    );
    assert!(out.contains("Resource deadlock avoided"), "{out}");
    assert!(
        r[0].contains("kernel refused 1 wait with EDEADLK, both finished; one order: 0 refused"),
        "{}",
        r[0]
    );
}

/// Threads: the panicking holder poisons the mutex.
#[test]
fn holder_dies_threads() {
    let (_, r) = results("holder-threads", &["holder-dies", "--with", "threads"], 1);
    assert!(r[0].contains("poisoned: true, balance 70"), "{}", r[0]);
}

/// Processes: the kernel frees the dead holder's file lock; the shared-memory mutex stays locked.
#[test]
fn holder_dies_processes() {
    let (out, r) = results(
        "holder-processes",
        &["holder-dies", "--with", "processes"],
        1,
    );
    assert!(out.contains("ETIMEDOUT"), "{out}");
    assert!(
        r[0].contains(
            "file lock released by the kernel: true; shared-memory mutex still locked: true"
        ),
        "{}",
        r[0]
    );
}

#[test]
fn classics_threads() {
    let (_, r) = results("classics-threads", &["classics", "--with", "threads"], 1);
    assert!(
        r[0].contains("event woke 4/4; barrier early 0=true"),
        "{}",
        r[0]
    );
    assert!(
        r[0].contains("buffer max 2/2, in order") || r[0].contains("buffer max 1/2, in order"),
        "{}",
        r[0]
    );
}

/// Processes: the same four classics (event, barrier and buffer in a shared segment), the
/// same result line as threads.
#[test]
fn classics_processes() {
    let (_, r) = results(
        "classics-processes",
        &["classics", "--with", "processes"],
        1,
    );
    assert!(
        r[0].contains("event woke 4/4; barrier early 0=true; readers together 4, writer alone"),
        "{}",
        r[0]
    );
    assert!(
        r[0].contains("buffer max 2/2, in order") || r[0].contains("buffer max 1/2, in order"),
        "{}",
        r[0]
    );
}

/// No subcommand runs everything, both variants: 22 checked results.
#[test]
fn everything_by_default() {
    results("all", &[], 22);
}

/// Threads: a `ThreadPool(1)` task that waits on its own pool gets 25 (the waiter runs it).
#[test]
fn pool_deadlock_threads() {
    let (out, r) = results("pool-threads", &["pool-deadlock", "--with", "threads"], 1);
    assert!(r[0].contains("own pool: 25 after"), "{}", r[0]);
    assert!(
        out.contains("polled is_finished for 200 ms: false"),
        "{out}"
    );
    assert!(r[0].contains("nested scope 285"), "{}", r[0]);
}

/// Processes: a `ProcessPool` task cannot find its parent's pool.
#[test]
fn pool_deadlock_processes() {
    let (_, r) = results(
        "pool-processes",
        &["pool-deadlock", "--with", "processes"],
        1,
    );
    assert!(r[0].contains("found its parent's pool: false"), "{}", r[0]);
}

/// Nobody starts a phase early; a party that dies breaks the barrier for the others within 1 s.
fn barrier(with: &str) {
    let (_, r) = results(&format!("barrier-{with}"), &["barrier", "--with", with], 1);
    assert!(r[0].contains("0 started a phase early"), "{}", r[0]);
    assert!(r[0].contains("3 of 3 others failed"), "{}", r[0]);
}

#[test]
fn barrier_threads() {
    barrier("threads");
}

#[test]
fn barrier_processes() {
    barrier("processes");
}

/// Every cure keeps the total; try-lock without back-off counts retries.
#[test]
fn deadlock_cures_threads() {
    let (_, r) = results("cures", &["deadlock-cures"], 1);
    assert!(
        r[0].contains("totals 2000, 2000, 2000, 2000 (expected 2000 each)"),
        "{}",
        r[0]
    );
    assert!(number_after(&r[0], "without back-off: ") > 0, "{}", r[0]);
}

/// Each wrong variant breaks every run where its schedule aims, in the way it should; the right
/// one passes every run: the table's rows, and the result line's counts.
fn condition_variable(with: &str) {
    let (out, r) = results(
        &format!("cv-{with}"),
        &["condition-variable", "--with", with],
        1,
    );
    let rows = [
        "if, one cv      10 took nothing          10 over-full             10 took nothing",
        "if, two cvs     10 took nothing          10 over-full             10 passed",
        "while, one cv   10 passed                10 passed                10 all asleep",
        "while, two cvs  10 passed                10 passed                10 passed",
    ];
    for row in rows {
        assert!(out.contains(row), "{row:?} not in:\n{out}");
    }
    assert!(r[0].contains("broke 60 of 60 runs"), "{}", r[0]);
    assert!(
        r[0].contains("while with two cvs passed 30 of 30"),
        "{}",
        r[0]
    );
    // The narrated run of "while, one cv" ends with everyone left asleep.
    assert!(
        out.contains("producer and consumer 2 asleep, nobody left to signal: all asleep"),
        "{out}"
    );
}

#[test]
fn condition_variable_threads() {
    condition_variable("threads");
}

#[test]
fn condition_variable_processes() {
    condition_variable("processes");
}
