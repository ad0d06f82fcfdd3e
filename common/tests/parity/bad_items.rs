//! Item 9: a value that cannot be encoded or decoded fails alone.

use crate::harness::{self, check};
use common::plumbing::Task;
use common::{Chunk, Error, Pool};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt::Debug;

/// Its `Serialize` panics for 13.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct PanicsOnEncode(u32);

impl Serialize for PanicsOnEncode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == 13 {
            panic!("cannot encode 13");
        }
        s.serialize_u32(self.0)
    }
}

/// Its `Deserialize` panics for 13.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct PanicsOnDecode(u32);

impl<'de> Deserialize<'de> for PanicsOnDecode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u32::deserialize(d)? {
            13 => panic!("cannot decode 13"),
            n => Ok(PanicsOnDecode(n)),
        }
    }
}

/// Its `Serialize` returns an error for 13.
#[derive(Debug, Clone, PartialEq, Deserialize)]
struct RefusesToEncode(u32);

impl Serialize for RefusesToEncode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == 13 {
            return Err(serde::ser::Error::custom("refusing to encode 13"));
        }
        s.serialize_u32(self.0)
    }
}

/// Its `Deserialize` returns an error for 13.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct RefusesToDecode(u32);

impl<'de> Deserialize<'de> for RefusesToDecode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u32::deserialize(d)? {
            13 => Err(serde::de::Error::custom("refusing to decode 13")),
            n => Ok(RefusesToDecode(n)),
        }
    }
}

/// Runs `f` on 1, 13 and 2 as ONE batch and returns the results in item order, as numbers.
fn batch_of_three<P: Pool, A: Task, R: Task>(
    pool: &P,
    f: fn(A) -> R,
    make: fn(u32) -> A,
    number: fn(R) -> u32,
) -> Result<Vec<Result<u32, Error>>, Error> {
    let mut out: Vec<(usize, Result<R, Error>)> = pool
        .map_unordered_chunked(f, [1, 13, 2].map(make), Chunk::Size(3))?
        .collect();
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, r)| r.map(number)).collect())
}

/// What the process pool must report for item 13 (on a thread pool, item 13 succeeds).
enum Expect {
    Panicked(&'static str),
    Serde(&'static str),
}

pub(crate) fn one_bad_item<P: Pool>(pool: &P, pids: &dyn Fn() -> Vec<u32>) -> harness::Result {
    let before = pids();
    let cases = [
        (
            "an argument whose Serialize panics (in the pool's process)",
            batch_of_three(pool, |a: PanicsOnEncode| a.0, PanicsOnEncode, |r| r)?,
            Expect::Panicked("cannot encode 13"),
        ),
        (
            "an argument whose Deserialize panics (in the worker)",
            batch_of_three(pool, |a: PanicsOnDecode| a.0, PanicsOnDecode, |r| r)?,
            Expect::Panicked("cannot decode 13"),
        ),
        (
            "a result whose Serialize panics (in the worker)",
            batch_of_three(pool, PanicsOnEncode, |n| n, |r| r.0)?,
            Expect::Panicked("cannot encode 13"),
        ),
        (
            "a result whose Deserialize panics (in the pool's process)",
            batch_of_three(pool, PanicsOnDecode, |n| n, |r| r.0)?,
            Expect::Panicked("cannot decode 13"),
        ),
        (
            "an argument whose Serialize fails",
            batch_of_three(pool, |a: RefusesToEncode| a.0, RefusesToEncode, |r| r)?,
            Expect::Serde("refusing to encode 13"),
        ),
        (
            "an argument whose Deserialize fails",
            batch_of_three(pool, |a: RefusesToDecode| a.0, RefusesToDecode, |r| r)?,
            Expect::Serde("refusing to decode 13"),
        ),
        (
            "a result whose Serialize fails",
            batch_of_three(pool, RefusesToEncode, |n| n, |r| r.0)?,
            Expect::Serde("refusing to encode 13"),
        ),
        (
            "a result whose Deserialize fails",
            batch_of_three(pool, RefusesToDecode, |n| n, |r| r.0)?,
            Expect::Serde("refusing to decode 13"),
        ),
    ];
    for (what, results, expect) in cases {
        check(
            results[0] == Ok(1) && results[2] == Ok(2),
            &format!("{what}: batch-mates get their values (got {results:?})"),
        )?;
        let thirteen = &results[1];
        if pool.kind() == "thread" {
            // Nothing is encoded on a thread pool: the value itself moves, so it never fails.
            check(*thirteen == Ok(13), &format!("{what}: fine on threads"))?;
            continue;
        }
        let ok = match (thirteen, &expect) {
            (Err(Error::Panicked { message, location }), Expect::Panicked(m)) => {
                message == m
                    && location
                        .as_deref()
                        .is_some_and(|l| l.contains("tests/parity/bad_items.rs:"))
            }
            (Err(Error::Serde(message)), Expect::Serde(m)) => message.contains(m),
            _ => false,
        };
        check(
            ok,
            &format!("{what}: item 13 alone fails, with its cause (got {thirteen:?})"),
        )?;
    }
    check(
        pids() == before,
        "the worker process lives through all of it",
    )?;
    check(
        pool.map(|x: u32| x + 1, 0..3)? == vec![1, 2, 3],
        "and the pool still works",
    )
}
