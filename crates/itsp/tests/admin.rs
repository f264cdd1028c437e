//! End-to-end: the admin commands (`itsp domain|user|alias|group|ul|calls|acc|ban`) run as the real
//! binary against a store in a temporary data directory; what they write is checked
//! through `store::Store`, and no output ever shows a password or an HA1. The changes
//! they make are in the audit log (`itsp audit list`), as `cli:USER`, secrets hidden.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use store::{flags, AccEvent, AccKind, Binding, Call, CallState, CallWrite, Forwarding, Store};

/// A data directory, and every output the binary gave for it (to look for secrets in).
struct Itsp {
    dir: tempfile::TempDir,
    seen: RefCell<String>,
}

/// What one run of the binary did.
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Itsp {
    fn new() -> Itsp {
        Itsp {
            dir: tempfile::tempdir().unwrap(),
            seen: RefCell::new(String::new()),
        }
    }

    /// Runs `itsp ARGS --data-dir DIR` in `cwd` with `stdin`.
    fn run_in(&self, cwd: &Path, args: &[&str], stdin: &str, data_dir: bool) -> Out {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_itsp"));
        cmd.args(args)
            .current_dir(cwd)
            .env_remove("ITSP_DB")
            .env_remove("ITSP_DATA_DIR")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if data_dir {
            cmd.arg("--data-dir").arg(self.dir.path());
        }
        let mut child = cmd.spawn().expect("itsp starts");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let out = Out {
            code: out.status.code().expect("exit status"),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        };
        let mut seen = self.seen.borrow_mut();
        seen.push_str(&out.stdout);
        seen.push_str(&out.stderr);
        out
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_in(self.dir.path(), args, "", true)
    }

    /// Runs `itsp ARGS --data-dir DIR` with `env` set.
    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.path())
            .envs(env.iter().copied())
            .env_remove("ITSP_DB")
            .env_remove("ITSP_DATA_DIR")
            .env_remove("RUST_LOG")
            .output()
            .expect("itsp starts");
        Out {
            code: out.status.code().expect("exit status"),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_stdin(args, "")
    }

    fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_in(self.dir.path(), args, stdin, true);
        assert_eq!(out.code, 0, "itsp {args:?}: {}", out.stderr);
        out.stdout
    }

    /// Runs `--json` and parses the output.
    fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args)).unwrap()
    }

    /// Runs and expects exit status `code`, nothing on stdout and `itsp: ...` on stderr;
    /// returns stderr.
    fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.code, code, "itsp {args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "itsp {args:?}");
        assert!(out.stderr.starts_with("itsp: "), "{}", out.stderr);
        out.stderr
    }

    /// Runs `f` on the store the binary uses.
    fn store<T>(&self, f: impl AsyncFnOnce(&Store) -> T) -> T {
        let url = format!("sqlite://{}/itsp.db?mode=rwc", self.dir.path().display());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let s = Store::open(&url).await.unwrap();
            let r = f(&s).await;
            s.close().await;
            r
        })
    }

    /// Asserts that no output so far contains any of `secrets`.
    fn never_showed(&self, secrets: &[String]) {
        let seen = self.seen.borrow();
        for s in secrets {
            assert!(!seen.contains(s.as_str()), "{s} was printed");
        }
    }
}

/// The four HA1 values of `user@domain`, as the server would look them up.
fn ha1s(itsp: &Itsp, user: &str, domain: &str) -> Vec<String> {
    itsp.store(async |s| {
        let plain = s.credentials(user, domain).await.unwrap().unwrap();
        let full = s
            .credentials(&format!("{user}@{domain}"), domain)
            .await
            .unwrap()
            .unwrap();
        vec![plain.md5, plain.sha256, full.md5, full.sha256]
    })
}

#[test]
fn domains() {
    let t = Itsp::new();
    assert!(t.ok(&["domain", "list"]).starts_with("no domains"));
    assert_eq!(t.json(&["domain", "list"]), serde_json::json!([]));
    t.ok(&["domain", "add", "example.com"]);
    let v = t.json(&["domain", "add", "Example.NET."]);
    assert_eq!(v["ok"], true);
    let e = t.fails(1, &["domain", "add", "EXAMPLE.com"]);
    assert!(e.contains("domain example.com exists"), "{e}");
    t.fails(1, &["domain", "add", "bad domain"]);
    let words = |text: String| -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect()
    };
    assert_eq!(
        words(t.ok(&["domain", "list"])),
        [
            ["DOMAIN", "SELF-REGISTRATION"],
            ["example.com", "off"],
            ["example.net", "off"]
        ]
    );
    assert_eq!(
        t.json(&["domain", "list"]),
        serde_json::json!([
            { "domain": "example.com", "self_registration": false },
            { "domain": "example.net", "self_registration": false }
        ])
    );
    // Self-registration, a domain setting.
    let v = t.json(&["domain", "set", "example.net", "self-registration=on"]);
    assert_eq!(v["self_registration"], true, "{v}");
    assert_eq!(words(t.ok(&["domain", "list"]))[2], ["example.net", "on"]);
    let e = t.fails(
        1,
        &["domain", "set", "example.net", "self-registration=maybe"],
    );
    assert!(e.contains("neither on nor off"), "{e}");
    let e = t.fails(1, &["domain", "set", "example.net", "colour=red"]);
    assert!(e.contains("unknown domain setting"), "{e}");
    let e = t.fails(1, &["domain", "set", "example.org", "self-registration=on"]);
    assert!(e.contains("no such domain"), "{e}");
    t.ok(&["domain", "set", "example.net", "self-registration=off"]);
    assert_eq!(
        t.store(async |s| s.self_registration_domains().await.unwrap()),
        Vec::<String>::new()
    );
    t.ok(&["domain", "rm", "example.net"]);
    let e = t.fails(1, &["domain", "rm", "example.net"]);
    assert!(e.contains("no such domain: example.net"), "{e}");
    // In use: refused, with advice.
    t.ok(&["user", "add", "alice@example.com", "--password", "pw"]);
    let e = t.fails(1, &["domain", "rm", "example.com"]);
    assert!(e.contains("itsp user list --domain example.com"), "{e}");
    assert_eq!(
        t.store(async |s| s.list_domains().await.unwrap()),
        ["example.com"]
    );
}

