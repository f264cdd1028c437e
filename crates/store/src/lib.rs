//! # store — itsp persistence on SQLite or PostgreSQL
//!
//! One [`Store`] type with one async API over two backends: an embedded SQLite file (the
//! default; `sqlite://PATH`) and PostgreSQL for several nodes sharing one database
//! (`postgres://...`). The schema is created and upgraded by embedded migrations when the
//! store opens. It holds the served domains, the subscribers with their digest HA1 values
//! (never a password in clear), aliases, groups, per-subscriber preferences (call
//! forwarding), the portal's web logins and API tokens, the registrar's location bindings, which the server keeps in memory and
//! writes through here, the proxy's accounting events, live calls and call records, the
//! tariff files, the subscribers' accounts with their ledger, and the issued invoices.
//!
//! ```no_run
//! # async fn f() -> Result<(), store::StoreError> {
//! let store = store::Store::open("sqlite://data/itsp.db?mode=rwc").await?;
//! store.add_domain("example.com").await?;
//! store.add_subscriber("alice", "example.com", "secret", None).await?;
//! let ha1s = store.credentials("alice", "example.com").await?;
//! # Ok(()) }
//! ```
//!
//! ## Layout
//!
//! - `lib.rs`: [`Store`], [`Store::open`] and the backend choice.
//! - `error.rs`: [`StoreError`], variants by who is at fault.
//! - `address.rs`: [`Address`]: `user@domain` validation (the domain through
//!   `sip::uri::Host::parse`).
//! - `domains.rs`: the served domains.
//! - `subscribers.rs`: subscribers, HA1 computation, [`Subscriber`], [`Ha1s`], the
//!   digest lookup [`Store::credentials`].
//! - `aliases.rs`: aliases and [`Store::resolve`].
//! - `groups.rs`: group membership (ACLs such as `international`).
//! - `preferences.rs`: named per-subscriber settings ([`PREFERENCES`], each value checked)
//!   and the typed [`Store::forwarding`] the proxy asks (and caches) for calls.
//! - `locations.rs`: [`Binding`]s of the location service, [`Store::purge_expired`].
//! - `accounting.rs`: the proxy's [`AccEvent`]s (Kamailio's `acc`), appended in batches,
//!   read back through an [`AccFilter`].
//! - `bans.rs`: banned source networks ([`Ban`]; migration `0006`), written by the
//!   server (failed authentications) and `itsp ban`, with a change counter
//!   ([`BANS_TABLE`]).
//! - `accounts.rs`: prepaid and postpaid [`Account`]s of subscribers (kind, plan,
//!   currency, the cached balance, a low-balance threshold); migration `0013`.
//! - `ledger.rs`: the append-only ledger of an account ([`LedgerEntry`], [`EntryKind`]):
//!   exact decimal amounts, the balance moved with them in their transaction, a call's
//!   record and its charge in one ([`Store::record_cdrs_with_ledger`]).
//! - `audit_log.rs`: the log of admin changes, the portal's and the `itsp` command
//!   line's ([`AuditEntry`], who, from where,
//!   what, when; [`Store::record_audit`], [`Store::audit_entries`]); migration `0020`,
//!   which also added the subscribers' `disabled` flag
//!   ([`Store::set_subscriber_disabled`]).
//! - `ledger_check.rs`: the money's consistency check ([`Store::audit_ledger`], `itsp account
//!   check`): cached balances, running balances, and each call's money against its record.
//! - `invoices.rs`: postpaid [`Invoice`]s, issued whole in one transaction with a
//!   gap-free number per month ([`Store::issue_invoice`]), their lines and HTML and PDF
//!   documents, never changed afterwards; migration `0015`.
//! - `low_balance.rs`: which accounts fell below their low-balance threshold, claimed
//!   once per crossing ([`Store::claim_low_balance_notices`]); migration `0016`.
//! - `conference_rooms.rs`: conference rooms the operator configured, with an optional
//!   PIN ([`ConferenceRoom`], `itsp conf add`); migration `0022`.
//! - `calls.rs`: the live [`Call`]s (dialogs in progress) each proxy node writes, for
//!   `itsp calls`.
//! - `signups.rs`: self-registration: the domain setting
//!   ([`Store::set_self_registration`]) and sign-ups waiting for their e-mailed
//!   confirmation, which creates the subscriber with a generated SIP password in one
//!   transaction ([`Store::redeem_signup`]); migration `0021`.
//! - `web_accounts.rs`: the portal's web passwords (argon2id, apart from the HA1
//!   values), the admin flag ([`WebAccount`]) and browser sessions ([`WebSession`]);
//!   migration `0010`.
//! - `api_tokens.rs`: bearer tokens of the REST API ([`ApiToken`]), stored as the
//!   SHA-256 of their secret; migration `0010`.
//! - `secrets.rs`: random secrets, their hashes, argon2id on tokio's blocking threads.
//! - `overview.rs`: subscribers a page at a time ([`Store::subscribers_page`], or those
//!   whose address or e-mail holds a text, [`Store::subscribers_matching`]) and the
//!   [`Totals`] of the system status.
//! - `versions.rs`: change counters of tables bumped by triggers,
//!   [`Store::table_version`] (of [`SUBSCRIBERS_TABLE`] and [`PREFERENCES_TABLE`]), for
//!   callers that cache what they read.
//! - `migrations/sqlite/`, `migrations/postgres/`: the one schema in each dialect.
//!
//! ## Backends
//!
//! [`Store`] wraps either a `SqlitePool` or a `PgPool` and runs the same SQL text on both:
//! statements use `$1`-style parameters, which SQLite also reads as positional, and
//! `INSERT ... ON CONFLICT`, which both speak. `sqlx::Any` was not used: it would hide the
//! per-backend connection settings below and gives no help with the two dialects of DDL.
//!
//! ## Durability
//!
//! SQLite runs in WAL mode with `synchronous=FULL`: every committed transaction is in the
//! WAL file and fsynced before the call returns, so a binding acknowledged by
//! [`Store::upsert_binding`] survives a `kill -9` of the process (true of any
//! `synchronous` setting, as the write reached the kernel) and also a power loss or OS
//! crash (what FULL adds over NORMAL in WAL mode). `busy_timeout` is 5 s and foreign keys
//! are on for every connection. A [`Writer`] (the server's write-behind threads) chooses
//! per use with [`Durability`]: the location bindings may settle for surviving the
//! process (`synchronous=NORMAL`), call records keep FULL.

