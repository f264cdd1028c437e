//! The PROTOS c07-sip cases (regenerated in `support/protos_c07.rs`) replayed through what
//! a server does with a received datagram or stream: frame it, parse it, run the sanity
//! checks, and answer. No case may panic, and every case whose top Via parses must get an
//! answer (RFC 3261 §8.2.2: a malformed request is answered with 400 or 505; §18.2.2: the
//! answer goes to the top Via). A case without a usable top Via has no address to answer.
//!
//! `PROTOS_C07_DUMP=dir cargo test -p sip --test protos_c07` also writes every case to
//! `dir/NNNN-group.sip`, for replaying against a running server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/answer.rs"]
mod answer;
#[path = "support/protos_c07.rs"]
mod protos_c07;

use answer::answer_to;
use protos_c07::Case;
use sip::build::reject_unparsed;
use sip::framing::{frame, Frame, DEFAULT_MAX_MESSAGE};
use sip::headers::Via;
use sip::{HeaderName, Message};

/// Whether the first Via of the raw bytes reads as a Via: its line (with folding) is UTF-8
/// and its first value parses. Worked out from the text, independently of the parser.
fn top_via_parses(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .unwrap_or(bytes.len());
    let mut lines = bytes[start..].split(|&c| c == b'\n').skip(1);
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return false;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            continue;
        };
        if HeaderName::from_bytes(line[..colon].trim_ascii()) != HeaderName::Via {
            continue;
        }
        let mut value = line[colon + 1..].to_vec();
        for next in lines.clone() {
            let next = next.strip_suffix(b"\r").unwrap_or(next);
            if !next.starts_with(b" ") && !next.starts_with(b"\t") {
                break;
            }
            value.extend_from_slice(next);
        }
        let Ok(text) = std::str::from_utf8(&value) else {
            return false;
        };
        let first = sip::text::split_top_level(text)
            .next()
            .and_then(Result::ok)
            .unwrap_or(text);
        return Via::parse(first.trim()).is_ok();
    }
    false
}

/// The answers to a case sent on a stream: frames cut the way the TCP transport cuts them
/// (CRLF keepalives consumed, an unframeable rest answered and the connection closed),
/// each with whether its top Via parses.
fn stream_answers(bytes: &[u8]) -> Vec<(bool, Option<Message>)> {
    let mut answers = Vec::new();
    let mut rest = bytes;
    loop {
        match frame(rest, DEFAULT_MAX_MESSAGE) {
            Ok(Frame::Incomplete) => return answers,
            Ok(Frame::Keepalive { len, .. }) => rest = &rest[len..],
            Ok(Frame::Message { len }) => {
                let one = &rest[..len];
                answers.push((
                    top_via_parses(one),
                    answer_to(one, Message::parse(one.to_vec())),
                ));
                rest = &rest[len..];
            }
            Err(e) => {
                answers.push((top_via_parses(rest), reject_unparsed(rest, &e)));
                return answers;
            }
        }
    }
}

/// What is wrong with one answer, if anything: it must be a response that reads back the
/// same, with a reason phrase that says something.
fn check_answer(case: &Case, answer: &Message) -> Result<(), String> {
    let code = answer.status().ok_or("answer is not a response")?;
    let reason = answer.reason().unwrap_or_default();
    if code >= 300 && reason.len() < 8 {
        return Err(format!("reason {reason:?} says too little"));
    }
    let reread = Message::parse(answer.as_bytes().clone())
        .map_err(|e| format!("the answer does not parse back: {e}"))?;
    if reread.status() != Some(code) {
        return Err("the answer reads back with another code".into());
    }
    if case.group == "valid" && code != 100 {
        return Err(format!("the valid INVITE is refused: {code} {reason}"));
    }
    Ok(())
}

#[test]
fn protos_c07_every_case_with_a_top_via_is_answered() {
    let cases = protos_c07::cases();
    assert!(cases.len() > 4000, "{} cases", cases.len());
    if let Some(dir) = std::env::var_os("PROTOS_C07_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        for case in &cases {
            let name = format!("{:04}-{}.sip", case.index, case.group);
            std::fs::write(dir.join(name), &case.bytes).unwrap();
        }
    }
    let mut failures = Vec::new();
    let mut unanswered_without_via = 0;
    for case in &cases {
        let via = top_via_parses(&case.bytes);
        let parsed = Message::parse(case.bytes.clone());
        if let Ok(msg) = &parsed {
            // Every header read must be an error or a value, never a panic.
            let _ = msg.validate();
        }
        let datagram = answer_to(&case.bytes, parsed);
        let stream = stream_answers(&case.bytes);
        let label = format!("#{} {} / {}", case.index, case.group, case.anomaly);
        match &datagram {
            Some(answer) => {
                if let Err(e) = check_answer(case, answer) {
                    failures.push(format!("{label}: {e}"));
                }
            }
            None if via => failures.push(format!("{label}: no answer over UDP")),
            None => unanswered_without_via += 1,
        }
        for (via, answer) in &stream {
            match answer {
                Some(answer) => {
                    if let Err(e) = check_answer(case, answer) {
                        failures.push(format!("{label}: over TCP: {e}"));
                    }
                }
                None if *via => failures.push(format!("{label}: no answer over TCP")),
                None => {}
            }
        }
    }
    println!(
        "{} cases; {unanswered_without_via} without a usable top Via left unanswered",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn protos_c07_groups_cover_the_suite() {
    let groups = protos_c07::groups();
    assert_eq!(groups.len(), 48);
    for group in [
        "SIP-Method",
        "SIP-Request-URI",
        "SIP-Via-Host",
        "SIP-From-Displayname",
        "SIP-Call-Id-Value",
        "SIP-Cseq-Integer",
        "SIP-Content-Length",
        "CRLF-Request",
        "SDP-Origin-Ip",
        "SDP-Attribute-CRLF",
    ] {
        assert!(groups.contains(&group), "{group}");
    }
    let cases = protos_c07::cases();
    assert_eq!(cases[0].group, "valid");
    assert!(cases.iter().enumerate().all(|(i, c)| c.index == i));
}
