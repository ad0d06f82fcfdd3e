use common::{Pool, ProcessPool};
use std::time::Instant;
fn main() {
    common::init();
    for _ in 0..5 {
        let t = Instant::now();
        let pool = ProcessPool::new(2).unwrap();
        let ready = t.elapsed();
        let v = pool.map(|x: u64| x + 1, 0..10_000u64).unwrap();
        let mapped = t.elapsed();
        drop(pool);
        println!(
            "ready {:?} mapped {:?} dropped {:?} {}",
            ready,
            mapped,
            t.elapsed(),
            v.len()
        );
    }
}
