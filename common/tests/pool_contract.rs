//! The `Pool` contract, checked on both pools, plus the faults only a process pool can survive.
//!
//! This test binary has its own `main` (harness = false) because `ProcessPool` workers are this
//! very executable started again, and `common::init()` must be the first thing they run. Run one
//! test with `cargo test -p common --test pool_contract -- <name-filter>`.

use common::{Chunk, Error, Exit, Pool, ProcessPool, ThreadPool};
use std::time::{Duration, Instant};

mod harness;
use harness::{check, Test};

/// Makes a worker misbehave before it connects, to test the handshake's bounds.
const FAULT: &str = "POOL_CONTRACT_FAULT";
/// Makes this binary act as a program that owns a pool (for the parent-killed test).
const ROLE: &str = "POOL_CONTRACT_ROLE";

fn main() {
    if std::env::var_os("COMMON_POOL_WORKER").is_some() {
        match std::env::var(FAULT).as_deref() {
            Ok("exit-before-hello") => std::process::exit(7),
            Ok("hang-before-hello") => std::thread::sleep(Duration::from_secs(60)),
            _ => {}
        }
    }
    common::init();
    if std::env::var(ROLE).as_deref() == Ok("pool-owner") {
        return pool_owner();
    }
    harness::run(&[
        Test("generic_contract_on_threads", || {
            contract(&ThreadPool::new(2)?)
        }),
        Test("generic_contract_on_processes", || {
            contract(&ProcessPool::new(2)?)
        }),
        Test("same_results_on_both_pools", same_results_on_both_pools),
        Test(
            "zero_workers_and_zero_chunk_are_errors",
            zero_workers_and_zero_chunk_are_errors,
        ),
        Test("timeline_covers_every_item", timeline_covers_every_item),
        Test("abort_in_task_fails_that_task_only", || {
            worker_death("abort", "killed by signal 6 (SIGABRT)")
        }),
        Test("sigkill_in_task_fails_that_task_only", || {
            worker_death("sigkill", "killed by signal 9 (SIGKILL)")
        }),
        Test("exit_in_task_fails_that_task_only", || {
            worker_death("exit3", "exited with code 3")
        }),
        Test(
            "worker_killed_while_idle_is_replaced",
            worker_killed_while_idle_is_replaced,
        ),
        Test(
            "worker_killed_while_busy_fails_its_task",
            worker_killed_while_busy_fails_its_task,
        ),
        Test(
            "child_dying_before_handshake_is_an_error",
            child_dying_before_handshake_is_an_error,
        ),
        Test(
            "child_hanging_in_handshake_times_out",
            child_hanging_in_handshake_times_out,
        ),
        Test("large_argument_and_result", large_argument_and_result),
        Test("ten_thousand_pending_tasks", ten_thousand_pending_tasks),
        Test(
            "workers_die_with_a_killed_parent",
            workers_die_with_a_killed_parent,
        ),
        Test("drop_reaps_every_worker", drop_reaps_every_worker),
        Test(
            "terminate_stops_running_tasks",
            terminate_stops_running_tasks,
        ),
        Test(
            "thread_pool_terminate_cancels_pending",
            thread_pool_terminate_cancels_pending,
        ),
        Test("kill_storm", kill_storm),
        Test(
            "long_batches_after_short_ones_are_shared",
            long_batches_after_short_ones_are_shared,
        ),
    ]);
}

