//! Who this process is: the program (started alone, or rank 0 under `mpirun`), or a worker rank.
//!
//! Every rank runs this same executable, like a `ProcessPool` worker does. Python's
//! `mpi4py.futures` decides the role the same way: under `mpirun -n N` rank 0 runs the program
//! and ranks 1..N-1 serve; started alone, the program spawns its worker ranks on demand
//! (`MPI_Comm_spawn`), and those are told by their arguments that they serve.
//!
//! A program started alone also owns the files Open MPI makes for its ranks: it puts them in one
//! folder, and starts a janitor that removes them however the program ends.
//!
//! The role is read from the environment *before* MPI is initialised: Open MPI's launcher sets
//! `OMPI_COMM_WORLD_RANK` and `OMPI_COMM_WORLD_SIZE` in every rank it starts, and a spawned
//! rank gets [`SPAWNED_WORKER`] as its first argument.

use common::demo::cleanup::PathGuard;
use std::io::Read;
use std::path::{Path, PathBuf};

/// First argument of a rank spawned by a program started alone; the second is its first rank.
pub const SPAWNED_WORKER: &str = "__mpi-demo-spawned-worker";
/// First argument of the run's janitor (see `prepare_alone`); the second is the run's folder.
pub const JANITOR: &str = "__mpi-demo-janitor";

/// How the program was started.
#[derive(Debug)]
pub enum Launch {
    /// A helper process that never uses MPI (the pipe partner of `latency`).
    NoMpi,
    /// Started alone: worker ranks are spawned when a pool needs them. `job` is the folder that
    /// holds every file Open MPI makes for this run (removed when dropped, or on Ctrl-C).
    Alone {
        /// The run's own folder (`TMPDIR` and the shared-memory backing directory of its ranks).
        job: PathGuard,
    },
    /// Rank 0 of `mpirun -n size`: ranks `1..size` serve.
    UnderMpirun {
        /// The number of ranks `mpirun` started, rank 0 included.
        size: usize,
    },
}

impl Launch {
    /// The number of worker ranks available without spawning (`None`: spawned on demand).
    pub fn fixed_workers(&self) -> Option<usize> {
        match self {
            Launch::Alone { .. } | Launch::NoMpi => None,
            Launch::UnderMpirun { size } => Some(size - 1),
        }
    }
}

/// The role this process was given, read from its environment and arguments.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Alone,
    /// The pipe partner of `latency`: no MPI, no folder.
    NoMpi,
    /// The run's janitor, for the folder given.
    Janitor(PathBuf),
    /// Rank `rank` of `size`, started by `mpirun`.
    Mpirun {
        rank: usize,
        size: usize,
    },
    /// A worker rank spawned by a program started alone; its pool rank is `first` + its rank.
    Spawned {
        first: usize,
    },
}

pub(crate) fn role() -> Role {
    let mut args = std::env::args_os().skip(1);
    let first = args.next();
    match first.as_ref().and_then(|a| a.to_str()) {
        Some(SPAWNED_WORKER) => {
            let first = args.next().and_then(|f| f.to_str()?.parse().ok());
            return Role::Spawned {
                first: first.unwrap_or(1),
            };
        }
        Some(JANITOR) => return Role::Janitor(args.next().map(PathBuf::from).unwrap_or_default()),
        Some("pipe-echo") => return Role::NoMpi,
        _ => {}
    }
    let number = |key: &str| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    match (
        number("OMPI_COMM_WORLD_RANK"),
        number("OMPI_COMM_WORLD_SIZE"),
    ) {
        (Some(rank), Some(size)) => Role::Mpirun { rank, size },
        _ => Role::Alone,
    }
}

/// Prefix of each run's folder in the temporary directory: `mpi-demo-<pid>-job`.
const JOB_PREFIX: &str = "mpi-demo-";

