//! A student's machine is not ours: the default tour under a read-only, missing or full
//! `TMPDIR`, a full or 64 MiB `/dev/shm`, 64 open files, and 12 processes. It passes, or ends
//! with exit status 71 and one line naming the resource; no panic, signal or leftover (see
//! `common::testing::hostile`; skipped where this machine gives no root and `unshare`).

common::hostile_tests!(env!("CARGO_BIN_EXE_processes-demo"));
