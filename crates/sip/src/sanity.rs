//! Request sanity checks: the status code a SIP element answers a request with before any
//! routing logic runs, like Kamailio's `sanity` module and the checks of RFC 3261 §8.2
//! (UAS), §10.3 (registrar) and §16.3 (proxy).
//!
//! [`check_request`] returns `Ok(())` when the request may be processed, or a [`Rejection`]
//! carrying the status code, a reason phrase saying what is wrong, and the extra header a
//! response of that code needs (`Unsupported` for 420, `Accept` for 415/406).

use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::message::Message;
use crate::method::Method;
use crate::uri::{is_sip_scheme, scheme_of};

/// Which kind of element is answering; some checks depend on it (RFC 4475 §3.3 lists
/// different answers for a proxy, a registrar and a UAS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A proxy forwarding the request (§16.3).
    Proxy,
    /// A registrar handling REGISTER (§10.3).
    Registrar,
    /// A user agent server consuming the request (§8.2).
    Uas,
}

/// What the element supports.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// The role answering.
    pub role: Role,
    /// URI schemes served in the Request-URI (§8.2.2.1 → 416 otherwise).
    pub schemes: &'a [&'a str],
    /// Option tags understood (§8.2.2.3 Require, §16.3 step 5 Proxy-Require → 420).
    pub extensions: &'a [&'a str],
    /// Body types a UAS accepts, as `type/subtype` (§8.2.3 → 415 otherwise).
    pub body_types: &'a [&'a str],
}

impl Policy<'static> {
    /// Defaults for a proxy: `sip`, `sips`, `tel`; extensions `path`, `outbound`, `gruu`.
    pub const PROXY: Policy<'static> = Policy {
        role: Role::Proxy,
        schemes: &["sip", "sips", "tel"],
        extensions: &["path", "outbound", "gruu"],
        body_types: &[],
    };
    /// Defaults for a registrar.
    pub const REGISTRAR: Policy<'static> = Policy {
        role: Role::Registrar,
        ..Policy::PROXY
    };
    /// Defaults for a UAS that takes SDP bodies.
    pub const UAS: Policy<'static> = Policy {
        role: Role::Uas,
        schemes: &["sip", "sips", "tel"],
        extensions: &["100rel", "timer", "replaces"],
        body_types: &["application/sdp"],
    };
}

/// Why a request is refused, as the response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Status code (400, 415, 416, 420, 483, 505, ...).
    pub code: u16,
    /// Reason phrase saying what is wrong.
    pub reason: String,
    /// An extra header the response must carry: `(Unsupported, tags)` for 420 (§20.40),
    /// `(Accept, types)` for 415 (§21.4.13) and 406.
    pub header: Option<(HeaderName, String)>,
}

impl Rejection {
    /// A rejection with this code and reason phrase and no extra header.
    pub fn new(code: u16, reason: impl Into<String>) -> Rejection {
        Rejection {
            code,
            reason: reason.into(),
            header: None,
        }
    }
}

impl From<ParseError> for Rejection {
    fn from(e: ParseError) -> Rejection {
        Rejection::new(e.status_code(), e.to_string())
    }
}

