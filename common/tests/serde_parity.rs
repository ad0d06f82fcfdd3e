//! Same code, same results on both pools, for every serde type that round-trips through
//! serde_json; a bad value fails alone; panics keep their location whatever hook is installed.
//!
//! Each check is one generic body run on a `ThreadPool` and on a `ProcessPool`. This binary has
//! its own `main` (harness = false) because process workers re-enter it: `common::init()` must
//! come first. Run one test with `cargo test -p common --test serde_parity -- <name-filter>`.

use common::plumbing::Task;
use common::{Chunk, Error, Pool, ProcessPool, ThreadPool};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::ByteBuf;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

mod harness;
use harness::{check, Test};

/// Makes this binary act as a program that installs its hook before any pool exists.
const ROLE: &str = "SERDE_PARITY_ROLE";

fn main() {
    common::init();
    if std::env::var(ROLE).as_deref() == Ok("hook-first") {
        return hook_first_program();
    }
    harness::run(&[
        Test("serde_cases_on_threads", || {
            serde_cases(&ThreadPool::new(2)?).map(drop)
        }),
        Test("serde_cases_on_processes", || {
            serde_cases(&ProcessPool::new(2)?).map(drop)
        }),
        Test("serde_cases_agree_on_both_pools", || {
            let threads = serde_cases(&ThreadPool::new(2)?)?;
            let processes = serde_cases(&ProcessPool::new(2)?)?;
            check(threads == processes, "the two transcripts are identical")
        }),
        Test("skipped_field_on_threads", || {
            skipped_field(&ThreadPool::new(1)?)
        }),
        Test("skipped_field_on_processes", || {
            skipped_field(&ProcessPool::new(1)?)
        }),
        Test("one_bad_item_on_threads", || {
            one_bad_item(&ThreadPool::new(1)?, &Vec::new)
        }),
        Test("one_bad_item_on_processes", || {
            let pool = ProcessPool::new(1)?;
            one_bad_item(&pool, &|| pool.worker_pids())
        }),
        Test("hook_installed_before_any_pool", || {
            let mut program = common::demo::child::Child::spawn(
                common::demo::child::self_command().env(ROLE, "hook-first"),
            )?;
            let status = program.finish(Duration::from_secs(20))?;
            check(status.success(), &format!("its checks pass ({status})"))
        }),
        // These two replace the panic hook of this test process; they run last.
        Test("hooks_on_threads", || hooks(&ThreadPool::new(1)?)),
        Test("hooks_on_processes", || hooks(&ProcessPool::new(1)?)),
    ]);
}

// ---------------------------------------------------------------------------------------------
// Item 11: serde parity.

fn echo<T>(x: T) -> T {
    x
}

