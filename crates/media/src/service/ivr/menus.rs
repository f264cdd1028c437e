//! The IVR's menus as configured (`[[ivr]]` in `itsp serve`'s config file), checked once at
//! start: every key is one of `0-9`, `*`, `#`; every action is one of [`Action`]; every
//! sub-menu exists; every prompt is in the prompt set ([`Menus::check_prompts`]). A call
//! never meets a bad menu.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::prompts::Prompts;

/// The longest wait for a key after a menu's prompt.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// The most rounds (no key or a wrong key) before goodbye.
pub const MAX_TRIES: u32 = 10;
/// The default wait for a key after the prompt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default rounds before goodbye.
pub const DEFAULT_TRIES: u32 = 3;

/// What is wrong with the IVR's configuration; each names the menu (and the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IvrError {
    /// Two menus of the same name.
    #[error("ivr {0:?}: a menu of that name is already defined")]
    DuplicateMenu(String),
    /// A menu name that is empty or has characters beyond letters, digits, `-`, `_`, `.`.
    #[error("ivr {0:?}: a menu name is letters, digits, '-', '_' or '.'")]
    BadName(String),
    /// A key that is not one DTMF digit.
    #[error("ivr {menu:?}: key {key:?} is not a key: use one of 0-9, * and #")]
    BadKey {
        /// The menu.
        menu: String,
        /// The key as written.
        key: String,
    },
    /// An action that is not one of [`Action`]'s forms.
    #[error("ivr {menu:?}: key {key:?}: {message}")]
    BadAction {
        /// The menu.
        menu: String,
        /// The key.
        key: char,
        /// Why.
        message: String,
    },
    /// `menu:NAME` names no menu.
    #[error("ivr {menu:?}: key {key:?}: no menu named {target:?}")]
    UnknownMenu {
        /// The menu.
        menu: String,
        /// The key.
        key: char,
        /// The missing sub-menu.
        target: String,
    },
    /// `timeout` or `tries` out of range.
    #[error("ivr {menu:?}: {message}")]
    Setting {
        /// The menu.
        menu: String,
        /// What is out of range.
        message: String,
    },
    /// The menu's prompt is not in the prompt set.
    #[error("ivr {menu:?}: prompt {prompt:?} is neither a built-in prompt nor a WAV file of the prompts directory ([media] prompts)")]
    MissingPrompt {
        /// The menu.
        menu: String,
        /// The prompt's name.
        prompt: String,
    },
}

/// What a key of a menu does (`"user:alice"`, `"menu:sales"`, `"repeat"`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `user:NAME`: transfer the caller to `NAME@DOMAIN` (a subscriber or an alias).
    User(String),
    /// `number:+46812345678`: transfer the caller to a number (routed and billed as the
    /// caller's own call).
    Number(String),
    /// `menu:NAME`: the sub-menu `NAME`.
    Menu(String),
    /// `voicemail:NAME`: transfer the caller to the deposit into `NAME`'s mailbox
    /// (`DEPOSIT_PREFIX NAME@DOMAIN`, `*97bob`).
    Voicemail(String),
    /// `conference:ROOM`: transfer the caller into a conference room (`conf-ROOM@DOMAIN`).
    Conference(String),
    /// `repeat`: the menu's prompt again.
    Repeat,
    /// `hangup`: goodbye, and the call ends.
    Hangup,
}

impl Action {
    /// Whether the action transfers the caller (REFER).
    pub fn is_transfer(&self) -> bool {
        matches!(
            self,
            Action::User(_) | Action::Number(_) | Action::Voicemail(_) | Action::Conference(_)
        )
    }
}

/// A user part's characters that need no escaping (RFC 3261 §25.1 `unreserved` and `+`).
fn plain_user(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()+".contains(&b))
}

/// A menu name's characters.
fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Action, String> {
        let s = s.trim();
        match s {
            "repeat" => return Ok(Action::Repeat),
            "hangup" => return Ok(Action::Hangup),
            _ => {}
        }
        let forms = "write user:NAME, number:DIGITS, menu:NAME, voicemail:NAME, conference:ROOM, repeat or hangup";
        let Some((kind, arg)) = s.split_once(':') else {
            return Err(format!("{s:?} is not an action: {forms}"));
        };
        let arg = arg.trim();
        let bad = |what: &str| format!("{s:?}: {arg:?} is not {what}");
        match kind.trim() {
            "user" if plain_user(arg) => Ok(Action::User(arg.to_owned())),
            "user" => Err(bad("a user name")),
            "number" => {
                let digits = arg.strip_prefix('+').unwrap_or(arg);
                if !digits.is_empty()
                    && digits.len() <= 20
                    && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    Ok(Action::Number(arg.to_owned()))
                } else {
                    Err(bad("a number (digits, an optional leading +)"))
                }
            }
            "menu" if plain_name(arg) => Ok(Action::Menu(arg.to_owned())),
            "menu" => Err(bad("a menu name")),
            "voicemail" if plain_user(arg) => Ok(Action::Voicemail(arg.to_owned())),
            "voicemail" => Err(bad("a user name")),
            "conference" if plain_user(arg) => Ok(Action::Conference(arg.to_owned())),
            "conference" => Err(bad("a room name")),
            _ => Err(format!("{s:?} is not an action: {forms}")),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::User(u) => write!(f, "user:{u}"),
            Action::Number(n) => write!(f, "number:{n}"),
            Action::Menu(m) => write!(f, "menu:{m}"),
            Action::Voicemail(u) => write!(f, "voicemail:{u}"),
            Action::Conference(r) => write!(f, "conference:{r}"),
            Action::Repeat => f.write_str("repeat"),
            Action::Hangup => f.write_str("hangup"),
        }
    }
}

