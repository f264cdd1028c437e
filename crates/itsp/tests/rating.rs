//! `itsp rate` as an operator uses it: a native CSV imported into plan `default`, listed,
//! and a call priced with its explanation; a malformed file refused with file:line:column
//! and nothing stored; a small CGRateS tariff plan (six files, written for this test) whose
//! rating profiles give a subscriber their own plan.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{admin_json, DataDir};

fn itsp(data: &DataDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(args)
        .args(["--data-dir", &data.path_str()])
        .env_remove("ITSP_DB")
        .output()
        .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn a_native_plan_is_imported_listed_and_prices_a_call() {
    let data = DataDir::with_users(&[("alice", "a")]);
    let files = tempfile::tempdir().unwrap();
    let rates = write(
        files.path(),
        "rates.csv",
        "prefix,description,connect_fee,rate_per_min,initial,increment\n\
         46,Sweden,0,0.10,60,60\n\
         468,Stockholm,0.05,0.40,30,6\n",
    );
    let out = itsp(&data, &["rate", "import", &rates]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("plan default") && said.contains("2 prefixes in EUR"),
        "{said}"
    );
    let list = admin_json(&data, &["rate", "list"]);
    assert_eq!(list[0]["plan"], "default");
    assert_eq!(list[0]["prefixes"], 2);
    // 125 s to Stockholm: 30 s, then 16 steps of 6 s (126 s) at 0.40/min, plus 0.05.
    let priced = admin_json(
        &data,
        &[
            "rate",
            "test",
            "--from",
            "alice@example.com",
            "--to",
            "+46812345",
            "--at",
            "2026-12-04T10:00:00Z",
            "--duration",
            "125",
        ],
    );
    assert_eq!(priced["prefix"], "468");
    assert_eq!(priced["billed_secs"], 126);
    assert_eq!(priced["total"], "0.89");
    assert_eq!(priced["currency"], "EUR");
    let text = itsp(
        &data,
        &[
            "rate",
            "test",
            "--from",
            "alice@example.com",
            "--to",
            "4612",
            "--duration",
            "61",
        ],
    );
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("matches prefix 46 (Sweden)"), "{text}");
    assert!(text.contains("total 0.2 EUR"), "two whole minutes: {text}");

    // A malformed file: every error with file:line:column, and the old plan stays.
    let bad = write(
        files.path(),
        "bad.csv",
        "46,Sweden,0,0.1x,60,60\n47,Norway,0,0.10,0,60\n",
    );
    let out = itsp(&data, &["rate", "import", &bad]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.csv:1:13"), "{err}");
    assert!(err.contains("bad.csv:2:"), "{err}");
    let list = admin_json(&data, &["rate", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["prefixes"], 2, "nothing of the bad import stored");
    // A number no plan covers.
    let out = itsp(
        &data,
        &[
            "rate",
            "test",
            "--from",
            "alice@example.com",
            "--to",
            "+1555",
            "--duration",
            "5",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_cgrates_tariff_plan_rates_each_subscriber_by_their_profile() {
    let data = DataDir::with_users(&[("alice", "a"), ("bob", "b")]);
    let tp = tempfile::tempdir().unwrap();
    let files = [
        write(tp.path(), "Destinations.csv", "#Id,Prefix\nDST_SE,+46\n"),
        write(
            tp.path(),
            "Rates.csv",
            "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n\
             RT_RETAIL,0,0.60,60s,60s,0s\n\
             RT_CHEAP,0,0.06,60s,1s,0s\n",
        ),
        write(
            tp.path(),
            "DestinationRates.csv",
            "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n\
             DR_RETAIL,DST_SE,RT_RETAIL,*up,4,0,\n\
             DR_CHEAP,DST_SE,RT_CHEAP,*up,4,0,\n",
        ),
        write(
            tp.path(),
            "Timings.csv",
            "#Tag,Years,Months,MonthDays,WeekDays,Time\n",
        ),
        write(
            tp.path(),
            "RatingPlans.csv",
            "#Id,DestinationRatesId,TimingTag,Weight\n\
             RP_RETAIL,DR_RETAIL,*any,10\n\
             RP_CHEAP,DR_CHEAP,*any,10\n",
        ),
        write(
            tp.path(),
            "RatingProfiles.csv",
            "#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n\
             example.com,call,*any,2026-01-01T00:00:00Z,RP_RETAIL,\n\
             example.com,call,bob,2026-01-01T00:00:00Z,RP_CHEAP,\n",
        ),
    ];
    let mut args = vec!["rate", "import"];
    args.extend(files.iter().map(String::as_str));
    let out = itsp(&data, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = admin_json(&data, &["rate", "list"]);
    let plans: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["plan"].as_str().unwrap())
        .collect();
    assert_eq!(plans, ["RP_CHEAP", "RP_RETAIL"]);
    let price = |user: &str| {
        let v = admin_json(
            &data,
            &[
                "rate",
                "test",
                "--from",
                &format!("{user}@example.com"),
                "--to",
                "+4670123",
                "--at",
                "2026-12-04T10:00:00Z",
                "--duration",
                "90",
            ],
        );
        (
            v["plan"].as_str().unwrap().to_owned(),
            v["total"].as_str().unwrap().to_owned(),
        )
    };
    // alice: the domain's default, whole minutes at 0.60 (2 minutes).
    assert_eq!(price("alice"), ("RP_RETAIL".into(), "1.2".into()));
    // bob: his own profile, by the second at 0.06/min (90 s).
    assert_eq!(price("bob"), ("RP_CHEAP".into(), "0.09".into()));
}
