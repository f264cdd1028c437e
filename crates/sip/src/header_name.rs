//! Header field names: the ones the stack knows by name, their compact forms (RFC 3261
//! §7.3.3 and the IANA SIP parameter registry), and case-insensitive matching (§7.3.1).

use std::fmt;

macro_rules! header_names {
    ($( $variant:ident => $canonical:literal $(, compact $compact:literal)? $(, single $single:literal)? ;)*) => {
        /// A header field name. Known names are matched case-insensitively and in their
        /// compact form; everything else is [`HeaderName::Other`], whose text is kept in the
        /// message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum HeaderName {
            $(
                #[doc = concat!("`", $canonical, "`")]
                $variant,
            )*
            /// An extension header the stack does not interpret.
            Other,
        }

        impl HeaderName {
            /// The canonical (long) spelling, as used when the stack writes the header.
            /// `None` for [`HeaderName::Other`].
            pub fn canonical(self) -> Option<&'static str> {
                match self {
                    $( HeaderName::$variant => Some($canonical), )*
                    HeaderName::Other => None,
                }
            }

            /// Looks a name up by comparing it with every known name (see
            /// [`HeaderName::from_name`] for the fast path in front of it).
            fn from_name_scan(name: &[u8]) -> HeaderName {
                if name.len() == 1 {
                    let c = name[0].to_ascii_lowercase();
                    $( $( if c == $compact { return HeaderName::$variant; } )? )*
                    return HeaderName::Other;
                }
                // Fast path on length and first byte before the case-insensitive compare.
                $(
                    if name.len() == $canonical.len() && name.eq_ignore_ascii_case($canonical.as_bytes()) {
                        return HeaderName::$variant;
                    }
                )*
                HeaderName::Other
            }

            /// Whether RFC 3261 (or the defining RFC) allows this header at most once per
            /// message (§7.3: only headers whose grammar is a comma-separated list may repeat).
            pub fn is_single_valued(self) -> bool {
                match self {
                    $( $( HeaderName::$variant => $single, )? )*
                    _ => false,
                }
            }
        }
    };
}

header_names! {
    Accept => "Accept";
    AcceptContact => "Accept-Contact", compact b'a';
    AcceptEncoding => "Accept-Encoding";
    AcceptLanguage => "Accept-Language";
    AlertInfo => "Alert-Info";
    Allow => "Allow";
    AllowEvents => "Allow-Events", compact b'u';
    AuthenticationInfo => "Authentication-Info", single true;
    Authorization => "Authorization";
    CallId => "Call-ID", compact b'i', single true;
    CallInfo => "Call-Info";
    Contact => "Contact", compact b'm';
    ContentDisposition => "Content-Disposition", single true;
    ContentEncoding => "Content-Encoding", compact b'e';
    ContentLanguage => "Content-Language";
    ContentLength => "Content-Length", compact b'l', single true;
    ContentType => "Content-Type", compact b'c', single true;
    CSeq => "CSeq", single true;
    Date => "Date", single true;
    ErrorInfo => "Error-Info";
    Event => "Event", compact b'o', single true;
    Expires => "Expires", single true;
    From => "From", compact b'f', single true;
    Identity => "Identity", compact b'y', single true;
    IdentityInfo => "Identity-Info", compact b'n', single true;
    InReplyTo => "In-Reply-To";
    MaxForwards => "Max-Forwards", single true;
    MimeVersion => "MIME-Version", single true;
    MinExpires => "Min-Expires", single true;
    MinSe => "Min-SE", single true;
    Organization => "Organization", single true;
    Path => "Path";
    Priority => "Priority", single true;
    ProxyAuthenticate => "Proxy-Authenticate";
    ProxyAuthorization => "Proxy-Authorization";
    ProxyRequire => "Proxy-Require";
    RAck => "RAck", single true;
    Reason => "Reason";
    RecordRoute => "Record-Route";
    ReferTo => "Refer-To", compact b'r', single true;
    ReferredBy => "Referred-By", compact b'b', single true;
    RejectContact => "Reject-Contact", compact b'j';
    ReplyTo => "Reply-To", single true;
    RequestDisposition => "Request-Disposition", compact b'd';
    Require => "Require";
    RetryAfter => "Retry-After", single true;
    Route => "Route";
    RSeq => "RSeq", single true;
    Server => "Server", single true;
    SessionExpires => "Session-Expires", compact b'x', single true;
    Subject => "Subject", compact b's', single true;
    SubscriptionState => "Subscription-State", single true;
    Supported => "Supported", compact b'k';
    Timestamp => "Timestamp", single true;
    To => "To", compact b't', single true;
    Unsupported => "Unsupported";
    UserAgent => "User-Agent", single true;
    Via => "Via", compact b'v';
    Warning => "Warning";
    WwwAuthenticate => "WWW-Authenticate";
}

