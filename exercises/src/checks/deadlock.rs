//! The check of `deadlock`: workers in a ring, worker `i` sending from account `i` to account
//! `i + 1`, each lock a step of the forced schedule. Under `rr` every worker takes its first
//! lock before any takes its second: opposite orders then close a cycle of waits, every time,
//! and the check reads the cycle from a table of who holds and who wants which account.

use crate::harness::{self, Verdict};
use crate::replay::{self, Schedule, Turns};
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Transfers each worker makes, and each account's opening balance.
const TRANSFERS: usize = 3;
const OPENING: i64 = 100;

/// Who holds and who wants each account: the waits-for table.
#[derive(Default)]
struct Table {
    /// `holder[account]`: the worker holding its lock.
    holder: Vec<Option<usize>>,
    /// `wants[worker]`: the account whose lock it waits for.
    wants: Vec<Option<usize>>,
}

impl Table {
    /// A cycle of waits, in words, if there is one: a deadlock, since every worker in it is
    /// inside `lock()` and none can let go.
    fn cycle(&self) -> Option<String> {
        for start in 0..self.wants.len() {
            let (mut worker, mut words) = (start, Vec::new());
            for _ in 0..self.wants.len() {
                let account = self.wants[worker]?;
                let holder = self.holder[account]?;
                words.push(format!("worker {worker} waits for account {account}"));
                worker = holder;
                if worker == start {
                    return Some(words.join(", held by the next; "));
                }
            }
        }
        None
    }
}

/// One account: an id, and a balance behind a lock.
pub struct Account {
    id: usize,
    balance: Mutex<i64>,
    table: Arc<Mutex<Table>>,
    turns: Arc<Turns>,
}

impl Account {
    /// This account's number: accounts are numbered 0, 1, 2, ...
    pub fn id(&self) -> usize {
        self.id
    }

    /// Waits for this account's lock and takes it (one step of the schedule).
    pub fn lock(&self) -> Held<'_> {
        self.turns.point();
        let me = replay::me();
        self.table().wants[me] = Some(self.id);
        let guard = self.balance.lock().unwrap_or_else(|p| p.into_inner());
        let mut table = self.table();
        table.wants[me] = None;
        table.holder[self.id] = Some(me);
        Held {
            balance: guard,
            account: self,
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An account's balance, locked; it reads and writes as an `i64`.
pub struct Held<'a> {
    balance: MutexGuard<'a, i64>,
    account: &'a Account,
}

impl std::ops::Deref for Held<'_> {
    type Target = i64;
    fn deref(&self) -> &i64 {
        &self.balance
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut i64 {
        &mut self.balance
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // Before the guard goes (fields drop after this): the table never shows a free lock
        // as held by someone else.
        self.account.table().holder[self.account.id] = None;
    }
}

/// Runs `transfer` at 2, 3 and 4 workers under `schedule`.
pub fn check(
    out: &mut dyn Write,
    schedule: &Schedule,
    transfer: fn(&Account, &Account, i64),
) -> std::io::Result<Verdict> {
    let mut seen = Vec::new();
    for workers in [2, 3, 4] {
        let turns = harness::turns(schedule, workers);
        let table = Arc::new(Mutex::new(Table {
            holder: vec![None; workers],
            wants: vec![None; workers],
        }));
        let accounts: Arc<Vec<Account>> = Arc::new(
            (0..workers)
                .map(|id| Account {
                    id,
                    balance: Mutex::new(OPENING),
                    table: table.clone(),
                    turns: turns.clone(),
                })
                .collect(),
        );
        let ring = accounts.clone();
        let handles = harness::start(&turns, workers, move |me| {
            for _ in 0..TRANSFERS {
                transfer(&ring[me], &ring[(me + 1) % ring.len()], 1);
            }
        });
        let cycle = || {
            let table = table.lock().unwrap_or_else(|p| p.into_inner());
            table.cycle().map(|c| format!("deadlock: {c}"))
        };
        let hung = "the workers did not finish in 10 s";
        if let Err(why) = harness::wait_all(handles, Duration::from_secs(10), hung, cycle) {
            return Ok(Err(format!("{workers} workers: {why}")));
        }
        let balances: Vec<i64> = accounts
            .iter()
            .map(|a| *a.balance.lock().unwrap_or_else(|p| p.into_inner()))
            .collect();
        if balances.iter().any(|&b| b != OPENING) {
            let why = format!("balances {balances:?}, each should be {OPENING} again");
            return Ok(Err(format!("{workers} workers: {why}")));
        }
        writeln!(
            out,
            "{workers} workers: {} transfers in a ring, balances right{}",
            workers * TRANSFERS,
            harness::let_go_note(&turns)
        )?;
        seen.push(workers.to_string());
    }
    Ok(Ok(format!("no deadlock at {} workers", seen.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_found_and_a_chain_is_not() {
        let mut table = Table {
            holder: vec![Some(0), Some(1)],
            wants: vec![Some(1), Some(0)],
        };
        let words = table.cycle().unwrap();
        assert!(words.contains("worker 0 waits for account 1"), "{words}");
        table.wants[1] = None;
        assert_eq!(table.cycle(), None);
    }
}
