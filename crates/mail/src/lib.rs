//! # mail: e-mail from itsp
//!
//! What: the one way itsp sends e-mail — the low-balance notices of billing, voicemail
//! messages to their owners' mailboxes (issues 18 and 19) and the portal's password reset
//! links and sign-up confirmations (issue 20). A [`Mailer`] takes an [`Email`]
//! (recipient, subject, plain-text body, at most one attachment), composes it at once (a
//! bad address is the caller's error, not a retry) and queues it; a task sends the queue
//! over SMTP ([`SmtpConfig`]: `host:port`, `From`, optional credentials, STARTTLS, a
//! timeout), retrying a failed send a few times with a growing pause, then logging it with
//! the reason. Nothing that sends waits for the SMTP server: a call or the billing writer
//! never blocks on mail, and a full queue refuses at once ([`MailError::QueueFull`]).
//! [`Templates`] hold the texts: built-in defaults with `{placeholder}`s, each replaceable
//! by a file.
//!
//! Why a crate of its own: the SMTP client (`lettre` with rustls, no OpenSSL) stays out of
//! the server and the store, and the portal — a library crate — can use the same mailer
//! for the password reset and the self-registration of the design without depending on
//! the binary.
//!
//! ## Layout
//!
//! | module | what it holds |
//! |---|---|
//! | `config.rs` | [`SmtpConfig`], [`Security`]: the checked `[smtp]` settings |
//! | `compose.rs` | [`Email`], [`Attachment`] → a MIME message (text, or multipart with the attachment) |
//! | `queue.rs` | [`Mailer`]: the bounded queue, the sending task, retries with backoff |
//! | `templates.rs` | [`Template`], [`Templates`]: plain text with placeholders, built in or from files |

mod compose;
mod config;
mod queue;
mod templates;

pub use compose::{Attachment, Email};
pub use config::{
    Security, SmtpConfig, DEFAULT_QUEUE, DEFAULT_RETRIES, DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT,
};
pub use queue::{Mailer, Sent};
pub use templates::{
    Template, Templates, LOW_BALANCE, LOW_BALANCE_FIELDS, PASSWORD_RESET, PASSWORD_RESET_FIELDS,
    SIGNUP, SIGNUP_FIELDS, VOICEMAIL, VOICEMAIL_FIELDS,
};

/// What went wrong with an e-mail, its settings or its templates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// An address (`from`, or a recipient) that is not an e-mail address.
    #[error("{what} {address:?} is not an e-mail address: {reason}")]
    BadAddress {
        /// Which address: `smtp.from`, `recipient`.
        what: &'static str,
        /// The text given.
        address: String,
        /// Why it was refused.
        reason: String,
    },
    /// The message could not be built (e.g. a bad content type).
    #[error("the message cannot be built: {0}")]
    Compose(String),
    /// The queue holds as many e-mails as it may; this one was not taken.
    #[error("the mail queue is full ({0} e-mails waiting)")]
    QueueFull(usize),
    /// The sending task is gone (the process is stopping).
    #[error("the mailer has stopped")]
    Stopped,
    /// The SMTP server refused or could not be reached, after every try.
    #[error("not sent after {attempts} attempt(s): {reason}")]
    NotSent {
        /// How many sends were tried.
        attempts: u32,
        /// The last error.
        reason: String,
    },
    /// A template file that cannot be used: names the file and what is wrong.
    #[error("template {file}: {reason}")]
    Template {
        /// The file (or `built-in NAME`).
        file: String,
        /// What is wrong.
        reason: String,
    },
}
