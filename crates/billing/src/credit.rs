//! [`Credit`]: prepaid credit control of one balance shared by its calls, sans-IO.
//!
//! The CGRateS `*prepaid` session model (SessionS with a `debit_interval`), as a state
//! machine the caller drives with the time:
//!
//! 1. [`Credit::authorize`] before a call is forwarded: the longest duration the balance
//!    pays at the destination's tariff, connect fee and whole increments included, after
//!    what the account's other calls hold ([`Authorization::MaxDuration`], CGRateS's
//!    "max usage"), or [`Authorization::NoCredit`] (the proxy answers 402). An authorised
//!    call holds its connect fee and nothing more until it is answered.
//! 2. [`Credit::answered`]: the first slice is debited at once — the cost of the first
//!    `debit_interval` seconds (rounded up to whole increments) plus the connect fee — as a
//!    [`Event::Debit`]. Concurrent calls draw slice by slice from one balance, so none can
//!    spend what another has already been given, and a balance shared by several calls runs
//!    out for each in turn.
//! 3. [`Credit::poll_timeout`] gives the instant the earliest call's paid time ends;
//!    [`Credit::handle_timeout`] then debits its next slice, or as much of it as the balance
//!    pays in whole increments, or — when not one more increment is paid — emits
//!    [`Event::Teardown`] at exactly that second. A top-up ([`Credit::top_up`]) before then
//!    extends the call; it needs nothing else.
//! 4. [`Credit::ended`] settles: the call's cost by [`Tariff::cost`] against what was
//!    debited; the difference is refunded. A call that was never answered settles at zero.
//!
//! Debits are differences of rounded running totals (see [`crate::money::Rounding`]), so
//! the debits of a call add up to exactly the rounded cost of the time they cover, and the
//! settlement of a call that ends on time is at most a refund. The balance never goes below
//! zero through the slices; a call that ends after its teardown instant (a late BYE) is
//! charged at most one increment past its paid time, so the balance ends at most one
//! increment below zero ([`Settlement::unbilled`] tells how much went unbilled).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use crate::clock::UnixTime;
use crate::error::Error;
use crate::money::{Currency, Decimal};
use crate::tariff::Tariff;

/// A call as the caller names it (a counter or a hash of the Call-ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Settings of the credit control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditConfig {
    /// Seconds of call time debited at a time (CGRateS `debit_interval`).
    pub debit_interval: u32,
    /// The longest call, seconds; it is torn down then whatever the balance (CGRateS
    /// `max_call_duration`, 3 h).
    pub max_call_secs: u32,
}

impl CreditConfig {
    /// The default debit interval: 60 s.
    pub const DEFAULT_DEBIT_INTERVAL: u32 = 60;
    /// The default longest call: 3 hours.
    pub const DEFAULT_MAX_CALL_SECS: u32 = 3 * 3600;
}

impl Default for CreditConfig {
    fn default() -> Self {
        CreditConfig {
            debit_interval: Self::DEFAULT_DEBIT_INTERVAL,
            max_call_secs: Self::DEFAULT_MAX_CALL_SECS,
        }
    }
}

/// The answer to [`Credit::authorize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// Go ahead; the balance pays at most this many seconds (if nothing else spends it).
    MaxDuration(u32),
    /// Not even the connect fee and one increment are paid: refuse the call (402).
    NoCredit,
}

/// What the caller must carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Take `amount` from the balance in the ledger (a slice of the call).
    Debit {
        /// The call.
        call: CallId,
        /// How much.
        amount: Decimal,
    },
    /// The credit is exhausted: end the call now (BYE both ways).
    Teardown {
        /// The call.
        call: CallId,
    },
}

/// How a call ends up, money-wise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settlement {
    /// The call's cost.
    pub charged: Decimal,
    /// What its slices took from the balance.
    pub debited: Decimal,
    /// Given back to the balance: `debited − charged` when positive.
    pub refund: Decimal,
    /// Taken from the balance on top: `charged − debited` when positive (a call that ran
    /// into the increment after its paid time).
    pub further_debit: Decimal,
    /// Seconds billed (whole increments).
    pub billed: u32,
    /// Seconds the call lasted beyond its paid time plus one increment, not charged.
    pub unbilled: u32,
}

