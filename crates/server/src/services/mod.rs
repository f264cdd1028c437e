//! Media services as addresses (DESIGN.md: "media services are reached like any user, so
//! the proxy stays a proxy"): the route step that sends calls for the service names of
//! every served domain to the media service user agent (`media::service`), with the
//! Request-URI that names the service there, and the targets the failure phase and the
//! announcements use. The proxy forwards, record-routes and accounts these calls as it
//! does any other.
//!
//! | dialled (at any served domain) | Request-URI at the media service |
//! |---|---|
//! | `echo`, `*43` ([`ServicesConfig::echo`]) | `sip:echo@DOMAIN` |
//! | `*97USER` ([`ServicesConfig::deposit_prefix`]; USER a subscriber or alias) | `sip:voicemail@DOMAIN;mailbox=USER` |
//! | `voicemail`, `*97` (the caller's own mailbox, [`ServicesConfig::voicemail`]; the caller a subscriber) | `sip:voicemail@DOMAIN;mailbox=USER;retrieve`: the voicemail menu, no PIN |
//! | `voicemail-login`, `*98` ([`ServicesConfig::voicemail_login`]; any of our callers) | `sip:voicemail@DOMAIN;login`: the voicemail menu after a mailbox number and its PIN |
//! | a failed call to a subscriber with voicemail on (`crate::voicemail`) | `sip:voicemail@DOMAIN;mailbox=USER` |
//! | a `message-summary` SUBSCRIBE to the caller's own address, `voicemail` or `*97` ([`mwi`]) | `sip:voicemail@DOMAIN;mailbox=USER` |
//! | `conference` ([`ServicesConfig::conference`]), `conf-ROOM` ([`ServicesConfig::conference_prefix`]) | `sip:conference@DOMAIN;room=ROOM` (`default` for `conference`): a conference room of the domain |
//! | a name bound to an IVR menu (`[[ivr]] numbers`, [`ServicesConfig::ivr`]) | `sip:ivr@DOMAIN;menu=NAME`: the menu's prompt and keys; its transfers (REFER) are new calls of the caller, routed here like any other |
//! | an unknown user or one with no phone, for our own callers whose INVITE has an SDP offer ([`ServicesConfig::announcements`]) | `sip:announce@DOMAIN;prompt=not-in-service;code=404` / `prompt=not-available;code=480` |
//!
//! Only our authenticated callers and trusted peers reach the services by name; callers
//! from outside get the answer of an absent user (but for an IVR menu bound with
//! `public = true`, an auto-attendant for everyone). A failed call goes to voicemail
//! whoever called. No new request reaches the media service any other way (`smuggled`:
//! a pre-loaded Route, a Request-URI, a contact or a forwarding target naming its address
//! is refused 403), since it trusts the Request-URIs written here.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | this one | the route step and the service targets |
//! | [`names`] | [`ServicesConfig`]: the service names and settings; which service a user part names |
//! | [`mwi`] | message-waiting indication: `message-summary` SUBSCRIBEs to the caller's own mailbox sent to the media service (RFC 3842, RFC 6665) |

use std::net::SocketAddr;

use sip::sanity::Rejection;
use transport::Protocol;

use crate::engine::facts::Halt;
use crate::policy::cx::Cx;
use crate::proxy::{Forward, Hop, Target};

pub mod mwi;
pub mod names;

use names::Named;
pub use names::{IvrBinding, ServicesConfig, DEFAULT_VOICEMAIL_AFTER};

/// The target at the media service for `request_uri`.
fn target(media: SocketAddr, request_uri: String) -> Target {
    let mut t = Target::new(
        Some(request_uri),
        vec![Hop {
            protocol: Protocol::Udp,
            addr: media,
        }],
    );
    t.service = true;
    t
}

