//! A large value shared once and read in every task (`Pool::share`: joblib's memmapped arrays,
//! Ray's `ray.put`, Dask's `scatter`): the same results on both pools, a few bytes per task
//! on a process pool, one decode per worker, and nothing left behind.

use crate::harness::{self, check};
use common::{Pool, ProcessPool, Shared, ThreadPool};
use serde::{Deserialize, Deserializer, Serialize};
use serde_bytes::ByteBuf;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// The shared input of the large test: 64 MiB.
const LARGE: usize = 64 << 20;
/// Tasks that read it.
const TASKS: usize = 100;

/// Bytes that are not all alike, the same on every run (xorshift, eight bytes at a time).
fn table(len: usize) -> ByteBuf {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    ByteBuf::from(bytes)
}

/// Task `i` sums every 100th byte from `i` on: each task reads the whole table's length.
fn stride_sum((table, i): (Shared<ByteBuf>, usize)) -> u64 {
    table
        .iter()
        .skip(i)
        .step_by(TASKS)
        .map(|&b| u64::from(b))
        .sum()
}

/// 100 tasks over one shared 64 MiB table give the same sums on both pools as here, and on a
/// process pool the sockets carry a reference per task, not the table: under 2 MiB in all
/// (sent by value, it would be 6.4 GiB).
pub(crate) fn a_large_input_is_sent_once() -> harness::Result {
    let input = table(LARGE);
    let expected: Vec<u64> = (0..TASKS)
        .map(|i| {
            input
                .iter()
                .skip(i)
                .step_by(TASKS)
                .map(|&b| u64::from(b))
                .sum()
        })
        .collect();
    let threads = ThreadPool::new(crate::WORKERS)?;
    let shared = threads.share(input.clone())?;
    let on_threads = threads.map(stride_sum, (0..TASKS).map(|i| (shared.clone(), i)))?;
    check(on_threads == expected, "the thread pool's sums")?;
    let processes = ProcessPool::new(crate::WORKERS)?;
    let before = processes.bytes_sent();
    let shared = processes.share(input)?;
    let on_processes = processes.map(stride_sum, (0..TASKS).map(|i| (shared.clone(), i)))?;
    let sent = processes.bytes_sent() - before;
    check(
        on_processes == on_threads,
        "the process pool's sums equal the thread pool's",
    )?;
    check(
        sent < 2 << 20,
        &format!("{sent} bytes went through the sockets for {TASKS} tasks (bound 2 MiB)"),
    )
}

/// How many times this process decoded a [`Counted`].
static DECODED: AtomicUsize = AtomicUsize::new(0);

/// A byte string whose every decoding is counted, in whichever process decodes it.
#[derive(Serialize)]
struct Counted(#[serde(with = "serde_bytes")] Vec<u8>);

impl<'de> Deserialize<'de> for Counted {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DECODED.fetch_add(1, SeqCst);
        ByteBuf::deserialize(d).map(|b| Counted(b.into_vec()))
    }
}

fn length((counted, _): (Shared<Counted>, usize)) -> usize {
    counted.0.len()
}

/// Per worker: how many `Counted` it decoded, and how many shared values it keeps.
fn decoded_and_kept() -> (usize, usize) {
    (DECODED.load(SeqCst), common::testing::shared_values_kept())
}

/// One task per batch, so that every task is a separate trip: each process worker still
/// decodes the shared value at most once (a thread pool never does), and keeps it until the
/// pool's process drops its last handle; the next batch a worker runs finds it gone and
/// frees it.
pub(crate) fn decoded_once_per_worker_then_freed<P: Pool>(pool: &P) -> harness::Result {
    let shared = pool.share(Counted(vec![7; 1 << 20]))?;
    let items: Vec<_> = (0..40).map(|i| (shared.clone(), i)).collect();
    let lengths = pool.map_chunked(length, items, common::Chunk::Size(1))?;
    check(lengths.iter().all(|&n| n == 1 << 20), "every task read it")?;
    let counts = pool.broadcast(decoded_and_kept)?;
    let decoded: Vec<usize> = counts.iter().map(|c| c.0).collect();
    if pool.kind() == "thread" {
        // A thread pool's workers share this process's counter; nothing was decoded.
        check(
            decoded.iter().all(|&n| n == 0),
            "a thread pool decodes nothing",
        )?;
        return Ok(());
    }
    check(
        decoded.iter().all(|&n| n <= 1) && decoded.iter().sum::<usize>() >= 1,
        &format!("decodes per worker {decoded:?}: at most one each, for 40 tasks"),
    )?;
    let kept: Vec<usize> = counts.iter().map(|c| c.1).collect();
    check(
        kept == decoded,
        &format!("kept per worker {kept:?}, decoded {decoded:?}"),
    )?;
    drop(shared);
    // The broadcast is each worker's next batch: it frees the value before it runs.
    let kept: Vec<usize> = pool
        .broadcast(decoded_and_kept)?
        .iter()
        .map(|c| c.1)
        .collect();
    check(
        kept.iter().all(|&n| n == 0),
        &format!("kept after the drop: {kept:?}"),
    )?;
    check(
        memfds_of("self").is_empty(),
        "the pool's process closed its memfd",
    )
}

