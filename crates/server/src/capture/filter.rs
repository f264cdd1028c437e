//! [`Filter`]: which captured messages a trace asks for. Every condition given must hold;
//! no condition: every message (malformed ones too, which match no condition).

use serde::{Deserialize, Serialize};
use sip::{Message, Uri};

/// The conditions of `itsp trace --call-id ID --user U --method M`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    /// The Call-ID, exactly (RFC 3261 §20.8: compared byte for byte).
    pub call_id: Option<String>,
    /// A user named in the From, the To or the Request-URI: `alice` (the user part, any
    /// domain) or `alice@example.com` (the domain compared without regard to case).
    pub user: Option<String>,
    /// The method of the CSeq (RFC 3261 §20.16): `INVITE` selects the INVITE and its
    /// responses; compared without regard to case.
    pub method: Option<String>,
}

impl Filter {
    /// Whether the filter has no condition.
    pub fn is_empty(&self) -> bool {
        self.call_id.is_none() && self.user.is_none() && self.method.is_none()
    }

    /// Whether the message (as captured, byte for byte) passes.
    pub fn matches(&self, bytes: &bytes::Bytes) -> bool {
        if self.is_empty() {
            return true;
        }
        match Message::parse(bytes.clone()) {
            Ok(message) => self.matches_message(&message),
            Err(_) => false,
        }
    }

    /// Whether a parsed message passes.
    pub fn matches_message(&self, message: &Message) -> bool {
        if let Some(call_id) = &self.call_id {
            if message.call_id().ok() != Some(call_id.as_str()) {
                return false;
            }
        }
        if let Some(method) = &self.method {
            let cseq_method = message.cseq().ok().map(|c| c.method);
            if !cseq_method.is_some_and(|m| m.eq_ignore_ascii_case(method)) {
                return false;
            }
        }
        if let Some(user) = &self.user {
            let from = message.from().ok().map(|a| a.uri);
            let to = message.to().ok().map(|a| a.uri);
            let uris = [from, to, message.request_uri_str()];
            if !uris.into_iter().flatten().any(|uri| names_user(uri, user)) {
                return false;
            }
        }
        true
    }
}

/// Whether `uri` (a SIP URI's text) names `user`: `alice` or `alice@example.com`.
fn names_user(uri: &str, user: &str) -> bool {
    let Ok(Uri::Sip(sip)) = Uri::parse(uri) else {
        return false;
    };
    let (wanted_user, wanted_domain) = match user.split_once('@') {
        Some((u, d)) => (u, Some(d)),
        None => (user, None),
    };
    if sip.user != Some(wanted_user) {
        return false;
    }
    wanted_domain.is_none_or(|d| sip.host.to_string().eq_ignore_ascii_case(d))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\n\
Call-ID: call-1@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    const RINGING: &str = "SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>;tag=b\r\n\
Call-ID: call-1@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    fn filter(call_id: Option<&str>, user: Option<&str>, method: Option<&str>) -> Filter {
        Filter {
            call_id: call_id.map(str::to_owned),
            user: user.map(str::to_owned),
            method: method.map(str::to_owned),
        }
    }

    fn passes(f: &Filter, text: &str) -> bool {
        f.matches(&bytes::Bytes::copy_from_slice(text.as_bytes()))
    }

    #[test]
    fn each_condition_and_their_combination() {
        let any = Filter::default();
        assert!(passes(&any, INVITE) && passes(&any, "garbage"));
        let by_call = filter(Some("call-1@test"), None, None);
        assert!(passes(&by_call, INVITE) && passes(&by_call, RINGING));
        assert!(!passes(&filter(Some("call-1"), None, None), INVITE));
        assert!(
            !passes(&by_call, "garbage"),
            "malformed messages match no condition"
        );
        let invite = filter(None, None, Some("invite"));
        assert!(
            passes(&invite, INVITE) && passes(&invite, RINGING),
            "responses by CSeq"
        );
        assert!(!passes(&filter(None, None, Some("BYE")), INVITE));
        for user in ["alice", "bob", "alice@EXAMPLE.com"] {
            assert!(passes(&filter(None, Some(user), None), RINGING), "{user}");
        }
        for user in ["carol", "alice@example.org", "Alice"] {
            assert!(!passes(&filter(None, Some(user), None), INVITE), "{user}");
        }
        assert!(passes(
            &filter(Some("call-1@test"), Some("bob"), Some("INVITE")),
            INVITE
        ));
        assert!(!passes(
            &filter(Some("call-1@test"), Some("carol"), Some("INVITE")),
            INVITE
        ));
    }

    #[test]
    fn the_request_uri_names_a_user_too() {
        let text = INVITE.replace("To: <sip:bob@example.com>", "To: <sip:+4612@example.com>");
        assert!(passes(&filter(None, Some("bob"), None), &text));
    }
}