#[test]
fn users() {
    let t = Itsp::new();
    let e = t.fails(1, &["user", "add", "alice@example.com", "--password", "pw"]);
    assert!(e.contains("itsp domain add example.com"), "{e}");
    t.ok(&["domain", "add", "example.com"]);

    let out = t.ok(&[
        "user",
        "add",
        "alice@example.com",
        "--password",
        "Alice-Pw-1",
        "--email",
        "alice@mail.example",
    ]);
    assert_eq!(out, "added user alice@example.com\n");
    let v: Value = serde_json::from_str(&t.ok_stdin(
        &[
            "user",
            "add",
            "bob@example.com",
            "--password-stdin",
            "--json",
        ],
        "Bob-Pw-2\n",
    ))
    .unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["user"], "bob@example.com");
    // The newline was not part of the password: its hashes are those of "Bob-Pw-2".
    let bob = ha1s(&t, "bob", "example.com");
    t.store(async |s| s.set_password("bob", "example.com", "Bob-Pw-2").await)
        .unwrap();
    assert_eq!(ha1s(&t, "bob", "example.com"), bob);

    let e = t.fails(1, &["user", "add", "alice@example.com", "--password", "x"]);
    assert_eq!(e, "itsp: user alice@example.com exists\n");
    let e = t.fails(1, &["user", "add", "nodomain", "--password", "x"]);
    assert!(
        e.contains("\"nodomain\" is not of the form user@domain"),
        "{e}"
    );
    let e = t.fails(1, &["user", "add", "carol@example.com"]);
    assert!(e.contains("--password-stdin"), "{e}");
    t.fails(1, &["user", "add", "carol@example.com", "--password-stdin"]);
    t.fails(
        1,
        &[
            "user",
            "add",
            "carol@example.com",
            "--password",
            "x",
            "--email",
            "no",
        ],
    );

    let alice_before = ha1s(&t, "alice", "example.com");
    t.ok_stdin(
        &["user", "passwd", "alice@example.com", "--password-stdin"],
        "Alice-Pw-3\r\n",
    );
    let alice_after = ha1s(&t, "alice", "example.com");
    assert_ne!(alice_before, alice_after);
    t.fails(
        1,
        &["user", "passwd", "nobody@example.com", "--password", "x"],
    );
    // Absurd passwords are refused, from the command line and from standard input.
    let long = "x".repeat(store::MAX_PASSWORD_BYTES + 1);
    let e = t.fails(
        1,
        &["user", "add", "carol@example.com", "--password", &long],
    );
    assert!(e.contains("longer than 1024 bytes"), "{e}");
    let out = t.run_in(
        t.dir.path(),
        &["user", "passwd", "alice@example.com", "--password-stdin"],
        &format!("{}\n", "y".repeat(8000)),
        true,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("longer than 1024 bytes"),
        "{}",
        out.stderr
    );
    assert_eq!(ha1s(&t, "alice", "example.com"), alice_after, "unchanged");
    let longest = "z".repeat(store::MAX_PASSWORD_BYTES);
    t.ok_stdin(
        &["user", "passwd", "alice@example.com", "--password-stdin"],
        &format!("{longest}\n"),
    );

    let text = t.ok(&["user", "list"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("USER  ") && lines[0].contains("CREATED"));
    assert!(lines[1].starts_with("alice@example.com  alice@mail.example  20"));
    assert!(lines[1].contains(" UTC"));
    assert!(lines[2].starts_with("bob@example.com"));
    let v = t.json(&["user", "list", "--domain", "example.com"]);
    let users = v.as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["user"], "alice@example.com");
    assert_eq!(users[0]["email"], "alice@mail.example");
    assert_eq!(users[1]["email"], Value::Null);
    assert!(users[0]["created_at"].as_i64().unwrap() > 1_600_000_000);
    assert!(users[0]["created"].as_str().unwrap().ends_with(" UTC"));
    t.fails(1, &["user", "list", "--domain", "example.org"]);
    assert_eq!(users[0]["disabled"], false);

    // Disabled: shown in the list; enabled again.
    let out = t.ok(&["user", "disable", "alice@example.com"]);
    assert!(out.contains("disabled user alice@example.com"), "{out}");
    assert_eq!(t.json(&["user", "list"])[0]["disabled"], true);
    assert!(t
        .ok(&["user", "list"])
        .lines()
        .nth(1)
        .unwrap()
        .contains("disabled"));
    let e = t.fails(1, &["user", "disable", "zed@example.com"]);
    assert!(e.contains("no such user: zed@example.com"), "{e}");
    t.ok(&["user", "enable", "alice@example.com"]);
    assert_eq!(t.json(&["user", "list"])[0]["disabled"], false);

    t.ok(&["user", "rm", "bob@example.com"]);
    let e = t.fails(1, &["user", "rm", "bob@example.com"]);
    assert!(e.contains("no such user: bob@example.com"), "{e}");
    assert_eq!(t.json(&["user", "list"]).as_array().unwrap().len(), 1);

    let mut secrets: Vec<String> = ["Alice-Pw-1", "Alice-Pw-3", "Bob-Pw-2"]
        .map(String::from)
        .to_vec();
    secrets.extend(alice_before);
    secrets.extend(alice_after);
    secrets.extend(bob);
    t.never_showed(&secrets);
}