/// Checks a parsed request the way an element of `policy.role` does before processing it.
///
/// In order: header syntax ([`Message::validate`], 400/505), mandatory headers (§8.1.1,
/// 400), single-valued headers repeated (§7.3, 400), Request-URI scheme (§8.2.2.1, 416),
/// Max-Forwards zero at a proxy (§16.3 step 3, 483), unknown extensions (§8.2.2.3 and
/// §16.3 step 5, 420), then role-specific checks: registrar URIs and `Contact: *` (§10.3),
/// UAS body type and Accept (§8.2.3, §21.4.7).
pub fn check_request(msg: &Message, policy: &Policy<'_>) -> Result<(), Rejection> {
    let Some(method) = msg.method() else {
        return Err(Rejection::new(400, "not a request"));
    };
    msg.validate()?;
    // §8.1.1: To, From, CSeq, Call-ID and Via are mandatory. Max-Forwards is too, but
    // RFC 2543 clients omit it and RFC 4475 §3.4.1 expects such requests to be processed.
    for name in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        if msg.header(name).is_none() {
            return Err(Rejection::new(400, format!("Missing {name} header")));
        }
    }
    if let Some(dup) = msg.duplicate_single_header() {
        return Err(Rejection::new(400, format!("More than one {dup} header")));
    }
    // The parser checked the Request-URI; its scheme is all that matters here.
    if let Some(scheme) = msg.request_uri_str().and_then(scheme_of) {
        if !policy
            .schemes
            .iter()
            .any(|s| s.eq_ignore_ascii_case(scheme))
        {
            return Err(Rejection::new(416, "Unsupported URI Scheme"));
        }
    }
    if policy.role == Role::Proxy && msg.max_forwards()? == Some(0) {
        return Err(Rejection::new(483, "Too Many Hops"));
    }
    let unknown = |name: HeaderName| -> Result<Vec<&str>, ParseError> {
        let mut tags = Vec::new();
        for tag in msg.token_list(name) {
            let tag = tag?;
            if !policy
                .extensions
                .iter()
                .any(|e| e.eq_ignore_ascii_case(tag))
            {
                tags.push(tag);
            }
        }
        Ok(tags)
    };
    // A proxy looks at Proxy-Require (§16.3 step 5), a UAS or registrar at Require
    // (§8.2.2.3); RFC 4475 §3.3.5 lists the tags of the header of the element's role.
    let unsupported = if policy.role == Role::Proxy {
        unknown(HeaderName::ProxyRequire)?
    } else {
        unknown(HeaderName::Require)?
    };
    // §8.2.2.3: ACK and CANCEL with Require are not refused; a 420 would be pointless.
    if !unsupported.is_empty() && !matches!(method, Method::Ack | Method::Cancel) {
        return Err(Rejection {
            code: 420,
            reason: "Bad Extension".into(),
            header: Some((HeaderName::Unsupported, unsupported.join(", "))),
        });
    }
    match policy.role {
        Role::Registrar if *method == Method::Register => check_register(msg),
        Role::Uas => check_uas_body(msg, policy),
        _ => Ok(()),
    }
}

/// §10.3 steps 1–6: address-of-record and contacts must be SIP URIs; `*` only alone and
/// with `Expires: 0`.
///
/// Runs after [`Message::validate`], which parsed the To and every Contact URI: the schemes
/// are all that is left to look at.
fn check_register(msg: &Message) -> Result<(), Rejection> {
    let to = msg.to()?;
    if !scheme_of(to.uri).is_some_and(is_sip_scheme) {
        return Err(Rejection::new(400, "To is not a SIP address-of-record"));
    }
    let mut star = false;
    let mut count = 0;
    for contact in msg.contacts() {
        let contact = contact?;
        count += 1;
        match contact.addr() {
            None => star = true,
            Some(addr) => match scheme_of(addr.uri) {
                Some(s) if is_sip_scheme(s) || s.eq_ignore_ascii_case("tel") => {}
                _ => return Err(Rejection::new(400, "Contact URI scheme not supported")),
            },
        }
    }
    if star && (count > 1 || msg.expires()? != Some(0)) {
        return Err(Rejection::new(
            400,
            "Contact * needs Expires: 0 and no other contact",
        ));
    }
    Ok(())
}

/// §8.2.3 and §21.4.7: the body type must be understood (415 with Accept), and the Accept
/// header must allow a type the UAS can answer with (406).
fn check_uas_body(msg: &Message, policy: &Policy<'_>) -> Result<(), Rejection> {
    let accept_list = || policy.body_types.join(", ");
    let known = |kind: &str, sub: &str| {
        policy.body_types.iter().any(|t| {
            t.split_once('/').is_some_and(|(k, s)| {
                (k.eq_ignore_ascii_case(kind) || kind == "*")
                    && (s.eq_ignore_ascii_case(sub) || sub == "*")
            })
        })
    };
    if !msg.body().is_empty() {
        if let Some(ct) = msg.content_type()? {
            if !known(ct.kind, ct.subtype) {
                return Err(Rejection {
                    code: 415,
                    reason: "Unsupported Media Type".into(),
                    header: Some((HeaderName::Accept, accept_list())),
                });
            }
        }
    }
    let mut accepts = msg
        .list_values(HeaderName::Accept)
        .filter_map(Result::ok)
        .filter(|a| !a.is_empty())
        .peekable();
    if accepts.peek().is_some() {
        let acceptable = accepts.any(|a| {
            let ty = a.split(';').next().unwrap_or("").trim();
            ty.split_once('/')
                .is_some_and(|(k, s)| known(k.trim(), s.trim()))
        });
        if !acceptable && *msg.method().unwrap_or(&Method::Ack) == Method::Invite {
            return Err(Rejection {
                code: 406,
                reason: "Not Acceptable".into(),
                header: Some((HeaderName::Accept, accept_list())),
            });
        }
    }
    Ok(())
}
