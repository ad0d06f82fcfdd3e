use common::{Pool, ThreadPool};
use std::time::Instant;
fn trivial(x: u64) -> u64 {
    x.wrapping_mul(2654435761)
}
fn main() {
    common::init();
    let pool = ThreadPool::new(2).unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let handles: Vec<_> = (0..1_000_000u64).map(|i| pool.submit(trivial, i)).collect();
        let submitted = t.elapsed();
        for h in handles {
            h.wait().unwrap();
        }
        println!("submit {:?} total {:?}", submitted, t.elapsed());
    }
    let t = Instant::now();
    let v = pool
        .map(trivial, (0..1_000_000u64).collect::<Vec<_>>())
        .unwrap();
    println!("map {:?} {}", t.elapsed(), v.len());
}
