//! What a segment says about the type it holds, so that [`Segment::open`](super::Segment::open)
//! with another type is an error instead of a `&u64` that changes under its reader.
//!
//! The creator writes the header with a plain file write before the mapping is shared; an
//! opener reads it back the same way, before it maps anything. It holds a type fingerprint, the
//! type's size and alignment, and its name (for the message).
//!
//! The fingerprint is a hash (FNV-1a) of `std::any::type_name::<T>()`, the size and the
//! alignment. Not of `TypeId`: that needs `T: 'static`, which `Shareable` does not ask, and
//! says nothing a reader can print. A type name is only fixed within one build, and two types
//! can share one (two versions of a crate), hence size and alignment beside it; within one
//! build, which is what the processes sharing a segment run (its name carries the program's),
//! it tells apart every mix-up a demo can make: `u64` and `AtomicU64`, `[u64; 4]` and
//! `[u64; 8]`. It is a check against mistakes, not against a process that writes anything.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bytes the header takes at the start of the mapping; the shared value follows it, aligned as
/// its type needs (`Layout` is `#[repr(C)]`).
pub(super) const HEADER_LEN: usize = 128;
/// Room for the type's name, after the fingerprint, size, alignment and the name's length.
const NAME_ROOM: usize = HEADER_LEN - 26;

/// The header of a segment holding a `T`.
pub(super) fn of<T>() -> [u8; HEADER_LEN] {
    let name = std::any::type_name::<T>();
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(&fingerprint::<T>().to_le_bytes());
    header[8..16].copy_from_slice(&(size_of::<T>() as u64).to_le_bytes());
    header[16..24].copy_from_slice(&(align_of::<T>() as u64).to_le_bytes());
    // A long name is cut at a character boundary: it is only for the message.
    let mut len = name.len().min(NAME_ROOM);
    while !name.is_char_boundary(len) {
        len -= 1;
    }
    header[24..26].copy_from_slice(&(len as u16).to_le_bytes());
    header[26..26 + len].copy_from_slice(&name.as_bytes()[..len]);
    header
}

/// Writes `T`'s header at the start of a new segment's file (before it is mapped or shared).
pub(super) fn write<T>(file: &File) -> io::Result<()> {
    file.write_all_at(&of::<T>(), 0)
}

/// Checks that the segment `name`, open as `file`, holds a `T`.
///
/// # Errors
/// `InvalidData` naming both types if it holds another (or nothing its creator finished).
pub(super) fn check<T>(file: &File, name: &str) -> io::Result<()> {
    let mut found = [0u8; HEADER_LEN];
    if file.metadata()?.len() < HEADER_LEN as u64 {
        return Err(invalid(format!(
            "segment {name} is too small to be a segment"
        )));
    }
    file.read_exact_at(&mut found, 0)?;
    let expected = of::<T>();
    if found[..24] == expected[..24] {
        return Ok(());
    }
    let ours = std::any::type_name::<T>();
    if found[..24] == [0; 24] {
        return Err(invalid(format!(
            "segment {name} holds no type yet (its creator has not finished), not {}",
            short(ours)
        )));
    }
    let len = usize::from(u16::from_le_bytes([found[24], found[25]])).min(NAME_ROOM);
    let theirs = String::from_utf8_lossy(&found[26..26 + len]).into_owned();
    // Short names read best ("u64, not AtomicU64"); full paths where the short ones are alike.
    let (theirs, ours) = if short(&theirs) == short(ours) {
        (theirs, ours.to_string())
    } else {
        (short(&theirs), short(ours))
    };
    Err(invalid(format!(
        "segment {name} holds {theirs}, not {ours}"
    )))
}

fn invalid(words: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, words)
}

/// FNV-1a over the type's name, size and alignment: fixed, simple, and the same in every
/// process of one build.
fn fingerprint<T>() -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let name = std::any::type_name::<T>().as_bytes();
    let size = (size_of::<T>() as u64).to_le_bytes();
    let align = (align_of::<T>() as u64).to_le_bytes();
    for &byte in name.iter().chain(&size).chain(&align) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A type name without its paths: `[core::sync::atomic::AtomicU64; 4]` is `[AtomicU64; 4]`.
fn short(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut ident_start = 0;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            out.truncate(ident_start); // drop the path segment just written
        } else {
            out.push(c);
            if !(c.is_alphanumeric() || c == '_') {
                ident_start = out.len();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn short_names_drop_their_paths() {
        assert_eq!(short(std::any::type_name::<AtomicU64>()), "AtomicU64");
        assert_eq!(
            short(std::any::type_name::<[AtomicU64; 4]>()),
            "[AtomicU64; 4]"
        );
        assert_eq!(short("a::b::Pair<c::D, u8>"), "Pair<D, u8>");
    }

    #[test]
    fn fingerprints_tell_types_apart() {
        assert_ne!(fingerprint::<u64>(), fingerprint::<AtomicU64>());
        assert_ne!(fingerprint::<[u64; 4]>(), fingerprint::<[u64; 8]>());
        assert_eq!(fingerprint::<u64>(), fingerprint::<u64>());
        assert_eq!(&of::<u64>()[26..29], b"u64");
    }
}
