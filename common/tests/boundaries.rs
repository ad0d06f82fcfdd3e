//! The pool contract at its edges: programs that forget `init()`, odd paths, a replaced
//! executable, any `TMPDIR`, descriptors, forking tasks, and workers that cannot start for a while.
//!
//! This binary plays several programs, chosen by `BOUNDARY_ROLE`, and the tests run it as them.
//! Tests that could multiply processes run their subject inside a pids cgroup with a timeout
//! (see `confine`), and count how many times `main` ran through an `O_APPEND` log.

use common::{Error, Pool, ProcessPool};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod confine;
mod harness;
use harness::{check, Test};

/// Which program this run plays.
const ROLE: &str = "BOUNDARY_ROLE";
/// Every run of `main` appends its pid here (`O_APPEND`: whole lines, whatever the concurrency).
const MAIN_LOG: &str = "BOUNDARY_MAIN_LOG";
/// While this file exists, a worker exits before its handshake (a slot that cannot start).
const FAIL_FILE: &str = "BOUNDARY_FAIL_FILE";
/// Set by the pool in its workers for the role whose workers must not call `init`.
const SKIP_INIT: &str = "BOUNDARY_SKIP_INIT";

fn main() {
    if let Some(log) = std::env::var_os(MAIN_LOG) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(log)
            .expect("main log opens");
        // One write per line: `writeln!` may split a line into several writes, and lines of
        // processes writing at the same moment would then interleave.
        file.write_all(format!("{}\n", std::process::id()).as_bytes())
            .expect("the log takes a line");
    }
    let is_worker = std::env::var_os("COMMON_POOL_WORKER").is_some();
    if let Some(flag) = std::env::var_os(FAIL_FILE) {
        if is_worker && Path::new(&flag).exists() {
            std::process::exit(7);
        }
    }
    let role = std::env::var(ROLE).unwrap_or_default();
    // The roles that get `init` wrong on purpose decide before calling it.
    match role.as_str() {
        "forgot-init" => return report(ProcessPool::new(2).map(drop)),
        "init-on-thread" => {
            let outcome = std::thread::spawn(|| {
                common::init();
                ProcessPool::new(2).map(drop)
            })
            .join()
            .expect("the thread returns");
            return report(outcome);
        }
        "init-only-in-parent" => {
            if std::env::var_os(SKIP_INIT).is_none() {
                common::init();
            }
            let pool = ProcessPool::builder()
                .workers(2)
                .env(SKIP_INIT, "1")
                .build();
            return report(pool.map(drop));
        }
        _ => {}
    }
    common::init();
    match role.as_str() {
        "pool-work" => report(pool_work()),
        "replace-self" => report(replace_self()),
        _ => harness::run(&[
            Test("forgetting_init_is_an_error_not_a_storm", forgetting_init),
            Test(
                "init_off_the_main_thread_stops_each_worker_once",
                init_off_main,
            ),
            Test("a_worker_that_skips_init_stops_at_once", worker_skips_init),
            Test("any_path_spaces_unicode_symlink", any_path),
            Test("executable_replaced_while_running", replaced_executable),
            Test("any_tmpdir_long_missing_unwritable", any_tmpdir),
            Test("no_file_rendezvous_and_stdin_is_checked", no_rendezvous),
            Test("descriptors_stay_with_the_pool", descriptors),
            Test("a_forked_task_cannot_hide_a_death", forked_task),
            Test("a_slot_recovers_after_spawn_failures", slot_recovers),
            Test("init_leaves_other_files_alone", init_leaves_others_alone),
        ]),
    }
}

/// Prints a role's outcome on one line for the test that ran it: `ok ...` or `err <message>`.
fn report(outcome: Result<(), Error>) {
    match outcome {
        Ok(()) => println!("ok"),
        Err(e) => println!("err {e}"),
    }
}

fn pool_work() -> Result<(), Error> {
    let pool = ProcessPool::new(2)?;
    let out = pool.map(|x: u64| x * 2, 0..100)?;
    assert_eq!(out, (0..100).map(|x| x * 2).collect::<Vec<_>>());
    Ok(())
}