/// A key as written in the config (`"1"`, `"*"`, `"#"`).
pub fn parse_key(menu: &str, key: &str) -> Result<char, IvrError> {
    let mut chars = key.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ ('0'..='9' | '*' | '#')), None) => Ok(c),
        _ => Err(IvrError::BadKey {
            menu: menu.to_owned(),
            key: key.to_owned(),
        }),
    }
}

/// One menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// Its name (`menu:NAME` and the proxy's `;menu=NAME`).
    pub name: String,
    /// The prompt played (a name of the prompt set).
    pub prompt: String,
    /// How long a key is waited for after the prompt.
    pub timeout: Duration,
    /// Rounds without a key, or with a key that does nothing, before goodbye.
    pub tries: u32,
    /// What each key does.
    pub keys: BTreeMap<char, Action>,
}

/// Where the transfers of [`Action::Voicemail`] and [`Action::Conference`] go: the proxy's
/// names for them (`[media] deposit_prefix`, `conference_prefix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// `PREFIXuser` reaches `user`'s voicemail deposit (`*97`); empty: none.
    pub deposit_prefix: String,
    /// `PREFIXroom` reaches a conference room (`conf-`); empty: none.
    pub conference_prefix: String,
}

/// The checked menus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menus {
    menus: BTreeMap<String, Menu>,
    targets: Targets,
}

impl Menus {
    /// No menus.
    pub fn none() -> Menus {
        Menus {
            menus: BTreeMap::new(),
            targets: Targets {
                deposit_prefix: String::new(),
                conference_prefix: String::new(),
            },
        }
    }

    /// Checks `menus`: names, settings, sub-menus, and transfers the proxy can route.
    pub fn new(menus: Vec<Menu>, targets: Targets) -> Result<Menus, IvrError> {
        let mut by_name = BTreeMap::new();
        for menu in menus {
            if !plain_name(&menu.name) {
                return Err(IvrError::BadName(menu.name));
            }
            if menu.timeout.is_zero() || menu.timeout > MAX_TIMEOUT {
                return Err(IvrError::Setting {
                    menu: menu.name,
                    message: format!("timeout must be 1 to {} seconds", MAX_TIMEOUT.as_secs()),
                });
            }
            if !(1..=MAX_TRIES).contains(&menu.tries) {
                return Err(IvrError::Setting {
                    menu: menu.name,
                    message: format!("tries must be 1 to {MAX_TRIES}"),
                });
            }
            if by_name.contains_key(&menu.name) {
                return Err(IvrError::DuplicateMenu(menu.name));
            }
            by_name.insert(menu.name.clone(), menu);
        }
        for menu in by_name.values() {
            for (&key, action) in &menu.keys {
                let bad = |message: &str| IvrError::BadAction {
                    menu: menu.name.clone(),
                    key,
                    message: message.to_owned(),
                };
                match action {
                    Action::Menu(target) if !by_name.contains_key(target) => {
                        return Err(IvrError::UnknownMenu {
                            menu: menu.name.clone(),
                            key,
                            target: target.clone(),
                        })
                    }
                    Action::Voicemail(_) if targets.deposit_prefix.is_empty() => {
                        return Err(bad(
                            "voicemail needs [media] deposit_prefix (the proxy's name for a deposit)",
                        ))
                    }
                    Action::Conference(_) if targets.conference_prefix.is_empty() => {
                        return Err(bad(
                            "conference needs [media] conference_prefix (the proxy's name for a room)",
                        ))
                    }
                    _ => {}
                }
            }
        }
        Ok(Menus {
            menus: by_name,
            targets,
        })
    }

    /// The menu named `name`.
    pub fn get(&self, name: &str) -> Option<&Menu> {
        self.menus.get(name)
    }

    /// The menus, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Menu> {
        self.menus.values()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.menus.is_empty()
    }

    /// Checks at start that every menu's prompt is in `prompts`.
    pub fn check_prompts(&self, prompts: &Prompts) -> Result<(), IvrError> {
        for menu in self.menus.values() {
            if prompts.get(&menu.prompt).is_none() {
                return Err(IvrError::MissingPrompt {
                    menu: menu.name.clone(),
                    prompt: menu.prompt.clone(),
                });
            }
        }
        Ok(())
    }

    /// The `Refer-To` URI of a transfer `action` for a caller of `domain`: an address the
    /// proxy routes as it routes any call of the caller (`None` for the other actions).
    pub fn refer_target(&self, action: &Action, domain: &str) -> Option<String> {
        let user = match action {
            Action::User(user) | Action::Number(user) => user.clone(),
            Action::Voicemail(user) => format!("{}{user}", self.targets.deposit_prefix),
            Action::Conference(room) => format!("{}{room}", self.targets.conference_prefix),
            Action::Menu(_) | Action::Repeat | Action::Hangup => return None,
        };
        Some(format!("sip:{user}@{domain}"))
    }
}
