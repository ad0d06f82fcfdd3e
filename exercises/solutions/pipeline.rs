//! # pipeline: producer, workers, collector (solution)
//!
//! Each worker gets its own clone of the receiving end (crossbeam's receivers may be shared)
//! and of the sending end to the collector. The collector's loop ends only when *every*
//! sender to it is gone: each worker's clone when the worker returns, and the original, which
//! this function must drop itself. Forget that `drop` and the collector waits forever.

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
        for _ in 0..workers {
            let (from_producer, to_collector) = (from_producer.clone(), to_collector.clone());
            scope.spawn(move || {
                for n in from_producer {
                    to_collector
                        .send(n * n)
                        .expect("the collector is still listening");
                }
            });
        }
        // New: the collector's own sender goes, so its loop ends with the last worker.
        drop(to_collector);
        from_workers.iter().sum()
    })
}
