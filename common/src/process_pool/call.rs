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
//!    (`fn(usize, Input, &mut Vec<u8>) -> Output`) that knows `A` and `R`: it decodes the
//!    arguments, calls `f` on each, and appends the encoded results to the buffer it is given,
//!    one item at a time (see [`crate::codec`]), so that
//!    an item that fails to decode, panics, or fails to encode fails alone.
//!
//! Distances mean something only in the build that computed them, so a call also carries its
//! build's fingerprint (see `build_id.rs`). The worker first compares it with its own, then
//! adds each distance to its own anchor's address, checks that both land inside its
//! executable's code, and calls the trampoline. This is also why a task must be a plain function:
//! a closure's captured values live in the pool's memory, which the worker cannot see.

use super::kept::Buf;
use super::owned_bytes::Received;
use super::streamed::Streamed;
use super::wire::Call;
use crate::codec::{self, Record, Records};
use crate::pool::{Results, Task};
use crate::{panics, Error};
use serde::{de::DeserializeOwned, Serialize};
use std::ops::Range;

/// The signature every trampoline has, whatever `A` and `R` are.
pub(crate) type Trampoline = fn(usize, Input<'_>, &mut Vec<u8>) -> Output;

/// Where a trampoline left a batch's encoded results.
pub(crate) enum Output {
    /// Appended to the buffer it was given (a worker's is kept from task to task, see
    /// `answer.rs`), ready to send.
    Encoded,
    /// One large result, encoded onto the line as it is sent (see `streamed.rs`); nothing was
    /// appended.
    Streamed(Streamed),
}

/// A batch's encoded items, as a trampoline receives them.
pub(crate) enum Input<'a> {
    /// Records, for a caller that wants the results as bytes (see `crate::plumbing`).
    Borrowed(&'a [u8]),
    /// Records a worker received: a batch of one may stream a large result (`streamed.rs`).
    Received(&'a [u8]),
    /// A worker's batch of one large byte string, received apart: it becomes the argument
    /// itself (see `owned_bytes.rs`).
    ByteString(Buf),
}

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
        build: build_id::fingerprint(),
        trampoline: distance(trampoline::<A, R> as Trampoline as usize),
        func: distance(f as usize),
    }
}

/// The worker's side: runs `call` on the encoded `input`, returning the encoded results.
///
/// # Errors
/// If the call comes from another build (its fingerprint is not ours), or an address does not
/// land inside `code`, the executable's code: the message did not come from a pool running
/// this same executable, and nothing is called.
pub(crate) fn run(call: &Call, input: &[u8], code: &[Range<usize>]) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    if let Output::Streamed(streamed) = run_input(call, Input::Borrowed(input), code, &mut bytes)? {
        if let Err(e) = streamed.write_to(&mut bytes) {
            bytes.clear();
            codec::push_failure(&mut bytes, &Error::Serde(format!("a result: {e}")));
        }
    }
    Ok(bytes)
}

/// As [`run`], on what a worker received, appending the results to `out`; a lone large result
/// comes back unencoded instead, to be streamed (see `streamed.rs`).
///
/// # Errors
/// As [`run`].
pub(crate) fn run_input(
    call: &Call,
    input: Input<'_>,
    code: &[Range<usize>],
    out: &mut Vec<u8>,
) -> Result<Output, String> {
    // First, before any address is computed: distances from another build name other code.
    let ours = build_id::fingerprint();
    if call.build != ours {
        let (theirs, ours) = (
            build_id::short_hex(call.build, ours),
            build_id::short_hex(ours, call.build),
        );
        return Err(format!(
            "a frame from another build (built {theirs}, this is {ours}): nothing was called"
        ));
    }
    let (trampoline, func) = (address(call.trampoline), address(call.func));
    let inside = |a: usize| code.iter().any(|r| r.contains(&a));
    if !inside(trampoline) || !inside(func) {
        return Err(format!(
            "refusing to call {trampoline:#x}/{func:#x}: not in this executable's code"
        ));
    }
    // SAFETY: (1) `call.trampoline` was computed by `encode` from a `Trampoline` in the same
    // executable image (the worker was started from the pool's `/proc/self/exe`, see
    // `crate::child`; `plumbing::run_batch`'s caller promises the same), and distances between
    // functions of one image are the same in every process that maps it, so `trampoline` is the
    // address of a function of exactly this type. (2) The message came over a channel that
    // only our parent holds (see `super::worker`). (3) The build's fingerprint was checked
    // above: a frame of another build, whose distances would name other code, is refused.
    // (4) As a last line of defence the address was checked to lie in our own code above.
    let trampoline: Trampoline =
        unsafe { std::mem::transmute::<*const (), Trampoline>(trampoline as *const ()) };
    Ok(trampoline(func, input, out))
}

