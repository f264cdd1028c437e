//! The mail queue: [`Mailer::send`] composes and queues, a task sends one e-mail after the
//! other over SMTP. A temporary failure (no connection, timeout, 4xx) is tried again after
//! [`SmtpConfig::retry_backoff`], doubled each time, up to [`SmtpConfig::retries`] times,
//! without holding up the e-mails behind it; a permanent refusal (5xx) is not. The last
//! failure is logged with its reason and told to whoever waits on [`Sent`].

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{mpsc, oneshot};

use crate::compose::{compose, Email};
use crate::config::{Security, SmtpConfig};
use crate::MailError;

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// A handle on the mail queue; clones share it. Made by [`Mailer::start`].
#[derive(Debug, Clone)]
pub struct Mailer {
    queue: mpsc::Sender<Job>,
    capacity: usize,
    from: lettre::message::Mailbox,
}

/// What became of one queued e-mail, for a sender that must know (voicemail deletes a
/// message only once it was sent).
#[derive(Debug)]
pub struct Sent(oneshot::Receiver<Result<(), MailError>>);

impl Sent {
    /// Waits until the e-mail was sent or given up ([`MailError::NotSent`]).
    pub async fn outcome(self) -> Result<(), MailError> {
        self.0.await.unwrap_or(Err(MailError::Stopped))
    }
}

#[derive(Debug)]
struct Job {
    message: Message,
    to: String,
    subject: String,
    /// Sends tried so far.
    attempts: u32,
    done: Option<oneshot::Sender<Result<(), MailError>>>,
}

impl Mailer {
    /// Starts the sending task on the current tokio runtime. Errors: TLS settings that
    /// cannot be made for the host.
    pub fn start(config: SmtpConfig) -> Result<Mailer, MailError> {
        let transport = transport(&config)?;
        let capacity = config.queue.max(1);
        let (queue, jobs) = mpsc::channel(capacity);
        let mailer = Mailer {
            queue: queue.clone(),
            capacity,
            from: config.from.clone(),
        };
        tokio::spawn(run(transport, config, jobs, queue));
        Ok(mailer)
    }

    /// Composes `email` and queues it; returns at once. Errors: a bad recipient or
    /// attachment ([`MailError::BadAddress`], [`MailError::Compose`]), a full queue.
    pub fn send(&self, email: &Email) -> Result<(), MailError> {
        self.enqueue(email, None)
    }

    /// Like [`Mailer::send`], with a [`Sent`] that tells when it was sent or given up.
    pub fn send_tracked(&self, email: &Email) -> Result<Sent, MailError> {
        let (done, outcome) = oneshot::channel();
        self.enqueue(email, Some(done))?;
        Ok(Sent(outcome))
    }

    fn enqueue(
        &self,
        email: &Email,
        done: Option<oneshot::Sender<Result<(), MailError>>>,
    ) -> Result<(), MailError> {
        let job = Job {
            message: compose(&self.from, email)?,
            to: email.to.clone(),
            subject: email.subject.clone(),
            attempts: 0,
            done,
        };
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => MailError::QueueFull(self.capacity),
            mpsc::error::TrySendError::Closed(_) => MailError::Stopped,
        })
    }
}

fn transport(config: &SmtpConfig) -> Result<Transport, MailError> {
    let tls = match config.security {
        Security::Plain => Tls::None,
        Security::StartTls => Tls::Required(
            TlsParameters::new(config.host.clone())
                .map_err(|e| MailError::Compose(format!("smtp TLS for {}: {e}", config.host)))?,
        ),
    };
    let mut builder = Transport::builder_dangerous(config.host.clone())
        .port(config.port)
        .timeout(Some(config.timeout))
        .tls(tls);
    if let Some((user, password)) = &config.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// The sending task: one e-mail at a time; a retry goes back into the queue after its
/// pause (`requeue`), so the e-mails behind a failing one are not held up.
async fn run(
    transport: Transport,
    config: SmtpConfig,
    mut jobs: mpsc::Receiver<Job>,
    requeue: mpsc::Sender<Job>,
) {
    let server = format!("{}:{}", config.host, config.port);
    while let Some(mut job) = jobs.recv().await {
        job.attempts += 1;
        let error = match transport.send(job.message.clone()).await {
            Ok(_) => {
                tracing::info!(to = %job.to, subject = %job.subject, attempts = job.attempts, "e-mail sent");
                if let Some(done) = job.done.take() {
                    let _ = done.send(Ok(()));
                }
                continue;
            }
            Err(e) => e,
        };
        let reason = error.to_string();
        if job.attempts <= config.retries && !error.is_permanent() {
            let pause = backoff(config.retry_backoff, job.attempts);
            tracing::warn!(to = %job.to, smtp = %server, attempt = job.attempts, retry_in_ms = pause.as_millis() as u64, error = %reason, "e-mail not sent yet, trying again");
            let requeue = requeue.clone();
            tokio::spawn(async move {
                tokio::time::sleep(pause).await;
                let _ = requeue.send(job).await;
            });
        } else {
            tracing::error!(to = %job.to, subject = %job.subject, smtp = %server, attempts = job.attempts, error = %reason, "e-mail not sent");
            if let Some(done) = job.done.take() {
                let _ = done.send(Err(MailError::NotSent {
                    attempts: job.attempts,
                    reason,
                }));
            }
        }
    }
}

/// The pause after the `attempt`th failed send: `base`, then doubled each time (at most
/// 64 times `base`).
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1 << attempt.saturating_sub(1).min(6))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_pause_doubles() {
        let s = Duration::from_secs(10);
        let pauses: Vec<u64> = (1..=4).map(|a| backoff(s, a).as_secs()).collect();
        assert_eq!(pauses, [10, 20, 40, 80]);
        assert_eq!(backoff(s, 40).as_secs(), 640);
    }

    #[tokio::test]
    async fn an_unreachable_server_is_tried_again_then_given_up() {
        // A port nobody listens on: bound and released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = SmtpConfig::new(&format!("127.0.0.1:{port}"), "a@b.example").unwrap();
        config.security = Security::Plain;
        config.retries = 2;
        config.retry_backoff = Duration::from_millis(20);
        config.timeout = Duration::from_secs(2);
        let mailer = Mailer::start(config).unwrap();
        let email = Email {
            to: "c@d.example".into(),
            subject: "s".into(),
            body: "b".into(),
            attachment: None,
        };
        let sent = mailer.send_tracked(&email).unwrap();
        match sent.outcome().await {
            Err(MailError::NotSent { attempts, reason }) => {
                assert_eq!(attempts, 3, "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let bad = Email {
            to: "nobody".into(),
            ..email
        };
        assert!(matches!(
            mailer.send(&bad),
            Err(MailError::BadAddress { .. })
        ));
    }
}
