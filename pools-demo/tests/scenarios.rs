//! Every scenario through the real binary: exit status 0 and the exact invariant of its
//! `result:` line (counts and kinds, never timings or line order).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_pools-demo");

/// Runs the demo with `args`, asserts success, and returns its stdout.
fn run_ok(args: &[&str]) -> String {
    let output = Command::new(BIN)
        .args(args)
        .output()
        .expect("the demo starts");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{args:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    stdout
}

/// The one `result:` line of a single-scenario run, joined with its continuation lines.
fn result_line(stdout: &str) -> String {
    let mut lines = common::demo::narrate::result_lines(stdout);
    assert_eq!(lines.len(), 1, "expected one result line in:\n{stdout}");
    lines.remove(0)
}

/// Both pools compute the same Collatz steps, equal to a sequential run.
#[test]
fn same_interface_gives_identical_results() {
    let out = run_ok(&["same-interface"]);
    assert!(result_line(&out).starts_with("result: thread and process pools gave identical results for 10000 items (longest: 6171 in 261 steps) [ok]"));
}

/// map keeps order, the unordered stream answers each item once, submit times out then answers.
#[test]
fn ordered_vs_completed_answers_each_item_once() {
    let out = run_ok(&["ordered-vs-completed", "--workers", "3"]);
    assert!(result_line(&out).starts_with("result: on both pools map gave 8 results in order, map_unordered each of 8 exactly once, submit timed out then answered [ok]"));
}

/// map, submit and await give the same answers; the caller's own work overlaps only with handles.
#[test]
fn blocking_vs_handles_gives_the_same_answers() {
    let out = run_ok(&["blocking-vs-handles", "--workers", "2"]);
    assert!(result_line(&out)
        .starts_with("result: map, submit and await gave the same 2 answers (map "));
    assert!(
        out.contains("[parent] await: a thread task and a process task awaited with 4 own steps")
    );
}

/// Every batch size, on both pools, returns every result right; `--chunk` adds a fifth size.
#[test]
fn chunking_returns_every_result() {
    let out = run_ok(&["chunking", "--tasks", "2000", "--chunk", "7"]);
    assert!(
        result_line(&out).starts_with("result: 10 of 10 runs returned all 2000 results right [ok]")
    );
}

/// Each workload on each pool matches the sequential results.
#[test]
fn workloads_match_sequential() {
    let out = run_ok(&["workloads"]);
    assert!(result_line(&out)
        .starts_with("result: 6 of 6 pool runs matched the sequential results [ok]"));
    assert!(out.contains("cpu-bound") && out.contains("tiny") && out.contains("sleeping"));
}

/// The recorded batches cover every task once, on one row per worker.
#[test]
fn timeline_covers_every_task_once() {
    let out = run_ok(&["timeline", "--workers", "3", "--chunk", "1"]);
    assert!(result_line(&out).starts_with("result: both timelines cover all 16 tasks exactly once, no worker runs two batches at once [ok]"));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("  [thread ")).count(),
        3
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("  worker ")).count(),
        3
    );
}

/// A panic fails one task on each pool; an abort kills one process worker, or the whole
/// thread-pool child.
#[test]
fn crash_fails_only_the_faulty_tasks() {
    let out = run_ok(&["crash"]);
    assert!(result_line(&out).starts_with(
        "result: process pool: 8 right, 1 panicked, 1 worker died (SIGABRT); thread pool: 8 right, 1 panicked; thread-pool child killed by SIGABRT [ok]"
    ));
}

/// Every pool size from 1 to 2N returns the right results.
#[test]
fn sizing_is_right_at_every_size() {
    let out = run_ok(&["sizing"]);
    let n = 2 * 2 * std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        result_line(&out).starts_with(&format!("result: {n} of {n} pool sizes returned all")),
        "{out}"
    );
}

/// Every split of the skewed image gives the same checksum, on both pools, with 3 workers too.
#[test]
fn imbalance_gives_one_checksum_under_every_split() {
    use pools_demo::imbalance::{rows_checksum, ROWS};
    let expected = rows_checksum((0, 1, ROWS));
    for workers in ["2", "3"] {
        let out = run_ok(&["imbalance", "--workers", workers]);
        let wanted = format!(
            "result: checksum {expected} under all 3 splits on both pools (6 runs agree) [ok]"
        );
        assert!(result_line(&out).starts_with(&wanted), "{out}");
        assert!(
            out.contains("max/min") || out.contains("a worker did nothing"),
            "{out}"
        );
    }
}

