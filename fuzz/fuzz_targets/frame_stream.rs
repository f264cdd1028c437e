//! Fuzzes stream framing: the input is a few split points and a byte stream. The stream is fed
//! to a connection buffer in those chunks, as reads from a socket would deliver it, and each
//! framed message is parsed. Framing must never claim more bytes than it has, and must cut the
//! same messages however the stream was split.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip::framing::{frame, Frame};
use sip::Message;

/// A small limit so that oversized messages are reached too.
const MAX: usize = 2048;

fuzz_target!(|data: &[u8]| {
    let (Some(&n), rest) = (data.first(), data.get(1..).unwrap_or_default()) else {
        return;
    };
    let n = usize::from(n % 8);
    if rest.len() < 2 * n {
        return;
    }
    let (splits, stream) = rest.split_at(2 * n);
    let mut chunks: Vec<usize> = splits
        .chunks(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % 512 + 1)
        .collect();
    if chunks.is_empty() {
        // No split points: one read per byte, the most fragmented delivery.
        chunks.push(1);
    }

    let whole = run(stream, &[stream.len().max(1)]);
    let split = run(stream, &chunks);
    assert_eq!(whole, split, "framing depends on how the stream was split");
});

/// What a connection sees: the framed messages, and whether the stream ended in an error.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    messages: Vec<Vec<u8>>,
    error: bool,
}

/// Feeds `stream` in chunks of the given sizes (the last size repeats; `chunks` is not empty)
/// and frames after every read.
fn run(stream: &[u8], chunks: &[usize]) -> Outcome {
    let mut buf: Vec<u8> = Vec::new();
    let mut messages = Vec::new();
    let mut fed = 0;
    let mut i = 0;
    while fed < stream.len() {
        let size = chunks[i.min(chunks.len() - 1)];
        i += 1;
        let end = (fed + size).min(stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        loop {
            match frame(&buf, MAX) {
                Ok(Frame::Incomplete) => break,
                Ok(Frame::Keepalive { len, .. }) => {
                    assert!(len > 0 && len <= buf.len());
                    buf.drain(..len);
                }
                Ok(Frame::Message { len }) => {
                    assert!(len > 0 && len <= buf.len() && len <= MAX);
                    let bytes: Vec<u8> = buf.drain(..len).collect();
                    if let Ok(msg) = Message::parse(Bytes::from(bytes.clone())) {
                        let _ = msg.validate();
                    }
                    messages.push(bytes);
                }
                Err(_) => {
                    return Outcome {
                        messages,
                        error: true,
                    }
                }
            }
        }
    }
    Outcome {
        messages,
        error: false,
    }
}
