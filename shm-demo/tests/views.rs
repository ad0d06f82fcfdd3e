//! The safe library functions cannot reach past a segment: what used to read beyond its end is
//! now an error, before anything runs.

/// `cleanup::run` with more children than the segment has slots for: an error naming the
/// limit, with nothing printed and no child started (the former read past the 4096 bytes).
#[test]
fn cleanup_with_more_workers_than_slots_is_an_error() {
    let mut out = Vec::new();
    let err = shm_demo::cleanup::run(&mut out, 2000).expect_err("2000 slots do not fit");
    assert!(err.to_string().contains("1 to 1024 workers"), "{err}");
    assert!(out.is_empty(), "it ran: {}", String::from_utf8_lossy(&out));
}

/// A segment's views refuse every offset past its end, however large.
#[test]
fn views_past_the_end_are_errors() {
    let mut seg = shm_demo::segment::Segment::create("views-test", 4096).expect("a segment");
    for offset in [4096, 4097, 1 << 40, usize::MAX - 7] {
        assert!(seg.atomic_u64(offset).is_err(), "{offset}");
        assert!(seg.atomic_u32(offset).is_err(), "{offset}");
    }
    assert!(seg.bytes_mut(0..4097).is_err());
    assert!(seg.u32s_mut(usize::MAX / 2, 2).is_err());
    assert_eq!(seg.bytes(0..4096).expect("the whole segment").len(), 4096);
}

/// Each view checks bounds and alignment; a plain view and an atomic see the same bytes.
#[test]
fn views_are_checked_for_bounds_and_alignment() {
    use std::sync::atomic::Ordering::Relaxed;
    let mut seg = shm_demo::segment::Segment::create("views-align", 4096).expect("a segment");
    assert!(seg.atomic_u64(4088).is_ok());
    assert!(seg.atomic_u64(4089).is_err(), "past the end");
    assert!(seg.atomic_u64(4).is_err(), "misaligned");
    assert!(seg.atomic_u32(usize::MAX - 2).is_err(), "overflowing");
    assert!(seg.bytes_mut(4000..4097).is_err());
    assert!(seg.u32s_mut(1000, 25).is_err());
    seg.u32s_mut(0, 1024).expect("the whole segment")[1023] = 7;
    assert_eq!(seg.atomic_u32(4092).expect("the last u32").load(Relaxed), 7);
}

/// A lock is made once, away from its value, and guards it.
#[test]
fn a_lock_is_created_once_and_guards_its_value() {
    use std::sync::atomic::Ordering::Relaxed;
    let seg = shm_demo::segment::Segment::create("views-lock", 4096).expect("a segment");
    let lock = seg.create_lock(128, 256).expect("a lock");
    assert!(
        seg.create_lock(128, 256).is_err(),
        "a second mutex over the first"
    );
    assert!(
        seg.create_lock(512, 520).is_err(),
        "the value overlaps the lock"
    );
    let add_one = |v: &std::sync::atomic::AtomicU64| v.store(v.load(Relaxed) + 1, Relaxed);
    lock.with(std::time::Duration::from_secs(1), add_one)
        .expect("the lock is free");
    assert_eq!(seg.atomic_u64(256).expect("the value").load(Relaxed), 1);
}
