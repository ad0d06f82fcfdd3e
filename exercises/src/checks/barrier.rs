//! The check of `barrier`: at 2, 3 and 4 workers, three phases. In each phase the last worker
//! is held back until every other worker is either asleep in `wait` (right) or already past
//! it (wrong: through before everyone arrived). So a barrier that lets anyone through early
//! fails every time, whatever the machine's timing.

use crate::harness::{self, Verdict};
use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the check needs of a barrier; implemented for the blank and the solution.
pub trait Wait: Send + Sync + 'static {
    fn new(parties: usize) -> Self;
    fn wait(&self);
}

const PHASES: u64 = 3;

/// Per worker: the phases it has entered `wait` for, and left it after.
#[derive(Default)]
struct Progress {
    entered: Vec<AtomicU64>,
    left: Vec<AtomicU64>,
    tids: Mutex<Vec<i32>>,
    early: Mutex<Option<String>>,
}

/// Runs the barrier at 2, 3 and 4 workers.
pub fn check<B: Wait>(out: &mut dyn Write) -> std::io::Result<Verdict> {
    for workers in [2, 3, 4] {
        if let Err(why) = phases::<B>(workers) {
            return Ok(Err(format!("{workers} workers: {why}")));
        }
        writeln!(
            out,
            "{workers} workers: {PHASES} phases, nobody through early"
        )?;
    }
    Ok(Ok("every phase held at 2, 3 and 4 workers".into()))
}

fn phases<B: Wait>(workers: usize) -> Result<(), String> {
    let barrier = Arc::new(B::new(workers));
    let progress = Arc::new(Progress {
        entered: (0..workers).map(|_| AtomicU64::new(0)).collect(),
        left: (0..workers).map(|_| AtomicU64::new(0)).collect(),
        tids: Mutex::new(vec![0; workers]),
        early: Mutex::new(None),
    });
    let last = workers - 1;
    let handles = (0..workers)
        .map(|me| {
            let (barrier, progress) = (barrier.clone(), progress.clone());
            std::thread::spawn(move || {
                let tid = rustix::thread::gettid().as_raw_nonzero().get();
                progress.tids.lock().unwrap_or_else(|p| p.into_inner())[me] = tid;
                for phase in 1..=PHASES {
                    if me == last {
                        hold_back(&progress, phase, last);
                    }
                    progress.entered[me].store(phase, SeqCst);
                    barrier.wait();
                    progress.left[me].store(phase, SeqCst);
                    if let Some(w) = (0..=last).find(|&w| progress.entered[w].load(SeqCst) < phase)
                    {
                        let mut early = progress.early.lock().unwrap_or_else(|p| p.into_inner());
                        early.get_or_insert(format!(
                            "worker {me} got through phase {phase} before worker {w} arrived"
                        ));
                    }
                }
            })
        })
        .collect();
    let hung = "a phase never ended: did the last to arrive wake the others (and reset)?";
    let result = harness::wait_all(handles, Duration::from_secs(10), hung, || {
        progress
            .early
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    });
    if let Some(early) = progress
        .early
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
    {
        return Err(early);
    }
    result.map(drop)
}

/// Holds the last worker back until every other worker has entered `wait` for `phase` and
/// is asleep there, or is past it already (then the check has caught it). A spinning barrier
/// never sleeps: after 2 s the last worker goes anyway.
fn hold_back(progress: &Progress, phase: u64, last: usize) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut asleep_in_a_row = 0;
    while Instant::now() < deadline && asleep_in_a_row < 3 {
        let tids = progress
            .tids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let settled = (0..last).all(|w| {
            progress.left[w].load(SeqCst) >= phase
                || (progress.entered[w].load(SeqCst) >= phase && asleep(tids[w]))
        });
        asleep_in_a_row = if settled { asleep_in_a_row + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn asleep(tid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"));
    stat.is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('S'))
    })
}

/// Implements [`Wait`] for a barrier type with `new` and `wait`.
macro_rules! barrier {
    ($type:ty) => {
        impl $crate::checks::barrier::Wait for $type {
            fn new(parties: usize) -> Self {
                <$type>::new(parties)
            }
            fn wait(&self) {
                <$type>::wait(self)
            }
        }
    };
}
pub(crate) use barrier;
