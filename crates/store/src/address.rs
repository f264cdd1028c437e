//! Validation of the addresses the store keys on: `user@domain`.
//!
//! The user part is kept as given (SIP user parts are case-sensitive, RFC 3261 §19.1.4);
//! the domain is a host as `sip::uri::Host::parse` accepts it, lowercased and without a
//! trailing dot, so `Example.COM.` and `example.com` are one domain.

use std::fmt;
use std::str::FromStr;

use crate::StoreError;

/// A validated `user@domain` address of a subscriber or alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    /// The user part, as given.
    pub user: String,
    /// The domain, lowercased, without a trailing dot.
    pub domain: String,
}

impl Address {
    /// Validates a user part and a domain.
    pub fn new(user: &str, domain: &str) -> Result<Address, StoreError> {
        Ok(Address {
            user: check_user(user)?.to_owned(),
            domain: normalize_domain(domain)?,
        })
    }

    /// Parses `user@domain` (no `sip:` scheme, no parameters).
    pub fn parse(s: &str) -> Result<Address, StoreError> {
        let (user, domain) = s.split_once('@').ok_or_else(|| {
            StoreError::BadAddress(format!("{s:?} is not of the form user@domain"))
        })?;
        Address::new(user, domain)
    }

    /// The address of record as the location table keys it: `user@domain`.
    pub fn aor(&self) -> String {
        let mut aor = String::with_capacity(self.user.len() + 1 + self.domain.len());
        aor.push_str(&self.user);
        aor.push('@');
        aor.push_str(&self.domain);
        aor
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, self.domain)
    }
}

impl FromStr for Address {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Address, StoreError> {
        Address::parse(s)
    }
}

/// Checks a user part: RFC 3261 §25.1 `user` characters (unreserved, `%HH` escapes and
/// `& = + $ , ; ? /`), not empty, at most 128 bytes.
pub(crate) fn check_user(user: &str) -> Result<&str, StoreError> {
    if user.is_empty() {
        return Err(StoreError::BadAddress("empty user part".into()));
    }
    if user.len() > 128 {
        return Err(StoreError::BadAddress(
            "user part longer than 128 bytes".into(),
        ));
    }
    let b = user.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let hex = |k: usize| b.get(k).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Err(StoreError::BadAddress(format!(
                    "bad %-escape in user part {user:?}"
                )));
            }
            i += 3;
            continue;
        }
        let ok = c.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&c);
        if !ok {
            return Err(StoreError::BadAddress(format!(
                "character {:?} not allowed in user part {user:?}",
                char::from(c)
            )));
        }
        i += 1;
    }
    Ok(user)
}

/// Checks a domain with `sip::uri::Host::parse` and returns its stored form.
pub(crate) fn normalize_domain(domain: &str) -> Result<String, StoreError> {
    if domain.len() > 253 {
        return Err(StoreError::BadAddress(
            "domain longer than 253 bytes".into(),
        ));
    }
    sip::uri::Host::parse(domain)
        .map_err(|_| StoreError::BadAddress(format!("{domain:?} is not a host name or address")))?;
    let d = domain.strip_suffix('.').unwrap_or(domain);
    Ok(d.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let a = Address::parse("+4684567890@Example.COM.").unwrap();
        assert_eq!(a.user, "+4684567890");
        assert_eq!(a.domain, "example.com");
        assert_eq!(a.to_string(), "+4684567890@example.com");
        assert_eq!(a.aor(), a.to_string());
        assert_eq!(
            Address::parse("a%41;x=y@10.0.0.1").unwrap().domain,
            "10.0.0.1"
        );
        assert_eq!(Address::parse("bob@[::1]").unwrap().domain, "[::1]");
    }

    #[test]
    fn rejects_with_a_reason() {
        for bad in [
            "alice",
            "@example.com",
            "alice@",
            "al ice@example.com",
            "al@ice@example.com",
            "alice@exa mple.com",
            "alice@-x.com",
            "a%4@example.com",
            "alice@1.2.3.999",
            "<alice>@example.com",
        ] {
            let e = Address::parse(bad).unwrap_err();
            assert!(matches!(e, StoreError::BadAddress(_)), "{bad}: {e}");
        }
        assert!(Address::parse(&format!("{}@x.com", "a".repeat(129))).is_err());
    }
}
