//! [`RatingPlan`]: a named set of destinations, each a [`Tariff`] reached by its prefixes,
//! in one currency; [`RatingPlan::rate`] prices a call and explains it.

use std::sync::Arc;

use crate::clock::UnixTime;
use crate::error::Error;
use crate::money::Currency;
use crate::prefix::{normalize_number, DuplicatePrefix, PrefixTable};
use crate::rating::Rating;
use crate::tariff::Tariff;

/// Destinations by prefix, each with its tariff.
#[derive(Debug, Clone)]
pub struct RatingPlan {
    name: String,
    currency: Currency,
    table: PrefixTable<u32>,
    tariffs: Vec<Arc<Tariff>>,
}

/// Collects a plan's destinations; [`PlanBuilder::build`] checks that no prefix is given twice.
#[derive(Debug)]
pub struct PlanBuilder {
    name: String,
    currency: Currency,
    tariffs: Vec<Arc<Tariff>>,
    prefixes: Vec<(String, u32)>,
}

/// A prefix given to two destinations (or twice to one): the indices, in the order
/// [`PlanBuilder::prefix`] was called, of the two calls.
pub type PrefixClash = DuplicatePrefix;

impl PlanBuilder {
    /// An empty plan.
    pub fn new(name: &str, currency: Currency) -> PlanBuilder {
        PlanBuilder {
            name: name.to_owned(),
            currency,
            tariffs: Vec::new(),
            prefixes: Vec::new(),
        }
    }

    /// Adds a destination; returns its index for [`PlanBuilder::prefix`].
    pub fn destination(&mut self, tariff: Tariff) -> usize {
        self.tariffs.push(Arc::new(tariff));
        self.tariffs.len() - 1
    }

    /// Routes a prefix (normalised digits, see [`crate::prefix::normalize_prefix`]; empty
    /// for every number) to destination `index`.
    pub fn prefix(&mut self, prefix: &str, index: usize) {
        self.prefixes.push((prefix.to_owned(), index as u32));
    }

    /// Destinations added so far.
    pub fn destinations(&self) -> usize {
        self.tariffs.len()
    }

    /// The plan.
    pub fn build(self) -> Result<RatingPlan, PrefixClash> {
        let entries = self
            .prefixes
            .iter()
            .map(|(p, i)| (p.as_str(), *i))
            .collect();
        Ok(RatingPlan {
            name: self.name,
            currency: self.currency,
            table: PrefixTable::build(entries)?,
            tariffs: self.tariffs,
        })
    }
}

impl RatingPlan {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The currency of all its prices.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Prefixes routed.
    pub fn prefixes(&self) -> usize {
        self.table.len()
    }

    /// Every (prefix, destination), in prefix order.
    pub fn iter(&self) -> impl Iterator<Item = (String, &Arc<Tariff>)> + '_ {
        self.table
            .iter()
            .filter_map(|(p, &i)| Some((p, self.tariffs.get(i as usize)?)))
    }

    /// The destination of a dialled number (digits, optional leading `+`): the longest
    /// prefix's tariff and that prefix.
    pub fn find<'a>(&'a self, number: &'a str) -> Result<(&'a str, &'a Arc<Tariff>), Error> {
        let digits = normalize_number(number)?;
        self.table
            .lookup(digits)
            .and_then(|(len, &i)| Some((&digits[..len], self.tariffs.get(i as usize)?)))
            .ok_or_else(|| Error::NoDestination {
                plan: self.name.clone(),
                number: digits.to_owned(),
            })
    }

    /// Prices a call to `number` answered at `start` (Unix seconds) lasting `duration`
    /// seconds, and explains the price: prefix, destination, rates, increments, parts.
    pub fn rate<'a>(
        &'a self,
        number: &'a str,
        start: UnixTime,
        duration: u32,
    ) -> Result<Rating<'a>, Error> {
        let (prefix, tariff) = self.find(number)?;
        let mut parts = Vec::new();
        let cost = tariff.walk(start, duration, |p| parts.push(p))?;
        let digits = normalize_number(number)?;
        Ok(Rating {
            plan: &self.name,
            number: digits,
            prefix,
            destination: tariff.destination(),
            currency: self.currency,
            utc_offset: tariff.utc_offset(),
            start,
            duration,
            cost,
            parts,
        })
    }

    /// Heap bytes of the prefix table's arrays (keys, lengths, parents, destination
    /// indices); the tariffs they lead to are not counted.
    pub fn table_heap_bytes(&self) -> usize {
        self.table.heap_bytes()
    }
}

/// [`RatingPlan::rate`] as a function.
pub fn rate<'a>(
    plan: &'a RatingPlan,
    number: &'a str,
    start: UnixTime,
    duration: u32,
) -> Result<Rating<'a>, Error> {
    plan.rate(number, start, duration)
}
