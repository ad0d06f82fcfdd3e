//! Which knob applies to which scenario, the values each scenario needs to show its lesson, and
//! each scenario's default number of workers (the other defaults are clap's, in `cli.rs`). A
//! knob given where it does not apply is refused (exit status 2) with the scenarios it applies
//! to, rather than silently ignored. On the tour (`all`) each knob goes to every scenario that
//! takes it, and must suit each of them.

use common::demo::cli::UsageError;

/// The scenarios, as the command line names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    All,
    IndependentOrder,
    AgreedOrder,
    Mutex,
    Semaphore,
    Deadlock,
    DiningPhilosophers,
    HolderDies,
    Classics,
    DeadlockCures,
    Barrier,
    PoolDeadlock,
    ConditionVariable,
}

impl Scenario {
    /// The command (and header) name: `independent-order`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::All => "all",
            Scenario::IndependentOrder => "independent-order",
            Scenario::AgreedOrder => "agreed-order",
            Scenario::Mutex => "mutex",
            Scenario::Semaphore => "semaphore",
            Scenario::Deadlock => "deadlock",
            Scenario::DiningPhilosophers => "dining-philosophers",
            Scenario::HolderDies => "holder-dies",
            Scenario::Classics => "classics",
            Scenario::DeadlockCures => "deadlock-cures",
            Scenario::Barrier => "barrier",
            Scenario::PoolDeadlock => "pool-deadlock",
            Scenario::ConditionVariable => "condition-variable",
        }
    }

    /// The default for `--workers`, and the range this scenario accepts with the reason for
    /// its lower bound; `None` if it has no workers knob.
    fn workers(self) -> Option<(usize, usize, usize, &'static str)> {
        Some(match self {
            Scenario::IndependentOrder | Scenario::AgreedOrder => {
                (4, 2, 16, "an order needs at least two workers")
            }
            Scenario::Mutex => (10, 2, 64, "tearing needs at least two writers"),
            Scenario::Semaphore => (100, 1, 256, ""),
            Scenario::DiningPhilosophers => (5, 2, 32, "a cycle needs at least two philosophers"),
            Scenario::Classics => (4, 2, 64, "sharing a lock needs at least two readers"),
            Scenario::Barrier => (4, 2, 32, "a barrier needs at least two parties"),
            Scenario::All
            | Scenario::Deadlock
            | Scenario::HolderDies
            | Scenario::PoolDeadlock
            | Scenario::ConditionVariable
            | Scenario::DeadlockCures => return None,
        })
    }
}

/// Every scenario the tour runs, in order.
pub const ALL: [Scenario; 12] = [
    Scenario::IndependentOrder,
    Scenario::AgreedOrder,
    Scenario::Mutex,
    Scenario::Semaphore,
    Scenario::Deadlock,
    Scenario::DiningPhilosophers,
    Scenario::HolderDies,
    Scenario::Classics,
    Scenario::DeadlockCures,
    Scenario::Barrier,
    Scenario::PoolDeadlock,
    Scenario::ConditionVariable,
];

/// Every knob's flag, as `given` names them.
pub const FLAGS: [&str; 6] = [
    "--workers",
    "--lines",
    "--limits",
    "--work-ms",
    "--meals",
    "--steps",
];

/// The `--help` line of `--workers`: each scenario's default, from `Scenario::workers`.
pub fn workers_help() -> String {
    let defaults: Vec<String> = ALL
        .iter()
        .filter_map(|s| s.workers().map(|w| format!("{} {}", s.name(), w.0)))
        .collect();
    format!(
        "Workers (threads or processes) [default: {}]",
        defaults.join(", ")
    )
}

/// The knobs as parsed: each value is clap's default where the user gave none (`workers` has
/// none: it is `None` then). `given` names the flags the user wrote: only those are checked
/// against the scenario.
#[derive(Debug, Clone)]
pub struct Knobs {
    pub workers: Option<usize>,
    pub lines: usize,
    pub limits: Vec<usize>,
    pub work_ms: u64,
    pub meals: usize,
    pub steps: usize,
    pub given: Vec<&'static str>,
}

/// The knobs checked, with defaults filled in.
#[derive(Debug)]
pub struct Resolved {
    workers: Option<usize>,
    pub lines: usize,
    pub limits: [usize; 3],
    pub work_ms: u64,
    pub meals: usize,
    pub steps: usize,
}

impl Resolved {
    /// `--workers` if given, else the scenario's default.
    pub fn workers_for(&self, scenario: Scenario) -> usize {
        self.workers
            .or(scenario.workers().map(|w| w.0))
            .unwrap_or(1)
    }
}

/// The fewest workers for which every kind has more workers than its limit (worker `i` does kind
/// `i % 3`), so that running without the semaphore can show the limit passed.
pub fn fewest_for(limits: [usize; 3]) -> usize {
    (1..)
        .find(|&n| (0..3).all(|k| (0..n).filter(|w| w % 3 == k).count() > limits[k]))
        .expect("some number of workers exceeds every limit")
}

