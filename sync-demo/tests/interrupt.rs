//! Ctrl-C in the middle of a run leaves nothing behind: no children, no files, no /dev/shm.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

/// Starts the demo, waits for a line containing `when`, sends SIGINT, checks what is left.
fn interrupt(test: &str, args: &[&str], when: &str) {
    let scratch = support::Scratch::new(test);
    let mut child = scratch
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the demo");
    let pid = child.id();
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let when_owned = when.to_string();
    // Keep reading to the end: a closed pipe would make the demo's next write fail, and the
    // demo would stop by itself before the signal arrives.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(&when_owned) {
                let _ = tx.send(());
            }
        }
    });
    let seen = rx.recv_timeout(Duration::from_secs(20)).is_ok();
    assert!(seen, "{when:?} never printed");
    // Into the next part of the run, where children are running.
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !common::testing::descendants_of(pid).is_empty(),
        "no children to clean up: interrupt too late"
    );
    common::demo::sys::send_signal(pid, libc::SIGINT).expect("send SIGINT");
    let status = child.wait().expect("wait for the demo");
    // 130 (128 + SIGINT) from common's handler, even though the main thread sees its children
    // killed by that handler meanwhile.
    assert_eq!(status.code(), Some(130), "{status}");
    scratch.assert_nothing_left(pid);
}

/// Interrupted while ten writers hold the shared file (a temporary file to remove).
#[test]
fn sigint_during_locked_writers() {
    interrupt(
        "int-mutex",
        &["mutex", "--with", "processes", "--lines", "60"],
        "without a lock:",
    );
}

/// Interrupted while 60 children wait on named semaphores.
#[test]
fn sigint_during_semaphore_workers() {
    interrupt(
        "int-sem",
        &[
            "semaphore",
            "--with",
            "processes",
            "--workers",
            "60",
            "--work-ms",
            "40",
        ],
        "without a semaphore",
    );
}
