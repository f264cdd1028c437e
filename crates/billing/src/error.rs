//! [`Error`]: what went wrong, and whose fault it is.

use std::fmt;

/// An error of rating, credit control or an import.
///
/// Every variant says who is at fault: the caller's input (a number, a call), the tariff
/// data (no rate at that time), or a file ([`Error::Import`], with file:line:column).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The dialled number is not digits with an optional leading `+`.
    #[error("{number:?} is not a phone number: digits with an optional leading '+' expected")]
    BadNumber {
        /// The number as given.
        number: String,
    },
    /// No prefix of the plan matches the number.
    #[error("no destination of plan {plan} matches {number}")]
    NoDestination {
        /// The plan searched.
        plan: String,
        /// The normalised number.
        number: String,
    },
    /// The destination's rates leave this instant uncovered (no timing matches it): a hole
    /// in the tariff data.
    #[error("no rate of destination {destination} applies at {at} (Unix seconds): the plan's timings leave this time uncovered")]
    NoRateAt {
        /// The destination's name.
        destination: String,
        /// The instant, Unix seconds.
        at: i64,
    },
    /// No plan of that name.
    #[error("no rating plan named {0:?}")]
    UnknownPlan(String),
    /// No plan is assigned to the subscriber, their domain or the default.
    #[error("no rating plan assigned to {user}@{domain} (nor to the domain, nor a default)")]
    NoPlanAssigned {
        /// The user part.
        user: String,
        /// The domain.
        domain: String,
    },
    /// A tariff's currency differs from the account's.
    #[error("the tariff is in {tariff}, the account in {account}")]
    CurrencyMismatch {
        /// The account's currency (ISO 4217 code).
        account: String,
        /// The tariff's currency (ISO 4217 code).
        tariff: String,
    },
    /// A call the credit control does not know (never authorised, or already ended).
    #[error("unknown call #{0}")]
    UnknownCall(u64),
    /// A call authorised twice.
    #[error("call #{0} is already authorised")]
    DuplicateCall(u64),
    /// A call answered twice.
    #[error("call #{0} is already answered")]
    AlreadyAnswered(u64),
    /// A negative amount where only positive ones make sense (a top-up).
    #[error("amount {0} must not be negative")]
    NegativeAmount(rust_decimal::Decimal),
    /// A value given by the caller is out of range (the message says which).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// An import failed; nothing was imported. Every problem found, in file order.
    #[error("{0}")]
    Import(ImportErrors),
}

/// One problem in an imported file: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// The file's name as given to the import.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters) where the offending field starts; 1 for a whole line.
    pub column: usize,
    /// What is wrong, naming the field.
    pub problem: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.problem
        )
    }
}

/// The problems of a failed import (at least one; at most [`ImportErrors::MAX`] kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportErrors {
    errors: Vec<ImportError>,
    more: usize,
}

impl ImportErrors {
    /// At most this many problems are kept; the rest are only counted.
    pub const MAX: usize = 100;

    /// The problems kept, in the order found.
    pub fn errors(&self) -> &[ImportError] {
        &self.errors
    }

    /// How many problems were found beyond [`ImportErrors::MAX`].
    pub fn more(&self) -> usize {
        self.more
    }

    /// No problem found.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn push(&mut self, e: ImportError) {
        if self.errors.len() < Self::MAX {
            self.errors.push(e);
        } else {
            self.more += 1;
        }
    }

    pub(crate) fn at(
        &mut self,
        file: &str,
        line: usize,
        column: usize,
        problem: impl Into<String>,
    ) {
        self.push(ImportError {
            file: file.to_owned(),
            line,
            column,
            problem: problem.into(),
        });
    }

    /// `Ok(value)` when no problem was found, else the problems.
    /// The problems are put in reading order: by file (in the order files first had a
    /// problem), line and column.
    pub(crate) fn into_result<T>(mut self, value: T) -> Result<T, Error> {
        let mut files: Vec<String> = Vec::new();
        for e in &self.errors {
            if !files.contains(&e.file) {
                files.push(e.file.clone());
            }
        }
        self.errors.sort_by_key(|e| {
            let f = files.iter().position(|f| *f == e.file).unwrap_or(0);
            (f, e.line, e.column)
        });
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(Error::Import(self))
        }
    }
}

impl fmt::Display for ImportErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        if self.more > 0 {
            write!(f, "\n... and {} more problems", self.more)?;
        }
        Ok(())
    }
}
