//! Tasks that a thread pool can inline: [`task!`] pairs a closure that captures nothing with
//! the `fn` pointer it coerces to, and [`Pool::map_inline`](crate::Pool::map_inline) runs the
//! closure itself on a [`crate::ThreadPool`], the pointer everywhere else.
//!
//! What this speed layer wins: `ThreadPool::map_inline` of 10^6 trivial items runs at about
//! plain rayon's speed, where `map`, calling through a pointer per item, took 2.7-3.6x
//! (common/README.md's bench notes).
//!
//! Why a pair, and no `unsafe`: a task is named by address (`fn(A) -> R`) so that another
//! process can call it, and a call through an address cannot be inlined. A thread pool could
//! call the closure's own type instead, but only with a value of it: making one "from nothing"
//! in a worker is unsound for a closure that holds a token whose making is restricted, and Rust
//! has no bound that says "captures nothing". So the value travels: [`task!`] keeps the closure
//! (a `Copy` value, zero bytes) beside its pointer, and nothing is ever conjured. The macro's
//! coercion to a `fn` pointer is the check that the closure captures nothing, even a zero-sized
//! value; it is what makes the two halves the same function, which is why the pair is built
//! only by the macro.
//!
//! ```
//! use common::inline::task;
//! use common::{Pool, ThreadPool};
//! let pool = ThreadPool::new(2).unwrap();
//! let doubled = pool.map_inline(task!(|x: u64| x * 2), 0..4);
//! assert_eq!(doubled, Ok(vec![0, 2, 4, 6]));
//! ```
//!
//! A closure that captures anything, even a value of zero bytes, has no `fn` pointer that
//! another process could call, so it is refused at compile time:
//!
//! ```compile_fail
//! use common::inline::task;
//! let offset = 10u64;
//! let _ = task!(move |x: u64| x + offset); // error: a closure that captures cannot coerce
//! ```
//!
//! ```compile_fail
//! use common::inline::task;
//! #[derive(Clone, Copy)]
//! struct Proof; // zero-sized, and captured all the same
//! let proof = Proof;
//! let _ = task!(move |x: u64| {
//!     let _ = proof;
//!     x
//! }); // error: a closure that captures cannot coerce
//! ```
//!
//! A `fn` pointer is refused too: a pointer is all it is, so there would be nothing to inline
//! (pass it to [`Pool::map`](crate::Pool::map)). A named `fn` is welcome: its type is the
//! function itself.
//!
//! ```compile_fail
//! use common::inline::task;
//! let pointer: fn(u64) -> u64 = |x| x + 1;
//! let _ = task!(pointer); // error: a fn pointer has nothing to inline
//! ```
//!
//! ```
//! use common::inline::task;
//! use common::{Pool, ThreadPool};
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//! let pool = ThreadPool::new(2).unwrap();
//! assert_eq!(pool.map_inline(task!(square), [3, 4]), Ok(vec![9, 16]));
//! ```

/// A task for [`Pool::map_inline`](crate::Pool::map_inline): a closure that captures nothing
/// (or a named `fn`), `F`, with the `fn` pointer it coerces to. Made by [`task!`] only.
pub struct Inline<F, A, R> {
    f: F,
    pointer: fn(A) -> R,
}

// By hand: a derive would ask `A: Clone` and `R: Clone`, which a pair of functions never needs.
impl<F: Copy, A, R> Clone for Inline<F, A, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F: Copy, A, R> Copy for Inline<F, A, R> {}

impl<F, A, R> Inline<F, A, R>
where
    F: Fn(A) -> R + Copy + Send + Sync + 'static,
{
    /// The pair, from [`task!`], which has just made `pointer` by coercing `f`: the two are
    /// one function. Anyone else who calls this may pass two different ones, and the pools
    /// then run different code (no memory is at risk); hence hidden.
    #[doc(hidden)]
    pub fn __from_task_macro(f: F, pointer: fn(A) -> R) -> Self {
        const {
            assert!(
                size_of::<F>() == 0,
                "task!: a fn pointer has nothing to inline; pass it to Pool::map"
            )
        };
        Inline { f, pointer }
    }

    /// The task as a plain `fn` pointer, as every pool can run it: in another process too,
    /// since it is an address in this executable's code.
    ///
    /// ```
    /// use common::inline::task;
    /// use common::{Pool, ThreadPool};
    /// let pool = ThreadPool::new(1).unwrap();
    /// let add_one = task!(|x: u8| x + 1);
    /// assert_eq!(pool.map(add_one.as_fn(), [1, 2]), Ok(vec![2, 3]));
    /// ```
    pub fn as_fn(&self) -> fn(A) -> R {
        self.pointer
    }

    /// The closure itself, which a thread pool calls by its type, so that it can be inlined.
    pub(crate) fn closure(&self) -> F {
        self.f
    }
}

/// Makes an [`Inline`] task of a closure that captures nothing, or of a named `fn`; see the
/// module docs for what it checks and why.
///
/// The closure's argument needs its type written (`|x: u64| ...`), as for any closure that is
/// stored before it is called.
#[macro_export]
#[doc(hidden)]
macro_rules! __task {
    ($f:expr $(,)?) => {{
        let f = $f;
        // The check: only a named `fn`, a closure that captures nothing, or a `fn` pointer
        // coerces to a `fn` pointer (the last is refused by the constructor's size check).
        let pointer: fn(_) -> _ = f;
        $crate::inline::Inline::__from_task_macro(f, pointer)
    }};
}

// At the root the macro's name is hidden: the user's names there are counted (lib.rs).
#[doc(inline)]
pub use crate::__task as task;