impl HeaderName {
    /// Looks a name up, case-insensitively, in long or compact form (RFC 3261 §7.3.1,
    /// §7.3.3). The headers of nearly every message are recognised by length and first
    /// letter before the full scan.
    pub fn from_name(name: &str) -> HeaderName {
        HeaderName::from_bytes(name.as_bytes())
    }

    /// [`HeaderName::from_name`] on the raw bytes of a header line.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        if name.iter().all(|&c| crate::text::is_token_char(c)) {
            HeaderName::from_token(name)
        } else {
            HeaderName::from_name_scan(name)
        }
    }

    /// Looks up a name already known to be a `token` (the parser checked it).
    ///
    /// Fast path: the name is folded to lower case into two `u64` words and compared, by
    /// length, with the names nearly every message carries; anything else goes through the
    /// full scan.
    pub(crate) fn from_token(name: &[u8]) -> HeaderName {
        let Some((lo, hi)) = fold(name) else {
            return HeaderName::from_name_scan(name);
        };
        let is = |key: (u64, u64)| (lo, hi) == key;
        let known = match name.len() {
            2 if is(K_TO) => HeaderName::To,
            3 if is(K_VIA) => HeaderName::Via,
            4 if is(K_FROM) => HeaderName::From,
            4 if is(K_CSEQ) => HeaderName::CSeq,
            5 if is(K_ROUTE) => HeaderName::Route,
            5 if is(K_ALLOW) => HeaderName::Allow,
            7 if is(K_CALL_ID) => HeaderName::CallId,
            7 if is(K_CONTACT) => HeaderName::Contact,
            7 if is(K_EXPIRES) => HeaderName::Expires,
            9 if is(K_SUPPORTED) => HeaderName::Supported,
            10 if is(K_USER_AGENT) => HeaderName::UserAgent,
            12 if is(K_MAX_FORWARDS) => HeaderName::MaxForwards,
            12 if is(K_CONTENT_TYPE) => HeaderName::ContentType,
            12 if is(K_RECORD_ROUTE) => HeaderName::RecordRoute,
            14 if is(K_CONTENT_LENGTH) => HeaderName::ContentLength,
            _ => HeaderName::Other,
        };
        if known == HeaderName::Other {
            HeaderName::from_name_scan(name)
        } else {
            known
        }
    }
}

/// Folds a token of 1 to 16 bytes into two little-endian words with bit 5 of every byte
/// set: among token characters (RFC 3261 §25.1) that maps exactly the two cases of a letter
/// onto each other (the tests check it), so equal words mean names equal ignoring case.
/// Bytes past the name stay zero.
const fn fold(name: &[u8]) -> Option<(u64, u64)> {
    const LOWER: u64 = 0x2020_2020_2020_2020;
    let len = name.len();
    if len == 0 || len > 16 {
        return None;
    }
    if len < 8 {
        let mut v = 0u64;
        let mut i = 0;
        while i < len {
            v |= ((name[i] | 0x20) as u64) << (8 * i);
            i += 1;
        }
        return Some((v, 0));
    }
    let (Some(head), Some(tail)) = (name.first_chunk::<8>(), name.last_chunk::<8>()) else {
        return None;
    };
    let lo = u64::from_le_bytes(*head) | LOWER;
    if len == 8 {
        return Some((lo, 0));
    }
    // The last eight bytes (overlapping the head), shifted down to the ones past it.
    let shift = 8 * (16 - len) as u32;
    let hi = (u64::from_le_bytes(*tail) | LOWER) >> shift;
    Some((lo, hi))
}