mod accounting;
mod accounts;
mod address;
mod aliases;
mod api_tokens;
mod audit_log;
mod bans;
mod calls;
mod cdrs;
mod conference_rooms;
mod domains;
mod error;
mod groups;
mod invoices;
mod ledger;
mod ledger_check;
mod locations;
mod low_balance;
mod overview;
mod password_resets;
mod preferences;
mod secrets;
mod signups;
mod subscribers;
mod tariffs;
mod versions;
mod voicemail;
mod web_accounts;
mod writer;

use std::collections::HashMap;
use std::hash::Hash;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use accounting::{AccEvent, AccFilter, AccKind, ENDED_BY};
pub use accounts::{Account, AccountKind};
pub use address::Address;
pub use aliases::Alias;
pub use api_tokens::{ApiToken, MAX_TOKEN_NAME_BYTES, TOKEN_PREFIX};
pub use audit_log::{AuditEntry, AuditFilter, NewAuditEntry, MAX_AUDIT_DETAIL_BYTES};
pub use bans::{canonical_network, Ban, BANS_TABLE};
pub use calls::{Call, CallState, CallWrite};
pub use cdrs::{
    CallMedia, Cdr, CdrFilter, Charge, Disposition, HungUpBy, MediaQuality, MediaUpdate, StoredCdr,
};
pub use conference_rooms::{check_room_name, check_room_pin, ConferenceRoom, MAX_ROOM_NAME_BYTES};
pub use error::StoreError;
pub use invoices::{
    invoice_number, Invoice, InvoiceDocuments, InvoiceFilter, InvoiceLine, IssuedInvoice,
    NewInvoice,
};
pub use ledger::{EntryKind, LedgerEntry, NewEntry};
pub use ledger_check::{Finding, LedgerAudit};
pub use locations::{flags, Binding, BindingWrite};
pub use low_balance::LowBalanceNotice;
pub use overview::Totals;
pub use password_resets::RESET_PREFIX;
pub use preferences::{
    Forwarding, PreferenceChange, PreferenceKind, PreferenceSpec, FORWARD_ALWAYS, FORWARD_BUSY,
    FORWARD_NO_ANSWER, NO_ANSWER_AFTER, PREFERENCES, VOICEMAIL,
};
pub use preferences::{
    VM_DELIVERY, VM_DELIVERY_BOTH, VM_DELIVERY_EMAIL, VM_DELIVERY_STORE, VM_EMAIL, VM_PIN,
};
pub use signups::{generate_sip_password, SIGNUP_PREFIX, SIP_PASSWORD_LEN};
pub use subscribers::{Ha1s, Subscriber, MAX_PASSWORD_BYTES};
pub use tariffs::{TariffFile, TariffFormat};
pub use versions::{
    ACCOUNTS_TABLE, ADDRESSES_TABLE, GROUPS_TABLE, PREFERENCES_TABLE, SUBSCRIBERS_TABLE,
};
pub use voicemail::{MailboxCounts, NewVoicemail, VoicemailMessage, STATUS_NEW, STATUS_SAVED};
pub use web_accounts::{NewSession, WebAccount, WebSession};
pub use writer::{Durability, Writer};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Rows per multi-row statement: at most 15 parameters each stays far below SQLite's limit
/// of 32,766 and PostgreSQL's 65,535.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// How long a SQLite connection waits for another writer before failing.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database: a cheap handle to a connection pool (clone it freely).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// The SQLite database file (`None` for PostgreSQL and in-memory SQLite), for the
    /// [`Writer`]'s own connection.
    sqlite_file: Option<std::sync::Arc<std::path::PathBuf>>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool. The body is compiled once per
