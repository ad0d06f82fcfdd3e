//! A watchdog over a child MPI job that may hang: it reads the job's lines as they come, starts
//! its clock at the line that says the hang may begin, and ends the job when that clock runs out.
//!
//! Ending a job takes more than killing `mpirun`: Open MPI puts every rank in a process group of
//! its own, and a rank blocked in a send never notices that its launcher is gone. So the
//! watchdog kills every process whose `TMPDIR` is the job's folder (`mpirun` gives it to each
//! rank), until none is left, and then removes the folder: nothing of the job stays behind.

use crate::child_job;
use common::demo::child::Child;
use common::demo::procfs::processes_with_env;
use crossbeam_channel::RecvTimeoutError;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// When the watchdog's clock starts, and how long it then waits.
pub struct Watch<'a> {
    /// Called on each line the job prints (stdout or stderr) until it says `true`: the hang may
    /// begin from here.
    pub trigger: &'a dyn Fn(&str) -> bool,
    /// How long after the trigger the job may still run before the watchdog ends it.
    pub patience: Duration,
    /// The whole job's bound, trigger or not (a job that hangs before its trigger).
    pub limit: Duration,
}

/// How a watched job ended.
#[derive(Debug)]
pub struct Watched {
    /// `mpirun`'s exit status (killed by a signal, if the watchdog ended it).
    pub status: ExitStatus,
    /// What the ranks printed on stdout, and on stderr (with `mpirun`'s own messages).
    pub stdout: String,
    /// See `stdout`.
    pub stderr: String,
    /// From the trigger's line to the end of the job's last process; `None` without a trigger.
    pub after_trigger: Option<Duration>,
    /// From the trigger's line to the moment no rank was left (`mpirun` may take longer: after
    /// a rank dies, it signals the others and waits a grace of its own, even for ranks gone).
    pub ranks_gone: Option<Duration>,
    /// How many processes the watchdog killed (`mpirun` and ranks); `None` if the job ended by
    /// itself.
    pub killed: Option<usize>,
    /// Processes of the job still alive at the end (never any, unless something is wrong).
    pub left: usize,
}

/// Every live process of the job that runs in `folder` (its `TMPDIR`).
fn processes_of(folder: &Path) -> Vec<u32> {
    processes_with_env("TMPDIR", &folder.to_string_lossy())
}

/// Kills `mpirun` and every process of its job, and waits (at most 2 s) until none is left;
/// how many processes it killed, and `mpirun`'s status.
fn end_job(mpirun: &mut Child, folder: &Path) -> std::io::Result<(usize, ExitStatus)> {
    let mut killed = processes_of(folder);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let alive = processes_of(folder);
        if alive.is_empty() || Instant::now() > deadline {
            break;
        }
        for &pid in &alive {
            let _ = common::demo::sys::send_signal(pid, libc::SIGKILL);
            if !killed.contains(&pid) {
                killed.push(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = mpirun.kill()?; // reaps it
    Ok((killed.len(), status))
}

/// Runs `mpirun -n <ranks> <this program> <args>` with `env` added, under `watch`.
///
/// # Errors
/// `mpirun` cannot start, or the job runs past `watch.limit` without its trigger (it is ended
/// all the same).
pub fn run(
    ranks: usize,
    args: &[&str],
    env: &[(&str, &str)],
    watch: &Watch<'_>,
) -> anyhow::Result<Watched> {
    let (folder, _removed_at_the_end) = child_job::folder()?;
    let mut cmd = child_job::command(ranks, args, env, &folder)?;
    let started = Instant::now();
    let mut mpirun = Child::spawn(&mut cmd)
        .map_err(|e| anyhow::anyhow!("starting mpirun (is Open MPI installed?): {e}"))?;
    // One reader thread per pipe, sending each line as it comes.
    let (lines, arrivals) = crossbeam_channel::unbounded::<(bool, String)>();
    let read = |pipe: Option<Box<dyn Read + Send>>, is_err: bool| {
        let lines = lines.clone();
        std::thread::spawn(move || {
            let Some(pipe) = pipe else { return };
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if lines.send((is_err, line)).is_err() {
                    break;
                }
            }
        })
    };
    let out_pipe = mpirun.inner_mut().stdout.take();
    let err_pipe = mpirun.inner_mut().stderr.take();
    let readers = [
        read(out_pipe.map(|p| Box::new(p) as Box<dyn Read + Send>), false),
        read(err_pipe.map(|p| Box::new(p) as Box<dyn Read + Send>), true),
    ];
    drop(lines); // the channel closes when both readers have ended
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let mut triggered: Option<Instant> = None;
    let mut take = |(is_err, line): (bool, String), triggered: &mut Option<Instant>| {
        if triggered.is_none() && (watch.trigger)(&line) {
            *triggered = Some(Instant::now());
        }
        let text = if is_err { &mut stderr } else { &mut stdout };
        text.push_str(&line);
        text.push('\n');
    };
    let mut killed = None;
    let mut ranks_gone: Option<Instant> = None;
    let mut looked = Instant::now();
    let status = loop {
        if let Some(status) = mpirun.try_wait()? {
            break status;
        }
        let now = Instant::now();
        // After the trigger, every 5 ms: are the ranks gone (everything but `mpirun`)?
        if triggered.is_some()
            && ranks_gone.is_none()
            && now.duration_since(looked) >= Duration::from_millis(5)
        {
            looked = now;
            let me = mpirun.pid();
            if processes_of(&folder).iter().all(|&pid| pid == me) {
                ranks_gone = Some(now);
            }
        }
        if triggered.is_some_and(|t| now.duration_since(t) >= watch.patience) {
            let (count, status) = end_job(&mut mpirun, &folder)?;
            killed = Some(count);
            break status;
        }
        if now.duration_since(started) >= watch.limit {
            end_job(&mut mpirun, &folder)?;
            anyhow::bail!(
                "the child MPI job still ran after {}, before the moment it was watched for",
                common::demo::narrate::duration(watch.limit)
            );
        }
        if let Ok(line) = arrivals.recv_timeout(Duration::from_millis(2)) {
            take(line, &mut triggered);
        }
    };
    // `mpirun` has ended: its ranks are ending too (it ends them), and the pipes close when the
    // last one is gone. Wait for that, bounded, then for the readers' last lines.
    let gone = common::demo::procfs::eventually(Duration::from_secs(2), || {
        processes_of(&folder).is_empty()
    });
    let ended = Instant::now();
    let left = if gone {
        0
    } else {
        end_job(&mut mpirun, &folder)?.0
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    let closed = loop {
        match arrivals.recv_deadline(deadline) {
            Ok(line) => take(line, &mut triggered),
            Err(RecvTimeoutError::Disconnected) => break true,
            Err(RecvTimeoutError::Timeout) => break false,
        }
    };
    if closed {
        for reader in readers {
            let _ = reader.join();
        }
    }
    Ok(Watched {
        status,
        stdout,
        stderr,
        after_trigger: triggered.map(|t| ended.saturating_duration_since(t)),
        ranks_gone: triggered.map(|t| ranks_gone.unwrap_or(ended).saturating_duration_since(t)),
        killed,
        left,
    })
}
