//! Rating: the plans of the stored tariff files (`itsp rate import`), and the price of
//! each answered call, put on its call detail record by the accounting writer in the same
//! transaction as the record. The prices themselves are the `billing` crate's.
//!
//! - [`load`] parses the stored files into plans: the CGRateS set first (a native file may
//!   name one of its timings as a period), then each native plan.
//! - `Rater` keeps the plans in the accounting writer's thread, asks the store at most
//!   once a second whether the files changed ([`store::Store::tariff_stamp`]) and loads
//!   them again when they did, and prices a record: the caller's plan (a CGRateS rating
//!   profile, else the plan named `default`), the dialled number, from the answer, for the
//!   billable seconds. A call to a name rather than a number (a subscriber by name, an
//!   echo or voicemail service) is not rated; neither is one no plan covers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use billing::import::{cgrates, native};
use billing::{Currency, PlanSet, Timing, UtcOffset};
use store::{Cdr, Charge, Store, TariffFile, TariffFormat};

/// The set key of a CGRateS import.
pub const CGRATES_SET: &str = "cgrates";

/// The plan a native file goes to unless named, and the one calls use without a rating
/// profile.
pub const DEFAULT_PLAN: &str = "default";

/// How often the writer asks whether the tariff files changed.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The plans of a set of tariff files.
#[derive(Debug, Default)]
pub struct Plans {
    /// The plans and who uses which.
    pub plans: PlanSet,
    /// A line per plan, by name.
    pub rows: Vec<PlanInfo>,
}

/// What `itsp rate list` says of a plan.
#[derive(Debug, Clone)]
pub struct PlanInfo {
    /// Its name.
    pub name: String,
    /// The stored set it came from.
    pub set_key: String,
    /// Its files' format.
    pub format: TariffFormat,
    /// The currency of its prices.
    pub currency: String,
    /// How many prefixes it prices.
    pub prefixes: usize,
    /// When its files were imported, Unix milliseconds.
    pub imported_ms: i64,
}

/// Parses stored tariff files into plans; an error names the file, line and column.
pub fn load(files: &[TariffFile]) -> Result<Plans, billing::Error> {
    let mut plans = PlanSet::new();
    let mut rows = Vec::new();
    let mut timings: HashMap<String, Arc<Timing>> = HashMap::new();
    let cgrates_files: Vec<&TariffFile> = files
        .iter()
        .filter(|f| f.format == TariffFormat::Cgrates)
        .collect();
    if let Some(first) = cgrates_files.first() {
        let options = cgrates::Options {
            currency: Currency::new(&first.currency)?,
            utc_offset: UtcOffset::from_seconds(first.utc_offset)?,
        };
        let texts: Vec<(&str, &str)> = cgrates_files
            .iter()
            .map(|f| (f.name.as_str(), f.content.as_str()))
            .collect();
        let imported = cgrates::parse(&texts, &options)?;
        for plan in imported.plans.plans() {
            rows.push(PlanInfo {
                name: plan.name().to_owned(),
                set_key: CGRATES_SET.to_owned(),
                format: TariffFormat::Cgrates,
                currency: plan.currency().to_string(),
                prefixes: plan.prefixes(),
                imported_ms: first.imported_ms,
            });
        }
        timings = imported.timings;
        plans = imported.plans;
    }
    for f in files.iter().filter(|f| f.format == TariffFormat::Native) {
        let options = native::Options::new(
            &f.set_key,
            Currency::new(&f.currency)?,
            UtcOffset::from_seconds(f.utc_offset)?,
        );
        let plan = native::parse(&f.name, &f.content, &options, &timings)?;
        rows.push(PlanInfo {
            name: plan.name().to_owned(),
            set_key: f.set_key.clone(),
            format: TariffFormat::Native,
            currency: plan.currency().to_string(),
            prefixes: plan.prefixes(),
            imported_ms: f.imported_ms,
        });
        plans.insert(plan);
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Plans { plans, rows })
}

/// The plans, shared by the accounting writer (which prices records), the shell and the
/// prepaid hook (which authorise calls): a [`Rater`] behind an `Arc`.
pub(crate) type SharedRater = Arc<Rater>;