/// The child forked while another thread held the lock is found stuck, killed and reaped,
/// every time; the re-executed child takes its own lock.
#[test]
fn start_methods_finds_the_stuck_child_every_time() {
    for _ in 0..common::testing::fault_rounds(2, 10) {
        let out = run_ok(&["start-methods"]);
        let result = result_line(&out);
        assert!(
            result.starts_with("result: the forked child stuck on the held lock was found after"),
            "{out}"
        );
        assert!(result.contains("[ok]"), "{out}");
        assert!(out.contains("killed by signal 9 (SIGKILL)"), "{out}");
        assert!(
            out.contains("its LOCK is a fresh one; exited with code 0"),
            "{out}"
        );
    }
}

/// The bench (at its smallest) prints its ratio table and checks every run.
#[test]
fn bench_checks_every_run() {
    let out = run_ok(&["bench", "--reps", "1", "--scale", "1"]);
    assert!(result_line(&out)
        .starts_with("result: 8 of 8 pool runs matched the sequential results [ok]"));
    assert!(out.contains("pro/thr"));
}

/// With no subcommand, every scenario runs in order and each passes.
#[test]
fn no_subcommand_runs_every_scenario() {
    let out = run_ok(&[]);
    let results = common::demo::narrate::result_lines(&out);
    assert_eq!(results.len(), pools_demo::TOUR.len(), "{out}");
    assert!(results.iter().all(|l| l.contains("[ok]")));
}

/// Minimal well-formedness: an SVG root, a closing tag at the end, and balanced elements.
fn assert_well_formed_svg(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text.trim();
    assert!(
        text.starts_with("<svg") || text.starts_with("<?xml"),
        "{} does not start as SVG",
        path.display()
    );
    assert!(
        text.ends_with("</svg>"),
        "{} does not end with </svg>",
        path.display()
    );
    // Every opened element is closed: count `<name` openings against `</` and `/>` closings.
    let opened =
        text.matches('<').count() - text.matches("</").count() - text.matches("<?").count();
    let closed = text.matches("</").count() + text.matches("/>").count();
    assert_eq!(opened, closed, "{} has unbalanced elements", path.display());
    assert!(text.contains("<rect"), "{} draws nothing", path.display());
}

/// `--svg DIR` writes the timeline of each pool and the speed-up chart as well-formed SVG.
#[test]
fn svg_charts_are_well_formed() {
    let dir = std::env::temp_dir().join(format!("pools-demo-svg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().expect("a UTF-8 temp path");
    run_ok(&["timeline", "--svg", d]);
    run_ok(&["workloads", "--svg", d]);
    for name in ["timeline-thread.svg", "timeline-process.svg", "speedup.svg"] {
        assert_well_formed_svg(&dir.join(name));
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("the dir exists")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["speedup.svg", "timeline-process.svg", "timeline-thread.svg"],
        "no probe or temp file left"
    );
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// Both pools weigh the whole input eager and streamed, and an endless input ends.
#[test]
fn streaming_weighs_everything_and_ends_an_endless_input() {
    let out = run_ok(&["streaming", "--workers", "2"]);
    assert!(result_line(&out).starts_with(
        "result: both pools weighed all 128 MiB, eager and streamed, and read 100 results of an \
         endless input pulling at most 676 items [ok]"
    ));
}

/// A table sent with every task and shared once give the same sums on both pools, and shared
/// it crosses a process pool's sockets as references only.
#[test]
fn share_vs_send_gives_the_same_sums_and_sends_references() {
    let out = run_ok(&["share-vs-send", "--workers", "2"]);
    assert!(
        result_line(&out).starts_with(
            "result: all six runs gave the same 100 sums, and the shared table crossed the \
             sockets as references (under 1 MiB for 100 tasks, both ways of sharing) [ok]"
        ),
        "{out}"
    );
    assert!(out.contains("1600 MiB on sockets"), "{out}");
}

/// Four stops on each pool: every nap finished or was cancelled, as its stop promises, and a
/// task submitted after a shutdown is refused.
#[test]
fn stopping_accounts_for_every_nap() {
    let out = run_ok(&["stopping", "--workers", "2"]);
    assert!(
        result_line(&out).starts_with(
            "result: 8 stops, 10 naps each: every nap finished or was cancelled, as its stop \
             promises [ok]"
        ),
        "{out}"
    );
    assert_eq!(out.matches("a new task: ShutDown").count(), 4, "{out}");
    assert!(
        out.contains("process terminate()     finished  0, cancelled 10"),
        "{out}"
    );
}
