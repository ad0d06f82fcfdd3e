//! Item 10: panic locations survive hooks installed after the pool exists.

use crate::harness::{self, check};
use common::{Error, Pool, ProcessPool, ThreadPool};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// How many panics the program's own hook has seen.
static PROGRAM_HOOK_SAW: AtomicUsize = AtomicUsize::new(0);

fn counting_hook() {
    std::panic::set_hook(Box::new(|_| {
        PROGRAM_HOOK_SAW.fetch_add(1, SeqCst);
    }));
}

fn panicky(x: u32) -> u32 {
    if x > 0 {
        panic!("panicky {x}");
    }
    x
}

/// A task that installs a hook of its own (in a process worker: in that worker).
fn task_installs_a_hook(_: ()) {
    std::panic::set_hook(Box::new(|_| {}));
}

fn located_here(result: &Result<u32, Error>, message: &str) -> bool {
    matches!(result, Err(Error::Panicked { message: m, location: Some(at) })
        if m == message && at.contains("tests/parity/hooks.rs:"))
}

pub(crate) fn hooks<P: Pool>(pool: &P) -> harness::Result {
    pool.map(|x: u32| x, 0..4)?; // the pool exists and has run tasks
    counting_hook();
    let outcome = (|| -> harness::Result {
        // The first panic after a non-chaining hook replaced the pool's may lose its location
        // on the thread pool (documented in src/panics.rs); every later one must have it.
        let first = pool.submit(panicky, 1).wait();
        check(
            matches!(&first, Err(Error::Panicked { message, .. }) if message == "panicky 1"),
            &format!("the first panic after the program's hook is still an error ({first:?})"),
        )?;
        let seen = PROGRAM_HOOK_SAW.load(SeqCst);
        let second = pool.submit(panicky, 2).wait();
        check(
            located_here(&second, "panicky 2"),
            &format!("a hook installed after the pool keeps locations ({second:?})"),
        )?;
        check(
            PROGRAM_HOOK_SAW.load(SeqCst) == seen,
            "a task's panic is an error value, not a call of the program's hook",
        )?;
        let _ = std::thread::spawn(|| panic!("outside any pool")).join();
        check(
            PROGRAM_HOOK_SAW.load(SeqCst) == seen + 1,
            "the program's hook still sees panics outside pool tasks",
        )?;

        pool.submit(task_installs_a_hook, ()).wait()?;
        let _first = pool.submit(panicky, 3).wait();
        let second = pool.submit(panicky, 4).wait();
        check(
            located_here(&second, "panicky 4"),
            &format!("a hook installed by a task keeps locations ({second:?})"),
        )
    })();
    drop(std::panic::take_hook()); // the default hook again, for whatever runs next
    outcome
}

/// A program that installs its hook first, then uses both pools (run by
/// `hook_installed_before_any_pool` in a process of its own, so that no pool existed before).
pub(crate) fn hook_first_program() {
    counting_hook();
    let outcome = (|| -> harness::Result {
        hook_first(&ThreadPool::new(1)?)?;
        hook_first(&ProcessPool::new(1)?)
    })();
    if let Err(e) = outcome {
        eprintln!("hook-first program: {e}");
        std::process::exit(1);
    }
}

fn hook_first<P: Pool>(pool: &P) -> harness::Result {
    let seen = PROGRAM_HOOK_SAW.load(SeqCst);
    let first = pool.submit(panicky, 1).wait();
    check(
        located_here(&first, "panicky 1"),
        &format!(
            "with the hook installed first, even the first panic has its location ({first:?})"
        ),
    )?;
    check(
        PROGRAM_HOOK_SAW.load(SeqCst) == seen,
        "a task's panic is an error value, not a call of the program's hook",
    )?;
    let _ = std::thread::spawn(|| panic!("outside any pool")).join();
    check(
        PROGRAM_HOOK_SAW.load(SeqCst) == seen + 1,
        "the program's hook sees panics outside pool tasks",
    )
}
