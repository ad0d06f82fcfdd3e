//! How a function pointer reaches another process.
//!
//! A worker process runs the same executable file as its pool (it is started from
//! `/proc/self/exe`). Address-space layout randomization loads that file at a different base
//! address in each process, but it moves the whole image as one block, so the *distance* from
//! any function to any other is the same in both processes. The pool therefore sends, for a
//! task `f: fn(A) -> R`, two distances from a fixed anchor (a `static` of this crate):
//!
//! 1. of `f` itself, and
//! 2. of `trampoline::<A, R>`, a function with a fixed, non-generic signature
//!    (`fn(usize, &[u8]) -> Vec<u8>`) that knows `A` and `R`: it decodes the arguments, calls
//!    `f` on each, and encodes the results.
//!
//! The worker adds each distance to its own anchor's address, checks that both land inside its
//! executable's code, and calls the trampoline. This is also why a task must be a plain function:
//! a closure's captured values live in the pool's memory, which the worker cannot see.

use super::wire::Call;
use crate::pool::{Results, Task};
use crate::{panics, Error};
use std::ops::Range;

/// The signature every trampoline has, whatever `A` and `R` are.
pub(crate) type Trampoline = fn(usize, &[u8]) -> Vec<u8>;

/// The fixed point that distances are measured from.
///
/// It must be a `static`, not a function: Rust does not promise that a function has one address.
/// A small function may be copied into every crate that calls it (and was, here: the pool's
/// generic `encode` and the worker's `run` saw two different copies, 140 KiB apart, and the
/// worker jumped into the middle of something else). A static is one object with one address.
static ANCHOR: u8 = 0;

fn anchor() -> usize {
    std::ptr::addr_of!(ANCHOR) as usize
}

fn distance(address: usize) -> i64 {
    address.wrapping_sub(anchor()) as i64
}

fn address(distance: i64) -> usize {
    anchor().wrapping_add(distance as usize)
}

/// The pool's side: describes `f` so that a worker process can find it.
pub(crate) fn encode<A: Task, R: Task>(f: fn(A) -> R) -> Call {
    Call {
        trampoline: distance(trampoline::<A, R> as Trampoline as usize),
        func: distance(f as usize),
    }
}

/// The worker's side: runs `call` on the encoded `input`, returning the encoded results.
///
/// # Errors
/// If an address does not land inside `code`, the executable's code: the message did not come
/// from a pool running this same executable, and nothing is called.
pub(crate) fn run(call: &Call, input: &[u8], code: &[Range<usize>]) -> Result<Vec<u8>, String> {
    let (trampoline, func) = (address(call.trampoline), address(call.func));
    let inside = |a: usize| code.iter().any(|r| r.contains(&a));
    if !inside(trampoline) || !inside(func) {
        return Err(format!(
            "refusing to call {trampoline:#x}/{func:#x}: not in this executable's code"
        ));
    }
    // SAFETY: (1) `call.trampoline` was computed by `encode` from a `Trampoline` in the same
    // executable image (the worker was started from the pool's `/proc/self/exe`, see
    // `crate::child`), and distances between functions of one image are the same in every
    // process that maps it, so `trampoline` is the address of a function of exactly this type.
    // (2) The message came over a channel that only our parent holds (see `super::worker`).
    // (3) As a last line of defence the address was checked to lie in our own code above.
    let trampoline: Trampoline =
        unsafe { std::mem::transmute::<*const (), Trampoline>(trampoline as *const ()) };
    Ok(trampoline(func, input))
}

/// Decodes a batch of `A`, calls the `fn(A) -> R` at `func` on each item, encodes the results.
fn trampoline<A: Task, R: Task>(func: usize, input: &[u8]) -> Vec<u8> {
    // SAFETY: `func` was encoded by `encode::<A, R>` from a value of type `fn(A) -> R`, and this
    // trampoline is the `::<A, R>` instance that `encode` paired with it (reasons (1)-(3) in
    // `run` apply to both addresses).
    let f = unsafe { std::mem::transmute::<*const (), fn(A) -> R>(func as *const ()) };
    let outcome: Result<Results<R>, Error> = postcard::from_bytes::<Vec<A>>(input)
        .map(|items| panics::run_batch(f, items))
        .map_err(|e| Error::Serde(format!("decoding arguments: {e}")));
    postcard::to_stdvec(&outcome).unwrap_or_else(|e| {
        let failed: Result<Vec<Result<R, Error>>, Error> =
            Err(Error::Serde(format!("encoding results: {e}")));
        // Encoding a plain error enum cannot fail, so this second attempt always succeeds.
        postcard::to_stdvec(&failed).unwrap_or_default()
    })
}

/// Decodes what a trampoline returned, on the pool's side.
pub(crate) fn decode_results<R: Task>(output: &[u8], len: usize) -> Results<R> {
    match postcard::from_bytes::<Result<Results<R>, Error>>(output) {
        Ok(Ok(results)) if results.len() == len => results,
        Ok(Ok(results)) => Results::failed(
            len,
            &Error::Serde(format!("expected {len} results, got {}", results.len())),
        ),
        Ok(Err(e)) => Results::failed(len, &e),
        Err(e) => Results::failed(len, &Error::Serde(format!("decoding results: {e}"))),
    }
}

/// The address ranges of this executable's code (see [`crate::sys::executable_code`]).
pub(crate) fn executable_code() -> std::io::Result<Vec<Range<usize>>> {
    Ok(crate::sys::executable_code())
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
    // image, and the address was checked to lie in our code (reasons (1)-(3) in `run`).
    let f = unsafe { std::mem::transmute::<*const (), fn()>(at as *const ()) };
    f();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: u64) -> u64 {
        x * 2
    }

    #[test]
    fn a_call_round_trips_within_one_process() {
        let code = executable_code().unwrap();
        assert!(!code.is_empty(), "this executable has code mapped");
        let input = postcard::to_stdvec(&vec![1u64, 2, 3]).unwrap();
        let output = run(&encode(double), &input, &code).unwrap();
        assert_eq!(
            decode_results::<u64>(&output, 3),
            Results::Values(vec![2, 4, 6])
        );
    }

    #[test]
    fn an_address_outside_the_code_is_refused() {
        let code = executable_code().unwrap();
        let stray = Call {
            trampoline: distance(0x10),
            func: distance(double as fn(u64) -> u64 as usize),
        };
        assert!(run(&stray, &[], &code)
            .unwrap_err()
            .starts_with("refusing to call"));
    }
}
