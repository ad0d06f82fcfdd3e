//! What every demo's `main` shares: one exit-status policy, the same in every demo.
//!
//! | status | meaning | on stderr |
//! |---|---|---|
//! | 0 | every check passed | nothing of the demo's own |
//! | 1 | a check failed, or the demo itself went wrong | `error: ...` |
//! | 2 | bad input: the command line asks what cannot be done | `error: ...`, the flag |
//! | 71 | this machine cannot run it: a resource is missing or full | `error: ...`, the fix |
//! | 130 | interrupted (Ctrl-C) | nothing |
//! | 141 | stdout's reader left (`demo \| head`) | nothing |
//!
//! 71 is `EX_OSERR` of `sysexits.h` ([`MACHINE_STATUS`]): a read-only, missing or full
//! `TMPDIR`, a full `/dev/shm`, too few descriptors (`ulimit -n`) or processes (`ulimit -u`).
//! See [`crate::demo::machine`] for how such a failure is recognised.
//!
//! clap checks what it can parse-check (unknown scenario, a value out of its `range`); `main`
//! hands its refusal to [`refuse`], which prints it on one line and exits with status 2. Checks
//! that need more than one argument, or the machine (could `--size` ever fit in its memory?), return a
//! [`UsageError`], which `main` maps to status 2 as well:
//!
//! ```
//! use std::process::ExitCode;
//!
//! fn run(workers: usize) -> anyhow::Result<()> {
//!     if workers == 0 {
//!         return Err(common::demo::cli::UsageError("--workers must be at least 1".into()).into());
//!     }
//!     Ok(())
//! }
//!
//! let code = match run(0) {
//!     Ok(()) => ExitCode::SUCCESS,
//!     Err(e) => common::demo::cli::exit_status(e.as_ref()),
//! };
//! assert_eq!(code, ExitCode::from(2));
//! ```
//!
//! Every main ends with [`exit_status`], which also ends quietly when stdout was closed early
//! (`demo | head -1`): see [`is_broken_pipe`]. A main that tells a closed stdout apart itself
//! calls [`fail_with`] for every other error.

pub use crate::demo::machine::{MachineError, MACHINE_STATUS};
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

/// The status of a program whose reader went away (`demo | head -1`): 141, what a shell shows
/// for a program killed by `SIGPIPE`, as `yes | head -1` is.
pub const BROKEN_PIPE_STATUS: u8 = 128 + 13;

/// Whether `err`, or any error in its chain of sources, is an I/O error of kind `BrokenPipe`:
/// the reader of stdout has gone (`demo | head -1`).
///
/// Rust ignores `SIGPIPE`, so a write to a closed pipe returns `EPIPE` instead of ending the
/// program the way C tools end; `println!` would panic on it, and `writeln!` returns it. A demo
/// writes through `writeln!` to a locked stdout, lets the error travel up to `main`, and there
/// ends quietly: nobody is left to read a message.
///
/// ```
/// let closed = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
/// assert!(common::demo::cli::is_broken_pipe(&closed));
/// let wrapped = std::io::Error::other(closed);
/// assert!(common::demo::cli::is_broken_pipe(&wrapped));
/// assert!(!common::demo::cli::is_broken_pipe(&std::io::Error::other("disk full")));
/// ```
pub fn is_broken_pipe(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
            // An io::Error made with `io::Error::other(inner)` hides `inner` from `source()`.
            if let Some(inner) = io.get_ref() {
                if is_broken_pipe(inner) {
                    return true;
                }
            }
        }
        next = e.source();
    }
    false
}