/// The shared-value memory files that process `pid` ("self" for this one) holds open.
fn memfds_of(pid: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| target.contains("memfd:common-shared"))
        .collect()
}

fn panics_on_odd((table, i): (Shared<ByteBuf>, usize)) -> usize {
    assert!(i % 2 == 0, "task {i} panics");
    table.len()
}

fn len_of((table, _): (Shared<ByteBuf>, usize)) -> usize {
    table.len()
}

/// A task that panics fails alone; a task submitted with the last handle dropped right after
/// still finds the value (its batch holds a handle until answered); afterwards nothing is
/// left open in this process, and nothing in `/dev/shm` (a memfd has no name to leave).
pub(crate) fn nothing_left_after_a_panic_or_a_drop() -> harness::Result {
    let pool = ProcessPool::new(crate::WORKERS)?;
    let shared = pool.share(table(1 << 20))?;
    let outcomes: Vec<_> = (0..4)
        .map(|i| pool.submit(panics_on_odd, (shared.clone(), i)).wait())
        .collect();
    check(
        matches!(
            outcomes.as_slice(),
            [Ok(_), Err(common::Error::Panicked { .. }), Ok(_), Err(_)]
        ),
        &format!("odd tasks panic alone: {outcomes:?}"),
    )?;
    drop(shared);
    // A value no worker has opened yet, behind a nap on each worker, so that its file is
    // opened well after the caller let go of it.
    let fresh = pool.share(table(1 << 10))?;
    let nap = |ms: u64| std::thread::sleep(Duration::from_millis(ms));
    let naps: Vec<_> = (0..crate::WORKERS).map(|_| pool.submit(nap, 100)).collect();
    let handle = pool.submit(len_of, (fresh.clone(), 0));
    drop(fresh);
    check(
        handle.wait()? == 1 << 10,
        "a task whose caller dropped every handle ran",
    )?;
    naps.into_iter().try_for_each(|h| h.wait())?;
    drop(pool);
    check(
        memfds_of("self").is_empty(),
        "no memfd left open in this process",
    )?;
    let pid = std::process::id().to_string();
    check(
        common::testing::shm_entries(&pid).is_empty(),
        "nothing in /dev/shm",
    )
}

/// Outside a process pool's own batches (here a bare `plumbing::encode_batch`, as a pool
/// without keyed copies sends a batch) a shared value travels whole, and still reads.
pub(crate) fn plumbing_sends_the_value_inline() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let shared = pool.share(table(1 << 20))?;
    let frame = common::plumbing::encode_batch(len_of, &[(shared, 0)])?;
    check(frame.len() > 1 << 20, "the frame holds the whole value")?;
    // SAFETY: the frame is `encode_batch`'s, unaltered, in this same test binary.
    let output = unsafe { common::plumbing::run_batch(&frame) }?;
    let results = common::plumbing::decode_results::<usize>(&output, 1).into_vec();
    check(results == [Ok(1 << 20)], "it reads the same")
}

/// The role of a program that shares a value with its workers, lets them read it, prints
/// their pids, and waits to be killed.
pub(crate) fn share_owner() {
    let pool = ProcessPool::new(2).expect("workers start");
    let shared = pool.share(table(8 << 20)).expect("shared");
    let items: Vec<_> = (0..8).map(|i| (shared.clone(), i)).collect();
    pool.map_chunked(len_of, items, common::Chunk::Size(1))
        .expect("tasks run");
    let pids: Vec<String> = pool.worker_pids().iter().map(u32::to_string).collect();
    println!("{}", pids.join(" "));
    std::thread::sleep(Duration::from_secs(30)); // bounded: the test kills us long before
}

