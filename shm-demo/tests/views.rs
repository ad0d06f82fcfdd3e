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
