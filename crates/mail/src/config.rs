//! The SMTP settings of the mailer, checked (the binary's `[smtp]` section reads them).

use std::time::Duration;

use lettre::message::Mailbox;

use crate::MailError;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP: for a relay on the same machine or network (`starttls = false`).
    Plain,
    /// STARTTLS required (RFC 3207): the server's certificate is checked against the
    /// system's CA certificates and its name; credentials go only over TLS.
    StartTls,
}

/// Where and how to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The SMTP server's host name or address.
    pub host: String,
    /// Its port (25, 587, or a test server's).
    pub port: u16,
    /// The sender of every e-mail (`From`), e.g. `itsp <noreply@example.com>`.
    pub from: Mailbox,
    /// User name and password for SMTP AUTH; `None`: no authentication.
    pub credentials: Option<(String, String)>,
    /// Plain or STARTTLS.
    pub security: Security,
    /// How long one SMTP exchange may take.
    pub timeout: Duration,
    /// Sends tried after the first one failed (temporary failures only: a permanent
    /// refusal, 5xx, is not retried).
    pub retries: u32,
    /// The pause before the first retry; each next one waits twice as long.
    pub retry_backoff: Duration,
    /// E-mails the queue holds; past it new ones are refused (and logged by the caller).
    pub queue: usize,
}

/// Default of [`SmtpConfig::timeout`]: 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`SmtpConfig::retries`].
pub const DEFAULT_RETRIES: u32 = 3;
/// Default of [`SmtpConfig::retry_backoff`]: 10 seconds (then 20, 40).
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(10);
/// Default of [`SmtpConfig::queue`].
pub const DEFAULT_QUEUE: usize = 1000;

impl SmtpConfig {
    /// Settings for `server` (`host:port`) sending as `from`, with the defaults for the
    /// rest (STARTTLS, no credentials). Errors name the key (`smtp.server`, `smtp.from`).
    pub fn new(server: &str, from: &str) -> Result<SmtpConfig, MailError> {
        let (host, port) = split_server(server).ok_or_else(|| MailError::BadAddress {
            what: "smtp.server",
            address: server.to_owned(),
            reason: "HOST:PORT expected, e.g. \"mail.example.com:587\"".into(),
        })?;
        let from = parse_mailbox("smtp.from", from)?;
        Ok(SmtpConfig {
            host,
            port,
            from,
            credentials: None,
            security: Security::StartTls,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            queue: DEFAULT_QUEUE,
        })
    }
}

/// `host:port` or `[v6]:port`; `None` when it is not that.
fn split_server(server: &str) -> Option<(String, u16)> {
    let (host, port) = server.trim().rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let host = bracketed.unwrap_or(host);
    // An IPv6 address needs its brackets, or its last group would read as the port.
    let ok = !host.is_empty()
        && (bracketed.is_some() || !host.contains(':'))
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    ok.then(|| (host.to_owned(), port))
}

/// An address (`Name <a@b>` or `a@b`); `what` names it in the error.
pub(crate) fn parse_mailbox(what: &'static str, text: &str) -> Result<Mailbox, MailError> {
    text.trim()
        .parse::<Mailbox>()
        .map_err(|e| MailError::BadAddress {
            what,
            address: text.to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn server_and_from_are_checked_by_key() {
        let c = SmtpConfig::new("mail.example.com:587", "itsp <noreply@example.com>").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("mail.example.com", 587));
        assert_eq!(c.from.email.to_string(), "noreply@example.com");
        assert_eq!(c.security, Security::StartTls);
        let c = SmtpConfig::new("[::1]:2525", "a@b.example").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 2525));
        for bad in [
            "mail.example.com",
            "mail.example.com:0",
            ":25",
            "a b:25",
            "::1:25",
        ] {
            let e = SmtpConfig::new(bad, "a@b.example").unwrap_err().to_string();
            assert!(e.contains("smtp.server"), "{bad}: {e}");
        }
        let e = SmtpConfig::new("h:25", "not an address")
            .unwrap_err()
            .to_string();
        assert!(e.contains("smtp.from"), "{e}");
    }
}
