//! A tiny test runner for test binaries that need their own `main` (harness = false).
//!
//! It runs each named test, catches failures (an `Err` or a panic), prints one line per test in
//! libtest's style, and exits with status 1 if any failed. The first argument filters by name.

use std::time::Instant;

pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;

/// A named test.
pub struct Test(pub &'static str, pub fn() -> Result);

/// Fails the test with `what` unless `condition` holds.
pub fn check(condition: bool, what: &str) -> Result {
    if condition {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

/// Runs the tests whose name contains the first non-flag argument, and exits.
pub fn run(tests: &[Test]) {
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let chosen: Vec<&Test> = tests.iter().filter(|t| t.0.contains(&filter)).collect();
    println!("\nrunning {} tests", chosen.len());
    let mut failed = Vec::new();
    for Test(name, body) in chosen {
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(body);
        let secs = started.elapsed().as_secs_f64();
        match outcome {
            Ok(Ok(())) => println!("test {name} ... ok ({secs:.2}s)"),
            Ok(Err(e)) => {
                println!("test {name} ... FAILED ({secs:.2}s): {e}");
                failed.push(*name);
            }
            Err(_) => {
                println!("test {name} ... FAILED ({secs:.2}s): panicked");
                failed.push(*name);
            }
        }
    }
    if failed.is_empty() {
        println!(
            "\ntest result: ok. {} passed",
            tests.iter().filter(|t| t.0.contains(&filter)).count()
        );
    } else {
        println!("\ntest result: FAILED. failures: {}", failed.join(", "));
        std::process::exit(1);
    }
}
