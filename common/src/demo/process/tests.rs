//! The crew with ordinary programs as children (`sh`, `sleep`).

use super::*;

#[test]
fn reap_kills_a_child_that_outlives_its_bound() {
    let mut crew = Crew::new();
    let mut cmd = Command::new("sleep");
    cmd.arg("30");
    crew.start(&mut cmd).expect("sleep starts");
    let pid = crew.pid(0);
    let e = crew
        .reap(Duration::from_millis(50))
        .expect_err("sleep outlives 50 ms");
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert!(e.to_string().contains(&pid.to_string()), "{e}");
    assert!(!crate::demo::procfs::children_of(std::process::id()).contains(&pid));
}

#[test]
fn expect_all_copies_narration_and_collects_reports() {
    let mut crew = Crew::new();
    for word in ["one", "two"] {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("echo said {word}; echo @ready {word}")]);
        crew.start(&mut cmd).expect("sh starts");
    }
    let mut out = Vec::new();
    let got = crew
        .expect_all(&mut out, "ready", Duration::from_secs(10))
        .expect("both report");
    assert_eq!(got, ["one", "two"]);
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.contains("said one") && text.contains("said two"),
        "{text}"
    );
    assert_eq!(
        crew.recv(Duration::from_secs(10)).expect("no timeout"),
        None
    );
    assert!(crew
        .reap(Duration::from_secs(10))
        .expect("reaped")
        .iter()
        .all(|s| s.success()));
}

#[test]
fn finish_collects_late_reports_and_names_a_failed_child() {
    let mut crew = Crew::new();
    for script in ["read line; echo @done ok; echo bye", "exit 3"] {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        crew.start(&mut cmd).expect("sh starts");
    }
    let failed = crew.pid(1);
    let mut out = Vec::new();
    let e = crew
        .finish(&mut out, "done", Duration::from_secs(10))
        .expect_err("child 1 exits with 3");
    assert!(
        e.to_string()
            .contains(&format!("pid {failed} exited with code 3")),
        "{e}"
    );
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("bye"), "{text}");
}

#[test]
fn spawn_starts_this_program_again_with_child_first() {
    // Here "this program" is the test harness: `child --list` lists the tests whose name contains
    // "child", and runs none of them.
    let mut crew = Crew::spawn([["--list"]]).expect("the harness starts");
    let mut lines = Vec::new();
    while let Some((index, line)) = crew.recv(Duration::from_secs(30)).expect("in time") {
        assert_eq!(index, 0);
        lines.push(line);
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("spawn_starts_this_program_again_with_child_first")),
        "{lines:?}"
    );
    assert!(crew.reap(Duration::from_secs(10)).expect("reaped")[0].success());
}
