//! Which build this process is: a 64-bit fingerprint that every frame carries (see `wire.rs`).
//!
//! A frame names its function by code distances (see the parent module), which mean something
//! only in the build that computed them. A rank of an MPI job that runs a rebuilt binary would
//! read the same distances as other functions of other types: undefined behaviour, not an
//! error. So each frame carries its build's fingerprint and a worker compares it with its own,
//! a `u64` compare, before it computes any address.
//!
//! The fingerprint is the linker's build id (`NT_GNU_BUILD_ID`, what `readelf -n` prints as
//! "Build ID"): a hash of the linked output, so two builds with different code differ. It is read
//! from `/proc/self/exe`'s ELF program headers with plain file reads, no `unsafe`: the ELF64
//! header gives where the program headers are, a `PT_NOTE` segment holds notes, one of them
//! the GNU build id. Its first 8 bytes, read big-endian, are the fingerprint, so its hex
//! starts as `readelf`'s does.
//!
//! This guards against mistakes (a stale binary on one host), not against a forger: anyone who
//! can write a frame can copy a fingerprint. That is why `plumbing::run_batch` stays `unsafe`.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

/// This process's build fingerprint, computed once (a few small reads of its own executable).
pub(crate) fn fingerprint() -> u64 {
    static FINGERPRINT: OnceLock<u64> = OnceLock::new();
    *FINGERPRINT.get_or_init(|| {
        let exe = "/proc/self/exe";
        let file = File::open(exe).unwrap_or_else(|e| cannot_tell(&e));
        match read_build_id(&file) {
            Ok(Some(id)) => from_build_id(&id),
            // A linker run without `--build-id` leaves no note (and headers we cannot follow
            // are as good as none). Then the executable's whole contents stand for the build:
            // slower (once per process), but never "no check".
            Ok(None) | Err(_) => hash_contents(&file).unwrap_or_else(|e| cannot_tell(&e)),
        }
    })
}

/// Where the executable cannot even be read, no fingerprint can be trusted: a process that
/// cannot say which build it is must not run frames, nor send frames that others would run.
fn cannot_tell(e: &io::Error) -> ! {
    panic!("cannot read /proc/self/exe to tell which build this is: {e}")
}

/// A fingerprint in short hex for a message: its first 8 digits, or all 16 when `other` shares
/// them (so two fingerprints never print alike).
pub(crate) fn short_hex(fingerprint: u64, other: u64) -> String {
    if fingerprint >> 32 == other >> 32 {
        format!("{fingerprint:016x}")
    } else {
        format!("{:08x}", fingerprint >> 32)
    }
}

/// The first 8 bytes of a build id, big-endian (padded with zeros if shorter).
fn from_build_id(id: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    let n = id.len().min(8);
    first[..n].copy_from_slice(&id[..n]);
    u64::from_be_bytes(first)
}

/// A hash of everything in `file`. std's hasher is only promised to be the same within one
/// build of the program, which is all that is needed: the same file, run anywhere, computes it
/// with the same code.
fn hash_contents(file: &File) -> io::Result<u64> {
    use std::hash::Hasher;
    let mut hasher = std::hash::DefaultHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = file.read_at(&mut buf, at)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.write(&buf[..n]);
        at += n as u64;
    }
}

// The few numbers of the ELF64 format this reads (see `man 5 elf`).
const ELF_MAGIC: [u8; 4] = *b"\x7fELF";
const ELFCLASS64: u8 = 2;
const ELFDATA2LSB: u8 = 1;
const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;
/// Bigger than any real note segment; a garbage size is not allocated.
const MAX_NOTES: u64 = 64 * 1024;

