//! Lexical building blocks of RFC 3261 §25.1: token characters, linear white space,
//! quoted strings, and splitting of comma-separated header values.
//!
//! Every function here works on borrowed text and never allocates, except the writers of
//! addresses at the end ([`ip_text`], [`socket_addr_text`]). Header values handed to these
//! helpers may still contain folded line breaks (`CRLF` followed by space or tab, RFC 3261
//! §7.3.1); they count as linear white space (LWS) everywhere.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// RFC 3261 §25.1 `token` characters: alphanumerics and `-.!%*_+`'~`.
pub fn is_token_char(b: u8) -> bool {
    TOKEN_CHARS[usize::from(b)]
}

/// Lookup table of [`is_token_char`]: one load per byte on the parser's hot path.
static TOKEN_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    table
};

/// Whether `s` is a non-empty RFC 3261 `token`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// Linear white space: space, tab, and the CR/LF of a folded line.
pub fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trims linear white space (including folded line breaks) from both ends.
pub fn trim_lws(s: &str) -> &str {
    let b = s.as_bytes();
    let mut end = b.len();
    while end > 0 && is_lws(b[end - 1]) {
        end -= 1;
    }
    // Trimming only ASCII bytes keeps both ends on character boundaries.
    trim_lws_start(s.get(..end).unwrap_or(s))
}

/// Trims linear white space from the start.
pub fn trim_lws_start(s: &str) -> &str {
    let start = s.bytes().position(|c| !is_lws(c)).unwrap_or(s.len());
    s.get(start..).unwrap_or("")
}

/// Error of [`quoted_string_end`]: the quoted string never closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnterminatedQuote;

/// Given text that starts with `"`, returns the byte index just past the closing quote
/// (RFC 3261 §25.1 `quoted-string`, with `quoted-pair` escapes).
pub fn quoted_string_end(s: &str) -> Result<usize, UnterminatedQuote> {
    let b = s.as_bytes();
    debug_assert_eq!(b.first(), Some(&b'"'));
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(UnterminatedQuote)
}

/// Removes the surrounding quotes of a quoted string, leaving `quoted-pair` escapes as they
/// are (so no allocation is needed). Returns the input when it is not quoted.
pub fn unquote(s: &str) -> &str {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Error of [`split_top_level`]: a quote or angle bracket is not closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// A `"` opened a quoted string that never closes.
    UnterminatedQuote,
    /// A `<` opened a URI that never closes with `>`.
    UnterminatedAngle,
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SplitError::UnterminatedQuote => "unterminated quoted string",
            SplitError::UnterminatedAngle => "unterminated <URI>",
        })
    }
}

impl std::error::Error for SplitError {}

/// Iterator over the elements of a comma-separated header value (RFC 3261 §7.3.1), splitting
/// only at commas outside quoted strings and `<...>`. Elements are trimmed of LWS; empty
/// elements are yielded as empty strings so callers can reject them.
#[derive(Debug, Clone)]
pub struct CommaSplit<'a> {
    rest: Option<&'a str>,
}

impl CommaSplit<'_> {
    /// Length of the text not yet split.
    pub fn rest_len(&self) -> usize {
        self.rest.map_or(0, str::len)
    }
}

/// Splits a header value at top-level commas. See [`CommaSplit`].
pub fn split_top_level(value: &str) -> CommaSplit<'_> {
    CommaSplit { rest: Some(value) }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = Result<&'a str, SplitError>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest?;
        let b = s.as_bytes();
        let mut i = 0;
        // Jump from one character that matters to the next: a quoted string and a `<...>`
        // are skipped whole (inside `<...>` nothing but `>` counts), a comma ends the
        // element.
        while let Some(offset) = memchr::memchr3(b'"', b'<', b',', &b[i..]) {
            let at = i + offset;
            match b[at] {
                b'"' => match quoted_string_end(&s[at..]) {
                    Ok(len) => i = at + len,
                    Err(UnterminatedQuote) => {
                        self.rest = None;
                        return Some(Err(SplitError::UnterminatedQuote));
                    }
                },
                b'<' => match memchr::memchr(b'>', &b[at + 1..]) {
                    Some(close) => i = at + 1 + close + 1,
                    None => {
                        self.rest = None;
                        return Some(Err(SplitError::UnterminatedAngle));
                    }
                },
                _ => {
                    self.rest = Some(&s[at + 1..]);
                    return Some(Ok(trim_lws(&s[..at])));
                }
            }
        }
        self.rest = None;
        Some(Ok(trim_lws(s)))
    }
}

