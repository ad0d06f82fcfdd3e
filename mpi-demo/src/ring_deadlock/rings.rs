//! The ring's team tasks: a rank's part of a ring (three ways), and the eager-limit probe.

use crate::rank_tag;
use crate::team::{self, Team};
use common::demo::narrate::plural;
use mpi::traits::*;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// How long an immediate send is given to complete before its receive is posted.
const PROBE_WAIT: Duration = Duration::from_millis(20);
/// What each rank prints just before its blocking send; the watchdog counts these lines.
pub(super) const SENDING: &str = "blocking send of";

/// How a rank passes its message on around the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Way {
    /// `send`, then `receive`: deadlocks past the eager limit.
    Blocking,
    /// `MPI_Sendrecv`: both at once.
    SendRecv,
    /// `MPI_Isend`, `receive`, then wait for the send.
    Immediate,
}

impl Way {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Way::Blocking => "blocking send, then receive",
            Way::SendRecv => "sendrecv (MPI_Sendrecv)",
            Way::Immediate => "immediate send, receive, wait",
        }
    }
}

/// One ring: the team's size, the message's, and the way.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Ring {
    /// Worker ranks in the ring.
    pub workers: usize,
    /// Bytes each rank sends.
    pub bytes: usize,
    /// How.
    pub way: Way,
}

/// What a rank of the ring saw.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Passed {
    /// Its pool rank.
    pub rank: usize,
    /// Whether every byte it received came from its left neighbour.
    pub intact: bool,
}

/// A team task: one rank's part of a ring (see [`Way`]).
///
/// # Errors
/// Not on a worker rank of a pool of `ring.workers`.
pub fn ring_task(ring: Ring) -> Result<Passed, String> {
    team::join(ring.workers, |team| pass_on(team, ring))
}

fn pass_on(team: &Team, ring: Ring) -> Passed {
    let (me, size) = (team.rank(), team.size());
    let (right, left) = ((me + 1) % size, (me + size - 1) % size);
    let comm = team.comm();
    let message = vec![me as u8; ring.bytes];
    let mut got = vec![0u8; ring.bytes];
    let (to, from) = (
        comm.process_at_rank(right as i32),
        comm.process_at_rank(left as i32),
    );
    match ring.way {
        Way::Blocking => {
            eprintln!(
                "{} {SENDING} {} to {}, then a receive",
                rank_tag(Team::pool_rank_of(me)),
                size_words(ring.bytes),
                rank_tag(Team::pool_rank_of(right))
            );
            to.send(&message[..]);
            from.receive_into(&mut got[..]);
        }
        Way::SendRecv => {
            mpi::point_to_point::send_receive_into(&message[..], &to, &mut got[..], &from);
        }
        Way::Immediate => mpi::request::scope(|scope| {
            let sent = to.immediate_send(scope, &message[..]);
            from.receive_into(&mut got[..]);
            sent.wait();
        }),
    }
    Passed {
        rank: Team::pool_rank_of(me),
        intact: got.iter().all(|&b| b == left as u8),
    }
}

/// What the bisection found, on the team's first rank (the others answer `None`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Limit {
    /// The largest message whose immediate send completed before its receive was posted.
    pub eager: usize,
    /// The smallest that did not (`eager + 1` when the bisection is done).
    pub waits: usize,
    /// How many sizes were tried.
    pub probes: usize,
}

/// A team task: the eager limit between the team's first two ranks, by bisection between
/// `bounds.1` (which must complete) and `bounds.2` (which must wait); `bounds.0` is the team's
/// size.
///
/// # Errors
/// Fewer than two worker ranks, or not on a worker rank.
pub fn eager_limit_task(bounds: (usize, usize, usize)) -> Result<Option<Limit>, String> {
    let (workers, small, large) = bounds;
    if workers < 2 {
        return Err("a send needs two worker ranks".into());
    }
    team::join(workers, |team| {
        let root = team.rank() == 0;
        // Both ends are tried first: the bisection means something only if they differ.
        let (mut eager, mut waits, mut probes) = (0, usize::MAX, 0);
        let mut next = small;
        loop {
            // The first rank decides the next size; everyone learns it (0: done).
            let mut size = next as u64;
            team.comm().process_at_rank(0).broadcast_into(&mut size);
            if size == 0 {
                break;
            }
            let size = size as usize;
            let completed = completes_before_receive(team, size);
            probes += 1;
            if completed {
                eager = eager.max(size);
            } else {
                waits = waits.min(size);
            }
            next = if probes == 1 {
                large
            } else if eager == 0 || waits == usize::MAX || waits - eager <= 1 {
                0 // done, or an end did not behave: nothing to bisect
            } else {
                eager + (waits - eager) / 2
            };
        }
        root.then_some(Limit {
            eager,
            waits,
            probes,
        })
    })
}

/// Whether an immediate send of `bytes` from the team's rank 0 to its rank 1 completes before
/// rank 1 posts the receive. Every member must call it (the barrier is collective).
fn completes_before_receive(team: &Team, bytes: usize) -> bool {
    let comm = team.comm();
    match team.rank() {
        0 => {
            let message = vec![7u8; bytes];
            mpi::request::scope(|scope| {
                let mut sent = comm.process_at_rank(1).immediate_send(scope, &message[..]);
                let until = Instant::now() + PROBE_WAIT;
                let completed = loop {
                    match sent.test() {
                        Ok(_) => break None,
                        Err(pending) => sent = pending,
                    }
                    if Instant::now() > until {
                        break Some(sent);
                    }
                    std::thread::yield_now();
                };
                let eager = completed.is_none();
                comm.barrier(); // now rank 1 may receive
                if let Some(pending) = completed {
                    pending.wait();
                }
                eager
            })
        }
        1 => {
            comm.barrier();
            let mut got = vec![0u8; bytes];
            comm.process_at_rank(0).receive_into(&mut got[..]);
            true
        }
        _ => {
            comm.barrier();
            true
        }
    }
}

/// `1 KiB`, `4 MiB`, or a number of bytes.
pub(super) fn size_words(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => plural(b, "byte", "bytes"),
    }
}