/// The GNU build id of the ELF64 little-endian executable `file`, if it has one.
///
/// # Errors
/// The read error, including `UnexpectedEof` for a file cut short; a file that is not such an
/// ELF (or whose headers make no sense) is `Ok(None)`.
pub(crate) fn read_build_id(file: &File) -> io::Result<Option<Vec<u8>>> {
    let mut head = [0u8; 64];
    file.read_exact_at(&mut head, 0)?;
    if head[..4] != ELF_MAGIC || head[4] != ELFCLASS64 || head[5] != ELFDATA2LSB {
        return Ok(None);
    }
    let program_headers = u64_at(&head, 32);
    let (entry_size, count) = (u16_at(&head, 54), u16_at(&head, 56));
    if usize::from(entry_size) < 56 {
        return Ok(None);
    }
    for i in 0..u64::from(count) {
        let mut entry = [0u8; 56];
        let at = program_headers.checked_add(i * u64::from(entry_size));
        file.read_exact_at(&mut entry, at.ok_or(io::ErrorKind::InvalidData)?)?;
        let (kind, offset, size, align) = (
            u32_at(&entry, 0),
            u64_at(&entry, 8),
            u64_at(&entry, 32),
            u64_at(&entry, 48),
        );
        if kind != PT_NOTE || size > MAX_NOTES {
            continue;
        }
        let mut notes = vec![0u8; size as usize]; // at most MAX_NOTES
        file.read_exact_at(&mut notes, offset)?;
        // Notes are padded to 4 bytes, or to 8 in a segment aligned to 8 (`.note.gnu.property`).
        let pad = if align == 8 { 8 } else { 4 };
        if let Some(id) = find_build_id(&notes, pad) {
            return Ok(Some(id.to_vec()));
        }
    }
    Ok(None)
}