#[derive(Debug, Clone)]
enum State {
    Authorized {
        hold: Decimal,
    },
    Answered {
        at: UnixTime,
        /// Call seconds paid for.
        covered: u32,
        debited: Decimal,
        torn_down: bool,
    },
}

#[derive(Debug, Clone)]
struct Call {
    tariff: Arc<Tariff>,
    state: State,
}

/// The credit control of one prepaid balance and the calls drawing on it.
#[derive(Debug, Clone)]
pub struct Credit {
    currency: Currency,
    balance: Decimal,
    config: CreditConfig,
    calls: BTreeMap<CallId, Call>,
    events: VecDeque<Event>,
}

impl Credit {
    /// A balance as the ledger holds it now.
    pub fn new(
        currency: Currency,
        balance: Decimal,
        config: CreditConfig,
    ) -> Result<Credit, Error> {
        if config.debit_interval == 0 || config.max_call_secs == 0 {
            return Err(Error::Invalid(
                "debit_interval and max_call_secs must be at least 1 s".into(),
            ));
        }
        Ok(Credit {
            currency,
            balance,
            config,
            calls: BTreeMap::new(),
            events: VecDeque::new(),
        })
    }

    /// The balance after every debit and settlement so far (what the ledger should say).
    pub fn balance(&self) -> Decimal {
        self.balance
    }

    /// The currency of the balance.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The balance less the connect fees held by unanswered calls.
    pub fn available(&self) -> Decimal {
        self.balance.saturating_sub(self.held_except(None))
    }

