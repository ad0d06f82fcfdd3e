//! The guard against a panic that would hang the job, installed for every run, the way
//! `python -m mpi4py` installs one (it calls `MPI_Abort` on an unhandled exception).
//!
//! Without it, a rank that panics outside a pool task unwinds as usual: on rank 0 that runs the
//! pool's orderly shutdown, which waits for the worker ranks' tasks, while those tasks wait in a
//! receive for something rank 0 would have sent next. mpi4py's documentation calls this
//! "irremediably in a deadlock state". The guard has two halves:
//!
//! - rank 0 ([`run_guarded`], around the program in `main`): a panic that reaches it ends the
//!   job at once, after one line that says so. No `MPI_Finalize` (it would wait for every
//!   rank), and no `MPI_Abort` either: only the MPI thread may call MPI here (funneled), and the
//!   main thread panicked. So the guard does for this host what `MPI_Abort` does: it kills the
//!   job's other ranks here, then ends this process without unwinding; `mpirun` ends the ranks
//!   on other hosts, as for any rank that dies. Started alone, the run's janitor ends the
//!   spawned ranks as soon as this process is gone (see `launch`).
//! - a worker rank, in a team task (see `team`): a panic there calls `MPI_Abort` on the team,
//!   which ends the whole job, since the other members wait in a collective for the panicking
//!   one. A panic in an ordinary task still fails alone: no other rank waits for it.
//!
//! `abort-on-panic` shows the difference: it runs a job without the guard
//! ([`UNGUARDED`] set in its environment, for that demonstration only), then with it.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;
use std::time::Duration;

/// Set (to any value) in a child job's environment to run it without the guard.
pub const UNGUARDED: &str = "MPI_DEMO_UNGUARDED";

/// The exit status of a process that the guard ends: Rust's own status for a panic.
pub const PANIC_STATUS: i32 = 101;

/// Whether the guard is on (it is, unless [`UNGUARDED`] is set).
pub fn is_on() -> bool {
    std::env::var_os(UNGUARDED).is_none()
}

/// The message of a panic, from its payload (`panic!` makes a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// Runs the program's code (`main`'s body after `init`); if it panics and the guard is on, ends
/// the job at once instead of unwinding into an orderly shutdown that could wait for ever.
///
/// The panic's own message has been printed by then (by the panic hook); this adds one line.
pub fn run_guarded<T>(program: impl FnOnce() -> T) -> T {
    if !is_on() {
        return program();
    }
    match catch_unwind(AssertUnwindSafe(program)) {
        Ok(value) => value,
        Err(payload) => {
            let others = other_local_ranks();
            let line = format!(
                "error: {} panicked outside any task ({}); the guard ends the job{}\n",
                crate::rank_tag(crate::rank()),
                panic_message(payload.as_ref()),
                match others.len() {
                    0 => String::new(),
                    n => format!(
                        " ({} here)",
                        common::demo::narrate::plural(n, "other rank", "other ranks")
                    ),
                }
            );
            use std::io::Write;
            // One write: the line stays whole beside the other ranks' output.
            let _ = std::io::stderr().write_all(line.as_bytes());
            // The kills and the exit back to back: `mpirun` ends a job quickly only when it
            // finds every rank already gone (otherwise it signals those left and waits 1 s).
            for pid in others {
                let _ = common::demo::sys::send_signal(pid, libc::SIGKILL);
            }
            // Like `_exit`: no destructors (the pool's shutdown would wait), no MPI_Finalize.
            common::demo::sys::exit_now(PANIC_STATUS)
        }
    }
}

/// Under `mpirun`: the other ranks of this job on this host (they carry our job's
/// `PMIX_NAMESPACE`, set by `mpirun`), which the guard kills. `mpirun` would end them too once
/// this process is gone, but only after a grace of a second or more (SIGTERM, then a wait);
/// `MPI_Abort` is quick, but may not be called from this thread. Ranks on other hosts are ended
/// by `mpirun`. Started alone, there is no such job (the spawned ranks are another one): the
/// run's janitor ends them when this process ends.
fn other_local_ranks() -> Vec<u32> {
    // From the environment this process started with: Open MPI may be changing the live one
    // on the MPI thread, and reading it meanwhile would race.
    let (Some(job), Some(_)) = (
        initial_env("PMIX_NAMESPACE"),
        initial_env("OMPI_COMM_WORLD_RANK"),
    ) else {
        return Vec::new(); // not started by mpirun: nothing of ours to end here
    };
    let me = std::process::id();
    common::demo::procfs::processes_with_env("PMIX_NAMESPACE", &job)
        .into_iter()
        .filter(|&pid| pid != me)
        .collect()
}

/// The value of `key` in the environment this process was started with.
fn initial_env(key: &str) -> Option<String> {
    let environ = std::fs::read("/proc/self/environ").ok()?;
    let prefix = format!("{key}=");
    environ.split(|&b| b == 0).find_map(|entry| {
        let value = entry.strip_prefix(prefix.as_bytes())?;
        Some(String::from_utf8_lossy(value).into_owned())
    })
}

/// In a worker rank about to block in MPI for as long as its team needs: ends this process if
/// its launcher (`mpirun`, or Open MPI's daemon for spawned ranks) goes away meanwhile, since
/// then nobody else would end it. The serve loop checks the same between batches; a team task
/// can block in a collective, where that check never runs. Started once per process.
pub fn end_with_launcher() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let launcher = std::os::unix::process::parent_id();
        let _ = std::thread::Builder::new()
            .name("launcher-watch".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(100));
                if std::os::unix::process::parent_id() != launcher {
                    // Adopted by init: the launcher is gone, and so is the job.
                    common::demo::sys::exit_now(1);
                }
            });
    });
}
