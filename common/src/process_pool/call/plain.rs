//! Functions without an argument, by address: a plain `fn()`, a pool's initializer, run once
//! in every worker before its first task, and a `fn() -> R`, a `broadcast`'s. The same
//! distances from the anchor as a task's (see the parent module); the initializer needs no
//! trampoline (there is nothing to decode), a broadcast's has one that encodes its result.

use super::{address, distance, push_item, Input, Output, Trampoline};
use crate::codec::{self, Records};
use crate::pool::Task;
use crate::{panics, process_pool::wire::Call};
use std::ops::Range;

/// The pool's side for a `broadcast`'s `fn() -> R`: a call whose trampoline runs it once for
/// each item of its batch (one `()`), as a task's does for each argument.
pub(crate) fn encode_nullary<R: Task>(f: fn() -> R) -> Call {
    Call {
        build: super::build_id::fingerprint(),
        trampoline: distance(nullary::<R> as Trampoline as usize),
        func: distance(f as usize),
    }
}

/// Calls the `fn() -> R` at `func` once for each record of its batch, and encodes each result
/// (or the error that replaced it, such as its panic) as a task's is.
fn nullary<R: Task>(func: usize, input: Input<'_>, out: &mut Vec<u8>) -> Output {
    // SAFETY: `func` was encoded by `encode_nullary::<R>` from a value of type `fn() -> R`,
    // and this trampoline is the `::<R>` instance that `encode_nullary` paired with it
    // (reasons (1)-(4) in `run_input` apply to both addresses).
    let f = unsafe { std::mem::transmute::<*const (), fn() -> R>(func as *const ()) };
    let runs = match input {
        Input::Borrowed(records) | Input::Received(records) => Records::new(records).count(),
        Input::ByteString(_) => 1,
    };
    for _ in 0..runs {
        match panics::catch(f) {
            Ok(value) => {
                push_item(out, &value, "a result");
                panics::catch_drop(|| drop(value));
            }
            Err(error) => codec::push_failure(out, &error),
        }
    }
    Output::Encoded
}

/// The pool's side for a plain `fn()` (a worker's initializer): its distance from the anchor.
pub(crate) fn encode_plain(f: fn()) -> i64 {
    distance(f as usize)
}

/// The worker's side: calls the `fn()` at `distance`, once it is checked to lie in `code`.
///
/// # Errors
/// If the address is not inside `code`; nothing is called then.
pub(crate) fn run_plain(distance: i64, code: &[Range<usize>]) -> Result<(), String> {
    let at = address(distance);
    if !code.iter().any(|r| r.contains(&at)) {
        return Err(format!(
            "refusing to call {at:#x}: not in this executable's code"
        ));
    }
    // SAFETY: `distance` was computed by `encode_plain` from a `fn()` of the same executable
    // image: it reaches us in the environment our pool gave us when it started us from its own
    // `/proc/self/exe`, so no other build can have made it (no fingerprint is needed, unlike a
    // frame); and the address was checked to lie in our code (reasons (1) and (4) in `run`).
    let f = unsafe { std::mem::transmute::<*const (), fn()>(at as *const ()) };
    f();
    Ok(())
}
