//! A `ProcessPool` inside an ordinary libtest `#[test]` fails at once with a message naming
//! `common::init()`: its workers would run the test harness, not the task.
//!
//! The supported way to test code that uses a `ProcessPool` is a test target with
//! `harness = false` whose `main` calls `common::init()` first (see `pool_contract.rs`).
//!
//! The check runs in a copy of this test binary confined to a pids cgroup with a timeout
//! (see `confine`): if the guard ever broke, the copy would be a fork storm.

mod confine;

/// Set in the confined copy (and inherited by any worker it starts): run the real check.
const INNER: &str = "LIBTEST_POOL_INNER";
const NAME: &str = "a_process_pool_in_a_libtest_test_fails_at_once";

#[test]
fn a_process_pool_in_a_libtest_test_fails_at_once() {
    if std::env::var_os(INNER).is_some() {
        return inner();
    }
    let Some(cgroup) = confine::Cgroup::new(32) else {
        return confine::skipped(NAME);
    };
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = cgroup.command(&exe.to_string_lossy());
    cmd.args(["--exact", NAME, "--nocapture"]).env(INNER, "1");
    let out = cgroup.run(&mut cmd, std::time::Duration::from_secs(20));
    assert!(
        !out.timed_out && out.refused_forks == 0,
        "no storm, no hang: {}",
        out.stderr
    );
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("inner check done"), "{}", out.stdout);
}

fn inner() {
    // Without init(): refused before any process starts.
    let err = common::ProcessPool::new(2).expect_err("refused without init()");
    assert!(err.to_string().contains("common::init()"), "{err}");
    // With init() called here, inside a test: the pool starts workers, each of which runs the
    // test harness (it is this binary's `main`), reaches a pool before `init`, and stops at once,
    // telling the pool why.
    common::init();
    let err = common::ProcessPool::new(2).expect_err("refused: workers would run the harness");
    assert!(err.to_string().contains("common::init()"), "{err}");
    println!("inner check done: {err}");
}
