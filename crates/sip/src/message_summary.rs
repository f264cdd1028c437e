//! The `application/simple-message-summary` body of message-waiting indication (RFC 3842
//! §5): whether messages wait, for which account, and how many of each kind.
//!
//! ```text
//! Messages-Waiting: yes
//! Message-Account: sip:voicemail@example.com
//! Voice-Message: 2/8 (0/2)
//! ```
//!
//! [`MessageSummary::parse`] reads such a body (names without regard to case, any
//! whitespace around the colon, lines ending in CRLF or LF, the optional urgent counts in
//! parentheses, and the optional message headers after an empty line ignored);
//! [`MessageSummary::to_body`] writes one.

use std::fmt;

/// A message-summary body (RFC 3842 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageSummary {
    /// `Messages-Waiting: yes`.
    pub waiting: bool,
    /// `Message-Account`: the account the summary is for (a URI), when given.
    pub account: Option<String>,
    /// The counts of each message class given (`Voice-Message`, `Fax-Message`, ...),
    /// in the body's order.
    pub classes: Vec<ClassCounts>,
}

/// The counts of one message class (RFC 3842 §5.2 `msg-summary-line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassCounts {
    /// The class as written, e.g. `Voice-Message`.
    pub class: String,
    /// New messages.
    pub new: u32,
    /// Old messages.
    pub old: u32,
    /// New and old urgent messages, when given.
    pub urgent: Option<(u32, u32)>,
}

/// What is wrong with a message-summary body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryError {
    /// The line, counted from 1.
    pub line: usize,
    /// What is wrong there.
    pub reason: &'static str,
}

impl fmt::Display for SummaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "message summary, line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for SummaryError {}

/// The message classes of RFC 3842 §5.2 (RFC 3458 message contexts).
const CLASSES: [&str; 6] = [
    "voice-message",
    "fax-message",
    "pager-message",
    "multimedia-message",
    "text-message",
    "none",
];

impl MessageSummary {
    /// The counts of `Voice-Message`, when given.
    pub fn voice(&self) -> Option<&ClassCounts> {
        self.classes
            .iter()
            .find(|c| c.class.eq_ignore_ascii_case("voice-message"))
    }

    /// Reads a body. The first line must be `Messages-Waiting`; unknown lines before the
    /// empty line that starts the optional message headers are skipped (extensions).
    pub fn parse(body: &str) -> Result<MessageSummary, SummaryError> {
        let mut lines = body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let mut summary = MessageSummary::default();
        let first = lines.next().unwrap_or("");
        let (name, value) = split_line(first).ok_or(SummaryError {
            line: 1,
            reason: "expected \"Messages-Waiting: yes|no\"",
        })?;
        if !name.eq_ignore_ascii_case("messages-waiting") {
            return Err(SummaryError {
                line: 1,
                reason: "the first line must be Messages-Waiting",
            });
        }
        summary.waiting = match value.to_ascii_lowercase().as_str() {
            "yes" => true,
            "no" => false,
            _ => {
                return Err(SummaryError {
                    line: 1,
                    reason: "Messages-Waiting is neither yes nor no",
                })
            }
        };
        for (index, line) in lines.enumerate() {
            let number = index + 2;
            if line.trim().is_empty() {
                // The optional message headers follow (RFC 3842 §5.2 opt-msg-headers).
                break;
            }
            let Some((name, value)) = split_line(line) else {
                return Err(SummaryError {
                    line: number,
                    reason: "expected NAME: VALUE",
                });
            };
            if name.eq_ignore_ascii_case("message-account") {
                if value.is_empty() {
                    return Err(SummaryError {
                        line: number,
                        reason: "Message-Account is empty",
                    });
                }
                summary.account = Some(value.to_owned());
            } else if CLASSES.iter().any(|c| name.eq_ignore_ascii_case(c)) {
                let counts = parse_counts(name, value).ok_or(SummaryError {
                    line: number,
                    reason: "expected NEW/OLD counts, optionally (NEW/OLD) urgent",
                })?;
                summary.classes.push(counts);
            }
        }
        Ok(summary)
    }

