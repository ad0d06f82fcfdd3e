//! A tour of both pools: the same generic code on threads and on processes, then what differs.
//!
//! Run it with `cargo run -p common --example pool_tour` (`-- --help` says what it does; it
//! takes no other argument).

use common::demo::cli::UsageError;
use common::demo::narrate::{conclude, duration, header, pid_tag, Wrapped};
use common::{Error, Pool, ProcessPool, ThreadPool};
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Counts the primes below `n` the slow way: honest CPU work for a task.
fn count_primes(n: u64) -> u64 {
    (2..n)
        .filter(|&k| (2..).take_while(|d| d * d <= k).all(|d| k % d != 0))
        .count() as u64
}

/// A task that fails in the ways a task can, chosen by its argument.
fn fragile(how: String) -> String {
    match how.as_str() {
        "panic" => panic!("this task panics on purpose"),
        "abort" => std::process::abort(),
        _ => format!("fine, from {}", pid_tag(std::process::id())),
    }
}

/// Numbers as a student writes them: `2262, 4203`.
fn list(values: &[u64]) -> String {
    let words: Vec<String> = values.iter().map(u64::to_string).collect();
    words.join(", ")
}

/// The same function for both pools: this is what one interface buys.
fn tour<P: Pool>(out: &mut impl Write, pool: &P) -> anyhow::Result<Vec<u64>> {
    header(
        out,
        &format!("{} pool", pool.kind()),
        "one generic function, run unchanged",
        &[("workers", pool.workers())],
    )?;
    let started = Instant::now();
    let primes = pool.map(count_primes, [20_000, 40_000, 60_000, 80_000])?;
    writeln!(
        out,
        "   map(count_primes) over 20000, 40000, 60000, 80000 -> {} in {}",
        list(&primes),
        duration(started.elapsed())
    )?;
    for (i, r) in pool.map_unordered(fragile, ["ok".to_string(), "panic".to_string()]) {
        let said = match r {
            Ok(v) => v,
            Err(e) => e.to_string(),
        };
        writeln!(out, "   task {i}: {said}")?;
    }
    let mut late = pool.submit(|ms: u64| std::thread::sleep(Duration::from_millis(ms)), 200);
    let early = match late.wait_timeout(Duration::from_millis(10)) {
        Err(Error::Timeout(_)) => "not done yet: timed out".to_string(),
        Err(e) => format!("error: {e}"),
        Ok(()) => "done (unexpectedly early)".to_string(),
    };
    writeln!(out, "   wait_timeout(10 ms) on a 200 ms task: {early}")?;
    late.wait()?;
    Ok(primes)
}

const HELP: &str = "\
pool_tour: the same generic code on a ThreadPool and a ProcessPool, then what only a process
pool survives (a task that aborts its worker).

Usage: cargo run -p common --example pool_tour [-- --help]";

/// The tour itself; `args` are the command-line arguments after the program's name.
fn run(args: &[String], out: &mut impl Write) -> anyhow::Result<()> {
    match args.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") if args.len() == 1 => {
            writeln!(out, "{HELP}")?;
            return Ok(());
        }
        Some(other) => {
            let why = format!("unexpected argument '{other}': pool_tour takes none (see --help)");
            return Err(UsageError(why).into());
        }
    }
    let on_threads = tour(out, &ThreadPool::new(2)?)?;
    let processes = ProcessPool::new(2)?;
    let on_processes = tour(out, &processes)?;

    writeln!(out, "\n== what only a process pool survives ==")?;
    let answer = processes.submit(fragile, "abort".to_string()).wait();
    let said = match &answer {
        Err(e) => e.to_string(),
        Ok(v) => format!("no error: {v}"),
    };
    writeln!(out, "   a task that aborts its worker: {said}")?;
    let next = processes.submit(fragile, "ok".to_string()).wait()?;
    writeln!(out, "   the next task still runs: {next}")?;
    conclude(
        out,
        on_threads == on_processes && matches!(answer, Err(Error::WorkerDied { .. })),
        format!("same answers on both pools ({})", list(&on_threads)),
        "one interface; a process pool also survives a dead worker",
    )?;
    Ok(())
}

fn main() -> ExitCode {
    common::init(); // a worker process never returns from here
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = Wrapped::new(std::io::stdout().lock());
    match run(&args, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => common::demo::cli::exit_status(e.as_ref()),
    }
}
