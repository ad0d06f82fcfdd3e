//! Getting \`common::init()\` wrong is an error, never a fork storm.

use super::support::confined_role;
use crate::harness::{self, check};

pub(crate) fn forgetting_init() -> harness::Result {
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

pub(crate) fn init_off_main() -> harness::Result {
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

pub(crate) fn worker_skips_init() -> harness::Result {
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
