//! Model check of the lent line's protocol (the table in `lend.rs`), with loom.
//!
//! A miniature of the protocol, transition for transition, with the socket replaced by a channel
//! and the worker by a thread: a caller lends its task and then waits for it, waits with a limit
//! (and, timed out, drops its handle), or drops its handle at once; the supervisor parks, takes
//! its line back and reads what was handed over; the worker answers or dies; and the pool
//! closes meanwhile. Loom runs every interleaving and checks that each lent task is answered
//! exactly once, the worker ends with its supervisor, and no thread is left asleep. The
//! supervisor here sleeps with no timeout (the real one wakes every `IDLE_CHECK` too), so a lost
//! wake-up shows as a deadlock instead of a 100 ms delay. The knock-out tests remove one
//! transition's wake-up each and expect loom to find the interleaving that then hangs.
//!
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom
//! cargo test -p common --lib --release lend::model` (as `.ci/run` does).

use ::loom::sync::{mpsc, Condvar, Mutex, MutexGuard};
use ::loom::thread;
// std's `Arc`: a deadlock that loom finds with its own `Arc` alive can abort the whole test
// binary (FACTS.md), and the knock-out tests make one on purpose.
use std::sync::Arc;

/// The worker as the pool holds it: tasks go out on one channel (`None`: hung up, as the real
/// pool shuts its end), answers come back on the other (`None`: it died half-way). Loom's
/// channels do not close when an end is dropped, so both ends say it in a message.
struct Worker {
    tasks: mpsc::Sender<Option<u32>>,
    answers: mpsc::Receiver<Option<u32>>,
}

/// A lent task's record: where its answer goes.
struct Job {
    slot: Arc<Slot>,
}

/// The task's one result, and how often it was delivered (must end at 1).
#[derive(Default)]
struct Slot {
    outcome: Mutex<(Option<Result<u32, ()>>, usize)>,
    ready: Condvar,
}

impl Slot {
    fn fill(&self, outcome: Result<u32, ()>) {
        let mut state = self.outcome.lock().unwrap();
        state.1 += 1;
        state.0.get_or_insert(outcome);
        self.ready.notify_all();
    }

    fn wait(&self) -> Result<u32, ()> {
        let mut state = self.outcome.lock().unwrap();
        while state.0.is_none() {
            state = self.ready.wait(state).unwrap();
        }
        state.0.unwrap()
    }
}

/// The lines of `lend.rs`, with `Held` for the real `Held`.
enum Line {
    Busy,
    Idle(Worker),
    Lent { worker: Worker, job: Job },
    Held,
    Dead(Worker),
}

/// One line's desk, and the pool's `closing`.
struct State {
    line: Line,
    handed_over: bool,
    parked: bool,
    wanted: bool,
    closing: bool,
}

/// A wake-up to leave out, to show that the check notices.
#[derive(Clone, Copy, PartialEq)]
enum Knock {
    Nothing,
    /// `release` does not wake a parked supervisor.
    ReleaseWake,
    /// `put_back` does not wake a supervisor that wants its line back.
    WantedWake,
}

struct Shared {
    state: Mutex<State>,
    nudge: Condvar,
    knock: Knock,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// `lend::put_back`: the line goes back, and its supervisor is woken if it waits for it,
    /// or is parked and now has a reason (the pool closing, a dead worker).
    fn put_back(&self, state: &mut State, now: Line) {
        let dead = matches!(now, Line::Dead(_));
        state.line = now;
        let wanted = state.wanted && self.knock != Knock::WantedWake;
        if wanted || (state.parked && (state.closing || dead)) {
            state.parked = false;
            self.nudge.notify_one();
        }
    }
}

/// `lend::read::deliver`: the answer to its slot; the line back `Idle`, or `Dead`.
fn deliver(shared: &Shared, worker: Worker, job: Job, answer: Option<Option<u32>>) {
    let now = match answer {
        Some(Some(value)) => {
            job.slot.fill(Ok(value));
            Line::Idle(worker)
        }
        _ => {
            job.slot.fill(Err(()));
            Line::Dead(worker)
        }
    };
    shared.put_back(&mut shared.lock(), now);
}

