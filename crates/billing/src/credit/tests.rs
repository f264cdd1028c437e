//! The credit control on a simulated clock: every instant is a number the test chooses.

use super::*;
use crate::clock::UtcOffset;
use crate::money::{parse_amount, Rounding, RoundingMode};
use crate::rate::Rate;
use crate::tariff::TimedRate;
use crate::timing::Timing;

fn d(s: &str) -> Decimal {
    parse_amount(s).unwrap()
}

fn eur() -> Currency {
    Currency::new("EUR").unwrap()
}

fn tariff_with(
    fee: &str,
    per_min: &str,
    initial: u32,
    inc: u32,
    rounding: Rounding,
) -> Arc<Tariff> {
    let rate = Rate::per_minute("R", d(fee), d(per_min), initial, inc).unwrap();
    let timed = TimedRate {
        timing: Arc::new(Timing::always("*any")),
        rate: Arc::new(rate),
        weight: 0,
        rounding,
    };
    Arc::new(Tariff::new("Dest", eur(), UtcOffset::UTC, vec![timed]).unwrap())
}

/// 0.60 per minute, per second: one cent a second.
fn cent_a_second() -> Arc<Tariff> {
    tariff_with("0", "0.60", 1, 1, Rounding::default())
}

fn credit(balance: &str) -> Credit {
    Credit::new(eur(), d(balance), CreditConfig::default()).unwrap()
}

fn events(c: &mut Credit) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

fn debit(call: u64, amount: &str) -> Event {
    Event::Debit {
        call: CallId(call),
        amount: d(amount),
    }
}

fn teardown(call: u64) -> Event {
    Event::Teardown { call: CallId(call) }
}

const T: i64 = 1_790_000_000;
const A: CallId = CallId(1);
const B: CallId = CallId(2);

#[test]
fn slices_are_debited_one_interval_ahead() {
    let mut c = credit("10.00");
    assert_eq!(
        c.authorize(A, cent_a_second(), T).unwrap(),
        Authorization::MaxDuration(1000)
    );
    c.answered(A, T).unwrap();
    assert_eq!(events(&mut c), [debit(1, "0.60")]);
    assert_eq!(c.balance(), d("9.40"));
    assert_eq!(c.poll_timeout(), Some(T + 60));
    c.handle_timeout(T + 59);
    assert!(events(&mut c).is_empty());
    c.handle_timeout(T + 60);
    assert_eq!(events(&mut c), [debit(1, "0.60")]);
    assert_eq!(c.poll_timeout(), Some(T + 120));
    c.handle_timeout(T + 120);
    assert_eq!(events(&mut c), [debit(1, "0.60")]);
    // Ends at 125 s: 1.25 charged of 1.80 debited.
    let s = c.ended(A, T + 125).unwrap();
    assert_eq!(
        (s.charged, s.debited, s.refund, s.further_debit),
        (d("1.25"), d("1.80"), d("0.55"), d("0"))
    );
    assert_eq!(c.balance(), d("8.75"));
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.calls(), 0);
}

#[test]
fn two_concurrent_calls_share_one_balance() {
    let mut c = credit("1.00");
    assert_eq!(
        c.authorize(A, cent_a_second(), T).unwrap(),
        Authorization::MaxDuration(100)
    );
    c.answered(A, T).unwrap();
    assert_eq!(events(&mut c), [debit(1, "0.60")]);
    // B sees what A's slice left.
    assert_eq!(
        c.authorize(B, cent_a_second(), T + 10).unwrap(),
        Authorization::MaxDuration(40)
    );
    c.answered(B, T + 10).unwrap();
    assert_eq!(events(&mut c), [debit(2, "0.40")]);
    assert_eq!(c.balance(), d("0"));
    // A third call gets nothing.
    assert_eq!(
        c.authorize(CallId(3), cent_a_second(), T + 20).unwrap(),
        Authorization::NoCredit
    );
    assert_eq!(c.calls(), 2);
    // B's 40 s end first, at 50; A's slice at 60.
    assert_eq!(c.poll_timeout(), Some(T + 50));
    c.handle_timeout(T + 50);
    assert_eq!(events(&mut c), [teardown(2)]);
    assert_eq!(c.poll_timeout(), Some(T + 60));
    c.handle_timeout(T + 60);
    assert_eq!(events(&mut c), [teardown(1)]);
    let sb = c.ended(B, T + 50).unwrap();
    let sa = c.ended(A, T + 60).unwrap();
    assert_eq!((sa.charged, sb.charged), (d("0.60"), d("0.40")));
    assert_eq!(sa.charged + sb.charged, d("1.00"));
    assert_eq!(c.balance(), d("0"));
}

