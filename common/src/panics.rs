//! Running one task so that a panic becomes an [`Error::Panicked`] with message and location.
//!
//! `catch_unwind` gives the panic's payload (the message) but not where it happened; only the
//! panic hook sees the location. So a hook, chained to the previous one, notes the location in a
//! thread-local while a pool task runs, and stays quiet: the error reaches the caller through
//! the task's result, not through stderr. Outside pool tasks it defers to the previous hook, so
//! the rest of the program panics as usual, through the program's own hook if it has one.
//!
//! # When the program installs a hook of its own
//!
//! There is one hook per process, and `std::panic::set_hook` replaces it. A hook installed
//! before this module's (which the first pool of the process installs) is kept: ours chains
//! over it. A hook installed later replaces ours, and this module notices at the next panic it
//! catches: the hook did not report a location. It then chains its hook over the program's, so
//! every later panic has its location again. What cannot be recovered is that first panic
//! after a hook that does not call the previous one (the usual `take_hook` wrapper does, and
//! loses nothing): its error has `location: None`, and the program's hook sees it. This
//! applies to a thread pool, and to a process worker whose task installed a hook; a worker
//! process never runs the program's `main`, so a hook that `main` installs never reaches it.
//!
//! Why not check before every batch, or when a pool is built: std has no way to look at the
//! hook without removing it (`take_hook`), and while it is removed a panic on another thread
//! would bypass the program's hook. So the hook is only taken when something is known to be
//! wrong: once per replacement (and after a `resume_unwind`, which calls no hook).

use crate::pool::Results;
use crate::Error;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;

thread_local! {
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
    /// Set by our hook for a panic inside a task; still `None` after one means the hook is gone.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The address of the hook this module installed last, to recognise it when it comes back from
/// `take_hook`. The lock also keeps two threads from reinstalling at once (each would take the
/// other's half-finished state for the program's hook).
static INSTALLED: Mutex<usize> = Mutex::new(0);
/// Whether `install_hook` has run at least once in this process.
static EVER_INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the location-capturing hook, once per process (see [`reinstall`] for later).
pub(crate) fn install_hook() {
    if !EVER_INSTALLED.load(Relaxed) {
        reinstall(true);
    }
}

/// Chains the location-capturing hook over the current hook, unless the current hook is
/// already ours; with `first`, only if no thread has installed it yet.
fn reinstall(first: bool) {
    if std::thread::panicking() {
        return; // `take_hook` would panic; the next caught panic tries again
    }
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if first && EVER_INSTALLED.load(Relaxed) {
        return; // another thread did it while we waited for the lock
    }
    let mut hook = std::panic::take_hook();
    if address(&*hook) != *installed {
        // Not ours: the program's (or the default) hook. Keep it for panics outside tasks.
        let previous = std::mem::replace(&mut hook, Box::new(|_| {}));
        // Assigned to `hook`, so the closure takes the hook's argument type without naming it.
        hook = Box::new(move |info| {
            if IN_TASK.get() {
                let at = info.location().map_or_else(
                    || "<unknown>".to_string(),
                    |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
                );
                LOCATION.set(Some(at));
            } else {
                previous(info);
            }
        });
        *installed = address(&*hook);
    }
    std::panic::set_hook(hook);
    EVER_INSTALLED.store(true, Relaxed);
}

/// Where a boxed hook lives: our closure captures a box, so it is not zero-sized and its
/// address is its own (a zero-sized hook, like std's default, has a dangling address).
fn address<T: ?Sized>(hook: &T) -> usize {
    (hook as *const T).cast::<()>() as usize
}

/// Runs `f` as part of a pool task: a panic becomes [`Error::Panicked`] with its message and
/// location, instead of unwinding into the caller, and is not printed.
///
/// `f` must leave nothing half-done if it unwinds (the callers encode or decode one item, and
/// `crate::codec` rolls back a half-written record), hence the `AssertUnwindSafe`.
pub(crate) fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Error> {
    // A process pool's own process may never have built a thread pool.
    install_hook();
    let was = IN_TASK.replace(true);
    let outcome = catch_unwind(AssertUnwindSafe(f));
    IN_TASK.set(was);
    outcome.map_err(panicked)
}

/// Runs pool-thread code that may drop user values nobody waits for any more: a result whose
/// receiver is gone or whose task was cancelled, the argument of a batch that never ran, the
/// last owner of a finished map's buffers. A panic in such a `Drop` has nobody to be reported
/// to, and unwinding would end the pool's thread while the pool still counts it (the next call
/// would then wait for a thread that is gone). So it is caught, told on stderr in one line, and
/// the thread goes on.
pub(crate) fn catch_drop(f: impl FnOnce()) {
    if let Err(error) = catch(f) {
        let said = match error {
            Error::Panicked {
                message,
                location: Some(at),
            } => format!("{message} (at {at})"),
            Error::Panicked { message, .. } => message,
            other => other.to_string(),
        };
        eprintln!("common: a value's Drop panicked on a pool thread: {said}; the pool goes on");
    }
}

/// A value whose drop runs under [`catch_drop`]: a user value that a pool thread may be the
/// one to drop (a queued job's sink or argument), so that its `Drop` cannot end the thread.
pub(crate) struct DropsCaught<T>(Option<T>);

impl<T> DropsCaught<T> {
    pub(crate) fn new(value: T) -> Self {
        DropsCaught(Some(value))
    }

    /// The value, to be used (and dropped) by the caller from now on.
    pub(crate) fn into_inner(mut self) -> T {
        self.0
            .take()
            .expect("only `into_inner` and `drop` empty it, and each comes last")
    }
}

impl<T> std::ops::Deref for DropsCaught<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0
            .as_ref()
            .expect("only `into_inner` and `drop` empty it, and each comes last")
    }
}

