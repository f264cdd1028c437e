//! Generic `;name=value` parameter lists, as found in URIs (RFC 3261 §19.1.1 `uri-parameters`)
//! and in header values (§25.1 `generic-param`: Via, Contact, From/To, ...).
//!
//! [`Params`] borrows the raw text and yields `(name, value)` pairs on demand; nothing is
//! copied. Names compare case-insensitively (§7.3.1, §19.1.4) through [`Params::get`].

use crate::text::{quoted_string_end, trim_lws};

/// A parameter list as written: the text after the first `;`, e.g. `branch=z9hG4bK1;rport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a str,
}

/// Why a parameter list is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamsError {
    /// `;;` or a trailing `;`: a parameter with no name.
    EmptyName,
    /// A quoted value is not closed.
    UnterminatedQuote,
    /// A name with characters outside `token`.
    BadName,
}

impl<'a> Params<'a> {
    /// Wraps raw parameter text (without the leading `;`). Empty text is an empty list.
    pub fn new(raw: &'a str) -> Self {
        Params { raw }
    }

    /// The raw text, as it came.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        trim_lws(self.raw).is_empty()
    }

    /// Iterates over `(name, value)` pairs, LWS-trimmed. A parameter without `=` has value
    /// `None`; quoted values keep their quotes (use [`crate::text::unquote`]).
    pub fn iter(&self) -> ParamsIter<'a> {
        ParamsIter {
            rest: if self.is_empty() {
                None
            } else {
                Some(self.raw)
            },
        }
    }

    /// The value of the first parameter named `name` (case-insensitive). `Some(None)` when the
    /// parameter is present without a value (e.g. `lr`, `rport`).
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .filter_map(Result::ok)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether a parameter named `name` is present, with or without value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Checks the whole list: every parameter has a token name and closed quotes.
    pub fn validate(&self) -> Result<(), ParamsError> {
        for p in self.iter() {
            let (name, _) = p?;
            if !crate::text::is_token(name) {
                return Err(ParamsError::BadName);
            }
        }
        Ok(())
    }
}

/// Iterator of [`Params::iter`].
#[derive(Debug, Clone)]
pub struct ParamsIter<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for ParamsIter<'a> {
    type Item = Result<(&'a str, Option<&'a str>), ParamsError>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest?;
        // Find the end of this parameter: the next `;` outside a quoted string.
        let b = s.as_bytes();
        let mut i = 0;
        let mut end = s.len();
        // Parameters are short: a plain loop beats a vectorised search here.
        while i < b.len() {
            match b[i] {
                b';' => {
                    end = i;
                    break;
                }
                b'"' => match quoted_string_end(&s[i..]) {
                    Ok(len) => i += len,
                    Err(_) => {
                        self.rest = None;
                        return Some(Err(ParamsError::UnterminatedQuote));
                    }
                },
                _ => i += 1,
            }
        }
        self.rest = if end < s.len() {
            Some(&s[end + 1..])
        } else {
            None
        };
        let item = &s[..end];
        let (name, value) = match item.bytes().position(|c| c == b'=') {
            Some(eq) => (trim_lws(&item[..eq]), Some(trim_lws(&item[eq + 1..]))),
            None => (trim_lws(item), None),
        };
        if name.is_empty() {
            self.rest = None;
            return Some(Err(ParamsError::EmptyName));
        }
        Some(Ok((name, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_and_finds() {
        let p = Params::new("branch=z9hG4bK1; RPORT ;received = 192.0.2.1;x=\"a;b\"");
        assert_eq!(p.get("branch"), Some(Some("z9hG4bK1")));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.get("received"), Some(Some("192.0.2.1")));
        assert_eq!(p.get("x"), Some(Some("\"a;b\"")));
        assert_eq!(p.get("missing"), None);
        assert!(p.validate().is_ok());
    }

    #[test]
    fn rejects_empty_names() {
        assert_eq!(Params::new(";;").validate(), Err(ParamsError::EmptyName));
        assert_eq!(Params::new("a=1;").validate(), Err(ParamsError::EmptyName));
        assert!(Params::new("").validate().is_ok());
        assert_eq!(Params::new("").iter().count(), 0);
    }
}
