//! Unit tests of `pool`.

use super::*;

#[test]
fn batch_ranges_cover_every_item_once() {
    let ranges = batch_ranges(&[4, 4, 2]);
    assert_eq!(
        ranges.into_iter().collect::<Vec<_>>(),
        vec![(0, 4), (4, 4), (8, 2)]
    );
}