/// Finds the first occurrence of `needle` in `s` that is outside quoted strings and outside
/// `<...>`; used to find where a name-addr's parameters start.
pub fn find_top_level(s: &str, needle: u8) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut in_angle = false;
    while i < b.len() {
        let c = b[i];
        if c == b'"' && !in_angle {
            match quoted_string_end(&s[i..]) {
                Ok(len) => {
                    i += len;
                    continue;
                }
                Err(_) => return None,
            }
        }
        if c == needle && !in_angle {
            return Some(i);
        }
        if c == b'<' {
            in_angle = true;
        } else if c == b'>' {
            in_angle = false;
        }
        i += 1;
    }
    None
}

/// Parses a decimal number of at most `max` (RFC 3261 scalar fields: CSeq numbers are below
/// 2**31, Max-Forwards at most 255, Expires at most 2**32-1). Leading zeros are allowed
/// (RFC 4475 §3.1.1.1 `0068`). Returns `None` for empty, non-digit or overlarge text.
pub fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 40 {
        return None;
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if v > max {
            return None;
        }
    }
    Some(v)
}

/// Whether `s` starts with `prefix`, ASCII case-insensitively; safe on any UTF-8 text.
pub fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Case-insensitive ASCII equality.
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, n: u16) {
    let mut digits = [0u8; 5];
    let mut len = 0;
    let mut rest = n;
    loop {
        if let Some(d) = digits.get_mut(len) {
            // `rest % 10` is below 10: one digit.
            *d = b'0' + (rest % 10) as u8;
        }
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for d in digits.iter().take(len).rev() {
        out.push(char::from(*d));
    }
}

/// Appends `ip` as a dotted quad, what `Ipv4Addr`'s `Display` writes, without the
/// formatting machinery: addresses go into Via, Record-Route and store rows on every
/// message, and `Display` cost over a thousand instructions each.
fn push_ipv4(out: &mut String, ip: Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_decimal(out, u16::from(octet));
    }
}

/// Lowercase hexadecimal of `bytes` (`format!("{:016x}", n)` is `hex(&n.to_be_bytes())`,
/// without the formatting machinery).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// `ip` as `IpAddr`'s `Display` writes it (`192.0.2.1`, `2001:db8::1`).
pub fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = String::with_capacity(15);
            push_ipv4(&mut text, v4);
            text
        }
        IpAddr::V6(v6) => v6.to_string(),
    }
}

/// `addr` as `SocketAddr`'s `Display` writes it (`192.0.2.1:5060`, `[2001:db8::1]:5060`).
pub fn socket_addr_text(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => {
            let mut text = String::with_capacity(21);
            push_ipv4(&mut text, *v4.ip());
            text.push(':');
            push_decimal(&mut text, v4.port());
            text
        }
        SocketAddr::V6(_) => addr.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_around_quotes_and_angles() {
        let v = r#""Doe, John" <sip:a@b;x=1,2>;q=0.5 , <sip:c@d>,"#;
        let parts: Vec<_> = split_top_level(v).collect();
        assert_eq!(
            parts,
            vec![
                Ok(r#""Doe, John" <sip:a@b;x=1,2>;q=0.5"#),
                Ok("<sip:c@d>"),
                Ok("")
            ]
        );
    }

    #[test]
    fn hex_matches_the_formatter() {
        for n in [0u64, 1, 0xff, 0x0123_4567_89ab_cdef, u64::MAX] {
            assert_eq!(hex(&n.to_be_bytes()), format!("{n:016x}"));
        }
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn reports_unterminated_quote() {
        let parts: Vec<_> = split_top_level(r#""Mr. J. User <sip:a@b>"#).collect();
        assert_eq!(parts, vec![Err(SplitError::UnterminatedQuote)]);
    }

    #[test]
    fn trims_folding_and_keeps_utf8() {
        assert_eq!(trim_lws(" \t\r\n a b \r\n "), "a b");
        assert_eq!(trim_lws("  ς  "), "ς");
        assert_eq!(trim_lws(" \r\n"), "");
        assert_eq!(trim_lws_start("\r\n x "), "x ");
    }

    #[test]
    fn decimal_limits() {
        assert_eq!(parse_decimal("0068", 255), Some(68));
        assert_eq!(parse_decimal("300", 255), None);
        assert_eq!(
            parse_decimal("36893488147419103232", u64::from(u32::MAX)),
            None
        );
        assert_eq!(parse_decimal("-1", 10), None);
        assert_eq!(parse_decimal("", 10), None);
    }

    #[test]
    fn quoted_pairs_do_not_close() {
        assert_eq!(quoted_string_end(r#""a\"b" rest"#), Ok(6));
        assert_eq!(quoted_string_end(r#""J Rosenberg \\\"""#), Ok(18));
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0:0",
            "192.0.2.1:5060",
            "255.255.255.255:65535",
            "10.20.30.40:9",
            "127.0.0.1:100",
            "[2001:db8::1]:5060",
            "[::ffff:192.0.2.1]:5070",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(socket_addr_text(addr), text);
            assert_eq!(ip_text(addr.ip()), addr.ip().to_string());
        }
    }
}
