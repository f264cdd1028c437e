//! [`Tariff`]: what one destination costs at any time — its rates under their timings — and
//! the walk over a call's increments that prices it.
//!
//! The walk, the CGRateS way: the call is cut into increments from its answer; each
//! increment is priced whole by the rate in force at the second it **starts** (the timing
//! active then, the slot of the call offset then). A call that crosses midnight or 08:00 is
//! thereby rated per part. Runs of equal increments under one timing and slot are one
//! [`Part`], computed in closed form, so a 3-hour 1/1 call costs a handful of steps.

use std::sync::Arc;

use rust_decimal::prelude::ToPrimitive;

use crate::clock::{LocalTime, UnixTime, UtcOffset, DAY};
use crate::error::Error;
use crate::money::{Currency, Decimal, Rounding};
use crate::rate::{Rate, RateSlot};
use crate::timing::Timing;

/// A rate under a timing (a row of CGRateS's `RatingPlans.csv` joined to its
/// `DestinationRates.csv` row).
#[derive(Debug, Clone)]
pub struct TimedRate {
    /// When it applies.
    pub timing: Arc<Timing>,
    /// What it costs.
    pub rate: Arc<Rate>,
    /// Higher wins where timings overlap.
    pub weight: i32,
    /// How a call's total is rounded when the call starts under this rate.
    pub rounding: Rounding,
}

/// One destination's prices over time.
#[derive(Debug, Clone)]
pub struct Tariff {
    destination: String,
    currency: Currency,
    offset: UtcOffset,
    rates: Vec<TimedRate>,
    /// Distinct start times of the timings, ascending: where the rate in force may change.
    starts: Vec<u32>,
}

/// A run of equal increments priced by one rate and slot within one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'t> {
    /// Seconds into the call where the run starts.
    pub offset: u32,
    /// The instant it starts.
    pub start: UnixTime,
    /// The timing in force (the period).
    pub timing: &'t str,
    /// The rate's name.
    pub rate: &'t str,
    /// The slot's price per `unit`.
    pub price: Decimal,
    /// Seconds the price is for.
    pub unit: u32,
    /// Seconds per increment.
    pub increment: u32,
    /// Increments in the run.
    pub count: u32,
    /// `price × increment × count ÷ unit`, exact.
    pub cost: Decimal,
}

impl Part<'_> {
    /// Seconds the run bills.
    pub fn seconds(&self) -> u64 {
        u64::from(self.increment) * u64::from(self.count)
    }
}

/// A call's cost, without the explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// The connect fee of the rate in force at the start.
    pub connect_fee: Decimal,
    /// Connect fee plus every increment, before rounding.
    pub exact: Decimal,
    /// `exact` rounded: what is charged.
    pub total: Decimal,
    /// Seconds billed (the duration rounded up to whole increments).
    pub billed: u32,
    /// The rounding applied.
    pub rounding: Rounding,
}

/// A run of increments found by the walk (the part before pricing).
struct Segment<'t> {
    entry: &'t TimedRate,
    slot: &'t RateSlot,
    /// Increments that start before the limit, the next period boundary or the next slot.
    count: u32,
}

impl Tariff {
    /// A destination's tariff. `rates` must not be empty.
    pub fn new(
        destination: &str,
        currency: Currency,
        offset: UtcOffset,
        rates: Vec<TimedRate>,
    ) -> Result<Tariff, String> {
        if rates.is_empty() {
            return Err(format!("destination {destination} has no rate"));
        }
        let mut starts: Vec<u32> = rates.iter().map(|r| r.timing.start()).collect();
        starts.sort_unstable();
        starts.dedup();
        Ok(Tariff {
            destination: destination.to_owned(),
            currency,
            offset,
            rates,
            starts,
        })
    }

    /// The destination's name.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The currency of its prices.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The offset its timings are read at.
    pub fn utc_offset(&self) -> UtcOffset {
        self.offset
    }

    /// Its rates under their timings.
    pub fn rates(&self) -> &[TimedRate] {
        &self.rates
    }

    /// The rate in force at `at`: among the timings active then, the highest weight, then
    /// the latest start (see [`crate::timing`]).
    pub fn rate_at(&self, at: UnixTime) -> Result<&TimedRate, Error> {
        self.select(&LocalTime::at(at, self.offset))
            .ok_or_else(|| Error::NoRateAt {
                destination: self.destination.clone(),
                at,
            })
    }

    fn select(&self, t: &LocalTime) -> Option<&TimedRate> {
        let mut best: Option<&TimedRate> = None;
        for r in &self.rates {
            if r.timing.matches(t)
                && best.is_none_or(|b| (r.weight, r.timing.start()) > (b.weight, b.timing.start()))
            {
                best = Some(r);
            }
        }
        best
    }

    /// The first instant after `at` (local time `t`) where the rate in force may change:
    /// the next timing start today, else the next local midnight.
    fn next_boundary(&self, at: UnixTime, t: &LocalTime) -> UnixTime {
        let sod = t.second_of_day;
        let next = self
            .starts
            .iter()
            .find(|&&s| s > sod)
            .map_or(DAY, |&s| i64::from(s));
        at.saturating_add(next - i64::from(sod))
    }

