//! Address headers: From, To, Contact, Route, Record-Route, Path, Reply-To (RFC 3261 §20.10,
//! §20.20, §20.39, §20.30, §20.34; RFC 3327), all built on `name-addr / addr-spec` with
//! header parameters (§25.1).

use crate::params::Params;
use crate::text::{find_top_level, quoted_string_end, trim_lws, unquote};
use crate::uri::{Uri, UriError};

/// `[display-name] <URI> *(;param)` or `addr-spec *(;param)`, borrowing the header text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name as written: quoted (with the quotes) or a sequence of tokens.
    pub display_name: Option<&'a str>,
    /// The URI text (between `<` and `>`, or the bare addr-spec).
    pub uri: &'a str,
    /// Whether the URI was enclosed in `<>` (RFC 3261 §20.10 requires it when the URI has
    /// `,`, `;` or `?`).
    pub angle_brackets: bool,
    /// Header parameters after the address (`tag`, `expires`, `q`, ...).
    pub params: Params<'a>,
    tag: Option<&'a str>,
}

impl<'a> NameAddr<'a> {
    /// Parses one address value: display name, `<>` or addr-spec form, parameters. The URI
    /// itself is parsed when asked for ([`NameAddr::parsed_uri`]), or checked here by
    /// [`NameAddr::parse_strict`]: a proxy that reads only the From tag does not pay for it.
    pub fn parse(value: &'a str) -> Result<NameAddr<'a>, String> {
        let value = trim_lws(value);
        if value.is_empty() {
            return Err("empty address".into());
        }
        let (display_name, after_name) = if value.starts_with('"') {
            let end = quoted_string_end(value).map_err(|_| "unterminated quoted display name")?;
            let rest = trim_lws(&value[end..]);
            if !rest.starts_with('<') {
                return Err("quoted display name without <URI>".into());
            }
            (Some(&value[..end]), rest)
        } else if let Some(lt) = find_top_level(value, b'<') {
            let name = trim_lws(&value[..lt]);
            // §25.1: display-name = *(token LWS) / quoted-string
            if !name
                .split([' ', '\t', '\r', '\n'])
                .all(|w| w.is_empty() || crate::text::is_token(w))
            {
                return Err("display name is neither quoted nor tokens".into());
            }
            (
                if name.is_empty() { None } else { Some(name) },
                &value[lt..],
            )
        } else {
            (None, value)
        };

        let (uri, angle_brackets, rest) = if let Some(inner) = after_name.strip_prefix('<') {
            let close = memchr::memchr(b'>', inner.as_bytes()).ok_or("unterminated <URI>")?;
            (&inner[..close], true, trim_lws(&inner[close + 1..]))
        } else {
            // addr-spec: the URI ends at the first `;` (header parameters follow) and may
            // not contain `?` or `,` (§20.10).
            let end = memchr::memchr(b';', after_name.as_bytes()).unwrap_or(after_name.len());
            let uri = trim_lws(&after_name[..end]);
            if uri.contains(['?', ',']) {
                return Err("URI with ? or , must be enclosed in <>".into());
            }
            (uri, false, &after_name[end..])
        };
        if uri.is_empty() {
            return Err("empty URI".into());
        }
        let params = if rest.is_empty() {
            Params::new("")
        } else {
            let p = rest.strip_prefix(';').ok_or("text after the address")?;
            Params::new(p)
        };
        // One pass: check every parameter and keep the tag, read on nearly every message.
        let mut tag = None;
        for param in params.iter() {
            let (name, value) = param.map_err(|_| "malformed parameters")?;
            if !crate::text::is_token(name) {
                return Err("malformed parameters".into());
            }
            if tag.is_none() && name.eq_ignore_ascii_case("tag") {
                tag = Some(value);
            }
        }
        Ok(NameAddr {
            display_name,
            uri,
            angle_brackets,
            params,
            tag: tag.flatten(),
        })
    }

    /// Parses the address and its URI (RFC 3261 §19.1).
    pub fn parse_strict(value: &'a str) -> Result<NameAddr<'a>, String> {
        let addr = NameAddr::parse(value)?;
        addr.parsed_uri()
            .map_err(|e: UriError| format!("bad URI: {e}"))?;
        Ok(addr)
    }

    /// The parsed URI.
    pub fn parsed_uri(&self) -> Result<Uri<'a>, UriError> {
        Uri::parse(self.uri)
    }

    /// The display name without surrounding quotes (quoted-pair escapes left as written).
    pub fn display_name_text(&self) -> Option<&'a str> {
        self.display_name.map(unquote)
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&'a str> {
        self.tag
    }
}