#[test]
fn aliases_and_groups() {
    let t = Itsp::new();
    t.ok(&["domain", "add", "example.com"]);
    t.ok(&["domain", "add", "example.net"]);
    t.ok(&["user", "add", "alice@example.com", "--password", "pw"]);
    let out = t.ok(&[
        "alias",
        "add",
        "+4684567890@example.com",
        "alice@example.com",
    ]);
    assert_eq!(
        out,
        "+4684567890@example.com is now an alias of alice@example.com\n"
    );
    t.ok(&["alias", "add", "ally@example.net", "alice@example.com"]);
    let e = t.fails(1, &["alias", "add", "x@example.org", "alice@example.com"]);
    assert!(e.contains("itsp domain add example.org"), "{e}");
    t.fails(1, &["alias", "add", "x@example.com", "bob@example.com"]);
    t.fails(
        1,
        &["alias", "add", "ally@example.net", "alice@example.com"],
    );
    assert_eq!(
        t.ok(&["alias", "list", "--domain", "example.com"]),
        "ALIAS                    TARGET\n+4684567890@example.com  alice@example.com\n"
    );
    assert_eq!(t.json(&["alias", "list"]).as_array().unwrap().len(), 2);
    assert_eq!(
        t.json(&["user", "list"])[0]["aliases"],
        serde_json::json!(["+4684567890@example.com", "ally@example.net"])
    );
    let v = t.json(&["alias", "rm", "ally@example.net"]);
    assert_eq!(
        v,
        serde_json::json!({ "ok": true, "alias": "ally@example.net" })
    );
    t.fails(1, &["alias", "rm", "ally@example.net"]);

    t.ok(&["group", "add", "alice@example.com", "international"]);
    let v = t.json(&["group", "add", "alice@example.com", "international"]);
    assert_eq!(v["changed"], false);
    t.ok(&["group", "add", "alice@example.com", "premium"]);
    assert_eq!(
        t.ok(&["group", "list", "alice@example.com"]),
        "GROUP\ninternational\npremium\n"
    );
    assert_eq!(
        t.json(&["group", "list", "alice@example.com"])[1],
        serde_json::json!({ "user": "alice@example.com", "group": "premium" })
    );
    assert!(t.store(async |s| s.in_group("alice", "example.com", "premium").await.unwrap()));
    t.ok(&["group", "rm", "alice@example.com", "premium"]);
    assert_eq!(
        t.json(&["group", "rm", "alice@example.com", "premium"])["changed"],
        false
    );
    t.ok(&["group", "rm", "alice@example.com", "international"]);
    assert!(t
        .ok(&["group", "list", "alice@example.com"])
        .contains("in no group"));
    t.fails(1, &["group", "add", "bob@example.com", "premium"]);
    t.fails(1, &["group", "add", "alice@example.com", "bad group"]);
}

fn binding(aor: &str, contact: &str, expires_at: i64, flags: u32, ua: &str) -> Binding {
    Binding {
        aor: aor.to_owned(),
        contact: contact.to_owned(),
        expires_at,
        q: 1000,
        call_id: format!("call-{contact}"),
        cseq: 1,
        user_agent: ua.to_owned(),
        received: "198.51.100.7:40123".to_owned(),
        transport: "udp".to_owned(),
        local_socket: "udp:192.0.2.1:5060".to_owned(),
        path: None,
        instance: None,
        reg_id: None,
        flags,
        updated_at: 1_000,
    }
}

