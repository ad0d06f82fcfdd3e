//! [`Link`]: what the `reduce` exercise writes against. One rank's end of the team's
//! communicator, with a blocking `send` and `receive` of one `u64`, each one MPI message.
//!
//! Each message also carries, unseen, how many rounds its sender had taken: a receive moves the
//! receiver's count to one past the later of the two. So the root's count at the end is the
//! longest chain of messages that led to its total, counting its own receives one after
//! another: n - 1 when rank 0 receives from every rank in turn, ⌈log2 n⌉ for a tree. That is
//! how the check tells a tree from a line without reading the code.

use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::cell::Cell;

/// One rank's end of the team: its number, the team's size, and messages to and from the others.
pub struct Link<'a> {
    comm: &'a SimpleCommunicator,
    rounds: Cell<u64>,
    sent: Cell<usize>,
    received: Cell<usize>,
}

impl<'a> Link<'a> {
    /// This rank's end of `comm`.
    pub fn new(comm: &'a SimpleCommunicator) -> Link<'a> {
        Link {
            comm,
            rounds: Cell::new(0),
            sent: Cell::new(0),
            received: Cell::new(0),
        }
    }

    /// This rank's number, 0..size: 0 is the root, where the total must end.
    pub fn rank(&self) -> usize {
        self.comm.rank() as usize
    }

    /// How many ranks the team has.
    pub fn size(&self) -> usize {
        self.comm.size() as usize
    }

    /// Sends `value` to rank `to`: rsmpi's `comm.process_at_rank(to).send(..)` (`MPI_Send`).
    ///
    /// # Panics
    /// `to` is this rank, or not a rank of the team: MPI would wait for ever, or fail.
    #[track_caller]
    pub fn send(&self, to: usize, value: u64) {
        self.check(to, "send to");
        let message = [value, self.rounds.get()];
        self.comm.process_at_rank(to as i32).send(&message[..]);
        self.sent.set(self.sent.get() + 1);
    }

    /// Waits for the value that rank `from` sends: rsmpi's
    /// `comm.process_at_rank(from).receive_into(..)` (`MPI_Recv`). It waits until that rank
    /// sends: a receive that no send matches waits for ever (the check's watchdog ends it).
    ///
    /// # Panics
    /// `from` is this rank, or not a rank of the team.
    #[track_caller]
    pub fn receive(&self, from: usize) -> u64 {
        self.check(from, "receive from");
        let mut message = [0u64; 2];
        self.comm
            .process_at_rank(from as i32)
            .receive_into(&mut message[..]);
        self.rounds.set(self.rounds.get().max(message[1]) + 1);
        self.received.set(self.received.get() + 1);
        message[0]
    }

    /// The longest chain of messages that ended here (see the module doc).
    pub fn rounds(&self) -> u64 {
        self.rounds.get()
    }

    /// Messages this rank sent.
    pub fn sent(&self) -> usize {
        self.sent.get()
    }

    /// Messages this rank received.
    pub fn received(&self) -> usize {
        self.received.get()
    }

    #[track_caller]
    fn check(&self, other: usize, what: &str) {
        let (me, size) = (self.rank(), self.size());
        assert!(other != me, "rank {me} tried to {what} itself");
        assert!(
            other < size,
            "rank {me} tried to {what} rank {other}; the team has ranks 0 to {}",
            size - 1
        );
    }
}
