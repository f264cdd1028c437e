//! # billing — rating and credit control of itsp, sans-IO
//!
//! Prices calls and keeps prepaid calls within their credit. Money is exact
//! ([`Decimal`], never a float); every instant is passed in by the caller as Unix seconds
//! ([`UnixTime`]); nothing here opens a file or a socket or reads a clock. Importers take
//! the text of a file and its name and answer a whole plan set or every problem with
//! file:line:column — never part of a plan.
//!
//! ```
//! use billing::{import::native, Currency, UtcOffset};
//!
//! let csv = "prefix,description,connect_fee,rate_per_min,initial,increment\n\
//!            46,Sweden,0,0.10,60,60\n\
//!            468,Stockholm,0.05,0.40,30,6\n";
//! let options = native::Options::new("default", Currency::new("EUR")?, UtcOffset::UTC);
//! let plan = native::parse("rates.csv", csv, &options, &Default::default())?;
//! // 125 s: 30 s, then 16 increments of 6 s (126 s billed) at 0.40/min, plus 0.05.
//! let rating = plan.rate("+46812345", 1_790_000_000, 125)?;
//! assert_eq!(rating.prefix, "468");
//! assert_eq!(rating.cost.total.to_string(), "0.89");
//! println!("{rating}");
//! # Ok::<(), billing::Error>(())
//! ```
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`money`] | [`Decimal`] amounts, [`Currency`] (ISO 4217), [`Rounding`] of totals (the rule) |
//! | [`clock`] | [`UnixTime`], [`UtcOffset`], [`LocalTime`]: dates and weekdays without a tz database |
//! | [`timing`] | [`Timing`]: days and start time of a period (CGRateS `Timings.csv`), overlap rule |
//! | [`prefix`] | [`PrefixTable`]: longest-prefix match over packed sorted prefixes; number normalisation |
//! | [`rate`](mod@rate) | [`Rate`]: connect fee and slots of increments (CGRateS `Rates.csv`) |
//! | [`tariff`] | [`Tariff`]: one destination's rates over time; the per-increment walk, max duration for a budget |
//! | [`plan`] | [`RatingPlan`]: destinations by prefix in one currency; [`RatingPlan::rate`] |
//! | [`rating`] | [`Rating`]: a priced call and its explanation (prefix, destination, parts) |
//! | [`assign`] | [`PlanSet`], [`Assignments`]: plans per subscriber, domain, default (CGRateS `RatingProfiles.csv`) |
//! | [`import`] | CSV imports: [`import::native`], [`import::cgrates`] (all or nothing, file:line:column) |
//! | [`credit`] | [`Credit`]: prepaid credit control of one balance — authorise, slices, teardown, settle |
//! | [`invoice`] | postpaid invoices: a [`Month`]'s rated calls by destination, exact subtotal, tax, total ([`Statement`]) |
//! | [`error`] | [`Error`], [`ImportError`]: who is at fault |

pub mod assign;
pub mod clock;
pub mod credit;
pub mod error;
pub mod import;
pub mod invoice;
pub mod money;
pub mod plan;
pub mod prefix;
pub mod rate;
pub mod rating;
pub mod tariff;
pub mod timing;

pub use assign::{Assignments, PlanSet, Scope};
pub use clock::{LocalTime, UnixTime, UtcOffset};
pub use credit::{Authorization, CallId, Credit, CreditConfig, Event, Settlement};
pub use error::{Error, ImportError, ImportErrors};
pub use invoice::{Month, Statement};
pub use money::{Currency, Decimal, Rounding, RoundingMode};
pub use plan::{rate, PlanBuilder, RatingPlan};
pub use prefix::PrefixTable;
pub use rate::{Rate, RateSlot};
pub use rating::Rating;
pub use tariff::{Cost, Part, Tariff, TimedRate};
pub use timing::Timing;
