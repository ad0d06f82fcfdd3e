//! The check of `pool-map`: `all_steps` on a thread pool and on a process pool of 2 workers
//! must give what a plain loop gives, and `longest` must agree with Python's
//! `steps.index(max(steps)) + 1` (the first maximum), ties included.

use crate::harness::{self, Verdict};
use common::{Pool, ProcessPool, ThreadPool};
use std::io::Write;
use std::time::Duration;

const NUMBERS: u64 = 10_000;

/// The two functions the student writes, for one pool type.
pub type AllSteps<P> = fn(&P, Vec<u64>) -> Result<Vec<u32>, common::Error>;

/// Runs `all_steps` on both pools and `longest` on their answer and on a tie.
pub fn check(
    out: &mut dyn Write,
    on_threads: AllSteps<ThreadPool>,
    on_processes: AllSteps<ProcessPool>,
    longest: fn(&[u32]) -> Option<(u64, u32)>,
    collatz_steps: fn(u64) -> u32,
) -> std::io::Result<Verdict> {
    let expected: Vec<u32> = (1..=NUMBERS).map(collatz_steps).collect();
    let threads = run(on_threads, ThreadPool::new(2));
    let processes = run(on_processes, ProcessPool::new(2));
    for (pool, got) in [("thread pool", threads), ("process pool", processes)] {
        match got {
            Ok(steps) if steps == expected => writeln!(out, "{pool}: {NUMBERS} results, in order")?,
            Ok(steps) => {
                let first = steps.iter().zip(&expected).position(|(a, b)| a != b);
                let why = match first {
                    _ if steps.len() != expected.len() => {
                        format!("{pool}: {} results for {NUMBERS} numbers", steps.len())
                    }
                    Some(i) => format!(
                        "{pool}: number {} gave {}, expected {}",
                        i + 1,
                        steps[i],
                        expected[i]
                    ),
                    None => unreachable!("equal lengths and no difference means equal"),
                };
                return Ok(Err(why));
            }
            Err(why) => {
                return Ok(Err(format!("{pool}: {why}")));
            }
        }
    }
    let checks: [Case<'_>; 3] = [
        (&expected, Some((6_171, 261))),
        (&[3, 7, 1, 7], Some((2, 7))),
        (&[], None),
    ];
    for (steps, want) in checks {
        let owned = steps.to_vec();
        let got = harness::bounded(
            Duration::from_secs(5),
            "longest did not return",
            move || longest(&owned),
        );
        match got {
            Ok(got) if got == want => {}
            Ok(got) => {
                let shown: Vec<u32> = steps.iter().copied().take(4).collect();
                let input = if steps.len() > 4 {
                    "the 10,000 steps".to_string()
                } else {
                    format!("{shown:?}")
                };
                let why = format!("longest({input}) gave {got:?}, expected {want:?}");
                return Ok(Err(why));
            }
            Err(why) => return Ok(Err(format!("longest: {why}"))),
        }
    }
    writeln!(
        out,
        "longest: number 6171, 261 steps; the first of a tie, as list.index"
    )?;
    Ok(Ok("the same answers on both pools as a plain loop".into()))
}

/// Steps given to `longest`, and the answer it must give.
type Case<'a> = (&'a [u32], Option<(u64, u32)>);

fn run<P: Pool + Send + 'static>(
    all_steps: AllSteps<P>,
    pool: Result<P, common::Error>,
) -> Result<Vec<u32>, String> {
    let pool = pool.map_err(|e| format!("the pool did not start: {e}"))?;
    let hung = "all_steps did not return in 30 s";
    harness::bounded(Duration::from_secs(30), hung, move || {
        all_steps(&pool, (1..=NUMBERS).collect())
    })?
    .map_err(|e| format!("a task failed: {e}"))
}