#[test]
fn ul_show() {
    let t = Itsp::new();
    t.ok(&["domain", "add", "example.com"]);
    t.ok(&["user", "add", "alice@example.com", "--password", "pw"]);
    t.ok(&["user", "add", "bob@example.com", "--password", "pw"]);
    t.ok(&[
        "alias",
        "add",
        "+4684567890@example.com",
        "alice@example.com",
    ]);
    assert_eq!(t.ok(&["ul", "show"]), "nobody is registered\n");

    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    t.store(async |s| {
        for b in [
            binding(
                "alice@example.com",
                "sip:alice@10.0.0.2:5060",
                now + 3600,
                flags::NAT,
                "Phone/1.0",
            ),
            binding("alice@example.com", "sip:alice@old", now - 10, 0, "Old/0"),
            binding("bob@example.com", "sip:bob@192.0.2.9", now + 600, 0, ""),
        ] {
            s.upsert_binding(&b).await.unwrap();
        }
    });

    let all = t.ok(&["ul", "show"]);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 3, "{all}");
    for column in [
        "AOR",
        "CONTACT",
        "EXPIRES",
        "RECEIVED",
        "TRANSPORT",
        "USER AGENT",
        "NAT",
    ] {
        assert!(lines[0].contains(column), "{all}");
    }
    assert!(lines[1].starts_with("alice@example.com  sip:alice@10.0.0.2:5060"));
    assert!(lines[1].contains("198.51.100.7:40123  udp"));
    assert!(lines[1].contains("Phone/1.0") && lines[1].ends_with("yes"));
    assert!(lines[2].starts_with("bob@example.com") && lines[2].ends_with("no"));
    assert!(
        !all.contains("sip:alice@old"),
        "expired binding shown: {all}"
    );

    // An alias shows its subscriber's bindings.
    let v = t.json(&["ul", "show", "+4684567890@example.com"]);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["aor"], "alice@example.com");
    assert_eq!(rows[0]["contact"], "sip:alice@10.0.0.2:5060");
    assert_eq!(rows[0]["received"], "198.51.100.7:40123");
    assert_eq!(rows[0]["transport"], "udp");
    assert_eq!(rows[0]["user_agent"], "Phone/1.0");
    assert_eq!(rows[0]["nat"], true);
    let expires_in = rows[0]["expires_in"].as_i64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{expires_in}");
    assert_eq!(t.json(&["ul", "show", "bob@example.com"])[0]["nat"], false);

    let e = t.fails(1, &["ul", "show", "carol@example.com"]);
    assert!(
        e.contains("no such user or alias: carol@example.com"),
        "{e}"
    );
    t.fails(1, &["ul", "show", "nodomain"]);

    // Disabling bob takes his registration (no server runs here to be told).
    let v = t.json(&["user", "disable", "bob@example.com"]);
    assert_eq!(
        (&v["removed"], &v["server_told"]),
        (&serde_json::json!(1), &serde_json::json!(false))
    );
    assert!(t
        .json(&["ul", "show", "bob@example.com"])
        .as_array()
        .unwrap()
        .is_empty());
    t.ok(&["user", "enable", "bob@example.com"]);
    // Removing him removes his greeting (where itsp serve keeps it) too.
    let greeting = t.dir.path().join("voicemail/example.com/bob/greeting.wav");
    std::fs::create_dir_all(greeting.parent().unwrap()).unwrap();
    std::fs::write(&greeting, b"RIFF").unwrap();
    t.ok(&["user", "rm", "bob@example.com"]);
    assert!(!greeting.exists(), "{}", greeting.display());
    assert_eq!(t.json(&["ul", "show"]).as_array().unwrap().len(), 1);
}

