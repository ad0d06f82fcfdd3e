//! Same code, same results on both pools, for every serde type that round-trips through
//! serde_json; a bad value fails alone; panics keep their location whatever hook is installed.
//!
//! Each check is one generic body run on a `ThreadPool` and on a `ProcessPool`. This binary has
//! its own `main` (harness = false) because process workers re-enter it: `common::init()` must
//! come first. Run one test with `cargo test -p common --test serde_parity -- <name-filter>`.

use common::{ProcessPool, ThreadPool};
use std::time::Duration;

mod harness;
mod parity;
use harness::{check, Test};
use parity::bad_items::one_bad_item;
use parity::cases::serde_cases;
use parity::hooks::{hook_first_program, hooks};
use parity::skipped::skipped_field;

/// Makes this binary act as a program that installs its hook before any pool exists.
const ROLE: &str = "SERDE_PARITY_ROLE";

fn main() {
    common::init();
    if std::env::var(ROLE).as_deref() == Ok("hook-first") {
        return hook_first_program();
    }
    harness::run(&[
        Test("serde_cases_on_threads", || {
            serde_cases(&ThreadPool::new(2)?).map(drop)
        }),
        Test("serde_cases_on_processes", || {
            serde_cases(&ProcessPool::new(2)?).map(drop)
        }),
        Test("serde_cases_agree_on_both_pools", || {
            let threads = serde_cases(&ThreadPool::new(2)?)?;
            let processes = serde_cases(&ProcessPool::new(2)?)?;
            check(threads == processes, "the two transcripts are identical")
        }),
        Test("skipped_field_on_threads", || {
            skipped_field(&ThreadPool::new(1)?)
        }),
        Test("skipped_field_on_processes", || {
            skipped_field(&ProcessPool::new(1)?)
        }),
        Test("one_bad_item_on_threads", || {
            one_bad_item(&ThreadPool::new(1)?, &Vec::new)
        }),
        Test("one_bad_item_on_processes", || {
            let pool = ProcessPool::new(1)?;
            one_bad_item(&pool, &|| pool.worker_pids())
        }),
        Test("hook_installed_before_any_pool", || {
            let mut program = common::demo::child::Child::spawn(
                common::demo::child::self_command().env(ROLE, "hook-first"),
            )?;
            let status = program.finish(Duration::from_secs(20))?;
            check(status.success(), &format!("its checks pass ({status})"))
        }),
        // These two replace the panic hook of this test process; they run last.
        Test("hooks_on_threads", || hooks(&ThreadPool::new(1)?)),
        Test("hooks_on_processes", || hooks(&ProcessPool::new(1)?)),
    ]);
}
