//! What every demo's `main` shares: bad input ends with exit status 2, anything else with 1.
//!
//! clap already exits with status 2 on arguments it can parse-check (unknown scenario, a value
//! out of its `range`). Checks that need more than one argument, or the machine (is there memory
//! for `--size`?), return a [`UsageError`], which `main` maps to status 2 as well:
//!
//! ```
//! use std::process::ExitCode;
//!
//! fn run(workers: usize) -> anyhow::Result<()> {
//!     if workers == 0 {
//!         return Err(common::cli::UsageError("--workers must be at least 1".into()).into());
//!     }
//!     Ok(())
//! }
//!
//! let code = match run(0) {
//!     Ok(()) => ExitCode::SUCCESS,
//!     Err(e) => common::cli::fail(format!("{e:#}"), e.downcast_ref::<common::cli::UsageError>().is_some()),
//! };
//! assert_eq!(code, ExitCode::from(2));
//! ```

use std::process::ExitCode;

/// Bad input found after parsing. Its message names the argument and the problem.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Reports a failure of `main` and returns its exit status: prints `error: <message>` and
/// returns 2 for bad input, 1 for anything else.
///
/// While an interrupt is under way, the failure is most likely a child that the interrupt
/// handler just killed: then nothing is printed, and the status is the handler's (see
/// [`exit_code`]).
pub fn fail(message: impl std::fmt::Display, is_usage_error: bool) -> ExitCode {
    if crate::cleanup::interrupted_by().is_none() {
        eprintln!("error: {message}");
    }
    exit_code(is_usage_error)
}

/// Status 2 for bad input, 1 for any other failure.
///
/// If the program is being interrupted, the failure is most likely a child that the interrupt
/// handler just killed: the handler is about to end the program with `128 + signal`, so this
/// waits for it (up to 3 s) rather than race it to a misleading status 1.
pub fn exit_code(is_usage_error: bool) -> ExitCode {
    if let Some(signal) = crate::cleanup::interrupted_by() {
        std::thread::sleep(std::time::Duration::from_secs(3));
        return ExitCode::from(128 + signal as u8);
    }
    if is_usage_error {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}