#[test]
fn where_the_store_is() {
    let t = Itsp::new();
    let cwd = t.dir.path();
    // The default, ./data, and a relative --data-dir are relative to the working directory.
    let out = t.run_in(cwd, &["domain", "add", "example.com"], "", false);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(cwd.join("data/itsp.db").is_file());
    let out = t.run_in(
        cwd,
        &["domain", "add", "example.org", "--data-dir", "rel/dir"],
        "",
        false,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(cwd.join("rel/dir/itsp.db").is_file());
    // --db with an absolute sqlite URL, given before the subcommand.
    let url = format!("sqlite://{}/data/itsp.db", cwd.display());
    let out = t.run_in(cwd, &["domain", "--db", &url, "list", "--json"], "", false);
    assert_eq!(
        out.stdout, "[{\"domain\":\"example.com\",\"self_registration\":false}]\n",
        "{}",
        out.stderr
    );

    // A data directory that cannot be one: a database failure, naming the directory.
    std::fs::write(cwd.join("file"), "").unwrap();
    let out = t.run_in(cwd, &["domain", "list", "--data-dir", "file"], "", false);
    assert_eq!(out.code, 2);
    assert!(out
        .stderr
        .starts_with("itsp: cannot open the store in data directory file"));
    // A URL of another scheme is the caller's mistake; its password is never shown.
    let out = t.run_in(
        cwd,
        &["domain", "list", "--db", "mysql://u:hunter2@db/itsp"],
        "",
        false,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("mysql://u:***@db/itsp"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2"));
}

#[test]
fn user_set_and_show() {
    let t = Itsp::new();
    t.ok(&["domain", "add", "example.com"]);
    t.ok(&[
        "user",
        "add",
        "alice@example.com",
        "--password",
        "Alice-Pw-1",
        "--email",
        "alice@mail.example",
    ]);
    t.ok(&[
        "alias",
        "add",
        "+4684567890@example.com",
        "alice@example.com",
    ]);
    t.ok(&["group", "add", "alice@example.com", "international"]);

    let out = t.ok(&[
        "user",
        "set",
        "alice@example.com",
        "forward-busy=sip:bob@example.com",
        "forward-no-answer=sip:vm@example.com",
        "no-answer-after=020",
        "forward-always=tel:+4684567890",
    ]);
    assert_eq!(
        out,
        "alice@example.com: forward-busy=sip:bob@example.com, \
         forward-no-answer=sip:vm@example.com, no-answer-after=20, \
         forward-always=tel:+4684567890\n"
    );
    assert_eq!(
        t.store(async |s| s.forwarding("alice", "example.com").await.unwrap()),
        Forwarding {
            always: Some("tel:+4684567890".into()),
            busy: Some("sip:bob@example.com".into()),
            no_answer: Some("sip:vm@example.com".into()),
            no_answer_after: Some(20),
            voicemail: false,
        }
    );
    // Clear one, change another.
    let v = t.json(&[
        "user",
        "set",
        "alice@example.com",
        "forward-always=",
        "forward-busy=sips:bob@example.com",
    ]);
    assert_eq!(
        v,
        serde_json::json!({
            "ok": true,
            "user": "alice@example.com",
            "set": { "forward-busy": "sips:bob@example.com" },
            "cleared": ["forward-always"],
        })
    );

    let text = t.ok(&["user", "show", "alice@example.com"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "user               alice@example.com",
            "email              alice@mail.example",
            lines[2],
            "aliases            +4684567890@example.com",
            "groups             international",
            "forward-always     -",
            "forward-busy       sips:bob@example.com",
            "forward-no-answer  sip:vm@example.com",
            "no-answer-after    20",
            "voicemail          -",
            "vm-email           -",
            "vm-delivery        -",
            "vm-pin             -",
        ],
        "{text}"
    );
    assert!(lines[2].starts_with("created            20") && lines[2].ends_with(" UTC"));
    let v = t.json(&["user", "show", "alice@example.com"]);
    assert_eq!(v["user"], "alice@example.com");
    assert_eq!(v["email"], "alice@mail.example");
    assert_eq!(v["aliases"], serde_json::json!(["+4684567890@example.com"]));
    assert_eq!(v["groups"], serde_json::json!(["international"]));
    assert_eq!(
        v["preferences"],
        serde_json::json!({
            "forward-busy": "sips:bob@example.com",
            "forward-no-answer": "sip:vm@example.com",
            "no-answer-after": "20",
        })
    );
    assert!(v["created_at"].as_i64().unwrap() > 1_600_000_000);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "aliases",
            "created",
            "created_at",
            "email",
            "groups",
            "preferences",
            "user"
        ]
    );

    // Bad requests: exit 1, nothing changed.
    for (args, says) in [
        (
            vec!["forward=sip:x@example.com"],
            "the names are forward-always, forward-busy, forward-no-answer, no-answer-after, voicemail, vm-email, vm-delivery, vm-pin",
        ),
        (vec!["forward-busy"], "is not NAME=VALUE"),
        (
            vec!["forward-busy=bob@example.com"],
            "bad value for forward-busy",
        ),
        (
            vec!["forward-busy=mailto:bob@example.com"],
            "not a sip:, sips: or tel: URI",
        ),
        (vec!["no-answer-after=0"], "from 1 to 600"),
        (vec!["no-answer-after=601"], "from 1 to 600"),
        (vec!["no-answer-after=ten"], "from 1 to 600"),
        (
            vec!["forward-busy=", "forward-busy=sip:x@example.com"],
            "forward-busy is given twice",
        ),
        (
            vec!["forward-always=sip:x@example.com", "no-answer-after=0"],
            "from 1 to 600",
        ),
    ] {
        let mut full = vec!["user", "set", "alice@example.com"];
        full.extend(args);
        let e = t.fails(1, &full);
        assert!(e.contains(says), "{full:?}: {e}");
    }
    assert_eq!(
        t.store(async |s| s.preferences("alice", "example.com").await.unwrap().len()),
        3
    );
    let e = t.fails(
        1,
        &[
            "user",
            "set",
            "bob@example.com",
            "forward-busy=sip:x@example.com",
        ],
    );
    assert_eq!(e, "itsp: no such user: bob@example.com\n");
    let e = t.fails(1, &["user", "show", "bob@example.com"]);
    assert_eq!(e, "itsp: no such user: bob@example.com\n");
    let e = t.fails(
        1,
        &["user", "set", "+4684567890@example.com", "forward-busy="],
    );
    assert!(e.contains("it is an alias of alice@example.com"), "{e}");
    t.fails(1, &["user", "show", "nodomain"]);
    let out = t.run(&["user", "set", "alice@example.com"]);
    assert_eq!(out.code, 2, "clap: a usage error");

    // The preferences go with the subscriber.
    t.ok(&["user", "rm", "alice@example.com"]);
    t.ok(&["user", "add", "alice@example.com", "--password", "pw"]);
    assert_eq!(
        t.json(&["user", "show", "alice@example.com"])["preferences"],
        serde_json::json!({})
    );
    let mut secrets = vec!["Alice-Pw-1".to_owned()];
    secrets.extend(ha1s(&t, "alice", "example.com"));
    t.never_showed(&secrets);
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn call(call_id: &str, started_ms: i64, answered_ms: Option<i64>, node: &str) -> Call {
    Call {
        call_id: call_id.to_owned(),
        from_tag: "ft".to_owned(),
        to_tag: answered_ms.map(|_| "tt".to_owned()),
        state: if answered_ms.is_some() {
            CallState::Confirmed
        } else {
            CallState::Early
        },
        caller: "sip:alice@example.com".to_owned(),
        callee: "sip:+4684567890@example.com".to_owned(),
        source_ip: Some("198.51.100.7".to_owned()),
        started_ms,
        answered_ms,
        node: node.to_owned(),
    }
}

#[test]
fn calls() {
    let t = Itsp::new();
    assert_eq!(t.ok(&["calls"]), "no calls in progress\n");
    assert_eq!(t.json(&["calls"]), serde_json::json!([]));
    let now = now_ms();
    t.store(async |s| {
        s.write_calls(&[
            CallWrite::Upsert(call(
                "answered-call",
                now - 200_000,
                Some(now - 83_000),
                "node-a",
            )),
            CallWrite::Upsert(call("ringing-call", now - 5_000, None, "node-b")),
        ])
        .await
        .unwrap();
    });
    let text = t.ok(&["calls"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["STATE", "CALLER", "CALLEE", "DURATION", "NODE", "CALL-ID"]
    );
    let first: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        first[..3],
        [
            "answered",
            "sip:alice@example.com",
            "sip:+4684567890@example.com"
        ]
    );
    assert!(["1:23", "1:24"].contains(&first[3]), "{text}");
    assert_eq!(first[4..], ["node-a", "answered-call"]);
    assert!(lines[2].starts_with("ringing "), "{text}");

    let v = t.json(&["calls"]);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["state"], "confirmed");
    assert_eq!(rows[0]["call_id"], "answered-call");
    assert_eq!(rows[0]["to_tag"], "tt");
    assert_eq!(rows[0]["answered_ms"], now - 83_000);
    assert_eq!(rows[0]["started_ms"], now - 200_000);
    assert_eq!(rows[0]["source_ip"], "198.51.100.7");
    assert_eq!(rows[1]["state"], "early");
    assert_eq!(rows[1]["answered_ms"], Value::Null);
    let ringing = rows[1]["duration_s"].as_i64().unwrap();
    assert!((5..=6).contains(&ringing), "{ringing}");
    assert!(rows[1]["started"].as_str().unwrap().ends_with(" UTC"));

    t.store(async |s| s.clear_calls("node-a").await.unwrap());
    assert_eq!(t.json(&["calls"]).as_array().unwrap().len(), 1);
}

fn acc(time_ms: i64, kind: AccKind, call_id: &str, caller: &str, callee: &str) -> AccEvent {
    let (caller_user, caller_domain) = caller.split_once('@').unwrap();
    let (callee_user, callee_domain) = callee.split_once('@').unwrap();
    AccEvent {
        time_ms,
        kind,
        method: "INVITE".to_owned(),
        call_id: call_id.to_owned(),
        from_tag: "ft".to_owned(),
        to_tag: None,
        code: None,
        reason: None,
        caller_user: Some(caller_user.to_owned()),
        caller_domain: Some(caller_domain.to_owned()),
        callee_user: Some(callee_user.to_owned()),
        callee_domain: Some(callee_domain.to_owned()),
        source_ip: Some("198.51.100.7".to_owned()),
        ended_by: None,
    }
}

#[test]
fn acc_records() {
    let t = Itsp::new();
    assert_eq!(t.ok(&["acc"]), "no accounting records\n");
    // 2024-05-01T00:00:00Z
    let may = 1_714_521_600_000;
    let mut answered = acc(
        may + 1_500,
        AccKind::Answered,
        "c1",
        "alice@example.com",
        "bob@example.com",
    );
    answered.code = Some(200);
    answered.reason = Some("OK".into());
    answered.to_tag = Some("tt".into());
    let mut ended = acc(
        may + 61_500,
        AccKind::Ended,
        "c1",
        "alice@example.com",
        "bob@example.com",
    );
    ended.method = "BYE".into();
    ended.ended_by = Some("callee".into());
    let mut failed = acc(
        may + 3_600_000,
        AccKind::Failed,
        "c2",
        "bob@example.com",
        "carol@example.com",
    );
    failed.code = Some(486);
    failed.reason = Some("Busy Here".into());
    let mut events = vec![
        acc(
            may,
            AccKind::Request,
            "c1",
            "alice@example.com",
            "bob@example.com",
        ),
        answered,
        ended,
        acc(
            may + 3_599_000,
            AccKind::Request,
            "c2",
            "bob@example.com",
            "carol@example.com",
        ),
        failed,
    ];
    // Older records, beyond the default limit.
    for i in 0..150 {
        events.push(acc(
            1_000 + i,
            AccKind::Request,
            &format!("old{i}"),
            "x@example.com",
            "y@example.com",
        ));
    }
    t.store(async |s| s.record_acc(&events).await.unwrap());

    // The newest 100 by default, newest last.
    let text = t.ok(&["acc"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 101, "{text}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["TIME", "EVENT", "METHOD", "STATUS", "CALLER", "CALLEE", "SOURCE", "CALL-ID"]
    );
    assert!(
        lines[97].starts_with("2024-05-01 00:00:01.500 UTC  answered"),
        "{text}"
    );
    assert!(lines[97].contains("200 OK"), "{text}");
    assert!(lines[98].contains("ended by callee  BYE"), "{text}");
    assert_eq!(
        lines[100].split_whitespace().collect::<Vec<_>>(),
        [
            "2024-05-01",
            "01:00:00.000",
            "UTC",
            "failed",
            "INVITE",
            "486",
            "Busy",
            "Here",
            "bob@example.com",
            "carol@example.com",
            "198.51.100.7",
            "c2"
        ],
        "{text}"
    );
    assert_eq!(
        t.json(&["acc", "--limit", "0"]).as_array().unwrap().len(),
        155
    );
    assert_eq!(
        t.json(&["acc", "--limit", "2"]).as_array().unwrap().len(),
        2
    );

    // Filters.
    let kinds = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["acc"];
        full.extend_from_slice(args);
        t.json(&full)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    r["call_id"].as_str().unwrap(),
                    r["kind"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(kinds(&["--call-id", "c2"]), ["c2:request", "c2:failed"]);
    assert_eq!(
        kinds(&["--user", "alice@example.com"]),
        ["c1:request", "c1:answered", "c1:ended"]
    );
    assert_eq!(kinds(&["--user", "carol@EXAMPLE.com"]).len(), 2);
    let all_of_may = [
        "c1:request",
        "c1:answered",
        "c1:ended",
        "c2:request",
        "c2:failed",
    ];
    assert_eq!(kinds(&["--since", "2024-05-01"]), all_of_may);
    assert_eq!(kinds(&["--since", "1714521600"]), all_of_may);
    assert_eq!(
        kinds(&["--since", "2024-05-01T03:00:00+02:00"]),
        ["c2:failed"]
    );
    assert_eq!(
        kinds(&[
            "--since",
            "2024-05-01T00:00:01.5Z",
            "--user",
            "bob@example.com",
            "--limit",
            "1"
        ]),
        ["c2:failed"]
    );
    assert!(kinds(&["--user", "dave@example.com"]).is_empty());

    // The JSON shape: every field.
    let v = t.json(&["acc", "--call-id", "c1"]);
    assert_eq!(
        v[1],
        serde_json::json!({
            "time": "2024-05-01 00:00:01.500 UTC",
            "time_ms": may + 1_500,
            "kind": "answered",
            "method": "INVITE",
            "call_id": "c1",
            "from_tag": "ft",
            "to_tag": "tt",
            "code": 200,
            "reason": "OK",
            "caller_user": "alice",
            "caller_domain": "example.com",
            "callee_user": "bob",
            "callee_domain": "example.com",
            "source_ip": "198.51.100.7",
            "ended_by": null,
        })
    );
    assert_eq!(v[2]["ended_by"], "callee");

    for bad in [
        vec!["--since", "yesterday"],
        vec!["--since", "2024-02-30"],
        vec!["--user", "nodomain"],
    ] {
        let mut full = vec!["acc"];
        full.extend(bad);
        t.fails(1, &full);
    }
    assert_eq!(
        t.run(&["acc", "--limit", "-1"]).code,
        2,
        "clap: a usage error"
    );
}

#[test]
fn bans() {
    let t = Itsp::new();
    assert_eq!(t.ok(&["ban", "list"]), "no bans\n");
    let v = t.json(&[
        "ban",
        "add",
        "192.0.2.7",
        "--for",
        "1h",
        "--reason",
        "scanner",
    ]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["network"], "192.0.2.7");
    let until = v["until_ms"].as_i64().unwrap();
    assert!((until - now_ms() - 3_600_000).abs() < 60_000, "{v}");
    // A network is kept canonical; without --for it lasts until removed.
    let out = t.ok(&["ban", "add", "198.51.100.9/24"]);
    assert_eq!(out, "banned 198.51.100.0/24 until removed\n");
    // A ban the server wrote shows too.
    t.store(async |s| {
        s.add_ban(
            "203.0.113.66",
            Some(now_ms() + 300_000),
            "too many failed authentications",
            true,
            now_ms(),
        )
        .await
        .unwrap()
    });
    let list = t.json(&["ban", "list"]);
    let networks: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["network"].as_str().unwrap())
        .collect();
    assert_eq!(networks, ["192.0.2.7", "198.51.100.0/24", "203.0.113.66"]);
    assert_eq!(list[2]["automatic"], true);
    assert_eq!(list[1]["until_ms"], Value::Null);
    let text = t.ok(&["ban", "list"]);
    assert!(text.starts_with("NETWORK"), "{text}");
    assert!(text.contains("scanner"), "{text}");
    assert!(text.contains("removed"), "{text}");
    // Wrong requests: exit status 1.
    let e = t.fails(1, &["ban", "add", "example.com"]);
    assert!(e.contains("not an address or network"), "{e}");
    let e = t.fails(1, &["ban", "add", "192.0.2.1", "--for", "soon"]);
    assert!(e.contains("not a duration"), "{e}");
    t.ok(&["ban", "rm", "203.0.113.66"]);
    t.ok(&["ban", "rm", "198.51.100.9/24"]);
    let e = t.fails(1, &["ban", "rm", "198.51.100.0/24"]);
    assert!(e.contains("no ban of 198.51.100.0/24"), "{e}");
    assert_eq!(t.store(async |s| s.bans(now_ms()).await.unwrap().len()), 1);
}

#[test]
fn conference_rooms() {
    let t = Itsp::new();
    t.ok(&["domain", "add", "example.com"]);
    assert_eq!(
        t.ok(&["conf", "list"]),
        "no conference rooms configured (and no running server to say who is in a room)\n"
    );
    assert_eq!(
        t.ok(&["conf", "add", "Sales@example.com", "--pin", "1234"]),
        "added conference room sales@example.com with a PIN\n"
    );
    let v = t.json(&["conf", "add", "standup@example.com"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["pin"], false);
    let list = t.json(&["conf", "list"]);
    assert_eq!(list[0]["room"], "sales");
    assert_eq!(list[0]["pin"], true);
    assert_eq!(list[0]["configured"], true);
    assert_eq!(list[0]["participants"], serde_json::json!([]));
    assert_eq!(list[1]["room"], "standup");
    // Who is in a room needs a running server.
    let e = t.fails(2, &["conf", "kick", "sales@example.com", "1"]);
    assert!(e.contains("no itsp server is running"), "{e}");
    let text = t.ok(&["conf", "list"]);
    assert!(text.starts_with("ROOM"), "{text}");
    assert!(!text.contains("1234"), "PINs are not shown: {text}");
    t.ok(&["conf", "pin", "sales@example.com", "--none"]);
    assert_eq!(t.json(&["conf", "list"])[0]["pin"], false);
    t.ok(&["conf", "pin", "standup@example.com", "555555"]);
    let pin = t.store(async |s| {
        s.conference_room("example.com", "standup")
            .await
            .unwrap()
            .unwrap()
            .pin
    });
    assert_eq!(pin.as_deref(), Some("555555"));
    // Wrong requests: exit status 1, saying what is wrong.
    let e = t.fails(1, &["conf", "add", "sales@example.com"]);
    assert!(
        e.contains("conference room sales@example.com exists"),
        "{e}"
    );
    let e = t.fails(1, &["conf", "add", "x@example.com", "--pin", "12"]);
    assert!(e.contains("4 to 10 digits"), "{e}");
    let e = t.fails(1, &["conf", "add", "a b@example.com"]);
    assert!(e.contains("not allowed in room name"), "{e}");
    let e = t.fails(1, &["conf", "add", "x@example.org"]);
    assert!(e.contains("itsp domain add example.org"), "{e}");
    let e = t.fails(1, &["conf", "add", "nodomain"]);
    assert!(e.contains("is not ROOM@DOMAIN"), "{e}");
    t.ok(&["conf", "rm", "sales@example.com"]);
    let e = t.fails(1, &["conf", "rm", "sales@example.com"]);
    assert!(
        e.contains("no such conference room: sales@example.com"),
        "{e}"
    );
}

#[test]
fn changes_are_audited() {
    let t = Itsp::new();
    t.ok(&["domain", "add", "example.com"]);
    t.ok(&[
        "user",
        "add",
        "dora@example.com",
        "--password",
        "Dora-Secret-9",
    ]);
    // Reading is not a change.
    t.ok(&["user", "list"]);
    t.ok(&["user", "show", "dora@example.com"]);
    // A refused change is recorded as one, with its exit status and why.
    t.fails(
        1,
        &[
            "user",
            "add",
            "dora@example.com",
            "--password",
            "Other-Secret-8",
        ],
    );
    t.ok_stdin(
        &["user", "passwd", "dora@example.com", "--password-stdin"],
        "Stdin-Secret-7\n",
    );
    t.ok(&["conf", "add", "room@example.com", "--pin", "4321"]);
    t.ok(&["user", "set", "dora@example.com", "vm-pin=8642"]);
    let token = t.json(&["token", "create", "--admin", "--name", "ops"]);
    let token = token["token"].as_str().unwrap().to_owned();

    let log = t.json(&["audit", "list"]);
    let entries = log.as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "itsp token create --admin --name ops",
            "itsp user set dora@example.com vm-pin=***",
            "itsp conf add room@example.com --pin ***",
            "itsp user passwd dora@example.com --password-stdin",
            "itsp user add dora@example.com --password ***",
            "itsp user add dora@example.com --password ***",
            "itsp domain add example.com",
        ],
        "{log:#}"
    );
    let actor = entries[0]["actor"].as_str().unwrap();
    assert!(actor.starts_with("cli:") && actor.len() > 4, "{actor}");
    for e in entries {
        assert_eq!(e["actor"], actor, "{e}");
        assert_eq!(e["source"], "local", "{e}");
    }
    let failed = &entries[4];
    assert_eq!(failed["status"], 1, "{failed}");
    assert_eq!(
        failed["detail"], "error: user dora@example.com exists",
        "{failed}"
    );
    for e in entries.iter().filter(|e| e != &failed) {
        assert_eq!(e["status"], 0, "{e}");
        assert_eq!(e["detail"], "done", "{e}");
    }
    let text = log.to_string();
    for secret in [
        "Dora-Secret-9",
        "Other-Secret-8",
        "Stdin-Secret-7",
        "4321",
        "8642",
        &token,
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // The actor filter finds them.
    let mine = t.json(&["audit", "list", "--actor", actor]);
    assert_eq!(mine.as_array().unwrap().len(), entries.len());
    // A named OS user is the actor.
    let out = t.run_env(&["domain", "add", "example.net"], &[("USER", "ops-person")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let last = t.json(&["audit", "list", "--limit", "1"]);
    assert_eq!(last[0]["actor"], "cli:ops-person", "{last}");
}