    /// The body (CRLF line ends): `Messages-Waiting`, `Message-Account` when given, one
    /// line per class.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "Messages-Waiting: {}\r\n",
            if self.waiting { "yes" } else { "no" }
        );
        if let Some(account) = &self.account {
            body.push_str(&format!("Message-Account: {account}\r\n"));
        }
        for c in &self.classes {
            body.push_str(&format!("{}: {}/{}", c.class, c.new, c.old));
            if let Some((new, old)) = c.urgent {
                body.push_str(&format!(" ({new}/{old})"));
            }
            body.push_str("\r\n");
        }
        body
    }
}

/// `NAME: VALUE` with the value trimmed; `None` without a colon or with an empty name.
fn split_line(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let name = name.trim();
    (!name.is_empty()).then_some((name, value.trim()))
}

/// `NEW/OLD` and optionally ` (NEW/OLD)`, as the counts of `class`.
fn parse_counts(class: &str, value: &str) -> Option<ClassCounts> {
    let (plain, urgent) = match value.split_once('(') {
        Some((plain, rest)) => (plain, Some(rest.trim().strip_suffix(')')?)),
        None => (value, None),
    };
    let pair = |s: &str| -> Option<(u32, u32)> {
        let (new, old) = s.split_once('/')?;
        Some((new.trim().parse().ok()?, old.trim().parse().ok()?))
    };
    let (new, old) = pair(plain)?;
    let urgent = match urgent {
        Some(u) => Some(pair(u)?),
        None => None,
    };
    Some(ClassCounts {
        class: class.to_owned(),
        new,
        old,
        urgent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_3842_example_is_read() {
        // RFC 3842 §5.2's example body, LF line ends and optional headers included.
        let body = "Messages-Waiting: yes\nMessage-Account: sip:alice@vmail.example.com\n\
                    Voice-Message: 4/8 (1/2)\n\nTo: <alice@atlanta.example.com>\n";
        let s = MessageSummary::parse(body).unwrap();
        assert!(s.waiting);
        assert_eq!(s.account.as_deref(), Some("sip:alice@vmail.example.com"));
        let v = s.voice().unwrap();
        assert_eq!((v.new, v.old, v.urgent), (4, 8, Some((1, 2))));
    }

    #[test]
    fn a_body_written_is_read_back() {
        let s = MessageSummary {
            waiting: false,
            account: Some("sip:voicemail@example.com".into()),
            classes: vec![ClassCounts {
                class: "Voice-Message".into(),
                new: 0,
                old: 3,
                urgent: None,
            }],
        };
        assert_eq!(
            s.to_body(),
            "Messages-Waiting: no\r\nMessage-Account: sip:voicemail@example.com\r\nVoice-Message: 0/3\r\n"
        );
        assert_eq!(MessageSummary::parse(&s.to_body()).unwrap(), s);
    }

    #[test]
    fn names_without_regard_to_case_and_unknown_lines_skipped() {
        let s = MessageSummary::parse(
            "messages-waiting :  YES\r\nX-Other: 1\r\nvoice-message: 1/0\r\n",
        )
        .unwrap();
        assert!(s.waiting);
        assert_eq!(s.voice().map(|v| v.new), Some(1));
        assert_eq!(s.account, None);
    }

    #[test]
    fn bad_bodies_say_which_line_is_wrong() {
        for (body, line, reason) in [
            ("", 1, "expected \"Messages-Waiting: yes|no\""),
            (
                "Voice-Message: 1/0\r\n",
                1,
                "the first line must be Messages-Waiting",
            ),
            (
                "Messages-Waiting: maybe\r\n",
                1,
                "Messages-Waiting is neither yes nor no",
            ),
            (
                "Messages-Waiting: yes\r\nVoice-Message: x/0\r\n",
                2,
                "expected NEW/OLD counts, optionally (NEW/OLD) urgent",
            ),
            (
                "Messages-Waiting: yes\r\nVoice-Message: 1/0 (2/\r\n",
                2,
                "expected NEW/OLD counts, optionally (NEW/OLD) urgent",
            ),
            (
                "Messages-Waiting: yes\r\nVoice-Message: 99999999999/0\r\n",
                2,
                "expected NEW/OLD counts, optionally (NEW/OLD) urgent",
            ),
            (
                "Messages-Waiting: yes\r\nno colon here\r\n",
                2,
                "expected NAME: VALUE",
            ),
            (
                "Messages-Waiting: yes\r\nMessage-Account:\r\n",
                2,
                "Message-Account is empty",
            ),
        ] {
            assert_eq!(
                MessageSummary::parse(body),
                Err(SummaryError { line, reason }),
                "{body:?}"
            );
        }
    }
}