/// The key of a canonical name, for the match in [`HeaderName::from_token`].
const fn key(name: &str) -> (u64, u64) {
    match fold(name.as_bytes()) {
        Some(k) => k,
        None => (0, 0),
    }
}

const K_TO: (u64, u64) = key("To");
const K_VIA: (u64, u64) = key("Via");
const K_FROM: (u64, u64) = key("From");
const K_CSEQ: (u64, u64) = key("CSeq");
const K_ROUTE: (u64, u64) = key("Route");
const K_ALLOW: (u64, u64) = key("Allow");
const K_CALL_ID: (u64, u64) = key("Call-ID");
const K_CONTACT: (u64, u64) = key("Contact");
const K_EXPIRES: (u64, u64) = key("Expires");
const K_SUPPORTED: (u64, u64) = key("Supported");
const K_USER_AGENT: (u64, u64) = key("User-Agent");
const K_MAX_FORWARDS: (u64, u64) = key("Max-Forwards");
const K_CONTENT_TYPE: (u64, u64) = key("Content-Type");
const K_RECORD_ROUTE: (u64, u64) = key("Record-Route");
const K_CONTENT_LENGTH: (u64, u64) = key("Content-Length");

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical().unwrap_or("extension header"))
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderName;

    #[test]
    fn compact_and_case_insensitive() {
        assert_eq!(HeaderName::from_name("v"), HeaderName::Via);
        assert_eq!(HeaderName::from_name("V"), HeaderName::Via);
        assert_eq!(
            HeaderName::from_name("MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_name("call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::from_name("i"), HeaderName::CallId);
        assert_eq!(HeaderName::from_name("l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_name("k"), HeaderName::Supported);
        assert_eq!(HeaderName::from_name("X-Custom"), HeaderName::Other);
        assert_eq!(HeaderName::from_name("q"), HeaderName::Other);
    }

    #[test]
    fn fast_path_agrees_with_the_scan() {
        for name in [
            "to",
            "VIA",
            "from",
            "cseq",
            "route",
            "allow",
            "call-id",
            "contact",
            "expires",
            "supported",
            "user-agent",
            "max-forwards",
            "content-type",
            "record-route",
            "content-length",
            "Subject",
            "x",
            "",
            "Tx",
            "Contacts",
        ] {
            assert_eq!(
                HeaderName::from_name(name),
                HeaderName::from_name_scan(name.as_bytes()),
                "{name}"
            );
        }
    }

    #[test]
    fn folding_never_makes_two_token_names_equal() {
        // Bit 5 folding must be a bijection on token characters up to ASCII case.
        let tokens: Vec<u8> = (0u8..=255)
            .filter(|&c| crate::text::is_token_char(c))
            .collect();
        for &a in &tokens {
            for &b in &tokens {
                let same = a.eq_ignore_ascii_case(&b);
                assert_eq!(a | 0x20 == b | 0x20, same, "{} {}", a as char, b as char);
            }
        }
        assert_eq!(
            HeaderName::from_bytes(b"CONTENT-LENGTH"),
            HeaderName::ContentLength
        );
        assert_eq!(HeaderName::from_bytes(b"Content-Lengtx"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"Call\rID"), HeaderName::Other);
        // Every printable byte folding onto a byte of a known name is its case pair.
        for name in [
            "To",
            "Via",
            "Call-ID",
            "Max-Forwards",
            "Content-Length",
            "User-Agent",
        ] {
            for (i, &c) in name.as_bytes().iter().enumerate() {
                for x in 0x21u8..=0xff {
                    if x | 0x20 == c | 0x20 && !x.eq_ignore_ascii_case(&c) {
                        let mut other = name.as_bytes().to_vec();
                        other[i] = x;
                        assert_eq!(
                            HeaderName::from_bytes(&other),
                            HeaderName::from_name_scan(&other)
                        );
                    }
                }
            }
        }
        assert_eq!(
            HeaderName::from_bytes(b"Proxy-Authorization"),
            HeaderName::ProxyAuthorization
        );
    }

    #[test]
    fn single_valued() {
        assert!(HeaderName::CSeq.is_single_valued());
        assert!(HeaderName::CallId.is_single_valued());
        assert!(!HeaderName::Via.is_single_valued());
        assert!(!HeaderName::Other.is_single_valued());
    }
}
