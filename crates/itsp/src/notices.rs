//! The e-mails `itsp serve` sends (the `mail` crate's queue, `[smtp]`): low-balance
//! notices and voicemail messages.
//!
//! Low balance: a task asks the store every `[smtp] low_balance_interval` seconds for the
//! accounts that fell below their threshold ([`store::Store::claim_low_balance_notices`]:
//! once per crossing, claimed in the store so two nodes or a restart send one) and mails
//! each subscriber at the subscriber's e-mail address (`itsp user add --email`), else the
//! `vm-email` preference. Voicemail: once a message is stored, a mailbox whose owner has
//! `vm-delivery=email` or `both` and an address (`vm-email`, else the subscriber's e-mail)
//! gets it with the WAV attached; with `email` the message (row
//! and file) is deleted once the e-mail was sent, with `both` it stays. Both go through the
//! queue: nothing here waits for the SMTP server on a call's way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::smtp_config::SmtpSettings;

/// The mailer and the texts, shared by both kinds of e-mail.
#[derive(Debug, Clone)]
pub(crate) struct Notices {
    mailer: mail::Mailer,
    templates: mail::Templates,
}

/// Accounts judged per look.
const CLAIMS_PER_LOOK: u32 = 100;

impl Notices {
    /// Starts the mailer and the low-balance task; `None` (logged once) when e-mail is off.
    pub(crate) fn start(
        settings: Option<SmtpSettings>,
        store: &store::Store,
    ) -> anyhow::Result<Option<Notices>> {
        let Some(settings) = settings else {
            tracing::info!("e-mail is off ([smtp] server not set): low-balance notices, voicemail e-mails and password reset links are not sent");
            return Ok(None);
        };
        let server = format!("{}:{}", settings.smtp.host, settings.smtp.port);
        let security = settings.smtp.security;
        let mailer =
            mail::Mailer::start(settings.smtp).map_err(|e| anyhow::anyhow!("smtp: {e}"))?;
        let notices = Notices {
            mailer,
            templates: settings.templates,
        };
        tokio::spawn(watch_low_balances(
            notices.clone(),
            store.clone(),
            settings.low_balance_interval,
        ));
        tracing::info!(smtp = %server, ?security, "e-mail on: low-balance notices, voicemail e-mails, password reset links, sign-up confirmations");
        Ok(Some(notices))
    }

    /// The mailer and the reset and sign-up texts, for the portal's forgotten-password and
    /// self-registration pages.
    pub(crate) fn portal_mail(&self) -> portal::PortalMail {
        portal::PortalMail {
            mailer: self.mailer.clone(),
            password_reset: self.templates.password_reset.clone(),
            signup: self.templates.signup.clone(),
        }
    }

    /// Mails a voicemail message just stored (`id`, `file` under `dir`) when its owner
    /// asked for it; deletes it after the send with `vm-delivery=email`.
    pub(crate) async fn voicemail(
        &self,
        store: &store::Store,
        dir: &Path,
        message: StoredVoicemail<'_>,
    ) {
        let (user, domain) = (message.user, message.domain);
        let prefs = match store.preferences(user, domain).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(mailbox = %format!("{user}@{domain}"), error = %e, "voicemail e-mail: preferences not read");
                return;
            }
        };
        let delivery = prefs
            .get(store::VM_DELIVERY)
            .map_or(store::VM_DELIVERY_STORE, String::as_str);
        if delivery == store::VM_DELIVERY_STORE {
            return;
        }
        let own = subscriber_email(store, user, domain).await;
        let Some(to) = prefs.get(store::VM_EMAIL).cloned().or(own) else {
            tracing::warn!(mailbox = %format!("{user}@{domain}"), "voicemail kept, not e-mailed: vm-delivery asks for e-mail but the subscriber has neither vm-email nor an e-mail address");
            return;
        };
        let email = voicemail_email(&self.templates, &message, &to);
        let sent = match self.mailer.send_tracked(&email) {
            Ok(sent) => sent,
            Err(e) => {
                tracing::error!(mailbox = %format!("{user}@{domain}"), error = %e, "voicemail kept, not e-mailed");
                return;
            }
        };
        if delivery != store::VM_DELIVERY_EMAIL {
            return;
        }
        // attach_and_delete: the message goes once the e-mail is out; after a failure
        // (logged by the mailer) it stays in the mailbox.
        let (store, dir) = (store.clone(), dir.to_path_buf());
        let (user, domain, id) = (user.to_owned(), domain.to_owned(), message.id);
        tokio::spawn(async move {
            if sent.outcome().await.is_ok() {
                delete_message(&store, &dir, &user, &domain, id).await;
            }
        });
    }
}