/// Whether a new request would reach the media service other than by a service target:
/// a pre-loaded Route, a Request-URI, a registered contact or a forwarding target naming
/// its address. The media service trusts the Request-URI (whose mailbox, to deposit, to
/// listen, to subscribe), so only the route's service step may write it. With the
/// service on loopback, every loopback address with its port counts as its address (a
/// socket bound to every address answers on all of them).
pub(crate) fn smuggled(config: &ServicesConfig, forward: &Forward) -> bool {
    let Some(media) = config.media else {
        return false;
    };
    let is_media = |addr: SocketAddr| {
        addr == media
            || (addr.port() == media.port()
                && (media.ip().is_loopback() || media.ip().is_unspecified())
                && (addr.ip().is_loopback() || addr.ip().is_unspecified()))
    };
    forward
        .targets
        .iter()
        .filter(|t| !t.service)
        .flat_map(|t| &t.hops)
        .any(|hop| is_media(hop.addr))
}

/// A user part or parameter value escaped for a SIP URI (RFC 3261 §25.1: unreserved
/// characters and a few marks stay, the rest is `%HH`).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The deposit target for the mailbox of `mailbox` (a subscriber).
pub(crate) fn deposit_target(media: SocketAddr, mailbox: &store::Address) -> Target {
    target(
        media,
        format!(
            "sip:voicemail@{};mailbox={}",
            mailbox.domain,
            escape(&mailbox.user)
        ),
    )
}

/// The route step: a call for a service name of `domain`. `ours` = the caller is our
/// authenticated user or a trusted peer; `caller` = the From's (user, domain), whose
/// mailbox `voicemail`/`*97` opens when it is a subscriber. `Ok(None)` when `user` names
/// no service.
pub(crate) fn route(
    cx: &mut Cx<'_>,
    user: &str,
    domain: &str,
    ours: bool,
    caller: Option<(String, String)>,
) -> Result<Option<Vec<Target>>, Halt> {
    let config = &cx.config.services;
    let (Some(media), Some(named)) = (config.media, config.named(user)) else {
        return Ok(None);
    };
    if !ours && !matches!(named, Named::Ivr { public: true, .. }) {
        // Callers from outside: as an absent user (answered by the route's common rule).
        return Err(Rejection::new(404, "Not Found").into());
    }
    match named {
        Named::Echo => Ok(Some(vec![target(media, format!("sip:echo@{domain}"))])),
        Named::Login => Ok(Some(vec![target(
            media,
            format!("sip:voicemail@{domain};login"),
        )])),
        Named::Ivr { menu, .. } => Ok(Some(vec![target(
            media,
            format!("sip:ivr@{domain};menu={}", escape(&menu)),
        )])),
        Named::Conference(room) => Ok(Some(vec![target(
            media,
            format!("sip:conference@{domain};room={}", escape(&room)),
        )])),
        Named::OwnMailbox => {
            let owner = match caller {
                Some((user, domain)) => cx.resolve(&user, &domain)?,
                None => None,
            };
            let Some(owner) = owner else {
                return Err(Rejection::new(403, "Only a subscriber has a mailbox").into());
            };
            let mut t = deposit_target(media, &owner);
            if let Some(uri) = t.request_uri.as_mut() {
                uri.push_str(";retrieve");
            }
            Ok(Some(vec![t]))
        }
        Named::Deposit(owner) => {
            let Some(subscriber) = cx.resolve(&owner, domain)? else {
                return Err(Rejection::new(404, "No such mailbox").into());
            };
            Ok(Some(vec![deposit_target(media, &subscriber)]))
        }
    }
}

/// The announcement our callers hear instead of a refusal with `code` (404 unknown, 480
/// not reachable, 402 no credit for a prepaid call), when announcements are on.
pub(crate) fn announcement(config: &ServicesConfig, domain: &str, code: u16) -> Option<Target> {
    let media = config.media.filter(|_| config.announcements)?;
    let prompt = match code {
        404 => media_prompt::NOT_IN_SERVICE,
        480 => media_prompt::NOT_AVAILABLE,
        402 => media_prompt::INSUFFICIENT_CREDIT,
        _ => return None,
    };
    Some(target(
        media,
        format!("sip:announce@{domain};prompt={prompt};code={code}"),
    ))
}

