//! RFC 4475 torture tests: every message of `shared/testdata/sip/rfc4475/` gets the parser
//! verdict of `MANIFEST.tsv`, and the answer a server element gives is the one the manifest
//! names (400, 416, 420, 483, 505, ...).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use sip::build::reject_unparsed;
use sip::sanity::{check_request, Policy, Role};
use sip::MessageBuilder;
use sip::{HeaderName, Message, ParseError};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/sip/rfc4475")
}

struct Case {
    file: String,
    verdict: String,
    behaviour: String,
}

fn manifest() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv"))
        .expect("shared/testdata/sip/rfc4475/MANIFEST.tsv beside the project");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 5, "manifest line {l:?}");
            Case {
                file: cols[0].to_owned(),
                verdict: cols[3].to_owned(),
                behaviour: cols[4].to_owned(),
            }
        })
        .collect()
}

/// The full parser verdict: structure, then every interpreted header's syntax.
fn parse_full(bytes: Vec<u8>) -> Result<Message, ParseError> {
    let msg = Message::parse(bytes)?;
    msg.validate()?;
    Ok(msg)
}

#[test]
fn every_file_gets_the_manifest_verdict() {
    let cases = manifest();
    assert_eq!(cases.len(), 50, "the corpus has 50 messages");
    let mut failures = Vec::new();
    for case in &cases {
        let bytes = std::fs::read(corpus_dir().join(&case.file)).expect("corpus file");
        let result = parse_full(bytes);
        match (case.verdict.as_str(), &result) {
            ("accept", Ok(_)) => {}
            ("reject", Err(e)) => {
                let text = e.to_string();
                assert!(
                    !text.contains(['\r', '\n']),
                    "{}: reason {text:?}",
                    case.file
                );
                if case.behaviour.starts_with("response: discard") {
                    continue;
                }
                let code = e.status_code().to_string();
                if !case.behaviour.starts_with(&code) {
                    failures.push(format!(
                        "{}: rejected with {code} ({text}), manifest says {}",
                        case.file, case.behaviour
                    ));
                }
            }
            (v, r) => failures.push(format!("{}: manifest {v}, parser gave {r:?}", case.file)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What each accepted request draws from the element named in the manifest:
/// (file, role, expected code or None for "processed normally").
const ELEMENT_ANSWERS: &[(&str, Role, Option<u16>)] = &[
    ("TC_WSINV.dat", Role::Proxy, None),
    ("TC_INTMETH.dat", Role::Proxy, None),
    ("TC_ESC01_V.dat", Role::Proxy, None),
    ("TC_ESCNULL_V.dat", Role::Proxy, None),
    ("TC_ESC02_V.dat", Role::Proxy, None),
    ("TC_LWSDISP_V.dat", Role::Proxy, None),
    ("TC_LONGREQ_V.dat", Role::Proxy, None),
    ("TC_DBLREQ.dat", Role::Proxy, None),
    ("TC_SEMIURI_V.dat", Role::Proxy, None),
    ("TC_TRANSPORTS_V.dat", Role::Proxy, None),
    ("TC_MPART01.dat", Role::Proxy, None),
    ("TC_BADBRANCH_V.dat", Role::Proxy, None),
    ("TC_INSUF_I.dat", Role::Proxy, Some(400)),
    ("TC_UNKSCM_V.dat", Role::Proxy, Some(416)),
    ("TC_NOVELSC_V.dat", Role::Proxy, Some(416)),
    ("TC_UNKSM2_V.dat", Role::Proxy, None),
    ("TC_UNKSM2_V.dat", Role::Registrar, Some(400)),
    ("TC_BEXT01_V.dat", Role::Uas, Some(420)),
    ("TC_BEXT01_V.dat", Role::Proxy, Some(420)),
    ("TC_INVUT_V.dat", Role::Uas, Some(415)),
    ("TC_INVUT_V.dat", Role::Proxy, None),
    ("TC_REGAUT01_V.dat", Role::Registrar, None),
    ("TC_MULTI01_I.dat", Role::Proxy, Some(400)),
    ("TC_MCL01_I.dat", Role::Proxy, Some(400)),
    ("TC_ZEROMF_V.dat", Role::Proxy, Some(483)),
    ("TC_CPARAM01_V.dat", Role::Registrar, None),
    ("TC_CPARAM02_V.dat", Role::Registrar, None),
    ("TC_REGESCRT_V.dat", Role::Registrar, None),
    ("TC_SDP01_V.dat", Role::Uas, Some(406)),
    ("TC_SDP01_V.dat", Role::Proxy, None),
    ("TC_INV2543_I.dat", Role::Proxy, None),
];

fn policy(role: Role) -> Policy<'static> {
    match role {
        Role::Proxy => Policy::PROXY,
        Role::Registrar => Policy::REGISTRAR,
        Role::Uas => Policy::UAS,
    }
}

#[test]
fn elements_answer_as_the_manifest_says() {
    let cases = manifest();
    let mut failures = Vec::new();
    for &(file, role, expected) in ELEMENT_ANSWERS {
        let case = cases
            .iter()
            .find(|c| c.file == file)
            .expect("file listed in the manifest");
        assert_eq!(case.verdict, "accept", "{file}");
        if let Some(code) = expected {
            assert!(
                case.behaviour.contains(&code.to_string()),
                "{file}: the manifest ({}) does not name {code}",
                case.behaviour
            );
        }
        let bytes = std::fs::read(corpus_dir().join(file)).expect("corpus file");
        let msg = Message::parse(bytes).expect("parses");
        let got = check_request(&msg, &policy(role)).err();
        if got.as_ref().map(|r| r.code) != expected {
            failures.push(format!(
                "{file} as {role:?}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    // Every accepted request of the manifest is covered above.
    for case in cases.iter().filter(|c| c.verdict == "accept") {
        let msg = Message::parse(std::fs::read(corpus_dir().join(&case.file)).expect("file"))
            .expect("parses");
        if msg.is_request() && !ELEMENT_ANSWERS.iter().any(|(f, _, _)| *f == case.file) {
            failures.push(format!("{}: no element answer checked", case.file));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_extension_lists_the_unknown_tags() {
    let bytes = std::fs::read(corpus_dir().join("TC_BEXT01_V.dat")).expect("file");
    let msg = Message::parse(bytes).expect("parses");
    let uas = check_request(&msg, &Policy::UAS).expect_err("420");
    assert_eq!(
        uas.header,
        Some((
            HeaderName::Unsupported,
            "nothingSupportsThis, nothingSupportsThisEither".to_owned()
        ))
    );
    let proxy = check_request(&msg, &Policy::PROXY).expect_err("420");
    assert_eq!(
        proxy.header,
        Some((
            HeaderName::Unsupported,
            "noProxiesSupportThis, norDoAnyProxiesSupportThis".to_owned()
        ))
    );
}

#[test]
fn extra_datagram_octets_are_ignored_and_bodies_kept_whole() {
    let dbl = std::fs::read(corpus_dir().join("TC_DBLREQ.dat")).expect("file");
    let msg = Message::parse(dbl).expect("parses");
    assert_eq!(msg.body().len(), 0);
    let mpart = std::fs::read(corpus_dir().join("TC_MPART01.dat")).expect("file");
    let msg = Message::parse(mpart).expect("parses");
    assert_eq!(
        msg.body().len(),
        msg.content_length().expect("has length") as usize
    );
    assert!(
        msg.body().contains(&0),
        "the NUL octets of the body are kept"
    );
}

#[test]
fn tortuous_invite_reads_right() {
    let bytes = std::fs::read(corpus_dir().join("TC_WSINV.dat")).expect("file");
    let msg = Message::parse(bytes).expect("parses");
    assert_eq!(msg.max_forwards().expect("valid"), Some(68));
    assert_eq!(msg.cseq().expect("valid").seq, 9);
    assert_eq!(msg.to().expect("valid").tag(), Some("1918181833n"));
    assert_eq!(msg.from().expect("valid").tag(), Some("98asjd8"));
    let vias: Vec<_> = msg.vias().collect::<Result<_, _>>().expect("valid");
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].transport, "TCP");
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    let contacts: Vec<_> = msg.contacts().collect::<Result<_, _>>().expect("valid");
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].q(), Some(330));
    assert_eq!(msg.header(HeaderName::Subject), Some(""));
    assert_eq!(
        msg.header_by_name("newfangledheader"),
        Some("newfangled value\r\n continued newfangled value")
    );
}

/// A server answers every rejected request that carries a Via with the code the manifest
/// names and a reason phrase saying what is wrong; rejected responses get no answer.
#[test]
fn server_answers_rejected_requests_with_a_reason() {
    let mut failures = Vec::new();
    for case in manifest().iter().filter(|c| c.verdict == "reject") {
        let bytes = std::fs::read(corpus_dir().join(&case.file)).expect("file");
        let answer = match Message::parse(bytes.clone()) {
            Ok(msg) => {
                let err = msg.validate().expect_err("rejected by validate");
                if msg.is_response() {
                    None
                } else {
                    let reason = err.to_string();
                    Some(
                        MessageBuilder::response_to(&msg, err.status_code(), Some(&reason), None)
                            .build()
                            .expect("builds"),
                    )
                }
            }
            Err(err) => reject_unparsed(&bytes, &err),
        };
        let has_via = String::from_utf8_lossy(&bytes).contains("\nVia:");
        match answer {
            None if case.behaviour.starts_with("response: discard") => {}
            None if !has_via => {}
            None => failures.push(format!("{}: no answer", case.file)),
            Some(resp) => {
                let code = resp.status().expect("response").to_string();
                if !case.behaviour.starts_with(&code) {
                    failures.push(format!(
                        "{}: answered {code}, manifest {}",
                        case.file, case.behaviour
                    ));
                }
                let reason = resp.reason().unwrap_or_default();
                if reason.len() < 12 {
                    failures.push(format!("{}: reason {reason:?} says too little", case.file));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The top Via a message keeps from its parse is the one its text gives, for every message
/// of the corpus that parses (folded, tortuous, quoted, several values, malformed ones).
#[test]
fn the_kept_top_via_is_the_one_the_text_gives() {
    for case in manifest() {
        let bytes = std::fs::read(corpus_dir().join(&case.file)).expect("corpus file");
        let Ok(msg) = Message::parse(bytes) else {
            continue;
        };
        let kept = msg.top_via();
        let from_text = msg.vias().next();
        match (&kept, &from_text) {
            (Ok(a), Some(Ok(b))) => assert_eq!(a, b, "{}", case.file),
            (Err(_), None | Some(Err(_))) => {}
            _ => panic!("{}: kept {kept:?}, text {from_text:?}", case.file),
        }
    }
}
