//! Messages: producers and one consumer over ipc-channel, with back-pressure and timeouts.
//!
//! Each producer sends its share of `messages` numbered items, then a `Done` saying how many it
//! sent and how often it found no room. At most `capacity` items are in flight, so producers
//! that outrun the consumer wait: that is back-pressure, and it keeps memory bounded however
//! fast they are. Every receive has a timeout, so a stuck producer becomes an error, not a hang;
//! the first one is shown on purpose, before any producer exists. The items interleave
//! differently on every run (the OS schedules the producers), but each producer's own items
//! arrive in the order it sent them: a channel is first in, first out.
//!
//! Process boundary: ipc-channel has no bounded channel (a socket buffers what it can), so the
//! bound is emulated with credits: a producer may have at most `capacity / producers` items
//! unanswered, and the consumer hands credits back as it takes items. Each message is encoded
//! to bytes, written to a socket and decoded again, which is why this twin moves fewer per second.

use crate::crew::Crew;
use anyhow::{bail, ensure, Context, Result};
use common::demo::child::self_command;
use common::demo::narrate::{conclude, duration, header, plural};
use common::demo::process::OneShot;
use ipc_channel::ipc::{self, IpcReceiver, IpcSender};
use ipc_channel::TryRecvError;
use serde::{Deserialize, Serialize};
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
// Process boundary: a message must be serializable to cross over.
#[derive(Debug, Serialize, Deserialize)]
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

// Process boundary: a producer cannot be handed our sender; it connects and asks for it.
/// What a producer gets once it has connected: where to send, and where its credits come from.
#[derive(Serialize, Deserialize)]
pub struct Setup {
    data: IpcSender<Msg>,
    credits: IpcReceiver<u64>,
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
    // Process boundary: the bound is ours: credits per producer, one spent per item.
    let window = (capacity / workers).max(1) as u64;
    let (tx, rx) = ipc::channel::<Msg>().context("creating the channel")?;
    let credits = plural(window as usize, "credit", "credits");
    let how = format!(
        "ipc-channel is unbounded, so each producer gets {credits} and waits when they run out"
    );
    let in_flight = window * workers as u64;
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
    match rx.try_recv_timeout(DEMO_TIMEOUT) {
        Err(TryRecvError::Empty) => writeln!(
            out,
            "[parent] nothing within {}: timed out, as expected",
            duration(DEMO_TIMEOUT)
        )?,
        Ok(_) => bail!("expected a timeout on an empty channel, got a message"),
        Err(e) => bail!("expected a timeout on an empty channel: {}", ipc_words(&e)),
    }

    // Declared before `crew`, so dropped after it: on an early return (say, a closed
    // stdout) the producers are killed first, and never see their credits vanish and complain.
    let mut credit_txs = Vec::new();
    let mut crew = Crew::new();
    for index in 0..workers {
        let count = share(messages, workers, index);
        // Process boundary: a producer is this program started again; it connects to a one-shot
        // server by name and receives its `Setup`: our data sender and its credit receiver.
        let (server, name) =
            OneShot::<IpcSender<Setup>>::new().context("creating a one-shot server")?;
        let mut cmd = self_command();
        cmd.args(["child", "messages", &index.to_string()]);
        cmd.args([count.to_string(), window.to_string(), name]);
        crew.start(&mut cmd)
            .with_context(|| format!("spawning producer {index}"))?;
        let setup_tx = server
            .accept_within(RECV_TIMEOUT)
            .with_context(|| format!("producer {index} did not connect"))?;
        let (credit_tx, credits) = ipc::channel::<u64>().context("creating a credit channel")?;
        let data = tx.clone();
        setup_tx
            .send(Setup { data, credits })
            .context("sending the setup")?;
        credit_txs.push(credit_tx);
    }
    drop(tx);

    let mut next_seq = vec![0u64; workers];
    let mut owed = vec![0u64; workers];
    let (mut received, mut in_order, mut done, mut waited) = (0u64, true, 0, 0);
    let mut first: Option<Instant> = None;
    let (started, mut next_progress) = (Instant::now(), PROGRESS_EVERY);
    while done < workers {
        match rx
            .try_recv_timeout(RECV_TIMEOUT)
            .map_err(|e| anyhow::anyhow!(ipc_words(&e)))
            .context("waiting for a message")?
        {
            Msg::Item {
                producer,
                seq,
                value,
            } => {
                first.get_or_insert_with(Instant::now);
                // Process boundary: a number read from another process is checked before use.
                ensure!(producer < workers, "unknown producer {producer}");
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
                // Process boundary: give credits back, half a window at a time (fewer messages).
                owed[producer] += 1;
                if owed[producer] >= window.div_ceil(2) {
                    // A producer that has finished may be gone; its credits are then unwanted.
                    let _ = credit_txs[producer].send(owed[producer]);
                    owed[producer] = 0;
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
        "messages copy values between processes; credits make fast producers wait",
    )?;
    Ok(())
}

/// The producer: `count` items, waiting when there is no room, then `Done`.
///
/// # Errors
/// The parent cannot be reached, or makes no room in time.
pub fn producer(index: usize, count: u64, window: u64, server: &str) -> Result<()> {
    // Process boundary: connect to the parent by name, then receive our sender and credits.
    let (setup_tx, setup_rx) = ipc::channel::<Setup>().context("creating the setup channel")?;
    let hello = IpcSender::<IpcSender<Setup>>::connect(server.to_string())
        .context("connecting to the parent")?;
    hello.send(setup_tx).context("sending hello")?;
    let setup = setup_rx
        .try_recv_timeout(RECV_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("no setup: {}", ipc_words(&e)))?;
    let (tx, credits, mut left) = (setup.data, setup.credits, window);
    let mut waited = 0;
    for seq in 0..count {
        let msg = Msg::Item {
            producer: index,
            seq,
            value: seq * seq,
        };
        if left == 0 {
            // No room: wait until the consumer makes some, but not forever.
            waited += 1;
            left += credits
                .try_recv_timeout(RECV_TIMEOUT)
                .map_err(|e| anyhow::anyhow!("no credit: {}", ipc_words(&e)))?;
        }
        let sent = tx.send(msg);
        left -= 1;
        sent.context("sending an item")?;
    }
    let done = Msg::Done {
        producer: index,
        sent: count,
        waited,
    };
    let sent = tx.send(done);
    sent.context("sending done")?;
    Ok(())
}

/// An ipc-channel receive error in words (its own `Display` reads `IPC error Ipc Disconnected.`).
fn ipc_words(e: &ipc_channel::TryRecvError) -> String {
    use ipc_channel::IpcError;
    match e {
        TryRecvError::Empty => "nothing arrived in time".into(),
        TryRecvError::IpcError(IpcError::Disconnected) => {
            "the other side closed the channel".into()
        }
        TryRecvError::IpcError(IpcError::Io(io)) => io.to_string(),
        TryRecvError::IpcError(IpcError::SerializationError(_)) => {
            "a message could not be decoded".into()
        }
    }
}
