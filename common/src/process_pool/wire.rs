//! The messages between a pool and its worker processes.
//!
//! The pool starts a worker with the name of a one-shot ipc-channel server (a Unix socket in a
//! fresh directory only this user can enter) and a random token. The worker connects, and sends
//! `Hello` with the token and a sender for its task channel. From then on the pool sends batches
//! as raw byte frames ([`frame`]) and the worker answers each with `Done`, in order, on the
//! connection it opened. Frames are raw bytes so a batch is built once and sent from a borrowed
//! slice: a 64 MiB argument is not copied again for the trip, nor for a retry.

use ipc_channel::ipc::IpcBytesSender;
use serde::{Deserialize, Serialize};

/// Environment variable naming the pool's one-shot server; its presence makes `init` a worker.
pub(crate) const ENV_SERVER: &str = "COMMON_POOL_SERVER";
/// Environment variable with the token the worker must present.
pub(crate) const ENV_TOKEN: &str = "COMMON_POOL_TOKEN";

/// A function to call, as distances from an anchor (see `call`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct Call {
    pub trampoline: i64,
    pub func: i64,
}

/// Builds a batch's frame: the call, then the postcard encoding of its `Vec<A>` items.
pub(crate) fn frame<A: serde::Serialize>(call: Call, items: &[A]) -> postcard::Result<Vec<u8>> {
    let mut frame = Vec::with_capacity(16 + 8 * items.len());
    frame.extend_from_slice(&call.trampoline.to_le_bytes());
    frame.extend_from_slice(&call.func.to_le_bytes());
    postcard::to_extend(&items, frame)
}

/// Splits a frame into its call and its encoded items; `None` if it is too short to hold a call.
pub(crate) fn unframe(frame: &[u8]) -> Option<(Call, &[u8])> {
    let (trampoline, rest) = frame.split_first_chunk::<8>()?;
    let (func, input) = rest.split_first_chunk::<8>()?;
    Some((
        Call {
            trampoline: i64::from_le_bytes(*trampoline),
            func: i64::from_le_bytes(*func),
        },
        input,
    ))
}

/// Worker to pool.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    /// The handshake: who I am, and where to send my tasks.
    Hello {
        token: u64,
        pid: u32,
        tasks: IpcBytesSender,
    },
    /// A batch finished. `start` and `end` are monotonic clock readings (ns).
    Done {
        start: u64,
        end: u64,
        #[serde(with = "serde_bytes")]
        output: Vec<u8>,
    },
    /// The worker refused a batch (its addresses were not in its code) and will exit.
    Refused(String),
    /// Sent by the pool to itself to wake a handshake that nobody will complete.
    Unblock,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_splits_back_into_call_and_items() {
        let call = Call {
            trampoline: -5,
            func: 1 << 40,
        };
        let bytes = frame(call, &[7u32, 8]).unwrap();
        let (back, input) = unframe(&bytes).unwrap();
        assert_eq!((back.trampoline, back.func), (-5, 1 << 40));
        assert_eq!(postcard::from_bytes::<Vec<u32>>(input).unwrap(), vec![7, 8]);
        assert!(unframe(&bytes[..15]).is_none());
    }
}
