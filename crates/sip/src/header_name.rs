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
        let Some(&first) = name.first() else {
            return HeaderName::Other;
        };
        let is = |canonical: &str| name.eq_ignore_ascii_case(canonical.as_bytes());
        let guess = match (name.len(), first.to_ascii_lowercase()) {
            (2, b't') if is("To") => HeaderName::To,
            (3, b'v') if is("Via") => HeaderName::Via,
            (4, b'f') if is("From") => HeaderName::From,
            (4, b'c') if is("CSeq") => HeaderName::CSeq,
            (5, b'r') if is("Route") => HeaderName::Route,
            (5, b'a') if is("Allow") => HeaderName::Allow,
            (7, b'c') if is("Call-ID") => HeaderName::CallId,
            (7, b'c') if is("Contact") => HeaderName::Contact,
            (7, b'e') if is("Expires") => HeaderName::Expires,
            (9, b's') if is("Supported") => HeaderName::Supported,
            (10, b'u') if is("User-Agent") => HeaderName::UserAgent,
            (12, b'm') if is("Max-Forwards") => HeaderName::MaxForwards,
            (12, b'c') if is("Content-Type") => HeaderName::ContentType,
            (12, b'r') if is("Record-Route") => HeaderName::RecordRoute,
            (14, b'c') if is("Content-Length") => HeaderName::ContentLength,
            _ => HeaderName::Other,
        };
        if guess == HeaderName::Other {
            HeaderName::from_name_scan(name)
        } else {
            guess
        }
    }
}

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
    fn single_valued() {
        assert!(HeaderName::CSeq.is_single_valued());
        assert!(HeaderName::CallId.is_single_valued());
        assert!(!HeaderName::Via.is_single_valued());
        assert!(!HeaderName::Other.is_single_valued());
    }
}
