//! Per-subscriber preferences (Kamailio's `usr_preferences`): named values of a subscriber,
//! deleted with it. The names are a fixed list, [`PREFERENCES`], each with its own check of
//! the value, so the proxy can trust what it reads. Call forwarding
//! and voicemail on/off are read together ([`Store::forwarding`]); prepaid settings join
//! the list later.

use std::collections::BTreeMap;

use crate::{on_pool, Address, Store, StoreError};

/// Forward every call to this URI (`sip:`, `sips:` or `tel:`).
pub const FORWARD_ALWAYS: &str = "forward-always";
/// Forward to this URI when every contact answers 486 Busy Here (or 600 Busy Everywhere).
pub const FORWARD_BUSY: &str = "forward-busy";
/// Forward to this URI when nobody answers within [`NO_ANSWER_AFTER`] seconds.
pub const FORWARD_NO_ANSWER: &str = "forward-no-answer";
/// Seconds of ringing before [`FORWARD_NO_ANSWER`] applies, 1 to 600.
pub const NO_ANSWER_AFTER: &str = "no-answer-after";

/// `on`: calls that fail (busy, not answered, no phone registered) go to the subscriber's
/// voicemail, and the owner's mailbox takes messages.
pub const VOICEMAIL: &str = "voicemail";

/// Where voicemail messages are e-mailed (see [`VM_DELIVERY`]); without it, the
/// subscriber's own e-mail address ([`crate::Subscriber::email`]).
pub const VM_EMAIL: &str = "vm-email";
/// What happens to a new voicemail message: [`VM_DELIVERY_STORE`] (the default),
/// [`VM_DELIVERY_EMAIL`] or [`VM_DELIVERY_BOTH`].
pub const VM_DELIVERY: &str = "vm-delivery";
/// [`VM_DELIVERY`]: kept in the mailbox only.
pub const VM_DELIVERY_STORE: &str = "store";
/// [`VM_DELIVERY`]: e-mailed with the WAV attached, then deleted once sent
/// (`attach_and_delete`).
pub const VM_DELIVERY_EMAIL: &str = "email";
/// [`VM_DELIVERY`]: e-mailed and kept in the mailbox (`attach_and_keep`).
pub const VM_DELIVERY_BOTH: &str = "both";

/// The PIN that opens the subscriber's mailbox from another phone (4 to 10 digits; the
/// media service's voicemail menu, which can change it). Without it, the mailbox opens from
/// the owner's own phones only.
pub const VM_PIN: &str = "vm-pin";

/// What a preference's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PreferenceKind {
    /// A `sip:`, `sips:` or `tel:` URI, as `sip::Uri::parse` accepts it.
    TargetUri,
    /// A whole number of seconds in `min..=max`.
    Seconds {
        /// The smallest value accepted.
        min: u32,
        /// The largest value accepted.
        max: u32,
    },
    /// `on` or `off` (also `yes`/`no`, `true`/`false`, `1`/`0`), stored as `on`/`off`.
    OnOff,
    /// An e-mail address `local@domain`, checked as a subscriber's is.
    Email,
    /// One of these words (case ignored, stored in lower case).
    Choice(&'static [&'static str]),
    /// Decimal digits only, `min..=max` of them (a PIN; leading zeros kept).
    Digits {
        /// The fewest digits accepted.
        min: usize,
        /// The most digits accepted.
        max: usize,
    },
}

/// A preference the store knows: its name, its kind of value, and a line of help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreferenceSpec {
    /// The name, as stored and as typed on the command line.
    pub name: &'static str,
    /// What the value must be.
    pub kind: PreferenceKind,
    /// One line for people.
    pub help: &'static str,
}