/// The GNU build id among `notes` (name size, description size, type, then the padded name and
/// description, one note after another); `None` if absent or malformed.
fn find_build_id(mut notes: &[u8], pad: usize) -> Option<&[u8]> {
    let padded = |n: usize| n.checked_next_multiple_of(pad);
    while notes.len() >= 12 {
        let (name_size, desc_size) = (u32_at(notes, 0) as usize, u32_at(notes, 4) as usize);
        let kind = u32_at(notes, 8);
        let name_end = 12usize.checked_add(padded(name_size)?)?;
        let desc_end = name_end.checked_add(padded(desc_size)?)?;
        let name = notes.get(12..12 + name_size)?;
        let desc = notes.get(name_end..name_end + desc_size)?;
        if kind == NT_GNU_BUILD_ID && name == b"GNU\0" && !desc.is_empty() {
            return Some(desc);
        }
        notes = notes.get(desc_end..)?;
    }
    None
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file of `bytes` in the temp directory, named for the test and this process.
    fn temp_file(test: &str, bytes: &[u8]) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!("build-id-{test}-{}", std::process::id()));
        File::create(&path).unwrap().write_all(bytes).unwrap();
        let file = File::open(&path).unwrap();
        (path, file)
    }

    /// What `readelf -n` says this test binary's build id is; `None` without readelf.
    fn readelf_build_id() -> Option<String> {
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("readelf")
            .arg("-n")
            .arg(exe)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Build ID: "))?;
        Some(line.trim().to_string())
    }

    #[test]
    fn the_build_id_is_the_one_readelf_reads() {
        let file = File::open("/proc/self/exe").unwrap();
        let id = read_build_id(&file).unwrap();
        let Some(expected) = readelf_build_id() else {
            eprintln!("skipped: no readelf, or no build id in this binary");
            return;
        };
        let hex: String = id
            .expect("a build id")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, expected);
        assert_eq!(format!("{:016x}", fingerprint()), expected[..16]);
    }

    #[test]
    fn a_cut_or_garbage_file_is_no_build_id_and_no_panic() {
        let exe = std::fs::read("/proc/self/exe").unwrap();
        // Cut inside the ELF header, inside the program headers, and before the notes.
        for (cut, len) in [("head", 40), ("headers", 100), ("notes", 600)] {
            let (path, file) = temp_file(cut, &exe[..len]);
            let read = read_build_id(&file);
            std::fs::remove_file(path).unwrap();
            assert!(!matches!(read, Ok(Some(_))), "cut at {len}: {read:?}");
        }
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let (path, file) = temp_file("garbage", &garbage);
        assert!(matches!(read_build_id(&file), Ok(None)));
        std::fs::remove_file(path).unwrap();
    }

    /// A note as a linker writes it: sizes, type, the name "GNU", the description, padded.
    fn note(kind: u32, desc: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&4u32.to_le_bytes());
        n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        n.extend_from_slice(&kind.to_le_bytes());
        n.extend_from_slice(b"GNU\0");
        n.extend_from_slice(desc);
        n.resize(n.len().next_multiple_of(4), 0);
        n
    }

    /// The smallest ELF64 file this reads: its header, program headers for `segments` (type,
    /// offset, size), then `tail`.
    fn elf(segments: &[(u32, u64, u64)], tail: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[..6].copy_from_slice(&[0x7f, b'E', b'L', b'F', ELFCLASS64, ELFDATA2LSB]);
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // program headers right after
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        for &(kind, offset, size) in segments {
            let mut entry = [0u8; 56];
            entry[..4].copy_from_slice(&kind.to_le_bytes());
            entry[8..16].copy_from_slice(&offset.to_le_bytes());
            entry[32..40].copy_from_slice(&size.to_le_bytes());
            entry[48..56].copy_from_slice(&4u64.to_le_bytes());
            f.extend_from_slice(&entry);
        }
        f.extend_from_slice(tail);
        f
    }

    /// Without readelf: a made-up ELF file whose second note segment holds the build id after
    /// a note of another kind; a segment claiming more than any real one is skipped.
    #[test]
    fn a_made_up_elf_gives_its_build_id() {
        let notes = [note(1, &[1, 2, 3]), note(NT_GNU_BUILD_ID, &[0xab; 20])].concat();
        let at = 64 + 3 * 56;
        let segments = [
            (1, 0, 64),             // PT_LOAD: not a note
            (PT_NOTE, 0, u64::MAX), // a lying size: skipped, nothing allocated
            (PT_NOTE, at, notes.len() as u64),
        ];
        let (path, file) = temp_file("made-up", &elf(&segments, &notes));
        let id = read_build_id(&file);
        std::fs::remove_file(path).unwrap();
        assert_eq!(id.unwrap(), Some(vec![0xab; 20]));
        // Cut inside the note: an error or nothing, never a wrong id.
        let (path, file) = temp_file("made-up-cut", &elf(&segments, &notes[..notes.len() - 4]));
        let id = read_build_id(&file);
        std::fs::remove_file(path).unwrap();
        assert!(!matches!(id, Ok(Some(_))), "{id:?}");
    }

    /// Notes whose sizes overflow, or run past the end, are no build id.
    #[test]
    fn notes_with_lying_sizes_are_refused() {
        let mut notes = Vec::new();
        notes.extend_from_slice(&u32::MAX.to_le_bytes()); // name size
        notes.extend_from_slice(&8u32.to_le_bytes());
        notes.extend_from_slice(&NT_GNU_BUILD_ID.to_le_bytes());
        assert_eq!(find_build_id(&notes, 4), None);
        let two = [note(1, &[1, 2, 3]), note(NT_GNU_BUILD_ID, &[0xab; 20])].concat();
        assert_eq!(find_build_id(&two, 4), Some(&[0xab; 20][..]));
        assert_eq!(find_build_id(&two[..two.len() - 1], 4), None);
    }

    #[test]
    fn short_hex_tells_two_fingerprints_apart() {
        assert_eq!(
            short_hex(0x1a2b_3c4d_0000_0001, 0x5e6f_7a8b_0000_0001),
            "1a2b3c4d"
        );
        assert_eq!(
            short_hex(0x1a2b_3c4d_0000_0001, 0x1a2b_3c4d_0000_0002),
            "1a2b3c4d00000001"
        );
        assert_eq!(from_build_id(&[0xcf, 0x85]), 0xcf85_0000_0000_0000);
    }
}
