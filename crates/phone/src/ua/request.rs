//! Requests this user agent sends, kept as a plan so that a 401/407 challenge (RFC 3261
//! §22.2, §22.3) or a 423 (§10.2.8) can send them again with a new CSeq and branch.

use bytes::Bytes;
use sip::auth::{self, Secret};
use sip::{HeaderName, Message, Method};

use super::event::CallId;

/// Why a client transaction was started: what its responses mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// REGISTER (`expires` asked for; 0 unregisters).
    Register { expires: u32 },
    /// The initial INVITE of an outgoing call.
    Invite(CallId),
    /// A re-INVITE within a call.
    Reinvite(CallId),
    /// BYE.
    Bye(CallId),
    /// CANCEL of our INVITE.
    Cancel(CallId),
    /// INFO within a call.
    Info(CallId),
    /// REFER within a call.
    Refer(CallId),
    /// NOTIFY reporting a transfer's progress.
    Notify(CallId),
    /// MESSAGE outside a dialog, with the number the caller got.
    Message(u64),
}

/// Where a request goes and which headers identify it.
#[derive(Debug, Clone)]
pub(crate) enum Addressing {
    /// Within the dialog of a call: the dialog builds Request-URI, Route, From, To, CSeq.
    Dialog(CallId),
    /// Outside any dialog.
    Free {
        /// Request-URI.
        uri: String,
        /// To value.
        to: String,
        /// From value with our tag.
        from: String,
        /// Call-ID.
        call_id: String,
        /// The CSeq number of the last request sent with this plan.
        cseq: u32,
    },
}

/// A request and how to send it again.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) method: Method,
    pub(crate) addressing: Addressing,
    pub(crate) purpose: Purpose,
    /// Headers beyond the ones every request has.
    pub(crate) headers: Vec<(HeaderName, String)>,
    /// Content-Type and body.
    pub(crate) body: Option<(String, Bytes)>,
    /// The challenge being answered: whether it came in a 407, and its header value.
    pub(crate) challenge: Option<(bool, String)>,
    /// Nonce count for the current challenge.
    pub(crate) nc: u32,
    /// How many challenges this plan has answered.
    pub(crate) auth_tries: u8,
}

impl Plan {
    pub(crate) fn new(method: Method, addressing: Addressing, purpose: Purpose) -> Plan {
        Plan {
            method,
            addressing,
            purpose,
            headers: Vec::new(),
            body: None,
            challenge: None,
            nc: 0,
            auth_tries: 0,
        }
    }

    pub(crate) fn header(mut self, name: HeaderName, value: impl Into<String>) -> Plan {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, content_type: &str, body: Option<Bytes>) -> Plan {
        self.body = body.map(|b| (content_type.to_owned(), b));
        self
    }

    /// Takes the challenge of a 401/407 answer to this plan (RFC 3261 §22.2). Returns
    /// `false` when the request should not be tried again: no usable challenge, too many
    /// tries, or the same nonce refused again without `stale=true` (the password is wrong).
    pub(crate) fn take_challenge(&mut self, response: &Message) -> bool {
        let proxy = response.status() == Some(407);
        let values: Vec<&str> = if proxy {
            response.proxy_authenticate().collect()
        } else {
            response.www_authenticate().collect()
        };
        // Each digest challenge with the header value it came in.
        let parsed: Vec<_> = values
            .iter()
            .filter_map(|v| Some((*v, auth::parse_challenge(v).ok()?.into_digest().ok()?)))
            .collect();
        let Some(best) = auth::best_challenge(parsed.iter().map(|(_, c)| c)) else {
            return false;
        };
        if self.auth_tries >= 3 {
            return false;
        }
        if let Some((was_proxy, _)) = &self.challenge {
            // Challenged again for the same kind after answering: unless the nonce was only
            // stale (§22.4, RFC 7616 §3.3), the credentials were refused.
            if *was_proxy == proxy && !best.stale {
                return false;
            }
        }
        let Some((value, _)) = parsed.iter().find(|(_, c)| std::ptr::eq(c, best)) else {
            return false;
        };
        self.challenge = Some((proxy, (*value).to_owned()));
        self.nc = 0;
        self.auth_tries += 1;
        true
    }

    /// The Authorization / Proxy-Authorization header answering the current challenge for
    /// `request` (built without it).
    pub(crate) fn credentials(
        &mut self,
        request: &Message,
        username: &str,
        password: &str,
        cnonce: &str,
    ) -> Option<(HeaderName, String)> {
        let (proxy, value) = self.challenge.as_ref()?;
        let challenge = auth::parse_challenge(value).ok()?.into_digest().ok()?;
        self.nc += 1;
        let answer = auth::respond(
            &challenge,
            &auth::ClientRequest {
                method: self.method.as_str(),
                uri: request.request_uri_str()?,
                username,
                secret: Secret::Password(password),
                cnonce,
                nc: self.nc,
                body: request.body(),
            },
        )
        .ok()?;
        let name = if *proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        Some((name, answer))
    }
}
