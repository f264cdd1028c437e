//! Tariff imports: the text of CSV files in, a whole plan (or plan set) or every problem
//! out — each with file:line:column and what is wrong. Nothing is imported unless all of it
//! is good: the caller swaps the result in whole (all or nothing).
//!
//! | module | format |
//! |---|---|
//! | [`native`] | `prefix,description,connect_fee,rate_per_min,initial,increment[,period]` |
//! | [`cgrates`] | CGRateS tariff plans: Destinations, Rates, DestinationRates, Timings, RatingPlans, RatingProfiles |
//! | `csv` | the shared line reader: comments, quotes, 1-based columns |

pub mod cgrates;
mod csv;
pub mod native;

use crate::error::ImportErrors;
use crate::rate::MAX_SECONDS;

/// Parses a whole number of seconds in `1..=MAX_SECONDS` (or `0..` when `zero` is allowed).
pub(crate) fn parse_seconds(s: &str, zero: bool) -> Result<u32, String> {
    let v: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of seconds"))?;
    if (v == 0 && !zero) || v > MAX_SECONDS {
        return Err(format!(
            "{v} s is out of range {}..={MAX_SECONDS}",
            u32::from(!zero)
        ));
    }
    Ok(v)
}

/// Reports `problem` at `file:line:column` into `errors` and returns `None`: the shape of
/// every field check in the importers.
pub(crate) fn bad<T>(
    errors: &mut ImportErrors,
    file: &str,
    line: usize,
    column: usize,
    problem: String,
) -> Option<T> {
    errors.at(file, line, column, problem);
    None
}
