//! Prepaid calls: authorised before they ring, paid slice by slice while they run, ended
//! by the proxy when the credit is gone (seed 000's pre-paid scenario: "keep track of
//! system usage in real time so that customers may be blocked (call tear down) if they
//! run out of credit"; CGRateS's `*prepaid` sessions, Kamailio's `cnxcc`).
//!
//! `PrepaidHook` is a hook of the engine (`crate::policy::hook::Hook`); the money itself
//! is the `billing` crate's [`Credit`], one per prepaid account with calls, which this
//! module drives with the time:
//!
//! 1. `on_forward`: an initial INVITE from an authenticated subscriber with a prepaid
//!    account, to a number, waits for [`IoRequest::Prepaid`] (the balance and the
//!    tariff of the number in the caller's plan), then [`Credit::authorize`] answers:
//!    `402 Payment Required` without credit (or, with `[media] announcements` on and an
//!    SDP offer to play it to, the "insufficient credit" announcement as early media, then
//!    the 402), `403` for a number no plan prices, else the call is forwarded. A call to a name (a subscriber, a service) is not rated, nor one
//!    that stays on this network when `[billing] on_net = "free"`.
//! 2. `on_dialog`: answered → the first slice is debited; ended (a BYE, or the proxy's
//!    hang-up) → [`Credit::ended`] settles, and the settlement ([`Record::Settle`]) goes
//!    to the accounting writer, which writes it with the call's record in one
//!    transaction; failed → settled at zero.
//! 3. `on_timeout` at the end of a call's paid time: first the money put in since
//!    ([`IoRequest::Ledger`]: a top-up during the call extends it), then
//!    [`Credit::handle_timeout`]: the next slice is debited ([`Record::Ledger`]), or the
//!    call is ended (`HookCx::hang_up`: BYE to both, the record says credit exhausted).
//!
//! The in-memory [`Credit`] of an account is the truth for the money this server moves
//! while it has calls, and for [`LINGER`] after the last one (its settlement may still be
//! on its way to the store); then it is dropped and the next call reads the ledger again.
//! Which subscribers are prepaid comes from the shell ([`AccountBook`], read again when
//! the accounts change), so a call from anyone else costs one hash lookup.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ahash::HashMap;
use billing::{Authorization, CallId, Credit, CreditConfig, Currency, Decimal, Event};
use sip::{Message, Method, Uri};
use store::{AccountKind, Address, EntryKind, NewEntry};

use crate::config::OnNet;
use crate::engine::io::{Answer, IoId, IoRequest, Now, PrepaidCaller, Record, Settle, Source};
use crate::policy::hook::{DialogEvent, EndReason, Flow, Hook, HookCx};
use crate::proxy::{Forward, Target};
use crate::rating::SharedRater;
use crate::services::ServicesConfig;

/// How long an account's credit stays in memory after its last call ended.
pub(crate) const LINGER: Duration = Duration::from_secs(60);

/// How each subscriber with an account pays, kept by the shell (read again when the
/// `accounts` table changes) and read by the prepaid hook and the accounting writer.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccountBook {
    inner: Arc<RwLock<HashMap<Address, Terms>>>,
}

/// How one account pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Terms {
    /// Prepaid or postpaid.
    pub(crate) kind: AccountKind,
    /// The rating plan the account names, if any.
    pub(crate) plan: Option<String>,
}

impl AccountBook {
    /// The terms of `address`'s account; `None`: no account (calls are free of charge
    /// to the subscriber, rated only on their records).
    pub(crate) fn terms(&self, address: &Address) -> Option<Terms> {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        map.get(address).cloned()
    }

    fn is_prepaid(&self, address: &Address) -> bool {
        let map = self.inner.read().unwrap_or_else(|p| p.into_inner());
        map.get(address)
            .is_some_and(|t| t.kind == AccountKind::Prepaid)
    }

    /// Replaces the book with the accounts read from the store.
    pub(crate) fn replace(&self, accounts: &[store::Account]) {
        let map = accounts
            .iter()
            .map(|a| {
                (
                    a.address.clone(),
                    Terms {
                        kind: a.kind,
                        plan: a.plan.clone(),
                    },
                )
            })
            .collect();
        *self.inner.write().unwrap_or_else(|p| p.into_inner()) = map;
    }

