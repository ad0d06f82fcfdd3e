//! Byte buffers that may grow large: frames, results, receive buffers. Their fresh memory is
//! asked for in huge pages.
//!
//! Why this exists, measured on the 2-core development machine (load 8-10): filling a fresh
//! 64 MiB `Vec` costs 37-59 ms, against 11 ms for the same copy into memory already touched.
//! The difference is 16,384 page faults, each zeroing a 4 KiB page and mapping it. This
//! kernel's transparent huge pages are set to `madvise`: a range advised `MADV_HUGEPAGE` faults
//! in 2 MiB at a time, 32 faults for 64 MiB, and the same fill took 8-30 ms. A 64 MiB argument
//! passes through four such buffers on its way to a worker and back (the frame, the worker's
//! receive buffer, the worker's encoded result, the pool's receive buffer), so this is most of
//! the time that a large payload spends outside the copies themselves.
//!
//! Small buffers are left alone: advice only helps a buffer that spans whole 2 MiB pages.

use std::collections::TryReserveError;
use std::io;

/// The size of a huge page on x86-64 and most of aarch64; only whole ones inside a buffer are
/// advised.
const HUGE_PAGE: usize = 2 << 20;

/// Reserves room for exactly `additional` more bytes, advising huge pages for the new room when
/// it spans any.
///
/// # Errors
/// If the memory cannot be had (the buffer is then as it was).
pub(crate) fn reserve_exact(buf: &mut Vec<u8>, additional: usize) -> Result<(), TryReserveError> {
    let before = buf.capacity();
    buf.try_reserve_exact(additional)?;
    // Only fresh room needs advice: a reused buffer was advised when it grew (and a system
    // call per small batch into a large kept buffer would be pure cost).
    if buf.capacity() != before {
        advise_spare(buf);
    }
    Ok(())
}

/// A `Write` into a `Vec` that grows by doubling, as `Vec` does, and advises huge pages for
/// the room each large growth adds. Encoders write through it (see `crate::codec`).
pub(crate) struct Growing<'a>(pub(crate) &'a mut Vec<u8>);

impl io::Write for Growing<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let buf = &mut *self.0;
        if buf.capacity() - buf.len() < bytes.len() {
            // Doubling, as `Vec::reserve` would, but with the chance to advise the new room.
            let additional = bytes.len().max(buf.capacity());
            buf.try_reserve_exact(additional)
                .or_else(|_| buf.try_reserve_exact(bytes.len()))
                .map_err(io::Error::other)?;
            advise_spare(buf);
        }
        buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write(bytes).map(|_| ())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Advises huge pages for the whole 2 MiB pages inside `buf`'s untouched room, if any.
fn advise_spare(buf: &mut Vec<u8>) {
    let spare = buf.spare_capacity_mut();
    if spare.len() < HUGE_PAGE {
        return;
    }
    let start = spare.as_mut_ptr() as usize;
    let first = start.next_multiple_of(HUGE_PAGE);
    let end = (start + spare.len()) / HUGE_PAGE * HUGE_PAGE;
    if first < end {
        hugepage_advice(first, end - first);
    }
}

/// `madvise(MADV_HUGEPAGE)` on `[start, start + len)`: best effort, an error is ignored (a
/// kernel without transparent huge pages just keeps 4 KiB pages).
fn hugepage_advice(start: usize, len: usize) {
    // SAFETY: (1) `advise_spare` passes a range of whole pages inside one live allocation that
    // this process owns (a `Vec`'s spare capacity), so no other mapping is affected.
    // (2) MADV_HUGEPAGE is advice about how to back the range: it changes neither its contents
    // nor its validity, so no Rust reference into it is invalidated.
    let _ = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn growing_keeps_every_byte_in_order() {
        let mut buf = vec![1u8, 2];
        let chunk: Vec<u8> = (0..=255).collect();
        for _ in 0..20_000 {
            Growing(&mut buf).write_all(&chunk).unwrap();
        }
        assert_eq!(buf.len(), 2 + 256 * 20_000);
        assert_eq!(&buf[..4], &[1, 2, 0, 1]);
        assert!(buf[2..].chunks(256).all(|c| c == chunk.as_slice()));
    }

    #[test]
    fn a_large_reserve_is_exact_and_usable() {
        let mut buf = Vec::new();
        reserve_exact(&mut buf, 5 * HUGE_PAGE).unwrap();
        assert!(buf.capacity() >= 5 * HUGE_PAGE);
        buf.resize(5 * HUGE_PAGE, 9);
        assert!(buf.iter().all(|&b| b == 9));
    }
}
