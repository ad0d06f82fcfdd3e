//! Any executable path, a replaced executable, any TMPDIR.

use super::descriptors::open_fds;
use super::support::{scratch, this_exe};
use crate::harness::{self, check};
use crate::ROLE;
use common::ProcessPool;
use std::path::Path;
use std::process::Command;

/// Runs a copy of this binary at `path` as `role`; its one line of output.
pub(crate) fn run_copy(path: &Path, role: &str, tmpdir: Option<&Path>) -> String {
    let mut cmd = Command::new(path);
    cmd.env(ROLE, role);
    if let Some(tmp) = tmpdir {
        cmd.env("TMPDIR", tmp);
    }
    let out = cmd.output().expect("the copy runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

pub(crate) fn any_path() -> harness::Result {
    let scratch = scratch("paths");
    let dir = scratch.join("dir with spaces").join("ünïcødé ✓");
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join("pool program");
    std::fs::copy(this_exe(), &copy)?;
    let link = dir.parent().expect("has a parent").join("link to it");
    std::os::unix::fs::symlink(&copy, &link)?;
    for path in [&copy, &link] {
        let said = run_copy(path, "pool-work", None);
        check(said == "ok", &format!("{}: {said}", path.display()))?;
    }
    Ok(())
}

pub(crate) fn replaced_executable() -> harness::Result {
    let scratch = scratch("replaced");
    let copy = scratch.join("program");
    std::fs::copy(this_exe(), &copy)?;
    let said = run_copy(&copy, "replace-self", None);
    check(
        said == "ok",
        &format!("pools after replace and delete: {said}"),
    )
}

pub(crate) fn any_tmpdir() -> harness::Result {
    let base = scratch("tmpdirs");
    let long = base.join("d".repeat(120)).join("e".repeat(120));
    std::fs::create_dir_all(&long)?;
    let unwritable = base.join("read-only");
    std::fs::create_dir_all(&unwritable)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&unwritable, std::fs::Permissions::from_mode(0o500))?;
    let missing = base.join("does-not-exist");
    for tmp in [&long, &unwritable, &missing] {
        let said = run_copy(Path::new(&this_exe()), "pool-work", Some(tmp));
        check(said == "ok", &format!("TMPDIR={}: {said}", tmp.display()))?;
    }
    let long_left = std::fs::read_dir(&long)?.count();
    check(long_left == 0, "nothing written into TMPDIR")?;
    // Many pools come and go: no descriptor stays behind.
    let before = open_fds();
    for _ in 0..10 {
        drop(ProcessPool::new(2)?);
    }
    let after = open_fds();
    check(after <= before, &format!("descriptors {before} -> {after}"))
}
