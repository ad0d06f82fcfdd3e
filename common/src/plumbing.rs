//! What an implementor of a new kind of pool needs, kept apart from the user's API (as rayon
//! keeps `iter::plumbing` apart from its iterators).
//!
//! A pool implements one method, [`Pool::dispatch`](crate::Pool::dispatch): take a batch of
//! items, get it run somewhere, and answer exactly once on its [`Sink`] with a [`BatchResult`].
//! A pool whose workers are *other processes running this same executable* (MPI ranks, say)
//! can move a task exactly as [`ProcessPool`](crate::ProcessPool) does, with three functions:
//!
//! 1. the pool calls [`encode_batch`]: the task `fn(A) -> R` becomes two code distances from a
//!    static anchor, followed by the items, one MessagePack record each (one byte frame);
//! 2. it sends the frame by any transport; the worker calls [`run_batch`] on it, which checks
//!    that both addresses land in its own executable's code, runs every item (a panic fails
//!    its item alone) and returns the encoded results;
//! 3. the pool sends those bytes back and calls [`decode_results`].
//!
//! ```
//! use common::plumbing::{decode_results, encode_batch, run_batch};
//! use common::plumbing::Results;
//!
//! fn double(x: u64) -> u64 {
//!     x * 2
//! }
//!
//! let frame = encode_batch(double, &[1u64, 2, 3]).unwrap();
//! let output = run_batch(&frame).unwrap(); // on a worker: another process, same executable
//! assert_eq!(decode_results::<u64>(&output, 3), Results::Values(vec![2, 4, 6]));
//! ```

pub use crate::pool::{BatchResult, CancelToken, HasSlot, Results, Sink, Slot, Task};

use crate::process_pool::{call, wire};
use crate::Error;
use std::ops::Range;
use std::sync::OnceLock;

/// Encodes one batch, `f` applied to `items`, as a self-contained byte frame.
///
/// # Errors
/// [`Error::Serde`] if an item cannot be encoded, or the batch is 4 GiB or more.
pub fn encode_batch<A: Task, R: Task>(f: fn(A) -> R, items: &[A]) -> Result<Vec<u8>, Error> {
    wire::frame(call::encode(f), items).map_err(|e| Error::Serde(format!("encoding a batch: {e}")))
}

/// The worker's side: runs the batch in `frame` and returns its encoded results (for
/// [`decode_results`]). A task that panics yields an error for its item; the others run on.
///
/// # Errors
/// A malformed frame, or a call whose addresses are not in this executable's code (the frame
/// did not come from a pool running this same executable): then nothing is called.
pub fn run_batch(frame: &[u8]) -> Result<Vec<u8>, String> {
    // Once per process is enough: the executable's code does not move.
    static CODE: OnceLock<Vec<Range<usize>>> = OnceLock::new();
    let code = CODE.get_or_init(crate::sys::executable_code);
    crate::panics::install_hook();
    let bodies = wire::records(frame).ok_or("a malformed batch frame")?;
    let [body] = bodies.as_slice() else {
        return Err(format!(
            "expected one batch in a frame, got {}",
            bodies.len()
        ));
    };
    let (call, input) = wire::unframe(body).ok_or("a frame too short to hold a call")?;
    call::run(&call, input, code)
}

/// Decodes the results of a batch of `len` items; anything malformed becomes an error per item.
pub fn decode_results<R: Task>(bytes: &[u8], len: usize) -> Results<R> {
    call::decode_results(bytes, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shout(s: String) -> String {
        if s.is_empty() {
            panic!("nothing to shout");
        }
        s.to_uppercase()
    }

    #[test]
    fn a_panicking_item_fails_alone() {
        let items = vec!["a".to_string(), String::new(), "c".to_string()];
        let output = run_batch(&encode_batch(shout, &items).unwrap()).unwrap();
        let results = decode_results::<String>(&output, 3).into_vec();
        assert_eq!(results[0], Ok("A".to_string()));
        assert!(
            matches!(&results[1], Err(Error::Panicked { message, .. }) if message == "nothing to shout")
        );
        assert_eq!(results[2], Ok("C".to_string()));
    }

    #[test]
    fn a_malformed_frame_is_refused() {
        assert!(run_batch(&[1, 2]).is_err());
        let mut frame = encode_batch(shout, &["x".to_string()]).unwrap();
        frame.pop();
        assert_eq!(run_batch(&frame).unwrap_err(), "a malformed batch frame");
    }
}
