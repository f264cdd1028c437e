use super::*;
use crate::clock::parse_rfc3339;

fn options() -> Options {
    Options::new("default", Currency::new("EUR").unwrap(), UtcOffset::UTC)
}

fn d(s: &str) -> Decimal {
    crate::money::parse_amount(s).unwrap()
}

fn timings() -> HashMap<String, Arc<Timing>> {
    let mut t = HashMap::new();
    let peak = Timing::always("peak")
        .week_days(&[1, 2, 3, 4, 5])
        .starting_at(8 * 3600);
    let night = Timing::always("night").starting_at(20 * 3600);
    t.insert("peak".to_owned(), Arc::new(peak));
    t.insert("night".to_owned(), Arc::new(night));
    t
}

/// Every problem of a failed import, as printed.
fn problems(file: &str, text: &str) -> Vec<String> {
    match parse(file, text, &options(), &timings()) {
        Err(Error::Import(e)) => e.errors().iter().map(ToString::to_string).collect(),
        other => panic!("expected an import error, got {other:?}"),
    }
}

const MONDAY_10: &str = "2026-11-02T10:00:00Z";

#[test]
fn a_small_plan() {
    let text = "\
prefix,description,connect_fee,rate_per_min,initial,increment,period
+46,Sweden,0,0.10,60,60
468,Sweden Stockholm,0.05,0.20,30,6
468,Sweden Stockholm,0.05,0.40,30,6,peak
# mobile
4670,Sweden mobile,0,0.30,1,1
";
    let plan = parse("rates.csv", text, &options(), &timings()).unwrap();
    assert_eq!(plan.prefixes(), 3);
    assert_eq!(plan.name(), "default");
    let t = parse_rfc3339(MONDAY_10).unwrap();
    let r = plan.rate("+46812345", t, 125).unwrap();
    assert_eq!((r.prefix, r.destination), ("468", "Sweden Stockholm"));
    assert_eq!(r.parts[0].timing, "peak");
    assert_eq!(r.cost.total, d("0.89"));
    // Sunday: the line without a period.
    let sunday = parse_rfc3339("2026-11-01T10:00:00Z").unwrap();
    assert_eq!(
        plan.rate("46812345", sunday, 125).unwrap().cost.total,
        d("0.47")
    );
    assert_eq!(plan.rate("4670123", t, 61).unwrap().cost.total, d("0.305"));
    assert_eq!(plan.rate("4612", t, 61).unwrap().cost.total, d("0.2"));
    assert!(matches!(
        plan.rate("4412", t, 61),
        Err(Error::NoDestination { .. })
    ));
    let shown = plan.rate("+46812345", t, 125).unwrap().to_string();
    assert!(
        shown.contains("46812345 matches prefix 468 (Sweden Stockholm)"),
        "{shown}"
    );
    assert!(shown.contains("total 0.89 EUR"), "{shown}");
}

#[test]
fn header_is_optional_and_period_column_too() {
    let plan = parse("r.csv", "1,USA,0,0.01,6,6\n", &options(), &timings()).unwrap();
    assert_eq!(plan.prefixes(), 1);
}

#[test]
fn malformed_lines_name_file_line_and_column() {
    let text = "\
prefix,description,connect_fee,rate_per_min,initial,increment,period
46,Sweden,0,0.10,60,60
4x,Bad,0,0.10,60,60
47,Norway,abc,0.10,60,60
48,Poland,0,-1,60,60
49,Germany,0,0.1,0,60
50,Short,0,0.1
51,Period,0,0.1,60,60,holiday
46,Sweden,0,0.20,60,60
52,\"open,0
";
    assert_eq!(
        problems("rates.csv", text),
        [
            "rates.csv:3:1: prefix: prefix \"4x\" has 'x': digits with an optional leading '+' expected",
            "rates.csv:4:11: connect_fee \"abc\" is not a decimal number",
            "rates.csv:5:13: rate_per_min -1 is negative",
            "rates.csv:6:18: initial: 0 s is out of range 1..=86400",
            "rates.csv:7:15: 4 fields, 6 or 7 expected: prefix,description,connect_fee,rate_per_min,initial,increment[,period]",
            "rates.csv:8:23: period \"holiday\" is not a known timing (known: night, peak)",
            "rates.csv:9:1: prefix 46 has a rate for every time on line 2 already",
            "rates.csv:10:4: unterminated quoted field",
        ]
    );
}

#[test]
fn empty_and_conflicting_files() {
    assert_eq!(
        problems("empty.csv", "prefix,description,connect_fee,rate_per_min,initial,increment\n"),
        ["empty.csv:1:1: no rate in the file (prefix,description,connect_fee,rate_per_min,initial,increment[,period])"]
    );
    assert_eq!(
        problems("r.csv", "46,Sweden,0,1,1,1\n46,Suecia,0,1,1,1,peak\n"),
        ["r.csv:2:1: prefix 46 is \"Suecia\" here but \"Sweden\" on line 1"]
    );
}
