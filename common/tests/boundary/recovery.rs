//! A slot recovers after spawn failures; init leaves other files alone.

use super::paths::run_copy;
use super::support::{scratch, this_exe};
use crate::harness::{self, check};
use crate::FAIL_FILE;
use common::{Error, Pool, ProcessPool};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub(crate) fn slot_recovers() -> harness::Result {
    let scratch = scratch("recover");
    let flag = scratch.join("fail");
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

pub(crate) fn init_leaves_others_alone() -> harness::Result {
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