fn replace_self() -> Result<(), Error> {
    pool_work()?;
    // What `cargo build` does to a running program: a new file takes the old one's name.
    let exe = std::env::current_exe().expect("current_exe");
    std::fs::remove_file(&exe).expect("the copy can be removed");
    std::fs::write(&exe, b"#!/bin/sh\nexit 99\n").expect("a new file takes its name");
    pool_work()?;
    // And with no file by that name at all.
    std::fs::remove_file(&exe).expect("removed again");
    pool_work()
}

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("boundaries-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn this_exe() -> String {
    std::env::current_exe()
        .expect("current_exe")
        .to_string_lossy()
        .into_owned()
}

/// How many times `main` ran, from the log.
fn main_runs(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |s| s.lines().count())
}

/// Runs this binary as `role` in a pids cgroup (at most 32 processes) for at most 20 s.
fn confined_role(test: &str, role: &str) -> Option<(confine::Outcome, usize)> {
    let Some(cgroup) = confine::Cgroup::new(32) else {
        confine::skipped(test);
        return None;
    };
    let log = scratch(test).join("main.log");
    let mut cmd = cgroup.command(&this_exe());
    cmd.env(ROLE, role).env(MAIN_LOG, &log);
    let outcome = cgroup.run(&mut cmd, Duration::from_secs(20));
    Some((outcome, main_runs(&log)))
}

fn forgetting_init() -> harness::Result {
    let Some((out, runs)) = confined_role("forgot", "forgot-init") else {
        return Ok(());
    };
    check(
        !out.timed_out && out.refused_forks == 0,
        &format!("no storm, no hang (status {:?}): {}", out.code, out.stderr),
    )?;
    check(
        out.stdout.starts_with("err ") && out.stdout.contains("common::init()"),
        &format!("new() names init(): {:?}", out.stdout),
    )?;
    check(runs == 1, &format!("main ran once, not {runs} times"))
}

fn init_off_main() -> harness::Result {
    let Some((out, runs)) = confined_role("offmain", "init-on-thread") else {
        return Ok(());
    };
    check(
        !out.timed_out && out.refused_forks == 0,
        &format!("no storm, no hang (status {:?}): {}", out.code, out.stderr),
    )?;
    check(
        out.stdout.contains("common::init()") && out.stdout.contains("main thread"),
        &format!("the reason reaches new(): {:?}", out.stdout),
    )?;
    // The program, plus each worker started, at most one per slot (2) before new() failed.
    check(
        (2..=3).contains(&runs),
        &format!("main ran {runs} times: once, plus once per worker started"),
    )
}

fn worker_skips_init() -> harness::Result {
    let Some((out, runs)) = confined_role("skips", "init-only-in-parent") else {
        return Ok(());
    };
    check(
        !out.timed_out && out.refused_forks == 0,
        &format!("no storm, no hang (status {:?}): {}", out.code, out.stderr),
    )?;
    check(
        out.stdout.contains("before calling common::init()"),
        &format!("the worker's reason reaches new(): {:?}", out.stdout),
    )?;
    check(
        (2..=3).contains(&runs),
        &format!("main ran {runs} times: once, plus once per worker started"),
    )
}

