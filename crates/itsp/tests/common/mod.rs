//! Test harness for end-to-end tests of the `itsp` binary: a data directory prepared
//! through the `store` crate, the server process started on loopback ports chosen by the
//! OS, and a minimal SIP phone over UDP that answers digest challenges.
#![allow(dead_code, unreachable_pub)] // each test binary uses a part

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sip::auth::{best_challenge, parse_challenge, respond, AuthHeader, ClientRequest, Secret};
use sip::{HeaderName, Message};

pub mod baresip;
pub mod call;
pub mod netns;
pub mod softphone;

pub const DOMAIN: &str = "example.com";

/// Runs async store work from a synchronous test.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The SQLite URL `itsp serve --data-dir DIR` uses.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("itsp.db").display())
}

/// Creates `domain` and the users (`(user, password)`) in the store at `url`.
pub fn provision(url: &str, domain: &str, users: &[(&str, &str)]) {
    block_on(async {
        let s = store::Store::open(url).await.unwrap();
        if !s.domain_exists(domain).await.unwrap() {
            s.add_domain(domain).await.unwrap();
        }
        for (user, password) in users {
            s.add_subscriber(user, domain, password, None)
                .await
                .unwrap();
        }
        s.close().await;
    });
}

/// A running `itsp serve`.
pub struct Itsp {
    pub child: Child,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    /// The TLS listener, when one was asked for before the TCP one (the listening lines
    /// come in the order of the listen addresses; the harness stops reading at TCP).
    pub tls: Option<SocketAddr>,
    /// The WebSocket listener (ws or wss), when one was asked for before the TCP one.
    pub ws: Option<SocketAddr>,
    /// The JSON log lines, as they come after start.
    pub log: mpsc::Receiver<serde_json::Value>,
    /// The log lines up to the report of the sockets.
    pub startup: Vec<serde_json::Value>,
    /// The STUN server's primary and alternate sockets, when it runs (the harness starts
    /// it on `udp:127.0.0.1:0` unless the arguments say `--no-stun` or `--stun-listen`).
    pub stun: Option<(SocketAddr, Option<SocketAddr>)>,
    /// The web portal's address, when it runs (the harness starts it on
    /// `127.0.0.1:0` unless the arguments say `--no-http` or `--http-listen`).
    pub http: Option<SocketAddr>,
}

impl Drop for Itsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Itsp {
    /// Starts `itsp serve` on loopback with `args` added (e.g. `--data-dir`, `--domain`),
    /// and waits until it reports both sockets.
    pub fn start(args: &[&str]) -> Itsp {
        Itsp::start_on(args, &["udp:127.0.0.1:0", "tcp:127.0.0.1:0"])
    }

    /// Like [`Itsp::start`] with the listen addresses given.
    pub fn start_on(args: &[&str], listens: &[&str]) -> Itsp {
        Itsp::start_with(Command::new(env!("CARGO_BIN_EXE_itsp")), args, listens)
    }

    /// Like [`Itsp::start_on`] with `cmd` running the binary (e.g. in a network namespace
    /// of the NAT lab: `host.command(env!("CARGO_BIN_EXE_itsp"))`). The STUN server goes
    /// on an OS-chosen loopback port unless `args` has `--no-stun` or `--stun-listen`.
    /// ITSP_TEST_LOG=debug shows more of the server in `log` when a test needs looking into.
    pub fn start_with(cmd: Command, args: &[&str], listens: &[&str]) -> Itsp {
        let log = std::env::var("ITSP_TEST_LOG").unwrap_or("info".into());
        Itsp::start_logged(cmd, Some(&log), args, listens)
    }

