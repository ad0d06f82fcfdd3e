//! What the process pool's codec (MessagePack records, `src/codec.rs`) costs against postcard.
//!
//! Run with `cargo bench -p common --bench codec`. Each line encodes a batch the way the pool
//! does and decodes it again, both ways, and prints the medians and `ours / postcard`: above 1
//! means ours is slower. "Ours" is the very source of `src/codec.rs`, one record per item with
//! a `catch_unwind` around each item, as `wire::frame` and the trampoline run it (`src/panics.rs`
//! is private, so its per-item `catch` is copied below); postcard encodes the whole `Vec` at
//! once, as the pool did before. Quiet machine wanted: run it once.

#[allow(dead_code)] // the bench uses only part of the module
#[path = "../src/codec.rs"]
mod codec;

/// `src/codec.rs` writes through the pool's `Growing` buffer; it comes along at the same path.
#[allow(dead_code, unused_imports)] // the codec uses only `Growing`; its tests do not run here
#[path = "../src/process_pool/big_buffer.rs"]
mod big_buffer;
mod process_pool {
    pub(crate) use super::big_buffer;
}

use common::demo::narrate::{duration, plural};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_bytes::ByteBuf;
use std::cell::Cell;
use std::hint::black_box;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// A small struct, typical of a task's argument.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Small {
    id: u64,
    x: f64,
    y: f64,
    label: String,
}

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

thread_local! {
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// As `panics::catch` does for each item: flag the thread as in a task, catch a panic.
fn catch<T>(f: impl FnOnce() -> T) -> T {
    let was = IN_TASK.replace(true);
    let outcome = catch_unwind(AssertUnwindSafe(f));
    IN_TASK.set(was);
    outcome.expect("no panic")
}

/// Encodes `items` as the pool's records, then decodes them all again.
fn ours<T: Serialize + DeserializeOwned>(items: &[T]) -> (usize, Vec<T>) {
    let mut bytes = Vec::with_capacity(20 + 16 * items.len());
    for item in items {
        catch(|| codec::push(&mut bytes, item)).expect("encodes");
    }
    let mut back = Vec::with_capacity(items.len());
    for record in codec::Records::new(&bytes) {
        let Ok(codec::Record::Value(body)) = record else {
            panic!("a bad record")
        };
        back.push(catch(|| codec::decode::<T>(body)).expect("decodes"));
    }
    (bytes.len(), back)
}

/// The same with postcard, the whole `Vec` at once.
fn postcard<T: Serialize + DeserializeOwned>(items: &[T]) -> (usize, Vec<T>) {
    let bytes =
        postcard::to_extend(&items, Vec::with_capacity(20 + 8 * items.len())).expect("encodes");
    (bytes.len(), postcard::from_bytes(&bytes).expect("decodes"))
}

/// Times both codecs on `items`, checks that both bring them back, and prints one line.
fn line<T: Serialize + DeserializeOwned + PartialEq>(what: &str, runs: usize, items: &[T]) {
    let (ours_size, back) = ours(items);
    assert!(back == items, "{what}: ours brings the items back");
    let (postcard_size, back) = postcard(items);
    assert!(back == items, "{what}: postcard brings the items back");
    let ours_time = median(runs, || drop(black_box(ours(black_box(items)))));
    let postcard_time = median(runs, || drop(black_box(postcard(black_box(items)))));
    println!(
        "{what:<24} ours {:>9} {:>8} B   postcard {:>9} {:>8} B   {:>5.2}x",
        duration(ours_time),
        ours_size,
        duration(postcard_time),
        postcard_size,
        ours_time.as_secs_f64() / postcard_time.as_secs_f64(),
    );
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(11);
    println!(
        "MessagePack records (ours) vs postcard, encode + decode, median of {}, {} CPUs",
        plural(runs, "run", "runs"),
        num_cpus::get()
    );
    println!("(time and encoded size of each, then ours / postcard: above 1, ours is slower)");
    let numbers: Vec<u64> = (0..10_000u64).map(|i| i * i).collect();
    line("10^4 u64", runs, &numbers);
    let smalls: Vec<Small> = (0..10_000u64)
        .map(|i| Small {
            id: i,
            x: i as f64 * 0.5,
            y: -(i as f64),
            label: format!("item {i}"),
        })
        .collect();
    line("10^4 small structs", runs, &smalls);
    let big = [ByteBuf::from(vec![7u8; 64 << 20])];
    line("one 64 MiB ByteBuf", runs.min(5), &big);
    // For reference: a plain Vec<u8> is a sequence of numbers to serde, in every format.
    let plain = [(0..1 << 20).map(|i| i as u8).collect::<Vec<u8>>()];
    line("one 1 MiB plain Vec<u8>", runs, &plain);
}