/// A voicemail message as stored, for its e-mail.
#[derive(Debug)]
pub(crate) struct StoredVoicemail<'a> {
    pub(crate) user: &'a str,
    pub(crate) domain: &'a str,
    pub(crate) id: i64,
    pub(crate) caller: &'a str,
    pub(crate) created_ms: i64,
    pub(crate) duration: Duration,
    pub(crate) wav: &'a [u8],
}

/// The subscriber's own e-mail address (`itsp user add --email`), if any.
async fn subscriber_email(store: &store::Store, user: &str, domain: &str) -> Option<String> {
    match store.subscriber(user, domain).await {
        Ok(s) => s.and_then(|s| s.email).filter(|e| !e.is_empty()),
        Err(e) => {
            tracing::error!(user = %format!("{user}@{domain}"), error = %e, "the subscriber's e-mail address was not read");
            None
        }
    }
}

/// Unix milliseconds as `(RFC 3339, readable)`: `2024-05-01T12:00:00.000Z` and `Wed, 01
/// May 2024 12:00:00 GMT`.
fn times(unix_ms: i64) -> (String, String) {
    let secs = u64::try_from(unix_ms.div_euclid(1000)).unwrap_or(0);
    (
        sip::headers::rfc3339_ms(unix_ms),
        sip::headers::format_date(secs),
    )
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The e-mail of a voicemail message: the template filled in, the WAV attached.
fn voicemail_email(templates: &mail::Templates, m: &StoredVoicemail<'_>, to: &str) -> mail::Email {
    let (time, readable) = times(m.created_ms);
    let secs = m.duration.as_secs();
    let duration = format!("{}:{:02}", secs / 60, secs % 60);
    let mailbox = format!("{}@{}", m.user, m.domain);
    let seconds = secs.to_string();
    let (subject, body) = templates.voicemail.render(&[
        ("mailbox", &mailbox),
        ("caller", m.caller),
        ("time", &time),
        ("time_readable", &readable),
        ("duration", &duration),
        ("duration_seconds", &seconds),
    ]);
    mail::Email {
        to: to.to_owned(),
        subject,
        body,
        attachment: Some(mail::Attachment {
            name: format!("voicemail-{}.wav", m.created_ms),
            content_type: "audio/wav".into(),
            bytes: m.wav.to_vec(),
        }),
    }
}

/// The e-mail of a low-balance notice.
fn low_balance_email(
    templates: &mail::Templates,
    n: &store::LowBalanceNotice,
    to: &str,
    at_ms: i64,
) -> mail::Email {
    let (time, readable) = times(at_ms);
    let account = n.address.to_string();
    let balance = billing::money::in_cents(n.balance).to_string();
    let threshold = billing::money::in_cents(n.threshold).to_string();
    let (subject, body) = templates.low_balance.render(&[
        ("account", &account),
        ("balance", &balance),
        ("threshold", &threshold),
        ("currency", &n.currency),
        ("time", &time),
        ("time_readable", &readable),
    ]);
    mail::Email {
        to: to.to_owned(),
        subject,
        body,
        attachment: None,
    }
}

/// Removes a message e-mailed with `vm-delivery=email`: its row, then its file.
async fn delete_message(store: &store::Store, dir: &Path, user: &str, domain: &str, id: i64) {
    match store.remove_voicemail(user, domain, id).await {
        Ok(Some(file)) => {
            let path: PathBuf = dir.join(&file);
            if let Err(e) = tokio::fs::remove_file(&path).await {
                tracing::warn!(file = %path.display(), error = %e, "e-mailed voicemail file not deleted");
            }
            tracing::info!(mailbox = %format!("{user}@{domain}"), id, "voicemail e-mailed and deleted");
        }
        // Deleted meanwhile (heard and removed, or the subscriber is gone).
        Ok(None) => {}
        Err(e) => {
            tracing::error!(mailbox = %format!("{user}@{domain}"), id, error = %e, "e-mailed voicemail not deleted")
        }
    }
}

/// The low-balance task: every `interval`, the notices the store claims, mailed.
async fn watch_low_balances(notices: Notices, store: store::Store, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let claimed = match store.claim_low_balance_notices(CLAIMS_PER_LOOK).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "low-balance notices: the accounts were not read");
                continue;
            }
        };
        for n in claimed {
            send_low_balance(&notices, &store, &n).await;
        }
    }
}