/// How the caller takes its result.
#[derive(Clone, Copy)]
enum Caller {
    Wait,
    WaitWithLimit,
    Drop,
}

/// `ProcessPool::lend`, then the handle's way of taking the result. `None` if the line was not
/// idle (the real caller then queues the task for the supervisor: not modelled here).
fn caller(shared: &Shared, how: Caller) -> Option<Arc<Slot>> {
    let mut state = shared.lock();
    if state.closing || !matches!(state.line, Line::Idle(_)) {
        return None;
    }
    let Line::Idle(worker) = std::mem::replace(&mut state.line, Line::Held) else {
        unreachable!("matched just above");
    };
    state.handed_over = false;
    drop(state);
    let _ = worker.tasks.send(Some(21));
    let slot = Arc::new(Slot::default());
    let job = Job {
        slot: Arc::clone(&slot),
    };
    shared.put_back(&mut shared.lock(), Line::Lent { worker, job });
    match how {
        Caller::Wait => {
            read_lent(shared, false);
        }
        Caller::WaitWithLimit => {
            if !read_lent(shared, true) {
                release(shared);
            }
        }
        Caller::Drop => release(shared),
    }
    Some(slot)
}

/// `lend::read::read_lent`: takes the line if its task is on it, reads (with a limit: only
/// what is there), delivers or puts it back `Lent`. Whether the answer was delivered here.
fn read_lent(shared: &Shared, limit: bool) -> bool {
    let mut state = shared.lock();
    if !matches!(state.line, Line::Lent { .. }) {
        return false; // someone else reads it
    }
    let Line::Lent { worker, job } = std::mem::replace(&mut state.line, Line::Held) else {
        unreachable!("matched just above");
    };
    drop(state);
    let answer = if limit {
        match worker.answers.try_recv() {
            Ok(answer) => Some(answer),
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                shared.put_back(&mut shared.lock(), Line::Lent { worker, job });
                return false;
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
        }
    } else {
        worker.answers.recv().ok()
    };
    deliver(shared, worker, job, answer);
    true
}

/// `LentTask::release`: the handle will not read; a parked supervisor is told.
fn release(shared: &Shared) {
    let mut state = shared.lock();
    if matches!(state.line, Line::Lent { .. }) {
        state.handed_over = true;
        if state.parked && shared.knock != Knock::ReleaseWake {
            state.parked = false;
            shared.nudge.notify_one();
        }
    }
}

/// `Supervisor::park` and what `run` does with what it takes back: reads a lent task handed
/// over (or met while closing), hangs up an idle worker when closing, replaces (here: ends
/// with) a dead one. Sleeps with no timeout, so a lost wake-up is a deadlock.
fn supervisor(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        let busy = state.closing;
        let ripe = state.handed_over;
        match std::mem::replace(&mut state.line, Line::Busy) {
            Line::Dead(worker) => return drop(worker),
            Line::Idle(worker) if busy => {
                let _ = worker.tasks.send(None); // hangs up: the worker ends
                return;
            }
            Line::Lent { worker, job } if busy || ripe => {
                drop(state);
                let answer = worker.answers.recv().ok();
                let alive = matches!(answer, Some(Some(_)));
                job.slot.fill(answer.flatten().ok_or(()));
                state = shared.lock();
                state.handed_over = false;
                state.line = if alive {
                    Line::Idle(worker)
                } else {
                    Line::Dead(worker)
                };
                continue;
            }
            Line::Held if busy => {
                state.line = Line::Held;
                state.wanted = true;
                state = shared.nudge.wait(state).unwrap();
                state.wanted = false;
                continue;
            }
            other => state.line = other,
        }
        state.parked = true;
        state = shared.nudge.wait(state).unwrap();
        state.parked = false;
    }
}