    /// Like [`Itsp::start_with`] with `--log` given only when `log` is `Some` (and without
    /// RUST_LOG): a test of the config file's `[log] filter` passes `None`.
    pub fn start_logged(
        mut cmd: Command,
        log: Option<&str>,
        args: &[&str],
        listens: &[&str],
    ) -> Itsp {
        cmd.args(["--log-format", "json"]).env_remove("RUST_LOG");
        if let Some(log) = log {
            cmd.args(["--log", log]);
        }
        cmd.arg("serve");
        if !args
            .iter()
            .any(|a| *a == "--no-stun" || *a == "--stun-listen")
        {
            cmd.args(["--stun-listen", "udp:127.0.0.1:0"]);
        }
        if !args
            .iter()
            .any(|a| *a == "--no-http" || *a == "--http-listen")
        {
            cmd.args(["--http-listen", "127.0.0.1:0"]);
        }
        for l in listens {
            cmd.args(["--listen", l]);
        }
        let mut child = cmd
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("itsp starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            // Nobody listens any more; keep draining the pipe.
                        }
                    }
                    Err(_) => eprintln!("itsp: {line}"),
                }
            }
        });
        let (mut udp, mut tcp, mut tls, mut ws) = (None, None, None, None);
        let mut stun = None;
        let mut http = None;
        let mut startup = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while udp.is_none() || tcp.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(v) = rx.recv_timeout(left) else {
                let status = child.try_wait().unwrap();
                panic!("server did not report its sockets (exit status {status:?})");
            };
            if let Some(s) = v["fields"]["stun"].as_str() {
                let alternate = v["fields"]["alternate"]
                    .as_str()
                    .and_then(|a| a.parse().ok());
                stun = Some((s.parse().unwrap(), alternate));
            }
            if let Some(h) = v["fields"]["http"].as_str() {
                http = h.parse().ok();
            }
            if let Some(l) = v["fields"]["listen"].as_str() {
                let (proto, addr) = l.split_once(':').unwrap();
                let addr: SocketAddr = addr.parse().unwrap();
                match proto {
                    "udp" => udp = Some(addr),
                    "tcp" => tcp = Some(addr),
                    "tls" => tls = Some(addr),
                    "ws" | "wss" => ws = Some(addr),
                    _ => {}
                }
            }
            startup.push(v);
        }
        Itsp {
            child,
            udp: udp.unwrap(),
            tcp: tcp.unwrap(),
            tls,
            ws,
            log: rx,
            startup,
            stun,
            http,
        }
    }

    /// Sends a signal with the shell's `kill` (no procps needed).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let ok = Command::new("sh")
            .args(["-c", &format!("kill -{signal} {pid}")])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to end; its exit status.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The start-up log line whose message contains `text`.
    pub fn startup_log(&self, text: &str) -> &serde_json::Value {
        self.startup
            .iter()
            .find(|v| {
                v["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(text))
            })
            .unwrap_or_else(|| panic!("no start-up log line with {text:?}: {:?}", self.startup))
    }

    /// Waits for a log line whose message contains `text`.
    pub fn wait_log(&self, text: &str, within: Duration) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .log
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no log line with {text:?}"));
            if v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(text))
            {
                return v;
            }
        }
    }
}

/// A data directory with the server's SQLite database, removed at the end.
pub struct DataDir {
    pub dir: tempfile::TempDir,
}

impl DataDir {
    /// A fresh directory with `domain` and `users` provisioned.
    pub fn with_users(users: &[(&str, &str)]) -> DataDir {
        let dir = tempfile::tempdir().unwrap();
        provision(&sqlite_url(dir.path()), DOMAIN, users);
        DataDir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn path_str(&self) -> String {
        self.dir.path().display().to_string()
    }

    pub fn url(&self) -> String {
        sqlite_url(self.dir.path())
    }

    /// The server arguments for this directory and [`DOMAIN`].
    pub fn args(&self) -> Vec<String> {
        vec![
            "--data-dir".into(),
            self.path_str(),
            "--domain".into(),
            DOMAIN.into(),
        ]
    }
}

pub fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A UDP SIP client acting for one user.
pub struct Phone {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    pub user: String,
    pub password: String,
    pub call_id: String,
    pub cseq: u32,
    branch: u32,
    /// Which challenge to answer: `None` for the best offered (SHA-256 over MD5), or an
    /// algorithm name.
    pub algorithm: Option<&'static str>,
    /// The domain of the user (and of the Request-URI).
    pub domain: String,
}

impl Phone {
    pub fn new(server: SocketAddr, user: &str, password: &str) -> Phone {
        Phone::at("127.0.0.1", server, user, password)
    }