async fn send_low_balance(notices: &Notices, store: &store::Store, n: &store::LowBalanceNotice) {
    let (user, domain) = (&n.address.user, &n.address.domain);
    let vm_email = || async {
        let prefs = store.preferences(user, domain).await.unwrap_or_default();
        prefs.get(store::VM_EMAIL).cloned()
    };
    let to = match subscriber_email(store, user, domain).await {
        Some(to) => to,
        None => match vm_email().await {
            Some(to) => to,
            None => {
                tracing::warn!(user = %n.address, balance = %n.balance, "low balance: no notice sent, the subscriber has no e-mail address (itsp user add --email, or vm-email)");
                return;
            }
        },
    };
    let to = to.as_str();
    let email = low_balance_email(&notices.templates, n, to, now_ms());
    match notices.mailer.send(&email) {
        Ok(()) => {
            tracing::info!(user = %n.address, to, balance = %n.balance, currency = %n.currency, "low-balance notice queued")
        }
        Err(e) => {
            tracing::error!(user = %n.address, to, error = %e, "low-balance notice not sent")
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_e_mails_carry_the_values() {
        let t = mail::Templates::built_in();
        let n = store::LowBalanceNotice {
            address: store::Address::parse("alice@example.com").unwrap(),
            balance: "0.5".parse().unwrap(),
            threshold: "1".parse().unwrap(),
            currency: "EUR".into(),
        };
        let e = low_balance_email(&t, &n, "alice@mail.example", 1_714_564_800_000);
        assert_eq!(e.to, "alice@mail.example");
        assert_eq!(e.subject, "Your balance is low: 0.50 EUR");
        assert!(
            e.body
                .contains("alice@example.com is 0.50 EUR, below 1.00 EUR"),
            "{}",
            e.body
        );
        assert!(
            e.body
                .contains("Wed, 01 May 2024 12:00:00 GMT (2024-05-01T12:00:00.000Z)"),
            "{}",
            e.body
        );
        let m = StoredVoicemail {
            user: "bob",
            domain: "example.com",
            id: 7,
            caller: "sip:alice@example.com",
            created_ms: 1_714_564_800_000,
            duration: Duration::from_millis(62_400),
            wav: b"RIFF",
        };
        let e = voicemail_email(&t, &m, "bob@mail.example");
        assert_eq!(e.subject, "New voicemail from sip:alice@example.com (1:02)");
        assert!(e.body.contains("mailbox bob@example.com"), "{}", e.body);
        assert!(e.body.contains("Length:   1:02 (62 s)"), "{}", e.body);
        let a = e.attachment.unwrap();
        assert_eq!(
            (a.content_type.as_str(), a.bytes.as_slice()),
            ("audio/wav", &b"RIFF"[..])
        );
    }
}
