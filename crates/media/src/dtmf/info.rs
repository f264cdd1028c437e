//! DTMF digits in SIP INFO requests (RFC 6086 carries the request; the bodies are
//! conventions of the industry, not RFCs):
//!
//! - `application/dtmf-relay` (Cisco's, the most common): lines of `key=value`, the digit in
//!   `Signal=`, its length in milliseconds in `Duration=`:
//!   `Signal=5\r\nDuration=160\r\n`;
//! - `application/dtmf`: the body is the digit itself, `5`.
//!
//! Both accept `0`-`9`, `*`, `#`, `A`-`D` (any case), and `10` and `11` for `*` and `#` as
//! some gateways send them (the RFC 4733 §3.2 event codes). Content-Type parameters are
//! ignored; names and keys are compared without regard to case.

use std::time::Duration;

use crate::error::{Error, NOT_DTMF};

/// A digit read from an INFO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    /// `0`-`9`, `*`, `#`, `A`-`D`.
    pub digit: char,
    /// The `Duration=` of a dtmf-relay body, when present and valid.
    pub duration: Option<Duration>,
}

/// The digit of an INFO request's body of type `content_type`.
pub fn parse_info(content_type: &str, body: &[u8]) -> Result<InfoDigit, Error> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let fail = |reason| Error::DtmfInfo {
        content_type: media_type.clone(),
        reason,
    };
    let relay = match media_type.as_str() {
        "application/dtmf-relay" => true,
        "application/dtmf" => false,
        _ => return Err(fail(NOT_DTMF)),
    };
    let text = std::str::from_utf8(body).map_err(|_| fail("the body is not text"))?;
    if !relay {
        let digit = signal_digit(text.trim()).ok_or(fail("the body is not a DTMF digit"))?;
        return Ok(InfoDigit {
            digit,
            duration: None,
        });
    }
    let mut signal = None;
    let mut duration = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("signal") {
            signal = Some(value);
        } else if key.eq_ignore_ascii_case("duration") {
            duration = value.parse::<u64>().ok().map(Duration::from_millis);
        }
    }
    let signal = signal.ok_or(fail("no Signal= line"))?;
    let digit = signal_digit(signal).ok_or(fail("Signal= is not a DTMF digit"))?;
    Ok(InfoDigit { digit, duration })
}

/// A signal value as a digit: one DTMF character, or the event codes 10 and 11.
fn signal_digit(value: &str) -> Option<char> {
    match value {
        "10" => return Some('*'),
        "11" => return Some('#'),
        _ => {}
    }
    let mut chars = value.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    rtp::event::digit_to_event(c).ok()?;
    Some(c.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies() {
        let d = parse_info("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n").unwrap();
        assert_eq!(d.digit, '5');
        assert_eq!(d.duration, Some(Duration::from_millis(160)));
        let d = parse_info("Application/DTMF-Relay; x=y", b"signal= #\nDURATION = bad").unwrap();
        assert_eq!((d.digit, d.duration), ('#', None));
        assert_eq!(
            parse_info("application/dtmf-relay", b"Signal=11")
                .unwrap()
                .digit,
            '#'
        );
        assert_eq!(
            parse_info("application/dtmf-relay", b"Signal=10")
                .unwrap()
                .digit,
            '*'
        );
        assert_eq!(
            parse_info("application/dtmf-relay", b"Signal=d")
                .unwrap()
                .digit,
            'D'
        );
    }

    #[test]
    fn dtmf_bodies() {
        assert_eq!(parse_info("application/dtmf", b"7\r\n").unwrap().digit, '7');
        assert_eq!(parse_info("application/dtmf", b"*").unwrap().digit, '*');
    }

    #[test]
    fn wrong_bodies_say_what_is_wrong_and_map_to_a_status() {
        let cases: [(&str, &[u8], &str, u16); 6] = [
            ("text/plain", b"Signal=5", NOT_DTMF, 415),
            (
                "application/dtmf-relay",
                b"Duration=160",
                "no Signal= line",
                400,
            ),
            (
                "application/dtmf-relay",
                b"Signal=55",
                "Signal= is not a DTMF digit",
                400,
            ),
            (
                "application/dtmf-relay",
                b"Signal=",
                "Signal= is not a DTMF digit",
                400,
            ),
            ("application/dtmf", b"\xff", "the body is not text", 400),
            (
                "application/dtmf",
                b"E",
                "the body is not a DTMF digit",
                400,
            ),
        ];
        for (content_type, body, why, status) in cases {
            let e = parse_info(content_type, body).unwrap_err();
            assert!(
                matches!(&e, Error::DtmfInfo { reason, .. } if *reason == why),
                "{content_type} {body:?}: {e}"
            );
            assert_eq!(e.status_code(), Some(status));
        }
    }
}
