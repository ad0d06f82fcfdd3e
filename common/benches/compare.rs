//! common's pools against their peers, side by side in one run, reported as ratios.
//!
//! Run with `cargo bench -p common --bench compare`. Each line times the same work on our pool
//! and on a peer (median of several runs) and prints `ours / peer`: below 1 means ours is faster.
//! The targets come from the workspace's foundation issue; a missed target is printed as such.

use common::narrate::millis;
use common::{Chunk, Pool, ProcessPool, ThreadPool};
use rayon::prelude::*;
use std::time::{Duration, Instant};

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

/// The median of `runs` timings of the part of each run that `run` passes to its timer.
fn median_of(
    runs: usize,
    mut run: impl FnMut(&mut dyn FnMut(&mut dyn FnMut() -> Vec<u64>) -> Vec<u64>),
) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        run(&mut |work| {
            let start = Instant::now();
            let out = work();
            times.push(start.elapsed());
            out
        });
    }
    times.sort();
    times[runs / 2]
}

/// One line of the report: our time, the peer's, the ratio, and whether the target holds.
fn report(what: &str, ours: Duration, peer_name: &str, peer: Duration, target: f64) {
    let ratio = ours.as_secs_f64() / peer.as_secs_f64();
    let verdict = match target {
        t if t.is_infinite() => "(for reference, no target)".to_string(),
        t if ratio <= t => format!("target <= {t}x  met"),
        t => format!("target <= {t}x  MISSED"),
    };
    println!(
        "{what:<44} ours {:>12}  {peer_name:<26} {:>12}  ratio {ratio:>6.2}x  {verdict}",
        millis(ours),
        millis(peer)
    );
}

fn trivial(x: u64) -> u64 {
    x.wrapping_mul(2654435761)
}

