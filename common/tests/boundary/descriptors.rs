//! No file rendezvous; descriptors stay with the pool that opened them.

use super::paths::run_copy;
use super::support::{scratch, this_exe};
use crate::harness::{self, check};
use crate::ROLE;
use common::{Pool, ProcessPool};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub(crate) fn open_fds() -> usize {
    // A count of 0 would hide a leak, so an unreadable /proc is a failure, not a zero.
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd lists this process's descriptors (Linux)")
        .count()
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

pub(crate) fn no_rendezvous() -> harness::Result {
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

pub(crate) fn descriptors() -> harness::Result {
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
