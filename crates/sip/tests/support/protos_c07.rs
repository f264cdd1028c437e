//! A regeneration of the PROTOS c07-sip test material (University of Oulu, OUSPG, 2002):
//! INVITE requests in which one element of a valid base INVITE at a time is replaced by an
//! anomaly, in the test groups the suite documents (the request line, Via, From, To,
//! Call-ID, CSeq, Contact, Expires, Max-Forwards, Content-Type, Content-Length, the CRLFs,
//! and every SDP field of the body) and with its classes of anomalies: overflows of
//! growing length of plain and special characters, format strings, integer boundaries,
//! ANSI escape sequences, non-ASCII and invalid UTF-8 bytes, and missing, extra or bare
//! line ends.
//!
//! The original suite is a Java program that sends its cases over UDP; its files cannot be
//! fetched here, so the cases are made again from its public description. They are not
//! byte-for-byte the originals: the base INVITE uses documentation addresses (RFC 5737)
//! and the anomaly lists are this file's. Every case is made in memory and deterministic;
//! `cases()` numbers them from 0 (the valid base) like the suite does.

/// One test case: its number, its test group and anomaly, and the datagram.
pub(crate) struct Case {
    pub(crate) index: usize,
    pub(crate) group: &'static str,
    pub(crate) anomaly: String,
    pub(crate) bytes: Vec<u8>,
}