/// One Contact value (RFC 3261 §20.10): `*` or an address with `q` and `expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *`, only valid in REGISTER with `Expires: 0` (§10.2.2).
    Star,
    /// An address.
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one Contact value, checking `expires` (delta-seconds, at most 2**32-1) and `q`
    /// (qvalue, §25.1) when present.
    pub fn parse(value: &'a str) -> Result<Contact<'a>, String> {
        if trim_lws(value) == "*" {
            return Ok(Contact::Star);
        }
        let addr = NameAddr::parse(value)?;
        if let Some(exp) = addr.params.get("expires") {
            if exp
                .and_then(|e| crate::text::parse_decimal(e, u64::from(u32::MAX)))
                .is_none()
            {
                return Err("expires parameter out of range".into());
            }
        }
        if let Some(q) = addr.params.get("q") {
            if q.and_then(parse_qvalue).is_none() {
                return Err("bad q value".into());
            }
        }
        Ok(Contact::Addr(addr))
    }

    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => Some(a),
        }
    }

    /// The `expires` parameter in seconds.
    pub fn expires(&self) -> Option<u32> {
        let v = self.addr()?.params.get("expires")??;
        crate::text::parse_decimal(v, u64::from(u32::MAX)).map(|v| v as u32)
    }

    /// The `q` parameter in thousandths (1000 = 1.0); `None` when absent.
    pub fn q(&self) -> Option<u16> {
        parse_qvalue(self.addr()?.params.get("q")??)
    }
}

/// Parses a qvalue (RFC 3261 §25.1: `"0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]`) into
/// thousandths.
pub fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, c) in frac.bytes().enumerate() {
        thousandths += u16::from(c - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_display_name_and_params() {
        let a = NameAddr::parse(
            "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33",
        )
        .unwrap();
        assert_eq!(a.uri, "sip:jdrosen@example.com");
        assert_eq!(a.params.get("newparam"), Some(Some("newvalue")));
        assert_eq!(a.params.get("q"), Some(Some("0.33")));
        assert_eq!(Contact::Addr(a).q(), Some(330));
    }

    #[test]
    fn addr_spec_params_belong_to_header() {
        let a = NameAddr::parse("sip:caller@example.net;tag=3413415").unwrap();
        assert_eq!(a.uri, "sip:caller@example.net");
        assert_eq!(a.tag(), Some("3413415"));
        assert!(!a.angle_brackets);
    }

    #[test]
    fn token_display_name() {
        let a = NameAddr::parse("Bob Smith <sip:bob@example.com>;tag=1").unwrap();
        assert_eq!(a.display_name, Some("Bob Smith"));
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>").is_err());
        assert!(NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(NameAddr::parse("\"Joe\" <sip:joe@example.org>;;;;").is_err());
        // The URI is checked on demand or by parse_strict (RFC 4475 §3.1.2.14).
        let spaced = "\"Watson, Thomas\" < sip:t.watson@example.org >";
        assert!(NameAddr::parse(spaced).unwrap().parsed_uri().is_err());
        assert!(NameAddr::parse_strict(spaced).is_err());
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.001"), Some(1));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.0001"), None);
        assert_eq!(Contact::parse(" * ").unwrap(), Contact::Star);
    }
}