/// Every preference name the store accepts, in the order tools list them.
pub const PREFERENCES: &[PreferenceSpec] = &[
    PreferenceSpec {
        name: FORWARD_ALWAYS,
        kind: PreferenceKind::TargetUri,
        help: "forward every call to this URI",
    },
    PreferenceSpec {
        name: FORWARD_BUSY,
        kind: PreferenceKind::TargetUri,
        help: "forward to this URI when busy",
    },
    PreferenceSpec {
        name: FORWARD_NO_ANSWER,
        kind: PreferenceKind::TargetUri,
        help: "forward to this URI when not answered",
    },
    PreferenceSpec {
        name: NO_ANSWER_AFTER,
        kind: PreferenceKind::Seconds { min: 1, max: 600 },
        help: "seconds of ringing before forward-no-answer (or voicemail) applies (1 to 600)",
    },
    PreferenceSpec {
        name: VOICEMAIL,
        kind: PreferenceKind::OnOff,
        help: "on: calls not answered, busy or offline go to voicemail",
    },
    PreferenceSpec {
        name: VM_EMAIL,
        kind: PreferenceKind::Email,
        help: "e-mail address voicemail messages are sent to (else the subscriber's e-mail)",
    },
    PreferenceSpec {
        name: VM_DELIVERY,
        kind: PreferenceKind::Choice(&[VM_DELIVERY_STORE, VM_DELIVERY_EMAIL, VM_DELIVERY_BOTH]),
        help:
            "voicemail: store (keep in the mailbox), email (send with the WAV, then delete), both",
    },
    PreferenceSpec {
        name: VM_PIN,
        kind: PreferenceKind::Digits { min: 4, max: 10 },
        help: "voicemail PIN (4 to 10 digits): the mailbox from any phone (voicemail-login)",
    },
];

/// The known names, comma-separated, for messages.
pub(crate) fn names() -> String {
    let names: Vec<&str> = PREFERENCES.iter().map(|p| p.name).collect();
    names.join(", ")
}

impl PreferenceSpec {
    /// The preference called `name`; [`StoreError::UnknownPreference`] lists the known ones.
    pub fn find(name: &str) -> Result<&'static PreferenceSpec, StoreError> {
        PREFERENCES
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| StoreError::UnknownPreference(name.to_owned()))
    }

    /// Checks `value` and returns it as stored (numbers without leading zeros).
    pub fn check(&self, value: &str) -> Result<String, StoreError> {
        let bad = |reason: String| StoreError::BadPreference {
            name: self.name,
            reason,
        };
        match self.kind {
            PreferenceKind::TargetUri => {
                let uri = sip::Uri::parse(value)
                    .map_err(|e| bad(format!("{value:?} is not a URI ({e})")))?;
                if matches!(uri, sip::Uri::Absolute(_)) {
                    return Err(bad(format!("{value:?} is not a sip:, sips: or tel: URI")));
                }
                Ok(value.to_owned())
            }
            PreferenceKind::OnOff => match value.to_ascii_lowercase().as_str() {
                "on" | "yes" | "true" | "1" => Ok("on".into()),
                "off" | "no" | "false" | "0" => Ok("off".into()),
                _ => Err(bad(format!("{value:?} is not on or off"))),
            },
            PreferenceKind::Email => match crate::subscribers::check_email(Some(value)) {
                Ok(_) => Ok(value.to_owned()),
                Err(_) => Err(bad(format!("{value:?} is not an e-mail address"))),
            },
            PreferenceKind::Choice(words) => {
                let lower = value.to_ascii_lowercase();
                match words.iter().find(|w| **w == lower) {
                    Some(w) => Ok((*w).to_owned()),
                    None => Err(bad(format!("{value:?} is not one of {}", words.join(", ")))),
                }
            }
            PreferenceKind::Digits { min, max } => {
                if (min..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(value.to_owned())
                } else {
                    Err(bad(format!("it must be {min} to {max} digits")))
                }
            }
            PreferenceKind::Seconds { min, max } => match value.parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
                _ => Err(bad(format!(
                    "{value:?} is not a number of seconds from {min} to {max}"
                ))),
            },
        }
    }
}

