//! This crate's promises that a type means the same in every process that maps it
//! (`common::demo::segment::Shareable`): the compiler sees one process at a time.

use common::demo::segment::Shareable;

use crate::bounded_buffer::Buffer;
use crate::classics::{Ring, SharedClassics};
use crate::forced_schedule::Stage;
use crate::shared_barrier::BarrierWords;
use crate::shared_condvar::FifoCondvar;

// SAFETY: 1. any bits are a valid value: three `AtomicU32`s, each read as a plain number
// (a dead party may leave any count behind; `broken` is tested for non-zero); 2. no address;
// 3. `Sync`, and every change is an atomic operation. `#[repr(C)]` fixes the layout, so every
// process of this program sees the words at the same offsets.
unsafe impl Shareable for BarrierWords {}

// SAFETY: 1. four `u32`s, each any number (a count past the capacity reads as full); 2. no
// address; 3. plain integers are `Sync`, and the buffer changes only under its `Lock`.
// `#[repr(C)]` fixes the layout.
unsafe impl Shareable for Buffer {}

// SAFETY: 1. two `AtomicU32`s, compared with wrapping arithmetic, so any pair is a line of
// tickets; 2. no address; 3. `Sync`, every change atomic. `#[repr(C)]` fixes the layout.
unsafe impl Shareable for FifoCondvar {}

// SAFETY: 1. every field is `Shareable` (a `Lock<Buffer>`, condition variables, atomics); an
// unknown outcome reads as "stuck", a condition variable index out of range as "not asleep", a
// log word that decodes to nothing is skipped; 2. no address; 3. `Sync`, every change atomic
// or under the lock. `#[repr(C)]` fixes the layout.
unsafe impl Shareable for Stage {}

// SAFETY: 1. `u32`s only; indices into `items` are taken modulo its length, and `len` is
// compared, never trusted as an index; 2. no address; 3. plain integers are `Sync`, and the ring
// changes only under its `Lock`. `#[repr(C)]` fixes the layout.
unsafe impl Shareable for Ring {}

// SAFETY: 1. every field is `Shareable` (atomics, a barrier, a `Lock<Ring>`, condition
// variables); 2. no address; 3. `Sync`, every change atomic or under the lock. `#[repr(C)]`
// fixes the layout.
unsafe impl Shareable for SharedClassics {}
