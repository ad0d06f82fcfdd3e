//! What every user of \`Pool\` relies on, run on both pools by one generic body.

use crate::harness::{self, check};
use common::{Chunk, Error, Pool, ProcessPool, ThreadPool};
use std::time::Duration;

/// One body, both pools: everything a user of `Pool` relies on.
pub(crate) fn contract<P: Pool>(pool: &P) -> harness::Result {
    let squares = pool.map(|x: u64| x * x, 0..1000)?;
    check(
        squares == (0..1000).map(|x| x * x).collect::<Vec<_>>(),
        "map returns results in item order",
    )?;

    for chunk in [
        Chunk::Size(1),
        Chunk::Size(7),
        Chunk::Size(5000),
        Chunk::Auto,
    ] {
        let out = pool.map_chunked(|s: String| s.len(), (0..100).map(|i| "x".repeat(i)), chunk)?;
        check(
            out == (0..100).collect::<Vec<_>>(),
            &format!("map_chunked with {chunk:?}"),
        )?;
    }
    check(
        pool.map(|x: u8| x, Vec::new())?.is_empty(),
        "map of nothing is empty",
    )?;

    let mut seen: Vec<usize> = pool
        .map_unordered(|x: u32| x + 1, 0..200)
        .map(|(i, r)| {
            assert_eq!(r, Ok(i as u32 + 1), "item {i} carries its own result");
            i
        })
        .collect();
    seen.sort_unstable();
    check(
        seen == (0..200).collect::<Vec<_>>(),
        "map_unordered yields every index exactly once",
    )?;

    let handle = pool.submit(|(a, b): (i64, i64)| a - b, (10, 3));
    check(handle.wait() == Ok(7), "submit + wait")?;

    let mut slow = pool.submit(|ms: u64| std::thread::sleep(Duration::from_millis(ms)), 300);
    check(
        slow.wait_timeout(Duration::from_millis(1))
            == Err(Error::Timeout(Duration::from_millis(1))),
        "wait_timeout times out",
    )?;
    check(
        slow.wait_timeout(Duration::from_secs(20)) == Ok(()),
        "the same handle can wait again",
    )?;
    check(
        slow.wait_timeout(Duration::from_secs(1)) == Err(Error::AlreadyTaken),
        "a result is taken once",
    )?;

    // A panicking task fails alone, with its message and location; the pool goes on.
    let results: Vec<_> = pool
        .map_unordered(
            |x: u32| {
                if x == 3 {
                    panic!("three is right out")
                } else {
                    x
                }
            },
            0..6,
        )
        .collect();
    for (i, result) in results {
        match result {
            Err(Error::Panicked { message, location }) => {
                check(i == 3, "only item 3 panics")?;
                check(message == "three is right out", "the panic message is kept")?;
                // The contract promises a location, so its absence fails the test.
                let at = location.ok_or("the panic comes with its location")?;
                check(
                    at.contains("tests/contract/api.rs:"),
                    &format!("the location names this file (got {at:?})"),
                )?;
            }
            Ok(v) => check(v as usize == i && i != 3, "other items succeed")?,
            Err(e) => return Err(format!("unexpected error for item {i}: {e}").into()),
        }
    }
    let err = pool
        .map(|x: u32| if x == 2 { panic!("two") } else { x }, 0..4)
        .unwrap_err();
    check(
        matches!(err, Error::Panicked { ref message, .. } if message == "two"),
        "map reports the failed item's error",
    )?;
    check(
        pool.map(|x: u32| x * 2, 0..3)? == vec![0, 2, 4],
        "the pool still works after panics",
    )?;
    Ok(())
}

/// Generic code gives identical results on both pools.
pub(crate) fn same_results_on_both_pools() -> harness::Result {
    fn work<P: Pool>(pool: &P) -> Vec<(u64, String)> {
        pool.map(|n: u64| (n.pow(3) % 97, format!("item {n}")), 0..500)
            .expect("no task fails")
    }
    check(
        work(&ThreadPool::new(3)?) == work(&ProcessPool::new(3)?),
        "thread and process pools agree",
    )
}

pub(crate) fn zero_workers_and_zero_chunk_are_errors() -> harness::Result {
    check(
        ThreadPool::new(0).err() == Some(Error::ZeroWorkers),
        "ThreadPool::new(0)",
    )?;
    check(
        ProcessPool::new(0).err() == Some(Error::ZeroWorkers),
        "ProcessPool::new(0)",
    )?;
    let pool = ThreadPool::new(1)?;
    check(
        pool.map_chunked(|x: u8| x, vec![1], Chunk::Size(0)) == Err(Error::ZeroChunk),
        "Chunk::Size(0)",
    )?;
    check(
        Error::ZeroChunk.to_string() == "a chunk needs at least one item (got 0)",
        "the message is clear",
    )
}

pub(crate) fn timeline_covers_every_item() -> harness::Result {
    let threads = ThreadPool::builder()
        .workers(2)
        .record_timeline(true)
        .build()?;
    let processes = ProcessPool::builder()
        .workers(2)
        .record_timeline(true)
        .build()?;
    for (kind, spans) in [
        ("thread", {
            threads.map_chunked(|x: u32| x, 0..100, Chunk::Size(10))?;
            threads.timeline()
        }),
        ("process", {
            processes.map_chunked(|x: u32| x, 0..100, Chunk::Size(10))?;
            processes.timeline()
        }),
    ] {
        let mut firsts: Vec<usize> = spans.iter().map(|s| s.first).collect();
        firsts.sort_unstable();
        check(
            firsts == (0..100).step_by(10).collect::<Vec<_>>(),
            &format!("{kind}: one span per batch"),
        )?;
        check(
            spans
                .iter()
                .all(|s| s.worker < 2 && s.len == 10 && s.start <= s.end),
            &format!("{kind}: spans are well-formed"),
        )?;
    }
    Ok(())
}
