//! Sending values through a pool and back, checked against serde_json.

use common::plumbing::Task;
use common::{Chunk, Pool};
use std::fmt::Debug;

pub(crate) fn echo<T>(x: T) -> T {
    x
}

/// Sends `values` through `echo` on `pool`: each must come back equal, and must round-trip
/// through serde_json too (so the case is in scope). Returns a line for the transcript: what
/// came back, as `Debug` shows it.
pub(crate) fn round_trip<P, T>(pool: &P, what: &str, values: Vec<T>) -> Result<String, String>
where
    P: Pool,
    T: Task + Clone + PartialEq + Debug,
{
    for value in &values {
        let json = serde_json::to_string(value).map_err(|e| format!("{what}: json: {e}"))?;
        let back: T = serde_json::from_str(&json).map_err(|e| format!("{what}: json: {e}"))?;
        if &back != value {
            return Err(format!("{what}: does not round-trip through serde_json"));
        }
    }
    // One batch for all values, then one batch per value: both framings must agree.
    let mut line = String::new();
    for chunk in [Chunk::Size(values.len().max(1)), Chunk::Size(1)] {
        let back = pool
            .map_chunked(echo::<T>, values.clone(), chunk)
            .map_err(|e| format!("{what} on the {} pool: {e}", pool.kind()))?;
        if back != values {
            return Err(format!(
                "{what} on the {} pool: sent {values:?}, got {back:?}",
                pool.kind()
            ));
        }
        line = format!("{what}: {back:?}");
    }
    Ok(line)
}
