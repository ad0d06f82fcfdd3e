//! The segment and its lock, within one process: two mappings of one segment are one memory.

use super::{Lock, Segment};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

#[repr(C)]
struct Pair {
    lock: Lock<u64>,
    count: AtomicU64,
}

// SAFETY: two `Shareable` fields: any bits are valid, no address, changed only through an
// atomic or the lock.
unsafe impl super::Shareable for Pair {}

/// What one mapping writes, another mapping of the same name reads, through the lock and the
/// atomic; the mappings lie at different addresses.
#[test]
fn two_mappings_share_one_value() {
    let mut mine = Segment::<Pair>::create("test-two-mappings").unwrap();
    let theirs = Segment::<Pair>::open(mine.name()).unwrap();
    assert_ne!(std::ptr::from_ref(&*mine), std::ptr::from_ref(&*theirs));
    *theirs.lock.lock().unwrap() += 3;
    theirs.count.fetch_add(4, Relaxed);
    assert_eq!(*mine.lock.lock().unwrap(), 3);
    assert_eq!(mine.count.load(Relaxed), 4);
    assert!(mine.path().exists());
    mine.unlink_once_opened(1, Duration::from_secs(5)).unwrap();
    assert!(!mine.path().exists());
    // Unlinked, yet still mapped by both.
    theirs.count.fetch_add(1, Relaxed);
    assert_eq!(mine.count.load(Relaxed), 5);
}

/// A new segment is zero-filled, and its name is removed when its creator drops it.
#[test]
fn a_new_segment_is_zeros_and_its_name_goes_with_it() {
    let segment = Segment::<[u64; 100]>::create("test-zeros").unwrap();
    assert!(segment.iter().all(|&x| x == 0));
    assert!(segment.len() >= 800);
    let path = segment.path();
    assert!(path.exists());
    drop(segment);
    assert!(!path.exists());
}

/// Waiting for more openings than happen ends in `TimedOut`, naming how many came.
#[test]
fn unlinking_waits_a_bounded_time() {
    let mut segment = Segment::<AtomicU64>::create("test-bounded").unwrap();
    let e = segment
        .unlink_once_opened(2, Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert!(e.to_string().contains("only 0 of 2"), "{e}");
}

/// A segment too small for the type, or a name that does not exist, is an error.
#[test]
fn opening_checks_name_and_size() {
    let small = Segment::<u8>::create("test-small").unwrap();
    let e = Segment::<[u64; 1024]>::open(small.name()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    let e = Segment::<u8>::open("no-such-segment-here").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    assert!(
        Segment::<u8>::create("test-small").is_err(),
        "a name is created once"
    );
}

/// A lock that stays taken is an error after the limit, not a hang; let go, it is free.
#[test]
fn a_taken_lock_times_out() {
    let lock = Lock::<u64>::default();
    let held = lock.lock().unwrap();
    let e = lock.lock_within(Duration::from_millis(20)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    drop(held);
    assert!(lock.lock_within(Duration::from_millis(20)).is_ok());
}

/// Threads taking the lock make every increment whole.
#[test]
fn the_lock_makes_increments_whole() {
    let segment = Segment::<Lock<u64>>::create("test-whole").unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    *segment.lock().unwrap() += 1;
                }
            });
        }
    });
    assert_eq!(*segment.lock().unwrap(), 40_000);
}

/// A segment created for one type and opened as another is refused, naming both (a `&u64`
/// read through an `AtomicU64` would change under its reader); opened as its own type it works.
#[test]
fn opening_as_another_type_is_refused() {
    let plain = Segment::<u64>::create("test-typed").unwrap();
    let e = Segment::<AtomicU64>::open(plain.name()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    assert_eq!(
        e.to_string(),
        format!("segment {} holds u64, not AtomicU64", plain.name())
    );
    // The same size and alignment is no excuse, nor is a larger or smaller type.
    let e = Segment::<i64>::open(plain.name()).unwrap_err();
    assert!(e.to_string().ends_with("holds u64, not i64"), "{e}");
    let e = Segment::<[u64; 2]>::open(plain.name()).unwrap_err();
    assert!(e.to_string().ends_with("holds u64, not [u64; 2]"), "{e}");
    let same = Segment::<u64>::open(plain.name()).unwrap();
    assert_eq!(*same, 0);
    let atomic = Segment::<AtomicU64>::create("test-typed-atomic").unwrap();
    let theirs = Segment::<AtomicU64>::open(atomic.name()).unwrap();
    theirs.fetch_add(2, Relaxed);
    assert_eq!(atomic.load(Relaxed), 2);
}

/// The value after the header is aligned as its type needs.
#[test]
fn the_value_is_aligned_after_the_header() {
    #[repr(C, align(64))]
    struct Line([u64; 8]);
    // SAFETY: an array of `u64`: any bits are valid, no address, read only through `&`.
    unsafe impl super::Shareable for Line {}
    let line = Segment::<Line>::create("test-aligned").unwrap();
    assert_eq!(std::ptr::from_ref(&*line) as usize % 64, 0);
    let word = Segment::<u8>::create("test-aligned-u8").unwrap();
    assert!(word.len() > super::header::HEADER_LEN);
}
