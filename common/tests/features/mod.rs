//! The Python features, one concern per file; `python_features.rs` lists and runs them.

pub mod completion;
pub mod files;
pub mod init_and_async;
pub mod ordering;
pub mod shared;
pub mod stopping;
pub mod streaming;
