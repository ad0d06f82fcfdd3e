//! ThreadPool rows: `map` of trivial items against rayon, `submit` against `threadpool`, a
//! task's round trip in a loop against `threadpool` and rayon, and after idling against a
//! thread ping-pong.

use crate::measure::{interleaved, time, Row, Target};
use common::inline::task;
use common::{Pool, ThreadPool};
use rayon::prelude::*;
use std::hint::black_box;
use std::time::Duration;

pub fn trivial(x: u64) -> u64 {
    x * 2 + 1
}

/// `map` over 10^6 trivial items, and the cost per item across sizes.
pub fn map(pool: &ThreadPool, rayon: &rayon::ThreadPool, runs: usize) -> Vec<Row> {
    // rayon through a `fn` pointer it cannot see through, as our workers call the task.
    let pointer: fn(u64) -> u64 = black_box(trivial);
    let by_pointer = |items: Vec<u64>| -> Vec<u64> {
        rayon.install(|| items.into_par_iter().map(pointer).collect())
    };
    let plain = |items: Vec<u64>| -> Vec<u64> {
        rayon.install(|| items.into_par_iter().map(|x| x * 2 + 1).collect())
    };
    let ours = |items: Vec<u64>| pool.map(trivial, items).expect("trivial tasks succeed");
    // The same work as a `task!`, whose closure the in-place loop calls by its type.
    let task = task!(|x: u64| x * 2 + 1);
    let inlined = |items: Vec<u64>| pool.map_inline(task, items).expect("trivial tasks succeed");
    let timed = |f: &dyn Fn(Vec<u64>) -> Vec<u64>, n: u64| {
        let items: Vec<u64> = (0..n).collect(); // made before the clock starts
        let (took, out) = time(|| f(items));
        assert!(out.len() == n as usize && out[n as usize - 1] == trivial(n - 1));
        took
    };
    let mut rows = Vec::new();
    let n = 1_000_000;
    let (a, b) = interleaved(runs, || timed(&ours, n), || timed(&by_pointer, n));
    let work = "ThreadPool::map, 10^6 trivial items";
    rows.push(Row::times(
        work,
        a,
        "rayon, same fn pointer",
        b,
        Target::AtMost(1.1),
    ));
    let (a, b) = interleaved(runs, || timed(&ours, n), || timed(&plain, n));
    rows.push(Row::times(
        work,
        a,
        "rayon par_iter, inlined",
        b,
        Target::None,
    ));
    let (a, b) = interleaved(runs, || timed(&inlined, n), || timed(&plain, n));
    rows.push(Row::times(
        "ThreadPool::map_inline, 10^6 trivial items",
        a,
        "rayon par_iter, inlined",
        b,
        Target::AtMost(1.5),
    ));
    for (n, name) in [(1_000, "10^3"), (10_000, "10^4"), (100_000, "10^5")] {
        let (a, b) = interleaved(runs, || timed(&ours, n), || timed(&by_pointer, n));
        let work = format!("ThreadPool::map, {name} trivial items");
        rows.push(Row::times(
            &work,
            a,
            "rayon, same fn pointer",
            b,
            Target::None,
        ));
    }
    rows
}

/// 10^6 submits, then a wait on each, against `threadpool` with and without a result channel.
pub fn submit(pool: &ThreadPool, runs: usize) -> Vec<Row> {
    const N: u64 = 1_000_000;
    let peer = threadpool::ThreadPool::new(2);
    let ours = || {
        time(|| {
            let handles: Vec<_> = (0..N).map(|i| pool.submit(trivial, i)).collect();
            handles.into_iter().for_each(|h| assert!(h.wait().is_ok()));
        })
        .0
    };
    let with_results = || {
        time(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            for i in 0..N {
                let tx = tx.clone();
                peer.execute(move || tx.send(trivial(i)).expect("receiver waits"));
            }
            drop(tx);
            assert_eq!(rx.iter().count(), N as usize);
        })
        .0
    };
    let without = || {
        time(|| {
            for i in 0..N {
                peer.execute(move || {
                    black_box(trivial(i));
                });
            }
            peer.join();
        })
        .0
    };
    let work = "ThreadPool::submit x 10^6, wait each";
    against_two(
        work,
        runs,
        ours,
        ("threadpool, result channel", with_results),
        ("threadpool, no results", without),
    )
}

/// `ours` against two peers, each pair interleaved: a row against the first, whose target is
/// at most 1x, and one against the second, for reference.
fn against_two(
    work: &str,
    runs: usize,
    mut ours: impl FnMut() -> Duration,
    (first, first_peer): (&str, impl FnMut() -> Duration),
    (second, second_peer): (&str, impl FnMut() -> Duration),
) -> Vec<Row> {
    let (a, b) = interleaved(runs, &mut ours, first_peer);
    let (c, d) = interleaved(runs, &mut ours, second_peer);
    vec![
        Row::times(work, a, first, b, Target::AtMost(1.0)),
        Row::times(work, c, second, d, Target::None),
    ]
}

/// 10^4 tasks submitted one at a time, each waited for before the next (the synchronous
/// style), against `threadpool` with a result channel and rayon's `install`.
pub fn hot_round_trips(pool: &ThreadPool, rayon: &rayon::ThreadPool, runs: usize) -> Vec<Row> {
    const N: u64 = 10_000;
    let peer = threadpool::ThreadPool::new(2);
    let ours = || time(|| (0..N).for_each(|i| assert!(pool.submit(trivial, i).wait().is_ok()))).0;
    let with_results = || {
        time(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            for i in 0..N {
                let tx = tx.clone();
                peer.execute(move || tx.send(trivial(i)).expect("receiver waits"));
                black_box(rx.recv().expect("the task answers"));
            }
        })
        .0
    };
    let installed = || {
        time(|| {
            for i in 0..N {
                black_box(rayon.install(|| trivial(i)));
            }
        })
        .0
    };
    against_two(
        "10^4 round trips in a row: ThreadPool submit + wait",
        runs,
        ours,
        ("threadpool, result channel", with_results),
        ("rayon install", installed),
    )
}

/// One task's round trip after the pool sat idle, against a thread ping-pong.
pub fn round_trips(pool: &ThreadPool) -> Vec<Row> {
    let (to_peer, peer_in) = crossbeam_channel::bounded::<u64>(1);
    let (to_us, from_peer) = crossbeam_channel::bounded::<u64>(1);
    let echo = std::thread::spawn(move || {
        peer_in
            .iter()
            .for_each(|x| to_us.send(x).expect("the bench waits"))
    });
    let mut rows = Vec::new();
    for (idle, name) in [(1, "after 1 ms idle"), (10, "after 10 ms idle")] {
        let idle = Duration::from_millis(idle);
        let (ours, peer) = interleaved(
            200,
            || {
                std::thread::sleep(idle);
                time(|| pool.submit(trivial, 7).wait().expect("ok")).0
            },
            || {
                std::thread::sleep(idle);
                time(|| {
                    to_peer.send(7).expect("echo alive");
                    from_peer.recv().expect("echo answers")
                })
                .0
            },
        );
        let work = format!("round trip {name}: ThreadPool submit + wait");
        rows.push(Row::times(
            &work,
            ours,
            "thread ping-pong",
            peer,
            Target::AtMost(1.0),
        ));
    }
    drop(to_peer);
    echo.join().expect("the echo thread ends");
    rows
}
