//! Serde parity between the pools, one concern per file; `serde_parity.rs` lists and runs them.

pub mod bad_items;
pub mod cases;
pub mod hooks;
pub mod roundtrip;
pub mod shapes;
pub mod skipped;