/// One body, both pools: everything a user of `Pool` relies on.
fn contract<P: Pool>(pool: &P) -> harness::Result {
    let squares = pool.map(|x: u64| x * x, 0..1000)?;
    check(
        squares == (0..1000).map(|x| x * x).collect::<Vec<_>>(),
        "map returns results in item order",
    )?;

    for chunk in [
        Chunk::Size(1),
        Chunk::Size(7),
        Chunk::Size(5000),
        Chunk::Auto,
    ] {
        let out = pool.map_chunked(|s: String| s.len(), (0..100).map(|i| "x".repeat(i)), chunk)?;
        check(
            out == (0..100).collect::<Vec<_>>(),
            &format!("map_chunked with {chunk:?}"),
        )?;
    }
    check(
        pool.map(|x: u8| x, Vec::new())?.is_empty(),
        "map of nothing is empty",
    )?;

    let mut seen: Vec<usize> = pool
        .map_unordered(|x: u32| x + 1, 0..200)
        .map(|(i, r)| {
            assert_eq!(r, Ok(i as u32 + 1), "item {i} carries its own result");
            i
        })
        .collect();
    seen.sort_unstable();
    check(
        seen == (0..200).collect::<Vec<_>>(),
        "map_unordered yields every index exactly once",
    )?;

    let handle = pool.submit(|(a, b): (i64, i64)| a - b, (10, 3));
    check(handle.wait() == Ok(7), "submit + wait")?;

    let mut slow = pool.submit(|ms: u64| std::thread::sleep(Duration::from_millis(ms)), 300);
    check(
        slow.wait_timeout(Duration::from_millis(1))
            == Err(Error::Timeout(Duration::from_millis(1))),
        "wait_timeout times out",
    )?;
    check(
        slow.wait_timeout(Duration::from_secs(20)) == Ok(()),
        "the same handle can wait again",
    )?;
    check(
        slow.wait_timeout(Duration::from_secs(1)) == Err(Error::AlreadyTaken),
        "a result is taken once",
    )?;

    // A panicking task fails alone, with its message and location; the pool goes on.
    let results: Vec<_> = pool
        .map_unordered(
            |x: u32| {
                if x == 3 {
                    panic!("three is right out")
                } else {
                    x
                }
            },
            0..6,
        )
        .collect();
    for (i, result) in results {
        match result {
            Err(Error::Panicked { message, location }) => {
                check(i == 3, "only item 3 panics")?;
                check(message == "three is right out", "the panic message is kept")?;
                let at = location.unwrap_or_default();
                check(
                    at.contains("tests/pool_contract.rs:"),
                    &format!("the location names this file (got {at:?})"),
                )?;
            }
            Ok(v) => check(v as usize == i && i != 3, "other items succeed")?,
            Err(e) => return Err(format!("unexpected error for item {i}: {e}").into()),
        }
    }
    let err = pool
        .map(|x: u32| if x == 2 { panic!("two") } else { x }, 0..4)
        .unwrap_err();
    check(
        matches!(err, Error::Panicked { ref message, .. } if message == "two"),
        "map reports the failed item's error",
    )?;
    check(
        pool.map(|x: u32| x * 2, 0..3)? == vec![0, 2, 4],
        "the pool still works after panics",
    )?;
    Ok(())
}

/// Generic code gives identical results on both pools.
fn same_results_on_both_pools() -> harness::Result {
    fn work<P: Pool>(pool: &P) -> Vec<(u64, String)> {
        pool.map(|n: u64| (n.pow(3) % 97, format!("item {n}")), 0..500)
            .expect("no task fails")
    }
    check(
        work(&ThreadPool::new(3)?) == work(&ProcessPool::new(3)?),
        "thread and process pools agree",
    )
}

fn zero_workers_and_zero_chunk_are_errors() -> harness::Result {
    check(
        ThreadPool::new(0).err() == Some(Error::ZeroWorkers),
        "ThreadPool::new(0)",
    )?;
    check(
        ProcessPool::new(0).err() == Some(Error::ZeroWorkers),
        "ProcessPool::new(0)",
    )?;
    let pool = ThreadPool::new(1)?;
    check(
        pool.map_chunked(|x: u8| x, vec![1], Chunk::Size(0)) == Err(Error::ZeroChunk),
        "Chunk::Size(0)",
    )?;
    check(
        Error::ZeroChunk.to_string() == "a chunk needs at least one item (got 0)",
        "the message is clear",
    )
}

fn timeline_covers_every_item() -> harness::Result {
    let threads = ThreadPool::builder()
        .workers(2)
        .record_timeline(true)
        .build()?;
    let processes = ProcessPool::builder()
        .workers(2)
        .record_timeline(true)
        .build()?;
    for (kind, spans) in [
        ("thread", {
            threads.map_chunked(|x: u32| x, 0..100, Chunk::Size(10))?;
            threads.timeline()
        }),
        ("process", {
            processes.map_chunked(|x: u32| x, 0..100, Chunk::Size(10))?;
            processes.timeline()
        }),
    ] {
        let mut firsts: Vec<usize> = spans.iter().map(|s| s.first).collect();
        firsts.sort_unstable();
        check(
            firsts == (0..100).step_by(10).collect::<Vec<_>>(),
            &format!("{kind}: one span per batch"),
        )?;
        check(
            spans
                .iter()
                .all(|s| s.worker < 2 && s.len == 10 && s.start <= s.end),
            &format!("{kind}: spans are well-formed"),
        )?;
    }
    Ok(())
}

/// A task that kills its own worker process in the way named.
fn fatal(how: String) -> u32 {
    match how.as_str() {
        "abort" => std::process::abort(),
        "sigkill" => {
            let _ = common::demo::sys::send_signal(std::process::id(), libc::SIGKILL);
            std::thread::sleep(Duration::from_secs(10));
            unreachable!("SIGKILL cannot be caught")
        }
        "exit3" => std::process::exit(3),
        _ => 1,
    }
}

