//! Lazy, bounded input (issue 20): a stream pulls its items only as batches drain, so an endless
//! input works and memory follows the window, not the input.

use crate::harness::{self, check};
use common::Pool;
use serde_bytes::ByteBuf;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// An endless input, `take(50)` of its results: the items pulled are bounded (a count, never
/// a time), on `map_iter` and on `map_unordered`.
pub(crate) fn endless_input<P: Pool>(pool: &P) -> harness::Result {
    let pulled = AtomicUsize::new(0);
    let counted = (0u64..).inspect(|_| {
        pulled.fetch_add(1, SeqCst);
    });
    let firsts: Vec<u64> = pool
        .map_iter(|n: u64| n * 2, counted)
        .take(50)
        .collect::<Result<_, _>>()?;
    check(
        firsts == (0..50).map(|n| n * 2).collect::<Vec<_>>(),
        "results in order",
    )?;
    // Batches of unknown length double up to 64 items; four per worker in flight beyond the
    // one being read.
    let bound = 50 + (4 * pool.workers() + 1) * 64;
    let n = pulled.load(SeqCst);
    check(
        n <= bound,
        &format!("map_iter pulled {n} items for 50 (bound {bound})"),
    )?;
    let pulled = AtomicUsize::new(0);
    let counted = (0u64..).inspect(|_| {
        pulled.fetch_add(1, SeqCst);
    });
    let seen = pool.map_unordered(|n: u64| n, counted).take(50).count();
    let bound = 50 + 4 * pool.workers();
    let n = pulled.load(SeqCst);
    check(seen == 50, "50 results")?;
    check(
        n <= bound,
        &format!("map_unordered pulled {n} items for 50 (bound {bound})"),
    )
}

/// The peak resident memory of this process since the last [`reset_peak`], in bytes.
fn peak() -> std::io::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| std::io::Error::other("no VmHWM in /proc/self/status"))?;
    Ok(kib * 1024)
}

/// Resets the peak to the current resident size (Linux: write 5 to `clear_refs`).
fn reset_peak() -> std::io::Result<()> {
    std::fs::write("/proc/self/clear_refs", "5")
}

/// 1 GiB of input made lazily, 16,384 buffers of 64 KiB, through `map_iter`: the parent's peak
/// memory rises by less than 64 MiB (collecting it first raised it by 1,024 MiB on threads,
/// 1,225 MiB on processes).
pub(crate) fn a_gibibyte_streams_in_little_memory<P: Pool>(pool: &P) -> harness::Result {
    const BUFFERS: usize = 16_384;
    const SIZE: usize = 64 * 1024;
    let made = (0..BUFFERS).map(|i| ByteBuf::from(vec![(i % 251) as u8; SIZE]));
    reset_peak()?;
    let before = peak()?;
    let mut total = 0u64;
    for length in pool.map_iter(|b: ByteBuf| b.len() as u64, made) {
        total += length?;
    }
    let rise = peak()?.saturating_sub(before);
    check(total == (BUFFERS * SIZE) as u64, "every byte was seen")?;
    println!(
        "   {}: 1 GiB streamed, peak rose by {} MiB",
        pool.kind(),
        rise >> 20
    );
    check(
        rise < 64 << 20,
        &format!("the peak rose by {} MiB (limit 64 MiB)", rise >> 20),
    )
}

fn negate(mut values: common::Array<f64>) -> common::Array<f64> {
    values.iter_mut().for_each(|v| *v = -*v);
    values
}

/// An `Array<f64>` crosses as its bytes and comes back exact: small ones in a batch, and a
/// 3 MiB one alone (the path that receives a large byte string apart).
pub(crate) fn arrays_cross_exactly<P: Pool>(pool: &P) -> harness::Result {
    let odd = |n: usize| {
        (0..n)
            .map(|i| i as f64 * 0.25 - 7.0)
            .collect::<common::Array<f64>>()
    };
    let small: Vec<common::Array<f64>> = (0..20).map(odd).collect();
    let back = pool.map(negate, small.clone())?;
    let expected: Vec<_> = small
        .iter()
        .map(|a| a.iter().map(|v| -v).collect())
        .collect();
    check(back == expected, "twenty small arrays, negated, in order")?;
    let large = odd(3 << 17); // 3 MiB of f64
    let back = pool.submit(negate, large.clone()).wait()?;
    check(
        back.len() == large.len() && back.iter().zip(large.iter()).all(|(b, a)| *b == -a),
        "a 3 MiB array, negated",
    )
}
