//! The texts of the e-mails: plain text with `{name}` placeholders (`{{` and `}}` for a
//! brace). A template is a `Subject:` line, an empty line, then the body. Each has a
//! built-in default; a file of the same name in the templates directory (`[smtp]
//! templates`) replaces it. A placeholder the template's e-mail does not know is an error
//! when the file is read, naming the file, not a surprise in a customer's mailbox.

use std::path::Path;

use crate::MailError;

/// The low-balance notice: file name in the templates directory.
pub const LOW_BALANCE: &str = "low-balance.txt";
/// Placeholders of [`LOW_BALANCE`]: the account (`user@domain`), its balance, the
/// threshold it fell below, the currency, the time (RFC 3339 and a readable form).
pub const LOW_BALANCE_FIELDS: &[&str] = &[
    "account",
    "balance",
    "threshold",
    "currency",
    "time",
    "time_readable",
];
/// A voicemail message: file name in the templates directory.
pub const VOICEMAIL: &str = "voicemail.txt";
/// Placeholders of [`VOICEMAIL`]: the mailbox (`user@domain`), the caller (From URI), the
/// time it was left (RFC 3339 and a readable form), its length (`m:ss` and in seconds).
pub const VOICEMAIL_FIELDS: &[&str] = &[
    "mailbox",
    "caller",
    "time",
    "time_readable",
    "duration",
    "duration_seconds",
];

/// A forgotten web password: file name in the templates directory.
pub const PASSWORD_RESET: &str = "password-reset.txt";
/// Placeholders of [`PASSWORD_RESET`]: the account (`user@domain`), the link that sets a
/// new web password, how many minutes it works.
pub const PASSWORD_RESET_FIELDS: &[&str] = &["account", "link", "valid_minutes"];

/// A self-registration's confirmation: file name in the templates directory.
pub const SIGNUP: &str = "signup.txt";
/// Placeholders of [`SIGNUP`]: the account asked for (`user@domain`), the link that
/// creates it, how many hours it works.
pub const SIGNUP_FIELDS: &[&str] = &["account", "link", "valid_hours"];

const BUILT_IN_LOW_BALANCE: &str = "\
Subject: Your balance is low: {balance} {currency}

Hello,

the balance of your account {account} is {balance} {currency}, below {threshold} {currency}.
Please top up your account to keep calling.

This notice was sent at {time_readable} ({time}). You get it once each time the balance
falls below {threshold} {currency}.
";

const BUILT_IN_VOICEMAIL: &str = "\
Subject: New voicemail from {caller} ({duration})

You have a new voicemail message in the mailbox {mailbox}.

From:     {caller}
Received: {time_readable} ({time})
Length:   {duration} ({duration_seconds} s)

The recording is attached as a WAV file.
";

const BUILT_IN_PASSWORD_RESET: &str = "\
Subject: Set a new web password for {account}

Hello,

someone, hopefully you, asked to set a new web password for {account}. Open this link
to choose one:

{link}

The link works once, for {valid_minutes} minutes. If you did not ask, ignore this e-mail:
your password stays as it is.
";

const BUILT_IN_SIGNUP: &str = "\
Subject: Confirm your new account {account}

Hello,

someone, hopefully you, asked for the account {account} with this e-mail address. Open
this link to create it:

{link}

The link works once, for {valid_hours} hours. If you did not ask, ignore this e-mail: no
account is made.
";

/// Pieces of a template: text, or the index of a placeholder in its field list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(usize),
}

/// One e-mail's text with its placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    fields: &'static [&'static str],
    subject: Vec<Piece>,
    body: Vec<Piece>,
}

