//! Latency: an MPI ping-pong against a pipe, blocking and spinning: the cost of waking up.
//!
//! Eight bytes go to another process and back, many times. Over a blocking pipe, each side
//! sleeps in `read` until the other writes: every trip pays for the kernel waking a sleeping
//! process. Open MPI's blocking receive never sleeps: it spins on shared memory, so a message
//! is seen within a fraction of a microsecond, at the price of a core kept at 100 %. A pipe
//! read in a spinning loop (non-blocking) shows the same trade with plain Unix tools. The
//! pool's own round trip (`submit` then `wait`) sits between them: it spins about 1 ms, then
//! backs off (see `backoff`).

use crate::launch::scrub_mpi_env;
use crate::{rank_tag, MpiPool, Settings};
use common::demo::narrate::{conclude, duration, header, ratio};
use common::Pool;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsFd;
use std::process::Stdio;
use std::time::{Duration, Instant};

const BUSY: &str = "spinning lost: other work held the cores";

/// Round trips timed for each way.
pub const ROUNDS: u64 = 5_000;

/// The child's side of the pipe measurement: echo 8-byte messages until end of input,
/// spinning on a non-blocking stdin if `spin`.
///
/// # Errors
/// An I/O error on stdin or stdout.
pub fn echo_main(spin: bool) -> anyhow::Result<()> {
    // Unbuffered files on the same descriptors: std's stdout would hold 8 bytes back until a
    // newline.
    let mut input = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let mut output = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    if spin {
        crate::sys::set_nonblocking(input.as_fd())?;
    }
    let mut message = [0u8; 8];
    while read_message(&mut input, &mut message)? {
        output.write_all(&message)?;
    }
    Ok(())
}

/// Reads exactly 8 bytes, spinning through `WouldBlock`; `false` at end of input.
fn read_message(input: &mut impl Read, message: &mut [u8; 8]) -> std::io::Result<bool> {
    let mut got = 0;
    while got < message.len() {
        match input.read(&mut message[got..]) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Round trip over a pipe to a child echo process, blocking or spinning on both sides.
fn pipe_round_trip(spin: bool) -> anyhow::Result<Duration> {
    let mut cmd = common::demo::child::self_command();
    scrub_mpi_env(&mut cmd);
    cmd.arg("pipe-echo")
        .args(spin.then_some("--spin"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = common::demo::child::Child::spawn(&mut cmd)?;
    let inner = child.inner_mut();
    let mut to_child = inner
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdin pipe"))?;
    let mut from_child = inner
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout pipe"))?;
    if spin {
        crate::sys::set_nonblocking(from_child.as_fd())?;
    }
    let mut message = [0u8; 8];
    let mut trip = |round: u64| -> anyhow::Result<()> {
        to_child.write_all(&round.to_le_bytes())?;
        anyhow::ensure!(
            read_message(&mut from_child, &mut message)?,
            "the echo child ended"
        );
        anyhow::ensure!(
            message == round.to_le_bytes(),
            "the echo child garbled a message"
        );
        Ok(())
    };
    for round in 0..100 {
        trip(round)?; // warm-up: the child has started and both sides are in their loops
    }
    let started = Instant::now();
    for round in 0..ROUNDS {
        trip(round)?;
    }
    let per_trip = started.elapsed() / ROUNDS as u32;
    drop(to_child); // end of input: the child exits
    child.finish(Duration::from_secs(5))?;
    Ok(per_trip)
}

/// `2.5x faster` or `3.0x slower`, from `baseline / new`.
fn faster(ratio: f64) -> String {
    if ratio >= 1.0 {
        format!("{ratio:.1}x faster than a blocking pipe")
    } else {
        format!(
            "{:.1}x slower than a blocking pipe",
            1.0 / ratio.max(f64::MIN_POSITIVE)
        )
    }
}

/// Measures the four round trips and checks that MPI's spinning beats a blocking pipe.
///
/// # Errors
/// A pool or child that cannot start, a failed check, or the writer's error.
pub fn run(out: &mut impl Write, settings: &Settings) -> anyhow::Result<()> {
    header(
        out,
        "latency",
        "8 bytes there and back: MPI against a pipe, blocking and spinning",
        &[("rounds", ROUNDS), ("workers", 1)],
    )?;
    let _ = settings;
    let pool = MpiPool::new(1)?;
    pool.ping_pong(1, 100)?; // warm-up
    let mpi = pool.ping_pong(1, ROUNDS)?;
    writeln!(
        out,
        "{} <-> {} MPI ping-pong:     {} per round trip (spins)",
        rank_tag(0),
        rank_tag(1),
        duration(mpi)
    )?;
    let blocking = pipe_round_trip(false)?;
    writeln!(
        out,
        "[pid {}] <-> child, blocking pipe: {} per round trip (sleeps)",
        std::process::id(),
        duration(blocking)
    )?;
    let spinning = pipe_round_trip(true)?;
    writeln!(
        out,
        "[pid {}] <-> child, spinning pipe: {} per round trip (spins)",
        std::process::id(),
        duration(spinning)
    )?;
    let pool = MpiPool::new(1)?;
    for _ in 0..100 {
        pool.submit(std::convert::identity::<u64>, 0).wait()?;
    }
    let started = Instant::now();
    for round in 0..ROUNDS / 5 {
        pool.submit(std::convert::identity::<u64>, round).wait()?;
    }
    let submit = started.elapsed() / (ROUNDS / 5) as u32;
    // Started alone, the pool's ranks were spawned: a second job, reached over TCP.
    let how = match settings.fixed_workers {
        Some(_) => "same job, shared memory",
        None => "spawned ranks: TCP",
    };
    writeln!(
        out,
        "this mpi pool, submit + wait:    {} per task ({how})",
        duration(submit)
    )?;
    let wake_up = ratio(blocking, mpi);
    let lesson = if ratio(blocking, spinning) >= 2.0 {
        "a wake-up is the cost; spinning skips it, burns a core"
    } else {
        BUSY
    };
    // The check is that every message came back intact (`trip` verifies each); the times
    // only choose the lesson, because a busy machine can reorder them.
    let lesson = if mpi < blocking { lesson } else { BUSY };
    writeln!(out, "MPI ping-pong: {}", faster(wake_up))?;
    conclude(out, true, "every echo came back intact", lesson)?;
    Ok(())
}
