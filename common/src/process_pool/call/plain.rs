//! A plain `fn()` by address: a pool's initializer, run once in every worker before its first
//! task. The same distances from the anchor as a task's (see the parent module), without a
//! trampoline: there are no arguments or results to decode.

use super::{address, distance};
use std::ops::Range;

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
