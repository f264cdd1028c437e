//! PSTN routing with access control: `route[2]` of the KTH provider's `ser.cfg` (seed 000,
//! the SER configuration in its appendix), which sent numbers to the gateway only for
//! callers in the right group (local, long distance, international). A
//! Request-URI whose user part is a telephone number goes to the configured gateways, in
//! order, failing over when one does not answer or answers 5xx; an INVITE (the request
//! that costs money) is let through only if the caller belongs to the group its
//! destination class requires.
//!
//! The default classes are the seed's: a local number (`[1-9]…`) needs group `local`, a
//! domestic one (`0[1-9]…`) `ld`, an international one (`00[1-9]…`) `int`; a number of no
//! class is refused.

use regex::Regex;

/// One destination class: numbers matching `pattern` need membership of `group`.
#[derive(Debug, Clone)]
pub struct PstnClass {
    /// Which numbers (the user part, `+` kept), a regular expression.
    pub pattern: Regex,
    /// The group a caller must be in (`itsp group add USER GROUP`).
    pub group: String,
    /// The reason phrase of the 403 for callers outside it.
    pub refusal: String,
}

/// Settings of PSTN routing.
#[derive(Debug, Clone)]
pub struct PstnConfig {
    /// Which Request-URI users are telephone numbers (default 6–20 digits with an optional
    /// `+`, the seed's `^sip:[0-9]{6,20}@`).
    pub number: Regex,
    /// Gateway URIs, tried in order (`sip:192.0.2.10`, `sip:gw.example.com;transport=tcp`).
    /// Empty: no PSTN routing; numbers are looked up as users and aliases.
    pub gateways: Vec<String>,
    /// Destination classes, first match wins.
    pub classes: Vec<PstnClass>,
}

/// The default number pattern.
pub const DEFAULT_NUMBER: &str = r"^\+?[0-9]{6,20}$";

/// The seed's classes: (pattern, group, refusal).
pub const DEFAULT_CLASSES: [(&str, &str, &str); 3] = [
    (
        r"^00[1-9][0-9]*$",
        "int",
        "International permissions needed",
    ),
    (r"^0[1-9][0-9]*$", "ld", "No permission for domestic calls"),
    (r"^[1-9][0-9]*$", "local", "No permission for local calls"),
];

impl Default for PstnConfig {
    fn default() -> Self {
        PstnConfig {
            number: Regex::new(DEFAULT_NUMBER).unwrap_or_else(|_| unreachable!("a valid regex")),
            gateways: Vec::new(),
            classes: DEFAULT_CLASSES
                .iter()
                .filter_map(|(p, g, r)| {
                    Some(PstnClass {
                        pattern: Regex::new(p).ok()?,
                        group: (*g).into(),
                        refusal: (*r).into(),
                    })
                })
                .collect(),
        }
    }
}

impl PstnConfig {
    /// Whether `user` is a number for the gateways (and there are gateways).
    pub fn is_number(&self, user: &str) -> bool {
        !self.gateways.is_empty() && self.number.is_match(user)
    }

    /// The class of `number`: the group it needs and the refusal; `None`: no class, refused.
    pub fn class_of(&self, number: &str) -> Option<&PstnClass> {
        self.classes.iter().find(|c| c.pattern.is_match(number))
    }

    /// The Request-URI for `gateway` (`sip:host[:port][;params]`): the number at the
    /// gateway's host, its parameters kept (the seed's `rewritehostport`).
    pub fn request_uri(number: &str, gateway: &str) -> Option<String> {
        let rest = gateway.strip_prefix("sip:")?;
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        Some(format!("sip:{number}@{host}"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config() -> PstnConfig {
        PstnConfig {
            gateways: vec!["sip:192.0.2.10:5060".into()],
            ..PstnConfig::default()
        }
    }

    #[test]
    fn numbers_and_their_classes_as_in_the_seed() {
        let c = config();
        assert!(c.is_number("0046812345"));
        assert!(c.is_number("+4684567890"));
        assert!(!c.is_number("12345"), "5 digits is an internal extension");
        assert!(!c.is_number("alice"));
        assert_eq!(c.class_of("0046812345").unwrap().group, "int");
        assert_eq!(c.class_of("08123456").unwrap().group, "ld");
        assert_eq!(c.class_of("8123456").unwrap().group, "local");
        assert!(c.class_of("+4684567890").is_none(), "no class: refused");
        assert!(
            !PstnConfig::default().is_number("0046812345"),
            "no gateways: no PSTN"
        );
    }

    #[test]
    fn the_request_uri_names_the_gateway() {
        assert_eq!(
            PstnConfig::request_uri("0046812345", "sip:gw.example.com:5080;transport=tcp").unwrap(),
            "sip:0046812345@gw.example.com:5080;transport=tcp"
        );
        assert!(PstnConfig::request_uri("1", "tel:+1").is_none());
    }
}
