//! The worker process's side: check the line, say hello, then run batches until the pool hangs up.
//!
//! A worker is this same program started again with [`ENV_WORKER`] set and one end of a socket
//! pair as its standard input (see `link.rs`). [`crate::init`], the first line of `main`, calls
//! [`run_if_worker`], which never returns in a worker: the program's own `main` does not run on.

use super::answer::{self, Answer};
use super::call::{self, Input, Output};
use super::kept::{self, Buf, Kept};
use super::link::{FromWorker, ENV_ANNOUNCE, ENV_INIT, ENV_WORKER, INIT_FRAME};
use super::owned_bytes::{opens_lone_byte_string, LONE_HEAD, WORTH_IT};
use super::wire::{unframe, CALL_LEN};
use crate::sys;
use std::io::{self, BufReader, Read};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;

/// What a worker exits with when it cannot serve (`EX_SOFTWARE`).
const CANNOT_SERVE: i32 = 70;

/// Whether this process was started as a pool worker. Read once: [`run_if_worker`] removes the
/// variable so that processes a task starts are not taken for workers.
fn started_as_worker() -> bool {
    static WORKER: OnceLock<bool> = OnceLock::new();
    *WORKER.get_or_init(|| {
        let worker = std::env::var_os(ENV_WORKER).is_some();
        std::env::remove_var(ENV_WORKER);
        worker
    })
}

/// If this process was started as a pool worker, runs the worker loop and exits; else returns.
pub(crate) fn run_if_worker() {
    if !started_as_worker() {
        return;
    }
    if !sys::is_main_thread() {
        // Typically a libtest `#[test]` that calls `init`: the test harness is running in this
        // worker, with other tests on other threads. Serving from here would run them too.
        refuse(
            "common::init() was called on a thread other than the main thread; \
             call it as the first line of `main` (a ProcessPool cannot run inside a libtest \
             #[test]: use a test target with `harness = false`, see common's README)",
        );
    }
    let code = match serve() {
        Ok(()) => 0,
        // The pool hung up mid-answer (its process ended without dropping the pool): nobody
        // is left to tell, and the user's terminal should not hear about it either.
        Err(why) if pool_is_gone(&*why) => 0,
        Err(why) => {
            eprintln!("[pid {}] pool worker stopped: {why}", std::process::id());
            CANNOT_SERVE
        }
    };
    std::process::exit(code);
}

/// Whether `error` says the pool's end of the line is closed.
fn pool_is_gone(error: &(dyn std::error::Error + 'static)) -> bool {
    error.downcast_ref::<std::io::Error>().is_some_and(|e| {
        matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::UnexpectedEof
        )
    })
}

/// In a process started as a worker whose `main` reached a pool before `init` diverted it: tell
/// the pool why, and stop before this copy can start workers of its own (a fork storm).
pub(crate) fn refuse_if_worker() {
    if started_as_worker() {
        refuse(
            "this program builds a ProcessPool before calling common::init(); \
             call common::init() as the first line of `main`",
        );
    }
}

fn refuse(why: &str) -> ! {
    eprintln!("[pid {}] not a pool worker: {why}", std::process::id());
    // Best effort: the pool learns the reason at once instead of seeing a bare exit status.
    if let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() {
        let _ = FromWorker::CannotServe(why.to_string()).write_to(&mut UnixStream::from(fd));
    }
    sys::exit_now(CANNOT_SERVE)
}