/// Names of the media service's built-in prompts used here (`media::prompts::names`).
mod media_prompt {
    pub(super) const NOT_IN_SERVICE: &str = "not-in-service";
    pub(super) const NOT_AVAILABLE: &str = "not-available";
    pub(super) const INSUFFICIENT_CREDIT: &str = "insufficient-credit";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> ServicesConfig {
        ServicesConfig {
            media: Some("127.0.0.1:5090".parse().unwrap()),
            announcements: true,
            ..ServicesConfig::default()
        }
    }

    #[test]
    fn names_and_short_codes() {
        let c = on();
        assert_eq!(c.named("echo"), Some(Named::Echo));
        assert_eq!(c.named("ECHO"), Some(Named::Echo));
        assert_eq!(c.named("*43"), Some(Named::Echo));
        assert_eq!(c.named("*98"), Some(Named::Login));
        assert_eq!(c.named("*97"), Some(Named::OwnMailbox));
        assert_eq!(c.named("voicemail"), Some(Named::OwnMailbox));
        assert_eq!(c.named("voicemail-login"), Some(Named::Login));
        assert_eq!(c.named("Voicemail-Login"), Some(Named::Login));
        assert_eq!(c.named("*97bob"), Some(Named::Deposit("bob".into())));
        assert_eq!(c.named("*971234"), Some(Named::Deposit("1234".into())));
        assert_eq!(c.named("bob"), None);
        assert_eq!(c.named("*9"), None);
        let off = ServicesConfig::default();
        assert_eq!(off.named("echo"), None, "no media service: ordinary names");
        let renamed = ServicesConfig {
            echo: vec!["test".into()],
            deposit_prefix: String::new(),
            ..on()
        };
        assert_eq!(renamed.named("echo"), None);
        assert_eq!(renamed.named("test"), Some(Named::Echo));
        assert_eq!(renamed.named("*97bob"), None);
        assert_eq!(
            c.named("Conference"),
            Some(Named::Conference("default".into()))
        );
        assert_eq!(
            c.named("CONF-Sales"),
            Some(Named::Conference("sales".into()))
        );
        assert_eq!(c.named("conf-"), None);
        let bound = ServicesConfig {
            ivr: vec![IvrBinding {
                name: "4600".into(),
                menu: "main".into(),
                public: false,
            }],
            ..on()
        };
        assert_eq!(
            bound.named("4600"),
            Some(Named::Ivr {
                menu: "main".into(),
                public: false
            })
        );
        assert_eq!(bound.service_of("4600"), Some("ivr"));
        assert_eq!(bound.service_of("conf-x"), Some("conference"));
        assert_eq!(bound.service_of("*97x"), Some("voicemail"));
        assert_eq!(bound.service_of("alice"), None);
        assert_eq!(ServicesConfig::default().service_of("echo"), Some("echo"));
    }

    #[test]
    fn targets_name_the_service_at_the_media_ua() {
        let media: SocketAddr = "127.0.0.1:5090".parse().unwrap();
        let t = deposit_target(
            media,
            &store::Address {
                user: "bob smith".into(),
                domain: "example.com".into(),
            },
        );
        assert_eq!(
            t.request_uri.as_deref(),
            Some("sip:voicemail@example.com;mailbox=bob%20smith")
        );
        assert_eq!(t.hops[0].addr, media);
        let a = announcement(&on(), "example.com", 480).unwrap();
        assert_eq!(
            a.request_uri.as_deref(),
            Some("sip:announce@example.com;prompt=not-available;code=480")
        );
        assert!(announcement(&on(), "example.com", 403).is_none());
        let quiet = ServicesConfig {
            announcements: false,
            ..on()
        };
        assert!(announcement(&quiet, "example.com", 404).is_none());
    }
}
