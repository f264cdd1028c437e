//! The raw material of a session description: `<type>=<value>` lines (RFC 8866 §5), the
//! split of a body into lines, and the `a=<name>[:<value>]` attribute view (§5.13).
//!
//! Every line is kept as it came (type letter and value text), so that a parsed description
//! serializes back byte for byte; the typed views of the other modules read these values.

use crate::error::LineError;

/// One `<type>=<value>` line, as written (RFC 8866 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    kind: u8,
    value: String,
}

impl Line {
    /// A line from parts already checked by [`check_value`].
    pub(crate) fn new(kind: u8, value: String) -> Line {
        Line { kind, value }
    }

    /// The type letter (`v`, `o`, `a`, ...).
    pub fn kind(&self) -> char {
        char::from(self.kind)
    }

    /// The type letter as a byte.
    pub(crate) fn kind_byte(&self) -> u8 {
        self.kind
    }

    /// The text after `=`, exactly as written.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Replaces the value (already checked by the caller).
    pub(crate) fn set_value(&mut self, value: String) {
        self.value = value;
    }

    /// The attribute view of an `a=` line, `None` for other types.
    pub fn attribute(&self) -> Option<Attribute<'_>> {
        (self.kind == b'a').then(|| Attribute::split(&self.value))
    }
}

/// An `a=` line split into name and value: `a=rtpmap:0 PCMU/8000` is `rtpmap` and
/// `Some("0 PCMU/8000")`, `a=sendrecv` is `sendrecv` and `None` (RFC 8866 §5.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The attribute name (`att-field`).
    pub name: &'a str,
    /// The text after the first `:` (`att-value`), `None` for a property attribute.
    pub value: Option<&'a str>,
}

impl<'a> Attribute<'a> {
    /// Splits the value of an `a=` line at its first colon.
    pub(crate) fn split(text: &'a str) -> Attribute<'a> {
        match text.split_once(':') {
            Some((name, value)) => Attribute {
                name,
                value: Some(value),
            },
            None => Attribute {
                name: text,
                value: None,
            },
        }
    }
}

/// The attributes among `lines`, in order.
pub(crate) fn attributes(lines: &[Line]) -> impl Iterator<Item = Attribute<'_>> {
    lines.iter().filter_map(Line::attribute)
}

/// RFC 8866 §9 `token` characters (the RFC 3261 set plus `#$&^{|}`), used for attribute
/// names, media types, bandwidth types and encoding names.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'{'
                        | b'|'
                        | b'}'
                        | b'~'
                )
        })
}

/// Whether `s` is a non-empty run of ASCII digits.
pub(crate) fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Checks a value for characters SDP cannot carry: NUL, CR and LF (RFC 8866 §9
/// `byte-string`, `text`).
pub(crate) fn check_value(value: &str) -> Result<(), LineError> {
    if value.bytes().any(|b| matches!(b, 0 | b'\r' | b'\n')) {
        Err(LineError::ControlCharacter)
    } else {
        Ok(())
    }
}

/// Checks a free text value a builder writes (session name, user name): no control
/// characters, and no space when `allow_space` is false.
pub(crate) fn check_text(
    field: &'static str,
    value: &str,
    allow_space: bool,
) -> Result<(), LineError> {
    if value.is_empty() {
        return Err(LineError::BadText {
            field,
            reason: "empty",
        });
    }
    if check_value(value).is_err() {
        return Err(LineError::BadText {
            field,
            reason: "contains NUL, CR or LF",
        });
    }
    if !allow_space && value.contains([' ', '\t']) {
        return Err(LineError::BadText {
            field,
            reason: "contains white space",
        });
    }
    Ok(())
}

/// One line of a body as split by [`split_lines`]: its 1-based number and text without the
/// line end.
pub(crate) struct RawLine<'a> {
    pub(crate) number: usize,
    pub(crate) text: &'a str,
}

/// Splits a body into lines at LF, dropping one CR before each LF (RFC 8866 §5: CRLF, but
/// parsers should accept a bare LF). Empty lines at the very end (a body ending in a blank
/// line) are dropped; empty lines between others are kept for the parser to reject.
pub(crate) fn split_lines(text: &str) -> Vec<RawLine<'_>> {
    let mut lines: Vec<RawLine<'_>> = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| RawLine {
            number: i + 1,
            text: l.strip_suffix('\r').unwrap_or(l),
        })
        .collect();
    while lines.last().is_some_and(|l| l.text.is_empty()) {
        lines.pop();
    }
    lines
}

/// Splits one line into type letter and value: `a=sendrecv` → (`a`, `sendrecv`).
pub(crate) fn split_type(text: &str) -> Result<(u8, &str), LineError> {
    if text.is_empty() {
        return Err(LineError::EmptyLine);
    }
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.get(1)) {
        (Some(&kind), Some(&b'=')) if kind.is_ascii_lowercase() => {
            let value = text.get(2..).unwrap_or("");
            check_value(value)?;
            Ok((kind, value))
        }
        _ => Err(LineError::NoTypeLetter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_split_at_the_first_colon() {
        let a = Attribute::split("rtcp:53020 IN IP6 2001:db8::1");
        assert_eq!(a.name, "rtcp");
        assert_eq!(a.value, Some("53020 IN IP6 2001:db8::1"));
        let flag = Attribute::split("sendrecv");
        assert_eq!(flag.name, "sendrecv");
        assert_eq!(flag.value, None);
        let empty = Attribute::split("x-empty:");
        assert_eq!(empty.value, Some(""));
    }

    #[test]
    fn lines_split_on_lf_and_crlf_and_drop_trailing_blanks() {
        let lines = split_lines("v=0\r\no=x\ns=y\r\n\r\n");
        let texts: Vec<&str> = lines.iter().map(|l| l.text).collect();
        assert_eq!(texts, ["v=0", "o=x", "s=y"]);
        assert_eq!(lines.last().map(|l| l.number), Some(3));
        let inner = split_lines("v=0\n\ns=y");
        assert_eq!(inner.len(), 3);
    }

    #[test]
    fn type_letter_must_be_lower_case_and_followed_by_equals() {
        assert_eq!(split_type("a=x"), Ok((b'a', "x")));
        assert_eq!(split_type("s="), Ok((b's', "")));
        assert_eq!(split_type("A=x"), Err(LineError::NoTypeLetter));
        assert_eq!(split_type("a =x"), Err(LineError::NoTypeLetter));
        assert_eq!(split_type(" a=x"), Err(LineError::NoTypeLetter));
        assert_eq!(split_type("a"), Err(LineError::NoTypeLetter));
        assert_eq!(split_type(""), Err(LineError::EmptyLine));
        assert_eq!(split_type("a=x\ry"), Err(LineError::ControlCharacter));
        assert_eq!(split_type("a=x\0"), Err(LineError::ControlCharacter));
    }

    #[test]
    fn tokens_and_text() {
        assert!(is_token("telephone-event"));
        assert!(!is_token("a b"));
        assert!(!is_token(""));
        assert!(is_digits("0123"));
        assert!(!is_digits("12a"));
        assert!(check_text("session name", "a b", true).is_ok());
        assert!(check_text("user name", "a b", false).is_err());
        assert!(check_text("user name", "", false).is_err());
    }
}