fn serve() -> Result<(), Box<dyn std::error::Error>> {
    // Move the pool's socket off descriptor 0, to a close-on-exec descriptor of our own, so no
    // process a task starts inherits it, and nothing a task reads from stdin comes from the pool.
    let line = UnixStream::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    sys::stdin_from_null()?;
    // Who made this socket pair? It must be our parent, running as our user: anything else on
    // descriptor 0 (a terminal, a pipe, a socket of someone else's) is not a pool.
    let (creator, uid) = sys::peer_credentials(line.as_fd())
        .map_err(|e| format!("standard input is not the pool's socket ({e})"))?;
    let (parent, me) = (sys::parent_pid(), sys::user_id());
    if creator != parent || uid != me {
        return Err(format!(
            "the socket was made by pid {creator} (uid {uid}), not by our parent {parent} (uid {me})"
        )
        .into());
    }
    crate::panics::install_hook();
    let code = sys::executable_code();
    // Read now, not on the first task: every frame's build is checked against it (see
    // `call::run_input`; a frame of another build is answered `Refused`).
    call::build_fingerprint();
    let mut to_pool = line.try_clone()?;
    let mut from_pool = BufReader::with_capacity(64 * 1024, line);
    // Both kept from task to task: what a batch arrives in, and what its answer is encoded into
    // (`answer.rs` gives the measured reason). A large one is freed once the worker is idle.
    let (mut body, mut answer) = (Vec::new(), Answer::new());
    // The memory of the last large `ByteBuf` or `Array` result, to receive the next one into
    // (`kept.rs`).
    let mut kept = Kept::default();
    if let Some(init) = initializer() {
        // Before the hello: a pool whose initializer fails learns it while starting the worker
        // (`new` fails; a replacement retries with back-off), never by a silent death.
        if let Err(error) = run_initializer(init, &mut from_pool, &mut body, &code) {
            // The pool reports it (in `new`'s error, or as the error of the tasks that no
            // worker can run while none gets past it).
            let _ = FromWorker::InitFailed(error).write_to(&mut to_pool);
            sys::exit_now(CANNOT_SERVE);
        }
    }
    let announce = std::env::var_os(ENV_ANNOUNCE).is_some();
    std::env::remove_var(ENV_ANNOUNCE);
    FromWorker::Hello {
        pid: std::process::id(),
    }
    .write_to(&mut to_pool)?;
    // End of file (the pool dropped its end: shutdown, or its process died) is time to go.
    loop {
        if kept.holds() || answer::is_large(&body) || answer.is_large() {
            // Wait for the next batch for at most `IDLE`, then free what grew large for the
            // last ones (the worker's side of the size policy in `kept.rs`).
            let waiting = from_pool.buffer().is_empty();
            if waiting && !sys::wait_readable(from_pool.get_ref().as_fd(), kept::IDLE)? {
                kept.free();
                answer::trim(&mut body);
                answer.trim();
            }
        }
        let Some(frame) = read_frame(&mut from_pool, &mut body, &mut kept)? else {
            break;
        };
        if announce {
            FromWorker::Started.write_to(&mut to_pool)?;
        }
        // Shared values whose pool let them go are freed before the next task (`shared`).
        crate::shared::sweep();
        let start = sys::monotonic_nanos();
        let short = "a frame too short to hold a call";
        let records = answer.records();
        let outcome = match frame {
            Frame::InBody => {
                let (call, items) = unframe(&body).ok_or(short)?;
                call::run_input(&call, Input::Received(items), &code, records)
            }
            Frame::ByteString { call, payload } => {
                let (call, _) = unframe(&call).ok_or(short)?;
                call::run_input(&call, Input::ByteString(payload), &code, records)
            }
        };
        match outcome {
            Ok(Output::Encoded) => {
                let end = sys::monotonic_nanos();
                answer.send_done(&mut to_pool, start, end)?;
            }
            Ok(Output::Streamed(result)) => {
                let end = sys::monotonic_nanos();
                FromWorker::write_done_head(&mut to_pool, start, end, result.len())?;
                // An error here leaves the line out of step: this worker stops, and the pool
                // reports the batch as the work of a worker that died.
                result.write_to(&mut to_pool)?;
                if let Some(memory) = result.into_buf() {
                    kept.keep(memory);
                }
            }
            Err(why) => {
                FromWorker::Refused(why.clone()).write_to(&mut to_pool)?;
                return Err(why.into());
            }
        }
    }
    Ok(())
}

/// The pool's initializer, if it has one (see `ENV_INIT`).
enum Init {
    /// A plain `fn()`: its distance from the anchor.
    Plain(i64),
    /// `initializer_with`: its call and argument are the first frame on the line.
    Frame,
}

fn initializer() -> Option<Init> {
    let value = std::env::var(ENV_INIT).ok()?;
    std::env::remove_var(ENV_INIT);
    if value == INIT_FRAME {
        return Some(Init::Frame);
    }
    value.parse().ok().map(Init::Plain)
}

