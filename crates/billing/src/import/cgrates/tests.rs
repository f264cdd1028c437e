use super::*;
use crate::clock::parse_rfc3339;
use crate::money::parse_amount;
use crate::money::Decimal;

fn d(s: &str) -> Decimal {
    parse_amount(s).unwrap()
}

fn options() -> Options {
    Options {
        currency: Currency::new("EUR").unwrap(),
        utc_offset: UtcOffset::UTC,
    }
}

const DESTINATIONS: &str = "\
#Id,Prefix
DST_SE,+46
DST_SE_STHLM,468
DST_DE_MOBILE,+49151
DST_DE_MOBILE,+49161
";

const RATES: &str = "\
#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
RT_10CNT,0.2,0.1,60s,60s,0s
RT_10CNT,0,0.05,60s,1s,60s
RT_40CNT,0.8,0.4,60s,30s,0s
RT_40CNT,0,0.2,60s,10s,60s
RT_1CNT,0,0.01,1m,1m,0
";

const DESTINATION_RATES: &str = "\
#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy
DR_SE_40CNT,DST_SE,RT_40CNT,*up,4,0,
DR_SE_10CNT,DST_SE,RT_10CNT,*up,4,0,
DR_STHLM,DST_SE_STHLM,RT_1CNT,*middle,2,,
DR_MOBILE,DST_DE_MOBILE,RT_10CNT,*up,4,0,
DR_ANY,*any,RT_40CNT,*down,4,0,
";

const TIMINGS: &str = "\
#Tag,Years,Months,MonthDays,WeekDays,Time
PEAK,*any,*any,*any,1;2;3;4;5,08:00:00
OFFPEAK_MORNING,*any,*any,*any,1;2;3;4;5,00:00:00
OFFPEAK_EVENING,*any,*any,*any,1;2;3;4;5,19:00:00
OFFPEAK_WEEKEND,*any,*any,*any,6;7,00:00:00
";

const RATING_PLANS: &str = "\
#Id,DestinationRatesId,TimingTag,Weight
RP_RETAIL,DR_SE_40CNT,PEAK,10
RP_RETAIL,DR_SE_10CNT,OFFPEAK_MORNING,10
RP_RETAIL,DR_SE_10CNT,OFFPEAK_EVENING,10
RP_RETAIL,DR_SE_10CNT,OFFPEAK_WEEKEND,10
RP_RETAIL,DR_STHLM,*any,10
RP_RETAIL,DR_MOBILE,ALWAYS,10
RP_WHOLESALE,DR_ANY,*any,10
";

const RATING_PROFILES: &str = "\
#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject
example.com,call,alice,2026-01-01T00:00:00Z,RP_WHOLESALE,
example.com,call,alice,2026-06-01T00:00:00Z,RP_RETAIL,
example.com,call,*any,2026-01-01T00:00:00Z,RP_RETAIL,
example.com,sms,*any,2026-01-01T00:00:00Z,RP_RETAIL,
example.org,call,bob,2026-01-01T00:00:00Z,RP_RETAIL,carol
example.org,call,carol,2026-01-01T00:00:00Z,RP_WHOLESALE,
";

fn files<'a>(replace: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("tp/Destinations.csv", DESTINATIONS),
        ("tp/Rates.csv", RATES),
        ("tp/DestinationRates.csv", DESTINATION_RATES),
        ("tp/Timings.csv", TIMINGS),
        ("tp/RatingPlans.csv", RATING_PLANS),
        ("tp/RatingProfiles.csv", RATING_PROFILES),
    ];
    for (name, text) in replace {
        if let Some(e) = f.iter_mut().find(|e| e.0 == *name) {
            e.1 = text;
        }
    }
    f
}

fn problems(replace: &[(&str, &str)]) -> Vec<String> {
    match parse(&files(replace), &options()) {
        Err(Error::Import(e)) => e.errors().iter().map(ToString::to_string).collect(),
        other => panic!("expected an import error, got {other:?}"),
    }
}

fn at(s: &str) -> i64 {
    parse_rfc3339(s).unwrap()
}