    /// A phone on loopback address `ip` (127.0.0.2 and up are other sources).
    pub fn at(ip: &str, server: SocketAddr, user: &str, password: &str) -> Phone {
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let port = sock.local_addr().unwrap().port();
        Phone {
            sock,
            server,
            user: user.into(),
            password: password.into(),
            call_id: format!("{user}-{port}@test"),
            cseq: 0,
            branch: 0,
            algorithm: None,
            domain: DOMAIN.into(),
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// A contact URI at this phone's socket.
    pub fn contact(&self) -> String {
        format!("sip:{}@{}", self.user, self.local())
    }

    /// Sends raw text, returns the next message received (skipping 100 Trying).
    pub fn exchange(&self, text: &str) -> Message {
        self.sock.send_to(text.as_bytes(), self.server).unwrap();
        self.receive()
    }

    pub fn receive(&self) -> Message {
        let mut buf = vec![0u8; 65535];
        loop {
            let (n, _) = self
                .sock
                .recv_from(&mut buf)
                .expect("an answer from the server");
            let m = Message::parse(buf[..n].to_vec()).expect("a valid SIP message");
            if m.status() != Some(100) {
                return m;
            }
        }
    }

    /// A REGISTER for this user (To/From = user@DOMAIN), with the given extra header lines.
    pub fn register_text(
        &mut self,
        to_user: &str,
        headers: &str,
        authorization: Option<&str>,
    ) -> String {
        self.cseq += 1;
        self.branch += 1;
        let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
        let domain = &self.domain;
        format!(
            "REGISTER sip:{domain} SIP/2.0\r\n\
Via: SIP/2.0/UDP {local};branch=z9hG4bK-{port}-{b};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@{domain}>;tag=t{port}\r\nTo: <sip:{to_user}@{domain}>\r\n\
Call-ID: {cid}\r\nCSeq: {cseq} REGISTER\r\nUser-Agent: itsp-test-phone\r\n{auth}{headers}Content-Length: 0\r\n\r\n",
            local = self.local(),
            port = self.local().port(),
            b = self.branch,
            user = self.user,
            cid = self.call_id,
            cseq = self.cseq,
        )
    }

    /// The Authorization value answering the challenge of a 401/407.
    pub fn answer(&self, challenge: &Message, method: &str, uri: &str) -> String {
        let name = if challenge.status() == Some(407) {
            HeaderName::ProxyAuthenticate
        } else {
            HeaderName::WwwAuthenticate
        };
        let parsed: Vec<_> = challenge
            .header_values(name)
            .map(|v| match parse_challenge(v).unwrap() {
                AuthHeader::Digest(c) => c,
                other => panic!("not a digest challenge: {other:?}"),
            })
            .collect();
        let c = match self.algorithm {
            None => best_challenge(&parsed).unwrap(),
            Some(alg) => parsed
                .iter()
                .find(|c| c.algorithm.is_some_and(|a| a.eq_ignore_ascii_case(alg)))
                .unwrap(),
        };
        respond(
            c,
            &ClientRequest {
                method,
                uri,
                username: &self.user,
                secret: Secret::Password(&self.password),
                cnonce: "0a4f113b",
                nc: 1,
                body: &[],
            },
        )
        .unwrap()
    }

    /// REGISTER with `headers` (Contact, Expires...), answering the 401; the final answer.
    pub fn register(&mut self, headers: &str) -> Message {
        let text = self.register_text(&self.user.clone(), headers, None);
        let first = self.exchange(&text);
        if first.status() != Some(401) {
            return first;
        }
        let auth = self.answer(&first, "REGISTER", &format!("sip:{}", self.domain));
        let text = self.register_text(&self.user.clone(), headers, Some(&auth));
        self.exchange(&text)
    }
}

/// Reads one SIP message from a stream connection (the test sends one request at a time,
/// so nothing follows it).
pub fn read_message(tcp: &mut std::net::TcpStream) -> Message {
    use std::io::Read;
    let mut got = Vec::new();
    loop {
        if let Ok(sip::framing::Frame::Message { len }) = sip::framing::frame(&got, 65536) {
            return Message::parse(got[..len].to_vec()).unwrap();
        }
        let mut chunk = [0u8; 4096];
        let n = tcp.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed without an answer");
        got.extend_from_slice(&chunk[..n]);
    }
}

/// The Contact URIs of a 200 to REGISTER with their `expires`.
pub fn contacts(resp: &Message) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = resp
        .contacts()
        .map(|c| {
            let c = c.unwrap();
            let a = c.addr().unwrap();
            (a.uri.to_owned(), c.expires().unwrap())
        })
        .collect();
    v.sort();
    v
}

/// Asserts that a 200 to REGISTER lists exactly `expected` (URI, `expires`), allowing the
/// `expires` of bindings written by an earlier request (or before a restart) to have counted
/// down by the few seconds a test takes: the registrar reports time left (RFC 3261 §10.3
/// step 8), and a second boundary may fall between two requests.
#[track_caller]
pub fn assert_bindings(resp: &Message, expected: &[(&str, u32)]) {
    let got = contacts(resp);
    let matches = got.len() == expected.len()
        && got
            .iter()
            .zip(expected)
            .all(|((uri, left), (want_uri, full))| {
                uri == want_uri && (full.saturating_sub(5)..=*full).contains(left)
            });
    assert!(matches, "bindings {got:?}, expected about {expected:?}");
}

/// A free UDP port on loopback (bound and released: the process started next takes it).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process (a peer: Kamailio, rtpengine, `itsp relay`) killed when the test ends.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs an admin command of the binary on `data` with `--json` and parses its output.
pub fn admin_json(data: &DataDir, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(args)
        .args(["--json", "--data-dir", &data.path_str()])
        .env_remove("ITSP_DB")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Runs an admin command of the binary on `data` and checks it succeeded.
pub fn admin(data: &DataDir, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_itsp"))
        .args(args)
        .args(["--data-dir", &data.path_str()])
        .env_remove("ITSP_DB")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Polls `check` (e.g. on what a background writer stored) until it holds or 5 s pass.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where the PostgreSQL test cluster helper lives (shared with the store's tests).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The resident memory of process `pid` in kB (`VmRSS`), 0 when it cannot be read.
pub fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