/// Runs the pool's initializer as a task is run: a panic becomes
/// [`Error::InitializerPanicked`](crate::Error::InitializerPanicked) with its message and
/// place (the hook `serve` installed notes the place, and prints nothing), the same error a
/// thread pool's initializer gives.
fn run_initializer(
    init: Init,
    from_pool: &mut impl Read,
    body: &mut Vec<u8>,
    code: &[std::ops::Range<usize>],
) -> Result<(), crate::Error> {
    use crate::Error;
    let outcome = match init {
        Init::Plain(distance) => crate::panics::catch(|| call::run_plain(distance, code))
            .and_then(|called| called.map_err(Error::Spawn)),
        Init::Frame => {
            let refused = |why: String| Error::Spawn(format!("the initializer's frame: {why}"));
            let frame = read_frame(from_pool, body, &mut Kept::default())
                .map_err(|e| refused(e.to_string()))?
                .ok_or_else(|| refused("the pool hung up first".into()))?;
            let mut out = Vec::new();
            let ran = match frame {
                Frame::InBody => match unframe(body) {
                    Some((call, items)) => {
                        call::run_input(&call, Input::Received(items), code, &mut out)
                    }
                    None => Err("a frame too short to hold a call".into()),
                },
                Frame::ByteString { call, payload } => match unframe(&call) {
                    Some((call, _)) => {
                        call::run_input(&call, Input::ByteString(payload), code, &mut out)
                    }
                    None => Err("a frame too short to hold a call".into()),
                },
            };
            match ran.map_err(refused)? {
                // Its result is `()`: never large, never streamed.
                Output::Encoded => call::decode_results::<()>(&out, 1)
                    .into_first()
                    .unwrap_or(Ok(())),
                Output::Streamed(_) => Ok(()),
            }
        }
    };
    outcome.map_err(Error::in_initializer)
}

/// What [`read_frame`] read.
enum Frame {
    /// The frame's body, its call and then its records, is in the reused buffer.
    InBody,
    /// A batch of one large byte string: its call, and the string's bytes in a buffer of their
    /// own, which becomes the argument itself (see `owned_bytes.rs`).
    ByteString { call: [u8; CALL_LEN], payload: Buf },
}

/// Reads the next frame; `None` at a clean end of file.
///
/// `body` is reused from frame to frame, and filled as it is (no zero-filling first): a worker
/// that receives large batches touches fresh memory only when a batch is larger than any before.
/// A lone byte string is received into the `kept` buffer if it fits (see `kept.rs`), which is
/// freed otherwise.
fn read_frame(
    from: &mut impl Read,
    body: &mut Vec<u8>,
    kept: &mut Kept,
) -> io::Result<Option<Frame>> {
    let mut head = [0u8; 4];
    match from.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(head) as usize;
    body.clear();
    if len < CALL_LEN + LONE_HEAD + WORTH_IT {
        kept.free();
        read_into(from, body, len)?;
        return Ok(Some(Frame::InBody));
    }
    // Large: read the call and the first record's head apart, to see if it is a lone string.
    let mut call = [0u8; CALL_LEN];
    let mut lone = [0u8; LONE_HEAD];
    from.read_exact(&mut call)?;
    from.read_exact(&mut lone)?;
    let rest = len - CALL_LEN - LONE_HEAD;
    if opens_lone_byte_string(&lone, len - CALL_LEN) {
        let payload = match kept.take_lone(rest) {
            Some(Buf::Words(mut words)) => {
                from.read_exact(bytemuck::cast_slice_mut(&mut words))?;
                Buf::Words(words)
            }
            Some(Buf::Bytes(mut bytes)) => {
                read_into(from, &mut bytes, rest)?;
                Buf::Bytes(bytes)
            }
            None => {
                let mut bytes = Vec::new();
                read_into(from, &mut bytes, rest)?;
                Buf::Bytes(bytes)
            }
        };
        return Ok(Some(Frame::ByteString { call, payload }));
    }
    kept.free();
    body.extend_from_slice(&call);
    body.extend_from_slice(&lone);
    read_into(from, body, rest)?;
    Ok(Some(Frame::InBody))
}

/// Appends exactly `len` bytes from `from` to `buf`, reserving room for them first.
fn read_into(from: &mut impl Read, buf: &mut Vec<u8>, len: usize) -> io::Result<()> {
    super::big_buffer::reserve_exact(buf, len).map_err(io::Error::other)?;
    let got = from.take(len as u64).read_to_end(buf)?;
    if got < len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}