#[test]
fn teardown_at_the_exact_second() {
    let mut c = credit("0.30");
    assert_eq!(
        c.authorize(A, cent_a_second(), T).unwrap(),
        Authorization::MaxDuration(30)
    );
    c.answered(A, T + 3).unwrap();
    assert_eq!(events(&mut c), [debit(1, "0.30")]);
    assert_eq!(c.poll_timeout(), Some(T + 33));
    c.handle_timeout(T + 32);
    assert!(events(&mut c).is_empty());
    c.handle_timeout(T + 33);
    assert_eq!(events(&mut c), [teardown(1)]);
    assert_eq!(c.poll_timeout(), None);
    let s = c.ended(A, T + 33).unwrap();
    assert_eq!((s.charged, s.refund, s.billed), (d("0.30"), d("0"), 30));
    assert_eq!(c.balance(), d("0"));
}

#[test]
fn top_up_extends_a_running_call() {
    let mut c = credit("0.30");
    c.authorize(A, cent_a_second(), T).unwrap();
    c.answered(A, T).unwrap();
    assert_eq!(events(&mut c), [debit(1, "0.30")]);
    c.top_up(d("0.60"), T + 20).unwrap();
    assert!(events(&mut c).is_empty());
    c.handle_timeout(T + 30);
    assert_eq!(events(&mut c), [debit(1, "0.60")]);
    assert_eq!(c.poll_timeout(), Some(T + 90));
    c.handle_timeout(T + 90);
    assert_eq!(events(&mut c), [teardown(1)]);
    let s = c.ended(A, T + 90).unwrap();
    assert_eq!(s.charged, d("0.90"));
    assert_eq!(c.balance(), d("0"));
    assert!(c.top_up(d("-1"), T).is_err());
}

#[test]
fn top_up_a_second_before_teardown_saves_the_call() {
    let mut c = credit("0.30");
    c.authorize(A, cent_a_second(), T).unwrap();
    c.answered(A, T).unwrap();
    events(&mut c);
    c.top_up(d("5"), T + 29).unwrap();
    c.handle_timeout(T + 30);
    assert_eq!(events(&mut c), [debit(1, "0.60")]);
}

#[test]
fn unanswered_call_holds_the_connect_fee_and_settles_at_zero() {
    let t = tariff_with("0.50", "0.60", 1, 1, Rounding::default());
    let mut c = credit("1.00");
    assert_eq!(
        c.authorize(A, t.clone(), T).unwrap(),
        Authorization::MaxDuration(50)
    );
    assert_eq!(c.available(), d("0.50"));
    // Another call sees the hold: 0.50 left pays its connect fee only.
    assert_eq!(
        c.authorize(B, t.clone(), T).unwrap(),
        Authorization::NoCredit
    );
    assert_eq!(c.poll_timeout(), None);
    let s = c.ended(A, T + 30).unwrap();
    assert_eq!(s, Settlement::default());
    assert_eq!(c.balance(), d("1.00"));
    assert_eq!(c.available(), d("1.00"));
    // Answered, the connect fee goes with the first slice.
    c.authorize(B, t, T).unwrap();
    c.answered(B, T).unwrap();
    assert_eq!(events(&mut c), [debit(2, "1.00")]);
    let s = c.ended(B, T + 10).unwrap();
    assert_eq!((s.charged, s.refund), (d("0.60"), d("0.40")));
}