fn worker_death(how: &str, expected_cause: &str) -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let before = pool.worker_pids();
    let handles: Vec<_> = (0..20)
        .map(|i| pool.submit(fatal, if i == 10 { how.into() } else { "ok".into() }))
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.wait() {
            Err(Error::WorkerDied { pid, cause }) => {
                check(i == 10, "only the fatal task fails")?;
                check(before.contains(&pid), "the error names the dead worker")?;
                // The structured cause, and the words a user reads.
                check(
                    cause.to_string() == expected_cause,
                    &format!("the cause is {expected_cause:?} (got {cause:?})"),
                )?;
            }
            Ok(v) => check(v == 1 && i != 10, "every other task completes")?,
            Err(e) => return Err(format!("task {i}: unexpected {e}").into()),
        }
    }
    check(
        pool.map(|x: u32| x + 1, 0..50)? == (1..51).collect::<Vec<_>>(),
        "the pool works after the death",
    )?;
    // The error is delivered first; the replacement's handshake follows within milliseconds.
    let replaced = common::testing::eventually(Duration::from_secs(5), || {
        let now = pool.worker_pids();
        now.len() == 2 && !now.iter().all(|p| before.contains(p))
    });
    check(replaced, "the dead worker was replaced")?;
    Ok(())
}

fn worker_killed_while_idle_is_replaced() -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let victim = pool.worker_pids()[0];
    common::demo::sys::send_signal(victim, libc::SIGKILL)?;
    // The idle supervisor notices within its idle check (100 ms) and reaps: no zombie.
    check(
        common::testing::eventually(Duration::from_secs(2), || {
            common::testing::process_state(victim).is_none()
        }),
        "the killed worker is reaped, not left a zombie",
    )?;
    check(
        pool.map_chunked(|x: u32| x * 3, 0..100, Chunk::Size(1))?
            == (0..100).map(|x| x * 3).collect::<Vec<_>>(),
        "no task fails",
    )?;
    let replaced = common::testing::eventually(Duration::from_secs(5), || {
        let now = pool.worker_pids();
        now.len() == 2 && !now.contains(&victim)
    });
    check(replaced, "a new worker took its place")
}

fn worker_killed_while_busy_fails_its_task() -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let pids = pool.worker_pids();
    let nap = |ms: u64| {
        std::thread::sleep(Duration::from_millis(ms));
        std::process::id()
    };
    let long: Vec<_> = (0..2).map(|_| pool.submit(nap, 1500)).collect();
    std::thread::sleep(Duration::from_millis(300)); // both workers are now inside their task
    common::demo::sys::send_signal(pids[0], libc::SIGKILL)?;
    let later: Vec<_> = (0..10).map(|_| pool.submit(nap, 1)).collect();
    let outcomes: Vec<_> = long.into_iter().map(|h| h.wait()).collect();
    let died = outcomes.iter().filter(|r| matches!(r, Err(Error::WorkerDied { pid, cause }) if *pid == pids[0] && *cause == Exit::Signal(9))).count();
    let fine = outcomes
        .iter()
        .filter(|r| matches!(r, Ok(pid) if *pid == pids[1]))
        .count();
    check(
        died == 1 && fine == 1,
        &format!("one task dies with its worker, the other completes: {outcomes:?}"),
    )?;
    for h in later {
        h.wait()?;
    }
    Ok(())
}

fn child_dying_before_handshake_is_an_error() -> harness::Result {
    let started = Instant::now();
    let err = ProcessPool::builder()
        .workers(2)
        .env(FAULT, "exit-before-hello")
        .build()
        .err();
    let ok = matches!(&err, Some(Error::Spawn(why)) if why.contains("exited with code 7 before its handshake"));
    check(ok, &format!("a clear error (got {err:?})"))?;
    check(
        started.elapsed() < Duration::from_secs(3),
        "noticed at once, not at the timeout",
    )?;
    check(
        common::testing::children_of(std::process::id()).is_empty(),
        "no child left",
    )
}

fn child_hanging_in_handshake_times_out() -> harness::Result {
    let started = Instant::now();
    let pool = ProcessPool::builder()
        .workers(1)
        .env(FAULT, "hang-before-hello")
        .handshake_timeout(Duration::from_millis(300))
        .build();
    let err = pool.err();
    check(
        matches!(&err, Some(Error::Spawn(why)) if why.contains("gave no handshake within 300ms")),
        &format!("a timeout error (got {err:?})"),
    )?;
    check(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the timeout",
    )?;
    check(
        common::testing::children_of(std::process::id()).is_empty(),
        "the hung child was killed and reaped",
    )
}