/// The plans in force, shared. A reading takes the current snapshot under a read lock
/// held for a pointer copy; [`Rater::refresh`] loads new plans with no lock held and swaps
/// the snapshot, so the engine never waits for the store. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Rater {
    plans: std::sync::RwLock<Arc<PlanSet>>,
    /// What the last check found; held by the one thread that refreshes (another skips
    /// the check).
    checked: std::sync::Mutex<Checked>,
}

/// What [`Rater::refresh`] last found: the stamp of the files loaded, and when it asked.
#[derive(Debug, Default)]
struct Checked {
    stamp: Option<(i64, i64)>,
    at: Option<Instant>,
}

impl Rater {
    /// A rater with `plans` in force (until a refresh finds stored files).
    #[cfg(test)]
    pub(crate) fn with_plans(plans: PlanSet) -> Rater {
        Rater {
            plans: std::sync::RwLock::new(Arc::new(plans)),
            ..Rater::default()
        }
    }

    /// The plans in force now.
    fn snapshot(&self) -> Arc<PlanSet> {
        self.plans
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Loads the plans again if the stored files changed (asked at most once a second;
    /// blocks on the store, so not from the engine). Files that no longer load keep the
    /// plans loaded before, logged.
    pub(crate) fn refresh(&self, store: &Store, runtime: &tokio::runtime::Handle) {
        let Ok(mut checked) = self.checked.try_lock() else {
            return; // another thread is refreshing
        };
        let now = Instant::now();
        if checked
            .at
            .is_some_and(|at| now.duration_since(at) < CHECK_INTERVAL)
        {
            return;
        }
        checked.at = Some(now);
        let stamp = match runtime.block_on(store.tariff_stamp()) {
            Ok(stamp) => stamp,
            Err(e) => {
                tracing::warn!(error = %e, "tariff files not checked; rating with the plans loaded before");
                return;
            }
        };
        if checked.stamp == Some(stamp) {
            return;
        }
        let loaded = runtime
            .block_on(store.tariff_files())
            .map_err(|e| e.to_string())
            .and_then(|files| load(&files).map_err(|e| e.to_string()));
        match loaded {
            Ok(plans) => {
                tracing::info!(plans = plans.rows.len(), "rating plans loaded");
                *self
                    .plans
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(plans.plans);
                checked.stamp = Some(stamp);
            }
            Err(e) => {
                tracing::error!(error = %e, "rating plans not loaded; rating with the plans loaded before");
            }
        }
    }

    /// The plan that rates calls of `user@domain` at `at`: the account's own plan
    /// (`itsp account set --plan`) when it names one that exists, else the caller's
    /// CGRateS rating profile (its first plan; fallback subjects are not followed for an
    /// authorisation), else the plan named `default`.
    fn plan_for<'p>(
        plans: &'p PlanSet,
        user: &str,
        domain: &str,
        at: billing::UnixTime,
        account_plan: Option<&str>,
    ) -> Option<&'p Arc<billing::RatingPlan>> {
        if let Some(plan) = account_plan.and_then(|name| plans.plan(name).ok()) {
            return Some(plan);
        }
        match plans.assignments.lookup(user, domain, at) {
            Some(_) => plans.plan_for(user, domain, at).ok(),
            None => plans.plan(DEFAULT_PLAN).ok(),
        }
    }

    /// The plan and tariff that price a call from `user@domain` to `number` starting at
    /// `at` (what prepaid authorisation needs); `None` when no plan prices the number.
    pub(crate) fn tariff(
        &self,
        caller: &store::Address,
        number: &str,
        at: billing::UnixTime,
        account_plan: Option<&str>,
    ) -> Option<(String, Arc<billing::Tariff>)> {
        if !is_number(number) {
            return None;
        }
        let plans = self.snapshot();
        let plan = Rater::plan_for(&plans, &caller.user, &caller.domain, at, account_plan)?;
        let (_, tariff) = plan.find(number).ok()?;
        Some((plan.name().to_owned(), tariff.clone()))
    }

