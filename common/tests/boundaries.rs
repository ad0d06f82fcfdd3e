//! The pool contract at its edges: programs that forget `init()`, odd paths, a replaced
//! executable, any `TMPDIR`, descriptors, forking tasks, and workers that cannot start for a while.
//!
//! This binary plays several programs, chosen by `BOUNDARY_ROLE`, and the tests run it as them.
//! Tests that could multiply processes run their subject inside a pids cgroup with a timeout
//! (see `confine`), and count how many times `main` ran through an `O_APPEND` log.

use common::{Error, Pool, ProcessPool};
use std::io::Write;
use std::path::Path;

mod boundary;
mod confine;
mod harness;
use boundary::descriptors::{descriptors, no_rendezvous};
use boundary::forks::forked_task;
use boundary::init::{forgetting_init, init_off_main, worker_skips_init};
use boundary::paths::{any_path, any_tmpdir, replaced_executable};
use boundary::recovery::{init_leaves_others_alone, slot_recovers};
use harness::Test;

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
