//! How `map` cuts its items into batches: [`Chunk`], and the decreasing batches of
//! [`Chunk::Auto`] (guided self-scheduling).
//!
//! Why decreasing: with equal batches, the last batch to start decides when the map ends, and
//! the other workers wait for it. Issue 13 measured 64 tasks of about 2.4 ms on 2 workers in 8
//! batches of 8 (Python's heuristic: four batches per worker): 1.85x sequential on threads and
//! 1.75x on processes, against 1.97x and 1.93x one task a batch, whose tail is one task long.
//! Guided self-scheduling takes both: big batches first (few messages), small ones last (a
//! short tail). Each batch takes a fixed share of the items still left, so sizes fall
//! geometrically; a floor keeps the count of batches bounded for long maps, and a cap at
//! Python's size keeps every batch at most as big as before (short maps still get batches
//! of one item, and the first results come as soon as before).
//!
//! Measured on 2 workers with 64 sleeping tasks of 1.2-3.6 ms (sleep, so that the speed-up
//! does not depend on the machine's load), one of them (item 60) 9.6 ms, medians of 15:
//! batches of 8 (the former `Auto`) 1.88x threads, 1.85x processes; these decreasing batches
//! 1.93x and 1.92x; one task a batch 1.93x and 1.90x. Without the long task all three are
//! within 1.90-1.93x: the tail is what decreasing batches cut.

use crate::Error;

/// How `map` cuts its items into batches. A batch is what travels to a worker in one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Decreasing batches: each takes `1 / (2 * workers)` of the items still left, at most
    /// Python's `Pool.map` size (a quarter of the items per worker: `len / (4 * workers)`),
    /// and at least `len / (32 * workers)` (and 1). Big batches first keep the messages few;
    /// small ones last keep every worker busy to the end. About eight batches per worker for
    /// long maps; a short map ends with batches of one item.
    Auto,
    /// Exactly this many items per batch (the last may be shorter). Zero is an error.
    Size(usize),
}

impl Chunk {
    /// The size of the first batch for `len` items on `workers` workers: every batch's for
    /// `Size`, the largest for `Auto` (see [`Chunk::batches_for`] for all of them).
    ///
    /// ```
    /// use common::Chunk;
    /// assert_eq!(Chunk::Size(3).size_for(10, 2), Ok(3));
    /// assert_eq!(Chunk::Auto.size_for(64, 2), Ok(8)); // Python's: 64 / (4 * 2 workers)
    /// ```
    ///
    /// # Errors
    /// [`Error::ZeroChunk`] for `Chunk::Size(0)`.
    pub fn size_for(self, len: usize, workers: usize) -> Result<usize, Error> {
        match self {
            Chunk::Size(0) => Err(Error::ZeroChunk),
            Chunk::Size(n) => Ok(n),
            Chunk::Auto => Ok(guided(len, workers).first().copied().unwrap_or(1)),
        }
    }

    /// The size of every batch, in item order: they add up to `len`, and none is empty.
    ///
    /// ```
    /// use common::Chunk;
    /// assert_eq!(Chunk::Size(4).batches_for(10, 2), Ok(vec![4, 4, 2]));
    /// let auto = Chunk::Auto.batches_for(64, 2).unwrap();
    /// assert_eq!(auto, [8, 8, 8, 8, 8, 6, 5, 4, 3, 2, 1, 1, 1, 1]);
    /// ```
    ///
    /// # Errors
    /// [`Error::ZeroChunk`] for `Chunk::Size(0)`.
    pub fn batches_for(self, len: usize, workers: usize) -> Result<Vec<usize>, Error> {
        match self {
            Chunk::Size(0) => Err(Error::ZeroChunk),
            Chunk::Size(n) => Ok((0..len).step_by(n).map(|i| n.min(len - i)).collect()),
            Chunk::Auto => Ok(guided(len, workers)),
        }
    }
}

/// Guided self-scheduling with the share `1 / (2 * workers)`: half of the classic `1 /
/// workers`, so that no early batch is so big that it becomes the tail.
fn guided(len: usize, workers: usize) -> Vec<usize> {
    Guided::new(len, workers, usize::MAX).collect()
}

/// The sizes of [`guided`], one at a time, none above `max` (a stream's batches are capped, so
/// that its window of batches bounds its memory: see `feed.rs`).
#[derive(Clone, Debug)]
pub(crate) struct Guided {
    left: usize,
    share: usize,
    cap: usize,
    floor: usize,
}

impl Guided {
    pub(crate) fn new(len: usize, workers: usize, max: usize) -> Guided {
        let share = 2 * workers.max(1);
        let cap = len.div_ceil(2 * share).clamp(1, max.max(1));
        let floor = len.div_ceil(16 * share).clamp(1, cap);
        Guided {
            left: len,
            share,
            cap,
            floor,
        }
    }
}

impl Iterator for Guided {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        let size = self
            .left
            .div_ceil(self.share)
            .min(self.cap)
            .max(self.floor)
            .min(self.left);
        self.left -= size;
        Some(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_batches_decrease_and_cover_every_item() {
        for (len, workers) in [
            (0, 2),
            (1, 2),
            (3, 8),
            (64, 2),
            (10_000, 2),
            (1_000_000, 16),
        ] {
            let sizes = Chunk::Auto.batches_for(len, workers).unwrap();
            assert_eq!(sizes.iter().sum::<usize>(), len, "{len} items on {workers}");
            assert!(
                sizes.windows(2).all(|w| w[0] >= w[1]),
                "decreasing: {sizes:?}"
            );
            assert!(sizes.iter().all(|&s| s > 0), "none empty");
        }
    }

    #[test]
    fn long_maps_get_a_bounded_number_of_batches() {
        // The floor (1/64 of the items on 2 workers) stops the geometric fall.
        for len in [10_000, 1_000_000, 100_000_000] {
            let sizes = Chunk::Auto.batches_for(len, 2).unwrap();
            assert!(
                (10..=20).contains(&sizes.len()),
                "{len}: {} batches",
                sizes.len()
            );
            assert_eq!(
                sizes[0],
                len / 8,
                "Python's size: a quarter of the items per worker"
            );
        }
        let short = Chunk::Auto.batches_for(64, 2).unwrap();
        assert_eq!(short.last(), Some(&1), "a short map ends one item a batch");
        let shorter = Chunk::Auto.batches_for(8, 2).unwrap();
        assert_eq!(shorter, [1; 8], "at most Python's size, one item here");
    }

    #[test]
    fn sizes_follow_the_chunk() {
        assert_eq!(Chunk::Size(0).batches_for(10, 2), Err(Error::ZeroChunk));
        assert_eq!(Chunk::Size(0).size_for(10, 2), Err(Error::ZeroChunk));
        assert_eq!(Chunk::Size(5000).batches_for(7, 2), Ok(vec![7]));
        assert_eq!(Chunk::Auto.size_for(0, 8), Ok(1));
        assert_eq!(Chunk::Auto.batches_for(3, 8), Ok(vec![1, 1, 1]));
    }
}
