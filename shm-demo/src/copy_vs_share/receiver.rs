//! Copy vs share, the children's side: the ipc-channel handshake, and the commands a child
//! serves (receive bytes, receive a memfd, map a segment, read the reused segment).
//!
//! Each report is `<CLOCK_MONOTONIC ns when the slice was mapped> <sample>`; whatever a command
//! received is freed only after that stamp, so unmapping is never part of the measured time.

use super::{sample, slice, Hello};
use crate::crew::{child, Crew, REPORT_LIMIT};
use crate::segment::Opened;
use anyhow::{anyhow, bail, ensure, Context, Result};
use common::demo::process::OneShot;
use common::demo::sys::monotonic_nanos;
use ipc_channel::ipc::{
    self, IpcBytesReceiver, IpcBytesSender, IpcReceiver, IpcSender, IpcSharedMemory,
};

/// Spawned child `i` connects to a one-shot server whose name it gets on stdin. [`OneShot`]
/// bounds the wait for it, and removes the server's socket directory in `$TMPDIR` even on
/// Ctrl-C.
pub(super) fn connect(
    crew: &mut Crew,
    i: usize,
    pid: u32,
) -> Result<(IpcBytesSender, IpcSender<IpcSharedMemory>)> {
    let (server, name) = OneShot::<Hello>::new().context("creating a one-shot server")?;
    crew.send(i, &name)
        .with_context(|| format!("sending the server's name to child {i}"))?;
    let (hello_pid, bytes, shm) = server
        .accept_within(REPORT_LIMIT)
        .with_context(|| format!("child {i}: handshake"))?;
    ensure!(
        hello_pid == pid,
        "child {i}: a stranger connected to our server"
    );
    Ok((bytes, shm))
}

/// The child: connect, then serve commands; each report is `<time mapped> <sample>`.
///
/// # Errors
/// If the parent's channels fail or a segment cannot be opened.
pub fn child(i: usize, n: usize, len: usize) -> Result<()> {
    let range = slice(i, n, len);
    let server = child::next_command().context("no server name from the parent")?;
    let (bytes_tx, bytes_rx): (IpcBytesSender, IpcBytesReceiver) =
        ipc::bytes_channel().context("creating a bytes channel")?;
    let (shm_tx, shm_rx): (IpcSender<IpcSharedMemory>, IpcReceiver<IpcSharedMemory>) =
        ipc::channel().context("creating a channel")?;
    IpcSender::<Hello>::connect(server)
        .context("connecting to the parent")?
        .send((std::process::id(), bytes_tx, shm_tx))
        .map_err(|e| anyhow!("hello: {e}"))?;
    child::say(format_args!(
        "connected; my slice is bytes {}..{}",
        range.start, range.end
    ));
    child::report("ready", "");
    let mut mapped: Option<Opened> = None;
    // What a command received is freed only after the clock stopped (see the end of the loop):
    // unmapping 100 MiB is not part of receiving it.
    let (mut received, mut memfd, mut retired) =
        (None::<Vec<u8>>, None::<IpcSharedMemory>, None::<Opened>);
    while let Some(command) = child::next_command() {
        let sum = match command.split_once(' ').unwrap_or((&command, "")) {
            ("ipc", _) => sample(
                received.insert(
                    bytes_rx
                        .recv()
                        .map_err(|e| anyhow!("receiving bytes: {e}"))?,
                ),
            ),
            ("memfd", _) => sample(
                memfd.insert(
                    shm_rx
                        .recv()
                        .map_err(|e| anyhow!("receiving a memfd: {e}"))?,
                ),
            ),
            ("map", os_id) => {
                retired = mapped.take();
                let segment = mapped.insert(Opened::open(os_id)?);
                // The parent wrote the segment before it sent "map", and writes nothing more
                // until every child has reported.
                sample(
                    segment
                        .bytes(range.clone())
                        .context("my slice of the segment")?,
                )
            }
            ("shm", _) => {
                let segment = mapped.as_mut().context("\"shm\" before \"map\"")?;
                // As for "map": the parent wrote before it sent "shm".
                sample(
                    segment
                        .bytes(range.clone())
                        .context("my slice of the segment")?,
                )
            }
            _ => bail!("unknown command \"{command}\""),
        };
        child::report("got", format_args!("{} {sum}", monotonic_nanos()));
        drop((received.take(), memfd.take(), retired.take()));
    }
    Ok(())
}
