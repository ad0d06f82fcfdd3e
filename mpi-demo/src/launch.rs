//! Who this process is: the program (started alone, or rank 0 under `mpirun`), or a worker rank.
//!
//! Every rank runs this same executable, like a `ProcessPool` worker does. Python's
//! `mpi4py.futures` decides the role the same way: under `mpirun -n N` rank 0 runs the program
//! and ranks 1..N serve; started alone, the program spawns its worker ranks on demand
//! (`MPI_Comm_spawn`), and those are told by their arguments that they serve.
//!
//! The role is read from the environment *before* MPI is initialised: Open MPI's launcher sets
//! `OMPI_COMM_WORLD_RANK` and `OMPI_COMM_WORLD_SIZE` in every rank it starts, and a spawned
//! rank gets [`SPAWNED_WORKER`] as its first argument.

use common::cleanup::PathGuard;
use std::path::PathBuf;

/// First argument of a rank spawned by a program started alone; the second is its first rank.
pub const SPAWNED_WORKER: &str = "__mpi-demo-spawned-worker";

/// How the program was started.
#[derive(Debug)]
pub enum Launch {
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
            Launch::Alone { .. } => None,
            Launch::UnderMpirun { size } => Some(size - 1),
        }
    }
}

/// The role this process was given, read from its environment and arguments.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Alone,
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
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some(SPAWNED_WORKER) {
        let first = args.next().and_then(|f| f.parse().ok()).unwrap_or(1);
        return Role::Spawned { first };
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
    let tmp = std::env::temp_dir();
    common::cleanup::sweep_stale(&tmp, JOB_PREFIX);
    let job: PathBuf = tmp.join(format!("{JOB_PREFIX}{}-job", std::process::id()));
    let guard = PathGuard::new(&job);
    std::fs::create_dir_all(&job)?;
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
