//! What every check shares: running a student's code on worker threads under a forced
//! schedule, with a bound on every wait, and catching a `todo!()` or a panic as one line.
//!
//! A check never hangs: a worker that does not finish within its bound is reported (a deadlock,
//! a lost wake-up, a channel never closed) and left behind, blocked; the program ends soon after,
//! and the thread with it.

use crate::replay::{Schedule, Turns};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a check concludes: `Ok` with what it saw, or `Err` with one line of what is wrong.
pub type Verdict = Result<String, String>;

/// The first panic since [`quiet_panics`], as one line: message and place.
static FIRST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// From now on a panic prints nothing: it is recorded, and the check reports it in its own
/// words (`todo!()` is how a blank says it is not written yet). Forgets any earlier panic.
pub fn quiet_panics() {
    *FIRST_PANIC.lock().unwrap_or_else(|p| p.into_inner()) = None;
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let at = info
            .location()
            .map(|l| format!(" ({}:{})", l.file().replace("src/../", ""), l.line()))
            .unwrap_or_default();
        let line = if message.starts_with("not yet implemented") {
            format!("not written yet: {message}{at}")
        } else {
            format!("panicked: {message}{at}")
        };
        FIRST_PANIC
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(line);
    }));
}

/// The first panic recorded since [`quiet_panics`].
pub fn first_panic() -> Option<String> {
    FIRST_PANIC
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// Runs `f` on a thread of its own and waits at most `limit` for it.
///
/// # Errors
/// The panic it raised (a `todo!()` included), or `hung` if it did not finish in time.
pub fn bounded<T: Send + 'static>(
    limit: Duration,
    hung: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let handle = std::thread::spawn(f);
    wait_all(vec![handle], limit, hung, || None).map(|mut v| v.remove(0))
}

/// Waits for every handle, at most `limit`; ends early on a panic, or when `stuck` says why
/// the workers can never finish (a deadlock seen in a waits-for table).
///
/// # Errors
/// The first panic, what `stuck` said, or `hung`.
pub fn wait_all<T>(
    handles: Vec<JoinHandle<T>>,
    limit: Duration,
    hung: &str,
    mut stuck: impl FnMut() -> Option<String>,
) -> Result<Vec<T>, String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(panic) = first_panic() {
            return Err(panic);
        }
        if handles.iter().all(JoinHandle::is_finished) {
            let joined: Result<Vec<T>, _> = handles.into_iter().map(JoinHandle::join).collect();
            return joined.map_err(|_| first_panic().unwrap_or_else(|| "panicked".into()));
        }
        if let Some(why) = stuck() {
            return Err(why);
        }
        if Instant::now() >= deadline {
            return Err(hung.to_string());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Starts `workers` threads, each running `job(its number)` under `turns`: it enters the
/// schedule first and leaves it last, even by a panic, so the others never wait for it.
pub fn start<T: Send + 'static>(
    turns: &Arc<Turns>,
    workers: usize,
    job: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<JoinHandle<T>> {
    let job = Arc::new(job);
    (0..workers)
        .map(|me| {
            let (turns, job) = (turns.clone(), job.clone());
            std::thread::Builder::new()
                .name(format!("worker {me}"))
                .spawn(move || {
                    struct Leave(Arc<Turns>, usize);
                    impl Drop for Leave {
                        fn drop(&mut self) {
                            self.0.leave(self.1);
                        }
                    }
                    turns.enter(me);
                    let _leave = Leave(turns.clone(), me);
                    job(me)
                })
                .expect("a thread starts (the check uses at most a few)")
        })
        .collect()
}

/// A new schedule for `workers` workers, shared by them.
pub fn turns(schedule: &Schedule, workers: usize) -> Arc<Turns> {
    Arc::new(Turns::new(schedule.clone(), workers))
}

/// `" (the schedule let go: ...)"` if it did, for a pass line.
pub fn let_go_note(turns: &Turns) -> String {
    turns
        .let_go()
        .map(|why| format!(" (schedule let go: {why})"))
        .unwrap_or_default()
}