/// backend, so `sqlx::query(..)` picks the right database type in each arm.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (and creates, migrating to the current schema) the database at `url`:
    ///
    /// - `sqlite://PATH` (relative) or `sqlite:///ABS/PATH`, usually with `?mode=rwc`; the
    ///   file and its directory are created if missing. `sqlite::memory:` for a throwaway
    ///   database.
    /// - `postgres://...` or `postgresql://...`, any URL sqlx accepts, including
    ///   `postgres:///DB?host=/SOCKET/DIR&user=U` for a Unix socket.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        let store = match scheme {
            "sqlite" => Store::open_sqlite(url).await?,
            "postgres" | "postgresql" => Store::open_postgres(url).await?,
            other => return Err(StoreError::UnsupportedUrl(other.to_owned())),
        };
        tracing::debug!(backend = store.backend_name(), "store open");
        Ok(store)
    }

    async fn open_sqlite(url: &str) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .foreign_keys(true);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            if let Some(dir) = options.get_filename().parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|error| StoreError::CreateDir {
                        path: dir.to_owned(),
                        error,
                    })?;
                }
            }
        }
        // SQLite serializes writers; a few connections let readers run beside a writer.
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        let sqlite_file = (!in_memory)
            .then(|| std::sync::Arc::new(pool.connect_options().get_filename().to_owned()));
        Ok(Store {
            backend: Backend::Sqlite(pool),
            sqlite_file,
        })
    }

    async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        Ok(Store {
            backend: Backend::Postgres(pool),
            sqlite_file: None,
        })
    }

    /// The SQLite database file, if the store is one.
    pub(crate) fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        self.sqlite_file.as_deref().cloned()
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection, waiting for statements in flight.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// The wall clock in Unix seconds, for `created_at` columns (logic that depends on time
/// takes `now` from the caller instead).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The writes of a batch that count: the last one of each key, in batch order. What is left
/// touches each key once, so a batch can run as one statement per kind of change.
pub(crate) fn last_per_key<'a, W, K: Eq + Hash>(
    writes: &'a [W],
    key: impl Fn(&'a W) -> K,
) -> Vec<&'a W> {
    let mut last: HashMap<K, usize> = HashMap::with_capacity(writes.len());
    for (i, w) in writes.iter().enumerate() {
        last.insert(key(w), i);
    }
    writes
        .iter()
        .enumerate()
        .filter(|(i, w)| last.get(&key(*w)) == Some(i))
        .map(|(_, w)| w)
        .collect()
}