/// Decodes each `A` of a batch, calls the `fn(A) -> R` at `func` on it, encodes its result.
///
/// One record in, one record out, in order: a result, or the error that replaced it.
fn trampoline<A: Task, R: Task>(func: usize, input: Input<'_>, out: &mut Vec<u8>) -> Output {
    // SAFETY: `func` was encoded by `encode::<A, R>` from a value of type `fn(A) -> R`, and this
    // trampoline is the `::<A, R>` instance that `encode` paired with it (reasons (1)-(4) in
    // `run` apply to both addresses).
    let f = unsafe { std::mem::transmute::<*const (), fn(A) -> R>(func as *const ()) };
    // A batch of one item may stream its result, if large (see `streamed.rs`).
    let (input, stream) = match input {
        Input::Borrowed(input) => (input, false),
        Input::Received(input) => (input, true),
        Input::ByteString(payload) => {
            let argument = decode_byte_string::<A>(payload, "an argument");
            return one_result(argument.and_then(|a| panics::catch(|| f(a))), out);
        }
    };
    let records = Records::new(input);
    if stream {
        let mut probe = records.clone();
        if let (Some(record), None) = (probe.next(), probe.next()) {
            return one_result(run_record(f, record), out);
        }
    }
    // Enough for small results without growing; a large result grows the buffer once.
    out.reserve(input.len().min(64 * 1024));
    for record in records {
        match run_record(f, record) {
            Ok(value) => {
                push_item(out, &value, "a result");
                // The result's `Drop` is user code too: a panic there fails nothing (the answer is
                // encoded), and must not end the worker with its batch-mates.
                panics::catch_drop(|| drop(value));
            }
            Err(error) => codec::push_failure(out, &error),
        }
    }
    Output::Encoded
}

/// Decodes one record's argument and calls `f` on it.
fn run_record<A: Task, R: Task>(
    f: fn(A) -> R,
    record: Result<Record<'_>, String>,
) -> Result<R, Error> {
    match record {
        Ok(Record::Value(bytes)) => {
            decode_item::<A>(bytes, "an argument").and_then(|a| panics::catch(|| f(a)))
        }
        // The pool could not encode this argument; its error stands for the result.
        Ok(Record::Failure(bytes)) => Err(decode_failure(bytes)),
        Err(malformed) => Err(Error::Serde(format!("decoding arguments: {malformed}"))),
    }
}

/// The output of a batch of one item, in a worker: appended to `out`, or streamed if the
/// result is large. A small result (nearly all) is encoded once, straight into `out`; one that
/// reaches the size worth streaming stops there (see `answer.rs`).
fn one_result<R: Task>(result: Result<R, Error>, out: &mut Vec<u8>) -> Output {
    let value = match result {
        Ok(value) => value,
        Err(error) => {
            codec::push_failure(out, &error);
            return Output::Encoded;
        }
    };
    if super::answer::push_small(out, &value) {
        panics::catch_drop(|| drop(value));
        return Output::Encoded;
    }
    match Streamed::try_new(value) {
        Ok(streamed) => Output::Streamed(streamed),
        Err(value) => {
            push_item(out, &value, "a result");
            panics::catch_drop(|| drop(value));
            Output::Encoded
        }
    }
}