    /// How many accounts it holds.
    pub(crate) fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// One prepaid account this server follows.
#[derive(Debug)]
struct Account {
    credit: Credit,
    /// The newest ledger entry known (the money put in after it is asked for).
    last_entry: i64,
    /// A question for the money put in is on its way.
    asking: Option<IoId>,
    /// When its last call ended (`None` while it has calls).
    idle_since: Option<Instant>,
}

/// A prepaid call.
#[derive(Debug, Clone)]
struct PaidCall {
    account: Address,
    id: CallId,
    plan: String,
    currency: String,
}

/// A call waiting for its [`IoRequest::Prepaid`] answer.
#[derive(Debug)]
struct Authorizing {
    call_id: String,
    account: Address,
    /// Where the caller hears why, instead of a bare 402 ([`PrepaidHook::refusal`]).
    announce: Option<Target>,
}

/// The prepaid billing hook. See the module docs.
#[derive(Debug)]
pub(crate) struct PrepaidHook {
    book: AccountBook,
    /// The plans, to authorise a call of an account already followed without I/O.
    rater: SharedRater,
    config: CreditConfig,
    /// Whether calls that stay on this network are charged.
    on_net: OnNet,
    /// The media services, for the "insufficient credit" announcement.
    services: ServicesConfig,
    accounts: HashMap<Address, Account>,
    calls: HashMap<String, PaidCall>,
    authorizing: HashMap<IoId, Authorizing>,
    next_call: u64,
    /// The two clocks at the last event, to turn a Unix second into an instant.
    clock: Option<Now>,
    /// When `on_timeout` is next due (kept, since the engine asks after every message).
    due: Option<Instant>,
}

impl PrepaidHook {
    /// A hook for the prepaid accounts in `book`, pricing with `rater`'s plans.
    pub(crate) fn new(
        book: AccountBook,
        rater: SharedRater,
        config: CreditConfig,
        on_net: OnNet,
        services: ServicesConfig,
    ) -> PrepaidHook {
        PrepaidHook {
            book,
            rater,
            on_net,
            services,
            config,
            accounts: HashMap::default(),
            calls: HashMap::default(),
            authorizing: HashMap::default(),
            next_call: 0,
            clock: None,
            due: None,
        }
    }

    /// Works out when `on_timeout` is next due: a followed account's paid time ending
    /// (unless its ledger is being read), or its linger after its last call.
    fn recompute_due(&mut self) {
        self.due = self
            .accounts
            .values()
            .filter_map(|a| match (a.asking, a.idle_since) {
                (Some(_), _) => None,
                (None, Some(idle)) => Some(idle + LINGER),
                (None, None) => a.credit.poll_timeout().and_then(|s| self.instant_of(s)),
            })
            .min();
    }

    /// Authorises call `call_id` of followed account `account` from memory: the tariff of
    /// `number` from the plans in force. `None` when that cannot decide (no credit left in
    /// memory: the store may know of a top-up; the account is not followed).
    fn authorize_from_memory(
        &mut self,
        now: Now,
        call_id: &str,
        account: &Address,
        number: &str,
    ) -> Option<Flow> {
        let currency = self.accounts.get(account)?.credit.currency().to_string();
        let plan = self.book.terms(account).and_then(|t| t.plan);
        let tariff = self
            .rater
            .tariff(account, number, unix_secs(now), plan.as_deref());
        let available = self.accounts.get(account)?.credit.available();
        if tariff.is_some() && available.is_zero() {
            return None;
        }
        let found = PrepaidCaller {
            balance: Decimal::ZERO, // not read: the account is followed
            last_entry: 0,
            currency,
            put_in: Vec::new(),
            tariff,
        };
        let flow = self.authorize(now, call_id.to_owned(), account.clone(), found);
        if let Flow::Refuse { code: 402, .. } = flow {
            return None; // perhaps topped up since: ask the store before refusing
        }
        Some(flow)
    }

    /// The announcement a caller of `caller`'s domain hears instead of a bare 402, when
    /// announcements are on and the INVITE offers media to hear it with (the media
    /// service answers offers only).
    fn credit_announcement(&self, request: &Message, caller: &Address) -> Option<Target> {
        if request.body().is_empty() {
            return None;
        }
        crate::services::announcement(&self.services, &caller.domain, 402)
    }

