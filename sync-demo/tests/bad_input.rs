//! Bad input ends with exit status 2 and a one-line message, never a panic.

mod support;

fn rejected(args: &[&str]) {
    let output = support::run(
        &format!("bad-{}", args.join("-").replace(['/', ','], "_")),
        args,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error:"), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
    assert!(output.stdout.is_empty(), "{args:?} ran something");
}

#[test]
fn zero_workers() {
    rejected(&["mutex", "--workers", "0"]);
    rejected(&["semaphore", "--workers", "0"]);
}

#[test]
fn a_limit_of_zero() {
    rejected(&["semaphore", "--limits", "4,0,1"]);
    rejected(&["semaphore", "--limits", "4,2"]);
}

#[test]
fn unknown_scenario() {
    rejected(&["frobnicate"]);
}

#[test]
fn bad_with_value() {
    rejected(&["mutex", "--with", "fibers"]);
    rejected(&["--with", "both,threads"]);
}
