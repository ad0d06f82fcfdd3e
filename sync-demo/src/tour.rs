//! What runs: one scenario or the tour of all of them, for threads and for processes, or the
//! role of a child process. `main.rs` only parses (see `cli`) and maps errors to exit statuses.

use std::time::Duration;

use anyhow::Result;

use crate::cli::{Parsed, Role, Scenario, With};
use crate::knobs::{self, Scenario as Name};
use crate::{
    agreed_order, barrier, classics, condition_variable, deadlock, deadlock_cures,
    dining_philosophers, holder_dies, independent_order, mutex, output, pool_deadlock,
    record_locks, semaphore,
};

fn child(role: Role) -> Result<()> {
    match role {
        Role::TornWriter {
            path,
            worker,
            count,
            lock,
        } => mutex::child(&path, worker, count, lock),
        Role::SemWorker { kind, sem, work_us } => {
            semaphore::child(kind, &sem, Duration::from_micros(work_us))
        }
        Role::IndependentOrderWorker { worker, rounds } => independent_order::child(worker, rounds),
        Role::AgreedOrderWorker { worker, of, rounds } => agreed_order::child(worker, of, rounds),
        Role::RangeLocker {
            path,
            first,
            second,
            handshake,
        } => record_locks::child(&path, first, second, handshake),
        Role::FlockHolder { path } => holder_dies::child_flock(&path),
        Role::ShmHolder { os_id } => holder_dies::child_shm(&os_id),
        Role::SharedReader { path } => classics::child_reader(&path),
        Role::BarrierParty {
            segment,
            parties,
            index,
            part,
        } => barrier::child(&segment, parties, index, &part),
        Role::ClassicsParty {
            segment,
            index,
            parties,
        } => classics::child_party(&segment, index, parties),
        Role::ClassicsProducer { segment, items } => classics::child_producer(&segment, items),
        Role::CvActor {
            segment,
            schedule,
            actor,
        } => condition_variable::child(&segment, schedule, actor),
    }
}

fn name_of(scenario: &Scenario) -> Option<Name> {
    Some(match scenario {
        Scenario::All => Name::All,
        Scenario::IndependentOrder => Name::IndependentOrder,
        Scenario::AgreedOrder => Name::AgreedOrder,
        Scenario::Mutex => Name::Mutex,
        Scenario::Semaphore => Name::Semaphore,
        Scenario::Deadlock => Name::Deadlock,
        Scenario::DiningPhilosophers => Name::DiningPhilosophers,
        Scenario::HolderDies => Name::HolderDies,
        Scenario::Classics => Name::Classics,
        Scenario::DeadlockCures => Name::DeadlockCures,
        Scenario::Barrier => Name::Barrier,
        Scenario::PoolDeadlock => Name::PoolDeadlock,
        Scenario::ConditionVariable => Name::ConditionVariable,
        Scenario::Child { .. } => return None,
    })
}

/// Runs what the command line asked for: a child's role, one scenario, or every scenario in
/// order, each for threads, processes or both.
///
/// # Errors
/// A [`UsageError`](common::demo::cli::UsageError) for knobs that do not fit the scenario (exit
/// status 2); a scenario's failure or failed check (exit status 1).
pub fn run(parsed: Parsed) -> Result<()> {
    let scenario = parsed.scenario.unwrap_or(Scenario::All);
    let Some(name) = name_of(&scenario) else {
        let Scenario::Child { role } = scenario else {
            unreachable!("name_of is None only for a child")
        };
        return child(role);
    };
    // Refuses what does not apply or cannot show the lesson, before anything runs.
    let knobs = knobs::check(name, &parsed.knobs, parsed.with == With::Processes)?;
    // Process boundary: the mutex and the locks share files in TMPDIR; say so if it is missing
    // or read-only (the machine's state, exit status 71, not bad input).
    common::demo::machine::writable_tmpdir()?;
    let (threads, processes) = (parsed.with != With::Processes, parsed.with != With::Threads);
    let out = &mut output::stdout();
    // A run killed by SIGKILL could not remove its named semaphores, segment or files; their
    // names carry the dead owner's pid, so this run can tell them from a live run's and sweep.
    for prefix in ["sem.sync-demo-", "sync-demo-"] {
        common::demo::cleanup::sweep_stale(std::path::Path::new("/dev/shm"), prefix);
    }
    common::demo::cleanup::sweep_stale(&std::env::temp_dir(), "sync-demo-");
    let runs = |n: Name| name == Name::All || name == n;
    let (workers, steps) = (|n| knobs.workers_for(n), knobs.steps);
    if runs(Name::IndependentOrder) {
        let workers = workers(Name::IndependentOrder);
        if threads {
            independent_order::threads(out, workers, steps)?;
        }
        if processes {
            independent_order::processes(out, workers, steps)?;
        }
    }
    if runs(Name::AgreedOrder) {
        let workers = workers(Name::AgreedOrder);
        if threads {
            agreed_order::threads(out, workers, steps)?;
        }
        if processes {
            agreed_order::processes(out, workers, steps)?;
        }
    }
    if runs(Name::Mutex) {
        let workers = workers(Name::Mutex);
        if threads {
            mutex::threads(out, workers, knobs.lines)?;
        }
        if processes {
            mutex::processes(out, workers, knobs.lines)?;
        }
    }
    if runs(Name::Semaphore) {
        let (workers, work) = (
            workers(Name::Semaphore),
            Duration::from_millis(knobs.work_ms),
        );
        if threads {
            semaphore::threads(out, workers, knobs.limits, work)?;
        }
        if processes {
            semaphore::processes(out, workers, knobs.limits, work)?;
        }
    }
    if runs(Name::Deadlock) {
        if threads {
            deadlock::threads(out)?;
        }
        if processes {
            deadlock::processes(out)?;
        }
    }
    if runs(Name::DiningPhilosophers) && threads {
        dining_philosophers::threads(out, workers(Name::DiningPhilosophers), knobs.meals)?;
    }
    if runs(Name::HolderDies) {
        if threads {
            holder_dies::threads(out)?;
        }
        if processes {
            holder_dies::processes(out)?;
        }
    }
    if runs(Name::Classics) {
        let workers = workers(Name::Classics);
        if threads {
            classics::threads(out, workers)?;
        }
        if processes {
            classics::processes(out, workers)?;
        }
    }
    if runs(Name::DeadlockCures) && threads {
        deadlock_cures::threads(out)?;
    }
    if runs(Name::Barrier) {
        let workers = workers(Name::Barrier);
        if threads {
            barrier::threads(out, workers)?;
        }
        if processes {
            barrier::processes(out, workers)?;
        }
    }
    if runs(Name::PoolDeadlock) {
        if threads {
            pool_deadlock::threads(out)?;
        }
        if processes {
            pool_deadlock::processes(out)?;
        }
    }
    if runs(Name::ConditionVariable) {
        if threads {
            condition_variable::threads(out)?;
        }
        if processes {
            condition_variable::processes(out)?;
        }
    }
    Ok(())
}