/// CPU-bound work for the speed-up line: about a millisecond per task on this machine.
/// `black_box` keeps the compiler from folding the loop into a formula.
fn spin(seed: u64) -> u64 {
    let mut acc = seed;
    for i in 0..1_000_000u64 {
        acc = std::hint::black_box(acc.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
    acc
}

/// The other end of the process ping-pong: echoes each line of stdin back on stdout.
fn echo() {
    use std::io::{BufRead, Write};
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

fn main() {
    common::init();
    procspawn::init();
    if std::env::var_os("COMPARE_ECHO").is_some() {
        return echo();
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    println!(
        "common::{{ThreadPool, ProcessPool}} vs peers, 2 workers, median of {runs} runs, {} CPUs",
        num_cpus::get()
    );

    // --- threads -------------------------------------------------------------------------------
    let items: Vec<u64> = (0..1_000_000).collect();
    let threads = ThreadPool::new(2).unwrap();
    let rayon = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let expected: Vec<u64> = items.iter().map(|&x| trivial(x)).collect();
    // Only the map is timed: each run's copy of the input is made before its clock starts.
    let ours = median_of(runs, |timed| {
        let mut input = Some(items.clone());
        let out = timed(&mut || {
            threads
                .map(trivial, input.take().expect("timed once"))
                .unwrap()
        });
        assert_eq!(out, expected);
    });
    let peer = median_of(runs, |timed| {
        let mut input = Some(items.clone());
        let out: Vec<u64> = timed(&mut || {
            rayon.install(|| {
                input
                    .take()
                    .expect("timed once")
                    .into_par_iter()
                    .map(trivial)
                    .collect()
            })
        });
        assert_eq!(out, expected);
    });
    report(
        "ThreadPool::map, 10^6 trivial items",
        ours,
        "rayon par_iter",
        peer,
        2.0,
    );

    let submit_all = || {
        let handles: Vec<_> = (0..1_000_000u64)
            .map(|i| threads.submit(trivial, i))
            .collect();
        handles.into_iter().for_each(|h| {
            h.wait().unwrap();
        });
    };
    let ours = median(runs.min(5), submit_all);
    let tp = threadpool::ThreadPool::new(2);
    let peer = median(runs.min(5), || {
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..1_000_000u64 {
            let tx = tx.clone();
            tp.execute(move || tx.send(trivial(i)).unwrap());
        }
        drop(tx);
        assert_eq!(rx.iter().count(), 1_000_000);
    });
    report(
        "ThreadPool::submit x 10^6, then wait all",
        ours,
        "threadpool crate execute",
        peer,
        0.8,
    );
    let peer = median(runs.min(5), || {
        let (tx, rx) = crossbeam_channel::unbounded();
        rayon.scope(|s| {
            for i in 0..1_000_000u64 {
                let tx = tx.clone();
                s.spawn(move |_| tx.send(trivial(i)).unwrap());
            }
        });
        drop(tx);
        assert_eq!(rx.iter().count(), 1_000_000);
    });
    report(
        "ThreadPool::submit x 10^6, then wait all",
        ours,
        "rayon scope spawn",
        peer,
        f64::INFINITY,
    );

    // --- processes -----------------------------------------------------------------------------
    let ready = median(runs, || drop(ProcessPool::new(2).unwrap()));
    println!(
        "{:<44} ours {:>12}  target <= 10 ms  {}",
        "ProcessPool::new(2): two workers ready",
        millis(ready),
        if ready <= Duration::from_millis(10) {
            "met"
        } else {
            "MISSED"
        }
    );

    let small: Vec<u64> = (0..10_000).collect();
    let ours_map = median(runs, || {
        let pool = ProcessPool::new(2).unwrap();
        assert_eq!(pool.map(trivial, small.clone()).unwrap().len(), 10_000);
    });
    match python_pools() {
        Some((mp_map, executor_map)) => {
            report(
                "ProcessPool::map 10^4 items, start incl.",
                ours_map,
                "python Pool(2).map",
                mp_map,
                0.5,
            );
            report(
                "ProcessPool::map 10^4 items, start incl.",
                ours_map,
                "python ProcessPoolExecutor",
                executor_map,
                f64::INFINITY,
            );
        }
        None => println!(
            "{:<44} ours {:>12}  (python3 not found: Python peers skipped)",
            "ProcessPool::map 10^4 items, start incl.",
            millis(ours_map)
        ),
    }

    let processes = ProcessPool::new(2).unwrap();
    let ours = median(runs, || {
        let handles: Vec<_> = small
            .iter()
            .map(|&i| processes.submit(trivial, i))
            .collect();
        handles.into_iter().for_each(|h| {
            h.wait().unwrap();
        });
    });
    let per_task = ours / 10_000;
    println!(
        "{:<44} ours {:>12}  = {:.2} µs per task, target <= 3 µs  {}",
        "ProcessPool::submit x 10^4, then wait all",
        millis(ours),
        per_task.as_secs_f64() * 1e6,
        if per_task <= Duration::from_micros(3) {
            "met"
        } else {
            "MISSED"
        }
    );
    let spawner = procspawn::Pool::new(2).unwrap();
    let peer = median(3, || {
        // procspawn holds 4 descriptors per pending task: 10,000 at once fail with EMFILE, so
        // it gets them in waves of 250.
        for wave in small.chunks(250) {
            let handles: Vec<_> = wave
                .iter()
                .map(|&i| procspawn::spawn!(in spawner, (i) || trivial(i)))
                .collect();
            handles.into_iter().for_each(|h| {
                h.join().unwrap();
            });
        }
    });
    report(
        "ProcessPool::submit x 10^4, then wait all",
        ours,
        "procspawn Pool (waves of 250)",
        peer,
        0.1,
    );

    // --- one task's round trip -----------------------------------------------------------------
    // Two ways: hot (round after round, so nobody has gone to sleep) and cold (a 1 ms pause
    // before each round, so every thread and worker is asleep and must be woken, which is what
    // a real wake-up costs). Only the round itself is timed.
    let rounds = 300;
    let pause = |cold: bool| {
        if cold {
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    let ping_pong = |cold: bool| {
        let (to_peer, peer_in) = crossbeam_channel::bounded::<u64>(1);
        let (to_us, from_peer) = crossbeam_channel::bounded::<u64>(1);
        let peer = std::thread::spawn(move || peer_in.iter().for_each(|x| to_us.send(x).unwrap()));
        let mut times: Vec<Duration> = (0..rounds)
            .map(|i| {
                pause(cold);
                let start = Instant::now();
                to_peer.send(i).unwrap();
                from_peer.recv().unwrap();
                start.elapsed()
            })
            .collect();
        drop(to_peer);
        peer.join().unwrap();
        times.sort();
        times[times.len() / 2]
    };
    fn trip<P: Pool>(pool: &P, cold: bool, rounds: u64) -> Duration {
        let mut times: Vec<Duration> = (0..rounds)
            .map(|i| {
                if cold {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let start = Instant::now();
                assert_eq!(pool.submit(trivial, i).wait(), Ok(trivial(i)));
                start.elapsed()
            })
            .collect();
        times.sort();
        times[times.len() / 2]
    }
    // The floor for a process: a line to a child process over a pipe and back.
    let process_ping_pong = |cold: bool| {
        use std::io::{BufRead, BufReader, Write};
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .env("COMPARE_ECHO", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut to_child = child.stdin.take().unwrap();
        let mut from_child = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut times: Vec<Duration> = (0..rounds)
            .map(|i| {
                pause(cold);
                let start = Instant::now();
                writeln!(to_child, "{i}").unwrap();
                line.clear();
                from_child.read_line(&mut line).unwrap();
                start.elapsed()
            })
            .collect();
        drop(to_child);
        child.wait().unwrap();
        times.sort();
        times[times.len() / 2]
    };
    for (cold, how) in [(false, "hot"), (true, "cold")] {
        let (thread_floor, process_floor) = (ping_pong(cold), process_ping_pong(cold));
        let thread_peer = format!("thread ping-pong, {how}");
        let ours = trip(&threads, cold, rounds);
        report(
            &format!("round trip, {how}: ThreadPool"),
            ours,
            &thread_peer,
            thread_floor,
            1.2,
        );
        let ours = trip(&processes, cold, rounds);
        report(
            &format!("round trip, {how}: ProcessPool"),
            ours,
            &thread_peer,
            thread_floor,
            1.2,
        );
        let process_peer = format!("process ping-pong, {how}");
        report(
            &format!("round trip, {how}: ProcessPool"),
            ours,
            &process_peer,
            process_floor,
            f64::INFINITY,
        );
    }

    // --- CPU-bound speed-up --------------------------------------------------------------------
    let seeds: Vec<u64> = (0..64).collect();
    let sequential = median(runs.min(5), || {
        drop(seeds.iter().map(|&s| spin(s)).collect::<Vec<_>>())
    });
    for (name, time) in [
        (
            "ThreadPool",
            median(runs.min(5), || {
                drop(
                    threads
                        .map_chunked(spin, seeds.clone(), Chunk::Size(1))
                        .unwrap(),
                )
            }),
        ),
        (
            "ProcessPool",
            median(runs.min(5), || {
                drop(
                    processes
                        .map_chunked(spin, seeds.clone(), Chunk::Size(1))
                        .unwrap(),
                )
            }),
        ),
    ] {
        let speedup = sequential.as_secs_f64() / time.as_secs_f64();
        println!(
            "{:<44} ours {:>12}  sequential {:>12}  speed-up {speedup:.2}x  target >= 1.85x  {}",
            format!("CPU-bound 64 x ~1 ms on 2 {name} workers"),
            millis(time),
            millis(sequential),
            if speedup >= 1.85 { "met" } else { "MISSED" }
        );
    }
}

/// Runs the Python peers' script; `None` if there is no python3.
fn python_pools() -> Option<(Duration, Duration)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python_pools.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let value = |name: &str| -> Option<Duration> {
        let secs: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())?;
        Some(Duration::from_secs_f64(secs))
    };
    if let Some(first) = text.lines().next() {
        println!("({first})");
    }
    Some((value("mp_pool_map")?, value("executor_map")?))
}