#[test]
fn slices_add_up_to_the_rounded_total() {
    // 0.125/min in whole minutes, 2 decimals half up: slices 0.13, 0.12, 0.13.
    let r = Rounding {
        decimals: 2,
        mode: RoundingMode::HalfUp,
    };
    let t = tariff_with("0", "0.125", 60, 60, r);
    let mut c = credit("5");
    c.authorize(A, t, T).unwrap();
    c.answered(A, T).unwrap();
    c.handle_timeout(T + 60);
    c.handle_timeout(T + 120);
    assert_eq!(
        events(&mut c),
        [debit(1, "0.13"), debit(1, "0.12"), debit(1, "0.13")]
    );
    let s = c.ended(A, T + 150).unwrap();
    assert_eq!(
        (s.charged, s.debited, s.refund),
        (d("0.38"), d("0.38"), d("0"))
    );
    assert_eq!(c.balance(), d("4.62"));
}

#[test]
fn late_end_costs_at_most_one_increment_below_zero() {
    // 10/10 increments at 0.60/min: 0.10 each; 0.30 pays 30 s.
    let t = tariff_with("0", "0.60", 10, 10, Rounding::default());
    let mut c = credit("0.30");
    c.authorize(A, t, T).unwrap();
    c.answered(A, T).unwrap();
    c.handle_timeout(T + 30);
    assert_eq!(events(&mut c), [debit(1, "0.30"), teardown(1)]);
    // The BYE went out 15 s late.
    let s = c.ended(A, T + 45).unwrap();
    assert_eq!(
        (s.charged, s.further_debit, s.billed, s.unbilled),
        (d("0.40"), d("0.10"), 40, 5)
    );
    assert_eq!(c.balance(), d("-0.10"));
}

#[test]
fn the_longest_call_is_capped() {
    let cfg = CreditConfig {
        debit_interval: 60,
        max_call_secs: 150,
    };
    let mut c = Credit::new(eur(), d("100"), cfg).unwrap();
    assert_eq!(
        c.authorize(A, cent_a_second(), T).unwrap(),
        Authorization::MaxDuration(150)
    );
    c.answered(A, T).unwrap();
    c.handle_timeout(T + 60);
    c.handle_timeout(T + 120);
    c.handle_timeout(T + 150);
    assert_eq!(
        events(&mut c),
        [
            debit(1, "0.60"),
            debit(1, "0.60"),
            debit(1, "0.30"),
            teardown(1)
        ]
    );
}

#[test]
fn misuse_is_an_error() {
    let mut c = credit("1");
    assert!(matches!(c.answered(A, T), Err(Error::UnknownCall(_))));
    c.authorize(A, cent_a_second(), T).unwrap();
    assert!(matches!(
        c.authorize(A, cent_a_second(), T),
        Err(Error::DuplicateCall(_))
    ));
    c.answered(A, T).unwrap();
    assert!(matches!(c.answered(A, T), Err(Error::AlreadyAnswered(_))));
    let sek = Currency::new("SEK").unwrap();
    let mut other = Credit::new(sek, d("1"), CreditConfig::default()).unwrap();
    assert!(matches!(
        other.authorize(B, cent_a_second(), T),
        Err(Error::CurrencyMismatch { .. })
    ));
    assert!(Credit::new(
        eur(),
        d("1"),
        CreditConfig {
            debit_interval: 0,
            max_call_secs: 1
        }
    )
    .is_err());
    c.ended(A, T + 5).unwrap();
    assert!(matches!(c.ended(A, T + 5), Err(Error::UnknownCall(_))));
}

#[test]
fn extreme_times_and_amounts_do_not_panic() {
    let mut c = Credit::new(eur(), Decimal::MAX, CreditConfig::default()).unwrap();
    assert!(c.top_up(Decimal::MAX, T).is_err());
    assert_eq!(
        c.authorize(A, cent_a_second(), i64::MAX - 5).unwrap(),
        Authorization::MaxDuration(10_800)
    );
    c.answered(A, i64::MAX - 5).unwrap();
    c.handle_timeout(i64::MAX);
    let s = c.ended(A, i64::MIN).unwrap();
    assert_eq!(s.billed, 0);
    let t = tariff_with(
        "0",
        "0.60",
        60,
        60,
        Rounding {
            decimals: 0,
            mode: RoundingMode::Down,
        },
    );
    assert!(t.max_billed(i64::MIN, Decimal::MAX, 10_800).is_ok());
    assert!(t.cost(i64::MAX, u32::MAX).is_ok());
}
