//! [`StoreError`]: what went wrong, and whose fault it is.

/// An error from the store.
///
/// The variants are grouped by who is at fault: the caller's input (`Bad*`,
/// [`StoreError::UnsupportedUrl`]), the state of the data the caller asked to change
/// (`*Exists`, `NoSuch*`, [`StoreError::DomainInUse`]), or the database and the machine
/// (the rest). Display never shows a password or an HA1 value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An address (`user@domain`), user part or domain that is not acceptable; the text says
    /// why.
    #[error("bad address: {0}")]
    BadAddress(String),
    /// A password that cannot be stored (empty, over 1 KB, or with control characters).
    #[error("bad password: {0}")]
    BadPassword(&'static str),
    /// An e-mail address that is not of the form `local@domain`.
    #[error("bad e-mail address: {0:?}")]
    BadEmail(String),
    /// A group name that is empty or not a token.
    #[error("bad group name: {0:?}")]
    BadGroup(String),
    /// A location binding with a field out of range; the text names it.
    #[error("bad binding: {0}")]
    BadBinding(&'static str),
    /// An accounting event with a field out of range; the text names it.
    #[error("bad accounting event: {0}")]
    BadAcc(&'static str),
    /// A tariff file set that cannot be stored as given; the text says why.
    #[error("bad tariff files: {0}")]
    BadTariff(&'static str),
    /// A call detail record with a field out of range; the text names it.
    #[error("bad call detail record: {0}")]
    BadCdr(&'static str),
    /// A live call with a field out of range; the text names it.
    #[error("bad call: {0}")]
    BadCall(&'static str),
    /// A preference name the store does not know; the message lists the known ones.
    #[error(
        "unknown preference {0:?}: the names are {names}",
        names = crate::preferences::names()
    )]
    UnknownPreference(String),
    /// A preference value that is not acceptable for its name.
    #[error("bad value for {name}: {reason}")]
    BadPreference {
        /// The preference.
        name: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// A database URL of a scheme the store does not speak. Only the scheme is kept, so a
    /// password in the URL is never shown.
    #[error("unsupported database URL scheme {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),

    /// The domain is already served.
    #[error("domain {0} exists")]
    DomainExists(String),
    /// The domain is not served.
    #[error("no such domain: {0}")]
    NoSuchDomain(String),
    /// The domain still has subscribers or aliases; remove them first.
    #[error("domain {0} still has subscribers or aliases")]
    DomainInUse(String),
    /// A subscriber with this address exists (also when adding an alias that would shadow
    /// it).
    #[error("user {0} exists")]
    UserExists(String),
    /// No subscriber has this address.
    #[error("no such user: {0}")]
    NoSuchUser(String),
    /// This alias exists (also when adding a subscriber whose address is an alias).
    #[error("alias {0} exists")]
    AliasExists(String),
    /// No alias has this address.
    #[error("no such alias: {0}")]
    NoSuchAlias(String),
    /// Not an IP address or network (`192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`), or a
    /// ban reason over 200 bytes.
    #[error("bad ban: {0}")]
    BadBan(String),
    /// No ban of this network.
    #[error("no ban of {0}")]
    NoSuchBan(String),
    /// A conference room name or PIN that cannot be stored; the text says why.
    #[error("bad conference room: {0}")]
    BadRoom(String),
    /// The conference room (`name@domain`) is configured already.
    #[error("conference room {0} exists")]
    RoomExists(String),
    /// No conference room is configured as `name@domain`.
    #[error("no such conference room: {0}")]
    NoSuchRoom(String),
    /// An API token name that is empty, over 100 bytes, or with control characters.
    #[error("bad token name: {0:?}")]
    BadTokenName(String),
    /// No API token has this id.
    #[error("no such token: {0}")]
    NoSuchToken(i64),
    /// A password reset secret that is unknown, used or expired.
    #[error("the password reset link is unknown, used or expired")]
    BadResetToken,
    /// A sign-up confirmation secret that is unknown, used or expired.
    #[error("the confirmation link is unknown, used or expired")]
    BadSignupToken,
    /// The domain does not let visitors create their own accounts (or is not served).
    #[error("self-registration is off in {0}")]
    SelfRegistrationOff(String),
    /// An account setting that cannot be stored (a currency that is not three capital
    /// letters, an empty plan name, a negative low-balance threshold); the text says why.
    #[error("bad account: {0}")]
    BadAccount(String),
    /// The subscriber has no account.
    #[error("no account for {0}")]
    NoSuchAccount(String),
    /// A ledger entry that breaks the rules of its kind (sign, Call-ID, note) or would take
    /// the balance out of range; nothing of its batch is written.
    #[error("bad ledger entry for {address}: {reason}")]
    BadLedgerEntry {
        /// The account's `user@domain`.
        address: String,
        /// What is wrong.
        reason: String,
    },
    /// The change needs a zero balance (removing the account, changing its currency).
    #[error("cannot {action} account {address}: its balance is {balance} {currency}, not zero")]
    AccountNotZero {
        /// What was refused: `remove`, `change the currency of`.
        action: &'static str,
        /// The account's `user@domain`.
        address: String,
        /// Its balance.
        balance: rust_decimal::Decimal,
        /// Its currency.
        currency: String,
    },
    /// An invoice that does not add up (its lines and subtotal, subtotal, tax and total)
    /// or lacks what it needs (a month, a period, a currency); the text says why.
    #[error("bad invoice: {0}")]
    BadInvoice(String),
    /// The customer already has an invoice for (part of) the period.
    #[error("{address} already has invoice {number} for this period; issued invoices are final")]
    InvoiceExists {
        /// The customer's `user@domain`.
        address: String,
        /// The number of the invoice issued before.
        number: String,
    },

    // The causes below are part of the message and not also reported as `source()`, so an
    // error chain (`anyhow`'s `{:#}`) does not print them twice.
    /// The database failed or refused the statement.
    #[error("database: {0}")]
    Database(sqlx::Error),
    /// The location writer's own SQLite connection ([`crate::Writer`]) failed.
    #[error("database (location writer): {0}")]
    Writer(rusqlite::Error),
    /// Applying the embedded schema migrations failed (for example a database written by a
    /// newer itsp).
    #[error("schema migration: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// The directory for a SQLite database file could not be created.
    #[error("cannot create directory {path}: {error}")]
    CreateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The system's random number generator or the password hasher failed.
    #[error("random numbers or password hashing: {0}")]
    Random(String),
    /// A stored value is out of the range this version accepts (edited by hand?).
    #[error("stored data out of range: {0}")]
    Corrupt(&'static str),
    /// `table_versions` has no change counter for this table: not a counted table, or the
    /// row was deleted by hand.
    #[error("no change counter for table {0:?} in table_versions")]
    NoTableVersion(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Writer(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

/// Whether `e` is a unique-constraint violation (a duplicate key).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}