/// `SIGKILL` of a program whose workers hold a shared value open: the workers exit, and with
/// every holder gone the kernel frees the memfd (nothing has a name to leave behind).
pub(crate) fn nothing_left_after_sigkill() -> harness::Result {
    use std::io::BufRead;
    let mut owner = std::process::Command::new(std::env::current_exe()?)
        .env(crate::ROLE, "share-owner")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    std::io::BufReader::new(owner.stdout.take().ok_or("no stdout")?).read_line(&mut line)?;
    let workers: Vec<u32> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let holders = workers
        .iter()
        .filter(|p| !memfds_of(&p.to_string()).is_empty())
        .count();
    check(
        workers.len() == 2 && holders >= 1,
        &format!("the owner's workers run, {holders} of them holding the value"),
    )?;
    check(
        !memfds_of(&owner.id().to_string()).is_empty(),
        "the owner holds the memfd",
    )?;
    owner.kill()?; // SIGKILL: the owner runs no cleanup at all
    owner.wait()?;
    let gone = common::testing::eventually(Duration::from_secs(1), || {
        workers.iter().all(|&p| !common::testing::is_running(p))
    });
    check(
        gone,
        "every worker exits within 1 s of its parent's SIGKILL",
    )?;
    check(
        common::testing::shm_entries(&owner.id().to_string()).is_empty(),
        "nothing in /dev/shm",
    )
}

fn give_back((table, extra): (Shared<ByteBuf>, ByteBuf)) -> (Shared<ByteBuf>, usize) {
    (table, extra.len())
}

/// A batch of one large argument is encoded onto the socket when sent, on a pool thread (see
/// `streamed.rs`): a shared value beside it goes by reference there too, as it was measured.
/// A result that holds a shared value comes back whole (a worker writes no references).
pub(crate) fn a_streamed_argument_beside_a_shared_value() -> harness::Result {
    let pool = ProcessPool::new(1)?;
    let shared = pool.share(table(1 << 20))?;
    let extra = ByteBuf::from(vec![1; 1 << 20]);
    let before = pool.bytes_sent();
    let (back, len) = pool.submit(give_back, (shared.clone(), extra)).wait()?;
    let sent = pool.bytes_sent() - before;
    check(
        len == 1 << 20 && *back == *shared,
        "the task read both, and gave the table back",
    )?;
    check(
        ((1 << 20)..(1 << 20) + 4096).contains(&(sent as usize)),
        &format!("{sent} bytes sent: the extra argument, and a reference for the table"),
    )
}

/// Whether `address` lies in a mapping of a shared-value memfd in this process.
fn in_a_shared_mapping(address: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    maps.lines()
        .filter(|line| line.contains("memfd:common-shared"))
        .filter_map(|line| line.split_whitespace().next()?.split_once('-'))
        .filter_map(|(from, to)| {
            Some(usize::from_str_radix(from, 16).ok()?..usize::from_str_radix(to, 16).ok()?)
        })
        .any(|range| range.contains(&address))
}

/// Task `i` sums every 100th item from `i` on, and says whether it read them where the
/// pool's file is mapped.
fn slice_sum((table, i): (Shared<[u64]>, usize)) -> (u64, bool) {
    let sum = table.iter().skip(i).step_by(TASKS).sum();
    (sum, in_a_shared_mapping(table.as_ptr() as usize))
}

/// Plain data shared with `share_slice`: the same sums on both pools; a process worker reads
/// the items in place, in its mapping of the pool's file (a thread reads the vector itself),
/// and the sockets carry references only.
pub(crate) fn a_slice_is_read_in_place<P: Pool>(pool: &P) -> harness::Result {
    let items: Vec<u64> = (0..1u64 << 20)
        .map(|n| n.wrapping_mul(0x9e37_79b9))
        .collect();
    let expected: Vec<u64> = (0..TASKS)
        .map(|i| items.iter().skip(i).step_by(TASKS).sum())
        .collect();
    let shared = pool.share_slice(items)?;
    let answers = pool.map(slice_sum, (0..TASKS).map(|i| (shared.clone(), i)))?;
    let sums: Vec<u64> = answers.iter().map(|a| a.0).collect();
    check(sums == expected, "the sums")?;
    let in_place = answers.iter().filter(|a| a.1).count();
    let want = if pool.kind() == "process" { TASKS } else { 0 };
    check(
        in_place == want,
        &format!("{in_place} of {TASKS} tasks read the items in a mapping (expected {want})"),
    )
}

/// The same, counting the bytes through a process pool's sockets: 8 MiB of items, under
/// 64 KiB sent for 100 tasks.
pub(crate) fn a_slice_crosses_as_references() -> harness::Result {
    let pool = ProcessPool::new(crate::WORKERS)?;
    let before = pool.bytes_sent();
    a_slice_is_read_in_place(&pool)?;
    let sent = pool.bytes_sent() - before;
    check(
        sent < 64 << 10,
        &format!("{sent} bytes sent for {TASKS} tasks"),
    )
}
