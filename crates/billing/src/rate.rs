//! [`Rate`]: a connect fee and the price of time in slots of increments (CGRateS
//! `Rates.csv`: `#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart`).
//!
//! A slot says: from `from` seconds into the call, time is sold in increments of
//! `increment` seconds at `price` per `unit` seconds. "30/6 at 0.40 per minute" is two slots:
//! `{from 0, increment 30}` and `{from 30, increment 6}`, both at 0.40 per 60 s. Each
//! increment is charged in full when it starts (`price × increment ÷ unit`); which slot it
//! belongs to is decided by the second it starts at.

use std::fmt;

use crate::money::Decimal;

/// The longest unit or increment: a day.
pub const MAX_SECONDS: u32 = 86_400;

/// The highest price or connect fee: 10^9. With durations in `u32` seconds no sum of
/// charges can then overflow `Decimal`'s 96 bits.
pub fn max_price() -> Decimal {
    Decimal::from(1_000_000_000u32)
}

/// One group of increments of a [`Rate`] (a row of CGRateS's `Rates.csv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSlot {
    /// Seconds into the call from which this slot applies (`GroupIntervalStart`).
    pub from: u32,
    /// Price of one `unit` (`Rate`).
    pub price: Decimal,
    /// Seconds the price is for (`RateUnit`; 60 for a price per minute).
    pub unit: u32,
    /// Seconds charged at a time (`RateIncrement`).
    pub increment: u32,
}

impl RateSlot {
    /// The charge of one increment, exact to `Decimal`'s 28 digits.
    pub fn increment_cost(&self) -> Decimal {
        self.price * Decimal::from(self.increment) / Decimal::from(self.unit)
    }
}

/// A connect fee and one or more slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    name: String,
    connect_fee: Decimal,
    slots: Vec<RateSlot>,
}

impl Rate {
    /// A rate from its slots, sorted here by `from`. The first must start at 0; starts are
    /// distinct; units and increments positive; prices and the fee not negative.
    pub fn new(name: &str, connect_fee: Decimal, mut slots: Vec<RateSlot>) -> Result<Rate, String> {
        slots.sort_by_key(|s| s.from);
        match slots.first() {
            None => return Err(format!("rate {name} has no slot")),
            Some(s) if s.from != 0 => {
                return Err(format!(
                    "rate {name} starts at {} s: a slot from 0 s is needed",
                    s.from
                ))
            }
            Some(_) => {}
        }
        if let Some(w) = slots.windows(2).find(|w| w[0].from == w[1].from) {
            return Err(format!("rate {name} has two slots from {} s", w[0].from));
        }
        for s in &slots {
            if !(1..=MAX_SECONDS).contains(&s.unit) || !(1..=MAX_SECONDS).contains(&s.increment) {
                return Err(format!(
                    "rate {name}: unit and increment must be 1 s to {MAX_SECONDS} s"
                ));
            }
            if s.price > max_price() {
                return Err(format!(
                    "rate {name}: price {} over {}",
                    s.price,
                    max_price()
                ));
            }
            if s.price.is_sign_negative() && !s.price.is_zero() {
                return Err(format!("rate {name}: negative price {}", s.price));
            }
        }
        if connect_fee > max_price() {
            return Err(format!(
                "rate {name}: connect fee {connect_fee} over {}",
                max_price()
            ));
        }
        if connect_fee.is_sign_negative() && !connect_fee.is_zero() {
            return Err(format!("rate {name}: negative connect fee {connect_fee}"));
        }
        Ok(Rate {
            name: name.to_owned(),
            connect_fee,
            slots,
        })
    }

    /// The common retail shape: a price per minute sold `initial` seconds first, then in
    /// `increment`s (60/60, 30/6, 1/1).
    pub fn per_minute(
        name: &str,
        connect_fee: Decimal,
        price_per_minute: Decimal,
        initial: u32,
        increment: u32,
    ) -> Result<Rate, String> {
        let slot = |from, increment| RateSlot {
            from,
            price: price_per_minute,
            unit: 60,
            increment,
        };
        let mut slots = vec![slot(0, initial)];
        if increment != initial {
            slots.push(slot(initial, increment));
        }
        Rate::new(name, connect_fee, slots)
    }

    /// Its name (the CGRateS `#Id`, or the destination's for a native plan).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Charged once per answered call.
    pub fn connect_fee(&self) -> Decimal {
        self.connect_fee
    }

    /// The slots, by `from`.
    pub fn slots(&self) -> &[RateSlot] {
        &self.slots
    }

    /// The slot an increment starting `offset` seconds into the call belongs to, and where
    /// the next slot starts.
    pub(crate) fn slot_at(&self, offset: u32) -> (usize, &RateSlot, Option<u32>) {
        let i = self
            .slots
            .partition_point(|s| s.from <= offset)
            .saturating_sub(1);
        let next = self.slots.get(i + 1).map(|s| s.from);
        (i, &self.slots[i], next)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: connect {}", self.name, self.connect_fee)?;
        for s in &self.slots {
            write!(
                f,
                "; from {} s {} per {} s in {} s",
                s.from, s.price, s.unit, s.increment
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let r = Rate::per_minute("R", Decimal::ZERO, Decimal::new(40, 2), 30, 6);
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.slots().len(), 2);
        assert_eq!(r.slot_at(0).0, 0);
        assert_eq!(r.slot_at(29).2, Some(30));
        assert_eq!(r.slot_at(30).0, 1);
        assert_eq!(r.slot_at(1000).2, None);
        assert_eq!(r.slots()[1].increment_cost(), Decimal::new(4, 2));
        let one = Rate::per_minute("R", Decimal::ZERO, Decimal::ONE, 60, 60);
        assert_eq!(one.map(|r| r.slots().len()), Ok(1));
        assert!(Rate::per_minute("R", Decimal::ZERO, Decimal::ONE, 0, 6).is_err());
        assert!(Rate::new("R", Decimal::ZERO, vec![]).is_err());
        let late = RateSlot {
            from: 5,
            price: Decimal::ONE,
            unit: 60,
            increment: 1,
        };
        assert!(Rate::new("R", Decimal::ZERO, vec![late]).is_err());
        assert!(Rate::per_minute("R", Decimal::NEGATIVE_ONE, Decimal::ONE, 1, 1).is_err());
    }
}
