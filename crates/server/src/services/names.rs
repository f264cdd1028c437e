//! The media services' settings and names: [`ServicesConfig`] (`[media]`), and which
//! service a dialled user part names. Apart from the route step so that the server's
//! configuration can hold it without importing the route.

use std::net::SocketAddr;
use std::time::Duration;

/// Settings of the media services (`[media]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicesConfig {
    /// The SIP address of the media service UA; `None`: no services (the names are
    /// ordinary user names, no voicemail, no announcements).
    pub media: Option<SocketAddr>,
    /// User parts that reach the echo test (default `echo`, `*43`, as FreePBX).
    pub echo: Vec<String>,
    /// User parts that reach the caller's own mailbox (default `voicemail`, `*97`).
    pub voicemail: Vec<String>,
    /// User parts that reach the voicemail menu by mailbox number and PIN, from any phone
    /// of our callers (default `voicemail-login`, `*98`).
    pub voicemail_login: Vec<String>,
    /// `PREFIXuser` leaves a message in `user`'s mailbox (default `*97`); empty: off.
    pub deposit_prefix: String,
    /// User parts that reach the conference room `default` of the domain (default
    /// `conference`).
    pub conference: Vec<String>,
    /// `PREFIXroom` reaches conference room `room` (default `conf-`); empty: off.
    pub conference_prefix: String,
    /// How long a subscriber with voicemail on and no `no-answer-after` of their own is
    /// rung before voicemail takes the call (default 20 s).
    pub voicemail_after: Duration,
    /// Our callers hear an announcement (183 with the prompt, then the final response)
    /// for an unknown number (404) or a subscriber with no phone and no voicemail (480).
    /// Off by default: the refusal comes at once, as without media services.
    pub announcements: bool,
    /// User parts bound to IVR menus (`[[ivr]] numbers`); none by default.
    pub ivr: Vec<IvrBinding>,
}

/// A user part that reaches an IVR menu (`[[ivr]]`: `numbers`, `public`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrBinding {
    /// The user part, in every served domain (compared without case).
    pub name: String,
    /// The menu it reaches.
    pub menu: String,
    /// Callers from outside (not ours, not a trusted peer) reach it too: an
    /// auto-attendant for everyone. Its transfers are their own calls, routed as such.
    pub public: bool,
}

/// Default ring time before voicemail: 20 s.
pub const DEFAULT_VOICEMAIL_AFTER: Duration = Duration::from_secs(20);

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            media: None,
            echo: vec!["echo".into(), "*43".into()],
            voicemail: vec!["voicemail".into(), "*97".into()],
            voicemail_login: vec!["voicemail-login".into(), "*98".into()],
            deposit_prefix: "*97".into(),
            conference: vec!["conference".into()],
            conference_prefix: "conf-".into(),
            voicemail_after: DEFAULT_VOICEMAIL_AFTER,
            announcements: false,
            ivr: Vec::new(),
        }
    }
}

/// A service the route found in a Request-URI's user part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Named {
    /// The echo test.
    Echo,
    /// The caller's own mailbox.
    OwnMailbox,
    /// Any mailbox, by number and PIN.
    Login,
    /// A deposit into the mailbox of this user (not yet resolved).
    Deposit(String),
    /// This conference room of the domain.
    Conference(String),
    /// This IVR menu; `public`: callers from outside reach it too.
    Ivr {
        /// The menu.
        menu: String,
        /// Reached by anyone.
        public: bool,
    },
}

/// The room `conference` names reach.
pub(crate) const DEFAULT_ROOM: &str = "default";

impl ServicesConfig {
    /// The service `user` names, when the services run.
    pub(crate) fn named(&self, user: &str) -> Option<Named> {
        self.media?;
        self.names(user)
    }

    /// The service `user` names, whether the services run or not: for the configuration
    /// to refuse a name bound twice (`"echo"`, `"voicemail"`, `"conference"`, `"ivr"`).
    pub fn service_of(&self, user: &str) -> Option<&'static str> {
        Some(match self.names(user)? {
            Named::Echo => "echo",
            Named::OwnMailbox | Named::Login | Named::Deposit(_) => "voicemail",
            Named::Conference(_) => "conference",
            Named::Ivr { .. } => "ivr",
        })
    }

    fn names(&self, user: &str) -> Option<Named> {
        if let Some(b) = self.ivr.iter().find(|b| b.name.eq_ignore_ascii_case(user)) {
            return Some(Named::Ivr {
                menu: b.menu.clone(),
                public: b.public,
            });
        }
        if self.echo.iter().any(|n| n.eq_ignore_ascii_case(user)) {
            return Some(Named::Echo);
        }
        if self.voicemail.iter().any(|n| n.eq_ignore_ascii_case(user)) {
            return Some(Named::OwnMailbox);
        }
        if self
            .voicemail_login
            .iter()
            .any(|n| n.eq_ignore_ascii_case(user))
        {
            return Some(Named::Login);
        }
        if self.conference.iter().any(|n| n.eq_ignore_ascii_case(user)) {
            return Some(Named::Conference(DEFAULT_ROOM.to_owned()));
        }
        if !self.conference_prefix.is_empty() {
            let prefix = self.conference_prefix.as_str();
            if user.len() > prefix.len()
                && user.is_char_boundary(prefix.len())
                && user[..prefix.len()].eq_ignore_ascii_case(prefix)
            {
                return Some(Named::Conference(user[prefix.len()..].to_ascii_lowercase()));
            }
        }
        if self.deposit_prefix.is_empty() {
            return None;
        }
        let rest = user.strip_prefix(self.deposit_prefix.as_str())?;
        (!rest.is_empty()).then(|| Named::Deposit(rest.to_owned()))
    }
}