    /// Puts the price of answered call `cdr` on it, when a plan prices it; `account_plan`
    /// is the plan the caller's account names, if any.
    pub(crate) fn rate(&self, cdr: &mut Cdr, account_plan: Option<&str>) {
        if !cdr.disposition.was_answered() {
            return;
        }
        let (Some(answer_ms), Some(number)) = (cdr.answer_ms, cdr.callee_user.as_deref()) else {
            return;
        };
        if !is_number(number) {
            return;
        }
        let (Some(user), Some(domain)) = (cdr.caller_user.as_deref(), cdr.caller_domain.as_deref())
        else {
            return;
        };
        let start = answer_ms.div_euclid(1000);
        let Ok(duration) = u32::try_from(cdr.billable_secs()) else {
            return;
        };
        let plans = self.snapshot();
        let rating = match account_plan.and_then(|name| plans.plan(name).ok()) {
            Some(plan) => plan.rate(number, start, duration),
            None if plans.assignments.lookup(user, domain, start).is_some() => {
                plans.rate(user, domain, number, start, duration)
            }
            None => plans
                .plan(DEFAULT_PLAN)
                .and_then(|p| p.rate(number, start, duration)),
        };
        match rating {
            Ok(r) => {
                cdr.charge = Some(Charge {
                    plan: r.plan.to_owned(),
                    cost: r.cost.total.to_string(),
                    currency: r.currency.to_string(),
                });
            }
            Err(e) => {
                tracing::debug!(call_id = %cdr.call_id, error = %e, "call not rated");
            }
        }
    }
}

/// A telephone number as dialled: digits, with a leading `+` allowed.
fn is_number(user: &str) -> bool {
    let digits = user.strip_prefix('+').unwrap_or(user);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use store::Disposition;

    fn file(name: &str, content: &str) -> TariffFile {
        TariffFile {
            set_key: DEFAULT_PLAN.into(),
            format: TariffFormat::Native,
            name: name.into(),
            content: content.into(),
            currency: "EUR".into(),
            utc_offset: 0,
            imported_ms: 1,
        }
    }

    fn record(callee: &str, answer_ms: Option<i64>, end_ms: i64) -> Cdr {
        Cdr {
            call_id: "c".into(),
            from_tag: "f".into(),
            to_tag: None,
            caller_user: Some("alice".into()),
            caller_domain: Some("example.com".into()),
            caller_uri: "sip:alice@example.com".into(),
            source_ip: None,
            dialled_uri: format!("sip:{callee}@example.com"),
            callee_user: Some(callee.into()),
            callee_domain: Some("example.com".into()),
            answered_by: None,
            start_ms: 1_790_000_000_000,
            answer_ms,
            end_ms,
            disposition: if answer_ms.is_some() {
                Disposition::Answered
            } else {
                Disposition::Busy
            },
            code: 200,
            reason: None,
            hung_up_by: None,
            end_reason: None,
            node: "n".into(),
            charge: None,
            media: None,
        }
    }

    #[test]
    fn answered_calls_to_numbers_are_priced_by_the_default_plan() {
        let plans = load(&[file(
            "rates.csv",
            "46,Sweden,0,0.10,60,60\n468,Stockholm,0.05,0.40,30,6\n",
        )])
        .unwrap();
        let rater = Rater {
            plans: std::sync::RwLock::new(Arc::new(plans.plans)),
            ..Rater::default()
        };
        let answer = 1_790_000_002_000;
        // 125 s to Stockholm: 0.05 + 30 s + 16 x 6 s at 0.40/min.
        let mut cdr = record("+46812345", Some(answer), answer + 125_000);
        rater.rate(&mut cdr, None);
        let charge = cdr.charge.unwrap();
        assert_eq!(
            (charge.plan.as_str(), charge.currency.as_str()),
            ("default", "EUR")
        );
        assert_eq!(
            charge.cost.parse::<billing::Decimal>().unwrap().to_string(),
            "0.89"
        );
        // Not rated: a name, an unanswered call, a number no plan covers.
        for mut cdr in [
            record("bob", Some(answer), answer + 10_000),
            record("46812345", None, answer),
            record("1555", Some(answer), answer + 10_000),
        ] {
            rater.rate(&mut cdr, None);
            assert_eq!(cdr.charge, None, "{}", cdr.dialled_uri);
        }
    }

    #[test]
    fn a_bad_file_is_named_with_its_line() {
        let e = load(&[file("bad.csv", "46,Sweden,0,ten,60,60\n")]).unwrap_err();
        assert!(e.to_string().contains("bad.csv:1:"), "{e}");
    }
}
