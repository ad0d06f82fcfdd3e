//! A worker rank: say hello, then run batches from rank 0 until told to stop.
//!
//! The batch arrives as the same byte frame a `ProcessPool` worker gets (a task's code
//! addresses plus its encoded items, and the fingerprint of the build that made them), and
//! `common::plumbing::run_batch` runs it: every rank runs this same executable, so the
//! addresses mean the same function here. A rank that runs another build (one host has a
//! rebuilt binary) calls nothing: it answers with an error that names both builds, and the
//! program reports it (see `refused`).
//!
//! A shared value (`MpiPool::share`) arrives once, before the first batch that names it, and
//! is kept here under its key (`common::plumbing::keep_shared`) until rank 0 says to forget
//! it; a task that names it gets it decoded once per rank.

use crate::backoff::{Backoff, Pause, WORKER_CAP};
use crate::launch::Role;
use crate::session::tag;
use mpi::topology::Process;
use mpi::traits::*;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// This process's rank in the pool's numbering (0 in the program, and in any non-MPI process).
static RANK: AtomicUsize = AtomicUsize::new(0);

/// The rank this code runs on: 0 for the program, 1.. for worker ranks. A task can call it to
/// say where it ran.
pub fn rank() -> usize {
    RANK.load(Relaxed)
}

/// Serves as a worker rank and exits; never returns.
pub(crate) fn serve(role: &Role) -> ! {
    let Some(universe) = mpi::initialize() else {
        eprintln!(
            "[pid {}] worker rank: MPI was already initialised",
            std::process::id()
        );
        std::process::exit(70);
    };
    let world = universe.world();
    let code = match role {
        Role::Mpirun { rank, .. } => {
            RANK.store(*rank, Relaxed);
            serve_master(&world.process_at_rank(0))
        }
        Role::Spawned { first } => {
            RANK.store(first + world.rank() as usize, Relaxed);
            match world.parent() {
                Some(parent) => serve_master(&parent.process_at_rank(0)),
                None => {
                    eprintln!("[rank {}] spawned worker without a parent", rank());
                    64
                }
            }
        }
        Role::Alone | Role::NoMpi | Role::Janitor(_) => 64,
    };
    drop(universe); // MPI_Finalize
    std::process::exit(code);
}

fn serve_master(master: &Process<'_>) -> i32 {
    let hello = format!("{}\t{}", std::process::id(), crate::launch::host_name());
    master.send_with_tag(hello.as_bytes(), tag::HELLO);
    let parent = std::os::unix::process::parent_id();
    let mut backoff = Backoff::new(WORKER_CAP);
    loop {
        let Some(message) = master.immediate_matched_probe() else {
            if let Pause::Sleep(d) = backoff.pause() {
                std::thread::sleep(d);
                // Our launcher (mpirun, or the daemon of a program started alone) is gone, so
                // is the job. Exit at once: MPI_Finalize would wait for the launcher.
                if std::os::unix::process::parent_id() != parent {
                    std::process::exit(1);
                }
            }
            continue;
        };
        backoff.reset();
        match message.1.tag() {
            tag::TASK => {
                let (frame, _) = message.matched_receive_vec::<u8>();
                // SAFETY: the frame is trusted as `run_batch` requires: (1) it came from rank 0
                // of this same MPI job (the TASK tag, on the communicator `serve` was given),
                // and rank 0 sends only frames that `encode_batch` made, unaltered (see
                // `mpi_pool.rs` `dispatch`); (2) a rank 0 of another build is caught by the
                // fingerprint every frame carries, before anything is called.
                let answer = match unsafe { common::plumbing::run_batch(&frame) } {
                    Ok(results) => match crate::session::too_large("results", results.len() + 1) {
                        None => [&[0u8][..], &results].concat(),
                        // Said, not sent: the batch fails with this, and the job goes on.
                        Some(why) => [&[1u8][..], refused(&why).as_bytes()].concat(),
                    },
                    Err(why) => [&[1u8][..], refused(&why).as_bytes()].concat(),
                };
                master.send_with_tag(&answer[..], tag::DONE);
            }
            tag::PUT => {
                // A shared value for later tasks: its encoding, then its key (`MpiPool::share`),
                // cut off the end so the value is not moved. Rank 0 sends it before any batch
                // that names the key (see `mpi_thread/traffic.rs`).
                let (mut message, _) = message.matched_receive_vec::<u8>();
                if let Some((_, key)) = message.split_last_chunk::<8>() {
                    let key = u64::from_le_bytes(*key);
                    message.truncate(message.len() - 8);
                    common::plumbing::keep_shared(key, message);
                }
            }
            tag::FORGET => {
                let (key, _) = message.0.matched_receive::<u64>();
                common::plumbing::forget_shared(key);
            }
            tag::PING => {
                let (rounds, _) = message.0.matched_receive::<u64>();
                master.send_with_tag(&0u64, tag::PONG);
                let mut ping = 0u64;
                for _ in 1..rounds {
                    master.receive_into_with_tag(&mut ping, tag::PING);
                    master.send_with_tag(&ping, tag::PONG);
                }
            }
            _ => {
                let _ = message.matched_receive_vec::<u8>();
                return 0; // STOP, or anything we do not understand
            }
        }
    }
}

/// What rank 0 is told when this rank refuses a batch: who refused, and why, with what to do
/// when the reason is a build that differs from the program's.
fn refused(why: &str) -> String {
    let who = format!(
        "worker rank {} (pid {} on {}) refused a batch: {why}",
        rank(),
        std::process::id(),
        crate::launch::host_name()
    );
    if why.starts_with("a frame from another build") {
        format!("{who}; every rank must run the same build of this program (rebuild, then copy one binary to every host)")
    } else {
        who
    }
}

#[cfg(test)]
mod tests {
    /// A refusal names the rank and, for a build mismatch, what to do about it.
    #[test]
    fn a_refusal_names_the_rank_and_the_remedy() {
        let why =
            "a frame from another build (built 1a2b3c4d, this is 5e6f7a8b): nothing was called";
        let told = super::refused(why);
        assert!(told.starts_with("worker rank 0 (pid "), "{told}");
        assert!(told.contains(why), "{told}");
        assert!(told.ends_with("copy one binary to every host)"), "{told}");
        assert!(!super::refused("a malformed batch frame").contains("build"));
    }

    /// The error a rank of another build returns: the frame of this build, its fingerprint
    /// (bytes 4..12, after the length) flipped.
    #[test]
    fn a_frame_from_another_build_is_refused_with_a_clear_message() {
        fn double(x: u64) -> u64 {
            x * 2
        }
        let mut frame = common::plumbing::encode_batch(double, &[1u64]).unwrap();
        frame[4..12].iter_mut().for_each(|b| *b = !*b);
        // SAFETY: altered on purpose, but only in its fingerprint, which is checked first.
        let why = unsafe { common::plumbing::run_batch(&frame) }.unwrap_err();
        let told = super::refused(&why);
        assert!(
            told.contains("a frame from another build (built "),
            "{told}"
        );
        assert!(
            told.contains("nothing was called; every rank must run the same build"),
            "{told}"
        );
    }
}