    /// Calls authorised and not yet ended.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    fn held_except(&self, except: Option<CallId>) -> Decimal {
        self.calls
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .map(|(_, c)| match c.state {
                State::Authorized { hold } => hold,
                State::Answered { .. } => Decimal::ZERO,
            })
            .sum()
    }

    /// Authorises a new call at `tariff` (see the module doc). A call refused gets no
    /// state; one authorised must later be [`Credit::answered`] or [`Credit::ended`].
    pub fn authorize(
        &mut self,
        call: CallId,
        tariff: Arc<Tariff>,
        now: UnixTime,
    ) -> Result<Authorization, Error> {
        if tariff.currency() != self.currency {
            return Err(Error::CurrencyMismatch {
                account: self.currency.to_string(),
                tariff: tariff.currency().to_string(),
            });
        }
        if self.calls.contains_key(&call) {
            return Err(Error::DuplicateCall(call.0));
        }
        let available = self.available();
        let max = tariff.max_billed(now, available, self.config.max_call_secs)?;
        let Some(max) = max.filter(|&m| m > 0) else {
            return Ok(Authorization::NoCredit);
        };
        let first = tariff.rate_at(now)?;
        let hold = first
            .rounding
            .apply(first.rate.connect_fee())
            .min(available);
        self.calls.insert(
            call,
            Call {
                tariff,
                state: State::Authorized { hold },
            },
        );
        Ok(Authorization::MaxDuration(
            max.min(self.config.max_call_secs),
        ))
    }

    /// The call was answered at `now`: its first slice is debited (or it is torn down at
    /// once if the balance no longer pays one increment).
    pub fn answered(&mut self, call: CallId, now: UnixTime) -> Result<(), Error> {
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(Error::UnknownCall(call.0))?;
        if matches!(c.state, State::Answered { .. }) {
            return Err(Error::AlreadyAnswered(call.0));
        }
        c.state = State::Answered {
            at: now,
            covered: 0,
            debited: Decimal::ZERO,
            torn_down: false,
        };
        self.extend(call);
        Ok(())
    }

    /// Debits the next slice of an answered call, or what the balance pays of it, or tears
    /// the call down.
    fn extend(&mut self, id: CallId) {
        let budget_others = self.balance.saturating_sub(self.held_except(Some(id)));
        let interval = self.config.debit_interval;
        let cap = self.config.max_call_secs;
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let State::Answered {
            at,
            covered,
            debited,
            torn_down,
        } = &mut c.state
        else {
            return;
        };
        if *torn_down {
            return;
        }
        // What the call may have spent in all once this slice is paid.
        let budget = debited.saturating_add(budget_others);
        let target = covered.saturating_add(interval).min(cap);
        let next = if *covered >= cap {
            None
        } else {
            match c.tariff.cost(*at, target) {
                Ok(cost) if cost.total <= budget => Some((cost.billed, cost.total)),
                Ok(_) => match c.tariff.max_billed(*at, budget, target) {
                    Ok(Some(m)) if m > *covered => c
                        .tariff
                        .cost(*at, m)
                        .ok()
                        .map(|cost| (cost.billed, cost.total)),
                    // Not one more increment; a hole in the tariff ends the call too.
                    _ => None,
                },
                Err(_) => None,
            }
        };
        match next {
            Some((billed, total)) if billed > *covered => {
                let amount = total - *debited;
                *covered = billed;
                *debited = total;
                self.balance -= amount;
                if !amount.is_zero() {
                    self.events.push_back(Event::Debit { call: id, amount });
                }
            }
            _ => {
                *torn_down = true;
                self.events.push_back(Event::Teardown { call: id });
            }
        }
    }

    /// When [`Credit::handle_timeout`] must run next: the earliest end of a running call's
    /// paid time (a debit or a teardown is due then).
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        self.calls
            .values()
            .filter_map(|c| match c.state {
                State::Answered {
                    at,
                    covered,
                    torn_down: false,
                    ..
                } => Some(at.saturating_add(i64::from(covered))),
                _ => None,
            })
            .min()
    }

    /// Debits the slices due by `now`, earliest first, and tears down the calls whose
    /// credit is exhausted.
    pub fn handle_timeout(&mut self, now: UnixTime) {
        loop {
            let due = self
                .calls
                .iter()
                .filter_map(|(id, c)| match c.state {
                    State::Answered {
                        at,
                        covered,
                        torn_down: false,
                        ..
                    } => Some((at.saturating_add(i64::from(covered)), *id)),
                    _ => None,
                })
                .filter(|(deadline, _)| *deadline <= now)
                .min();
            let Some((_, id)) = due else { break };
            self.extend(id);
        }
    }

    /// The next thing for the caller to carry out.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Money added to the balance at `now`. Running calls draw on it from their next slice
    /// on; slices already due are debited now.
    pub fn top_up(&mut self, amount: Decimal, now: UnixTime) -> Result<(), Error> {
        if amount.is_sign_negative() && !amount.is_zero() {
            return Err(Error::NegativeAmount(amount));
        }
        self.balance = self
            .balance
            .checked_add(amount)
            .ok_or_else(|| Error::Invalid(format!("a top-up of {amount} overflows the balance")))?;
        self.handle_timeout(now);
        Ok(())
    }

    /// The call ended at `now`: what it cost, what was debited, and the refund (already
    /// applied to [`Credit::balance`]). An unanswered call settles at zero.
    pub fn ended(&mut self, call: CallId, now: UnixTime) -> Result<Settlement, Error> {
        let c = self.calls.remove(&call).ok_or(Error::UnknownCall(call.0))?;
        let State::Answered {
            at,
            covered,
            debited,
            ..
        } = c.state
        else {
            return Ok(Settlement::default());
        };
        let lasted = u32::try_from(now.saturating_sub(at).max(0)).unwrap_or(u32::MAX);
        // Beyond the paid time at most one increment is charged.
        let limit = if lasted > covered {
            c.tariff
                .cost(at, covered.saturating_add(1))
                .map_or(covered, |k| k.billed)
        } else {
            lasted
        };
        let billable = lasted.min(limit);
        let (charged, billed) = match c.tariff.cost(at, billable) {
            Ok(cost) => (cost.total, cost.billed),
            // A hole in the tariff: what was debited stands.
            Err(_) => (debited, covered),
        };
        let refund = (debited - charged).max(Decimal::ZERO);
        let further_debit = (charged - debited).max(Decimal::ZERO);
        self.balance += refund - further_debit;
        Ok(Settlement {
            charged,
            debited,
            refund,
            further_debit,
            billed,
            unbilled: lasted - billable,
        })
    }
}

#[cfg(test)]
mod tests;
