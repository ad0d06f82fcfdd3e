//! Nothing is left behind when a run is interrupted: Ctrl-C (SIGINT) in the middle of a scenario,
//! or a SIGKILL of the demo itself, which no handler can see.

mod support;
use common::demo::child::Child;
use common::testing::{eventually, processes_with_env};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{marker, BIN, MARKER};

/// A scenario long enough to be interrupted: prime counting far beyond the default.
const LONG_RUN: &[&str] = &["speedup", "--workers", "2", "--limit", "400000000"];

/// Starts the demo with `args` and the marker of `test`, and returns once its scenario has
/// printed its header and `ready` holds for its pid.
fn start(test: &str, args: &[&str], ready: impl Fn(u32) -> bool) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env(MARKER, marker(test))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = Child::spawn(&mut cmd).expect("the demo starts");
    let stdout = child.inner_mut().stdout.take().expect("stdout is piped");
    let (tx, header) = crossbeam_channel::bounded(1);
    // Read on a thread, so the wait for the header has a bound.
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
        let _ = tx.send(lines.any(|l| l.starts_with("== ")));
        lines.for_each(drop); // keep draining, so the demo never blocks on a full pipe
    });
    assert_eq!(
        header.recv_timeout(Duration::from_secs(20)),
        Ok(true),
        "no header"
    );
    let pid = child.pid();
    assert!(
        eventually(Duration::from_secs(20), || ready(pid)),
        "the demo never got ready"
    );
    child
}

/// Ctrl-C mid-run: the cleanup handler exits with 128 + 2, and nothing is left.
#[test]
fn sigint_mid_run_exits_130_and_leaves_nothing() {
    let mut demo = start("sigint", LONG_RUN, |_| true);
    std::thread::sleep(Duration::from_millis(100)); // on purpose: be in the middle of the work
    common::demo::sys::send_signal(demo.pid(), libc::SIGINT).expect("signal sent");
    let status = demo
        .wait_timeout(Duration::from_secs(10))
        .expect("waitpid")
        .expect("the demo ended");
    assert_eq!(status.code(), Some(130), "{status:?}");
    support::assert_nothing_left("sigint");
}

/// SIGKILL of the demo: nothing of it is left within 1 s (an abort child, if any, dies with it).
#[test]
fn sigkill_of_the_demo_leaves_nothing() {
    let mut demo = start("sigkill", LONG_RUN, |_| true);
    std::thread::sleep(Duration::from_millis(100)); // on purpose: be in the middle of the work
    common::demo::sys::send_signal(demo.pid(), libc::SIGKILL).expect("signal sent");
    demo.wait_timeout(Duration::from_secs(5))
        .expect("waitpid")
        .expect("the demo ended");
    let marker = marker("sigkill");
    assert!(eventually(Duration::from_secs(1), || processes_with_env(
        MARKER, &marker
    )
    .is_empty()));
}