    /// What becomes of a call the credit refused: with an announcement, the call goes to
    /// it (and the media service ends it with the 402); else the refusal stands.
    fn refusal(flow: Flow, announce: Option<Target>, forward: &mut Forward) -> Flow {
        match (flow, announce) {
            (Flow::Refuse { code: 402, .. }, Some(target)) => {
                forward.targets = vec![target];
                forward.fallbacks = Default::default();
                forward.voicemail = None;
                Flow::Continue
            }
            (flow, _) => flow,
        }
    }

    /// The instant Unix second `secs` begins, by the clocks of the last event.
    fn instant_of(&self, secs: i64) -> Option<Instant> {
        let clock = self.clock?;
        let at_ms = secs.saturating_mul(1000);
        let now_ms = clock.unix_ms_i64();
        Some(if at_ms >= now_ms {
            clock.instant + Duration::from_millis(u64::try_from(at_ms - now_ms).unwrap_or(0))
        } else {
            clock.instant
        })
    }

    /// Carries out what the credit of `account` wants: debits to the ledger, teardowns.
    fn drain(&mut self, cx: &mut HookCx<'_>, account: &Address) {
        let Some(acct) = self.accounts.get_mut(account) else {
            return;
        };
        while let Some(event) = acct.credit.poll_event() {
            match event {
                Event::Debit { call, amount } => {
                    let Some((call_id, _)) = self.calls.iter().find(|(_, c)| c.id == call) else {
                        continue;
                    };
                    cx.io.push(IoRequest::Record(Record::Ledger(NewEntry {
                        address: account.clone(),
                        at_ms: cx.now.unix_ms_i64(),
                        kind: EntryKind::Debit,
                        amount: -amount,
                        call_id: Some(call_id.clone()),
                        note: None,
                    })));
                }
                Event::Teardown { call } => {
                    if let Some((call_id, _)) = self.calls.iter().find(|(_, c)| c.id == call) {
                        tracing::info!(
                            call_id = %call_id,
                            account = %account,
                            "credit exhausted: ending the call"
                        );
                        cx.hang_up(call_id, EndReason::Credit);
                    }
                }
            }
        }
    }

    /// The call `call_id` ended at `now` (hung up, ended by the proxy, or failed):
    /// settles it and hands the settlement to the writer.
    fn settle(&mut self, cx: &mut HookCx<'_>, call_id: &str) {
        let Some(call) = self.calls.remove(call_id) else {
            return;
        };
        let now = cx.now;
        let Some(acct) = self.accounts.get_mut(&call.account) else {
            return;
        };
        match acct.credit.ended(call.id, unix_secs(now)) {
            Ok(settlement) => {
                if acct.credit.calls() == 0 {
                    acct.idle_since = Some(now.instant);
                }
                if !settlement.charged.is_zero() || !settlement.debited.is_zero() {
                    cx.io
                        .push(IoRequest::Record(Record::Settle(Box::new(Settle {
                            call_id: call_id.to_owned(),
                            account: call.account.clone(),
                            plan: call.plan,
                            currency: call.currency,
                            charged: settlement.charged,
                            debited: settlement.debited,
                            at_ms: now.unix_ms_i64(),
                        }))));
                }
            }
            Err(e) => tracing::error!(call_id, error = %e, "prepaid call not settled"),
        }
        self.drain(cx, &call.account);
    }

