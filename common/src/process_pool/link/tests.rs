//! Unit tests of `link`.

use super::*;

#[test]
fn messages_round_trip_and_carry_the_senders_credentials() {
    let (mut link, theirs) = Link::pair(Default::default()).unwrap();
    let mut theirs = theirs;
    FromWorker::Hello {
        pid: std::process::id(),
    }
    .write_to(&mut theirs)
    .unwrap();
    let big = vec![7u8; 3 * GLUE_LIMIT];
    let done = FromWorker::Done {
        start: 1,
        end: 2,
        output: Received::Records(big),
    };
    let lone = FromWorker::Done {
        start: 3,
        end: 4,
        output: Received::ByteString(Buf::Bytes(vec![5u8; 2 * WORTH_IT])),
    };
    let writer = std::thread::spawn(move || {
        done.write_to(&mut theirs).unwrap();
        lone.write_to(&mut theirs).unwrap();
        FromWorker::Refused("no".into())
            .write_to(&mut theirs)
            .unwrap();
    });
    let mut never = || -> io::Result<()> { Ok(()) };
    // This process made the pair and wrote the hello, so the credentials name it.
    assert_eq!(
        link.hello(std::process::id(), &mut never).unwrap(),
        FromWorker::Hello {
            pid: std::process::id()
        }
    );
    match link.receive(&mut never).unwrap() {
        FromWorker::Done {
            start,
            end,
            output: Received::Records(output),
        } => {
            assert_eq!((start, end, output.len()), (1, 2, 3 * GLUE_LIMIT));
            assert!(output.iter().all(|&b| b == 7));
        }
        other => panic!("expected Done, got {other:?}"),
    }
    // A lone byte string arrives apart from its head, in a buffer of its own.
    assert_eq!(
        link.receive(&mut never).unwrap(),
        FromWorker::Done {
            start: 3,
            end: 4,
            output: Received::ByteString(Buf::Bytes(vec![5u8; 2 * WORTH_IT]))
        }
    );
    assert_eq!(
        link.receive(&mut never).unwrap(),
        FromWorker::Refused("no".into())
    );
    writer.join().unwrap();
    // The other end is gone: end of file, not a hang.
    assert_eq!(
        link.receive(&mut never).unwrap_err().kind(),
        io::ErrorKind::UnexpectedEof
    );
}

/// A failed write through `watched` says whether the line broke or the writer failed.
#[test]
fn watched_tells_a_broken_line_from_a_failed_writer() {
    let (mut link, theirs) = Link::pair(Default::default()).unwrap();
    let mut never = || -> io::Result<()> { Ok(()) };
    let mut line = link.watched(&mut never);
    line.write_all(b"fine").unwrap();
    assert!(!line.broke(), "a write that went through");
    drop(theirs);
    assert!(line.write_all(&[0; 1 << 20]).is_err());
    assert!(line.broke(), "the other end is gone");
}

#[test]
fn a_hello_from_another_pid_is_refused() {
    let (mut link, mut theirs) = Link::pair(Default::default()).unwrap();
    FromWorker::Hello { pid: 1 }.write_to(&mut theirs).unwrap();
    let err = link.hello(1, &mut || Ok(())).unwrap_err();
    assert!(err.to_string().contains("expected pid 1"), "{err}");
}

#[test]
fn a_silent_peer_is_watched_not_waited_for() {
    let (mut link, _theirs) = Link::pair(Default::default()).unwrap();
    let mut checks = 0;
    let err = link
        .receive(&mut || {
            checks += 1;
            if checks == 2 {
                Err(io::Error::other("the worker died"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "the worker died");
}

/// The running batch's kept memory receives its lone answer in place: words stay words (an
/// `Array`'s memory), bytes stay bytes; a kept buffer too small is not used.
#[test]
fn a_lone_answer_lands_in_the_kept_memory() {
    let (mut link, mut theirs) = Link::pair(Default::default()).unwrap();
    let answer = |byte: u8, len: usize| FromWorker::Done {
        start: 1,
        end: 2,
        output: Received::ByteString(Buf::Bytes(vec![byte; len])),
    };
    let writer = std::thread::spawn(move || {
        for (byte, len) in [(3u8, 1 << 20), (4, 1 << 20), (5, 3 << 20)] {
            answer(byte, len).write_to(&mut theirs).unwrap();
        }
    });
    let mut never = || -> io::Result<()> { Ok(()) };
    let words = vec![0u64; (2 << 20) / 8];
    let at = words.as_ptr().cast::<u8>();
    link.keep(Buf::Words(words));
    let output = |message| match message {
        FromWorker::Done { output, .. } => output,
        other => panic!("expected Done, got {other:?}"),
    };
    let Received::ByteString(Buf::Words(got)) = output(link.receive(&mut never).unwrap()) else {
        panic!("kept words receive a whole number of words");
    };
    let got_bytes: &[u8] = bytemuck::cast_slice(&got);
    assert!(got_bytes.len() == 1 << 20 && got_bytes.iter().all(|&b| b == 3));
    assert_eq!(got.as_ptr().cast::<u8>(), at, "in the kept memory");
    let bytes = Vec::with_capacity(2 << 20);
    let at = bytes.as_ptr();
    link.keep(Buf::Bytes(bytes));
    let Received::ByteString(Buf::Bytes(got)) = output(link.receive(&mut never).unwrap()) else {
        panic!("kept bytes receive it as bytes");
    };
    assert!(got.len() == 1 << 20 && got.iter().all(|&b| b == 4) && got.as_ptr() == at);
    link.keep(Buf::Bytes(Vec::with_capacity(2 << 20)));
    let Received::ByteString(Buf::Bytes(got)) = output(link.receive(&mut never).unwrap()) else {
        panic!("a fresh buffer");
    };
    assert!(
        got.len() == 3 << 20 && got.iter().all(|&b| b == 5),
        "too small: fresh"
    );
    writer.join().unwrap();
}