fn usage(message: String) -> anyhow::Error {
    UsageError(message).into()
}

/// Checks `given` for `scenario` and fills in the defaults.
///
/// # Errors
/// A [`UsageError`] naming the knob and why: it does not apply here (with the scenarios it
/// applies to), or its value cannot show this scenario's lesson.
pub fn check(scenario: Scenario, given: &Knobs, processes_only: bool) -> anyhow::Result<Resolved> {
    use Scenario::*;
    let table: [(&str, &[Scenario]); 6] = [
        (
            "--workers",
            &[
                IndependentOrder,
                AgreedOrder,
                Mutex,
                Semaphore,
                DiningPhilosophers,
                Classics,
                Barrier,
            ],
        ),
        ("--lines", &[Mutex]),
        ("--limits", &[Semaphore]),
        ("--work-ms", &[Semaphore]),
        ("--meals", &[DiningPhilosophers]),
        ("--steps", &[IndependentOrder, AgreedOrder]),
    ];
    for (flag, applies) in table {
        let set = given.given.contains(&flag);
        if set && scenario != All && !applies.contains(&scenario) {
            let names: Vec<&str> = applies.iter().map(|s| s.name()).collect();
            return Err(usage(format!(
                "{flag} applies to {}, not to {}",
                names.join(", "),
                scenario.name()
            )));
        }
    }
    if scenario == DiningPhilosophers && processes_only {
        return Err(usage(
            "dining-philosophers runs with threads only (the processes' deadlock is `deadlock`)"
                .into(),
        ));
    }
    if scenario == DeadlockCures && processes_only {
        return Err(usage(
            "deadlock-cures runs with threads only (the processes' deadlock is `deadlock`)".into(),
        ));
    }
    let targets: &[Scenario] = if scenario == All { &ALL } else { &[scenario] };
    for &target in targets {
        if let (Some(n), Some((_, low, high, why))) = (given.workers, target.workers()) {
            if n < low {
                return Err(usage(format!("--workers {n} for {}: {why}", target.name())));
            }
            if n > high {
                let name = target.name();
                return Err(usage(format!("--workers {n}: {name} takes at most {high}")));
            }
        }
    }
    let limits = match given.limits[..] {
        [a, b, c] => [a, b, c],
        _ => {
            return Err(usage(format!(
                "--limits takes three numbers (kinds A, B, C), e.g. 4,2,1; got {}",
                given.limits.len()
            )))
        }
    };
    let resolved = Resolved {
        workers: given.workers,
        lines: given.lines,
        limits,
        work_ms: given.work_ms,
        meals: given.meals,
        steps: given.steps,
    };
    if targets.contains(&Semaphore) {
        let n = resolved.workers_for(Semaphore);
        let fewest = fewest_for(limits);
        if n < fewest {
            return Err(usage(format!(
                "--workers {n} with limits {},{},{}: some kind would have no more workers than \
                 its limit, so there would be nothing to limit; use at least {fewest}",
                limits[0], limits[1], limits[2]
            )));
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Parsed;

    /// The scenario and knobs of `sync-demo <args>`, parsed by clap as `main` does.
    fn parsed(args: &[&str]) -> (Scenario, Knobs) {
        let parsed = Parsed::from_args(std::iter::once("sync-demo").chain(args.iter().copied()))
            .expect("clap accepts the arguments");
        let name = match args.first().copied() {
            Some("mutex") => Scenario::Mutex,
            Some("semaphore") => Scenario::Semaphore,
            _ => Scenario::All,
        };
        (name, parsed.knobs)
    }

    #[test]
    fn a_knob_outside_its_scenarios_is_refused() {
        let (_, lines) = parsed(&["semaphore", "--lines", "3"]);
        let err = check(Scenario::Semaphore, &lines, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--lines applies to mutex, not to semaphore"
        );
        assert!(check(Scenario::Mutex, &lines, false).is_ok());
        assert!(
            check(Scenario::All, &lines, false).is_ok(),
            "the tour passes it to mutex"
        );
        let (_, defaults) = parsed(&["semaphore"]);
        assert!(
            check(Scenario::Semaphore, &defaults, false).is_ok(),
            "clap's default for --lines is not a knob the user gave"
        );
    }

    #[test]
    fn values_that_cannot_show_the_lesson_are_refused() {
        let (mutex, one) = parsed(&["mutex", "--workers", "1"]);
        let err = check(mutex, &one, false).unwrap_err();
        assert!(err.to_string().contains("two writers"), "{err}");
        assert_eq!(fewest_for([4, 2, 1]), 13);
        let (semaphore, few) = parsed(&["semaphore", "--workers", "12"]);
        assert!(check(semaphore, &few, false).is_err());
    }
}
