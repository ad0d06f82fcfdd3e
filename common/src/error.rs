//! The one error type of `common`: configuration mistakes, a task that failed, a worker that died.
//!
//! It is `Serialize` because a process worker sends a task's failure back across the process
//! boundary the same way it sends a value.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Everything that can go wrong when building a pool or running a task on one.
///
/// New kinds of failure may be added, so a `match` on it needs a `_` arm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// A pool was asked for zero workers.
    ZeroWorkers,
    /// `map` was asked for chunks of zero items.
    ZeroChunk,
    /// A process pool was built with `max_tasks_per_worker(0)`: a worker that may run no task
    /// would be retired before its first, and replaced for ever.
    ZeroTasksPerWorker,
    /// The task panicked; the pool and its other tasks go on.
    Panicked {
        /// The panic message (`"<non-string payload>"` if it was not a string).
        message: String,
        /// `file:line:column` of the `panic!`, when known.
        location: Option<String>,
    },
    /// The worker process died while running the task (abort, a signal, `exit`), on its last
    /// attempt: a pool built with `ProcessPoolBuilder::retries(n)` runs a task whose worker
    /// died again, up to `n` more times, and reports the death only after the last.
    WorkerDied {
        /// The last worker's process id.
        pid: u32,
        /// How it ended: `Exit::Signal(9)` reads "killed by signal 9 (SIGKILL)".
        cause: Exit,
        /// How many times the task was started, each ending in its worker's death: 1 by
        /// default (at most once), up to `1 + n` with `retries(n)`.
        attempts: u32,
    },
    /// The task ran past the pool's `ProcessPoolBuilder::task_timeout`: its worker was killed
    /// and replaced, and the other tasks went on.
    TaskTimedOut {
        /// The pool's limit per task.
        limit: Duration,
    },
    /// The pool's initializer panicked (`initializer`, `initializer_with`), on either pool:
    /// `build` fails with it, and so do a process pool's tasks while no replacement worker
    /// can get past it.
    InitializerPanicked {
        /// The panic message (`"<non-string payload>"` if it was not a string).
        message: String,
        /// `file:line:column` of the `panic!`, when known.
        location: Option<String>,
    },
    /// The pool was shut down (`Pool::shutdown`): it takes no new tasks.
    ShutDown,
    /// A worker process could not be started or did not finish its handshake in time.
    Spawn(String),
    /// The task was cancelled (`TaskHandle::cancel`, a map's deadline) or its pool terminated
    /// before it finished.
    Cancelled,
    /// `wait_timeout` gave up; the task is still pending and the handle can be waited on again.
    Timeout(Duration),
    /// The task's result was already taken from its handle.
    AlreadyTaken,
    /// An argument or result could not be (de)serialized for the trip to a worker process.
    Serde(String),
}

/// How a worker process ended, for [`Error::WorkerDied`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Exit {
    /// It exited (called `exit`, or returned from `main`) with this status code.
    Code(i32),
    /// A signal ended it: 9 is `SIGKILL`, 6 `SIGABRT` (from `abort`), 11 `SIGSEGV`.
    Signal(i32),
    /// It could not be reaped, so how it ended is not known.
    Unknown,
}

impl From<std::process::ExitStatus> for Exit {
    fn from(status: std::process::ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Unknown,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exited with code {code}"),
            Exit::Signal(signal) => write!(
                f,
                "killed by signal {signal} ({})",
                crate::demo::sys::signal_name(*signal)
            ),
            Exit::Unknown => write!(f, "ended in a way that could not be read"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroWorkers => write!(f, "a pool needs at least one worker (got 0)"),
            Error::ZeroChunk => write!(f, "a chunk needs at least one item (got 0)"),
            Error::ZeroTasksPerWorker => write!(
                f,
                "a worker must be allowed at least one task (got max_tasks_per_worker(0))"
            ),
            Error::Panicked {
                message,
                location: Some(at),
            } => {
                write!(f, "task panicked at {at}: {message}")
            }
            Error::Panicked {
                message,
                location: None,
            } => write!(f, "task panicked: {message}"),
            Error::WorkerDied {
                pid,
                cause,
                attempts: 0 | 1,
            } => write!(f, "worker process {pid} died during the task: {cause}"),
            Error::WorkerDied {
                pid,
                cause,
                attempts,
            } => write!(
                f,
                "worker process {pid} died during the task's attempt {attempts} of {attempts} \
                 (each attempt's worker died): {cause}"
            ),
            Error::TaskTimedOut { limit } => write!(
                f,
                "the task ran past the pool's task_timeout of {limit:?}: its worker was killed"
            ),
            Error::InitializerPanicked {
                message,
                location: Some(at),
            } => write!(f, "the pool's initializer panicked at {at}: {message}"),
            Error::InitializerPanicked {
                message,
                location: None,
            } => write!(f, "the pool's initializer panicked: {message}"),
            Error::ShutDown => write!(f, "the pool was shut down: it takes no new tasks"),
            Error::Spawn(why) => write!(f, "could not start a worker process: {why}"),
            Error::Cancelled => write!(f, "the task was cancelled, or its pool terminated"),
            Error::Timeout(after) => write!(f, "the task did not finish within {after:?}"),
            Error::AlreadyTaken => write!(f, "the task's result was already taken"),
            Error::Serde(why) => write!(f, "could not move a value to or from a worker: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// A panic caught while running a pool's initializer, as the error both pools report:
    /// [`Error::InitializerPanicked`] with the panic's message and place. Other errors (an
    /// argument that did not decode) are left as they are.
    pub(crate) fn in_initializer(self) -> Error {
        match self {
            Error::Panicked { message, location } => {
                Error::InitializerPanicked { message, location }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            Error::ZeroWorkers.to_string(),
            "a pool needs at least one worker (got 0)"
        );
        let died = Error::WorkerDied {
            pid: 42,
            cause: Exit::Code(3),
            attempts: 1,
        };
        assert_eq!(
            died.to_string(),
            "worker process 42 died during the task: exited with code 3"
        );
        let retried = Error::WorkerDied {
            pid: 42,
            cause: Exit::Signal(9),
            attempts: 3,
        };
        assert_eq!(
            retried.to_string(),
            "worker process 42 died during the task's attempt 3 of 3 (each attempt's worker \
             died): killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            Error::ZeroTasksPerWorker.to_string(),
            "a worker must be allowed at least one task (got max_tasks_per_worker(0))"
        );
    }
}
