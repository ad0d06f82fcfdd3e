//! Worker ranks joining: spawned when the program runs alone, greeted in either mode.

use super::{Comm, State, Worker};
use crate::launch::SPAWNED_WORKER;
use crate::session::{tag, track, Mode, RankInfo, HELLO_LIMIT};
use mpi::traits::*;
use std::time::{Duration, Instant};

impl State {
    /// Makes sure `workers` worker ranks exist, spawning the missing ones if started alone.
    pub(super) fn ensure(
        &mut self,
        universe: &mpi::environment::Universe,
        workers: usize,
    ) -> Result<Vec<RankInfo>, String> {
        let have = self.workers.len();
        if workers > have {
            if let Mode::World { size } = self.mode {
                return Err(format!(
                    "{} asked for, but mpirun started {} (mpirun -n {size})",
                    common::demo::narrate::plural(workers, "worker rank", "worker ranks"),
                    common::demo::narrate::plural(size - 1, "worker rank", "worker ranks"),
                ));
            }
            let missing = workers - have;
            let exe = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
            let mut command = std::process::Command::new(exe);
            command.args([SPAWNED_WORKER, &(have + 1).to_string()]);
            let world = universe.world();
            let spawned = world
                .process_at_rank(0)
                .spawn(&command, missing as i32)
                .map_err(|e| format!("MPI_Comm_spawn of {missing} ranks failed: {e}"))?;
            self.comms.push(Comm::Spawned(spawned));
            self.hellos(self.comms.len() - 1, 0..missing as i32, have + 1)?;
            let here = crate::launch::host_name();
            for worker in &self.workers[have..] {
                if worker.info.host == here {
                    track(worker.info.pid);
                }
            }
        }
        Ok(self.workers[..workers]
            .iter()
            .map(|w| w.info.clone())
            .collect())
    }

    /// Receives the hello of ranks `ranks` of communicator `comm`; they are pool ranks `first..`.
    pub(super) fn hellos(
        &mut self,
        comm: usize,
        ranks: std::ops::Range<i32>,
        first: usize,
    ) -> Result<(), String> {
        for (i, rank) in ranks.enumerate() {
            let deadline = Instant::now() + HELLO_LIMIT;
            let process = self.comms[comm].process(rank);
            let hello = loop {
                if let Some(message) = process.immediate_matched_probe_with_tag(tag::HELLO) {
                    break message.matched_receive_vec::<u8>().0;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "worker rank {} did not say hello in 30 s",
                        first + i
                    ));
                }
                std::thread::sleep(Duration::from_micros(100));
            };
            // A hello is `<pid>\t<host>` (see `worker::serve_master`); a pid read as 0 would make
            // the liveness check ask about this process group instead, so a bad hello is an error.
            let hello = String::from_utf8_lossy(&hello).into_owned();
            let parsed = hello
                .split_once('\t')
                .and_then(|(pid, host)| Some((pid.parse::<u32>().ok()?, host)));
            let Some((pid, host)) = parsed.filter(|&(pid, _)| pid > 0) else {
                return Err(format!(
                    "worker rank {} sent a malformed hello: {hello:?}",
                    first + i
                ));
            };
            let info = RankInfo {
                rank: first + i,
                pid,
                host: host.to_string(),
            };
            self.workers.push(Worker {
                comm,
                rank,
                info,
                running: None,
                outbox: std::collections::VecDeque::new(),
            });
        }
        Ok(())
    }
}
