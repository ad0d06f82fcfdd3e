//! A worker rank: say hello, then run batches from rank 0 until told to stop.
//!
//! The batch arrives as the same byte frame a `ProcessPool` worker gets (a task's code
//! addresses plus its encoded items), and `common::plumbing::run_batch` runs it: every rank
//! runs this same executable, so the addresses mean the same function here.

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
                let answer = match common::plumbing::run_batch(&frame) {
                    Ok(results) => [&[0u8][..], &results].concat(),
                    Err(why) => [&[1u8][..], why.as_bytes()].concat(),
                };
                master.send_with_tag(&answer[..], tag::DONE);
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
