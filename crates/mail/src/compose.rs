//! An e-mail as itsp sends it: plain text (UTF-8), and at most one attachment (a
//! voicemail's WAV), composed into a MIME message (RFC 2045, RFC 2046 `multipart/mixed`).

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment as MimeAttachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::Message;

use crate::config::parse_mailbox;
use crate::MailError;

/// One e-mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The recipient's address (`a@b` or `Name <a@b>`).
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// A file sent with it.
    pub attachment: Option<Attachment>,
}

/// A file attached to an [`Email`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name the recipient sees.
    pub name: String,
    /// Its MIME type, e.g. `audio/wav`.
    pub content_type: String,
    /// Its bytes (sent base64-encoded).
    pub bytes: Vec<u8>,
}

/// `email` as a MIME message from `from`.
pub(crate) fn compose(from: &Mailbox, email: &Email) -> Result<Message, MailError> {
    let to = parse_mailbox("recipient", &email.to)?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(one_line(&email.subject));
    let text = SinglePart::plain(email.body.clone());
    let built = match &email.attachment {
        None => builder.singlepart(text),
        Some(a) => {
            let content_type = ContentType::parse(&a.content_type).map_err(|e| {
                MailError::Compose(format!("content type {:?}: {e}", a.content_type))
            })?;
            // Always base64: left to itself lettre sends bytes that happen to be 7-bit
            // (NULs included) unencoded, which mail servers may mangle.
            let bytes = Body::new_with_encoding(a.bytes.clone(), ContentTransferEncoding::Base64)
                .map_err(|_| {
                MailError::Compose("the attachment cannot be base64-encoded".into())
            })?;
            let file = MimeAttachment::new(a.name.clone()).body(bytes, content_type);
            builder.multipart(MultiPart::mixed().singlepart(text).singlepart(file))
        }
    };
    built.map_err(|e| MailError::Compose(e.to_string()))
}

/// `text` on one line: line breaks and other control characters (from a caller's name,
/// say) become spaces, so a subject cannot add header lines.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn from() -> Mailbox {
        "itsp <noreply@example.com>".parse().unwrap()
    }

    #[test]
    fn a_text_mail_and_one_with_a_wav() {
        let mut email = Email {
            to: "alice@mail.example".into(),
            subject: "Your balance is low:\r\nBcc: x@y 0.50 EUR".into(),
            body: "Hello,\nthe balance is 0.50 EUR.\n".into(),
            attachment: None,
        };
        let text = String::from_utf8(compose(&from(), &email).unwrap().formatted()).unwrap();
        assert!(text.contains("To: alice@mail.example\r\n"), "{text}");
        assert!(
            text.contains("From: itsp <noreply@example.com>\r\n"),
            "{text}"
        );
        assert!(!text.contains("\r\nBcc:"), "{text}");
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8"),
            "{text}"
        );
        assert!(text.contains("the balance is 0.50 EUR."), "{text}");

        email.attachment = Some(Attachment {
            name: "message.wav".into(),
            content_type: "audio/wav".into(),
            bytes: b"RIFF\x24\0\0\0WAVEfmt ".to_vec(),
        });
        let text = String::from_utf8(compose(&from(), &email).unwrap().formatted()).unwrap();
        assert!(text.contains("Content-Type: multipart/mixed"), "{text}");
        assert!(text.contains("Content-Type: audio/wav"), "{text}");
        assert!(
            text.contains("Content-Disposition: attachment; filename=\"message.wav\""),
            "{text}"
        );
        // base64 of "RIFF$\0\0\0WAVEfmt "
        assert!(text.contains("UklGRiQAAABXQVZFZm10IA=="), "{text}");

        email.to = "not an address".into();
        let e = compose(&from(), &email).unwrap_err().to_string();
        assert!(e.contains("recipient"), "{e}");
    }
}
