//! Unit tests of `call`.

use super::*;

fn double(x: u64) -> u64 {
    x * 2
}

#[test]
fn a_call_round_trips_within_one_process() {
    let code = crate::sys::executable_code();
    assert!(!code.is_empty(), "this executable has code mapped");
    let mut input = Vec::new();
    for x in [1u64, 2, 3] {
        push_item(&mut input, &x, "an argument");
    }
    let output = run(&encode(double), &input, &code).unwrap();
    assert_eq!(
        decode_results::<u64>(&output, 3),
        Results::Values(vec![2, 4, 6])
    );
    assert!(
        matches!(&decode_results::<u64>(&output, 4).into_vec()[0],
            Err(Error::Serde(e)) if e == "expected 4 results, got 3"),
        "a count that does not match fails the batch"
    );
}

fn zeros(len: u64) -> serde_bytes::ByteBuf {
    serde_bytes::ByteBuf::from(vec![0u8; len as usize])
}

fn flip(mut bytes: serde_bytes::ByteBuf) -> serde_bytes::ByteBuf {
    bytes.iter_mut().for_each(|b| *b = !*b);
    bytes
}

/// What a worker's line would carry for `output`, read back as the pool reads it.
fn over_the_line(output: Output) -> Received {
    let Output::Streamed(streamed) = output else {
        panic!("a large lone result is streamed")
    };
    let (len, mut line) = (streamed.len(), Vec::new());
    streamed.write_to(&mut line).unwrap();
    assert_eq!(line.len(), len);
    let head: [u8; super::super::owned_bytes::LONE_HEAD] = line[..10].try_into().unwrap();
    assert!(super::super::owned_bytes::opens_lone_byte_string(
        &head,
        line.len()
    ));
    Received::ByteString(Buf::Bytes(line.split_off(10)))
}

/// A large result streams, and a large byte string argument is taken whole, and both come
/// back intact: the path a 64 MiB `ByteBuf` takes, without the processes.
#[test]
fn large_byte_strings_take_the_direct_paths_and_arrive_intact() {
    let code = crate::sys::executable_code();
    let mut input = Vec::new();
    push_item(&mut input, &100_000u64, "an argument");
    let mut out = Vec::new();
    let made = run_input(&encode(zeros), Input::Received(&input), &code, &mut out).unwrap();
    let Results::Values(made) = decode_received::<serde_bytes::ByteBuf>(over_the_line(made), 1)
    else {
        panic!("a value")
    };
    let payload = made.into_iter().next().unwrap().into_vec();
    let payload = Input::ByteString(Buf::Bytes(payload));
    let flipped = run_input(&encode(flip), payload, &code, &mut out).unwrap();
    match decode_received::<serde_bytes::ByteBuf>(over_the_line(flipped), 1) {
        Results::Values(v) => assert!(v.len() == 1 && v[0].iter().all(|&b| b == 0xff)),
        other => panic!("expected one value, got {other:?}"),
    }
    assert!(out.is_empty(), "a streamed result appends nothing");
    // Small results still travel as records, appended to the buffer given.
    out.push(9);
    let small = run_input(&encode(double), Input::Received(&input), &code, &mut out).unwrap();
    assert!(matches!(small, Output::Encoded));
    assert_eq!(
        decode_results::<u64>(&out[1..], 1),
        Results::Values(vec![200_000])
    );
}

#[test]
fn an_address_outside_the_code_is_refused() {
    let code = crate::sys::executable_code();
    let stray = Call {
        build: build_id::fingerprint(),
        trampoline: distance(0x10),
        func: distance(double as fn(u64) -> u64 as usize),
    };
    assert!(run(&stray, &[], &code)
        .unwrap_err()
        .starts_with("refusing to call"));
}

/// How many times `counted` ran, in this test binary.
static COUNTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn counted(x: u64) -> u64 {
    COUNTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    x
}

/// A call whose build fingerprint is not ours (a rank running a rebuilt binary, forged here by
/// flipping the fingerprint's bits) is refused before any address is used: nothing runs, and
/// the error names both builds. The same call with our fingerprint runs.
#[test]
fn a_call_from_another_build_calls_nothing() {
    let code = crate::sys::executable_code();
    let mut input = Vec::new();
    push_item(&mut input, &7u64, "an argument");
    let mut call = encode(counted);
    call.build = !call.build;
    let e = run(&call, &input, &code).unwrap_err();
    let ours = build_id::fingerprint();
    let (theirs, ours) = (
        build_id::short_hex(!ours, ours),
        build_id::short_hex(ours, !ours),
    );
    assert_eq!(
        e,
        format!("a frame from another build (built {theirs}, this is {ours}): nothing was called")
    );
    let mut out = Vec::new();
    assert!(run_input(&call, Input::Received(&input), &code, &mut out).is_err());
    assert!(out.is_empty(), "nothing was written either");
    assert_eq!(COUNTED.load(std::sync::atomic::Ordering::SeqCst), 0);
    call.build = !call.build;
    let output = run(&call, &input, &code).unwrap();
    assert_eq!(decode_results::<u64>(&output, 1), Results::Values(vec![7]));
    assert_eq!(COUNTED.load(std::sync::atomic::Ordering::SeqCst), 1);
}

fn negate(mut values: crate::Array<f64>) -> crate::Array<f64> {
    values.iter_mut().for_each(|v| *v = -*v);
    values
}

/// An `Array<f64>` received into kept words is the task's argument in that very memory, and a
/// result received into kept words is the caller's value in that memory: no copy either way.
#[test]
fn an_array_received_into_kept_words_is_read_in_place() {
    let code = crate::sys::executable_code();
    let words: Vec<u64> = (0..20_000u64).map(|i| (i as f64).to_bits()).collect();
    let at = words.as_ptr();
    let mut out = Vec::new();
    let input = Input::ByteString(Buf::Words(words));
    let Output::Streamed(streamed) = run_input(&encode(negate), input, &code, &mut out).unwrap()
    else {
        panic!("a large lone result is streamed")
    };
    let Some(Buf::Words(memory)) = streamed.into_buf() else {
        panic!("the result gives its memory back as words");
    };
    assert_eq!(
        memory.as_ptr(),
        at,
        "the argument was read, and negated, in place"
    );
    assert_eq!(f64::from_bits(memory[3]), -3.0);
    let back = decode_received::<crate::Array<f64>>(Received::ByteString(Buf::Words(memory)), 1);
    let Results::Values(back) = back else {
        panic!("a value")
    };
    assert_eq!(back[0].as_ptr().cast::<u64>(), at, "the result too");
    assert_eq!(back[0][19_999], -19_999.0);
    // Any other type gets the same bytes, copied.
    let words = vec![u64::from_ne_bytes(*b"abcdefgh"); 2];
    let other = decode_received::<serde_bytes::ByteBuf>(Received::ByteString(Buf::Words(words)), 1);
    assert_eq!(
        other,
        Results::Values(vec![serde_bytes::ByteBuf::from(
            b"abcdefghabcdefgh".to_vec()
        )])
    );
    let narrow = decode_received::<crate::Array<f32>>(
        Received::ByteString(Buf::Words(vec![bytemuck::cast::<[f32; 2], u64>([
            1.5, 2.5,
        ])])),
        1,
    );
    let Results::Values(narrow) = narrow else {
        panic!("a value")
    };
    assert_eq!(
        narrow[0][..],
        [1.5f32, 2.5][..],
        "f32 items: copied out of the words"
    );
}
