//! `itsp user set|show`: a subscriber's preferences (call forwarding now), and everything
//! the store holds about one subscriber.

use std::collections::BTreeMap;

use serde_json::json;
use store::{Address, PreferenceSpec, Store, StoreError, PREFERENCES};

use super::output::{utc, Report};
use super::{address, with_store, Failure};
use crate::store_args::StoreArgs;

/// The preference names with their meaning, for `itsp user set --help`.
pub(super) fn names_help() -> String {
    let width = PREFERENCES.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut text = String::from("Preferences:\n");
    for p in PREFERENCES {
        text.push_str(&format!("  {:<width$}  {}\n", p.name, p.help));
    }
    text
}

/// One `NAME=VALUE` argument, checked: the preference and its value as stored, `None` to
/// clear it.
fn parse_setting(arg: &str) -> Result<(&'static str, Option<String>), Failure> {
    let (name, value) = arg.split_once('=').ok_or_else(|| {
        Failure::user(format!(
            "{arg:?} is not NAME=VALUE (e.g. forward-busy=sip:bob@example.com, or \
             forward-busy= to clear it)"
        ))
    })?;
    let spec = PreferenceSpec::find(name)?;
    let value = match value {
        "" => None,
        v => Some(spec.check(v)?),
    };
    Ok((spec.name, value))
}

/// Turns "no such user" into advice when the address is an alias.
async fn explain_no_such_user(s: &Store, a: &Address, e: StoreError) -> Failure {
    if let StoreError::NoSuchUser(_) = e {
        if let Ok(Some(target)) = s.resolve(&a.user, &a.domain).await {
            let hint = format!("it is an alias of {target}: use that address");
            return Failure::user(format!("no such user: {a}")).hint(&hint);
        }
    }
    e.into()
}

/// `itsp user set USER NAME=VALUE...`: sets and clears in one transaction.
pub(super) async fn set(
    store: &StoreArgs,
    user: &str,
    settings: &[String],
) -> Result<Report, Failure> {
    let a = address(user)?;
    let mut changes: Vec<(&'static str, Option<String>)> = Vec::new();
    for arg in settings {
        let (name, value) = parse_setting(arg)?;
        if changes.iter().any(|(n, _)| *n == name) {
            return Err(Failure::user(format!("{name} is given twice")));
        }
        changes.push((name, value));
    }
    with_store(store, async |s| {
        let list: Vec<(&str, Option<&str>)> =
            changes.iter().map(|(n, v)| (*n, v.as_deref())).collect();
        if let Err(e) = s.set_preferences(&a.user, &a.domain, &list).await {
            return Err(explain_no_such_user(s, &a, e).await);
        }
        let mut set = serde_json::Map::new();
        let mut cleared = Vec::new();
        let mut said = Vec::new();
        for (name, value) in &changes {
            match value {
                Some(v) => {
                    said.push(format!("{name}={v}"));
                    set.insert((*name).to_owned(), json!(v));
                }
                None => {
                    said.push(format!("{name} cleared"));
                    cleared.push(*name);
                }
            }
        }
        Ok(Report::done(
            format!("{a}: {}", said.join(", ")),
            json!({ "user": a.to_string(), "set": set, "cleared": cleared }),
        ))
    })
    .await
}

/// `itsp user show USER`: the subscriber (never its HA1s), aliases, groups, preferences.
pub(super) async fn show(store: &StoreArgs, user: &str) -> Result<Report, Failure> {
    let a = address(user)?;
    with_store(store, async |s| {
        let Some(sub) = s.subscriber(&a.user, &a.domain).await? else {
            return Err(explain_no_such_user(s, &a, StoreError::NoSuchUser(a.to_string())).await);
        };
        let aliases: Vec<String> = s
            .aliases_of(&a.user, &a.domain)
            .await?
            .iter()
            .map(Address::to_string)
            .collect();
        let groups = s.groups(&a.user, &a.domain).await?;
        let preferences: BTreeMap<String, String> = s.preferences(&a.user, &a.domain).await?;
        let list = |items: &[String]| match items {
            [] => "-".to_owned(),
            _ => items.join(", "),
        };
        let mut lines = vec![
            ("user".to_owned(), sub.address.to_string()),
            (
                "email".to_owned(),
                sub.email.clone().unwrap_or_else(|| "-".into()),
            ),
            ("created".to_owned(), utc(sub.created_at)),
            ("aliases".to_owned(), list(&aliases)),
            ("groups".to_owned(), list(&groups)),
        ];
        for p in PREFERENCES {
            let value = preferences
                .get(p.name)
                .cloned()
                .unwrap_or_else(|| "-".into());
            lines.push((p.name.to_owned(), value));
        }
        Ok(Report::Record {
            lines,
            json: json!({
                "user": sub.address.to_string(),
                "email": sub.email,
                "created": utc(sub.created_at),
                "created_at": sub.created_at,
                "aliases": aliases,
                "groups": groups,
                "preferences": preferences,
            }),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings() {
        assert_eq!(
            parse_setting("no-answer-after=020").unwrap(),
            ("no-answer-after", Some("20".to_owned()))
        );
        assert_eq!(
            parse_setting("forward-busy=").unwrap(),
            ("forward-busy", None)
        );
        assert_eq!(
            parse_setting("forward-always=sip:a=b@example.com")
                .unwrap()
                .1
                .as_deref(),
            Some("sip:a=b@example.com")
        );
        for bad in ["forward-busy", "forward=sip:a@b", "forward-busy=bob", "=x"] {
            assert_eq!(parse_setting(bad).unwrap_err().code, 1, "{bad}");
        }
        let help = names_help();
        assert!(
            help.contains("  no-answer-after    seconds of ringing"),
            "{help}"
        );
    }
}
