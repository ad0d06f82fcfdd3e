//! Unit tests of `pool`'s streams: lazy, bounded input (`feed.rs`).

use super::*;
use crate::ThreadPool;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// An endless input that counts what was pulled from it.
fn counted(pulled: &AtomicUsize) -> impl Iterator<Item = u64> + '_ {
    (0..).inspect(move |_| {
        pulled.fetch_add(1, SeqCst);
    })
}

#[test]
fn an_endless_input_is_pulled_only_a_window_ahead() {
    let pool = ThreadPool::new(2).unwrap();
    let pulled = AtomicUsize::new(0);
    let firsts: Vec<u64> = pool
        .map_iter(|n: u64| n + 1, counted(&pulled))
        .take(50)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(firsts, (1..=50).collect::<Vec<u64>>());
    // Auto batches on an input of unknown length double up to 64; four per worker in flight
    // beyond the batch being read.
    let bound = 50 + 9 * crate::feed::UNKNOWN_CAP;
    let pulled = pulled.load(SeqCst);
    assert!(
        pulled <= bound,
        "pulled {pulled} items for 50 results (bound {bound})"
    );
}

#[test]
fn unordered_and_chunked_streams_are_lazy_too() {
    let pool = ThreadPool::new(2).unwrap();
    let pulled = AtomicUsize::new(0);
    let mut seen: Vec<usize> = pool
        .map_unordered(|n: u64| n, counted(&pulled))
        .take(30)
        .map(|(index, _)| index)
        .collect();
    seen.sort();
    assert_eq!(seen.len(), 30);
    let n = pulled.load(SeqCst);
    assert!(
        n <= 30 + 8,
        "pulled {n}: one item a batch, eight batches ahead"
    );
    let pulled = AtomicUsize::new(0);
    let chunked = pool.map_iter_chunked(|n: u64| n, counted(&pulled), Chunk::Size(10));
    // The default window (four batches per worker) went out at the start; with a window of
    // one from then on, reading 25 items pulls nothing more.
    let firsts: Vec<_> = chunked.unwrap().in_flight(1).take(25).collect();
    assert_eq!(firsts.len(), 25);
    let n = pulled.load(SeqCst);
    assert!(n <= 80, "pulled {n}: eight batches of ten at most");
}

#[test]
fn results_keep_item_order_whatever_the_window() {
    let pool = ThreadPool::new(3).unwrap();
    for window in [1, 2, 7] {
        let out: Vec<u64> = pool
            .map_iter(|n: u64| n * 3, (0..500u64).filter(|n| n % 2 == 0))
            .in_flight(window)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            out,
            (0..500)
                .filter(|n| n % 2 == 0)
                .map(|n| n * 3)
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn map_of_an_unsized_input_streams_and_keeps_order() {
    let pool = ThreadPool::new(2).unwrap();
    let words = (0..300).filter(|n| n % 3 == 0).map(|n| format!("w{n}"));
    let lengths = pool.map(|s: String| s.len(), words).unwrap();
    let expected: Vec<usize> = (0..300)
        .filter(|n| n % 3 == 0)
        .map(|n| format!("w{n}").len())
        .collect();
    assert_eq!(lengths, expected);
}

#[test]
fn a_failed_item_fails_the_map_after_every_item_ran() {
    static RAN: AtomicUsize = AtomicUsize::new(0);
    fn fragile(n: u64) -> u64 {
        RAN.fetch_add(1, SeqCst);
        assert!(n != 3, "three fails");
        n
    }
    let pool = ThreadPool::new(2).unwrap();
    // Streamed (a length the input does not state), then in place (a range of plain numbers).
    let streamed = pool.map_chunked(fragile, (0..40u64).filter(|_| true), Chunk::Size(4));
    assert!(
        matches!(streamed, Err(crate::Error::Panicked { .. })),
        "{streamed:?}"
    );
    assert_eq!(RAN.load(SeqCst), 40, "every item ran");
    let in_place = pool.map_chunked(fragile, 0..40u64, Chunk::Size(4));
    assert!(
        matches!(in_place, Err(crate::Error::Panicked { .. })),
        "{in_place:?}"
    );
    assert_eq!(RAN.load(SeqCst), 80, "every item ran");
}

#[test]
fn sizes_for_unknown_lengths_double_to_the_cap() {
    use crate::feed::{Reader, Sizes};
    let mut sizes = Sizes::new(Chunk::Auto, (0, None), 2, Reader::Stream).unwrap();
    let firsts: Vec<usize> = (0..9).map(|_| sizes.next()).collect();
    assert_eq!(firsts, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
    let mut planned = Sizes::new(Chunk::Auto, (64, Some(64)), 2, Reader::Map).unwrap();
    let planned: Vec<usize> = (0..14).map(|_| planned.next()).collect();
    assert_eq!(planned, Chunk::Auto.batches_for(64, 2).unwrap());
    // A stream of a long input: no batch above the cap, and they still add up.
    let mut capped = Sizes::new(Chunk::Auto, (16_384, Some(16_384)), 2, Reader::Stream).unwrap();
    let (mut total, mut largest) = (0, 0);
    while total < 16_384 {
        let size = capped.next();
        largest = largest.max(size);
        total += size;
    }
    assert_eq!((total, largest), (16_384, crate::feed::UNKNOWN_CAP));
    assert!(Sizes::new(Chunk::Size(0), (0, None), 2, Reader::Map).is_err());
}