#[test]
fn a_small_tariff_plan() {
    let imported = parse(&files(&[]), &options()).unwrap();
    let set = &imported.plans;
    assert_eq!(set.plans().len(), 2);
    assert_eq!(imported.skipped.len(), 1);
    assert!(
        imported.skipped[0].contains("RatingProfiles.csv:5"),
        "{:?}",
        imported.skipped
    );
    let retail = set.plan("RP_RETAIL").unwrap();
    assert_eq!(retail.prefixes(), 4);
    // Peak, Monday 10:00: 0.80 connect + 60 s at 0.40 (one 30 s increment is 0.20) and
    // then 10 s increments at 0.20/min: 125 s = 0.80 + 0.40 + 7 × 0.0333… = 1.4333…, up.
    let monday = at("2026-11-02T10:00:00Z");
    let r = retail.rate("+4670123", monday, 125).unwrap();
    assert_eq!((r.prefix, r.destination), ("46", "DST_SE"));
    assert_eq!(r.parts.len(), 2);
    assert_eq!(
        (r.parts[0].timing, r.parts[0].rate, r.parts[0].increment),
        ("PEAK", "RT_40CNT", 30)
    );
    assert_eq!((r.parts[1].count, r.parts[1].increment), (7, 10));
    assert_eq!(r.cost.total, d("1.4334"));
    // Off-peak evening: RT_10CNT.
    let r = retail
        .rate("4670123", at("2026-11-02T19:30:00Z"), 61)
        .unwrap();
    assert_eq!(r.parts[0].timing, "OFFPEAK_EVENING");
    assert_eq!(r.cost.total, d("0.3009")); // 0.2 + 0.1 + 0.05/60 = 0.300833…, up
                                           // Stockholm: per minute at a cent, 2 decimals half up.
    let r = retail.rate("46812345", monday, 61).unwrap();
    assert_eq!((r.destination, r.cost.total), ("DST_SE_STHLM", d("0.02")));
    // German mobile under the built-in ALWAYS.
    assert_eq!(
        retail.rate("4916112", monday, 60).unwrap().cost.total,
        d("0.3")
    );
    // Wholesale's *any matches every number, rounded down.
    let any = set.plan("RP_WHOLESALE").unwrap();
    assert_eq!(any.rate("1555", monday, 1).unwrap().prefix, "");
}

#[test]
fn rating_profiles_assign_plans() {
    let imported = parse(&files(&[]), &options()).unwrap();
    let set = &imported.plans;
    let may = at("2026-05-01T12:00:00Z");
    let july = at("2026-07-01T12:00:00Z");
    assert_eq!(
        set.plan_for("alice", "example.com", may).unwrap().name(),
        "RP_WHOLESALE"
    );
    assert_eq!(
        set.plan_for("alice", "example.com", july).unwrap().name(),
        "RP_RETAIL"
    );
    assert_eq!(
        set.plan_for("dave", "example.com", july).unwrap().name(),
        "RP_RETAIL"
    );
    assert!(matches!(
        set.plan_for("dave", "example.net", july),
        Err(Error::NoPlanAssigned { .. })
    ));
    assert!(set
        .plan_for("alice", "example.com", at("2025-01-01T00:00:00Z"))
        .is_err());
    // bob's plan has no destination for 1555; his fallback subject carol's has (*any).
    let r = set.rate("bob", "example.org", "1555", july, 60).unwrap();
    assert_eq!(r.plan, "RP_WHOLESALE");
    let r = set.rate("bob", "example.org", "4670", july, 60).unwrap();
    assert_eq!(r.plan, "RP_RETAIL");
}

#[test]
fn go_durations() {
    assert_eq!(duration("60s"), Ok(60));
    assert_eq!(duration("1m30s"), Ok(90));
    assert_eq!(duration("1h"), Ok(3600));
    assert_eq!(duration("7"), Ok(7));
    assert!(duration("500ms").is_err());
    assert!(duration("1.5m").is_err());
    assert!(duration("s").is_err());
    assert!(duration("").is_err());
}

#[test]
fn malformed_files_name_file_line_and_column() {
    let rates = "\
#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart
RT_10CNT,0.2,0.1,60s,60s,0s
RT_10CNT,0,0.05,60s,1s,60s
RT_40CNT,0.8,0.4,60s,30s,0s
RT_40CNT,0,0.2,60s,10s,60s
RT_1CNT,0,0.01,1m,1m,0
RT_BAD,x,0.01,1m,0s,0
RT_LATE,0,0.01,1m,1m,10s
";
    let timings = "\
#Tag,Years,Months,MonthDays,WeekDays,Time
PEAK,*any,*any,*any,1;2;3;4;5,08:00:00
OFFPEAK_MORNING,*any,*any,*any,1;2;3;4;5,00:00:00
OFFPEAK_EVENING,*any,*any,*any,1;2;3;4;5,25:00:00
OFFPEAK_WEEKEND,*any,13,*any,6;7,00:00:00
";
    let plans = "\
#Id,DestinationRatesId,TimingTag,Weight
RP_RETAIL,DR_SE_40CNT,PEAK,10
RP_RETAIL,DR_NOPE,PEAK,10
RP_RETAIL,DR_SE_10CNT,HOLIDAY,ten
RP_WHOLESALE,DR_ANY,*any,10
";
    assert_eq!(
        problems(&[
            ("tp/Rates.csv", rates),
            ("tp/Timings.csv", timings),
            ("tp/RatingPlans.csv", plans),
        ]),
        [
            "tp/Rates.csv:7:8: ConnectFee \"x\" is not a decimal number",
            "tp/Rates.csv:7:18: RateIncrement 0 s is out of range 1..=86400",
            "tp/Rates.csv:8:1: rate RT_LATE starts at 10 s: a slot from 0 s is needed",
            "tp/Timings.csv:4:42: Time: \"25:00:00\" is not a time of day (HH:MM:SS expected)",
            "tp/Timings.csv:5:22: Months: 13 is out of range 1..=12",
            "tp/RatingPlans.csv:3:11: DestinationRatesId \"DR_NOPE\" is not in DestinationRates.csv",
            "tp/RatingPlans.csv:4:23: TimingTag \"HOLIDAY\" is not in Timings.csv (nor *any or ALWAYS)",
            "tp/RatingPlans.csv:4:31: Weight \"ten\": a whole number expected",
        ]
    );
}

