//! Unit tests of `pool`.

use super::*;

#[test]
fn auto_chunks_make_about_four_batches_per_worker() {
    assert_eq!(Chunk::Auto.size_for(10_000, 2), Ok(1250));
    assert_eq!(Chunk::Auto.size_for(3, 8), Ok(1));
    assert_eq!(Chunk::Auto.size_for(0, 8), Ok(1));
    assert_eq!(Chunk::Size(0).size_for(10, 2), Err(Error::ZeroChunk));
}

#[test]
fn batch_ranges_cover_every_item_once() {
    let ranges = batch_ranges(10, 4);
    assert_eq!(
        ranges.into_iter().collect::<Vec<_>>(),
        vec![(0, 4), (4, 4), (8, 2)]
    );
}