/// One element of the base INVITE: literal text, or a field a test group mutates.
enum Part {
    Text(&'static str),
    Field(&'static str, &'static str),
    /// The Content-Length value, computed from the body unless its group mutates it.
    ContentLength,
}

use Part::{ContentLength, Field, Text};

const CONTENT_LENGTH_GROUP: &str = "SIP-Content-Length";

/// The base INVITE with its fields, in the order of the suite's test groups. The header
/// section ends where the body starts (`BODY_START` parts in).
const HEAD: &[Part] = &[
    Field("CRLF-Request", ""),
    Field("SIP-Method", "INVITE"),
    Text(" "),
    Field("SIP-Request-URI", "sip:bob@example.com"),
    Text(" "),
    Field("SIP-Version", "SIP/2.0"),
    Text("\r\nVia: "),
    Field("SIP-Via-Version", "SIP/2.0"),
    Text("/UDP "),
    Field("SIP-Via-Host", "192.0.2.10"),
    Field("SIP-Via-Hostcolon", ":"),
    Field("SIP-Via-Hostport", "5060"),
    Text(";branch=z9hG4bK"),
    Field("SIP-Via-Tag", "00001249"),
    Text("\r\nFrom"),
    Field("SIP-From-Colon", ":"),
    Text(" "),
    Field("SIP-From-Displayname", "1"),
    Text(" <"),
    Field("SIP-From-URI", "sip:user@192.0.2.10"),
    Text(">;tag="),
    Field("SIP-From-Tag", "1"),
    Text("\r\nTo: Receiver "),
    Field("SIP-To-Left-Paranthesis", "<"),
    Field("SIP-To", "sip:bob@example.com"),
    Field("SIP-To-Right-Paranthesis", ">"),
    Text("\r\nCall-ID: "),
    Field("SIP-Call-Id-Value", "1"),
    Field("SIP-Call-Id-At", "@"),
    Field("SIP-Call-Id-Ip", "192.0.2.10"),
    Text("\r\nCSeq: "),
    Field("SIP-Cseq-Integer", "1"),
    Text(" "),
    Field("SIP-Cseq-String", "INVITE"),
    Text("\r\nContact: "),
    Field("SIP-Contact-Displayname", "1"),
    Text(" "),
    Field("SIP-Contact-Left-Paranthesis", "<"),
    Field("SIP-Contact-URI", "sip:user@192.0.2.10"),
    Field("SIP-Contact-Right-Paranthesis", ">"),
    Text("\r\nExpires: "),
    Field("SIP-Expires", "1200"),
    Text("\r\nMax-Forwards: "),
    Field("SIP-Max-Forwards", "70"),
    Text("\r\nContent-Type: "),
    Field("SIP-Content-Type", "application/sdp"),
    Text("\r\nContent-Length: "),
    ContentLength,
    Text("\r\n"),
    Field("SIP-Request-CRLF", "\r\n"),
];

/// The SDP body (RFC 4566) of the base INVITE.
const BODY: &[Part] = &[
    Field("SDP-Proto-v-Identifier", "v"),
    Field("SDP-Proto-v-Equal", "="),
    Field("SDP-Proto-v-Integer", "0"),
    Text("\r\no="),
    Field("SDP-Origin-Username", "1"),
    Text(" "),
    Field("SDP-Origin-Sessionid", "1"),
    Text(" 1 "),
    Field("SDP-Origin-Networktype", "IN"),
    Text(" IP4 "),
    Field("SDP-Origin-Ip", "192.0.2.10"),
    Text("\r\ns="),
    Field("SDP-Session", "Session SDP"),
    Text("\r\nc="),
    Field("SDP-Connection-Networktype", "IN"),
    Text(" IP4 "),
    Field("SDP-Connection-Ip", "192.0.2.10"),
    Text("\r\nt="),
    Field("SDP-Time-Start", "0"),
    Text(" "),
    Field("SDP-Time-Stop", "0"),
    Text("\r\nm="),
    Field("SDP-Media-Media", "audio"),
    Text(" "),
    Field("SDP-Media-Port", "9876"),
    Text(" "),
    Field("SDP-Media-Transport", "RTP/AVP"),
    Text(" "),
    Field("SDP-Media-Type", "0"),
    Text("\r\na="),
    Field("SDP-Attribute-Rtpmap", "rtpmap:0 PCMU/8000"),
    Field("SDP-Attribute-CRLF", "\r\n"),
];

/// Lengths of the overflows: around the powers of two where fixed buffers break.
const OVERFLOW_LENGTHS: &[usize] = &[
    2, 16, 64, 127, 128, 129, 255, 256, 257, 511, 512, 1023, 1024, 1025, 2048, 4096, 8192, 16384,
    32768, 65000,
];

/// Characters repeated in the special-character overflows, and the lengths used for them.
const OVERFLOW_CHARS: &[(&str, u8)] = &[
    ("space", b' '),
    ("null", 0),
    ("slash", b'/'),
    ("colon", b':'),
    ("at", b'@'),
    ("percent", b'%'),
    ("less-than", b'<'),
    ("greater-than", b'>'),
    ("semicolon", b';'),
    ("comma", b','),
    ("quote", b'"'),
    ("backslash", b'\\'),
    ("tab", b'\t'),
    ("delete", 0x7f),
    ("byte-ff", 0xff),
    ("byte-80", 0x80),
];
const SPECIAL_LENGTHS: &[usize] = &[1, 128, 1024, 16384];

const FORMAT_STRINGS: &[&str] = &[
    "%s",
    "%n",
    "%x",
    "%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s",
    "%n%n%n%n%n%n%n%n%n%n%n%n%n%n%n%n",
    "%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x",
    "%.1024d",
    "%.2049d",
    "%99999999999s",
    "%p%p%p%p",
    "%#0123456x%08x%x%s%p%n%d%o%u%c%h%l%q%j%z%Z%t%i%e%g%f%a%C%S%08x%%",
];

const INTEGERS: &[&str] = &[
    "-1",
    "0",
    "-0",
    "+1",
    "127",
    "128",
    "255",
    "256",
    "32767",
    "32768",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "0x7fffffff",
    "1e99",
    "1.5",
    "0000000000000000000000000000000000000001",
];

const ANSI_ESCAPES: &[&[u8]] = &[
    b"\x1b[2J\x1b[H",
    b"\x1b[31;1;5mred\x1b[0m",
    b"\x1b]0;title\x07",
    b"\x1b[6n",
    b"\x1bc",
    b"\x9b31m",
];

/// Non-ASCII bytes: valid UTF-8 of several lengths, and the sequences RFC 3629 forbids.
const NON_ASCII: &[(&str, &[u8])] = &[
    ("utf8-2byte", "\u{e4}\u{f6}".as_bytes()),
    ("utf8-3byte", "\u{20ac}".as_bytes()),
    ("utf8-4byte", "\u{1f600}".as_bytes()),
    ("utf8-bom", b"\xef\xbb\xbf"),
    ("latin1", b"caf\xe9"),
    ("lone-continuation", b"\x80"),
    ("byte-fe", b"\xfe"),
    ("byte-ff", b"\xff\xff"),
    ("overlong-slash", b"\xc0\xaf"),
    ("overlong-nul", b"\xc0\x80"),
    ("surrogate", b"\xed\xa0\x80"),
    ("above-10ffff", b"\xf4\x90\x80\x80"),
    ("truncated-3byte", b"\xe2\x82"),
    ("truncated-at-end", b"a\xf0\x9f\x98"),
    ("five-byte-form", b"\xf8\x88\x80\x80\x80"),
];

const LINE_ENDS: &[(&str, &[u8])] = &[
    ("empty", b""),
    ("crlf", b"\r\n"),
    ("cr", b"\r"),
    ("lf", b"\n"),
    ("crlf-crlf", b"\r\n\r\n"),
    ("lf-cr", b"\n\r"),
    ("cr-cr-lf", b"\r\r\n"),
    ("crlf-fold", b"\r\n "),
    ("crlf-x10", b"\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"),
    ("nul-crlf", b"\0\r\n"),
];

/// The anomalies every test group gets, in order: (name, bytes).
fn anomalies() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for &n in OVERFLOW_LENGTHS {
        out.push((format!("overflow-general-{n}"), vec![b'a'; n]));
    }
    for &(name, c) in OVERFLOW_CHARS {
        for &n in SPECIAL_LENGTHS {
            out.push((format!("overflow-{name}-{n}"), vec![c; n]));
        }
    }
    for (i, f) in FORMAT_STRINGS.iter().enumerate() {
        out.push((format!("fmtstring-{i}"), f.as_bytes().to_vec()));
    }
    for i in INTEGERS {
        out.push((format!("integer {i}"), i.as_bytes().to_vec()));
    }
    for (i, e) in ANSI_ESCAPES.iter().enumerate() {
        out.push((format!("ansi-escape-{i}"), e.to_vec()));
    }
    for &(name, b) in NON_ASCII {
        out.push((format!("non-ascii-{name}"), b.to_vec()));
    }
    for &(name, b) in LINE_ENDS {
        out.push((format!("line-end-{name}"), b.to_vec()));
    }
    out
}

