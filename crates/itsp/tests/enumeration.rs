//! No user enumeration: `svwar` (SIPVicious, Debian's `sipvicious`) tries a word list that
//! holds our users against `itsp serve` on loopback, with REGISTER, INVITE and OPTIONS, and
//! finds nobody. svwar learns a name exists when its answer differs from the answer to a
//! name that surely does not; the server answers a caller from outside the same for an
//! unknown user and for a subscriber with no phone registered (`[proxy]
//! unknown_user_answer`), challenges REGISTERs of both alike, and challenges every request
//! whose From claims our domain.
//!
//! svwar writes the same domain in From and To. A scanner on the Internet writes its own
//! in From, so the runs "from another domain" go through a relay in the test that rewrites
//! the From domain of each request on its way to the server. A control run from a trusted
//! network (which is told 404 and 480 apart, as our own users are) shows that svwar, the
//! word list and the relay do find the users when the answers differ.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{as_strs, free_udp_port, DataDir, Itsp, DOMAIN};

const INSTALL_HINT: &str = "run `scripts/install-test-deps.sh sipvicious` (CI installs it)";

/// The subscribers, and the names svwar tries (the subscribers among them).
const USERS: [(&str, &str); 3] = [("alice", "a-secret"), ("bob", "b-secret"), ("1000", "x")];
const WORDS: &str = "admin\nalice\n100\n1000\nbob\ncarol\noperator\n";

/// svwar's executable: `svwar` in Debian 12's sipvicious 0.3, `sipvicious_svwar` later.
fn svwar() -> &'static str {
    for name in ["sipvicious_svwar", "svwar"] {
        if Command::new(name).arg("--version").output().is_ok() {
            return name;
        }
    }
    panic!("svwar is not installed: {INSTALL_HINT}");
}

/// A UDP relay in front of the server: requests from the scanner go on with the domain of
/// their From URI replaced by `from_domain` (if any); everything from the server goes back
/// to the scanner. Counts the responses relayed.
struct Relay {
    addr: SocketAddr,
    responses: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Relay {
    fn start(server: SocketAddr, from_domain: Option<&'static str>) -> Relay {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let responses = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (responses.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut scanner: Option<SocketAddr> = None;
            let mut buf = [0u8; 65535];
            while !stopped.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if from == server {
                    if let Some(scanner) = scanner {
                        count.fetch_add(1, Ordering::Relaxed);
                        let _ = sock.send_to(&buf[..n], scanner);
                    }
                    continue;
                }
                scanner = Some(from);
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let text = match from_domain {
                    Some(domain) => rewrite_from(&text, domain),
                    None => text,
                };
                let _ = sock.send_to(text.as_bytes(), server);
            }
        });
        Relay {
            addr,
            responses,
            stop,
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The request with `@DOMAIN` in its From header line replaced by `@domain`.
fn rewrite_from(text: &str, domain: &str) -> String {
    text.split("\r\n")
        .map(|line| {
            let name = line.split(':').next().unwrap_or_default().trim();
            if name.eq_ignore_ascii_case("From") || name == "f" {
                line.replace(&format!("@{DOMAIN}"), &format!("@{domain}"))
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Runs svwar with `method` through a relay to `server`; returns the names it reports, its
/// output and how many answers the server sent it.
fn scan(
    server: &Itsp,
    method: &str,
    from_domain: Option<&'static str>,
) -> (Vec<String>, String, usize) {
    let dir = tempfile::tempdir().unwrap();
    let words = dir.path().join("words.txt");
    std::fs::write(&words, WORDS).unwrap();
    let relay = Relay::start(server.udp, from_domain);
    let out = Command::new(svwar())
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .args(["-m", method, "-d"])
        .arg(&words)
        .args(["--domain", DOMAIN, "--force", "--maximumtime", "5"])
        .args(["-P", &free_udp_port().to_string()])
        .args(["-p", &relay.addr.port().to_string(), "127.0.0.1"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let responses = relay.responses.load(Ordering::Relaxed);
    assert!(responses >= 1, "svwar {method}: no answer\n{text}");
    // The result table: "| alice     | reqauth |" rows.
    let found = text
        .lines()
        .filter_map(|l| l.strip_prefix('|'))
        .filter_map(|l| l.split('|').next())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty() && name != "Extension")
        .collect();
    (found, text, responses)
}

/// `itsp serve` with the subscribers and `extra` arguments; unless they make loopback
/// trusted, configured to answer 404 (its config file lives in the directory returned).
fn start(extra: &[&str]) -> (DataDir, Itsp, tempfile::TempDir) {
    let data = DataDir::with_users(&USERS);
    let dir = tempfile::tempdir().unwrap();
    let mut args = data.args();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    if !extra.contains(&"--trusted") {
        // svwar scans only when a name that surely does not exist gets an answer that is
        // neither 480 nor a challenge.
        let config = dir.path().join("itsp.toml");
        std::fs::write(&config, "[proxy]\nunknown_user_answer = 404\n").unwrap();
        args.extend(["--config".to_owned(), config.display().to_string()]);
    }
    let server = Itsp::start(&as_strs(&args));
    (data, server, dir)
}

#[test]
fn svwar_finds_no_user_from_another_domain_or_ours() {
    // The default answer, 480: svwar cannot even start, as 480 to a name that surely does
    // not exist is no answer it can compare with ("socket error: timed out"), and a
    // challenge to every REGISTER makes it say "svwar will probably not work!".
    let data = DataDir::with_users(&USERS);
    let server = Itsp::start(&as_strs(&data.args()));
    for method in ["REGISTER", "INVITE", "OPTIONS"] {
        for from_domain in [Some("scanner.example"), None] {
            let (found, text, _) = scan(&server, method, from_domain);
            assert!(
                found.is_empty(),
                "svwar {method} from {from_domain:?} found {found:?}\n{text}"
            );
        }
    }
    // 404 configured: svwar scans the whole list, every name is answered, nobody found.
    let (_data, server, _dir) = start(&[]);
    for method in ["INVITE", "OPTIONS"] {
        let (found, text, responses) = scan(&server, method, Some("scanner.example"));
        assert!(found.is_empty(), "svwar {method} found {found:?}\n{text}");
        assert!(
            responses > WORDS.lines().count(),
            "svwar {method}: {responses} answers, not one per name\n{text}"
        );
    }
}

#[test]
fn svwar_finds_the_users_where_the_answers_differ() {
    // Control: a trusted network is told an unknown user (404) from an offline one (480).
    let (_data, server, _dir) = start(&["--trusted", "127.0.0.0/8"]);
    let (mut found, text, _) = scan(&server, "INVITE", Some("scanner.example"));
    found.sort();
    assert_eq!(found, ["1000", "alice", "bob"], "{text}");
}