/// When the pool closes.
#[derive(Clone, Copy, PartialEq)]
enum Close {
    /// At any moment, from a thread of its own.
    Meanwhile,
    /// Only once the task is answered: nothing but the protocol's own wake-ups can bring a
    /// handed-over answer in.
    AfterAnswer,
}

/// One run: a supervisor parked on an idle worker, the worker (answering, or dying), a caller
/// taking its result `how`, and the pool closing.
fn model(how: Caller, worker_dies: bool, close: Close, knock: Knock) {
    let (tasks, task_rx) = mpsc::channel::<Option<u32>>();
    let (answer_tx, answers) = mpsc::channel::<Option<u32>>();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            line: Line::Idle(Worker { tasks, answers }),
            handed_over: false,
            parked: false,
            wanted: false,
            closing: false,
        }),
        nudge: Condvar::new(),
        knock,
    });
    let worker = thread::spawn(move || {
        // It serves until hung up, or dies on its first task.
        while let Ok(Some(n)) = task_rx.recv() {
            let _ = answer_tx.send((!worker_dies).then_some(n * 2));
            if worker_dies {
                break;
            }
        }
    });
    let supervisor = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || supervisor(&shared))
    };
    let closing = |shared: Arc<Shared>| {
        thread::spawn(move || {
            shared.lock().closing = true;
            shared.nudge.notify_one(); // `park::nudge_all`, for one supervisor
        })
    };
    let mut closer = (close == Close::Meanwhile).then(|| closing(Arc::clone(&shared)));
    if let Some(slot) = caller(&shared, how) {
        // Every way of taking it ends with the answer, or the worker's death, exactly once.
        let outcome = slot.wait();
        let expected = if worker_dies { Err(()) } else { Ok(42) };
        assert_eq!(outcome, expected);
        let closer = closer
            .take()
            .unwrap_or_else(|| closing(Arc::clone(&shared)));
        closer.join().unwrap();
        supervisor.join().unwrap();
        assert_eq!(slot.outcome.lock().unwrap().1, 1, "delivered exactly once");
    } else {
        let closer = closer
            .take()
            .unwrap_or_else(|| closing(Arc::clone(&shared)));
        closer.join().unwrap();
        supervisor.join().unwrap();
    }
    worker.join().unwrap();
}

#[test]
fn a_waiting_caller_reads_its_own_answer_once() {
    ::loom::model(|| model(Caller::Wait, false, Close::Meanwhile, Knock::Nothing));
}

#[test]
fn a_caller_with_a_limit_leaves_the_rest_to_the_supervisor() {
    ::loom::model(|| {
        model(
            Caller::WaitWithLimit,
            false,
            Close::Meanwhile,
            Knock::Nothing,
        )
    });
}

#[test]
fn a_dropped_handle_hands_the_answer_over() {
    ::loom::model(|| model(Caller::Drop, false, Close::Meanwhile, Knock::Nothing));
    ::loom::model(|| model(Caller::Drop, false, Close::AfterAnswer, Knock::Nothing));
}

#[test]
fn a_dying_worker_fails_its_task_once() {
    ::loom::model(|| {
        model(
            Caller::WaitWithLimit,
            true,
            Close::Meanwhile,
            Knock::Nothing,
        )
    });
    ::loom::model(|| model(Caller::Drop, true, Close::AfterAnswer, Knock::Nothing));
}

/// Without `release`'s wake-up, a handed-over answer waits for a supervisor that sleeps.
#[test]
#[should_panic(expected = "deadlock")]
fn knocked_out_release_wake_is_found() {
    ::loom::model(|| model(Caller::Drop, false, Close::AfterAnswer, Knock::ReleaseWake));
}

/// Without `put_back`'s wake of a supervisor that wants its line, closing hangs.
#[test]
#[should_panic(expected = "deadlock")]
fn knocked_out_wanted_wake_is_found() {
    ::loom::model(|| model(Caller::Wait, false, Close::Meanwhile, Knock::WantedWake));
}
