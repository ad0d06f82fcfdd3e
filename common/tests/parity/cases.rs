//! Item 11: every serde case, on one pool, as a transcript to compare across pools.

use super::roundtrip::{echo, round_trip};
use super::shapes::{
    Adjacent, Bits, Blob, External, Flat, Internal, Marker, Meta, Meters, Pair, Point, Sparse,
    Untagged,
};
use crate::harness::check;
use common::Pool;
use serde_bytes::ByteBuf;
use serde_json::json;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Every case of issue 10 item 11, on one pool; returns a transcript to compare across pools.
pub(crate) fn serde_cases<P: Pool>(pool: &P) -> Result<Vec<String>, Box<dyn std::error::Error>> {
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
