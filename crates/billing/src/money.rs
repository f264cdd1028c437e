//! Money: exact decimals ([`Decimal`]), a plan's [`Currency`] and the [`Rounding`] of totals.
//!
//! Amounts are [`rust_decimal::Decimal`]: a 96-bit integer and a decimal scale, so `0.1 + 0.2`
//! is `0.3` and a price per minute times seconds over 60 loses nothing that a rounding to
//! a few decimals could see. No float ever holds money here.

use std::fmt;
use std::str::FromStr;

pub use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;

use crate::error::Error;

/// An ISO 4217 alphabetic currency code (`EUR`, `SEK`, `USD`): three ASCII capitals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a code; lower case is accepted and upper-cased.
    pub fn new(code: &str) -> Result<Currency, Error> {
        let b = code.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return Err(Error::Invalid(format!(
                "currency {code:?}: an ISO 4217 code of three letters expected"
            )));
        }
        Ok(Currency([
            b[0].to_ascii_uppercase(),
            b[1].to_ascii_uppercase(),
            b[2].to_ascii_uppercase(),
        ]))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        // Three ASCII capitals, checked in `new`.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Currency::new(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a total is rounded to its number of decimals. The names are CGRateS's
/// `RoundingMethod` values (`DestinationRates.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoundingMode {
    /// Half away from zero: `0.00125` → `0.0013` at 4 decimals (CGRateS `*middle`).
    HalfUp,
    /// Away from zero, any remainder rounds up: `0.00121` → `0.0013` (CGRateS `*up`).
    Up,
    /// Towards zero, the remainder is dropped: `0.00129` → `0.0012` (CGRateS `*down`).
    Down,
}

impl RoundingMode {
    /// Parses a CGRateS `RoundingMethod` (`*up`, `*down`, `*middle`) or the plain names
    /// `up`, `down`, `half-up`.
    pub fn parse(s: &str) -> Option<RoundingMode> {
        match s {
            "*up" | "up" => Some(RoundingMode::Up),
            "*down" | "down" => Some(RoundingMode::Down),
            "*middle" | "half-up" | "half_up" => Some(RoundingMode::HalfUp),
            _ => None,
        }
    }
}

/// The rounding of a call's total cost.
///
/// The rule: each increment's charge is computed exactly (price × increment ÷ rate unit, a
/// rational whose denominator is the unit; `Decimal`'s 28 digits keep it far below any
/// rounding step), the connect fee and every increment's charge are summed exactly, and only
/// the total is rounded, once, to `decimals` places with `mode`. Rounding each increment
/// instead would make a 1/1 call of 125 s cost up to 125 rounding steps more than the same
/// call rated 60/60 at the same price. Prepaid debits in slices are differences of rounded
/// running totals, so they add up to exactly the rounded total (`credit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rounding {
    /// Decimal places kept (0–12).
    pub decimals: u32,
    /// The direction.
    pub mode: RoundingMode,
}

impl Default for Rounding {
    /// 4 decimals, half up (CGRateS's tutorial plans use 4 decimals).
    fn default() -> Self {
        Rounding {
            decimals: 4,
            mode: RoundingMode::HalfUp,
        }
    }
}

impl Rounding {
    /// The most decimals a rounding keeps.
    pub const MAX_DECIMALS: u32 = 12;

    /// Rounds an amount.
    pub fn apply(&self, amount: Decimal) -> Decimal {
        let strategy = match self.mode {
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::Up => RoundingStrategy::AwayFromZero,
            RoundingMode::Down => RoundingStrategy::ToZero,
        };
        amount
            .round_dp_with_strategy(self.decimals, strategy)
            .normalize()
    }
}

impl fmt::Display for Rounding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            RoundingMode::HalfUp => "half up",
            RoundingMode::Up => "up",
            RoundingMode::Down => "down",
        };
        write!(f, "{} decimals, {mode}", self.decimals)
    }
}

/// `amount` with at least two decimals (`5` as `5.00`, `0.6` as `0.60`; more are kept):
/// how money is stored and shown.
pub fn in_cents(amount: Decimal) -> Decimal {
    let mut shown = amount;
    if shown.scale() < 2 {
        shown.rescale(2);
    }
    shown
}

/// Parses a plain decimal amount (`0.05`, `1`, `-2.5`; no exponent, no thousands separator).
pub fn parse_amount(s: &str) -> Option<Decimal> {
    let t = s.trim();
    let body = t.strip_prefix('-').unwrap_or(t);
    let ok = !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().filter(|&b| b == b'.').count() <= 1
        && body.bytes().any(|b| b.is_ascii_digit());
    if !ok {
        return None;
    }
    Decimal::from_str(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        parse_amount(s).unwrap_or_default()
    }

    #[test]
    fn exact_sums() {
        assert_eq!(d("0.1") + d("0.2"), d("0.3"));
        // 0.05 per minute for 7 seconds: 0.005833..., exact enough that rounding decides.
        let c = d("0.05") * Decimal::from(7) / Decimal::from(60);
        assert_eq!(Rounding::default().apply(c), d("0.0058"));
    }

    #[test]
    fn rounding_modes() {
        let half = Rounding {
            decimals: 4,
            mode: RoundingMode::HalfUp,
        };
        let up = Rounding {
            decimals: 4,
            mode: RoundingMode::Up,
        };
        let down = Rounding {
            decimals: 4,
            mode: RoundingMode::Down,
        };
        assert_eq!(half.apply(d("0.00125")), d("0.0013"));
        assert_eq!(half.apply(d("0.00124999")), d("0.0012"));
        assert_eq!(up.apply(d("0.00120001")), d("0.0013"));
        assert_eq!(up.apply(d("0.0012")), d("0.0012"));
        assert_eq!(down.apply(d("0.00129")), d("0.0012"));
        assert_eq!(half.apply(d("1")).to_string(), "1");
    }

    #[test]
    fn amounts_and_currencies() {
        assert_eq!(parse_amount("1e3"), None);
        assert_eq!(parse_amount(""), None);
        assert_eq!(parse_amount("."), None);
        assert_eq!(parse_amount("1.2.3"), None);
        assert_eq!(parse_amount(" 0.40 "), Some(d("0.4")));
        assert_eq!(
            Currency::new("eur").map(|c| c.to_string()),
            Ok("EUR".into())
        );
        assert!(Currency::new("EURO").is_err());
        assert!(Currency::new("E1R").is_err());
        assert_eq!(RoundingMode::parse("*middle"), Some(RoundingMode::HalfUp));
    }
}
