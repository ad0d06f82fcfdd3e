//! Nothing left behind: no worker process survives a normal run, Ctrl-C, or SIGKILL of the demo.
//!
//! Each test sets a marker variable on the demo it starts; pool workers and the crash child
//! inherit the environment, so `processes_with_env` finds every process the demo started, even
//! after init has adopted them.

use common::testing::{eventually, processes_with_env};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_pools-demo");
const MARKER: &str = "POOLS_DEMO_TEST_MARKER";

fn marked(test: &str, args: &[&str]) -> (Command, String) {
    let value = format!("{test}-{}", std::process::id());
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env(MARKER, &value)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    (cmd, value)
}

/// Starts a long bench, waits until its worker processes exist, sends `signal`, and checks that
/// every marked process is gone soon after. Returns the demo's exit status.
fn interrupt(test: &str, signal: i32) -> (std::process::ExitStatus, String) {
    let (mut cmd, value) = marked(test, &["bench", "--reps", "100"]);
    cmd.stderr(Stdio::piped());
    let mut demo = cmd.spawn().expect("the demo starts");
    // The demo itself carries the marker too: more than one process means workers are up.
    let up = eventually(Duration::from_secs(20), || {
        processes_with_env(MARKER, &value).len() > 1
    });
    if !up {
        let _ = demo.kill();
        let _ = demo.wait();
        panic!("no worker processes appeared");
    }
    common::demo::sys::send_signal(demo.id(), signal).expect("signal the demo");
    let status = demo.wait().expect("reap the demo");
    let mut stderr = String::new();
    if let Some(mut pipe) = demo.stderr.take() {
        // The demo has exited, so this read ends; its stderr is a few lines at most.
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    let gone = eventually(Duration::from_secs(5), || {
        processes_with_env(MARKER, &value).is_empty()
    });
    assert!(
        gone,
        "left behind: {:?}",
        processes_with_env(MARKER, &value)
    );
    (status, stderr)
}

/// After a normal run (crash starts pools and a child), every worker has been reaped.
#[test]
fn a_normal_run_leaves_no_process() {
    let (mut cmd, value) = marked("normal", &["crash"]);
    let status = cmd.status().expect("the demo runs");
    assert!(status.success());
    assert_eq!(processes_with_env(MARKER, &value), Vec::<u32>::new());
}

/// Ctrl-C (SIGINT): the demo's handler kills and reaps its workers and exits with 130, and
/// nothing is left behind (checked in `interrupt`).
#[test]
fn ctrl_c_leaves_no_process() {
    let (status, stderr) = interrupt("sigint", libc::SIGINT);
    assert!(!status.success(), "{status}; stderr:\n{stderr}");
    assert!(
        stderr.contains("interrupted by SIGINT"),
        "{status}; stderr:\n{stderr}"
    );
    assert!(status.code() == Some(130), "{status}; stderr:\n{stderr}");
}

/// SIGKILL runs no handler at all; the workers die with their parent (PR_SET_PDEATHSIG).
#[test]
fn sigkill_leaves_no_process() {
    use std::os::unix::process::ExitStatusExt;
    let (status, _) = interrupt("sigkill", libc::SIGKILL);
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

/// start-methods forks children of its own (not through a pool): after a normal run none is
/// left, the one stuck on the held lock included.
#[test]
fn start_methods_leaves_no_process() {
    let (mut cmd, value) = marked("start-normal", &["start-methods"]);
    let status = cmd.status().expect("the demo runs");
    assert!(status.success());
    assert_eq!(processes_with_env(MARKER, &value), Vec::<u32>::new());
}

/// Starts start-methods, waits until its forked child is stuck on the held lock, sends
/// `signal`, and checks that the stuck child is gone soon after. Returns the demo's status.
fn interrupt_while_stuck(test: &str, signal: i32) -> std::process::ExitStatus {
    use std::io::BufRead;
    let (mut cmd, value) = marked(test, &["start-methods"]);
    cmd.stdout(Stdio::piped());
    let mut demo = cmd.spawn().expect("the demo starts");
    let stdout = demo.stdout.take().expect("piped");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let stuck = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("forked: only the main thread was copied") => break true,
            Ok(_) => {}
            Err(_) => break false,
        }
    };
    if !stuck {
        let _ = demo.kill();
        let _ = demo.wait();
        panic!("the forked child never reported");
    }
    // The child is waiting on the lock now (the demo waits up to 1 s before it kills it).
    assert!(
        processes_with_env(MARKER, &value).len() > 1,
        "no child seen"
    );
    common::demo::sys::send_signal(demo.id(), signal).expect("signal the demo");
    let status = demo.wait().expect("reap the demo");
    let gone = eventually(Duration::from_secs(5), || {
        processes_with_env(MARKER, &value).is_empty()
    });
    assert!(
        gone,
        "left behind: {:?}",
        processes_with_env(MARKER, &value)
    );
    status
}

/// Ctrl-C while the forked child is stuck: the handler kills it; exit status 130.
#[test]
fn ctrl_c_while_a_child_is_stuck_leaves_no_process() {
    let status = interrupt_while_stuck("start-sigint", libc::SIGINT);
    assert_eq!(status.code(), Some(130), "{status}");
}

/// SIGKILL while the forked child is stuck: it dies with its parent (PR_SET_PDEATHSIG).
#[test]
fn sigkill_while_a_child_is_stuck_leaves_no_process() {
    use std::os::unix::process::ExitStatusExt;
    let status = interrupt_while_stuck("start-sigkill", libc::SIGKILL);
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}