/// Whether `err` or one of its sources is a `T` (anyhow's `downcast_ref` sees only the top),
/// looking inside `io::Error`s made with `io::Error::other` too.
///
/// ```
/// use common::demo::cli::{find_in_chain, UsageError};
/// let wrapped = std::io::Error::other(UsageError("--workers 0".into()));
/// assert!(find_in_chain::<UsageError>(&wrapped));
/// assert!(!find_in_chain::<UsageError>(&std::io::Error::other("disk full")));
/// ```
pub fn find_in_chain<T: std::error::Error + 'static>(
    err: &(dyn std::error::Error + 'static),
) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.is::<T>()
            || e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|i| i.is::<T>())
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// The exit status for `main`'s error, after saying what went wrong (one `error:` line):
///
/// - interrupted: nothing printed, the interrupt's status (see [`exit_code`]);
/// - stdout closed by its reader: nothing printed, [`BROKEN_PIPE_STATUS`];
/// - a [`UsageError`] anywhere in the chain: status 2;
/// - a resource this machine lacks ([`crate::demo::machine::lack`]): [`MACHINE_STATUS`];
/// - anything else: status 1.
///
/// The message is the chain of errors joined by `: `, as anyhow's `{:#}` prints it, and for a
/// lacking resource, what to change. With anyhow:
/// `Err(e) => common::demo::cli::exit_status(e.as_ref())`.
///
/// ```
/// let err = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
/// assert_eq!(common::demo::cli::exit_status(&err), std::process::ExitCode::from(141));
/// ```
pub fn exit_status(err: &(dyn std::error::Error + 'static)) -> ExitCode {
    // First: during an interrupt, a broken pipe is most likely a killed child's, not stdout's,
    // and the interrupt handler is about to end the program with its own status.
    if crate::cleanup::interrupted_by().is_some() {
        return exit_code(false);
    }
    if is_broken_pipe(err) {
        // Ctrl-C reaches the children too, and a dead child's pipe breaks a moment before our
        // own handler records the interrupt: give it that moment (see `fail`).
        std::thread::sleep(std::time::Duration::from_millis(100));
        if crate::cleanup::interrupted_by().is_some() {
            return exit_code(false);
        }
        return ExitCode::from(BROKEN_PIPE_STATUS);
    }
    fail_with(err)
}

/// Reports `err` on one line and returns its status: 2 for a [`UsageError`] in its chain,
/// [`MACHINE_STATUS`] for a resource this machine lacks (the line then says what to change),
/// 1 for anything else. Nothing is printed during an interrupt (see [`fail`]).
///
/// ```
/// use common::demo::cli::{fail_with, MachineError};
/// let full = std::io::Error::other(MachineError("/dev/shm is full".into()));
/// assert_eq!(fail_with(&full), std::process::ExitCode::from(71));
/// let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
/// assert_eq!(fail_with(&emfile), std::process::ExitCode::from(71));
/// assert_eq!(fail_with(&std::io::Error::other("3, not 4")), std::process::ExitCode::from(1));
/// ```
pub fn fail_with(err: &(dyn std::error::Error + 'static)) -> ExitCode {
    let mut message = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        message.push_str(": ");
        message.push_str(&e.to_string());
        next = e.source();
    }
    if find_in_chain::<UsageError>(err) {
        return fail(message, true);
    }
    let Some(lack) = crate::demo::machine::lack(err) else {
        return fail(message, false);
    };
    // A MachineError's own words are the whole message; an errno's advice follows the chain.
    if !message.contains(&lack) {
        message = format!("{message} ({lack})");
    }
    report(message, Some(MACHINE_STATUS))
}

/// Refuses a flag given for a scenario it does not apply to.
///
/// `table` lists each flag with the scenarios it applies to; `given` the flags the user wrote
/// (clap's `ArgMatches::value_source` tells them from defaults). Under `all`, a flag that applies
/// to any scenario is accepted: the tour runs those scenarios with it.
///
/// ```
/// use common::demo::cli::check_flags;
/// let table: &[(&str, &[&str])] = &[("--size", &["borrow-stack"])];
/// assert!(check_flags("borrow-stack", &["--size"], table).is_ok());
/// assert!(check_flags("all", &["--size"], table).is_ok());
/// let err = check_flags("crash", &["--size"], table).unwrap_err();
/// assert_eq!(err.to_string(), "--size does not apply to crash; it applies to borrow-stack");
/// ```
///
/// # Errors
/// A [`UsageError`] naming the first flag that does not apply, and where it does.
pub fn check_flags(
    scenario: &str,
    given: &[&str],
    table: &[(&str, &[&str])],
) -> Result<(), UsageError> {
    for flag in given {
        let Some((_, applies)) = table.iter().find(|(f, _)| f == flag) else {
            continue;
        };
        if scenario != "all" && !applies.contains(&scenario) {
            return Err(UsageError(format!(
                "{flag} does not apply to {scenario}; it applies to {}",
                applies.join(", ")
            )));
        }
    }
    Ok(())
}

/// Reports a failure of `main` and returns its exit status: prints `error: <message>` and
/// returns 2 for bad input, 1 for anything else.
///
/// While an interrupt is under way, the failure is most likely a child that the interrupt
/// handler just killed: then nothing is printed, and the status is the handler's (see
/// [`exit_code`]).
pub fn fail(message: impl std::fmt::Display, is_usage_error: bool) -> ExitCode {
    report(message, is_usage_error.then_some(2))
}

/// Prints `error: <message>` unless interrupted, and returns `status` (1 if `None`), or the
/// interrupt's.
fn report(message: impl std::fmt::Display, status: Option<u8>) -> ExitCode {
    if status != Some(2) {
        // Ctrl-C reaches the children too: one may die, and fail us, a moment before our own
        // handler records the interrupt. Give it that moment, so the failure is not reported.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if crate::cleanup::interrupted_by().is_none() {
        eprintln!("error: {message}");
    }
    match status {
        Some(status) if crate::cleanup::interrupted_by().is_none() => ExitCode::from(status),
        _ => exit_code(false),
    }
}

/// Ends the program for arguments the parser refused: one line on stderr, exit status 2.
///
/// `rendered` is the parser's whole message (clap's `Error::render()`): its first line, any
/// `tip:` line it offers, and where to look for more are joined into one line, as for every
/// other bad input; the usage block clap prints after them is left out.
///
/// ```
/// let clap = "error: unexpected argument '--bogus' found\n\n  tip: a similar argument exists: \
///             '--rounds'\n\nUsage: shm-demo [OPTIONS]\n\nFor more information, try '--help'.\n";
/// assert_eq!(
///     common::demo::cli::usage_line(clap),
///     "error: unexpected argument '--bogus' found (tip: a similar argument exists: '--rounds'); \
///      see --help"
/// );
/// let missing = "error: the following required arguments were not provided:\n  <NAME>\n\n\
///                Usage: mpi-demo exercise check <NAME>\n\nFor more information, try '--help'.\n";
/// assert_eq!(
///     common::demo::cli::usage_line(missing),
///     "error: the following required arguments were not provided: <NAME>; see --help"
/// );
/// ```
pub fn usage_line(rendered: &str) -> String {
    let mut lines = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .peekable();
    let first = lines.next().unwrap_or("error: bad arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let mut line = format!("error: {first}");
    // A first line ending in ':' introduces a list (the missing arguments): the list is the
    // message, so it comes along, up to the usage block.
    if first.ends_with(':') {
        let mut listed = Vec::new();
        while let Some(item) = lines.next_if(|l| !l.starts_with("Usage:") && !l.starts_with("tip:"))
        {
            listed.push(item);
        }
        line.push(' ');
        line.push_str(&listed.join(", "));
    }
    let tips: Vec<&str> = lines.filter(|l| l.starts_with("tip:")).collect();
    if !tips.is_empty() {
        line.push_str(&format!(" ({})", tips.join("; ")));
    }
    line + "; see --help"
}

/// Prints [`usage_line`]`(rendered)` on stderr and exits with status 2.
pub fn refuse(rendered: impl std::fmt::Display) -> ! {
    eprintln!("{}", usage_line(&rendered.to_string()));
    std::process::exit(2)
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

/// Set once a write to stdout failed because its reader is gone.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// This program's stdout, remembering a write to a closed pipe, so that `main` can tell a reader
/// that left (`demo | head -1`: end quietly) from a child's pipe that broke (an error).
#[derive(Debug)]
pub struct Stdout(std::io::Stdout);

/// The demo's stdout (see [`Stdout`]).
pub fn stdout() -> Stdout {
    Stdout(std::io::stdout())
}

/// Whether a write through [`stdout`] found its reader gone.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

fn note_closed(err: std::io::Error) -> std::io::Error {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    err
}

impl std::io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(note_closed)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(note_closed)
    }
}