/// Sends `values` through `echo` on `pool`: each must come back equal, and must round-trip
/// through serde_json too (so the case is in scope). Returns a line for the transcript: what
/// came back, as `Debug` shows it.
fn round_trip<P, T>(pool: &P, what: &str, values: Vec<T>) -> Result<String, String>
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

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
enum Untagged {
    Nothing,
    Int(i64),
    Big(u64),
    Float(f64),
    Addr(SocketAddr),
    Text(String),
    List(Vec<Untagged>),
    Point { x: i32, y: i32 },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type")]
enum Internal {
    Circle { r: f64 },
    Rect { w: f64, h: f64 },
    Empty,
    Wrapped(Point),
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "t", content = "c")]
enum Adjacent {
    A(u8),
    B { s: String },
    C,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum External {
    Unit,
    New(u32),
    Tuple(u8, String),
    Struct { a: Option<bool> },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Sparse {
    user_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    count: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Flat {
    id: u32,
    #[serde(flatten)]
    meta: Meta,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Meta {
    author: String,
    #[serde(default)]
    draft: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Marker;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Meters(f64);

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Pair(i16, String);

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Blob {
    name: String,
    #[serde(with = "serde_bytes")]
    data: Vec<u8>,
}

/// An f64 compared by its bits, so that NaN equals itself and -0.0 differs from 0.0.
#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
#[serde(transparent)]
struct Bits(f64);

impl PartialEq for Bits {
    fn eq(&self, other: &Bits) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

/// Every case of issue 10 item 11, on one pool; returns a transcript to compare across pools.
fn serde_cases<P: Pool>(pool: &P) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let untagged = vec![
        Untagged::Nothing,
        Untagged::Int(-5),
        Untagged::Int(7),
        Untagged::Big(u64::MAX),
        Untagged::Float(1.5),
        Untagged::Float(2.0),
        Untagged::Addr("127.0.0.1:8080".parse()?),
        Untagged::Addr("[::1]:9".parse()?),
        Untagged::Text("hello".into()),
        Untagged::List(vec![Untagged::Int(1), Untagged::Text("x".into())]),
        Untagged::Point { x: -1, y: 2 },
    ];
    let value = json!({
        "null": null, "yes": true, "neg": -7, "big": u64::MAX, "min": i64::MIN,
        "float": 2.5, "whole float": 1.0, "text": "é 漢字 🦀",
        "array": [1, [2, {}], [], "x"], "object": {"k": {"k2": "v"}}
    });
    let mut lines = vec![
        round_trip(pool, "untagged enum", untagged)?,
        round_trip(
            pool,
            "internally tagged enum",
            vec![
                Internal::Circle { r: 1.0 },
                Internal::Rect { w: 2.0, h: 0.5 },
                Internal::Empty,
                Internal::Wrapped(Point { x: 3, y: 4 }),
            ],
        )?,
        round_trip(
            pool,
            "adjacently tagged enum",
            vec![Adjacent::A(9), Adjacent::B { s: "b".into() }, Adjacent::C],
        )?,
        round_trip(
            pool,
            "externally tagged enum",
            vec![
                External::Unit,
                External::New(3),
                External::Tuple(1, "t".into()),
                External::Struct { a: None },
                External::Struct { a: Some(false) },
            ],
        )?,
        round_trip(
            pool,
            "skip_serializing_if",
            vec![
                Sparse {
                    user_id: 1,
                    note: None,
                    tags: vec![],
                    count: 0,
                },
                Sparse {
                    user_id: 2,
                    note: Some("n".into()),
                    tags: vec!["a".into()],
                    count: 3,
                },
            ],
        )?,
        round_trip(
            pool,
            "flatten",
            vec![Flat {
                id: 1,
                meta: Meta {
                    author: "ann".into(),
                    draft: true,
                },
                rest: [
                    ("x".into(), json!(1)),
                    ("y".into(), json!([1, "two", null])),
                ]
                .into(),
            }],
        )?,
        round_trip(
            pool,
            "serde_json::Value",
            vec![value, json!(null), json!(1.0), json!(-1), json!("s")],
        )?,
        round_trip(pool, "Option", vec![None, Some(0u32), Some(u32::MAX)])?,
        round_trip(
            pool,
            "maps",
            // One key in the HashMap: its `Debug` order, in the transcript, is random with more.
            vec![(
                HashMap::from([("a".to_string(), vec![1u32, 2])]),
                BTreeMap::from([(0u64, "zero".to_string()), (u64::MAX, "max".into())]),
            )],
        )?,
        round_trip(
            pool,
            "integer extremes",
            vec![(
                u64::MAX,
                i64::MIN,
                i64::MAX,
                u8::MAX,
                i8::MIN,
                i32::MIN,
                0u16,
            )],
        )?,
        round_trip(
            pool,
            "128-bit integers",
            vec![(u128::MAX, i128::MIN, 0u128, -1i128)],
        )?,
        round_trip(
            pool,
            "f64",
            vec![0.1, -0.0, f64::MAX, f64::MIN_POSITIVE, 5e-324, 1e300]
                .into_iter()
                .map(Bits)
                .collect(),
        )?,
        round_trip(pool, "f32", vec![(0.1f32, f32::MAX, -f32::MIN_POSITIVE)])?,
        round_trip(
            pool,
            "bytes",
            vec![
                (
                    ByteBuf::from((0..=255).collect::<Vec<u8>>()),
                    ByteBuf::new(),
                ),
                (ByteBuf::from(vec![0u8; 100_000]), ByteBuf::from(vec![1])),
            ],
        )?,
        round_trip(
            pool,
            "bytes with serde_bytes in a struct, and a plain Vec<u8>",
            vec![(
                Blob {
                    name: "b".into(),
                    data: vec![0, 255, 128],
                },
                (0..=255).collect::<Vec<u8>>(),
            )],
        )?,
        round_trip(
            pool,
            "strings and chars",
            vec![
                (String::new(), 'x', Cow::Borrowed("borrowed")),
                ("é 漢字 🦀 \0".into(), '🦀', Cow::Owned("owned".into())),
            ],
        )?,
        round_trip(
            pool,
            "unit, unit struct, newtype and tuple structs",
            vec![((), Marker, Meters(2.5), Pair(-3, "p".into()))],
        )?,
        round_trip(
            pool,
            "nested",
            vec![(
                vec![vec![External::Unit], vec![]],
                Some(Internal::Empty),
                Duration::new(5, 7),
            )],
        )?,
    ];
    // Not JSON (serde_json refuses NaN and infinities), but both pools carry them exactly.
    let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY]
        .map(Bits)
        .to_vec();
    let back = pool.map(echo::<Bits>, specials.clone())?;
    check(back == specials, "NaN and infinities keep their bits")?;
    lines.push(format!("NaN and infinities: {back:?}"));
    Ok(lines)
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct WithCache {
    value: u32,
    #[serde(skip)]
    cache: Option<String>,
}

/// What serde does not carry: a thread worker gets the value itself, a process worker its
/// encoding, which leaves a `#[serde(skip)]` field out (it arrives as its `Default`) and does
/// not tell `Some(None)` from `None`.
fn skipped_field<P: Pool>(pool: &P) -> harness::Result {
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

// ---------------------------------------------------------------------------------------------
// Item 9: a value that cannot be encoded or decoded fails alone.

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

fn one_bad_item<P: Pool>(pool: &P, pids: &dyn Fn() -> Vec<u32>) -> harness::Result {
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
                        .is_some_and(|l| l.contains("tests/serde_parity.rs:"))
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

// ---------------------------------------------------------------------------------------------
// Item 10: panic locations survive hooks installed after the pool exists.

/// How many panics the program's own hook has seen.
static PROGRAM_HOOK_SAW: AtomicUsize = AtomicUsize::new(0);

fn counting_hook() {
    std::panic::set_hook(Box::new(|_| {
        PROGRAM_HOOK_SAW.fetch_add(1, SeqCst);
    }));
}

fn panicky(x: u32) -> u32 {
    if x > 0 {
        panic!("panicky {x}");
    }
    x
}

/// A task that installs a hook of its own (in a process worker: in that worker).
fn task_installs_a_hook(_: ()) {
    std::panic::set_hook(Box::new(|_| {}));
}

fn located_here(result: &Result<u32, Error>, message: &str) -> bool {
    matches!(result, Err(Error::Panicked { message: m, location: Some(at) })
        if m == message && at.contains("tests/serde_parity.rs:"))
}

fn hooks<P: Pool>(pool: &P) -> harness::Result {
    pool.map(|x: u32| x, 0..4)?; // the pool exists and has run tasks
    counting_hook();
    let outcome = (|| -> harness::Result {
        // The first panic after a non-chaining hook replaced the pool's may lose its location
        // on the thread pool (documented in src/panics.rs); every later one must have it.
        let first = pool.submit(panicky, 1).wait();
        check(
            matches!(&first, Err(Error::Panicked { message, .. }) if message == "panicky 1"),
            &format!("the first panic after the program's hook is still an error ({first:?})"),
        )?;
        let seen = PROGRAM_HOOK_SAW.load(SeqCst);
        let second = pool.submit(panicky, 2).wait();
        check(
            located_here(&second, "panicky 2"),
            &format!("a hook installed after the pool keeps locations ({second:?})"),
        )?;
        check(
            PROGRAM_HOOK_SAW.load(SeqCst) == seen,
            "a task's panic is an error value, not a call of the program's hook",
        )?;
        let _ = std::thread::spawn(|| panic!("outside any pool")).join();
        check(
            PROGRAM_HOOK_SAW.load(SeqCst) == seen + 1,
            "the program's hook still sees panics outside pool tasks",
        )?;

        pool.submit(task_installs_a_hook, ()).wait()?;
        let _first = pool.submit(panicky, 3).wait();
        let second = pool.submit(panicky, 4).wait();
        check(
            located_here(&second, "panicky 4"),
            &format!("a hook installed by a task keeps locations ({second:?})"),
        )
    })();
    drop(std::panic::take_hook()); // the default hook again, for whatever runs next
    outcome
}

/// A program that installs its hook first, then uses both pools (run by
/// `hook_installed_before_any_pool` in a process of its own, so that no pool existed before).
fn hook_first_program() {
    counting_hook();
    let outcome = (|| -> harness::Result {
        hook_first(&ThreadPool::new(1)?)?;
        hook_first(&ProcessPool::new(1)?)
    })();
    if let Err(e) = outcome {
        eprintln!("hook-first program: {e}");
        std::process::exit(1);
    }
}

fn hook_first<P: Pool>(pool: &P) -> harness::Result {
    let seen = PROGRAM_HOOK_SAW.load(SeqCst);
    let first = pool.submit(panicky, 1).wait();
    check(
        located_here(&first, "panicky 1"),
        &format!(
            "with the hook installed first, even the first panic has its location ({first:?})"
        ),
    )?;
    check(
        PROGRAM_HOOK_SAW.load(SeqCst) == seen,
        "a task's panic is an error value, not a call of the program's hook",
    )?;
    let _ = std::thread::spawn(|| panic!("outside any pool")).join();
    check(
        PROGRAM_HOOK_SAW.load(SeqCst) == seen + 1,
        "the program's hook sees panics outside pool tasks",
    )
}