impl Template {
    /// Reads `text` (`Subject: ...`, an empty line, the body) whose placeholders must be
    /// among `fields`; `file` names it in errors.
    pub fn parse(
        file: &str,
        text: &str,
        fields: &'static [&'static str],
    ) -> Result<Template, MailError> {
        let bad = |reason: String| MailError::Template {
            file: file.to_owned(),
            reason,
        };
        let text = text.replace("\r\n", "\n");
        let (first, body) = text.split_once('\n').unwrap_or((&text, ""));
        let subject = first
            .strip_prefix("Subject:")
            .ok_or_else(|| bad("the first line must be \"Subject: ...\"".into()))?
            .trim();
        let body = body
            .strip_prefix('\n')
            .ok_or_else(|| bad("an empty line must follow the Subject line".into()))?;
        Ok(Template {
            fields,
            subject: pieces(subject, fields).map_err(&bad)?,
            body: pieces(body, fields).map_err(&bad)?,
        })
    }

    /// The subject and body with each placeholder replaced by its value in `values`
    /// (`(name, value)`; a field without a value becomes empty).
    pub fn render(&self, values: &[(&str, &str)]) -> (String, String) {
        let fill = |pieces: &[Piece]| {
            let mut out = String::new();
            for p in pieces {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Field(i) => {
                        let name = self.fields.get(*i).copied().unwrap_or_default();
                        if let Some((_, v)) = values.iter().find(|(n, _)| *n == name) {
                            out.push_str(v);
                        }
                    }
                }
            }
            out
        };
        (fill(&self.subject), fill(&self.body))
    }
}