/// Appends `value` as one record; if its `Serialize` panics or fails, an error record instead.
/// `what` names it in the error ("an argument", "a result").
pub(crate) fn push_item<T: Serialize>(out: &mut Vec<u8>, value: &T, what: &str) {
    let error = match panics::catch(|| codec::push(out, value)) {
        Ok(Ok(())) => return,
        Ok(Err(refused)) => Error::Serde(format!("encoding {what}: {refused}")),
        Err(panicked) => panicked,
    };
    codec::push_failure(out, &error);
}

/// Decodes one item; its `Deserialize` panicking or failing is that item's error.
fn decode_item<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Error> {
    panics::catch(|| codec::decode::<T>(bytes))?
        .map_err(|refused| Error::Serde(format!("decoding {what}: {refused}")))
}

/// The error in a failure record.
fn decode_failure(bytes: &[u8]) -> Error {
    codec::decode::<Error>(bytes)
        .unwrap_or_else(|e| Error::Serde(format!("an unreadable error record: {e}")))
}

/// Decodes what a worker sent back for a batch of `len` items (see [`decode_results`]). A lone
/// large byte string arrived in a buffer of its own, which becomes the value itself.
pub(crate) fn decode_received<R: Task>(output: Received, len: usize) -> Results<R> {
    match output {
        Received::Records(records) => decode_results(&records, len),
        Received::ByteString(payload) if len == 1 => {
            match decode_byte_string::<R>(payload, "a result") {
                Ok(value) => Results::Values(vec![value]),
                Err(error) => Results::Each(vec![Err(error)]),
            }
        }
        Received::ByteString(_) => {
            let error = Error::Serde(format!("expected {len} results, got 1"));
            Results::failed(len, &error)
        }
    }
}

/// Decodes a `T` from a lone byte string received apart (see `owned_bytes.rs`); its
/// `Deserialize` panicking or failing is the item's error. `what` names it in the error.
fn decode_byte_string<T: DeserializeOwned>(payload: Buf, what: &str) -> Result<T, Error> {
    panics::catch(|| super::owned_bytes::decode::<T>(payload))?
        .map_err(|refused| Error::Serde(format!("decoding {what}: {refused}")))
}

/// Decodes what a trampoline returned, on the pool's side: one result per item of the batch.
///
/// An all-ok batch (the common case) becomes `Results::Values`, built in one pass; from the
/// first failed item on, the batch switches to a `Result` per item.
pub(crate) fn decode_results<R: Task>(output: &[u8], len: usize) -> Results<R> {
    let mut values: Vec<R> = Vec::with_capacity(len);
    let mut each: Vec<Result<R, Error>> = Vec::new(); // stays empty while every item is ok
    let mut count = 0;
    for record in Records::new(output) {
        count += 1;
        let result = match record {
            Ok(Record::Value(bytes)) => decode_item::<R>(bytes, "a result"),
            Ok(Record::Failure(bytes)) => Err(decode_failure(bytes)),
            Err(malformed) => {
                let error = Error::Serde(format!("decoding results: {malformed}"));
                return Results::failed(len, &error);
            }
        };
        match result {
            Ok(value) if each.is_empty() => values.push(value),
            result => {
                if each.is_empty() {
                    each.reserve_exact(len);
                    each.extend(values.drain(..).map(Ok));
                }
                each.push(result);
            }
        }
    }
    if count != len {
        let error = Error::Serde(format!("expected {len} results, got {count}"));
        Results::failed(len, &error)
    } else if each.is_empty() {
        Results::Values(values)
    } else {
        Results::Each(each)
    }
}

mod build_id;
mod plain;
pub(crate) use build_id::fingerprint as build_fingerprint;
pub(crate) use plain::{encode_nullary, encode_plain, run_plain};

#[cfg(test)]
mod tests;