#[test]
fn references_and_shapes() {
    let drs = "\
#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy
DR_SE_40CNT,DST_SE,RT_40CNT,*up,4,0,
DR_SE_10CNT,DST_XX,RT_10CNT,*sideways,4,0,
DR_STHLM,DST_SE_STHLM,RT_NONE,*middle,40
DR_MOBILE,DST_DE_MOBILE,RT_10CNT,*up,4,0.62,*disconnect
DR_ANY,*any
";
    assert_eq!(
        problems(&[("tp/DestinationRates.csv", drs)]),
        [
            "tp/DestinationRates.csv:3:13: DestinationId \"DST_XX\" is not in Destinations.csv",
            "tp/DestinationRates.csv:3:29: RoundingMethod \"*sideways\": *up, *down or *middle expected",
            "tp/DestinationRates.csv:4:23: RatesTag \"RT_NONE\" is not in Rates.csv",
            "tp/DestinationRates.csv:4:39: RoundingDecimals \"40\": 0 to 12 expected",
            "tp/DestinationRates.csv:5:40: MaxCost \"0.62\": only 0 (no cap) is supported",
            "tp/DestinationRates.csv:6:12: 2 fields, 5 to 7 (#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals[,MaxCost,MaxCostStrategy]) expected",
            "tp/RatingPlans.csv:3:11: DestinationRatesId \"DR_SE_10CNT\" is not in DestinationRates.csv",
            "tp/RatingPlans.csv:4:11: DestinationRatesId \"DR_SE_10CNT\" is not in DestinationRates.csv",
            "tp/RatingPlans.csv:5:11: DestinationRatesId \"DR_SE_10CNT\" is not in DestinationRates.csv",
            "tp/RatingPlans.csv:6:11: DestinationRatesId \"DR_STHLM\" is not in DestinationRates.csv",
            "tp/RatingPlans.csv:7:11: DestinationRatesId \"DR_MOBILE\" is not in DestinationRates.csv",
            "tp/RatingPlans.csv:8:14: DestinationRatesId \"DR_ANY\" is not in DestinationRates.csv",
        ]
    );
}

#[test]
fn files_prefix_clashes_and_profiles() {
    // A missing required file, an unknown one.
    let only = [("Destinations.csv", DESTINATIONS), ("notes.txt", "hello")];
    let e = match parse(&only, &options()) {
        Err(Error::Import(e)) => e
            .errors()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        e,
        [
            "notes.txt:1:1: not a CGRateS rating file (expected one of Destinations.csv, Rates.csv, DestinationRates.csv, Timings.csv, RatingPlans.csv, RatingProfiles.csv)",
            "Rates.csv:1:1: missing: this file is required",
            "DestinationRates.csv:1:1: missing: this file is required",
            "RatingPlans.csv:1:1: missing: this file is required",
        ]
    );
    // One prefix in two destinations of one plan.
    let dests = format!("{DESTINATIONS}DST_SE_STHLM,+46\n");
    let e = problems(&[("tp/Destinations.csv", &dests)]);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("tp/Destinations.csv:6:1: rating plan RP_RETAIL"),
        "{e:?}"
    );
    // Profiles: a bad time, an unknown plan, the older layout with Direction.
    let profiles = "\
#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject
example.com,call,alice,yesterday,RP_RETAIL,
example.com,call,bob,2026-01-01T00:00:00Z,RP_NONE,
*out,example.com,call,carol,2026-01-01T00:00:00Z,RP_RETAIL,
";
    assert_eq!(
        problems(&[("tp/RatingProfiles.csv", profiles)]),
        [
            "tp/RatingProfiles.csv:2:24: ActivationTime \"yesterday\": RFC 3339 (2014-01-14T00:00:00Z) expected",
            "tp/RatingProfiles.csv:3:43: RatingPlanId \"RP_NONE\" is not in RatingPlans.csv",
        ]
    );
}
