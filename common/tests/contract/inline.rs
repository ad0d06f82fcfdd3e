//! `map_inline`: a task made by `task!` gives what `map` gives, on both pools, on the thread
//! pool's in-place path and on the streamed one, and a panic in it is that item's error.

use crate::harness::{self, check};
use common::inline::task;
use common::{Error, Pool, ProcessPool, ThreadPool};

/// The same closure through `map` (as a `fn` pointer) and `map_inline`, on one pool.
fn agrees_with_map<P: Pool>(pool: &P) -> harness::Result {
    let kind = pool.kind();
    // Plain data whose count is known: the thread pool maps it in place, inlined.
    let cube = task!(|n: u64| n.pow(3) % 97);
    let inlined = pool.map_inline(cube, 0..10_000)?;
    check(
        inlined == pool.map(cube.as_fn(), 0..10_000)?,
        &format!("{kind}: plain data, as map"),
    )?;
    check(
        inlined[9_999] == 9_999u64.pow(3) % 97,
        &format!("{kind}: the last result"),
    )?;
    // Items that own memory, or whose count is unknown, stream in batches.
    let words: Vec<String> = (0..300).map(|n| format!("item {n}")).collect();
    let shout = task!(|s: String| s.to_uppercase());
    check(
        pool.map_inline(shout, words.clone())? == pool.map(shout.as_fn(), words)?,
        &format!("{kind}: owned items, as map"),
    )?;
    let odd = (0..1_000u32).filter(|n| n % 2 == 1);
    check(
        pool.map_inline(task!(|n: u32| n / 2), odd.clone())? == pool.map(|n: u32| n / 2, odd)?,
        &format!("{kind}: an input of unknown length, as map"),
    )?;
    check(
        pool.map_inline(task!(|n: u8| n), Vec::new())?.is_empty(),
        &format!("{kind}: no items"),
    )?;
    Ok(())
}

/// A panicking item fails alone, with its message and this file as its location.
fn a_panic_is_that_items_error<P: Pool>(pool: &P) -> harness::Result {
    let kind = pool.kind();
    let seven = task!(|x: u64| if x == 7 { panic!("seven") } else { x });
    match pool.map_inline(seven, 0..1_000) {
        Err(Error::Panicked { message, location }) => {
            check(message == "seven", &format!("{kind}: the panic message"))?;
            let at = location.ok_or("the panic comes with its location")?;
            check(
                at.contains("tests/contract/inline.rs:"),
                &format!("{kind}: the location names this file (got {at:?})"),
            )?;
        }
        other => return Err(format!("{kind}: expected item 7's panic, got {other:?}").into()),
    }
    check(
        pool.map_inline(seven, 8..11)? == vec![8, 9, 10],
        &format!("{kind}: the pool goes on"),
    )
}

pub(crate) fn map_inline_on_threads() -> harness::Result {
    let pool = ThreadPool::new(3)?;
    agrees_with_map(&pool)?;
    a_panic_is_that_items_error(&pool)
}

pub(crate) fn map_inline_on_processes() -> harness::Result {
    let pool = ProcessPool::new(3)?;
    agrees_with_map(&pool)?;
    a_panic_is_that_items_error(&pool)
}
