//! Running one task so that a panic becomes an [`Error::Panicked`] with message and location.
//!
//! `catch_unwind` gives the panic's payload (the message) but not where it happened; only the
//! panic hook sees the location. So a hook, installed once and chained to the previous one, notes
//! the location in a thread-local while a pool task runs, and stays quiet: the error reaches the
//! caller through the task's result, not through stderr. Outside pool tasks it defers to the
//! previous hook, so the rest of the program panics as usual.

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

/// Runs `f(arg)`, turning a panic into an error for this task alone.
pub(crate) fn call<A, R>(f: fn(A) -> R, arg: A) -> Result<R, Error> {
    IN_TASK.set(true);
    // AssertUnwindSafe: `arg` is moved into the call and dropped with it, and `f` is a plain
    // function, so no state of ours can be observed half-updated after a panic.
    let outcome = catch_unwind(AssertUnwindSafe(|| f(arg)));
    IN_TASK.set(false);
    outcome.map_err(|payload| {
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

/// Runs every item of a batch, each in its own [`call`]: one panicking item fails alone.
pub(crate) fn run_batch<A, R>(f: fn(A) -> R, items: Vec<A>) -> Vec<Result<R, Error>> {
    items.into_iter().map(|item| call(f, item)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_carries_its_message_and_location() {
        install_hook();
        let err = call(|x: u32| if x > 1 { panic!("too big: {x}") } else { x }, 7).unwrap_err();
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
        let out = run_batch(|x: u32| 10 / x, vec![5, 0, 2]);
        assert_eq!(out[0], Ok(2));
        assert!(
            matches!(&out[1], Err(Error::Panicked { message, .. }) if message.contains("divide by zero"))
        );
        assert_eq!(out[2], Ok(5));
    }
}
