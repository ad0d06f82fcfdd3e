//! Messages: producers and one consumer over a bounded channel, with back-pressure and timeouts.
//!
//! Each producer sends its share of `messages` numbered items, then a `Done` saying how many it
//! sent and how often it found no room. At most `capacity` items are in flight, so producers
//! that outrun the consumer wait: that is back-pressure, and it keeps memory bounded however
//! fast they are. Every receive has a timeout, so a stuck producer becomes an error, not a hang;
//! the first one is shown on purpose, before any producer exists. The items interleave
//! differently on every run (the OS schedules the producers), but each producer's own items
//! arrive in the order it sent them: a channel is first in, first out.
//!
//! The bound is the channel's own: `crossbeam_channel::bounded(capacity)` makes `send` wait
//! while the channel is full, and the values move between threads without being copied.

use crate::crew::Crew;
use anyhow::{bail, Context, Result};
use common::demo::narrate::{conclude, duration, header, plural};
use crossbeam_channel::{RecvTimeoutError, Sender};
use std::io::Write;
use std::time::{Duration, Instant};

/// Messages sent in all, by default.
pub const MESSAGES: u64 = 20_000;

/// Messages in flight at most, by default.
pub const CAPACITY: usize = 16;

/// Longest wait for a message (or for room) before the run is called stuck.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a long run says how far it got.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(3);

/// The wait shown on purpose on a channel that nobody has sent to yet.
pub const DEMO_TIMEOUT: Duration = Duration::from_millis(20);

/// The protocol, the same in both twins.
#[derive(Debug)]
pub enum Msg {
    /// Item number `seq` of `producer`, carrying `value`.
    Item {
        producer: usize,
        seq: u64,
        value: u64,
    },
    /// `producer` has sent `sent` items and found the channel full `waited` times.
    Done {
        producer: usize,
        sent: u64,
        waited: u64,
    },
}

/// How many of `messages` producer `index` of `workers` sends.
pub fn share(messages: u64, workers: usize, index: usize) -> u64 {
    let workers = workers as u64;
    messages / workers + u64::from((index as u64) < messages % workers)
}

/// `workers` producers send `messages` items in all to the parent through at most `capacity` slots.
///
/// # Errors
/// A failed spawn, a timeout, or a failed check.
pub fn run(out: &mut impl Write, workers: usize, messages: u64, capacity: usize) -> Result<()> {
    let params = [
        ("producers", workers as u64),
        ("messages", messages),
        ("capacity", capacity as u64),
    ];
    header(
        out,
        "messages",
        "producers and a consumer over a bounded channel",
        &params,
    )?;
    // Made before the channel, so dropped after it: on an early return, producers see it gone.
    let mut crew = Crew::new();
    // The bound is the channel's own: a full channel makes `send` wait.
    let (tx, rx) = crossbeam_channel::bounded::<Msg>(capacity);
    let how = "the channel is bounded, so producers wait while it is full";
    let in_flight = capacity as u64;
    writeln!(
        out,
        "[parent] {how}: at most {in_flight} in flight{}",
        if in_flight == capacity as u64 {
            String::new()
        } else {
            format!(" (--capacity {capacity} rounded to whole credits per producer)")
        }
    )?;

    // On purpose: nobody has sent yet, so this receive can only time out.
    match rx.recv_timeout(DEMO_TIMEOUT) {
        Err(RecvTimeoutError::Timeout) => writeln!(
            out,
            "[parent] nothing within {}: timed out, as expected",
            duration(DEMO_TIMEOUT)
        )?,
        Ok(_) => bail!("expected a timeout on an empty channel, got a message"),
        Err(_) => bail!("expected a timeout on an empty channel, found it disconnected"),
    }

    for index in 0..workers {
        let count = share(messages, workers, index);
        let tx = tx.clone();
        let cmd = move || producer(index, count, tx);
        crew.start(cmd)
            .with_context(|| format!("spawning producer {index}"))?;
    }
    drop(tx);

    let mut next_seq = vec![0u64; workers];
    let (mut received, mut in_order, mut done, mut waited) = (0u64, true, 0, 0);
    let mut first: Option<Instant> = None;
    let (started, mut next_progress) = (Instant::now(), PROGRESS_EVERY);
    while done < workers {
        match rx
            .recv_timeout(RECV_TIMEOUT)
            .context("waiting for a message")?
        {
            Msg::Item {
                producer,
                seq,
                value,
            } => {
                first.get_or_insert_with(Instant::now);
                in_order &= seq == next_seq[producer] && value == seq * seq;
                next_seq[producer] = seq + 1;
                received += 1;
                // A line every few seconds, so a large --messages is not a silent minute.
                if received % 4096 == 0 && started.elapsed() >= next_progress {
                    next_progress = started.elapsed() + PROGRESS_EVERY;
                    writeln!(
                        out,
                        "[parent] consumed {received} of {messages} messages after {}",
                        duration(started.elapsed())
                    )?;
                }
            }
            Msg::Done {
                producer,
                sent,
                waited: w,
            } => {
                writeln!(
                    out,
                    "{} done: sent {sent}, found the channel full {}",
                    crew.tag(producer),
                    plural(w as usize, "time", "times")
                )?;
                in_order &= sent == next_seq[producer];
                waited += w;
                done += 1;
            }
        }
    }
    let elapsed = first.map_or(Duration::ZERO, |t| t.elapsed());
    crew.reap(RECV_TIMEOUT)?;
    let rate = received as f64 / elapsed.as_secs_f64().max(1e-9);
    writeln!(
        out,
        "[parent] consumed {received} messages in {} = {rate:.0} messages/s",
        duration(elapsed)
    )?;
    writeln!(
        out,
        "[parent] producers waited for room {}: that is the back-pressure",
        plural(waited as usize, "time", "times")
    )?;

    conclude(
        out,
        received == messages && in_order,
        format!("{received} of {messages} messages, each producer's in order"),
        "a bounded channel moves values between threads and makes fast producers wait",
    )?;
    Ok(())
}

/// The producer: `count` items, waiting when there is no room, then `Done`.
///
/// # Errors
/// The parent cannot be reached, or makes no room in time.
pub fn producer(index: usize, count: u64, tx: Sender<Msg>) -> Result<()> {
    let mut waited = 0;
    for seq in 0..count {
        let msg = Msg::Item {
            producer: index,
            seq,
            value: seq * seq,
        };
        if tx.is_full() {
            // No room: wait until the consumer makes some, but not forever.
            waited += 1;
        }
        let sent = tx.send_timeout(msg, RECV_TIMEOUT);
        sent.context("sending an item")?;
    }
    let done = Msg::Done {
        producer: index,
        sent: count,
        waited,
    };
    let sent = tx.send_timeout(done, RECV_TIMEOUT);
    sent.context("sending done")?;
    Ok(())
}
