//! The boundary checks, one concern per file; `boundaries.rs` lists and runs them.

pub mod descriptors;
pub mod forks;
pub mod init;
pub mod paths;
pub mod recovery;
pub mod support;
