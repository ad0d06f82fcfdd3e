//! The kept arena (`src/process_pool/kept.rs`): a large payload lands in memory its side of the
//! line already touched, and a worker gives that memory back once idle.
//!
//! Fresh memory shows as page faults: one per 4 KiB page touched for the first time. With
//! transparent huge pages off for this test (a fresh 64 MiB buffer then costs 16,384 faults,
//! where huge pages would cost 32 and hide the difference), a round trip that receives into
//! kept memory faults a few times, one that receives into fresh memory thousands of times.

use super::super::harness::{self, check};
use common::{Array, Pool, ProcessPool};
use serde_bytes::ByteBuf;
use std::time::{Duration, Instant};

const SIZE: usize = 64 << 20;
/// A quarter of the pages of one payload: far above what a warm round trip faults, far below
/// what one fresh buffer does.
const FRESH: u64 = (SIZE / 4096 / 4) as u64;

fn flip(mut bytes: ByteBuf) -> ByteBuf {
    bytes.iter_mut().for_each(|b| *b = !*b);
    bytes
}

fn negate(mut values: Array<f64>) -> Array<f64> {
    values.iter_mut().for_each(|v| *v = -*v);
    values
}

/// Minor page faults of process `pid` so far (`/proc/<pid>/stat`, field 10).
fn faults(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .nth(7)
        .and_then(|v| v.parse().ok())
        .expect("/proc/<pid>/stat has minflt (Linux)")
}

/// A resident size field (`VmRSS:`) of process `pid`, in bytes.
fn resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Turns transparent huge pages off for this process and the workers it starts from now on
/// (`PR_SET_THP_DISABLE` is inherited across fork and exec), or back on.
fn huge_pages(on: bool) {
    rustix::thread::disable_transparent_huge_pages(!on).expect("prctl(PR_SET_THP_DISABLE)");
}

type Counted<R> = Result<(R, u64, u64), Box<dyn std::error::Error>>;

/// What `trip` returned, with the pool's faults and the worker's while it ran.
fn faults_during<R>(worker: u32, trip: impl FnOnce() -> Result<R, common::Error>) -> Counted<R> {
    let (pool_before, worker_before) = (faults(std::process::id()), faults(worker));
    let back = trip()?;
    let (ours, theirs) = (
        faults(std::process::id()) - pool_before,
        faults(worker) - worker_before,
    );
    Ok((back, ours, theirs))
}

/// One 64 MiB round trip: the pool's faults and the worker's, while it went there and back.
fn round_trip(pool: &ProcessPool, worker: u32) -> Result<(u64, u64), Box<dyn std::error::Error>> {
    let argument = ByteBuf::from(vec![7u8; SIZE]); // touched here, before counting
    let (back, ours, theirs) = faults_during(worker, || pool.submit(flip, argument).wait())?;
    check(
        back.len() == SIZE && back.iter().all(|&b| b == !7),
        "64 MiB came back flipped",
    )?;
    Ok((ours, theirs))
}

pub(crate) fn a_large_payload_lands_in_kept_memory() -> harness::Result {
    huge_pages(false);
    let checked = (|| {
        let pool = ProcessPool::new(1)?;
        let worker = pool.worker_pids()[0];
        // The first trip gives the worker its buffer; later ones reuse it.
        let (_, first) = round_trip(&pool, worker)?;
        check(
            first >= FRESH,
            &format!("the first trip touches fresh memory in the worker ({first} faults)"),
        )?;
        for _ in 0..3 {
            let (ours, theirs) = round_trip(&pool, worker)?;
            check(
                ours < FRESH && theirs < FRESH,
                &format!(
                    "a later trip receives into kept memory: {ours} faults in the pool, \
                     {theirs} in the worker (fresh memory is {} or more)",
                    SIZE / 4096
                ),
            )?;
        }
        // An `Array<f64>` too: its memory is kept as words, and the answer comes back in it.
        for trip in 0..4 {
            let argument = Array::from(vec![0.5f64; SIZE / 8]);
            let (back, ours, theirs) =
                faults_during(worker, || pool.submit(negate, argument).wait())?;
            check(
                back.len() == SIZE / 8 && back.iter().all(|&v| v == -0.5),
                "64 MiB of f64 came back negated",
            )?;
            check(
                trip == 0 || (ours < FRESH && theirs < FRESH),
                &format!(
                    "a later Array<f64> trip receives into kept memory: {ours} faults in the \
                     pool, {theirs} in the worker"
                ),
            )?;
        }
        // With retries, a running batch's argument may be sent again: it is not reused for the
        // answer, and the answer is still whole.
        let retrying = ProcessPool::builder().workers(1).retries(1).build()?;
        let worker = retrying.worker_pids()[0];
        round_trip(&retrying, worker)?;
        let (ours, _) = round_trip(&retrying, worker)?;
        check(
            ours >= FRESH,
            &format!("with retries the answer gets fresh memory ({ours} faults)"),
        )
    })();
    huge_pages(true);
    checked
}

pub(crate) fn an_idle_worker_frees_its_kept_memory() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let worker = pool.worker_pids()[0];
    let back = pool.submit(flip, ByteBuf::from(vec![1u8; SIZE])).wait()?;
    check(back.len() == SIZE, "64 MiB came back")?;
    let holding = resident(worker);
    check(
        holding >= SIZE as u64,
        &format!("the worker keeps the result's memory ({holding} bytes resident)"),
    )?;
    // Freed after `IDLE` (1 s) without a batch; polled, with a bound far past it.
    let until = Instant::now() + Duration::from_secs(10);
    while resident(worker) >= (SIZE / 2) as u64 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let idle = resident(worker);
    check(
        idle < (SIZE / 2) as u64,
        &format!("an idle worker gives it back ({holding} -> {idle} bytes resident)"),
    )
}
