//! The `o=` line: who created the session and which version of it this is (RFC 8866 §5.2).

use std::fmt;
use std::net::IpAddr;

use crate::error::LineError;
use crate::line::{check_text, is_digits, is_token};

/// The origin of a session, `o=<username> <sess-id> <sess-version> <nettype> <addrtype>
/// <unicast-address>` (RFC 8866 §5.2).
///
/// The session id is kept as the digits that were written (it is only ever compared); the
/// version is a number, because offers and answers in one session increment it (RFC 3264
/// §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The user's login on the originating host, `-` when there is none.
    pub username: String,
    /// The numeric session id, as written.
    pub session_id: String,
    /// The session version, incremented on every change (RFC 3264 §8).
    pub session_version: u64,
    /// The network type, `IN` on the Internet.
    pub net_type: String,
    /// The address type, `IP4` or `IP6`.
    pub addr_type: String,
    /// The address of the originating host: an IP literal or a domain name.
    pub address: String,
}

impl Origin {
    /// An origin for a session of ours: `- <id> <version> IN IP4|IP6 <address>`.
    pub fn new(session_id: u64, session_version: u64, address: IpAddr) -> Origin {
        Origin {
            username: "-".to_owned(),
            session_id: session_id.to_string(),
            session_version,
            net_type: "IN".to_owned(),
            addr_type: addr_type(address).to_owned(),
            address: address.to_string(),
        }
    }

    /// Parses the value of an `o=` line. Fields are separated by spaces; extra spaces are
    /// tolerated.
    pub fn parse(value: &str) -> Result<Origin, LineError> {
        let mut fields = value.split_ascii_whitespace();
        let mut next = |what: &'static str| fields.next().ok_or(LineError::BadOrigin(what));
        let username = next("missing user name")?;
        let session_id = next("missing session id")?;
        let session_version = next("missing session version")?;
        let net_type = next("missing network type")?;
        let addr_type = next("missing address type")?;
        let address = next("missing address")?;
        if fields.next().is_some() {
            return Err(LineError::BadOrigin("more than six fields"));
        }
        if !is_digits(session_id) {
            return Err(LineError::BadOrigin("session id is not a number"));
        }
        if !is_digits(session_version) {
            return Err(LineError::BadOrigin("session version is not a number"));
        }
        let session_version = session_version
            .parse()
            .map_err(|_| LineError::BadOrigin("session version does not fit in 64 bits"))?;
        if !is_token(net_type) {
            return Err(LineError::BadOrigin("network type is not a token"));
        }
        if !is_token(addr_type) {
            return Err(LineError::BadOrigin("address type is not a token"));
        }
        Ok(Origin {
            username: username.to_owned(),
            session_id: session_id.to_owned(),
            session_version,
            net_type: net_type.to_owned(),
            addr_type: addr_type.to_owned(),
            address: address.to_owned(),
        })
    }

    /// Checks that the fields can be written as one `o=` line that parses back to them.
    pub(crate) fn check(&self) -> Result<(), LineError> {
        check_text("o= user name", &self.username, false)?;
        check_text("o= address", &self.address, false)?;
        let reparsed = Origin::parse(&self.to_string())?;
        if reparsed == *self {
            Ok(())
        } else {
            Err(LineError::BadOrigin("fields do not survive serialization"))
        }
    }
}

/// Writes the value of the `o=` line (without `o=`).
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.net_type,
            self.addr_type,
            self.address
        )
    }
}

/// The SDP address type of an IP address: `IP4` or `IP6` (RFC 8866 §5.7).
pub(crate) fn addr_type(address: IpAddr) -> &'static str {
    match address {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_six_fields() {
        let o = Origin::parse("nungu 1341909 1341919 IN IP4 10.0.0.16").unwrap();
        assert_eq!(o.username, "nungu");
        assert_eq!(o.session_id, "1341909");
        assert_eq!(o.session_version, 1_341_919);
        assert_eq!(o.net_type, "IN");
        assert_eq!(o.addr_type, "IP4");
        assert_eq!(o.address, "10.0.0.16");
        assert_eq!(o.to_string(), "nungu 1341909 1341919 IN IP4 10.0.0.16");
    }

    #[test]
    fn rejects_missing_and_non_numeric_fields() {
        let err = |v: &str| Origin::parse(v).unwrap_err();
        assert_eq!(
            err("- 1559804173873191 1 IN IP4 "),
            LineError::BadOrigin("missing address")
        );
        assert_eq!(
            err("- x1 1 IN IP4 h"),
            LineError::BadOrigin("session id is not a number")
        );
        assert_eq!(
            err("- 1 -1 IN IP4 h"),
            LineError::BadOrigin("session version is not a number")
        );
        assert_eq!(
            err("- 1 99999999999999999999 IN IP4 h"),
            LineError::BadOrigin("session version does not fit in 64 bits")
        );
        assert_eq!(
            err("- 1 1 IN IP4 h extra"),
            LineError::BadOrigin("more than six fields")
        );
    }

    #[test]
    fn new_origin_for_ipv6() {
        let o = Origin::new(7, 8, "2001:db8::1".parse().unwrap());
        assert_eq!(o.to_string(), "- 7 8 IN IP6 2001:db8::1");
        assert!(o.check().is_ok());
        let mut bad = o.clone();
        bad.username = "a b".into();
        assert!(bad.check().is_err());
    }
}
