//! Locks that know who holds them and who waits for them, so a circular wait can be seen.
//!
//! A plain `Mutex` cannot tell you that you are deadlocked: its waiters just sleep. Here every
//! lock of a [`LockTable`] records its holder, and every waiting worker records the lock it
//! wants. That is a wait-for graph: worker → wanted lock → its holder → the lock that one wants
//! → ... Following it from a waiter either ends at a worker that is not waiting (progress is
//! possible) or comes back to the waiter: a cycle, a deadlock, which no amount of waiting will
//! end. Databases find deadlocks this way. One worker of the cycle (the highest-numbered, so
//! exactly one) is told so and must give up a lock: that is the recovery.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// One link of a cycle: `worker` holds `held` and waits for `wanted` (lock indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The worker.
    pub worker: usize,
    /// The lock it holds, which the previous worker in the cycle wants.
    pub held: usize,
    /// The lock it waits for.
    pub wanted: usize,
}

/// Why [`LockTable::acquire`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Waiting would never end: this cycle of workers wait for each other.
    Deadlock(Vec<Link>),
    /// The deadline passed without a cycle (the holder is just slow).
    TimedOut,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Deadlock(cycle) => write!(f, "a deadlock: a cycle of {} waiters", cycle.len()),
            Refused::TimedOut => f.write_str("the wait timed out without a cycle"),
        }
    }
}

#[derive(Debug, Default)]
struct Graph {
    holder: Vec<Option<usize>>,
    waits_for: HashMap<usize, usize>,
}

/// A set of named locks that detects circular waits among workers.
#[derive(Debug)]
pub struct LockTable {
    names: Vec<String>,
    worker_word: &'static str,
    graph: Mutex<Graph>,
    changed: Condvar,
}

impl LockTable {
    /// Locks called `names`, taken by workers called `worker_word` (`"worker"`, `"philosopher"`).
    pub fn new(names: Vec<String>, worker_word: &'static str) -> LockTable {
        let graph = Graph {
            holder: vec![None; names.len()],
            waits_for: HashMap::new(),
        };
        LockTable {
            names,
            worker_word,
            graph: Mutex::new(graph),
            changed: Condvar::new(),
        }
    }

    fn graph(&self) -> MutexGuard<'_, Graph> {
        // Nothing panics while holding it, so the graph stays consistent even if poisoned.
        self.graph.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `lock` for `worker`, waiting at most `limit`.
    ///
    /// # Errors
    /// [`Refused::Deadlock`] as soon as the wait closes a cycle and this worker is its victim;
    /// [`Refused::TimedOut`] when `limit` passes.
    pub fn acquire(&self, worker: usize, lock: usize, limit: Duration) -> Result<(), Refused> {
        let deadline = Instant::now() + limit;
        let mut graph = self.graph();
        loop {
            if graph.holder[lock].is_none() {
                graph.holder[lock] = Some(worker);
                graph.waits_for.remove(&worker);
                return Ok(());
            }
            if graph.waits_for.insert(worker, lock).is_none() {
                // A new edge may close a cycle: wake the others so they look too.
                self.changed.notify_all();
            }
            if let Some(cycle) = cycle_from(&graph, worker) {
                if cycle.iter().map(|l| l.worker).max() == Some(worker) {
                    graph.waits_for.remove(&worker);
                    return Err(Refused::Deadlock(cycle));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                graph.waits_for.remove(&worker);
                return Err(Refused::TimedOut);
            }
            graph = self
                .changed
                .wait_timeout(graph, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Takes `lock` for `worker` if it is free now; never waits, so never joins a cycle.
    pub fn try_acquire(&self, worker: usize, lock: usize) -> bool {
        let mut graph = self.graph();
        if graph.holder[lock].is_some() {
            return false;
        }
        graph.holder[lock] = Some(worker);
        true
    }

    /// Gives `lock` back.
    pub fn release(&self, lock: usize) {
        self.graph().holder[lock] = None;
        self.changed.notify_all();
    }

    /// The cycle in words, starting at its lowest-numbered worker:
    /// `worker 1 holds A and waits for B; worker 2 holds B and waits for A`.
    pub fn describe(&self, cycle: &[Link]) -> String {
        let start = (0..cycle.len())
            .min_by_key(|&i| cycle[i].worker)
            .unwrap_or(0);
        (0..cycle.len())
            .map(|i| {
                let l = cycle[(start + i) % cycle.len()];
                format!(
                    "{} {} holds {} and waits for {}",
                    self.worker_word, l.worker, self.names[l.held], self.names[l.wanted]
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Follows the wait-for graph from `start`; the cycle if it comes back to `start`.
fn cycle_from(graph: &Graph, start: usize) -> Option<Vec<Link>> {
    let mut wants = Vec::new(); // (worker, wanted lock) along the chain
    let mut worker = start;
    loop {
        let wanted = *graph.waits_for.get(&worker)?;
        wants.push((worker, wanted));
        worker = graph.holder[wanted]?;
        if worker == start {
            break;
        }
        if wants.len() > graph.holder.len() {
            return None; // a cycle that does not pass through `start`: its own members see it
        }
    }
    // Each worker holds the lock that the one before it wants.
    let n = wants.len();
    Some(
        (0..n)
            .map(|i| Link {
                worker: wants[i].0,
                held: wants[(i + n - 1) % n].1,
                wanted: wants[i].1,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_workers_in_opposite_order_form_a_cycle() {
        let table = LockTable::new(vec!["A".into(), "B".into()], "worker");
        table.acquire(1, 0, Duration::ZERO).unwrap();
        table.acquire(2, 1, Duration::ZERO).unwrap();
        // Worker 1 waits for B without a cycle yet, and times out.
        assert_eq!(
            table.acquire(1, 1, Duration::from_millis(1)),
            Err(Refused::TimedOut)
        );
        let mut graph = table.graph();
        graph.waits_for.insert(1, 1);
        graph.waits_for.insert(2, 0);
        let cycle = cycle_from(&graph, 2).expect("a cycle");
        drop(graph);
        assert_eq!(
            table.describe(&cycle),
            "worker 1 holds A and waits for B; worker 2 holds B and waits for A"
        );
    }
}
