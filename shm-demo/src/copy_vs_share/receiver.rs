//! Copy vs share, the children's side: the ipc-channel handshake, and the commands a child
//! serves (receive bytes, receive a memfd, map a segment, read the reused segment).
//!
//! Each report is `<CLOCK_MONOTONIC ns when the slice was mapped> <sample>`; whatever a command
//! received is freed only after that stamp, so unmapping is never part of the measured time.

use super::{sample, slice, Hello};
use crate::crew::{child, Crew};
use crate::segment::Opened;
use anyhow::{anyhow, bail, Context, Result};
use common::demo::sys::monotonic_nanos;
use ipc_channel::ipc::{
    self, IpcBytesReceiver, IpcBytesSender, IpcOneShotServer, IpcReceiver, IpcSender,
    IpcSharedMemory,
};

/// Spawned child `i` connects to a one-shot server whose name it gets on stdin; `accept` has no
/// timeout, so it runs on a helper thread while this one waits with a deadline.
pub(super) fn connect(
    crew: &mut Crew,
    i: usize,
    pid: u32,
) -> Result<(IpcBytesSender, IpcSender<IpcSharedMemory>)> {
    let (server, name) = IpcOneShotServer::<Hello>::new().context("creating a one-shot server")?;
    // The server's socket lives in a fresh directory in TMPDIR, which ipc-channel removes once
    // `accept` returns; registered here too, so that Ctrl-C before then removes it as well.
    // TODO(merge): common's guarded accept (the one process layer) does this for every crate.
    let _socket_dir = std::path::Path::new(&name)
        .parent()
        .map(common::demo::cleanup::PathGuard::new);
    crew.send(i, &name)?;
    let (tx, rx) = crossbeam_channel::bounded(1);
    let acceptor = std::thread::spawn(move || {
        let _ = tx.send(server.accept());
    });
    let outcome = match rx.recv_timeout(crate::crew::REPORT_LIMIT) {
        Ok(Ok((_, (hello_pid, bytes, shm)))) if hello_pid == pid => Ok((bytes, shm)),
        Ok(Ok(_)) => Err(anyhow!("child {i}: a stranger connected to our server")),
        Ok(Err(e)) => Err(anyhow!("child {i}: handshake failed: {e}")),
        Err(_) => {
            // Wake the acceptor with a connection of our own, so the thread can end.
            let (bytes, _) = ipc::bytes_channel().context("creating a wake-up channel")?;
            let (shm, _) = ipc::channel().context("creating a wake-up channel")?;
            if let Ok(waker) = IpcSender::<Hello>::connect(name) {
                let _ = waker.send((0, bytes, shm));
            }
            Err(anyhow!(
                "child {i} did not connect within {}",
                common::demo::narrate::duration(crate::crew::REPORT_LIMIT)
            ))
        }
    };
    let _ = acceptor.join();
    outcome
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
