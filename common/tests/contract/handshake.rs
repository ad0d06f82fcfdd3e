//! The handshake has bounds, and big or many pending tasks pass through it.

use crate::harness::{self, check};
use crate::FAULT;
use common::{Error, Pool, ProcessPool};
use std::time::{Duration, Instant};

pub(crate) fn child_dying_before_handshake_is_an_error() -> harness::Result {
    let started = Instant::now();
    let err = ProcessPool::builder()
        .workers(2)
        .env(FAULT, "exit-before-hello")
        .build()
        .err();
    let ok = matches!(&err, Some(Error::Spawn(why)) if why.contains("exited with code 7 before its handshake"));
    check(ok, &format!("a clear error (got {err:?})"))?;
    check(
        started.elapsed() < Duration::from_secs(3),
        "noticed at once, not at the timeout",
    )?;
    check(
        common::testing::children_of(std::process::id()).is_empty(),
        "no child left",
    )
}

pub(crate) fn child_hanging_in_handshake_times_out() -> harness::Result {
    let started = Instant::now();
    let pool = ProcessPool::builder()
        .workers(1)
        .env(FAULT, "hang-before-hello")
        .handshake_timeout(Duration::from_millis(300))
        .build();
    let err = pool.err();
    check(
        matches!(&err, Some(Error::Spawn(why)) if why.contains("gave no handshake within 300ms")),
        &format!("a timeout error (got {err:?})"),
    )?;
    check(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the timeout",
    )?;
    check(
        common::testing::children_of(std::process::id()).is_empty(),
        "the hung child was killed and reaped",
    )
}

pub(crate) fn large_argument_and_result() -> harness::Result {
    const SIZE: usize = 64 << 20;
    let pool = ProcessPool::new(1)?;
    let data = serde_bytes::ByteBuf::from(vec![7u8; SIZE]);
    let flipped = pool
        .submit(
            |mut v: serde_bytes::ByteBuf| {
                v.iter_mut().for_each(|b| *b = !*b);
                v
            },
            data,
        )
        .wait()?;
    check(
        flipped.len() == SIZE && flipped.iter().all(|&b| b == !7u8),
        "64 MiB went there and back intact",
    )
}

fn open_fds() -> usize {
    // A count of 0 would hide a leak, so an unreadable /proc is a failure, not a zero.
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd lists this process's descriptors (Linux)")
        .count()
}

pub(crate) fn ten_thousand_pending_tasks() -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let fds_before = open_fds();
    let handles: Vec<_> = (0..10_000u64)
        .map(|i| pool.submit(|x: u64| x * 2, i))
        .collect();
    let fds_pending = open_fds();
    for (i, h) in handles.into_iter().enumerate() {
        check(h.wait()? == 2 * i as u64, "each task's own result")?;
    }
    check(
        fds_pending <= fds_before + 4,
        &format!("pending tasks hold no descriptors ({fds_before} -> {fds_pending})"),
    )
}
