//! Nothing is left behind however the parent ends: a panic, SIGINT, SIGTERM, SIGKILL. Each test
//! stops the parent while a segment's name still exists (children have mapped it, the parent has
//! not unlinked it yet: the worst moment) and checks /dev/shm and /proc afterwards.

mod support;
use common::testing::{eventually, processes_with_env, shm_entries};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;
use support::{assert_nothing_left, marker_value, start_until, wait, MARKER};

const HOLD: &[&str] = &[
    "shared-segment",
    "--workers",
    "2",
    "--width",
    "32",
    "--height",
    "24",
    "--hold-before-unlink-ms",
    "20000",
];

/// Starts a demo that holds a linked segment, checks the segment is private and the children
/// run, and returns the demo and its pid.
fn start_holding(marker: &str) -> (std::process::Child, u32) {
    let (child, _) = start_until(marker, HOLD, "holding");
    let pid = child.id();
    let segments = shm_entries(&format!("shm-demo-{pid}-"));
    assert_eq!(segments.len(), 1, "the held segment exists: {segments:?}");
    let mode = std::fs::metadata(&segments[0])
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        mode, 0o600,
        "only the running user may read or write the segment"
    );
    assert_eq!(
        processes_with_env(MARKER, &marker_value(marker)).len(),
        3,
        "parent and two children run"
    );
    (child, pid)
}

fn signal(pid: u32, sig: i32) {
    common::demo::sys::send_signal(pid, sig).expect("the demo is ours to signal");
}

/// A panic in the parent unwinds: the segment guard and the children's guards clean up.
#[test]
fn panic_leaves_nothing() {
    let output = support::run(
        "panic",
        &[
            "shared-segment",
            "--width",
            "32",
            "--height",
            "24",
            "--panic-after-map",
        ],
    );
    assert_eq!(output.status.code(), Some(101));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(String::from_utf8_lossy(&output.stderr).contains("--panic-after-map"));
    assert_nothing_left("panic", support::parent_pid(&stdout).unwrap());
}

/// Ctrl-C: common's handler kills the children and removes the registered segment path.
#[test]
fn sigint_leaves_nothing() {
    let (mut child, pid) = start_holding("sigint");
    signal(pid, libc::SIGINT);
    assert_eq!(wait(&mut child).code(), Some(128 + libc::SIGINT));
    assert_nothing_left("sigint", pid);
}

/// SIGTERM is handled the same way as Ctrl-C.
#[test]
fn sigterm_leaves_nothing() {
    let (mut child, pid) = start_holding("sigterm");
    signal(pid, libc::SIGTERM);
    assert_eq!(wait(&mut child).code(), Some(128 + libc::SIGTERM));
    assert_nothing_left("sigterm", pid);
}

/// SIGKILL runs no code: the children die with the parent (PR_SET_PDEATHSIG), and the segment,
/// still linked at that moment, is removed by the next run's sweep.
#[test]
fn sigkill_children_die_and_the_next_run_removes_the_segment() {
    let (mut child, pid) = start_holding("sigkill");
    signal(pid, libc::SIGKILL);
    assert_eq!(wait(&mut child).signal(), Some(libc::SIGKILL));
    let value = marker_value("sigkill");
    assert!(
        eventually(Duration::from_secs(1), || processes_with_env(
            MARKER, &value
        )
        .is_empty()),
        "children outlived their parent"
    );

    // The next run (any scenario) sweeps segments whose owner is gone. Another test's run may
    // have swept it already; either way it must be gone afterwards.
    let out = support::run_ok("sigkill-next", &["separate-memory"]);
    let name = format!("shm-demo-{pid}-");
    assert!(
        shm_entries(&name).is_empty(),
        "the next run left the stale segment:\n{out}"
    );
}
