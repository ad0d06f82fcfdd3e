//! The crew of threads: endings, requests to stop, bounded waits.

use super::{Ended, WorkerThreads};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// A panic is one worker's ending, with its message; the others return.
#[test]
fn join_tells_each_ending() {
    let mut crew = WorkerThreads::new();
    crew.start(|| "seven".to_string()).unwrap();
    crew.start(|| panic!("on purpose, in a test")).unwrap();
    crew.start(super::current_tag).unwrap();
    let ended = crew.join(Duration::from_secs(10)).unwrap();
    assert!(matches!(&ended[0], Ended::Returned(s) if s == "seven"));
    assert!(matches!(&ended[2], Ended::Returned(tag) if tag == "[thread 2]"));
    assert!(matches!(&ended[1], Ended::Panicked(m) if m == "on purpose, in a test"));
    let said = Ended::<Result<String, String>>::Panicked("on purpose".into()).said();
    assert_eq!(said, "join returned the panic's message \"on purpose\"");
}

/// A worker asked to stop sees it, and only that worker.
#[test]
fn only_the_worker_asked_sees_it() {
    let mut crew = WorkerThreads::new();
    let first = crew.voice();
    crew.start(|| 0).unwrap();
    let second = crew.voice();
    crew.start(|| 1).unwrap();
    crew.ask_to_stop(0);
    assert_eq!((first.index(), second.index()), (0, 1));
    assert!(first.stop_asked() && !second.stop_asked());
    let ended = crew.join(Duration::from_secs(10)).unwrap();
    assert!(matches!(
        ended[..],
        [Ended::Returned(0), Ended::Returned(1)]
    ));
}

/// A worker still running at the deadline is an error, not a hang; dropping the crew asks it
/// to stop and joins it.
#[test]
fn join_is_bounded_and_drop_stops_the_rest() {
    let ended = Arc::new(AtomicBool::new(false));
    let mut crew = WorkerThreads::new();
    let (voice, done) = (crew.voice(), Arc::clone(&ended));
    crew.start(move || {
        while !voice.stop_asked() {
            std::thread::sleep(Duration::from_millis(1));
        }
        done.store(true, SeqCst);
    })
    .unwrap();
    let e = crew.join(Duration::from_millis(30)).unwrap_err();
    assert!(!crew.voice().stop_asked_within(Duration::from_millis(5)));
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    assert!(!ended.load(SeqCst));
    drop(crew);
    assert!(ended.load(SeqCst), "the drop joined it");
}

/// No line within the limit is `TimedOut`.
#[test]
fn recv_is_bounded() {
    let crew = WorkerThreads::<()>::new();
    let e = crew.recv(Duration::from_millis(10)).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
}
