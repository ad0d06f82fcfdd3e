//! What a worker says to its pool, and how it is written on the line.
//!
//! A message is a little-endian `u32` length, then that many bytes: a kind, then its fields.

use super::owned_bytes::{lone_head, Received};
use crate::Error;
use std::io::{self, Write};

/// Set in a worker's environment; its presence is what makes [`crate::init`] serve a pool.
pub(crate) const ENV_WORKER: &str = "COMMON_POOL_WORKER";

/// Set in a worker's environment when the pool has an initializer: the code distance of a
/// plain `fn()`, or [`INIT_FRAME`]: the first frame on the line is the initializer's call
/// (`initializer_with`: a function and its argument, a batch of one item).
pub(crate) const ENV_INIT: &str = "COMMON_POOL_INIT";

/// Set in a worker's environment when the pool retries tasks whose worker died: the worker
/// then says [`FromWorker::Started`] as it begins each batch, so that a death is blamed only
/// on a batch that had begun (one still waiting at the worker is sent again without counting
/// an attempt). Without retries nothing is sent again, and the message would only cost.
pub(crate) const ENV_ANNOUNCE: &str = "COMMON_POOL_ANNOUNCE";

/// [`ENV_INIT`]'s value when the initializer comes as a frame on the line.
pub(crate) const INIT_FRAME: &str = "frame";

/// Outputs up to this size travel in one `write` with their header; larger ones in two, so a
/// big result is never copied just to glue 21 bytes in front of it.
pub(super) const GLUE_LIMIT: usize = 64 * 1024;

pub(super) const HELLO: u8 = 0;
pub(super) const DONE: u8 = 1;
pub(super) const REFUSED: u8 = 2;
pub(super) const CANNOT_SERVE: u8 = 3;
pub(super) const INIT_FAILED: u8 = 4;
pub(super) const STARTED: u8 = 5;

/// The bytes in front of a `Done` message's output: its length, its kind, `start` and `end`.
pub(crate) const DONE_HEAD: usize = 21;

/// The head of a `Done` message whose output is `output_len` bytes long.
///
/// # Errors
/// An output of 4 GiB or more.
pub(crate) fn done_head(start: u64, end: u64, output_len: usize) -> io::Result<[u8; DONE_HEAD]> {
    let len = u32::try_from(1 + 16 + output_len)
        .map_err(|_| io::Error::other("a result of 4 GiB or more"))?;
    let mut head = [0u8; DONE_HEAD];
    head[..4].copy_from_slice(&len.to_le_bytes());
    head[4] = DONE;
    head[5..13].copy_from_slice(&start.to_le_bytes());
    head[13..].copy_from_slice(&end.to_le_bytes());
    Ok(head)
}

/// Worker to pool.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FromWorker {
    /// The handshake: the worker's pid (checked against the kernel's word for it).
    Hello { pid: u32 },
    /// A batch finished. `start` and `end` are monotonic clock readings (ns).
    Done {
        start: u64,
        end: u64,
        output: Received,
    },
    /// The worker refused a batch (its addresses were not in its code) and will exit.
    Refused(String),
    /// The worker cannot serve (its `main` reached a pool before `init`, `init` ran off the main
    /// thread); it exits at once.
    CannotServe(String),
    /// The worker begins its next batch (only with [`ENV_ANNOUNCE`]).
    Started,
    /// The pool's initializer failed ([`Error::InitializerPanicked`] with the panic's message
    /// and place, or an argument that did not decode); the worker exits at once.
    InitFailed(Error),
}

impl FromWorker {
    /// Writes this message (the worker's side).
    pub(crate) fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let (kind, head, body): (u8, Vec<u8>, &[u8]) = match self {
            FromWorker::Hello { pid } => (HELLO, pid.to_le_bytes().to_vec(), &[]),
            FromWorker::Done { start, end, output } => {
                let mut head = start.to_le_bytes().to_vec();
                head.extend_from_slice(&end.to_le_bytes());
                match output {
                    Received::Records(records) => (DONE, head, records),
                    Received::ByteString(payload) => {
                        let lone = lone_head(payload.len())
                            .ok_or_else(|| io::Error::other("a result of 4 GiB or more"))?;
                        head.extend_from_slice(&lone);
                        (DONE, head, payload.as_bytes())
                    }
                }
            }
            FromWorker::Refused(why) => (REFUSED, Vec::new(), why.as_bytes()),
            FromWorker::CannotServe(why) => (CANNOT_SERVE, Vec::new(), why.as_bytes()),
            FromWorker::Started => (STARTED, Vec::new(), &[]),
            FromWorker::InitFailed(error) => {
                let mut encoded = Vec::new();
                crate::codec::encode_value(&mut encoded, error).map_err(io::Error::other)?;
                return write_message(out, INIT_FAILED, &encoded);
            }
        };
        let len = u32::try_from(1 + head.len() + body.len())
            .map_err(|_| io::Error::other("a result of 4 GiB or more"))?;
        let mut message = Vec::with_capacity(5 + head.len() + body.len().min(GLUE_LIMIT));
        message.extend_from_slice(&len.to_le_bytes());
        message.push(kind);
        message.extend_from_slice(&head);
        if body.len() <= GLUE_LIMIT {
            message.extend_from_slice(body);
            out.write_all(&message)
        } else {
            out.write_all(&message)?;
            out.write_all(body)
        }
    }

    /// Writes the head of a `Done` message whose output, `output_len` bytes, the caller writes
    /// next (a streamed result, see `streamed.rs`).
    pub(crate) fn write_done_head(
        out: &mut impl Write,
        start: u64,
        end: u64,
        output_len: usize,
    ) -> io::Result<()> {
        out.write_all(&done_head(start, end, output_len)?)
    }

    /// Decodes a message's body (after its length) other than `Done`, which [`Link::receive`](super::link::Link::receive)
    /// reads in place; `None` if it is malformed.
    pub(super) fn parse(body: &[u8]) -> Option<FromWorker> {
        let (&kind, rest) = body.split_first()?;
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match kind {
            HELLO => Some(FromWorker::Hello {
                pid: u32::from_le_bytes(rest.try_into().ok()?),
            }),
            REFUSED => Some(FromWorker::Refused(text(rest))),
            CANNOT_SERVE => Some(FromWorker::CannotServe(text(rest))),
            STARTED if rest.is_empty() => Some(FromWorker::Started),
            INIT_FAILED => crate::codec::decode::<Error>(rest)
                .ok()
                .map(FromWorker::InitFailed),
            _ => None,
        }
    }
}

/// Writes a short message of `kind` with `body`, in one write.
fn write_message(out: &mut impl Write, kind: u8, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(1 + body.len()).map_err(|_| io::Error::other("a message of 4 GiB"))?;
    let mut message = Vec::with_capacity(5 + body.len());
    message.extend_from_slice(&len.to_le_bytes());
    message.push(kind);
    message.extend_from_slice(body);
    out.write_all(&message)
}