    /// Authorises call `call_id` with what the shell found of its caller.
    fn authorize(
        &mut self,
        now: Now,
        call_id: String,
        account: Address,
        found: PrepaidCaller,
    ) -> Flow {
        let Some((plan, tariff)) = found.tariff else {
            tracing::info!(call_id, account = %account, "prepaid call refused: no rate for the number dialled");
            return Flow::Refuse {
                code: 403,
                reason: "No rate for this destination",
            };
        };
        let currency = match Currency::new(&found.currency) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(account = %account, error = %e, "prepaid account with a bad currency");
                return Flow::Refuse {
                    code: 402,
                    reason: "Payment Required",
                };
            }
        };
        if !self.accounts.contains_key(&account) {
            match Credit::new(currency, found.balance, self.config) {
                Ok(credit) => {
                    self.accounts.insert(
                        account.clone(),
                        Account {
                            credit,
                            last_entry: found.last_entry,
                            asking: None,
                            idle_since: None,
                        },
                    );
                }
                Err(e) => {
                    tracing::error!(account = %account, error = %e, "prepaid credit not set up");
                    return Flow::Refuse {
                        code: 402,
                        reason: "Payment Required",
                    };
                }
            }
        }
        let Some(acct) = self.accounts.get_mut(&account) else {
            return Flow::Continue;
        };
        put_in(acct, &found.put_in, unix_secs(now));
        self.next_call += 1;
        let id = CallId(self.next_call);
        match acct.credit.authorize(id, tariff, unix_secs(now)) {
            Ok(Authorization::MaxDuration(secs)) => {
                acct.idle_since = None;
                tracing::debug!(call_id, account = %account, max_secs = secs, "prepaid call authorised");
                self.calls.insert(
                    call_id,
                    PaidCall {
                        account,
                        id,
                        plan,
                        currency: found.currency,
                    },
                );
                Flow::Continue
            }
            Ok(Authorization::NoCredit) => {
                tracing::info!(
                    call_id,
                    account = %account,
                    balance = %acct.credit.balance(),
                    "prepaid call refused: no credit"
                );
                Flow::Refuse {
                    code: 402,
                    reason: "Payment Required",
                }
            }
            Err(e) => {
                tracing::error!(call_id, account = %account, error = %e, "prepaid call not authorised");
                Flow::Refuse {
                    code: 402,
                    reason: "Payment Required",
                }
            }
        }
    }

    /// A call was answered, ended, or failed: its first slice, or its settlement.
    fn dialog_event(&mut self, cx: &mut HookCx<'_>, event: DialogEvent<'_>) {
        match event {
            DialogEvent::Settled { invite, code, .. } => {
                let Ok(call_id) = invite.call_id() else {
                    return;
                };
                if code >= 300 {
                    self.settle(cx, call_id);
                    return;
                }
                let Some(call) = self.calls.get(call_id) else {
                    return;
                };
                let account = call.account.clone();
                let id = call.id;
                if let Some(acct) = self.accounts.get_mut(&account) {
                    if let Err(e) = acct.credit.answered(id, unix_secs(cx.now)) {
                        tracing::error!(call_id, error = %e, "prepaid answer not taken");
                    }
                }
                self.drain(cx, &account);
            }
            DialogEvent::Ended { bye } => {
                if let Ok(call_id) = bye.call_id() {
                    self.settle(cx, call_id);
                }
            }
            DialogEvent::EndedHere { call_id, .. } => self.settle(cx, call_id),
            DialogEvent::Started { .. } | DialogEvent::Refused { .. } => {}
        }
    }
}

/// Adds the money put into the account since its last known entry (negative
/// adjustments wait for the next reading of the ledger: a running call is not cut by one).
fn put_in(acct: &mut Account, entries: &[(i64, Decimal)], now: i64) {
    for &(id, amount) in entries {
        if id <= acct.last_entry {
            continue;
        }
        acct.last_entry = id;
        if amount.is_sign_positive() && !amount.is_zero() {
            if let Err(e) = acct.credit.top_up(amount, now) {
                tracing::error!(error = %e, "a top-up not applied to the running calls");
            }
        }
    }
}

/// Unix seconds of `now`.
fn unix_secs(now: Now) -> i64 {
    now.unix_ms_i64().div_euclid(1000)
}

/// The number dialled: the Request-URI's user part when it is digits (a leading `+`
/// allowed); `None` for a name (an on-net call).
fn dialled_number(request: &Message) -> Option<String> {
    let user = match request.request_uri()? {
        Uri::Sip(uri) => crate::location::user_and_domain(&uri)?.0,
        Uri::Tel(t) => t.number.to_owned(),
        _ => return None,
    };
    let digits = user.strip_prefix('+').unwrap_or(&user);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(user)
}