/// Prepares a program started alone: removes the folders of earlier runs that were SIGKILLed,
/// makes this run's folder, and points Open MPI at it.
///
/// Open MPI keeps a session folder in `$TMPDIR` and its shared-memory segments in `/dev/shm`.
/// A normal end removes both, but a killed run leaves them. With `TMPDIR` and the shared-memory
/// backing directory inside one folder of our own, one `remove_dir_all` removes everything,
/// and the next run's sweep finds a killed run's folder by the pid in its name.
pub(crate) fn prepare_alone() -> std::io::Result<PathGuard> {
    // A missing or read-only TMPDIR is refused (exit status 71), never created.
    let tmp = common::demo::machine::writable_tmpdir().map_err(std::io::Error::other)?;
    common::demo::cleanup::sweep_stale(&tmp, JOB_PREFIX);
    let job: PathBuf = tmp.join(format!("{JOB_PREFIX}{}-job", std::process::id()));
    let guard = PathGuard::new(&job);
    std::fs::create_dir(&job)?;
    start_janitor(&job)?;
    // Still one thread that reads the environment: `main` has not started any.
    std::env::set_var("TMPDIR", &job);
    std::env::set_var("OMPI_MCA_btl_vader_backing_directory", &job);
    // The program starts its own ranks, on purpose: allow it as root (containers run as root),
    // let it start more ranks than cores, and leave the ranks unbound, so that they share the
    // cores with the program's thread and process pools the way any other processes do.
    if is_root() {
        std::env::set_var("OMPI_ALLOW_RUN_AS_ROOT", "1");
        std::env::set_var("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    }
    std::env::set_var("OMPI_MCA_rmaps_base_oversubscribe", "1");
    std::env::set_var("OMPI_MCA_hwloc_base_binding_policy", "none");
    Ok(guard)
}

/// Starts the run's janitor: this program again, in a process group of its own (so Ctrl-C at
/// the terminal does not reach it), waiting for the end of a pipe that only this process holds.
///
/// Why: the program's own clean-up cannot cover every end. On Ctrl-C, Open MPI's library in this
/// process may call `exit` from a thread of its own while the interrupt handler works, and a
/// SIGKILL runs nothing at all; meanwhile Open MPI's daemon and ranks that are still starting
/// can write new files into the folder. The janitor sees the pipe close however the program
/// ended, kills every process still working in the run's folder (their `TMPDIR` is in it),
/// and then removes the folder.
fn start_janitor(job: &Path) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    static PIPE: std::sync::OnceLock<std::process::ChildStdin> = std::sync::OnceLock::new();
    let mut janitor = std::process::Command::new(std::env::current_exe()?)
        .arg(JANITOR)
        .arg(job)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // Held until this process ends (std's pipes are close-on-exec: no child inherits it). The
    // janitor outlives us on purpose, so it is not waited for; init adopts it.
    if let Some(pipe) = janitor.stdin.take() {
        let _ = PIPE.set(pipe);
    }
    Ok(())
}

/// The janitor's side (see [`start_janitor`]): wait for the program to end, end what still
/// works in `job`, remove it, exit.
pub(crate) fn janitor(job: &Path) -> ! {
    let mut byte = [0u8; 1];
    // Returns 0 (end of file) when the program has ended, however it ended.
    while matches!(std::io::stdin().read(&mut byte), Ok(n) if n > 0) {}
    for _ in 0..50 {
        let working = processes_in(job);
        if working.is_empty() {
            break;
        }
        for pid in working {
            let _ = common::demo::sys::send_signal(pid, libc::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = std::fs::remove_dir_all(job);
    std::process::exit(0);
}

/// Processes (other than this one) whose `TMPDIR` is `job` or a folder inside it.
fn processes_in(job: &Path) -> Vec<u32> {
    use std::os::unix::ffi::OsStrExt;
    let mut wanted = b"TMPDIR=".to_vec();
    wanted.extend_from_slice(job.as_os_str().as_bytes());
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && common::demo::sys::is_alive(pid))
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            environ.split(|&b| b == 0).any(|v| v.starts_with(&wanted))
        })
        .collect()
}

pub(crate) fn is_root() -> bool {
    // The owner of /proc/self is this process's effective user: no unsafe call needed.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Removes Open MPI's variables from a child process that is *not* one of our ranks (a pipe
/// partner, a child job that starts ranks of its own): it must neither take itself for a rank
/// nor join our job (MPI initialisation leaves the address of our job's launcher in them).
pub fn scrub_mpi_env(cmd: &mut std::process::Command) {
    const PREFIXES: [&str; 4] = ["OMPI_", "PMIX_", "ORTE_", "OPAL_"];
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if PREFIXES.iter().any(|p| key_text.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
}

/// The name of the machine this process runs on (what changes when ranks cross hosts).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".to_string())
}
