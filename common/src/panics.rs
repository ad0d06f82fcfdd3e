//! Running one task so that a panic becomes an [`Error::Panicked`] with message and location.
//!
//! `catch_unwind` gives the panic's payload (the message) but not where it happened; only the
//! panic hook sees the location. So a hook, installed once and chained to the previous one, notes
//! the location in a thread-local while a pool task runs, and stays quiet: the error reaches the
//! caller through the task's result, not through stderr. Outside pool tasks it defers to the
//! previous hook, so the rest of the program panics as usual.

use crate::pool::Results;
use crate::Error;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the location-capturing hook (once per process).
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_TASK.get() {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                LOCATION.set(at);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs every item of a batch: one panicking item fails alone, the others run on.
///
/// The common case, no panic at all, runs under a single `catch_unwind` and builds a plain
/// `Vec<R>`; only after a panic does the batch switch to a `Result` per item.
pub(crate) fn run_batch<A, R>(f: fn(A) -> R, items: Vec<A>) -> Results<R> {
    let mut items = items.into_iter();
    let mut values = Vec::with_capacity(items.len());
    let Some(first_error) = call_each(f, &mut items, &mut values) else {
        return Results::Values(values);
    };
    let mut each: Vec<Result<R, Error>> = values.into_iter().map(Ok).collect();
    each.push(Err(first_error));
    while items.len() > 0 {
        let mut ran = Vec::with_capacity(items.len());
        let error = call_each(f, &mut items, &mut ran);
        each.extend(ran.into_iter().map(Ok));
        each.extend(error.map(Err));
    }
    Results::Each(each)
}

/// Calls `f` on items until they run out (`None`) or one panics (its error; the items after
/// it are still in `items`).
fn call_each<A, R>(
    f: fn(A) -> R,
    items: &mut std::vec::IntoIter<A>,
    values: &mut Vec<R>,
) -> Option<Error> {
    IN_TASK.set(true);
    // AssertUnwindSafe: after a panic, `values` holds exactly the finished items' results and
    // `items` the ones not yet started (the panicking item was moved into `f` and dropped by
    // the unwinding); both are consistent, and `f` is a plain function with no state of ours.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        for item in items.by_ref() {
            values.push(f(item));
        }
    }));
    IN_TASK.set(false);
    outcome.err().map(|payload| {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "<non-string payload>".to_string()
        };
        Error::Panicked {
            message,
            location: LOCATION.take(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_carries_its_message_and_location() {
        install_hook();
        let out = run_batch(
            |x: u32| if x > 1 { panic!("too big: {x}") } else { x },
            vec![7],
        );
        let err = out.into_vec().pop().unwrap().unwrap_err();
        let Error::Panicked { message, location } = err else {
            panic!("wrong error: {err:?}")
        };
        assert_eq!(message, "too big: 7");
        assert!(
            location.unwrap().contains("src/panics.rs:"),
            "the location names this file"
        );
    }

    #[test]
    fn one_bad_item_fails_alone() {
        install_hook();
        let out = run_batch(|x: u32| 10 / x, vec![5, 0, 2, 0, 1]).into_vec();
        assert_eq!(out[0], Ok(2));
        assert!(
            matches!(&out[1], Err(Error::Panicked { message, .. }) if message.contains("divide by zero"))
        );
        assert_eq!(out[2], Ok(5));
        assert!(out[3].is_err());
        assert_eq!(out[4], Ok(10));
        assert_eq!(
            run_batch(|x: u32| x + 1, vec![1, 2]),
            Results::Values(vec![2, 3])
        );
    }
}