impl Hook for PrepaidHook {
    fn on_forward(
        &mut self,
        cx: &mut HookCx<'_>,
        request: &Message,
        _source: Source,
        forward: &mut Forward,
    ) -> Flow {
        if request.method() != Some(&Method::Invite) {
            return Flow::Continue;
        }
        let Some(caller) = &forward.caller else {
            return Flow::Continue;
        };
        if request.to().is_ok_and(|t| t.tag().is_some()) || !self.book.is_prepaid(caller) {
            return Flow::Continue;
        }
        let Ok(call_id) = request.call_id() else {
            return Flow::Continue;
        };
        if self.calls.contains_key(call_id) {
            return Flow::Continue; // forwarded again (the failure phase): authorised
        }
        if forward.on_net && self.on_net == OnNet::Free {
            return Flow::Continue; // stays on this network: free
        }
        let Some(number) = dialled_number(request) else {
            return Flow::Continue; // a name, not a number: not rated
        };
        self.clock = Some(cx.now);
        let announce = self.credit_announcement(request, caller);
        if let Some(flow) = self.authorize_from_memory(cx.now, call_id, caller, &number) {
            self.recompute_due();
            return PrepaidHook::refusal(flow, announce, forward);
        }
        let after = self.accounts.get(caller).map(|a| a.last_entry);
        let caller = caller.clone();
        let at_secs = unix_secs(cx.now);
        let id = cx.ask(|id| IoRequest::Prepaid {
            id,
            caller: caller.clone(),
            number,
            at_secs,
            after,
        });
        self.authorizing.insert(
            id,
            Authorizing {
                call_id: call_id.to_owned(),
                account: caller,
                announce,
            },
        );
        Flow::Wait(id)
    }

    fn resume_forward(
        &mut self,
        cx: &mut HookCx<'_>,
        id: IoId,
        answer: Answer,
        forward: &mut Forward,
    ) -> Flow {
        self.clock = Some(cx.now);
        let Some(Authorizing {
            call_id,
            account,
            announce,
        }) = self.authorizing.remove(&id)
        else {
            return Flow::Continue;
        };
        let flow = match answer {
            Answer::Prepaid(Some(found)) => self.authorize(cx.now, call_id, account, found),
            Answer::Prepaid(None) => Flow::Continue,
            other => {
                tracing::error!(call_id, account = %account, answer = ?other, "prepaid account not read; call refused");
                Flow::Refuse {
                    code: 503,
                    reason: "Credit check failed",
                }
            }
        };
        self.recompute_due();
        PrepaidHook::refusal(flow, announce, forward)
    }

    fn on_dialog(&mut self, cx: &mut HookCx<'_>, event: DialogEvent<'_>) {
        if matches!(
            event,
            DialogEvent::Started { .. } | DialogEvent::Refused { .. }
        ) {
            return;
        }
        self.clock = Some(cx.now);
        self.dialog_event(cx, event);
        self.recompute_due();
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.due
    }

    fn on_timeout(&mut self, cx: &mut HookCx<'_>) {
        self.clock = Some(cx.now);
        let now = cx.now.instant;
        self.accounts
            .retain(|_, a| a.idle_since.is_none_or(|idle| now < idle + LINGER));
        let now_secs = unix_secs(cx.now);
        let due: Vec<Address> = self
            .accounts
            .iter()
            .filter(|(_, a)| {
                a.asking.is_none() && a.credit.poll_timeout().is_some_and(|s| s <= now_secs)
            })
            .map(|(address, _)| address.clone())
            .collect();
        for address in due {
            // The money put in first: a top-up made during the call extends it.
            let Some(acct) = self.accounts.get_mut(&address) else {
                continue;
            };
            let after = acct.last_entry;
            let account = address.clone();
            acct.asking = Some(cx.ask(|id| IoRequest::Ledger { id, account, after }));
        }
        self.recompute_due();
    }

    fn on_answer(&mut self, cx: &mut HookCx<'_>, id: IoId, answer: &Answer) -> bool {
        let Some(address) = self
            .accounts
            .iter()
            .find(|(_, a)| a.asking == Some(id))
            .map(|(address, _)| address.clone())
        else {
            return false;
        };
        self.clock = Some(cx.now);
        let now = unix_secs(cx.now);
        if let Some(acct) = self.accounts.get_mut(&address) {
            acct.asking = None;
            match answer {
                Answer::Ledger(entries) => put_in(acct, entries, now),
                other => {
                    tracing::warn!(account = %address, answer = ?other, "ledger not read; going on with the credit known")
                }
            }
            acct.credit.handle_timeout(now);
        }
        self.drain(cx, &address);
        self.recompute_due();
        true
    }
}
