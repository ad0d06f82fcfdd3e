//! Each scenario through the real binary: its checked result line, and nothing left afterwards.

mod support;
use support::{results, run_ok};

/// The parent's array keeps its sum while the child doubles its copy; a thread changes it.
#[test]
fn separate_memory_leaves_the_parents_array_alone() {
    let out = run_ok("separate", &["separate-memory"]);
    assert_eq!(
        results(&out),
        ["result: parent's sum 500500 unchanged after the child (child's copy 1001000), 1001000 after a thread [ok] -- a process changes only its own copy; a thread changes the one array"]
    );
}

/// Three children fill one image in a segment; the parent checks every pixel in place.
#[test]
fn shared_segment_is_filled_in_place_by_every_child() {
    let out = run_ok(
        "segment",
        &[
            "shared-segment",
            "--workers",
            "3",
            "--width",
            "64",
            "--height",
            "48",
        ],
    );
    let result = &results(&out)[0];
    assert!(
        result
            .starts_with("result: 3072 of 3072 pixels match the serial result, read in place [ok]"),
        "{result}"
    );
    assert_eq!(out.matches("written in place").count(), 3);
}

/// Atomics and the lock in the segment give exact totals; load-then-store never gains any.
#[test]
fn lost_update_is_exact_with_atomics_and_the_lock() {
    let out = run_ok(
        "lost",
        &["lost-update", "--workers", "2", "--increments", "100000"],
    );
    let result = &results(&out)[0];
    assert!(
        result.contains(", atomic 200000, lock 200000 (expected 200000) [ok]"),
        "{result}"
    );
    let plain: u64 = result["result: plain ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(plain <= 200_000, "{result}");
}

/// Every way delivers every child's slice intact, and the table has all five ways.
#[test]
fn copy_vs_share_verifies_every_slice_and_prints_the_table() {
    let out = run_ok(
        "copy",
        &[
            "copy-vs-share",
            "--workers",
            "2",
            "--mib",
            "4",
            "--rounds",
            "2",
        ],
    );
    let result = &results(&out)[0];
    assert!(
        result.starts_with("result: 16 child slices verified (the data of every child, every way, every round: 2 x 4 x 2) [ok]"),
        "{result}"
    );
    for way in [
        "memcpy in one process",
        "ipc-channel bytes (copy)",
        "ipc-channel IpcSharedMemory",
        "shared segment, new",
        "shared segment, reused",
    ] {
        assert!(out.contains(way), "no row for {way}:\n{out}");
    }
}

/// The leak of a SIGKILLed naive owner is swept; this run's segment is 0600 and unlinked early.
#[test]
fn cleanup_sweeps_the_leak_and_leaves_nothing() {
    let out = run_ok("cleanup", &["cleanup", "--workers", "2"]);
    assert_eq!(
        results(&out),
        ["result: 0 segments of this run left, leaked one removed, mode 0600, 2 of 2 children wrote after the unlink [ok] -- unlink once everyone has mapped, clean up on signals, sweep what a SIGKILL left"]
    );
    // The listing may show other runs' segments (tests run in parallel), never this run's.
    let ours = format!("shm-demo-{}-", support::parent_pid(&out).unwrap());
    // Each listing is a line `/dev/shm <when>:`, then one indented line per segment.
    let listed = |when: &str| -> Vec<String> {
        let lines: Vec<&str> = out.lines().collect();
        let at = lines.iter().position(|l| l.contains(when)).expect(when);
        lines[at + 1..]
            .iter()
            .take_while(|l| l.starts_with("     "))
            .map(|l| l.to_string())
            .collect()
    };
    assert!(
        listed("once every child mapped it")
            .iter()
            .any(|l| l.contains(&ours)),
        "{out}"
    );
    assert!(
        !listed("after unlink").iter().any(|l| l.contains(&ours)),
        "{out}"
    );
}

/// With no subcommand every scenario runs, in order, and each passes its check.
#[test]
fn all_is_the_default_and_runs_every_scenario() {
    let out = run_ok(
        "all",
        &[
            "--mib",
            "2",
            "--rounds",
            "1",
            "--width",
            "32",
            "--height",
            "24",
            "--increments",
            "10000",
        ],
    );
    let results = results(&out);
    assert_eq!(results.len(), 5, "{out}");
    assert!(results.iter().all(|r| r.contains("[ok]")), "{out}");
    let order: Vec<usize> = [
        "== separate-memory",
        "== shared-segment",
        "== lost-update",
        "== copy-vs-share",
        "== cleanup",
    ]
    .iter()
    .map(|h| out.find(h).unwrap())
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "scenarios out of order"
    );
}
