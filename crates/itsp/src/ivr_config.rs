//! `[[ivr]]`: the IVR / auto-attendant menus of the media services
//! (`media::service::ivr`), each bound to user parts of every served domain
//! (`server::services`). Checked when the file is read: keys, actions, sub-menus, the
//! settings, and names bound twice (to two menus, or to a menu and another service); the
//! prompts when the media services start (`media_service.rs`), since a prompt may be a file
//! of the prompts directory.
//!
//! ```toml
//! [[ivr]]
//! name = "main"
//! numbers = ["ivr", "4600"]
//! prompt = "ivr-main"
//! timeout = 5
//! tries = 3
//! [ivr.keys]
//! "1" = "user:alice"
//! "2" = "menu:sales"
//! "9" = "repeat"
//! "0" = "hangup"
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use media::service::ivr::{menus, Action, Menu, Menus, Targets};
use serde::Deserialize;
use server::services::IvrBinding;

use crate::config::MediaSection;

/// One `[[ivr]]` menu as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IvrSection {
    /// The menu's name (for `menu:NAME` and the logs).
    pub(crate) name: String,
    /// User parts that reach the menu in every served domain; none: a sub-menu only.
    #[serde(default)]
    pub(crate) numbers: Vec<String>,
    /// The prompt played: a built-in prompt or a WAV of `[media] prompts` (without `.wav`).
    pub(crate) prompt: String,
    /// Seconds a key is waited for after the prompt.
    #[serde(default = "default_timeout")]
    pub(crate) timeout: u64,
    /// Rounds without a valid key before goodbye.
    #[serde(default = "default_tries")]
    pub(crate) tries: u32,
    /// Callers from outside (not our subscribers, not trusted peers) reach the numbers too.
    #[serde(default)]
    pub(crate) public: bool,
    /// Key (`"0"`-`"9"`, `"*"`, `"#"`) → action.
    #[serde(default)]
    pub(crate) keys: BTreeMap<String, String>,
}

fn default_timeout() -> u64 {
    menus::DEFAULT_TIMEOUT.as_secs()
}

fn default_tries() -> u32 {
    menus::DEFAULT_TRIES
}

/// The checked menus for the media service; the error names the menu and the key.
pub(crate) fn menus(sections: &[IvrSection], media: &MediaSection) -> Result<Menus, String> {
    let mut list = Vec::with_capacity(sections.len());
    for s in sections {
        let mut keys = BTreeMap::new();
        for (key, action) in &s.keys {
            let key = menus::parse_key(&s.name, key).map_err(|e| e.to_string())?;
            let action: Action = action
                .parse()
                .map_err(|e| format!("ivr {:?}: key {key:?}: {e}", s.name))?;
            keys.insert(key, action);
        }
        list.push(Menu {
            name: s.name.clone(),
            prompt: s.prompt.clone(),
            timeout: Duration::from_secs(s.timeout),
            tries: s.tries,
            keys,
        });
    }
    let targets = Targets {
        deposit_prefix: media.deposit_prefix.clone(),
        conference_prefix: media.conference_prefix.clone(),
    };
    Menus::new(list, targets).map_err(|e| e.to_string())
}

/// The names bound to the menus, for the proxy; `services` has the other services' names,
/// which a menu may not take.
pub(crate) fn bindings(
    sections: &[IvrSection],
    services: &server::ServicesConfig,
) -> Result<Vec<IvrBinding>, String> {
    let mut bound: Vec<IvrBinding> = Vec::new();
    for s in sections {
        for number in &s.numbers {
            if number.is_empty() || number.contains(['@', ' ', ';', ':', '<', '>']) {
                return Err(format!(
                    "ivr {:?}: numbers: {number:?} is not a user part",
                    s.name
                ));
            }
            if let Some(other) = bound.iter().find(|b| b.name.eq_ignore_ascii_case(number)) {
                return Err(format!(
                    "ivr {:?}: numbers: {number:?} is already bound to menu {:?}",
                    s.name, other.menu
                ));
            }
            if let Some(service) = services.service_of(number) {
                return Err(format!(
                    "ivr {:?}: numbers: {number:?} already reaches the {service} service ([media] names and prefixes)",
                    s.name
                ));
            }
            bound.push(IvrBinding {
                name: number.clone(),
                menu: s.name.clone(),
                public: s.public,
            });
        }
    }
    Ok(bound)
}

