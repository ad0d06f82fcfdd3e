//! The check of `pipeline`: 1,000 numbers through 1, 2 and 4 workers, against the sum the
//! check computes alone, each run bounded: a pipeline that never ends (a sender left open)
//! is reported, not waited for.

use crate::harness::{self, Verdict};
use std::io::Write;
use std::time::Duration;

const NUMBERS: u64 = 1_000;

/// Runs `sum_of_squares` at 1, 2 and 4 workers.
pub fn check(
    out: &mut dyn Write,
    sum_of_squares: fn(Vec<u64>, usize) -> u64,
) -> std::io::Result<Verdict> {
    let expected: u64 = (1..=NUMBERS).map(|n| n * n).sum();
    for workers in [1, 2, 4] {
        let named = common::demo::narrate::plural(workers, "worker", "workers");
        let hung = "the pipeline did not end in 10 s: is a sender to the collector still open?";
        let got = harness::bounded(Duration::from_secs(10), hung, move || {
            sum_of_squares((1..=NUMBERS).collect(), workers)
        });
        let line = match got {
            Ok(sum) if sum == expected => {
                writeln!(out, "{named}: sum {sum} (expected {expected})")?;
                continue;
            }
            Ok(sum) => format!("{named}: sum {sum}, expected {expected}"),
            Err(why) => format!("{named}: {why}"),
        };
        return Ok(Err(line));
    }
    Ok(Ok(format!(
        "the pipeline ends and sums right at 1, 2 and 4 workers ({expected})"
    )))
}
