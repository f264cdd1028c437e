//! Message-waiting indication at the proxy (RFC 3842 over RFC 6665): a SUBSCRIBE for the
//! `message-summary` event package to one of our subscribers goes to the media service,
//! which is the notifier of every mailbox (`media::service`).
//!
//! | SUBSCRIBE (`Event: message-summary`) | what the proxy does |
//! |---|---|
//! | to the caller's own address (or an alias of it), or to `voicemail@DOMAIN` / `*97@DOMAIN` ([`super::ServicesConfig::voicemail`]) | forwarded, record-routed, to the media service with the Request-URI `sip:voicemail@DOMAIN;mailbox=USER`, as a deposit call is |
//! | to any other address of our domains, or from a caller that is neither our authenticated subscriber nor a trusted peer | `403` |
//!
//! Other SUBSCRIBEs (other event packages, or no media service) are routed as any other
//! request. The caller is the From subscriber: authenticated by the route (`check_from`)
//! or sent by a trusted peer. The media service's NOTIFYs come back in the dialog through
//! our Record-Route (RFC 6665 §4.1.2.1 and §4.2.1: the SUBSCRIBE's 200 forms the dialog),
//! so a phone behind a NAT gets them along the flow it subscribed from.

use sip::sanity::Rejection;
use sip::{HeaderName, Message, Method};

use crate::engine::facts::Halt;
use crate::policy::cx::Cx;
use crate::proxy::Target;

use super::names::Named;

/// The event package of message-waiting indication (RFC 3842 §3).
pub const EVENT: &str = "message-summary";

/// Whether `request` is a SUBSCRIBE for [`EVENT`] (RFC 6665 §8.2.1: the event type is the
/// token before any parameter; compared without regard to case, as Kamailio does).
pub(crate) fn is_message_summary(request: &Message) -> bool {
    request.method() == Some(&Method::Subscribe)
        && request
            .header(HeaderName::Event)
            .and_then(|v| v.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(EVENT))
}

/// The route step for a message-summary SUBSCRIBE to `user@domain` of our domain: the
/// target at the media service, or a refusal. `ours` = the caller is our authenticated
/// subscriber or a trusted peer; `caller` = the From's (user, domain). `Ok(None)` when
/// the media service is off (the request is routed as before).
pub(crate) fn route(
    cx: &mut Cx<'_>,
    user: &str,
    domain: &str,
    ours: bool,
    caller: Option<(String, String)>,
) -> Result<Option<Target>, Halt> {
    let Some(media) = cx.config.services.media else {
        return Ok(None);
    };
    let refused = || Halt::Reject(Rejection::new(403, "Only your own mailbox"));
    if !ours {
        // Not resolved first: an outside caller learns nothing about which names exist.
        return Err(refused());
    }
    let Some((caller_user, caller_domain)) = caller else {
        return Err(refused());
    };
    let Some(owner) = cx.resolve(&caller_user, &caller_domain)? else {
        return Err(refused());
    };
    let own_mailbox = matches!(cx.config.services.named(user), Some(Named::OwnMailbox));
    if !own_mailbox {
        let mailbox = cx.resolve(user, domain)?;
        if mailbox.as_ref() != Some(&owner) {
            tracing::info!(caller = %owner, mailbox = %format_args!("{user}@{domain}"), "message-summary SUBSCRIBE for another mailbox refused");
            return Err(refused());
        }
    }
    Ok(Some(super::deposit_target(media, &owner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Message {
        Message::parse(bytes::Bytes::from(text.replace('\n', "\r\n"))).unwrap()
    }

    #[test]
    fn the_event_package_is_the_token_before_parameters() {
        let with = |event: &str| {
            parsed(&format!(
                "SUBSCRIBE sip:alice@example.com SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\n\
Max-Forwards: 70\nFrom: <sip:alice@example.com>;tag=1\nTo: <sip:alice@example.com>\nCall-ID: c\n\
CSeq: 1 SUBSCRIBE\n{event}Content-Length: 0\n\n"
            ))
        };
        assert!(is_message_summary(&with("Event: message-summary\n")));
        assert!(is_message_summary(&with("Event: Message-Summary;id=3\n")));
        assert!(is_message_summary(&with("o: message-summary\n")));
        assert!(!is_message_summary(&with("Event: presence\n")));
        assert!(!is_message_summary(&with("")));
    }
}
