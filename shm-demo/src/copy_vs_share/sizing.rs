//! How much copy-vs-share may move: what memory and `/dev/shm` hold.

use super::MIB;
use crate::segment;
use anyhow::{Context, Result};

/// Refuses a `--mib` the machine cannot hold: the demo needs about four buffers of that size
/// at once (source, memcpy target or the children's copies, memfd, segment).
///
/// # Errors
/// A [`common::demo::cli::UsageError`] naming the size and what is available.
pub fn check_memory(size_mib: usize) -> Result<()> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").context("reading /proc/meminfo")?;
    let available_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no MemAvailable in /proc/meminfo")?;
    let needed_mib = 4 * size_mib as u64;
    if needed_mib > available_kib / 1024 {
        let msg = format!(
            "--mib {size_mib} needs about {needed_mib} MiB of memory, but MemAvailable is {} MiB",
            available_kib / 1024
        );
        return Err(common::demo::cli::UsageError(msg).into());
    }
    Ok(())
}

/// The MiB that fit in `/dev/shm` twice over (with 1 MiB to spare), at most `asked`, and the
/// free space it read. Writing past the free space would kill the demo with SIGBUS.
///
/// # Errors
/// If not even 1 MiB fits twice, with 1 MiB to spare (a refusal naming the free space, see
/// [`common::demo::machine::check_room`]), or `statvfs` failed.
pub(super) fn fit_in_dev_shm(asked: usize) -> Result<(usize, u64)> {
    let free = segment::free_space()?;
    let fits = ((free / MIB as u64).saturating_sub(1) / 2) as usize;
    if fits == 0 {
        let (dev_shm, least) = (std::path::Path::new("/dev/shm"), 3 * MIB as u64);
        let what = "copy-vs-share: two 1 MiB segments and 1 MiB to spare";
        common::demo::machine::check_room(dev_shm, least, what)?;
    }
    Ok((asked.min(fits), free))
}