fn large_argument_and_result() -> harness::Result {
    const SIZE: usize = 64 << 20;
    let pool = ProcessPool::new(1)?;
    let data = serde_bytes::ByteBuf::from(vec![7u8; SIZE]);
    let flipped = pool
        .submit(
            |mut v: serde_bytes::ByteBuf| {
                v.iter_mut().for_each(|b| *b = !*b);
                v
            },
            data,
        )
        .wait()?;
    check(
        flipped.len() == SIZE && flipped.iter().all(|&b| b == !7u8),
        "64 MiB went there and back intact",
    )
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn ten_thousand_pending_tasks() -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let fds_before = open_fds();
    let handles: Vec<_> = (0..10_000u64)
        .map(|i| pool.submit(|x: u64| x * 2, i))
        .collect();
    let fds_pending = open_fds();
    for (i, h) in handles.into_iter().enumerate() {
        check(h.wait()? == 2 * i as u64, "each task's own result")?;
    }
    check(
        fds_pending <= fds_before + 4,
        &format!("pending tasks hold no descriptors ({fds_before} -> {fds_pending})"),
    )
}

/// Acts as a program with a pool: prints its workers' pids, then waits to be killed.
fn pool_owner() {
    let pool = ProcessPool::new(2).expect("workers start");
    println!(
        "{}",
        pool.worker_pids()
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    );
    std::thread::sleep(Duration::from_secs(30)); // bounded: the test kills us long before
}

