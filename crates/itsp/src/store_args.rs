//! `--data-dir` and `--db`: where the store is. Shared by the admin commands and (later)
//! `itsp serve`; flatten [`StoreArgs`] into a command's arguments with
//! `#[command(flatten)]`.
//!
//! By default the store is the SQLite file `itsp.db` in the data directory `./data`
//! (created if missing); `--db URL` names any database `store::Store::open` accepts
//! instead: `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`. Messages show a
//! PostgreSQL URL with its password replaced by `***`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

/// The name of the SQLite database file inside the data directory.
const DB_FILE: &str = "itsp.db";

/// Where the store is: the SQLite file in `--data-dir`, or the database at `--db`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Store")]
pub(crate) struct StoreArgs {
    /// Directory of the SQLite database file itsp.db (created if missing).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./data",
        env = "ITSP_DATA_DIR",
        hide_env_values = true,
        global = true
    )]
    pub(crate) data_dir: PathBuf,
    /// Database URL, instead of the file in --data-dir: sqlite://PATH (relative),
    /// sqlite:///ABS/PATH, or postgres://USER:PASSWORD@HOST/DB. Prefer the ITSP_DB
    /// variable for a URL with a password: the command line shows in `ps`.
    #[arg(
        long,
        value_name = "URL",
        env = "ITSP_DB",
        hide_env_values = true,
        global = true
    )]
    pub(crate) db: Option<String>,
}

impl StoreArgs {
    /// The database URL: `--db` as given, else `sqlite://{data_dir}/itsp.db?mode=rwc`
    /// (`sqlite://./data/...` for a relative directory, `sqlite:///abs/...` for an
    /// absolute one).
    pub(crate) fn url(&self) -> String {
        match &self.db {
            Some(url) => url.clone(),
            None => sqlite_url(&self.data_dir.join(DB_FILE)),
        }
    }

    /// Says which store this is, for messages: the data directory, or the URL without its
    /// password.
    pub(crate) fn describe(&self) -> String {
        match &self.db {
            Some(url) => format!("at {}", redact(url)),
            None => format!(
                "in data directory {} (file {})",
                self.data_dir.display(),
                self.data_dir.join(DB_FILE).display()
            ),
        }
    }

    /// Opens the store (creating and migrating it as needed); the error names the data
    /// directory or the URL (never its password). A `store::StoreError` stays reachable
    /// through `downcast_ref`.
    pub(crate) async fn open(&self) -> anyhow::Result<store::Store> {
        if self.db.is_none() && self.data_dir.to_str().is_none() {
            anyhow::bail!(
                "the data directory {} is not valid UTF-8: choose another --data-dir",
                self.data_dir.display()
            );
        }
        store::Store::open(&self.url())
            .await
            .with_context(|| format!("cannot open the store {}", self.describe()))
    }
}

/// The SQLite URL of the file `path`. The characters a SQLite URL gives a meaning to
/// (`?` starts the options, `%` an escape, `:` a scheme) are %-escaped; sqlx decodes them.
fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for c in path.display().to_string().chars() {
        match c {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            ':' => url.push_str("%3A"),
            c => url.push(c),
        }
    }
    url.push_str("?mode=rwc");
    url
}

/// `url` with the password (in `user:password@` or a `password=` option) replaced by
/// `***`. Errs on the side of hiding: everything between the user name and the last `@`
/// goes, so a password with a stray `/`, `?` or `@` in it never shows.
fn redact(url: &str) -> String {
    let url = match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        },
        None => url.to_owned(),
    };
    let Some((base, query)) = url.split_once('?') else {
        return url;
    };
    let options: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.to_ascii_lowercase().contains("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", options.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(data_dir: &str, db: Option<&str>) -> StoreArgs {
        StoreArgs {
            data_dir: PathBuf::from(data_dir),
            db: db.map(str::to_owned),
        }
    }

    #[test]
    fn url_from_the_data_dir() {
        assert_eq!(
            args("./data", None).url(),
            "sqlite://./data/itsp.db?mode=rwc"
        );
        assert_eq!(
            args("var/itsp/", None).url(),
            "sqlite://var/itsp/itsp.db?mode=rwc"
        );
        assert_eq!(
            args("/srv/itsp", None).url(),
            "sqlite:///srv/itsp/itsp.db?mode=rwc"
        );
        assert_eq!(
            args("/tmp/a?b%c:d", None).url(),
            "sqlite:///tmp/a%3Fb%25c%3Ad/itsp.db?mode=rwc"
        );
        assert_eq!(
            args("./data", Some("postgres://db/itsp")).url(),
            "postgres://db/itsp"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        for (url, shown) in [
            (
                "postgres://itsp:hunter2@db.example:5432/itsp",
                "postgres://itsp:***@db.example:5432/itsp",
            ),
            (
                "postgres://itsp:p@ss@db/itsp?sslmode=require",
                "postgres://itsp:***@db/itsp?sslmode=require",
            ),
            (
                "postgres:///itsp?host=/run/pg&user=u&password=hunter2",
                "postgres:///itsp?host=/run/pg&user=u&password=***",
            ),
            ("postgres://u:pa/ss?x@db/itsp", "postgres://u:***@db/itsp"),
            ("postgres://itsp@db/itsp", "postgres://itsp@db/itsp"),
            (
                "sqlite://data/itsp.db?mode=rwc",
                "sqlite://data/itsp.db?mode=rwc",
            ),
        ] {
            assert_eq!(redact(url), shown);
            assert_eq!(args(".", Some(url)).describe(), format!("at {shown}"));
        }
    }

    #[tokio::test]
    async fn open_names_the_store_without_the_password() {
        let e = args(".", Some("mysql://u:hunter2@db/itsp"))
            .open()
            .await
            .unwrap_err();
        let text = format!("{e:#}");
        assert!(text.contains("mysql://u:***@db/itsp"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(e.downcast_ref::<store::StoreError>().is_some());
    }
}
