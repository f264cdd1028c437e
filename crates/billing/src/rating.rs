//! [`Rating`]: a priced call and how the price came about, for CDRs and `itsp rate test`.

use std::fmt;

use crate::clock::{LocalTime, UnixTime, UtcOffset};
use crate::money::Currency;
use crate::tariff::{Cost, Part};

/// The price of one call and its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating<'a> {
    /// The plan's name.
    pub plan: &'a str,
    /// The dialled number, normalised (digits).
    pub number: &'a str,
    /// The longest prefix that matched.
    pub prefix: &'a str,
    /// The destination's name.
    pub destination: &'a str,
    /// The currency of every amount.
    pub currency: Currency,
    /// The offset the plan's timings were read at.
    pub utc_offset: UtcOffset,
    /// When the call was answered.
    pub start: UnixTime,
    /// Its duration, seconds.
    pub duration: u32,
    /// The total and how it was rounded.
    pub cost: Cost,
    /// The runs of increments, in call order; several when the call crossed a period
    /// boundary or a slot.
    pub parts: Vec<Part<'a>>,
}

impl fmt::Display for Rating<'_> {
    /// Several lines, as `itsp rate test` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cur = self.currency;
        writeln!(
            f,
            "plan {}: {} matches prefix {} ({})",
            self.plan, self.number, self.prefix, self.destination
        )?;
        writeln!(
            f,
            "answered {} {}, {} s, billed {} s",
            LocalTime::at(self.start, self.utc_offset),
            self.utc_offset,
            self.duration,
            self.cost.billed
        )?;
        writeln!(f, "  connect fee {} {cur}", self.cost.connect_fee)?;
        for p in &self.parts {
            writeln!(
                f,
                "  from {} s ({}) {} / {}: {} x {} s at {} per {} s = {} {cur}",
                p.offset,
                LocalTime::at(p.start, self.utc_offset),
                p.timing,
                p.rate,
                p.count,
                p.increment,
                p.price,
                p.unit,
                p.cost.normalize()
            )?;
        }
        write!(
            f,
            "total {} {cur} (exact {}, rounded to {})",
            self.cost.total,
            self.cost.exact.normalize(),
            self.cost.rounding
        )
    }
}
