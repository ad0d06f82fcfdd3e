//! The contract's checks, one concern per file; `pool_contract.rs` lists and runs them.

pub mod api;
pub mod arena;
pub mod bounds;
pub mod deaths;
pub mod handshake;
pub mod inline;
pub mod lent;
pub mod lifecycle;
pub mod limits;
pub mod storm;
