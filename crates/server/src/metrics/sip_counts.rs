//! [`SipCounts`]: SIP messages in and out by request method and reply code, counted from
//! the first line of the bytes on the wire ([`classify`]), without a parse. Fixed arrays of
//! atomics: one relaxed add per message, no lock, no allocation.
//!
//! Every message the tap sees counts, retransmissions included, as Kamailio's
//! `rcv_requests_*` and `rcv_replies_*` do.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::policy::hook::Direction;

/// The methods counted by name (RFC 3261 and its extensions in common use); any other
/// method counts as `other`.
pub(crate) const METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "REGISTER",
    "OPTIONS",
    "INFO",
    "UPDATE",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "MESSAGE",
    "REFER",
];

/// The index of `other` in the request counters.
const OTHER_METHOD: usize = METHODS.len();
/// Reply codes counted: 100 to 699.
const FIRST_CODE: u16 = 100;
const CODES: usize = 600;
/// The longest method token taken for a method (longer: unreadable).
const MAX_METHOD_LEN: usize = 32;

/// What the first line of a message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FirstLine {
    /// A request: the index in [`METHODS`], or [`METHODS`]`.len()` for another method.
    Request(usize),
    /// A reply with this code (100 to 699).
    Reply(u16),
    /// Neither: not SIP, or a status line without a valid code.
    Unreadable,
}

/// Reads the first line of `bytes` as far as it needs: the status code of a reply
/// (`SIP/2.0 200 ...`), else the method token of a request. Never fails; costs a few
/// comparisons.
pub(crate) fn classify(bytes: &[u8]) -> FirstLine {
    if let Some(rest) = bytes.strip_prefix(b"SIP/2.0 ") {
        return match rest {
            [a, b, c, after @ ..]
                if a.is_ascii_digit()
                    && b.is_ascii_digit()
                    && c.is_ascii_digit()
                    && matches!(after.first(), None | Some(b' ' | b'\r' | b'\n')) =>
            {
                let code =
                    u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
                if (FIRST_CODE..FIRST_CODE + CODES as u16).contains(&code) {
                    FirstLine::Reply(code)
                } else {
                    FirstLine::Unreadable
                }
            }
            _ => FirstLine::Unreadable,
        };
    }
    let head = &bytes[..bytes.len().min(MAX_METHOD_LEN + 1)];
    let Some(end) = head.iter().position(|&b| b == b' ') else {
        return FirstLine::Unreadable;
    };
    let token = &head[..end];
    let index = match token {
        b"INVITE" => 0,
        b"ACK" => 1,
        b"BYE" => 2,
        b"CANCEL" => 3,
        b"REGISTER" => 4,
        b"OPTIONS" => 5,
        b"INFO" => 6,
        b"UPDATE" => 7,
        b"PRACK" => 8,
        b"SUBSCRIBE" => 9,
        b"NOTIFY" => 10,
        b"PUBLISH" => 11,
        b"MESSAGE" => 12,
        b"REFER" => 13,
        // RFC 3261 §25.1: a method is a token.
        _ if !token.is_empty() && token.iter().all(|&b| is_token_char(b)) => OTHER_METHOD,
        _ => return FirstLine::Unreadable,
    };
    FirstLine::Request(index)
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// The counters of one direction.
#[derive(Debug)]
pub(crate) struct DirectionCounts {
    requests: [AtomicU64; METHODS.len() + 1],
    replies: Box<[AtomicU64; CODES]>,
    unreadable: AtomicU64,
}

impl Default for DirectionCounts {
    fn default() -> DirectionCounts {
        DirectionCounts {
            requests: Default::default(),
            replies: Box::new(std::array::from_fn(|_| AtomicU64::new(0))),
            unreadable: AtomicU64::new(0),
        }
    }
}

impl DirectionCounts {
    fn count(&self, line: FirstLine) {
        let counter = match line {
            FirstLine::Request(i) => self.requests.get(i),
            FirstLine::Reply(code) => self.replies.get(usize::from(code - FIRST_CODE)),
            FirstLine::Unreadable => Some(&self.unreadable),
        };
        if let Some(c) = counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests by method: every name of [`METHODS`] (zero included), then `other`.
    pub(crate) fn requests(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        METHODS
            .iter()
            .copied()
            .chain(["other"])
            .zip(&self.requests)
            .map(|(name, c)| (name, c.load(Ordering::Relaxed)))
    }

    /// Replies by code, the codes seen only.
    pub(crate) fn replies(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        (FIRST_CODE..)
            .zip(self.replies.iter())
            .map(|(code, c)| (code, c.load(Ordering::Relaxed)))
            .filter(|&(_, n)| n > 0)
    }

    /// Messages whose first line was neither a request nor a reply.
    pub(crate) fn unreadable(&self) -> u64 {
        self.unreadable.load(Ordering::Relaxed)
    }
}

/// Dialog events of record-routed INVITEs ([`crate::policy::hook::DialogEvent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DialogCount {
    /// Forwarded: it rings.
    Started,
    /// A 2xx reached the caller.
    Answered,
    /// A failure reached the caller (busy, no answer, cancelled, ...).
    Failed,
    /// The route refused it before it rang (404, 480, 403, ...).
    Refused,
    /// A BYE passed, or the proxy hung up itself.
    Ended,
}

impl DialogCount {
    /// Every event, in label order.
    pub(crate) const ALL: [DialogCount; 5] = [
        DialogCount::Started,
        DialogCount::Answered,
        DialogCount::Failed,
        DialogCount::Refused,
        DialogCount::Ended,
    ];

    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DialogCount::Started => "started",
            DialogCount::Answered => "answered",
            DialogCount::Failed => "failed",
            DialogCount::Refused => "refused",
            DialogCount::Ended => "ended",
        }
    }
}