    /// The increments from `offset` seconds into a call started at `start`, up to those
    /// starting before `limit`.
    fn segment(&self, start: UnixTime, offset: u32, limit: u32) -> Result<Segment<'_>, Error> {
        let at = start.saturating_add(i64::from(offset));
        let t = LocalTime::at(at, self.offset);
        let entry = self.select(&t).ok_or_else(|| Error::NoRateAt {
            destination: self.destination.clone(),
            at,
        })?;
        // At the end of time the boundary saturates onto `at`: no later change then.
        let next = self.next_boundary(at, &t);
        let boundary = if next > at {
            next.saturating_sub(start)
        } else {
            i64::MAX
        };
        let (_, slot, next_slot) = entry.rate.slot_at(offset);
        let mut end = i64::from(limit).min(boundary);
        if let Some(n) = next_slot {
            end = end.min(i64::from(n));
        }
        let span = (end - i64::from(offset)).max(1) as u64;
        let inc = u64::from(slot.increment);
        let count = span.div_ceil(inc).min(u64::from(u32::MAX)) as u32;
        Ok(Segment { entry, slot, count })
    }

    /// The cost of a call answered at `start` lasting `duration` seconds, with each part.
    /// `on_part` sees every run of increments in call order (pass `|_| {}` for the total
    /// alone). A call of 0 s pays the connect fee.
    pub fn walk<'t>(
        &'t self,
        start: UnixTime,
        duration: u32,
        mut on_part: impl FnMut(Part<'t>),
    ) -> Result<Cost, Error> {
        let first = self.rate_at(start)?;
        let connect_fee = first.rate.connect_fee();
        let rounding = first.rounding;
        let mut exact = connect_fee;
        let mut offset: u64 = 0;
        while offset < u64::from(duration) {
            let o = offset as u32;
            let seg = self.segment(start, o, duration)?;
            let secs = u64::from(seg.slot.increment) * u64::from(seg.count);
            let cost = seg.slot.price * Decimal::from(secs) / Decimal::from(seg.slot.unit);
            exact += cost;
            on_part(Part {
                offset: o,
                start: start.saturating_add(i64::from(o)),
                timing: seg.entry.timing.name(),
                rate: seg.entry.rate.name(),
                price: seg.slot.price,
                unit: seg.slot.unit,
                increment: seg.slot.increment,
                count: seg.count,
                cost,
            });
            offset += secs;
        }
        Ok(Cost {
            connect_fee,
            exact,
            total: rounding.apply(exact),
            billed: offset.min(u64::from(u32::MAX)) as u32,
            rounding,
        })
    }

    /// The cost of a call answered at `start` lasting `duration` seconds.
    pub fn cost(&self, start: UnixTime, duration: u32) -> Result<Cost, Error> {
        self.walk(start, duration, |_| {})
    }

    /// The longest billed time (whole increments, at most `cap` seconds rounded up to the
    /// increment in force there) whose rounded cost, connect fee included, a call answered at
    /// `start` can pay with `budget`; `None` when not even the connect fee is covered.
    /// `Some(0)` means the connect fee but not one increment.
    pub fn max_billed(
        &self,
        start: UnixTime,
        budget: Decimal,
        cap: u32,
    ) -> Result<Option<u32>, Error> {
        let first = self.rate_at(start)?;
        let rounding = first.rounding;
        let connect_fee = first.rate.connect_fee();
        if rounding.apply(connect_fee) > budget {
            return Ok(None);
        }
        // The exact cost may go up to where rounding still stays within the budget: the
        // budget's grid value for `Up`, half a step above it for `HalfUp`, just under one
        // step above for `Down`; ties are settled by the check at the end.
        let step = Decimal::new(1, rounding.decimals);
        let grid = Rounding {
            decimals: rounding.decimals,
            mode: crate::money::RoundingMode::Down,
        }
        .apply(budget);
        let ceiling = match rounding.mode {
            crate::money::RoundingMode::Up => grid,
            crate::money::RoundingMode::HalfUp => grid.saturating_add(step / Decimal::TWO),
            crate::money::RoundingMode::Down => grid.saturating_add(step),
        };
        let mut remaining = ceiling.saturating_sub(connect_fee);
        let mut offset: u64 = 0;
        let mut last_increment = 0u32;
        while offset < u64::from(cap) && remaining >= Decimal::ZERO {
            let o = offset as u32;
            let seg = self.segment(start, o, cap)?;
            let inc = seg.slot.increment;
            // price × increment × n ≤ remaining × unit
            let per = seg.slot.price * Decimal::from(inc);
            // Checked: a caller's budget may be as large as `Decimal` goes.
            let room = remaining
                .checked_mul(Decimal::from(seg.slot.unit))
                .unwrap_or(Decimal::MAX);
            let n = if per.is_zero() {
                seg.count
            } else {
                let q = room.checked_div(per).unwrap_or(Decimal::MAX).floor();
                let n = q
                    .to_u32()
                    .unwrap_or(if q.is_sign_negative() { 0 } else { u32::MAX });
                let mut n = n.min(seg.count);
                // Guard the division's last digit: back off while over, step up while room.
                while n > 0 && per * Decimal::from(n) > room {
                    n -= 1;
                }
                while n < seg.count && per * Decimal::from(n + 1) <= room {
                    n += 1;
                }
                n
            };
            if n > 0 {
                last_increment = inc;
                remaining -= per * Decimal::from(n) / Decimal::from(seg.slot.unit);
                offset += u64::from(inc) * u64::from(n);
            }
            if n < seg.count {
                break;
            }
        }
        let mut billed = offset.min(u64::from(u32::MAX)) as u32;
        // At a tie the exact cost sits on the rounding midpoint and may round past the
        // budget: one increment less then.
        let mut tries = 0;
        while billed > 0 && tries < 64 && self.cost(start, billed)?.total > budget {
            billed = billed.saturating_sub(last_increment);
            tries += 1;
        }
        Ok(Some(billed))
    }
}

#[cfg(test)]
mod tests;
