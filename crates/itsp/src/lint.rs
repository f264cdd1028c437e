//! `itsp lint FILE...`: runs SIP messages from files through the same checks as the server
//! (parse, header syntax, proxy sanity) and says what is wrong, as text or JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use sip::sanity::{check_request, Policy};
use sip::Message;

/// The verdict on one file.
struct Verdict {
    file: String,
    kind: &'static str,
    start_line: Option<String>,
    /// `None` when the message is fine; else (status a server answers, reason).
    problem: Option<(u16, String)>,
    headers: usize,
    body: usize,
}

fn check(file: &PathBuf) -> Result<Verdict, std::io::Error> {
    let bytes = std::fs::read(file)?;
    let name = file.display().to_string();
    let msg = match Message::parse(bytes) {
        Ok(m) => m,
        Err(e) => {
            return Ok(Verdict {
                file: name,
                kind: "unparsable",
                start_line: None,
                problem: Some((e.status_code(), e.to_string())),
                headers: 0,
                body: 0,
            })
        }
    };
    let problem = if msg.is_request() {
        check_request(&msg, &Policy::PROXY)
            .err()
            .map(|r| (r.code, r.reason))
    } else {
        msg.validate()
            .err()
            .map(|e| (e.status_code(), e.to_string()))
    };
    Ok(Verdict {
        file: name,
        kind: if msg.is_request() {
            "request"
        } else {
            "response"
        },
        start_line: Some(msg.start_line().to_owned()),
        problem,
        headers: msg.header_count(),
        body: msg.body().len(),
    })
}

pub(crate) fn run(files: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    let mut all_ok = true;
    for file in files {
        let v = check(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
        all_ok &= v.problem.is_none();
        if json {
            let value = json!({
                "file": v.file,
                "kind": v.kind,
                "start_line": v.start_line,
                "valid": v.problem.is_none(),
                "status": v.problem.as_ref().map(|p| p.0),
                "reason": v.problem.as_ref().map(|p| p.1.clone()),
                "headers": v.headers,
                "body_bytes": v.body,
            });
            println!("{value}");
        } else {
            match &v.problem {
                None => println!(
                    "{}: ok: {} ({} headers, {} body bytes)",
                    v.file,
                    v.start_line.as_deref().unwrap_or(""),
                    v.headers,
                    v.body
                ),
                Some((code, reason)) => {
                    println!("{}: {code} {reason}", v.file);
                }
            }
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