/// Messages in and out, and dialog events, counted by the metrics hook
/// ([`super::hook::MetricsHook`]), and the estimated MOS of each relayed call side (the
/// shell, when a relay session ends); read by a scrape.
#[derive(Debug)]
pub(crate) struct SipCounts {
    pub(crate) received: DirectionCounts,
    pub(crate) sent: DirectionCounts,
    dialogs: [AtomicU64; DialogCount::ALL.len()],
    /// MOS of each call side the relay could time.
    pub(crate) mos: super::histogram::Histogram,
}

impl Default for SipCounts {
    fn default() -> Self {
        SipCounts {
            received: DirectionCounts::default(),
            sent: DirectionCounts::default(),
            dialogs: Default::default(),
            mos: super::histogram::Histogram::new(super::histogram::MOS_BOUNDS),
        }
    }
}

impl SipCounts {
    /// Counts one message that went `direction`.
    pub(crate) fn count(&self, direction: Direction, bytes: &[u8]) {
        let line = classify(bytes);
        match direction {
            Direction::In => self.received.count(line),
            Direction::Out => self.sent.count(line),
        }
    }

    /// Counts a dialog event.
    pub(crate) fn dialog(&self, event: DialogCount) {
        if let Some(c) = self.dialogs.get(event as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Dialog events so far, every kind.
    pub(crate) fn dialogs(&self) -> impl Iterator<Item = (DialogCount, u64)> + '_ {
        DialogCount::ALL
            .into_iter()
            .zip(&self.dialogs)
            .map(|(e, c)| (e, c.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_lines() {
        assert_eq!(
            classify(b"INVITE sip:a@b SIP/2.0\r\n"),
            FirstLine::Request(0)
        );
        assert_eq!(
            classify(b"REGISTER sip:b SIP/2.0\r\n"),
            FirstLine::Request(4)
        );
        assert_eq!(classify(b"REFER sip:b SIP/2.0\r\n"), FirstLine::Request(13));
        assert_eq!(
            classify(b"FOO-BAR sip:b SIP/2.0\r\n"),
            FirstLine::Request(OTHER_METHOD)
        );
        assert_eq!(classify(b"SIP/2.0 200 OK\r\n"), FirstLine::Reply(200));
        assert_eq!(classify(b"SIP/2.0 486\r\n"), FirstLine::Reply(486));
        assert_eq!(classify(b"SIP/2.0 699"), FirstLine::Reply(699));
        for bad in [
            &b""[..],
            b"\r\n",
            b"SIP/2.0 ",
            b"SIP/2.0 20",
            b"SIP/2.0 2000 OK\r\n",
            b"SIP/2.0 099 Low\r\n",
            b"SIP/2.0 700 High\r\n",
            b"SIP/2.0 2x0 OK\r\n",
            b" INVITE sip:a SIP/2.0",
            b"INV\"ITE sip:a SIP/2.0",
            b"INVITE",
            b"AVERYVERYVERYVERYVERYVERYLONGMETHOD sip:a SIP/2.0",
            b"\xff\xfe\x00 x",
        ] {
            assert_eq!(classify(bad), FirstLine::Unreadable, "{bad:?}");
        }
    }

    #[test]
    fn counts_by_direction_method_and_code() {
        let counts = SipCounts::default();
        counts.count(Direction::In, b"REGISTER sip:b SIP/2.0\r\n");
        counts.count(Direction::In, b"REGISTER sip:b SIP/2.0\r\n");
        counts.count(Direction::Out, b"SIP/2.0 401 Unauthorized\r\n");
        counts.count(Direction::Out, b"SIP/2.0 200 OK\r\n");
        counts.count(Direction::In, b"garbage");
        counts.dialog(DialogCount::Started);
        let register = counts.received.requests().find(|(m, _)| *m == "REGISTER");
        assert_eq!(register, Some(("REGISTER", 2)));
        assert_eq!(counts.received.requests().count(), METHODS.len() + 1);
        assert_eq!(
            counts.sent.replies().collect::<Vec<_>>(),
            [(200, 1), (401, 1)]
        );
        assert_eq!(counts.received.replies().count(), 0);
        assert_eq!(counts.received.unreadable(), 1);
        assert_eq!(counts.sent.requests().map(|r| r.1).sum::<u64>(), 0);
        let dialogs: Vec<_> = counts.dialogs().map(|(e, n)| (e.as_str(), n)).collect();
        assert_eq!(dialogs[0], ("started", 1));
    }

    proptest! {
        #[test]
        fn any_bytes_are_classified_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let counts = SipCounts::default();
            counts.count(Direction::In, &bytes);
            let mut prefixed = b"SIP/2.0 ".to_vec();
            prefixed.extend_from_slice(&bytes);
            counts.count(Direction::Out, &prefixed);
            let total_in: u64 = counts.received.requests().map(|r| r.1).sum::<u64>()
                + counts.received.replies().map(|r| r.1).sum::<u64>()
                + counts.received.unreadable();
            prop_assert_eq!(total_in, 1);
        }
    }
}
