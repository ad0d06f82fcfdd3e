//! Cleanup: a segment outlives a killed owner; this demo's segments never do. Lists `/dev/shm`
//! at each step.
//!
//! A POSIX shared-memory segment is a file in `/dev/shm`, a RAM file system. Like any file it
//! stays until someone removes its name, and the shared_memory crate removes it only in its
//! owner's `Drop`, which a SIGKILL (or Ctrl-C, or `process::exit`) never runs. The first part
//! shows that leak with a naive owner and then removes it the way a later run of this demo does:
//! the name carries the owner's pid, and a segment whose owner is gone is stale. The second part
//! shows the technique every scenario uses (see `segment.rs`): name registered for Ctrl-C
//! cleanup before it exists, mode 0600, and the name unlinked as soon as every child has mapped
//! the segment. The children then still read and write it: a mapping does not need the name.

use crate::crew::{self, child, REPORT_LIMIT};
use crate::output::{conclude, parent_is, PARENT};
use crate::segment::{self, Opened, Segment};
use anyhow::{bail, Context, Result};
use common::demo::narrate::{header, plural};
use std::io::Write;
use std::sync::atomic::Ordering::{Acquire, Release};

/// The segment's size: one 4-byte slot per child.
const LEN: usize = 4096;
/// The most children whose slots fit in the segment.
pub const MAX_WORKERS: usize = LEN / 4;

/// Runs the scenario with `workers` children sharing one segment.
///
/// # Errors
/// If a child fails, or a segment of this run is left in `/dev/shm`.
pub fn run(out: &mut impl Write, workers: usize) -> Result<()> {
    // Checked before any child starts: each child's pid needs a slot of its own.
    if workers == 0 || workers > MAX_WORKERS {
        bail!("cleanup takes 1 to {MAX_WORKERS} workers (a slot of 4 bytes each in {LEN} bytes); got {workers}");
    }
    header(
        out,
        "cleanup",
        "segments outlive a killed owner; this demo's never do",
        &[("workers", workers)],
    )?;
    let me = PARENT;
    parent_is(out)?;

    writeln!(
        out,
        "-- a naive owner: shared_memory's own cleanup, then SIGKILL"
    )?;
    let mut naive = crew::spawn(1, |_| vec!["leak".into()])?;
    let leaked = naive.expect_all(out, "created", REPORT_LIMIT)?.remove(0);
    segment::print_list(out, "while the naive owner runs")?;
    naive.kill_all()?;
    writeln!(
        out,
        "{me} sent SIGKILL to the naive owner; its Drop never ran"
    )?;
    segment::print_list(out, "after the SIGKILL")?;
    // What every run of this demo does first: remove segments whose owner pid is gone.
    segment::remove_stale(out)?;
    let leak_removed = !segment::dev_shm_path(&leaked).exists();

    writeln!(
        out,
        "-- this demo's technique: guard, 0600, unlink once every child has mapped"
    )?;
    let mut seg = Segment::create("cleanup", LEN)?;
    let name = seg
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a segment's path is /dev/shm/<its ASCII name>")
        .to_string();
    let os_id = seg.os_id().to_string();
    let mut crew = crew::spawn(workers, |i| {
        vec!["hold".into(), os_id.clone(), i.to_string()]
    })?;
    crew.expect_all(out, "mapped", REPORT_LIMIT)?;
    let listed = segment::list();
    let private = listed
        .iter()
        .any(|(n, _, _, mode)| *n == name && *mode == 0o600);
    segment::print_list(out, "once every child mapped it")?;
    seg.unlink(out)?;
    writeln!(out, "{me} unlinked {}", seg.path().display())?;
    segment::print_list(out, "after unlink")?;

    crew.broadcast("write")?;
    crew.expect_all(out, "wrote", REPORT_LIMIT)?;
    let slots = (0..workers)
        .map(|i| Ok(seg.atomic_u32(4 * i)?.load(Acquire)))
        .collect::<Result<Vec<u32>>>()?;
    let pids = crew.pids();
    writeln!(
        out,
        "{me} after the unlink, the children wrote their pids into the segment: {}",
        slots
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    crew.finish(out, "wrote", REPORT_LIMIT)?;
    drop(seg);
    let left = segment::list()
        .into_iter()
        .filter(|(n, owner, _, _)| {
            *owner == std::process::id() || *n == leaked.trim_start_matches('/')
        })
        .count();
    segment::print_list(out, "at the end")?;

    let passed = left == 0 && leak_removed && private && slots == pids;
    let what = format!(
        "{} of this run left, leaked one {}, mode {}, {} of {workers} children wrote after \
         the unlink",
        plural(left, "segment", "segments"),
        if leak_removed {
            "removed"
        } else {
            "STILL THERE"
        },
        if private { "0600" } else { "NOT 0600" },
        slots.iter().zip(&pids).filter(|(a, b)| a == b).count()
    );
    conclude(
        out,
        passed,
        &what,
        "unlink once everyone has mapped, clean up on signals, sweep what a SIGKILL left",
    )?;
    Ok(())
}

/// The naive owner: create a segment with shared_memory alone (no guard, no early unlink),
/// report its name, and wait to be killed.
///
/// # Errors
/// If the segment cannot be created.
pub fn leak_child() -> Result<()> {
    let os_id = format!("/{}{}-leak-0", segment::PREFIX, std::process::id());
    let shmem = shared_memory::ShmemConf::new()
        .os_id(&os_id)
        .size(4096)
        .create()
        .with_context(|| format!("creating {os_id}"))?;
    child::report("created", &os_id);
    // Waits for the SIGKILL; if the parent closes our stdin instead, Drop removes the segment.
    while child::next_command().is_some() {}
    drop(shmem);
    Ok(())
}

/// A child of the technique: map the segment, and after the parent unlinked it, write our pid.
///
/// # Errors
/// If the segment cannot be opened.
pub fn hold_child(os_id: &str, index: usize) -> Result<()> {
    let seg = Opened::open(os_id)?;
    let slot = seg.atomic_u32(4 * index).context("this child's slot")?;
    child::report("mapped", "");
    while let Some(command) = child::next_command() {
        if command == "write" {
            slot.store(std::process::id(), Release);
            let gone = !segment::dev_shm_path(os_id).exists();
            child::say(format_args!(
                "wrote my pid into slot {index} (name gone from /dev/shm: {gone})"
            ));
            child::report("wrote", "");
        }
    }
    Ok(())
}