impl<T> Drop for DropsCaught<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            catch_drop(|| drop(value));
        }
    }
}

/// The error for a caught panic; reinstalls the hook if it did not see the panic.
fn panicked(payload: Box<dyn Any + Send>) -> Error {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string payload>".to_string()
    };
    let location = LOCATION.take();
    if location.is_none() {
        // Our hook did not run: the program replaced it (or the panic came from
        // `resume_unwind`, which calls no hook; then this finds our hook and keeps it).
        reinstall(false);
    }
    Error::Panicked { message, location }
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
    let was = IN_TASK.replace(true);
    // AssertUnwindSafe: after a panic, `values` holds exactly the finished items' results and
    // `items` the ones not yet started (the panicking item was moved into `f` and dropped by
    // the unwinding); both are consistent, and `f` is a plain function with no state of ours.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        for item in items.by_ref() {
            values.push(f(item));
        }
    }));
    IN_TASK.set(was);
    outcome.err().map(panicked)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `resume_unwind_keeps_our_hook` takes the hook for a moment, during which a panic in a
    /// test running beside it would lose its location: these tests take turns.
    static TURNS: Mutex<()> = Mutex::new(());

    #[test]
    fn a_panic_carries_its_message_and_location() {
        let _turn = TURNS.lock().unwrap_or_else(|p| p.into_inner());
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
        let _turn = TURNS.lock().unwrap_or_else(|p| p.into_inner());
        install_hook();
        let out = run_batch(|x: u32| 10 / x, vec![5, 0, 2, 0, 1]).into_vec();
        assert_eq!(out[0], Ok(2));
        let divide = |m: &str| m.contains("divide by zero");
        assert!(matches!(&out[1], Err(Error::Panicked { message, .. }) if divide(message)));
        assert_eq!(out[2], Ok(5));
        assert!(out[3].is_err());
        assert_eq!(out[4], Ok(10));
        assert_eq!(
            run_batch(|x: u32| x + 1, vec![1, 2]),
            Results::Values(vec![2, 3])
        );
    }

    #[test]
    fn a_drop_that_panics_is_caught_and_the_thread_goes_on() {
        let _turn = TURNS.lock().unwrap_or_else(|p| p.into_inner());
        struct Loud;
        impl Drop for Loud {
            fn drop(&mut self) {
                panic!("loud drop");
            }
        }
        drop(DropsCaught::new(Loud)); // told on stderr; no unwinding reaches this test
        let kept = DropsCaught::new(Loud);
        std::mem::forget(kept.into_inner()); // taken out, its drop is the caller's business
        catch_drop(|| drop(Loud));
    }

    #[test]
    fn resume_unwind_keeps_our_hook() {
        let _turn = TURNS.lock().unwrap_or_else(|p| p.into_inner());
        install_hook();
        let ours = *INSTALLED.lock().unwrap();
        // `resume_unwind` calls no hook, so no location: it looks like a replaced hook.
        let err = catch(|| std::panic::resume_unwind(Box::new("quiet"))).unwrap_err();
        assert_eq!(
            err,
            Error::Panicked {
                message: "quiet".into(),
                location: None
            }
        );
        assert_eq!(
            *INSTALLED.lock().unwrap(),
            ours,
            "our own hook is recognised and put back, not wrapped in itself"
        );
        let err = catch(|| panic!("located")).unwrap_err();
        let here = |at: &str| at.contains("src/panics.rs:");
        assert!(matches!(err, Error::Panicked { location: Some(at), .. } if here(&at)));
    }
}
