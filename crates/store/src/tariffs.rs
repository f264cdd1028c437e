//! Tariff files: the rating data `itsp rate import` checked and stored, as the text the
//! operator gave, in sets (a native plan's file under the plan's name, the six CGRateS
//! files under `cgrates`). Rating parses them when it loads (the `billing` crate); the
//! store keeps text only. [`Store::replace_tariff_set`] swaps a whole set in one
//! transaction.

use crate::{on_pool, Store, StoreError};

/// How a tariff file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TariffFormat {
    /// itsp's CSV: `prefix,description,connect_fee,rate_per_min,initial,increment[,period]`.
    Native,
    /// One of CGRateS's tariff-plan CSV files.
    Cgrates,
}

impl TariffFormat {
    /// The stored name: `native` or `cgrates`.
    pub fn as_str(self) -> &'static str {
        match self {
            TariffFormat::Native => "native",
            TariffFormat::Cgrates => "cgrates",
        }
    }

    fn from_stored(s: &str) -> Result<TariffFormat, StoreError> {
        match s {
            "native" => Ok(TariffFormat::Native),
            "cgrates" => Ok(TariffFormat::Cgrates),
            _ => Err(StoreError::Corrupt("tariff_files.format")),
        }
    }
}

/// One stored tariff file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TariffFile {
    /// The set it belongs to: the plan's name (native), `cgrates` (a CGRateS set).
    pub set_key: String,
    /// How it is written.
    pub format: TariffFormat,
    /// The file's name as imported (errors of a later load name it).
    pub name: String,
    /// Its text.
    pub content: String,
    /// The currency of its prices (ISO 4217).
    pub currency: String,
    /// Where its periods' days and hours are read: seconds east of UTC.
    pub utc_offset: i32,
    /// When it was imported, Unix milliseconds.
    pub imported_ms: i64,
}

#[derive(sqlx::FromRow)]
struct TariffRow {
    set_key: String,
    format: String,
    name: String,
    content: String,
    currency: String,
    utc_offset: i64,
    imported_ms: i64,
}

impl TryFrom<TariffRow> for TariffFile {
    type Error = StoreError;

    fn try_from(r: TariffRow) -> Result<TariffFile, StoreError> {
        Ok(TariffFile {
            set_key: r.set_key,
            format: TariffFormat::from_stored(&r.format)?,
            name: r.name,
            content: r.content,
            currency: r.currency,
            utc_offset: i32::try_from(r.utc_offset)
                .map_err(|_| StoreError::Corrupt("tariff_files.utc_offset"))?,
            imported_ms: r.imported_ms,
        })
    }
}

impl Store {
    /// Replaces the set `set_key` with `files` (each must carry that key), in one
    /// transaction: afterwards the set is exactly `files`; on error it is as before.
    pub async fn replace_tariff_set(
        &self,
        set_key: &str,
        files: &[TariffFile],
    ) -> Result<(), StoreError> {
        if set_key.is_empty() || files.iter().any(|f| f.set_key != set_key) {
            return Err(StoreError::BadTariff(
                "every file must belong to the set replaced",
            ));
        }
        if files.iter().any(|f| f.name.is_empty()) {
            return Err(StoreError::BadTariff("a file without a name"));
        }
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM tariff_files WHERE set_key = $1")
                .bind(set_key)
                .execute(&mut *tx)
                .await?;
            for f in files {
                sqlx::query(
                    "INSERT INTO tariff_files (set_key, format, name, content, currency, \
                     utc_offset, imported_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&f.set_key)
                .bind(f.format.as_str())
                .bind(&f.name)
                .bind(&f.content)
                .bind(&f.currency)
                .bind(i64::from(f.utc_offset))
                .bind(f.imported_ms)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// What changes whenever the stored tariff files change: their number and the newest
    /// import time. A server asks for it now and then and loads the files again when it
    /// moves.
    pub async fn tariff_stamp(&self) -> Result<(i64, i64), StoreError> {
        let row: (i64, Option<i64>) = on_pool!(self, pool => {
            sqlx::query_as("SELECT COUNT(*), MAX(imported_ms) FROM tariff_files")
                .fetch_one(pool)
                .await?
        });
        Ok((row.0, row.1.unwrap_or(0)))
    }

    /// Every stored tariff file, by set and in the order imported.
    pub async fn tariff_files(&self) -> Result<Vec<TariffFile>, StoreError> {
        let rows: Vec<TariffRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT set_key, format, name, content, currency, utc_offset, imported_ms \
                 FROM tariff_files ORDER BY set_key, id",
            )
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(TariffFile::try_from).collect()
    }
}
