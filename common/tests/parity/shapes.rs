//! The serde shapes the cases send: enum taggings, renames, flattening, newtypes, bytes.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::SocketAddr;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub(crate) enum Untagged {
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
pub(crate) enum Internal {
    Circle { r: f64 },
    Rect { w: f64, h: f64 },
    Empty,
    Wrapped(Point),
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "t", content = "c")]
pub(crate) enum Adjacent {
    A(u8),
    B { s: String },
    C,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) enum External {
    Unit,
    New(u32),
    Tuple(u8, String),
    Struct { a: Option<bool> },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct Point {
    pub(crate) x: i32,
    pub(crate) y: i32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Sparse {
    pub(crate) user_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tags: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) count: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct Flat {
    pub(crate) id: u32,
    #[serde(flatten)]
    pub(crate) meta: Meta,
    #[serde(flatten)]
    pub(crate) rest: BTreeMap<String, Value>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct Meta {
    pub(crate) author: String,
    #[serde(default)]
    pub(crate) draft: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct Marker;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct Meters(pub(crate) f64);

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct Pair(pub(crate) i16, pub(crate) String);

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct Blob {
    pub(crate) name: String,
    #[serde(with = "serde_bytes")]
    pub(crate) data: Vec<u8>,
}

/// An f64 compared by its bits, so that NaN equals itself and -0.0 differs from 0.0.
#[derive(Serialize, Deserialize, Debug, Clone, Copy)]
#[serde(transparent)]
pub(crate) struct Bits(pub(crate) f64);

impl PartialEq for Bits {
    fn eq(&self, other: &Bits) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
