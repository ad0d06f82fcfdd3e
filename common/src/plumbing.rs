//! The implementor's side of `common`: what a new kind of pool implements, and the machinery a
//! pool outside this crate (such as `mpi-demo`'s `MpiPool`) uses to run tasks by code address.
//!
//! A pool implements one method, [`Pool::dispatch`](crate::Pool::dispatch): take a batch of
//! items, run `f` on each somewhere, and send exactly one [`BatchResult`] to the [`Sink`].
//! Everything a user calls (`submit`, `map`, `map_unordered`, ...) is written once on top of it.
//! This is the same split as rayon's `iter::plumbing`: users never need these names.
//!
//! A pool whose workers are copies of this program (processes, MPI ranks) sends a task as
//! [`encode_batch`] bytes, runs them on the other side with [`run_batch`], and turns the answer
//! back into results with [`decode_results`]; how a function pointer can cross is explained in
//! `src/process_pool/call.rs`.

pub use crate::pool::{BatchResult, CancelToken, HasSlot, Results, Sink, Slot, Task};

use crate::process_pool::{call, wire};
use crate::Error;
use std::ops::Range;
use std::sync::OnceLock;

/// Encodes a batch for a worker that runs this same executable: the task as code distances,
/// then the items.
///
/// # Errors
/// [`Error::Serde`] for a batch of 4 GiB or more.
pub fn encode_batch<A: Task, R: Task>(f: fn(A) -> R, items: &[A]) -> Result<Vec<u8>, Error> {
    wire::frame(call::encode(f), items).map_err(Error::Serde)
}

/// Runs a batch made by [`encode_batch`] in this process and returns its encoded results.
///
/// The frame's addresses are checked against this executable's own code before anything is
/// called.
///
/// # Errors
/// A frame too short to hold a call, or addresses outside this executable's code.
pub fn run_batch(frame: &[u8]) -> Result<Vec<u8>, String> {
    static CODE: OnceLock<Vec<Range<usize>>> = OnceLock::new();
    let code = CODE.get_or_init(crate::sys::executable_code);
    let body = frame
        .get(4..)
        .ok_or("a frame too short to hold its length")?;
    let (call, input) = wire::unframe(body).ok_or("a frame too short to hold a call")?;
    call::run(&call, input, code)
}

/// Turns what [`run_batch`] returned for a batch of `len` items back into results.
pub fn decode_results<R: Task>(bytes: &[u8], len: usize) -> Results<R> {
    call::decode_results(bytes, len)
}