/// Writes `parts`, with `mutated`'s field (if among them) replaced by `anomaly`.
fn render(parts: &[Part], mutated: &str, anomaly: &[u8], content_length: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(512 + anomaly.len());
    for part in parts {
        match part {
            Text(t) => out.extend_from_slice(t.as_bytes()),
            Field(group, _) if *group == mutated => out.extend_from_slice(anomaly),
            Field(_, value) => out.extend_from_slice(value.as_bytes()),
            ContentLength if mutated == CONTENT_LENGTH_GROUP => out.extend_from_slice(anomaly),
            ContentLength => out.extend_from_slice(content_length.to_string().as_bytes()),
        }
    }
    out
}

/// One request: the base INVITE with `group`'s field replaced by `anomaly` (`group` empty
/// for the valid base).
fn request(group: &str, anomaly: &[u8]) -> Vec<u8> {
    let body = render(BODY, group, anomaly, 0);
    let mut bytes = render(HEAD, group, anomaly, body.len());
    bytes.extend_from_slice(&body);
    bytes
}

/// The test groups, in the order of the base INVITE.
pub(crate) fn groups() -> Vec<&'static str> {
    HEAD.iter()
        .chain(BODY)
        .filter_map(|p| match p {
            Field(group, _) => Some(*group),
            ContentLength => Some(CONTENT_LENGTH_GROUP),
            Text(_) => None,
        })
        .collect()
}

/// Every case: number 0 is the valid base INVITE, then each group with each anomaly.
pub(crate) fn cases() -> Vec<Case> {
    let mut out = vec![Case {
        index: 0,
        group: "valid",
        anomaly: String::new(),
        bytes: request("", b""),
    }];
    let anomalies = anomalies();
    for group in groups() {
        for (name, bytes) in &anomalies {
            out.push(Case {
                index: out.len(),
                group,
                anomaly: name.clone(),
                bytes: request(group, bytes),
            });
        }
    }
    out
}
