//! What serde does not carry across a process boundary, and the docs say so.

use super::roundtrip::echo;
use crate::harness::{self, check};
use common::Pool;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct WithCache {
    value: u32,
    #[serde(skip)]
    cache: Option<String>,
}

/// What serde does not carry: a thread worker gets the value itself, a process worker its
/// encoding, which leaves a `#[serde(skip)]` field out (it arrives as its `Default`) and does
/// not tell `Some(None)` from `None`.
pub(crate) fn skipped_field<P: Pool>(pool: &P) -> harness::Result {
    let sent = WithCache {
        value: 7,
        cache: Some("warm".into()),
    };
    let seen = pool.submit(|w: WithCache| w.cache, sent.clone()).wait()?;
    let back = pool.submit(echo::<WithCache>, sent).wait()?;
    // Not JSON either: `Some(None)` is encoded as `None` is.
    let nested = pool.submit(echo::<Option<Option<u8>>>, Some(None)).wait()?;
    if pool.kind() == "process" {
        // Process boundary: the skipped field was never encoded; it arrives as None.
        check(
            seen.is_none(),
            "the worker sees the skipped field as its default",
        )?;
        check(
            back.value == 7 && back.cache.is_none(),
            "and so does the result",
        )?;
        check(nested.is_none(), "Some(None) arrives as None")
    } else {
        check(
            seen.as_deref() == Some("warm"),
            "a thread sees the value itself",
        )?;
        check(back.cache.as_deref() == Some("warm"), "and gets it back")?;
        check(nested == Some(None), "a thread gets Some(None) itself")
    }
}
