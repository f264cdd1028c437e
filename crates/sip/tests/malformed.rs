//! Golden malformed requests in `tests/data/malformed/` (non-UTF-8 bytes in the start line,
//! in known, extension and folded headers and in the body; broken header lines; bare line
//! ends): `ANSWERS.tsv` gives the start line of the answer a proxy sends to each, or `-`
//! for none (a Via without an address, a response). RFC 3261 §8.2.2 and §25.1: a request
//! whose head is not UTF-8 text is answered 400, with a reason phrase that says what is
//! wrong and where.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/answer.rs"]
mod answer;

use std::path::{Path, PathBuf};

use sip::Message;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/malformed")
}

#[test]
fn every_malformed_file_gets_its_golden_answer() {
    let manifest = std::fs::read_to_string(dir().join("ANSWERS.tsv")).unwrap();
    let mut listed = Vec::new();
    let mut failures = Vec::new();
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (file, expected) = line.split_once('\t').expect("file TAB answer");
        listed.push(file.to_owned());
        let bytes = std::fs::read(dir().join(file)).unwrap();
        let answer = answer::answer_to(&bytes, Message::parse(bytes.clone()));
        let got = answer.as_ref().map_or("-", |a| a.start_line());
        if got != expected {
            failures.push(format!("{file}: expected {expected:?}, got {got:?}"));
        }
        if let Some(a) = &answer {
            let reread = Message::parse(a.as_bytes().clone()).expect("the answer parses back");
            assert_eq!(reread.start_line(), a.start_line());
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sip"))
        .collect();
    on_disk.sort();
    listed.sort();
    assert_eq!(on_disk, listed, "every .sip file is listed in ANSWERS.tsv");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