/// The call forwarding settings of a subscriber; every field `None` when none is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forwarding {
    /// [`FORWARD_ALWAYS`]: forward every call here.
    pub always: Option<String>,
    /// [`FORWARD_BUSY`]: forward here when busy.
    pub busy: Option<String>,
    /// [`FORWARD_NO_ANSWER`]: forward here when not answered.
    pub no_answer: Option<String>,
    /// [`NO_ANSWER_AFTER`]: seconds of ringing before `no_answer` applies (the proxy's
    /// default when `None`).
    pub no_answer_after: Option<u32>,
    /// [`VOICEMAIL`] is `on`: failed calls go to the subscriber's voicemail.
    pub voicemail: bool,
}

/// One change of [`Store::set_preferences`]: a name and its new value, `None` to clear it.
pub type PreferenceChange<'a> = (&'a str, Option<&'a str>);

impl Store {
    /// Sets or clears several preferences of the subscriber `user@domain` in one
    /// transaction, after checking every name and value (nothing changes if one is bad).
    /// Clearing a preference that is not set is no error.
    pub async fn set_preferences(
        &self,
        user: &str,
        domain: &str,
        changes: &[PreferenceChange<'_>],
    ) -> Result<(), StoreError> {
        let a = Address::new(user, domain)?;
        let mut checked = Vec::with_capacity(changes.len());
        for (name, value) in changes {
            let spec = PreferenceSpec::find(name)?;
            checked.push((spec.name, value.map(|v| spec.check(v)).transpose()?));
        }
        let found = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM subscribers WHERE username = $1 AND domain = $2",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(id) = id {
                for (name, value) in &checked {
                    let q = match value {
                        Some(v) => sqlx::query(
                            "INSERT INTO preferences (subscriber_id, name, value)
                             VALUES ($1, $2, $3)
                             ON CONFLICT (subscriber_id, name) DO UPDATE SET value = excluded.value",
                        )
                        .bind(id)
                        .bind(*name)
                        .bind(v),
                        None => sqlx::query(
                            "DELETE FROM preferences WHERE subscriber_id = $1 AND name = $2",
                        )
                        .bind(id)
                        .bind(*name),
                    };
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            id.is_some()
        });
        if !found {
            return Err(StoreError::NoSuchUser(a.to_string()));
        }
        tracing::info!(user = %a, changes = checked.len(), "preferences changed");
        Ok(())
    }

    /// Sets one preference of `user@domain` (see [`Store::set_preferences`]).
    pub async fn set_preference(
        &self,
        user: &str,
        domain: &str,
        name: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        self.set_preferences(user, domain, &[(name, Some(value))])
            .await
    }

    /// Clears one preference of `user@domain`; `Ok(false)` if it was not set.
    pub async fn remove_preference(
        &self,
        user: &str,
        domain: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let a = Address::new(user, domain)?;
        let name = PreferenceSpec::find(name)?.name;
        self.remove_named("preferences", &a, name).await
    }

    /// The preferences set for `user@domain`, by name.
    pub async fn preferences(
        &self,
        user: &str,
        domain: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let a = Address::new(user, domain)?;
        let rows = self.preference_rows(&a).await?;
        if rows.is_empty() {
            self.ensure_subscriber(&a).await?;
        }
        Ok(rows.into_iter().collect())
    }

    /// The call forwarding of the subscriber `user@domain` (resolve an alias first with
    /// [`Store::resolve`]): one indexed query, for the proxy, which keeps the answers until
    /// the preferences' change counter ([`Store::table_version`]) moves. Empty when
    /// nothing is set, also for unknown users and malformed input.
    pub async fn forwarding(&self, user: &str, domain: &str) -> Result<Forwarding, StoreError> {
        let Ok(a) = Address::new(user, domain) else {
            return Ok(Forwarding::default());
        };
        let mut f = Forwarding::default();
        for (name, value) in self.preference_rows(&a).await? {
            match name.as_str() {
                FORWARD_ALWAYS => f.always = Some(value),
                FORWARD_BUSY => f.busy = Some(value),
                FORWARD_NO_ANSWER => f.no_answer = Some(value),
                NO_ANSWER_AFTER => {
                    let seconds = value
                        .parse()
                        .map_err(|_| StoreError::Corrupt("preferences.no-answer-after"))?;
                    f.no_answer_after = Some(seconds);
                }
                VOICEMAIL => f.voicemail = value == "on",
                _ => {}
            }
        }
        Ok(f)
    }

