//! The `[smtp]` section of the config file: where `itsp serve` sends e-mail (low-balance
//! notices, voicemail messages) and with which texts. No `server`: no e-mail.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// `[smtp]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct SmtpSection {
    /// `HOST:PORT` of the SMTP server; empty: e-mail off.
    pub(crate) server: String,
    /// The sender, `noreply@example.com` or `itsp <noreply@example.com>`.
    pub(crate) from: String,
    /// SMTP AUTH user; empty: no authentication.
    pub(crate) username: String,
    /// SMTP AUTH password.
    pub(crate) password: String,
    /// Require STARTTLS (the certificate checked against the system's CAs).
    pub(crate) starttls: bool,
    /// Seconds one SMTP exchange may take.
    pub(crate) timeout: u64,
    /// Sends tried again after a temporary failure.
    pub(crate) retries: u32,
    /// Seconds before the first retry, doubled for each next one.
    pub(crate) retry_backoff: u64,
    /// A directory whose `low-balance.txt`, `voicemail.txt`, `password-reset.txt` and
    /// `signup.txt` replace the built-in texts.
    pub(crate) templates: Option<PathBuf>,
    /// Seconds between looks for accounts that fell below their low-balance threshold.
    pub(crate) low_balance_interval: u64,
}

/// Default of `[smtp] low_balance_interval`.
pub(crate) const DEFAULT_LOW_BALANCE_INTERVAL: u64 = 5;

impl Default for SmtpSection {
    fn default() -> Self {
        SmtpSection {
            server: String::new(),
            from: String::new(),
            username: String::new(),
            password: String::new(),
            starttls: true,
            timeout: mail::DEFAULT_TIMEOUT.as_secs(),
            retries: mail::DEFAULT_RETRIES,
            retry_backoff: mail::DEFAULT_RETRY_BACKOFF.as_secs(),
            templates: None,
            low_balance_interval: DEFAULT_LOW_BALANCE_INTERVAL,
        }
    }
}

/// The checked `[smtp]` settings when e-mail is on.
#[derive(Debug, Clone)]
pub(crate) struct SmtpSettings {
    pub(crate) smtp: mail::SmtpConfig,
    pub(crate) templates: mail::Templates,
    pub(crate) low_balance_interval: Duration,
}

impl SmtpSection {
    /// The mailer's settings and templates; `None` without a server. Errors name the key
    /// (or the template file).
    pub(crate) fn settings(&self) -> Result<Option<SmtpSettings>, String> {
        if self.server.trim().is_empty() {
            return Ok(None);
        }
        if self.from.trim().is_empty() {
            return Err("smtp.from: the sender's address is needed to send e-mail".into());
        }
        let mut smtp =
            mail::SmtpConfig::new(&self.server, &self.from).map_err(|e| e.to_string())?;
        match (self.username.is_empty(), self.password.is_empty()) {
            (true, true) => {}
            (false, false) => {
                smtp.credentials = Some((self.username.clone(), self.password.clone()))
            }
            (true, false) => return Err("smtp.password is set without smtp.username".into()),
            (false, true) => return Err("smtp.username is set without smtp.password".into()),
        }
        smtp.security = if self.starttls {
            mail::Security::StartTls
        } else {
            mail::Security::Plain
        };
        if self.timeout == 0 {
            return Err("smtp.timeout must be at least 1 second".into());
        }
        if self.retry_backoff == 0 {
            return Err("smtp.retry_backoff must be at least 1 second".into());
        }
        if self.low_balance_interval == 0 {
            return Err("smtp.low_balance_interval must be at least 1 second".into());
        }
        smtp.timeout = Duration::from_secs(self.timeout);
        smtp.retries = self.retries;
        smtp.retry_backoff = Duration::from_secs(self.retry_backoff);
        let templates = mail::Templates::load(self.templates.as_deref())
            .map_err(|e| format!("smtp.templates: {e}"))?;
        Ok(Some(SmtpSettings {
            smtp,
            templates,
            low_balance_interval: Duration::from_secs(self.low_balance_interval),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::config::Config;

    #[test]
    fn smtp_settings_are_read_and_checked_by_key() {
        assert!(Config::default().smtp.settings().unwrap().is_none());
        let c = Config::parse(
            "[smtp]\nserver = \"127.0.0.1:2525\"\nfrom = \"itsp <noreply@example.com>\"\nstarttls = false\nusername = \"u\"\npassword = \"p\"\n",
        )
        .unwrap();
        let s = c.smtp.settings().unwrap().unwrap();
        assert_eq!(s.smtp.port, 2525);
        assert_eq!(s.smtp.security, mail::Security::Plain);
        assert_eq!(s.smtp.credentials, Some(("u".into(), "p".into())));
        for (text, key) in [
            (
                "server = \"mail.example\"\nfrom = \"a@b.example\"",
                "smtp.server",
            ),
            ("server = \"h:25\"", "smtp.from"),
            ("server = \"h:25\"\nfrom = \"nobody\"", "smtp.from"),
            (
                "server = \"h:25\"\nfrom = \"a@b.example\"\npassword = \"p\"",
                "smtp.password",
            ),
            (
                "server = \"h:25\"\nfrom = \"a@b.example\"\ntimeout = 0",
                "smtp.timeout",
            ),
            (
                "server = \"h:25\"\nfrom = \"a@b.example\"\ntemplates = \"/nonexistent\"",
                "smtp.templates",
            ),
        ] {
            let c = Config::parse(&format!("[smtp]\n{text}\n")).unwrap();
            let e = c.smtp.settings().unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