/// Logs a warning for each bound name that is also a subscriber or an alias of a served
/// domain (`domains` and the store's): the menu takes its calls, the subscriber is not
/// reached by that name.
pub(crate) async fn warn_shadowed(bound: &[IvrBinding], domains: &[String], store: &store::Store) {
    if bound.is_empty() {
        return;
    }
    let mut all: Vec<String> = domains.to_vec();
    match store.list_domains().await {
        Ok(stored) => all.extend(stored),
        Err(e) => tracing::debug!(error = %e, "domains not read for the IVR check"),
    }
    all.sort();
    all.dedup();
    for b in bound {
        for domain in &all {
            if let Ok(Some(owner)) = store.resolve(&b.name, domain).await {
                tracing::warn!(
                    number = %b.name,
                    %domain,
                    menu = %b.menu,
                    subscriber = %format!("{}@{}", owner.user, owner.domain),
                    "an [[ivr]] number is also a subscriber's name or alias: the menu takes its calls"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::Config;

    const GOOD: &str = r##"
[media]
deposit_prefix = "*97"

[[ivr]]
name = "main"
numbers = ["ivr", "4600"]
prompt = "ivr-main"
timeout = 4
tries = 2
public = true
[ivr.keys]
"1" = "user:alice"
"2" = "number:+46812345678"
"3" = "menu:sales"
"4" = "voicemail:bob"
"5" = "conference:team"
"9" = "repeat"
"0" = "hangup"

[[ivr]]
name = "sales"
prompt = "ivr-main"
[ivr.keys]
"*" = "menu:main"
"#" = "hangup"
"##;

    fn error(text: &str) -> String {
        Config::parse(text).unwrap_err()
    }

    #[test]
    fn a_good_config_gives_menus_and_bindings() {
        let c = Config::parse(GOOD).unwrap();
        let m = menus(&c.ivr, &c.media).unwrap();
        let main = m.get("main").unwrap();
        assert_eq!(main.timeout, Duration::from_secs(4));
        assert_eq!(main.tries, 2);
        assert_eq!(main.keys[&'2'], Action::Number("+46812345678".into()));
        assert_eq!(main.keys[&'3'], Action::Menu("sales".into()));
        let sales = m.get("sales").unwrap();
        assert_eq!(sales.timeout, menus::DEFAULT_TIMEOUT);
        assert_eq!(sales.tries, menus::DEFAULT_TRIES);
        assert_eq!(sales.keys[&'#'], Action::Hangup);
        assert_eq!(
            m.refer_target(&main.keys[&'4'], "example.com").as_deref(),
            Some("sip:*97bob@example.com")
        );
        assert_eq!(
            m.refer_target(&main.keys[&'5'], "example.com").as_deref(),
            Some("sip:conf-team@example.com")
        );
        let server = server::ServerConfig::try_from(&c).unwrap();
        assert_eq!(
            server.services.ivr,
            [
                IvrBinding {
                    name: "ivr".into(),
                    menu: "main".into(),
                    public: true
                },
                IvrBinding {
                    name: "4600".into(),
                    menu: "main".into(),
                    public: true
                }
            ]
        );
        // No menus: nothing bound.
        let none = Config::parse("").unwrap();
        assert!(menus(&none.ivr, &none.media).unwrap().is_empty());
    }

    #[test]
    fn each_mistake_is_named() {
        let with = |from: &str, to: &str| {
            assert!(GOOD.contains(from), "{from}");
            error(&GOOD.replacen(from, to, 1))
        };
        assert_eq!(
            with("\"3\" = \"menu:sales\"", "\"3\" = \"menu:support\""),
            "ivr \"main\": key '3': no menu named \"support\""
        );
        assert_eq!(
            with("\"9\" = \"repeat\"", "\"x\" = \"repeat\""),
            "ivr \"main\": key \"x\" is not a key: use one of 0-9, * and #"
        );
        assert_eq!(
            with("\"9\" = \"repeat\"", "\"10\" = \"repeat\""),
            "ivr \"main\": key \"10\" is not a key: use one of 0-9, * and #"
        );
        let e = with("\"9\" = \"repeat\"", "\"9\" = \"dial:bob\"");
        assert!(
            e.starts_with("ivr \"main\": key '9': \"dial:bob\" is not an action: write user:NAME"),
            "{e}"
        );
        let e = with(
            "\"2\" = \"number:+46812345678\"",
            "\"2\" = \"number:call-me\"",
        );
        assert!(e.contains("is not a number"), "{e}");
        assert_eq!(
            with("name = \"sales\"", "name = \"main\""),
            "ivr \"main\": a menu of that name is already defined"
        );
        assert_eq!(
            with("timeout = 4", "timeout = 0"),
            "ivr \"main\": timeout must be 1 to 60 seconds"
        );
        assert_eq!(
            with("tries = 2", "tries = 11"),
            "ivr \"main\": tries must be 1 to 10"
        );
        assert_eq!(
            with("[media]\ndeposit_prefix = \"*97\"", "[media]\ndeposit_prefix = \"\""),
            "ivr \"main\": key '4': voicemail needs [media] deposit_prefix (the proxy's name for a deposit)"
        );
        // Names bound twice.
        assert_eq!(
            with("name = \"sales\"", "name = \"sales\"\nnumbers = [\"IVR\"]"),
            "ivr \"sales\": numbers: \"IVR\" is already bound to menu \"main\""
        );
        assert_eq!(
            with("[\"ivr\", \"4600\"]", "[\"ivr\", \"echo\"]"),
            "ivr \"main\": numbers: \"echo\" already reaches the echo service ([media] names and prefixes)"
        );
        assert_eq!(
            with("[\"ivr\", \"4600\"]", "[\"ivr\", \"conf-lobby\"]"),
            "ivr \"main\": numbers: \"conf-lobby\" already reaches the conference service ([media] names and prefixes)"
        );
        assert_eq!(
            with("[\"ivr\", \"4600\"]", "[\"ivr\", \"a@b\"]"),
            "ivr \"main\": numbers: \"a@b\" is not a user part"
        );
        // An unknown key of a menu: the file's line.
        let e = with("tries = 2", "tries = 2\nretries = 2");
        assert!(e.contains("unknown field `retries`"), "{e}");
        assert!(e.contains("line"), "{e}");
    }
}