    /// Every (name, value) of `a`, sorted by name; empty for an unknown subscriber.
    async fn preference_rows(&self, a: &Address) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT p.name, p.value FROM preferences p
                   JOIN subscribers s ON s.id = p.subscriber_id
                 WHERE s.username = $1 AND s.domain = $2 ORDER BY p.name",
            )
            .bind(&a.user)
            .bind(&a.domain)
            .fetch_all(pool)
            .await?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        let busy = PreferenceSpec::find(FORWARD_BUSY).unwrap();
        for good in [
            "sip:bob@example.com",
            "sips:bob@example.com:5061;transport=tls",
            "tel:+4684567890",
        ] {
            assert_eq!(busy.check(good).unwrap(), good);
        }
        for bad in [
            "",
            "bob@example.com",
            "mailto:bob@example.com",
            "sip:",
            "sip:a b",
        ] {
            let e = busy.check(bad).unwrap_err();
            assert!(matches!(e, StoreError::BadPreference { .. }), "{bad}: {e}");
        }
        let after = PreferenceSpec::find(NO_ANSWER_AFTER).unwrap();
        assert_eq!(after.check("020").unwrap(), "20");
        assert_eq!(after.check("600").unwrap(), "600");
        for bad in ["0", "601", "-1", "20s", "", " 20"] {
            assert!(after.check(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = PreferenceSpec::find("forward").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown preference \"forward\": the names are forward-always, forward-busy, \
             forward-no-answer, no-answer-after, voicemail, vm-email, vm-delivery, vm-pin"
        );
        let vm = PreferenceSpec::find(VOICEMAIL).unwrap();
        assert_eq!(vm.check("ON").unwrap(), "on");
        assert_eq!(vm.check("0").unwrap(), "off");
        assert!(vm.check("maybe").is_err());
    }

    #[test]
    fn e_mail_addresses_and_voicemail_delivery_are_checked() {
        let email = PreferenceSpec::find(VM_EMAIL).unwrap();
        for good in ["alice@mail.example", "a.b+vm@x.example.com"] {
            assert_eq!(email.check(good).unwrap(), good);
        }
        for bad in [
            "",
            "alice",
            "alice@",
            "@mail.example",
            "alice@localhost",
            "Alice <alice@mail.example>",
            "alice@mail.example\r\nBcc: x@y.example",
        ] {
            assert!(email.check(bad).is_err(), "{bad}");
        }
        let delivery = PreferenceSpec::find(VM_DELIVERY).unwrap();
        assert_eq!(delivery.check("Both").unwrap(), "both");
        assert_eq!(delivery.check("email").unwrap(), "email");
        let e = delivery.check("mail").unwrap_err().to_string();
        assert!(e.contains("store, email, both"), "{e}");
    }

    #[test]
    fn a_voicemail_pin_is_four_to_ten_digits_and_never_echoed() {
        let pin = PreferenceSpec::find(VM_PIN).unwrap();
        assert_eq!(pin.check("0042").unwrap(), "0042");
        assert_eq!(pin.check("1234567890").unwrap(), "1234567890");
        for bad in [
            "",
            "123",
            "12345678901",
            "12a4",
            "+1234",
            " 1234",
            "１２３４",
        ] {
            let e = pin.check(bad).unwrap_err().to_string();
            assert!(e.contains("4 to 10 digits"), "{e}");
            assert!(bad.trim().is_empty() || !e.contains(bad), "{e}");
        }
    }
}
