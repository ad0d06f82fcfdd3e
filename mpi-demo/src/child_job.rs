//! A child MPI job: `mpirun -n N` of this same program, in a folder of its own.
//!
//! Two scenarios need a job of their own: `dead-rank`, because a dead rank ends its whole job
//! (the tour must go on), and `across-hosts`, because Open MPI picks its transports once, when
//! a job starts. Both start `mpirun` rather than spawning ranks: ranks spawned by a program
//! started alone form a second job, and Open MPI's shared-memory transport does not connect
//! two jobs (they talk over TCP), so only `mpirun` shows shared memory.

use crate::launch::scrub_mpi_env;
use common::demo::cleanup::PathGuard;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// What a finished child job left: how it ended, what it printed, how long it took.
#[derive(Debug)]
pub struct Finished {
    /// `mpirun`'s exit status.
    pub status: ExitStatus,
    /// Everything the ranks printed on stdout (rank 0's narration).
    pub stdout: String,
    /// Everything on stderr: the ranks' and `mpirun`'s own messages.
    pub stderr: String,
    /// From start to end.
    pub took: Duration,
}

/// A new folder for one child job, named with our pid (so that a later run sweeps it if we are
/// SIGKILLed), under the run's own folder when started alone; removed when the guard drops.
///
/// # Errors
/// The folder cannot be made.
pub fn folder() -> std::io::Result<(PathBuf, PathGuard)> {
    static JOBS: AtomicUsize = AtomicUsize::new(0);
    let folder = std::env::temp_dir().join(format!(
        "mpi-demo-{}-child-{}",
        std::process::id(),
        JOBS.fetch_add(1, Relaxed)
    ));
    let guard = PathGuard::new(&folder);
    std::fs::create_dir_all(&folder)?;
    Ok((folder, guard))
}

/// The command `mpirun -n <ranks> <this program> <args>` with `env` added, its files (and every
/// rank's `TMPDIR`) in `folder`, stdout and stderr piped.
///
/// # Errors
/// This program's path cannot be found.
pub fn command(
    ranks: usize,
    args: &[&str],
    env: &[(&str, &str)],
    folder: &Path,
) -> std::io::Result<Command> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new("mpirun");
    scrub_mpi_env(&mut cmd);
    cmd.args(["-n", &ranks.to_string(), "--bind-to", "none"])
        .arg(&exe)
        .args(args)
        .env("TMPDIR", folder)
        .env("OMPI_MCA_btl_vader_backing_directory", folder)
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if crate::launch::is_root() {
        cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    }
    Ok(cmd)
}

/// Runs `mpirun -n <ranks> <this program> <args>` with `env` added, for at most `limit`.
///
/// # Errors
/// `mpirun` cannot start (Open MPI is not installed), or the job runs past `limit` (then it
/// is killed, with its ranks).
pub fn run(
    ranks: usize,
    args: &[&str],
    env: &[(&str, &str)],
    limit: Duration,
) -> anyhow::Result<Finished> {
    let (folder, guard) = folder()?;
    let mut cmd = command(ranks, args, env, &folder)?;
    let started = Instant::now();
    let mut child = common::demo::child::Child::spawn(&mut cmd)
        .map_err(|e| anyhow::anyhow!("starting mpirun (is Open MPI installed?): {e}"))?;
    // Read both pipes while the job runs: a job that prints much must never block on a pipe.
    let out_pipe = child.inner_mut().stdout.take();
    let err_pipe = child.inner_mut().stderr.take();
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = reader(out_pipe.map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = reader(err_pipe.map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = child.wait_timeout(limit)?;
    let took = started.elapsed();
    let Some(status) = status else {
        child.kill()?;
        anyhow::bail!(
            "the child MPI job still ran after {}",
            common::demo::narrate::duration(limit)
        );
    };
    let finished = Finished {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        took,
    };
    drop(guard);
    Ok(finished)
}