/// Splits `text` at its placeholders.
fn pieces(text: &str, fields: &[&str]) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        literal.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            literal.push_str(&tail[..1]);
            rest = after;
            continue;
        }
        let Some(inner) = tail.strip_prefix('{') else {
            return Err("a lone } (write }} for a brace)".into());
        };
        let end = inner
            .find('}')
            .ok_or_else(|| "a { without its } (write {{ for a brace)".to_owned())?;
        let name = &inner[..end];
        let index = fields.iter().position(|f| *f == name).ok_or_else(|| {
            format!(
                "unknown placeholder {{{name}}}: this e-mail knows {}",
                fields
                    .iter()
                    .map(|f| format!("{{{f}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
        if !literal.is_empty() {
            out.push(Piece::Text(std::mem::take(&mut literal)));
        }
        out.push(Piece::Field(index));
        rest = &inner[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        out.push(Piece::Text(literal));
    }
    Ok(out)
}

/// The templates of every e-mail itsp sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    /// [`LOW_BALANCE`].
    pub low_balance: Template,
    /// [`VOICEMAIL`].
    pub voicemail: Template,
    /// [`PASSWORD_RESET`].
    pub password_reset: Template,
    /// [`SIGNUP`].
    pub signup: Template,
}

impl Templates {
    /// The built-in texts.
    pub fn built_in() -> Templates {
        // The built-in texts use only their own fields (a test checks): never an error.
        let parse = |name: &str, text: &str, fields| {
            Template::parse(name, text, fields).unwrap_or_else(|_| Template {
                fields,
                subject: Vec::new(),
                body: vec![Piece::Text(text.to_owned())],
            })
        };
        Templates {
            low_balance: parse(LOW_BALANCE, BUILT_IN_LOW_BALANCE, LOW_BALANCE_FIELDS),
            voicemail: parse(VOICEMAIL, BUILT_IN_VOICEMAIL, VOICEMAIL_FIELDS),
            password_reset: parse(
                PASSWORD_RESET,
                BUILT_IN_PASSWORD_RESET,
                PASSWORD_RESET_FIELDS,
            ),
            signup: parse(SIGNUP, BUILT_IN_SIGNUP, SIGNUP_FIELDS),
        }
    }

    /// The built-in texts with those `dir` has a file for ([`LOW_BALANCE`],
    /// [`VOICEMAIL`], [`PASSWORD_RESET`], [`SIGNUP`]) replaced. A file that cannot be read or used is an error naming it.
    pub fn load(dir: Option<&Path>) -> Result<Templates, MailError> {
        let mut t = Templates::built_in();
        let Some(dir) = dir else {
            return Ok(t);
        };
        if !dir.is_dir() {
            return Err(MailError::Template {
                file: dir.display().to_string(),
                reason: "not a directory".into(),
            });
        }
        for (name, fields, slot) in [
            (LOW_BALANCE, LOW_BALANCE_FIELDS, &mut t.low_balance),
            (VOICEMAIL, VOICEMAIL_FIELDS, &mut t.voicemail),
            (PASSWORD_RESET, PASSWORD_RESET_FIELDS, &mut t.password_reset),
            (SIGNUP, SIGNUP_FIELDS, &mut t.signup),
        ] {
            let path = dir.join(name);
            let file = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => *slot = Template::parse(&file, &text, fields)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(MailError::Template {
                        file,
                        reason: e.to_string(),
                    })
                }
            }
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_built_in_texts_parse_and_fill_in() {
        Template::parse(LOW_BALANCE, BUILT_IN_LOW_BALANCE, LOW_BALANCE_FIELDS).unwrap();
        Template::parse(VOICEMAIL, BUILT_IN_VOICEMAIL, VOICEMAIL_FIELDS).unwrap();
        Template::parse(
            PASSWORD_RESET,
            BUILT_IN_PASSWORD_RESET,
            PASSWORD_RESET_FIELDS,
        )
        .unwrap();
        Template::parse(SIGNUP, BUILT_IN_SIGNUP, SIGNUP_FIELDS).unwrap();
        let t = Templates::built_in();
        let (subject, body) = t.signup.render(&[
            ("account", "dave@example.com"),
            ("link", "http://portal/signup/confirm?token=x"),
            ("valid_hours", "24"),
        ]);
        assert_eq!(subject, "Confirm your new account dave@example.com");
        assert!(
            body.contains("http://portal/signup/confirm?token=x"),
            "{body}"
        );
        let (subject, body) = t.low_balance.render(&[
            ("account", "alice@example.com"),
            ("balance", "0.50"),
            ("threshold", "1.00"),
            ("currency", "EUR"),
            ("time", "2024-05-01T12:00:00Z"),
            ("time_readable", "Wed, 01 May 2024 12:00:00 GMT"),
        ]);
        assert_eq!(subject, "Your balance is low: 0.50 EUR");
        assert!(
            body.contains("alice@example.com is 0.50 EUR, below 1.00 EUR"),
            "{body}"
        );
        let (subject, _) = t
            .voicemail
            .render(&[("caller", "sip:bob@example.com"), ("duration", "0:42")]);
        assert_eq!(subject, "New voicemail from sip:bob@example.com (0:42)");
        let (subject, body) = t.password_reset.render(&[
            ("account", "alice@example.com"),
            (
                "link",
                "https://portal.example.com/password/reset?token=itspr_x",
            ),
            ("valid_minutes", "60"),
        ]);
        assert_eq!(subject, "Set a new web password for alice@example.com");
        assert!(
            body.contains("\nhttps://portal.example.com/password/reset?token=itspr_x\n")
                && body.contains("for 60 minutes"),
            "{body}"
        );
    }

    #[test]
    fn files_replace_the_built_in_texts_and_errors_name_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(VOICEMAIL),
            "Subject: Voicemail {{{caller}}}\r\n\r\n{duration_seconds}s}}\n",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        assert_eq!(t.low_balance, Templates::built_in().low_balance);
        let (s, b) = t
            .voicemail
            .render(&[("caller", "c"), ("duration_seconds", "42")]);
        assert_eq!((s.as_str(), b.as_str()), ("Voicemail {c}", "42s}\n"));

        for (text, reason) in [
            (
                "Subject: {balance}\n\nbody\n",
                "unknown placeholder {balance}",
            ),
            ("Hello\n\nbody\n", "Subject"),
            ("Subject: x\nbody\n", "empty line"),
            ("Subject: x\n\n{caller\n", "without its }"),
        ] {
            std::fs::write(dir.path().join(VOICEMAIL), text).unwrap();
            let e = Templates::load(Some(dir.path())).unwrap_err().to_string();
            assert!(e.contains("voicemail.txt") && e.contains(reason), "{e}");
        }
        let e = Templates::load(Some(&dir.path().join("none")))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a directory"), "{e}");
    }
}
