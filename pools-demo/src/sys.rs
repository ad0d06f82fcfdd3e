//! `fork` without `exec`, and reaping a forked child by its pid: the two calls `start-methods` needs
//! that std does not offer. Every `unsafe` block of this crate is here.
//!
//! After `fork` in a program with threads, the child is a copy of the whole memory but holds
//! only the thread that called `fork`. POSIX lets such a child call only async-signal-safe
//! functions until it calls `exec` or `_exit`: any lock another thread held at that moment is
//! held forever in the child (its owner was not copied), and `malloc`, `println!` or a std
//! `Mutex` may wait on such a lock. So a caller does not give the child code to run: it picks a
//! [`Plan`], whose every step below is a plain system call (`prctl`, `getppid`, `write`,
//! `execv`, `_exit`), except the one step that shows the hazard, [`Plan::TakeLock`].

use std::ffi::{c_char, CString};
use std::io;
use std::io::PipeWriter;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Mutex;

/// A program and its arguments, made ready for `execv` before the fork (the child must not
/// allocate).
pub struct ExecArgs {
    strings: Vec<CString>,
    pointers: Vec<*const c_char>,
}

impl ExecArgs {
    /// `program` with `args` (`args[0]` is the name the program sees).
    ///
    /// # Errors
    /// A string holds a NUL byte.
    pub fn new(program: &std::path::Path, args: &[&str]) -> io::Result<ExecArgs> {
        use std::os::unix::ffi::OsStrExt;
        let mut strings = vec![CString::new(program.as_os_str().as_bytes())?];
        for arg in args {
            strings.push(CString::new(*arg)?);
        }
        // The pointers stay valid as long as `strings`, which this struct owns and never changes.
        let mut pointers: Vec<*const c_char> = strings[1..].iter().map(|s| s.as_ptr()).collect();
        pointers.push(std::ptr::null());
        Ok(ExecArgs { strings, pointers })
    }
}

/// What a forked child does, and nothing else.
pub enum Plan<'a> {
    /// Ends at once with status 0: the cost of the fork alone.
    Exit,
    /// Replaces itself with a fresh program (`execv`); status 127 if that fails.
    Exec(&'a ExecArgs),
    /// Writes `f` to `pipe`, locks `lock`, writes `L` to `pipe`, ends with status 0. The lock step
    /// is the hazard on show: a std `Mutex` is not async-signal-safe. On Linux it is an atomic
    /// and a `futex` wait (no allocation, no other lock), so trying it is sound; but if another
    /// thread held it at the fork, nobody in the child will ever release it, and the child
    /// waits forever. The parent must bound its wait and kill the child.
    TakeLock {
        lock: &'static Mutex<()>,
        pipe: &'a PipeWriter,
    },
}

/// Forks; the child carries out `plan` and never returns here. Returns the child's pid. The
/// child dies with this process (`PR_SET_PDEATHSIG`), so even a `SIGKILL` of the parent leaves
/// no child behind; register it with `common::demo::cleanup::track_child` for Ctrl-C.
///
/// # Errors
/// The `fork` error (`EAGAIN`: too many processes).
pub fn fork_with(plan: Plan<'_>) -> io::Result<u32> {
    let parent = std::process::id();
    // SAFETY: fork takes no arguments. What can go wrong after it is the child's doing, and the
    // child runs only `child_side` below, which makes async-signal-safe calls only (and the
    // documented lock of `Plan::TakeLock`) and ends in `_exit` or `execv`: it never returns
    // into the caller's code, never unwinds, allocates nothing and runs no destructor.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => child_side(plan, parent),
        pid => Ok(pid as u32),
    }
}

/// The child's whole life after `fork`.
fn child_side(plan: Plan<'_>, parent: u32) -> ! {
    // SAFETY: prctl with plain integers (a raw system call, async-signal-safe in practice); and
    // getppid takes nothing. If the parent ended before the prctl, it would never fire: check.
    let orphan = unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::getppid() as u32 != parent
    };
    if !orphan {
        match plan {
            Plan::Exit => {}
            Plan::Exec(args) => {
                // SAFETY: both pointers come from `ExecArgs`, which keeps the C strings and a
                // null-terminated array of pointers to them alive; execv returns only on failure.
                unsafe { libc::execv(args.strings[0].as_ptr(), args.pointers.as_ptr()) };
                exit(127);
            }
            Plan::TakeLock { lock, pipe } => {
                let fd = pipe.as_raw_fd();
                say(fd, b'f');
                // The hazard (see `Plan::TakeLock`): this waits forever if the lock was held.
                let _held = lock.lock();
                say(fd, b'L');
            }
        }
    }
    exit(0)
}

/// Writes one byte to `fd` (a failed write is ignored: the parent then sees nothing).
fn say(fd: RawFd, byte: u8) {
    // SAFETY: write reads one byte from a live local; `fd` is the write end of the pipe the plan
    // borrowed (open: the borrow outlives the fork). write is async-signal-safe.
    unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
}

/// `_exit`: ends the child at once, running nothing of the parent's copied state.
fn exit(code: i32) -> ! {
    // SAFETY: _exit takes an integer and never returns; it is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// Reaps child `pid`, waiting for it to end (call it once `common::demo::sys::has_exited`
/// says it has, and it returns at once).
///
/// # Errors
/// The `waitpid` error (`ECHILD`: not a child of ours, or reaped already).
pub fn reap(pid: u32) -> io::Result<ExitStatus> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes one int into `status`, a live local.
        match unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) } {
            -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            -1 => return Err(io::Error::last_os_error()),
            _ => return Ok(ExitStatus::from_raw(status)),
        }
    }
}
