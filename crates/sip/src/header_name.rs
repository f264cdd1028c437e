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
    /// Fast path: a name of up to 16 bytes is folded to lower case into one `u128` and
    /// matched against the keys of the headers nearly every message carries; anything else
    /// goes through the full scan.
    pub(crate) fn from_token(name: &[u8]) -> HeaderName {
        if let Some(key) = fold_key(name) {
            let known = match key {
                K_TO => HeaderName::To,
                K_VIA => HeaderName::Via,
                K_FROM => HeaderName::From,
                K_CSEQ => HeaderName::CSeq,
                K_ROUTE => HeaderName::Route,
                K_ALLOW => HeaderName::Allow,
                K_CALL_ID => HeaderName::CallId,
                K_CONTACT => HeaderName::Contact,
                K_EXPIRES => HeaderName::Expires,
                K_SUPPORTED => HeaderName::Supported,
                K_USER_AGENT => HeaderName::UserAgent,
                K_MAX_FORWARDS => HeaderName::MaxForwards,
                K_CONTENT_TYPE => HeaderName::ContentType,
                K_RECORD_ROUTE => HeaderName::RecordRoute,
                K_CONTENT_LENGTH => HeaderName::ContentLength,
                _ => HeaderName::Other,
            };
            if known != HeaderName::Other {
                return known;
            }
        }
        HeaderName::from_name_scan(name)
    }
}

/// Folds a token of 1 to 16 bytes into a `u128` with bit 5 of every byte set: among token
/// characters (RFC 3261 §25.1) that maps exactly the two cases of a letter onto each other
/// (the tests check it), so equal keys mean names equal ignoring case. Unused high bytes
/// stay zero, so names of different lengths never collide.
const fn fold_key(name: &[u8]) -> Option<u128> {
    let len = name.len();
    if len == 0 || len > 16 {
        return None;
    }
    let mut buf = [0u8; 16];
    let mut i = 0;
    while i < len {
        buf[i] = name[i];
        i += 1;
    }
    let mask = u128::MAX >> (8 * (16 - len)) & 0x2020_2020_2020_2020_2020_2020_2020_2020;
    Some(u128::from_le_bytes(buf) | mask)
}

/// The key of a canonical name, for the match in [`HeaderName::from_token`].
const fn key(name: &str) -> u128 {
    match fold_key(name.as_bytes()) {
        Some(k) => k,
        None => 0,
    }
}

const K_TO: u128 = key("To");
const K_VIA: u128 = key("Via");
const K_FROM: u128 = key("From");
const K_CSEQ: u128 = key("CSeq");
const K_ROUTE: u128 = key("Route");
const K_ALLOW: u128 = key("Allow");
const K_CALL_ID: u128 = key("Call-ID");
const K_CONTACT: u128 = key("Contact");
const K_EXPIRES: u128 = key("Expires");
const K_SUPPORTED: u128 = key("Supported");
const K_USER_AGENT: u128 = key("User-Agent");
const K_MAX_FORWARDS: u128 = key("Max-Forwards");
const K_CONTENT_TYPE: u128 = key("Content-Type");
const K_RECORD_ROUTE: u128 = key("Record-Route");
const K_CONTENT_LENGTH: u128 = key("Content-Length");

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
