//! ipc-channel's one-shot server with a deadline on `accept` and its socket directory guarded.

use super::within;
use crate::demo::cleanup::PathGuard;
use std::io;
use std::time::Duration;

/// ipc-channel's one-shot server, guarded: its socket directory is removed on Ctrl-C and on
/// drop, and [`OneShot::accept_within`] has a deadline.
///
/// `IpcOneShotServer::new` makes a private directory in `$TMPDIR` with the socket in it, and
/// removes it only when `accept` returns; its `accept` has no timeout, so a child that dies
/// before it connects would hang the parent and, on Ctrl-C, leave the directory behind.
pub struct OneShot<T> {
    server: ipc_channel::ipc::IpcOneShotServer<T>,
    name: String,
    /// The socket's directory; declared last so it is removed after the server is dropped.
    _dir: Option<PathGuard>,
}

impl<T> std::fmt::Debug for OneShot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneShot")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<T> OneShot<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
{
    /// A new server and the name a child passes to `IpcSender::connect`.
    ///
    /// # Errors
    /// The server could not be created. `$TMPDIR` is checked first (it exists, and this
    /// process may write there): a [`MachineError`](crate::demo::machine::MachineError) names
    /// the folder and what to do. ipc-channel itself would assert, not return an error, when
    /// it cannot make its directory there (the `tempfile` error it gets has no errno).
    pub fn new() -> io::Result<(OneShot<T>, String)> {
        crate::demo::machine::writable_tmpdir().map_err(io::Error::other)?;
        let (server, name) = ipc_channel::ipc::IpcOneShotServer::new()?;
        // The name is the socket's path; its parent is the directory ipc-channel made for it.
        let dir = std::path::Path::new(&name).parent().map(PathGuard::new);
        let server = OneShot {
            server,
            name: name.clone(),
            _dir: dir,
        };
        Ok((server, name))
    }

    /// Waits at most `limit` for a child to connect, and returns the first message it sent.
    ///
    /// `accept` runs on a helper thread; on timeout we wake it with a connection of our own
    /// that sends nothing, so it fails, ends, and leaves no thread behind.
    ///
    /// # Errors
    /// `TimedOut` if nobody connected within `limit`, or the accept error.
    pub fn accept_within(self, limit: Duration) -> io::Result<T> {
        let OneShot { server, name, _dir } = self;
        let (tx, rx) = crossbeam_channel::bounded(1);
        let acceptor = std::thread::Builder::new()
            .name("accept".into())
            .spawn(move || {
                let _ = tx.send(server.accept().map(|(_, first)| first));
            })?;
        let outcome = match rx.recv_timeout(limit) {
            Ok(Ok(first)) => Ok(first),
            Ok(Err(e)) => Err(io::Error::other(format!("accepting a connection: {e}"))),
            Err(_) => {
                // Connect and hang up at once: the acceptor's first receive then fails.
                drop(ipc_channel::ipc::IpcSender::<T>::connect(name));
                let words = format!("no connection within {}", within(limit));
                Err(io::Error::new(io::ErrorKind::TimedOut, words))
            }
        };
        // Bounded: it has either answered or been woken just above.
        let _ = acceptor.join();
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_never_connects_is_an_error_in_time_and_leaves_no_directory() {
        let (server, name) = OneShot::<u32>::new().expect("a server");
        let dir = std::path::Path::new(&name)
            .parent()
            .expect("the socket lives in a directory")
            .to_path_buf();
        assert!(dir.exists());
        let e = server
            .accept_within(Duration::from_millis(50))
            .expect_err("nobody connects");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }

    #[test]
    fn a_connected_child_is_accepted_and_its_first_message_returned() {
        let (server, name) = OneShot::<u32>::new().expect("a server");
        let sender = std::thread::spawn(move || {
            let tx = ipc_channel::ipc::IpcSender::<u32>::connect(name).expect("connects");
            tx.send(42).expect("sends");
        });
        assert_eq!(
            server
                .accept_within(Duration::from_secs(10))
                .expect("accepted"),
            42
        );
        sender.join().expect("the sender ends");
    }
}
