//! A value's place in a map's input or output buffer: full or empty, as its batch's state
//! says (the protocol is in `in_place.rs`). `UnsafeCell`s, so that under the loom model check
//! every access is recorded and checked for a happens-before edge from the last write.

use std::mem::MaybeUninit;

#[cfg(all(test, loom))]
use ::loom::cell::UnsafeCell;
#[cfg(not(all(test, loom)))]
use std::cell::UnsafeCell;

/// One value's place in the input or output: full or empty, as its batch's state says.
/// `repr(transparent)`: the same layout as `T` (so is `UnsafeCell<MaybeUninit<T>>`).
#[repr(transparent)]
pub(super) struct Place<T>(UnsafeCell<MaybeUninit<T>>);

impl<T> Place<T> {
    pub(super) fn empty() -> Self {
        Place(UnsafeCell::new(MaybeUninit::uninit()))
    }

    #[cfg(not(all(test, loom)))]
    fn with_mut<X>(&self, f: impl FnOnce(*mut MaybeUninit<T>) -> X) -> X {
        f(self.0.get())
    }

    #[cfg(all(test, loom))]
    fn with_mut<X>(&self, f: impl FnOnce(*mut MaybeUninit<T>) -> X) -> X {
        self.0.with_mut(f)
    }

    /// Moves the value out; the place is empty after.
    ///
    /// # Safety
    /// The place is full, and no other thread touches it during the call.
    pub(super) unsafe fn take(&self) -> T {
        // SAFETY: the caller's promise: full, and ours alone.
        self.with_mut(|p| unsafe { p.read().assume_init() })
    }

    /// # Safety
    /// The place is empty (or its value may leak), and no other thread touches it.
    pub(super) unsafe fn put(&self, value: T) {
        // SAFETY: the caller's promise: no other thread reads or writes it meanwhile.
        self.with_mut(|p| unsafe { p.write(MaybeUninit::new(value)) });
    }

    /// # Safety
    /// As for [`Place::take`].
    pub(super) unsafe fn drop_value(&self) {
        // SAFETY: as for `take`.
        self.with_mut(|p| unsafe { (*p).assume_init_drop() });
    }
}

/// The caller's items as places, in their own buffer: no copy.
#[cfg(not(all(test, loom)))]
pub(super) fn into_places<T>(values: Vec<T>) -> Vec<Place<T>> {
    let mut values = std::mem::ManuallyDrop::new(values);
    let (ptr, len, capacity) = (values.as_mut_ptr(), values.len(), values.capacity());
    // SAFETY: `Place<T>` has `T`'s size and alignment (transparent all the way down), so the
    // buffer fits a `Vec<Place<T>>` of the same capacity; its `len` values become full places;
    // `values` is forgotten, so the buffer keeps one owner.
    unsafe { Vec::from_raw_parts(ptr.cast::<Place<T>>(), len, capacity) }
}

/// The places' values, in their own buffer.
///
/// # Safety
/// Every place is full.
#[cfg(not(all(test, loom)))]
pub(super) unsafe fn into_values<T>(places: Vec<Place<T>>) -> Vec<T> {
    let mut places = std::mem::ManuallyDrop::new(places);
    let (ptr, len, capacity) = (places.as_mut_ptr(), places.len(), places.capacity());
    // SAFETY: the layout as in `into_places`; every place is full (the caller's promise), so
    // the vector holds `len` initialized values; one owner, as there.
    unsafe { Vec::from_raw_parts(ptr.cast::<T>(), len, capacity) }
}

/// Under loom, whose cells are not transparent: value by value.
#[cfg(all(test, loom))]
pub(super) fn into_places<T>(values: Vec<T>) -> Vec<Place<T>> {
    let place = |v| Place(UnsafeCell::new(MaybeUninit::new(v)));
    values.into_iter().map(place).collect()
}

/// # Safety
/// Every place is full.
#[cfg(all(test, loom))]
pub(super) unsafe fn into_values<T>(places: Vec<Place<T>>) -> Vec<T> {
    // SAFETY: the caller's promise; `places` is ours, so no other thread touches them.
    places.iter().map(|p| unsafe { p.take() }).collect()
}