fn workers_die_with_a_killed_parent() -> harness::Result {
    use std::io::BufRead;
    let mut owner = std::process::Command::new(std::env::current_exe()?)
        .env(ROLE, "pool-owner")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(owner.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let workers: Vec<u32> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    check(
        workers.len() == 2 && workers.iter().all(|&p| common::testing::is_running(p)),
        "the owner's workers run",
    )?;
    owner.kill()?; // SIGKILL: the owner runs no cleanup at all
    owner.wait()?;
    let gone = common::testing::eventually(Duration::from_secs(1), || {
        workers.iter().all(|&p| !common::testing::is_running(p))
    });
    check(
        gone,
        "every worker exits within 1 s of its parent's SIGKILL",
    )
}

fn drop_reaps_every_worker() -> harness::Result {
    let pool = ProcessPool::new(3)?;
    let pids = pool.worker_pids();
    let handles: Vec<_> = (0..30)
        .map(|i| {
            pool.submit(
                |ms: u64| {
                    std::thread::sleep(Duration::from_millis(ms));
                    ms
                },
                i % 3,
            )
        })
        .collect();
    drop(pool); // finishes submitted work first
    for (i, h) in handles.into_iter().enumerate() {
        check(
            h.wait()? == i as u64 % 3,
            "submitted work finished before the drop returned",
        )?;
    }
    check(
        pids.iter()
            .all(|&p| common::testing::process_state(p).is_none()),
        "no worker left, not even a zombie",
    )
}

fn terminate_stops_running_tasks() -> harness::Result {
    let pool = ProcessPool::new(2)?;
    let pids = pool.worker_pids();
    let handles: Vec<_> = (0..6)
        .map(|_| pool.submit(|s: u64| std::thread::sleep(Duration::from_secs(s)), 20))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    pool.terminate();
    check(
        started.elapsed() < Duration::from_secs(2),
        "terminate returns at once",
    )?;
    for h in handles {
        check(
            h.wait() == Err(Error::Cancelled),
            "running and queued tasks are cancelled",
        )?;
    }
    check(
        pids.iter()
            .all(|&p| common::testing::process_state(p).is_none()),
        "workers are killed and reaped",
    )
}

fn thread_pool_terminate_cancels_pending() -> harness::Result {
    let pool = ThreadPool::new(1)?;
    let running = pool.submit(
        |ms: u64| {
            std::thread::sleep(Duration::from_millis(ms));
            ms
        },
        300,
    );
    std::thread::sleep(Duration::from_millis(50));
    let pending: Vec<_> = (0..5).map(|i| pool.submit(|x: u64| x, i)).collect();
    pool.terminate();
    for h in pending {
        check(
            h.wait() == Err(Error::Cancelled),
            "pending tasks are cancelled",
        )?;
    }
    // A running thread cannot be stopped: its task finishes in the background.
    check(running.wait() == Ok(300), "the running task completes")
}

/// Kills in the storm: a few here, 1,000 with `FAULTS_FULL=1` (see the root README).
fn storm_kills() -> usize {
    if std::env::var_os("FAULTS_FULL").is_some() {
        1000
    } else {
        25
    }
}

/// Where a storm task notes that it started: one line per start, appended atomically.
const STORM_LOG: &str = "POOL_CONTRACT_STORM_LOG";

/// A storm task: notes its start, spins for about 0.2 ms, returns its index.
fn storm_task(index: u64) -> u64 {
    use std::io::Write;
    if let Some(path) = std::env::var_os(STORM_LOG) {
        // O_APPEND makes each short write land whole, even from several processes at once.
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .expect("the log exists");
        log.write_all(format!("{index}\n").as_bytes())
            .expect("the log is writable");
    }
    let until = Instant::now() + Duration::from_micros(200);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
    index
}

/// Workers are SIGKILLed at random moments under a steady load. Every task must end exactly
/// once, with its value or `WorkerDied`; none may run twice; nothing may hang or be left over.
fn kill_storm() -> harness::Result {
    let kills = storm_kills();
    let log = std::env::temp_dir().join(format!("pool-contract-storm-{}", std::process::id()));
    let _log_guard = common::demo::cleanup::PathGuard::new(&log);
    std::fs::write(&log, "")?;
    let pool = ProcessPool::builder()
        .workers(2)
        .env(STORM_LOG, &log)
        .build()?;
    let mut seen_pids = std::collections::HashSet::new();
    let mut rng = Instant::now().elapsed().subsec_nanos() as u64 | 1;
    let mut next_random = move |bound: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % bound
    };
    let tasks_per_kill = 40;
    let total = (kills * tasks_per_kill) as u64;
    let handles: Vec<_> = (0..total).map(|i| pool.submit(storm_task, i)).collect();
    let started = Instant::now();
    let mut done_kills = 0;
    while done_kills < kills && started.elapsed() < Duration::from_secs(600) {
        std::thread::sleep(Duration::from_micros(next_random(3000)));
        let pids = pool.worker_pids();
        if pids.is_empty() {
            continue; // both slots are between a death and a replacement
        }
        let victim = pids[next_random(pids.len() as u64) as usize];
        seen_pids.insert(victim);
        if common::demo::sys::send_signal(victim, libc::SIGKILL).is_ok() {
            done_kills += 1;
        }
    }
    let (mut values, mut died) = (0, 0);
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.wait() {
            Ok(v) => {
                check(v == i as u64, "a task's own value")?;
                values += 1;
            }
            Err(Error::WorkerDied { cause, .. }) => {
                check(cause == Exit::Signal(9), "deaths are the storm's")?;
                died += 1;
            }
            Err(e) => return Err(format!("task {i}: unexpected {e}").into()),
        }
    }
    let log_text = std::fs::read_to_string(&log)?;
    let mut starts = vec![0u32; total as usize];
    for line in log_text.lines() {
        starts[line.parse::<usize>()?] += 1;
    }
    let twice = starts.iter().filter(|&&n| n > 1).count();
    println!("   kill storm: {done_kills} kills, {total} tasks: {values} values, {died} worker-died, {twice} ran twice");
    check(done_kills == kills, "every planned kill landed")?;
    check(
        values + died == total as usize,
        "every task ended exactly once",
    )?;
    check(twice == 0, "no task ran twice")?;
    let survivors = pool.worker_pids();
    drop(pool);
    let all: Vec<u32> = seen_pids.into_iter().chain(survivors).collect();
    check(
        all.iter()
            .all(|&p| common::testing::process_state(p).is_none()),
        "no worker left, not even a zombie",
    )
}

/// After short batches a supervisor prefetches several at once; it must still leave a fair
/// share of the queue to the other workers, or long batches that follow run one after another
/// on a single worker (seen once: all 8 batches on worker 1, the other idle).
fn long_batches_after_short_ones_are_shared() -> harness::Result {
    let pool = ProcessPool::builder()
        .workers(2)
        .record_timeline(true)
        .build()?;
    pool.map(|x: u64| x + 1, 0..20_000)?; // short batches: the prefetch window opens
    let before = pool.timeline().len();
    let nap = |ms: u64| std::thread::sleep(Duration::from_millis(ms));
    pool.map_chunked(nap, vec![20u64; 16], Chunk::Size(2))?;
    let spans = pool.timeline();
    let per_worker: Vec<usize> = (0..2)
        .map(|w| spans[before..].iter().filter(|s| s.worker == w).count())
        .collect();
    check(
        per_worker.iter().all(|&n| n >= 2),
        &format!("both workers run some of the 8 long batches (got {per_worker:?})"),
    )
}
