//! The check of `semaphore`: first one semaphore alone (free permits are taken at once, the
//! next acquire waits, a release wakes it), then 30 workers of three kinds, each kind behind
//! its own semaphore, with the most that ever ran at once recorded per kind.

use crate::harness::{self, Verdict};
use std::io::Write;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;

/// What the check needs of a semaphore; implemented for the blank and the solution.
pub trait Permits: Send + Sync + 'static {
    fn new(permits: usize) -> Self;
    fn acquire(&self);
    fn release(&self);
}

/// The three kinds of work and how many of each may run at once.
const KINDS: [(&str, usize); 3] = [("downloads", 3), ("encodings", 2), ("disk writes", 1)];
const WORKERS: usize = 30;

/// Runs the semaphore alone, then the three kinds of work.
pub fn check<S: Permits>(out: &mut dyn Write) -> std::io::Result<Verdict> {
    if let Err(why) = alone::<S>() {
        return Ok(Err(format!("one semaphore of 2 permits: {why}")));
    }
    writeln!(
        out,
        "one semaphore of 2 permits: 2 taken at once, the 3rd waits, a release wakes it"
    )?;
    let most = match kinds::<S>() {
        Ok(most) => most,
        Err(why) => return Ok(Err(why)),
    };
    let mut over = None;
    for ((kind, limit), most) in KINDS.iter().zip(&most) {
        writeln!(out, "{kind}: at most {most} at once (limit {limit})")?;
        if most > limit && over.is_none() {
            over = Some(format!(
                "{most} {kind} ran at once, over their limit of {limit}"
            ));
        }
    }
    Ok(match over {
        Some(why) => Err(why),
        None => Ok(format!("{WORKERS} workers, every kind within its limit")),
    })
}

/// A semaphore of 2: two acquires return, a third waits until a release.
fn alone<S: Permits>() -> Result<(), String> {
    let sem = Arc::new(S::new(2));
    let two = sem.clone();
    harness::bounded(
        Duration::from_secs(5),
        "acquire waited with a permit free",
        move || {
            two.acquire();
            two.acquire();
        },
    )?;
    let third = sem.clone();
    let waiter = std::thread::spawn(move || third.acquire());
    // A right answer never returns here; a wrong one returns at once.
    std::thread::sleep(Duration::from_millis(200));
    if let Some(panic) = harness::first_panic() {
        return Err(panic);
    }
    if waiter.is_finished() {
        return Err("a 3rd acquire of 2 permits returned without waiting".into());
    }
    let releaser = sem.clone();
    harness::bounded(Duration::from_secs(5), "release waited", move || {
        releaser.release()
    })?;
    harness::wait_all(
        vec![waiter],
        Duration::from_secs(5),
        "a release did not wake the acquire waiting for it",
        || None,
    )?;
    Ok(())
}

/// The most workers of each kind that ran at once.
fn kinds<S: Permits>() -> Result<Vec<usize>, String> {
    let sems: Arc<Vec<S>> = Arc::new(KINDS.iter().map(|(_, n)| S::new(*n)).collect());
    let running: Arc<[AtomicUsize; 3]> = Arc::default();
    let most: Arc<[AtomicUsize; 3]> = Arc::default();
    let handles = (0..WORKERS)
        .map(|w| {
            let (sems, running, most) = (sems.clone(), running.clone(), most.clone());
            std::thread::spawn(move || {
                let kind = w % KINDS.len();
                sems[kind].acquire();
                let now = running[kind].fetch_add(1, SeqCst) + 1;
                most[kind].fetch_max(now, SeqCst);
                // Work a moment, so that others of the kind arrive while this one runs.
                std::thread::sleep(Duration::from_millis(5));
                running[kind].fetch_sub(1, SeqCst);
                sems[kind].release();
            })
        })
        .collect();
    let hung = "the workers did not finish in 20 s: a release that wakes nobody?";
    harness::wait_all(handles, Duration::from_secs(20), hung, || None)?;
    Ok(most.iter().map(|m| m.load(SeqCst)).collect())
}

/// Implements [`Permits`] for a semaphore type with `new`, `acquire` and `release`.
macro_rules! permits {
    ($type:ty) => {
        impl $crate::checks::semaphore::Permits for $type {
            fn new(permits: usize) -> Self {
                <$type>::new(permits)
            }
            fn acquire(&self) {
                <$type>::acquire(self)
            }
            fn release(&self) {
                <$type>::release(self)
            }
        }
    };
}
pub(crate) use permits;
