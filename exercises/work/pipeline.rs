//! # pipeline: producer, workers, collector
//!
//! **Goal.** A producer sends numbers down a channel; `workers` threads each take numbers from
//! it and send each one's square on to a second channel; the collector (this function's own
//! thread) adds up the squares. Write the workers and the collector. The pipeline must end by
//! itself: a `for x in receiver` loop ends when every sender of that channel has been dropped.
//!
//! **Run.** `cargo run -p exercises -- check pipeline` (1, 2 and 4 workers, 1,000 numbers).
//! Stuck? `cargo run -p exercises -- hint pipeline`.
//!
//! **Time.** About 20 minutes.

use crossbeam_channel::bounded;

/// The sum of the squares of `numbers`, squared by `workers` threads.
pub fn sum_of_squares(numbers: Vec<u64>, workers: usize) -> u64 {
    // Small channels on purpose: the producer waits when the workers fall behind.
    let (to_workers, from_producer) = bounded::<u64>(4);
    let (to_collector, from_workers) = bounded::<u64>(4);
    std::thread::scope(|scope| {
        // The producer: when it returns, `to_workers` is dropped and the workers' loop ends.
        scope.spawn(move || {
            for n in numbers {
                to_workers.send(n).expect("a worker is still listening");
            }
        });
        // (This line only keeps the compiler quiet about unused names: remove it.)
        let _unused = (workers, from_producer, to_collector, from_workers);
        todo!("start `workers` workers, then collect: what ends the collector's loop?")
    })
}
