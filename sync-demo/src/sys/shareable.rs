//! This crate's promises that a type means the same in every process that maps it
//! (`common::demo::segment::Shareable`): the compiler sees one process at a time.

use common::demo::segment::Shareable;

use crate::shared_barrier::BarrierWords;

// SAFETY: 1. any bits are a valid value: three `AtomicU32`s, each read as a plain number
// (a dead party may leave any count behind; `broken` is tested for non-zero); 2. no address;
// 3. `Sync`, and every change is an atomic operation. `#[repr(C)]` fixes the layout, so every
// process of this program sees the words at the same offsets.
unsafe impl Shareable for BarrierWords {}