/// Runs a copy of this binary at `path` as `role`; its one line of output.
fn run_copy(path: &Path, role: &str, tmpdir: Option<&Path>) -> String {
    let mut cmd = Command::new(path);
    cmd.env(ROLE, role);
    if let Some(tmp) = tmpdir {
        cmd.env("TMPDIR", tmp);
    }
    let out = cmd.output().expect("the copy runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

fn any_path() -> harness::Result {
    let dir = scratch("paths").join("dir with spaces").join("ünïcødé ✓");
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join("pool program");
    std::fs::copy(this_exe(), &copy)?;
    let link = dir.parent().expect("has a parent").join("link to it");
    std::os::unix::fs::symlink(&copy, &link)?;
    for path in [&copy, &link] {
        let said = run_copy(path, "pool-work", None);
        check(said == "ok", &format!("{}: {said}", path.display()))?;
    }
    Ok(())
}

fn replaced_executable() -> harness::Result {
    let copy = scratch("replaced").join("program");
    std::fs::copy(this_exe(), &copy)?;
    let said = run_copy(&copy, "replace-self", None);
    check(
        said == "ok",
        &format!("pools after replace and delete: {said}"),
    )
}

fn any_tmpdir() -> harness::Result {
    let base = scratch("tmpdirs");
    let long = base.join("d".repeat(120)).join("e".repeat(120));
    std::fs::create_dir_all(&long)?;
    let unwritable = base.join("read-only");
    std::fs::create_dir_all(&unwritable)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&unwritable, std::fs::Permissions::from_mode(0o500))?;
    let missing = base.join("does-not-exist");
    for tmp in [&long, &unwritable, &missing] {
        let said = run_copy(Path::new(&this_exe()), "pool-work", Some(tmp));
        check(said == "ok", &format!("TMPDIR={}: {said}", tmp.display()))?;
    }
    let long_left = std::fs::read_dir(&long)?.count();
    check(long_left == 0, "nothing written into TMPDIR")?;
    // Many pools come and go: no descriptor stays behind.
    let before = open_fds();
    for _ in 0..10 {
        drop(ProcessPool::new(2)?);
    }
    let after = open_fds();
    check(after <= before, &format!("descriptors {before} -> {after}"))
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// The descriptors process `pid` holds, as the targets `/proc` shows (`socket:[123]`, paths).
fn fds_of(pid: u32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .collect()
}

fn no_rendezvous() -> harness::Result {
    let tmp = scratch("rendezvous");
    let said = run_copy(Path::new(&this_exe()), "pool-work", Some(&tmp));
    check(said == "ok", &said)?;
    check(
        std::fs::read_dir(&tmp)?.count() == 0,
        "a pool makes no file, socket or directory in TMPDIR",
    )?;
    // A process that claims to be a worker but whose stdin is not its parent's socket pair
    // refuses to serve, before its `main` runs on.
    let out = Command::new(this_exe())
        .env("COMMON_POOL_WORKER", "1")
        .env(ROLE, "pool-work")
        .stdin(std::process::Stdio::null())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    check(
        out.status.code() == Some(70) && stderr.contains("not the pool's socket"),
        &format!("a fake worker refuses: {:?} {stderr}", out.status),
    )?;
    check(out.stdout.is_empty(), "and never ran the program")
}

fn descriptors() -> harness::Result {
    let pool = ProcessPool::new(4)?;
    // A child of the program's own holds none of the pool's sockets.
    let mut sleeper = Command::new("sleep").arg("5").spawn()?;
    std::thread::sleep(Duration::from_millis(50));
    let theirs = fds_of(sleeper.id());
    sleeper.kill()?;
    sleeper.wait()?;
    check(
        !theirs.iter().any(|t| t.starts_with("socket:")),
        &format!("a user's child inherits no socket: {theirs:?}"),
    )?;
    // Each worker holds exactly one socket, its own, also after a replacement.
    let victim = pool.worker_pids()[0];
    common::demo::sys::send_signal(victim, libc::SIGKILL)?;
    check(
        common::testing::eventually(Duration::from_secs(5), || {
            pool.worker_pids().len() == 4 && !pool.worker_pids().contains(&victim)
        }),
        "the killed worker is replaced",
    )?;
    pool.map(|x: u32| x + 1, 0..100u32)?;
    for pid in pool.worker_pids() {
        // Distinct sockets: the worker may hold its own under two descriptors (read, write).
        let sockets: std::collections::HashSet<String> = fds_of(pid)
            .into_iter()
            .filter(|t| t.starts_with("socket:"))
            .collect();
        check(
            sockets.len() == 1,
            &format!("worker {pid} holds only its own socket: {sockets:?}"),
        )?;
    }
    Ok(())
}

/// A task that forks a copy of its worker which lives on, then kills the worker.
fn fork_then_die(_: u32) -> u32 {
    // SAFETY: the child only sleeps and exits (async-signal-safe calls), never returning into
    // Rust code that might touch locks held by other threads at the time of the fork.
    unsafe {
        if libc::fork() == 0 {
            libc::sleep(30);
            libc::_exit(0);
        }
        libc::raise(libc::SIGKILL);
    }
    0
}

/// A task that forks a long-lived copy of its worker, then runs for a while.
fn fork_then_sleep(_: u32) -> u32 {
    // SAFETY: as in `fork_then_die`.
    unsafe {
        if libc::fork() == 0 {
            libc::sleep(30);
            libc::_exit(0);
        }
    }
    std::thread::sleep(Duration::from_secs(30));
    0
}

fn forked_task() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let worker = pool.worker_pids()[0];
    let started = Instant::now();
    let outcome = pool.submit(fork_then_die, 0).wait();
    check(
        matches!(outcome, Err(Error::WorkerDied { pid, .. }) if pid == worker),
        &format!("the death is seen despite the forked copy: {outcome:?}"),
    )?;
    check(
        started.elapsed() < Duration::from_secs(5),
        "within the watch interval, not after the copy's 30 s",
    )?;
    check(
        common::testing::eventually(Duration::from_secs(2), || {
            common::testing::processes_with_env("COMMON_CHILD_OF", &std::process::id().to_string())
                .len()
                == 1
        }),
        "the forked copy went with its worker (only the replacement is left)",
    )?;
    // terminate() is bounded even while a forked copy holds the worker's socket.
    let handle = pool.submit(fork_then_sleep, 0);
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    pool.terminate();
    check(
        started.elapsed() < Duration::from_secs(3),
        "terminate returns at once",
    )?;
    check(
        matches!(handle.wait(), Err(Error::Cancelled)),
        "the running task is cancelled",
    )?;
    check(
        common::testing::eventually(Duration::from_secs(2), || {
            common::testing::processes_with_env("COMMON_CHILD_OF", &std::process::id().to_string())
                .is_empty()
        }),
        "no worker and no forked copy is left",
    )
}

fn slot_recovers() -> harness::Result {
    let flag = scratch("recover").join("fail");
    let pool = ProcessPool::builder()
        .workers(1)
        .env(FAIL_FILE, &flag)
        .build()?;
    check(
        pool.map(|x: u32| x, 0..3u32)? == vec![0, 1, 2],
        "works at first",
    )?;
    // From now on every new worker exits before its handshake; kill the one we have.
    std::fs::write(&flag, b"")?;
    common::demo::sys::send_signal(pool.worker_pids()[0], libc::SIGKILL)?;
    let failing = common::testing::eventually(Duration::from_secs(5), || {
        matches!(pool.submit(|x: u32| x, 1).wait(), Err(Error::Spawn(_)))
    });
    check(
        failing,
        "while no worker can start, tasks fail at once (no hang)",
    )?;
    // The trouble ends: the slot must come back by itself, and the error must not stick.
    std::fs::remove_file(&flag)?;
    let back = common::testing::eventually(Duration::from_secs(5), || {
        pool.submit(|x: u32| x + 1, 1).wait() == Ok(2)
    });
    check(back, "tasks succeed again once a worker can start")?;
    check(pool.worker_pids().len() == 1, "the slot has a worker again")
}

fn init_leaves_others_alone() -> harness::Result {
    // What an old version swept: an ipc-channel-style socket directory nobody listens on.
    let tmp = scratch("others");
    let theirs = tmp.join(".tmpABC123");
    std::fs::create_dir_all(&theirs)?;
    drop(std::os::unix::net::UnixListener::bind(
        theirs.join("socket"),
    )?);
    // Old enough for the former sweep (10 s) to have removed it.
    let touched = Command::new("touch")
        .args(["-h", "-d", "1 hour ago"])
        .arg(theirs.join("socket"))
        .status()?;
    check(touched.success(), "the socket's time is set back")?;
    let said = run_copy(Path::new(&this_exe()), "pool-work", Some(&tmp));
    check(said == "ok", &said)?;
    check(
        theirs.join("socket").exists(),
        "init() and the pool left another program's files alone",
    )
}
