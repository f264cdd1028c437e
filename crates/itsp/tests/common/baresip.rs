//! baresip (Debian's package, version 1.0.0) driven by the end-to-end tests: configured in
//! a temporary directory (`-f DIR`): loopback only, G.711, its tone from the `aufile`
//! source. Version 1.0.0's `aufile` has no player, so what it hears is recorded by the
//! `sndfile` filter (`snd_path`, one `dump-*-dec.wav` per call), and the player is ALSA's
//! `null` device. Its output (`-s`: the SIP trace too) is read line by line.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::DOMAIN;

pub const MODULE_PATH: &str = "/usr/lib/baresip/modules";
/// The modules the configuration loads.
pub const MODULES: [&str; 6] = ["g711", "aufile", "alsa", "sndfile", "account", "menu"];
pub const INSTALL_HINT: &str = "run `scripts/install-test-deps.sh baresip` (CI installs it)";

/// Writes 30 s of a `hz` sine at 8 kHz (longer than any call here: baresip 1.0.0 ends
/// the call when its source file ends).
pub fn tone_file(path: &Path, hz: f64) {
    let mut samples = vec![0i16; 8000 * 30];
    rtp::audio::tone::Tone::new(hz, 12_000.0, 8000).fill(&mut samples);
    std::fs::write(path, rtp::audio::wav::write(8000, &samples)).unwrap();
}

/// Fails with the way to install baresip when it or a module the test needs is missing.
pub fn require_baresip() {
    if let Err(e) = Command::new("baresip")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        panic!("baresip is not installed ({e}): {INSTALL_HINT}");
    }
    for module in MODULES {
        let path = Path::new(MODULE_PATH).join(format!("{module}.so"));
        assert!(
            path.exists(),
            "baresip's module {} is missing: {INSTALL_HINT}",
            path.display()
        );
    }
}

/// A running baresip with its configuration directory; killed by PID when dropped.
pub struct Baresip {
    child: Child,
    dir: tempfile::TempDir,
    lines: mpsc::Receiver<String>,
    /// Every line printed so far (stdout and stderr, colours removed).
    pub output: Vec<String>,
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a baresip runs with besides its account: TLS, MWI, media encryption.
#[derive(Default)]
struct Extras<'a> {
    /// Register over TLS trusting this certificate.
    tls_ca: Option<&'a Path>,
    /// Load the `mwi` module and subscribe to the account's message summary.
    mwi: bool,
    /// The account's `mediaenc` (e.g. `srtp-mand`), with the `srtp` module.
    mediaenc: Option<&'a str>,
}

impl Baresip {
    /// Starts baresip as `user` of [`DOMAIN`] registering through `server`, answering calls
    /// at once, playing `source` (an 8 kHz mono WAV) into every call, with `args` added
    /// (e.g. `-e` commands, `-t` seconds). `-s` prints the SIP trace into the output.
    pub fn start(
        server: SocketAddr,
        user: &str,
        password: &str,
        source: &Path,
        args: &[&str],
    ) -> Self {
        Baresip::launch(server, user, password, source, args, Extras::default())
    }

    /// [`Baresip::start`] with the account's `mediaenc` (e.g. `srtp-mand`), which loads the
    /// `srtp` module.
    #[allow(dead_code)]
    pub fn start_with(
        server: SocketAddr,
        user: &str,
        password: &str,
        source: &Path,
        args: &[&str],
        mediaenc: Option<&str>,
    ) -> Self {
        let extras = Extras {
            mediaenc,
            ..Extras::default()
        };
        Baresip::launch(server, user, password, source, args, extras)
    }

    /// As [`Baresip::start`], with the `mwi` module: once registered, baresip subscribes
    /// to its own address's `message-summary` (RFC 3842) and `menu` prints each NOTIFY's
    /// body after a line `----- MWI for AOR -----`.
    pub fn start_mwi(server: SocketAddr, user: &str, password: &str, source: &Path) -> Self {
        let extras = Extras {
            mwi: true,
            ..Extras::default()
        };
        Baresip::launch(server, user, password, source, &[], extras)
    }

    /// As [`Baresip::start`], over TLS to `server`, trusting the certificate in `ca`.
    pub fn start_tls(
        server: SocketAddr,
        ca: &Path,
        user: &str,
        password: &str,
        source: &Path,
    ) -> Self {
        let extras = Extras {
            tls_ca: Some(ca),
            ..Extras::default()
        };
        Baresip::launch(server, user, password, source, &[], extras)
    }

    /// As [`Baresip::start_tls`], with `args` and the account's `mediaenc`.
    #[allow(dead_code)]
    pub fn start_tls_with(
        server: SocketAddr,
        ca: &Path,
        user: &str,
        password: &str,
        source: &Path,
        args: &[&str],
        mediaenc: Option<&str>,
    ) -> Self {
        let extras = Extras {
            tls_ca: Some(ca),
            mediaenc,
            ..Extras::default()
        };
        Baresip::launch(server, user, password, source, args, extras)
    }

    /// Starts baresip: over UDP, or as `extras` say.
    fn launch(
        server: SocketAddr,
        user: &str,
        password: &str,
        source: &Path,
        args: &[&str],
        extras: Extras<'_>,
    ) -> Self {
        require_baresip();
        let Extras {
            tls_ca,
            mwi,
            mediaenc,
        } = extras;
        if mediaenc.is_some() {
            assert!(
                Path::new(MODULE_PATH).join("srtp.so").exists(),
                "baresip's module srtp is missing: {INSTALL_HINT}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let heard = dir.path().join("heard");
        std::fs::create_dir(&heard).unwrap();
        // Loopback only: SIP on a port the OS picks, the local address given as an IP
        // (libre skips loopback addresses when it looks an interface name up, so `lo`
        // does not work), DNS pointed at loopback so nothing can leave the machine.
        let config = format!(
            "sip_listen\t\t127.0.0.1:0\n\
             net_interface\t\t127.0.0.1\n\
             dns_server\t\t127.0.0.1:53\n\
             rtp_ports\t\t20000-39999\n\
             call_local_timeout\t30\n\
             audio_player\t\talsa,null\n\
             audio_alert\t\talsa,null\n\
             audio_source\t\taufile,{source}\n\
             ausrc_srate\t\t8000\n\
             ausrc_channels\t\t1\n\
             statmode_default\toff\n\
             ringback_disabled\tyes\n\
             snd_path\t\t{heard}\n\
             module_path\t\t{MODULE_PATH}\n\
             module\t\t\tg711.so\n\
             module\t\t\taufile.so\n\
             module\t\t\talsa.so\n\
             module\t\t\tsndfile.so\n\
             module_tmp\t\taccount.so\n\
             module_app\t\tmenu.so\n\
             {mwi_module}{srtp_module}",
            mwi_module = if mwi { "module_app\t\tmwi.so\n" } else { "" },
            srtp_module = if mediaenc.is_some() {
                "module\t\t\tsrtp.so\n"
            } else {
                ""
            },
            source = source.display(),
            heard = heard.display(),
        );
        let (config, uri_params, outbound) = match tls_ca {
            Some(ca) => (
                format!("{config}sip_cafile\t\t{}\n", ca.display()),
                ";transport=tls",
                format!("sip:{server};transport=tls"),
            ),
            None => (config, "", format!("sip:{server}")),
        };
        std::fs::write(dir.path().join("config"), config).unwrap();
        let account = format!(
            "<sip:{user}@{DOMAIN}{uri_params}>;auth_pass={password};outbound=\"{outbound}\";\
             answermode=auto;audio_codecs=pcmu,pcma;regint=600;mwi={mwi}{mediaenc}\n",
            mwi = if mwi { "yes" } else { "no" },
            mediaenc = mediaenc
                .map(|m| format!(";mediaenc={m}"))
                .unwrap_or_default(),
        );
        std::fs::write(dir.path().join("accounts"), account).unwrap();

        let mut child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .arg("-s")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("baresip starts ({e}): {INSTALL_HINT}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        read_lines(user, stdout, tx.clone());
        read_lines(user, stderr, tx);
        Baresip {
            child,
            dir,
            lines,
            output: Vec::new(),
        }
    }

    /// Waits for a line containing every one of `parts`; panics with the output so far.
    pub fn wait_line(&mut self, parts: &[&str], within: Duration) -> String {
        let matches = |l: &str| parts.iter().all(|p| l.contains(p));
        if let Some(l) = self.output.iter().find(|l| matches(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.output.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "baresip: no line with {parts:?} within {within:?} ({e}); its output:\n{}",
                    self.output.join("\n")
                ),
            }
        }
    }

    /// The next line printed within `within`, kept in [`Baresip::output`] too.
    pub fn next_line(&mut self, within: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(within).ok()?;
        self.output.push(line.clone());
        Some(line)
    }

    /// Waits for the registration's 200 (baresip's own status line, not the SIP trace).
    pub fn wait_registered(&mut self, user: &str, within: Duration) {
        self.wait_line(&[&format!("{user}@{DOMAIN}: {{"), "200 OK"], within);
    }

    /// Waits for the process to end (reading the rest of its output).
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "baresip did not exit within {within:?}; its output:\n{}",
                self.output.join("\n")
            );
            while let Ok(line) = self.lines.try_recv() {
                self.output.push(line);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.output.push(line);
        }
        status
    }

    /// Asks baresip to quit (SIGTERM: it hangs up, unregisters and closes its recordings)
    /// and waits for it.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        assert!(sent.success());
        self.wait_exit(within)
    }

    /// The recording of what baresip heard in its one call (the `sndfile` filter's
    /// decoder-side dump).
    pub fn recording(&self) -> PathBuf {
        let found: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("heard"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one recording of one call: {found:?}; baresip's output:\n{}",
            self.output.join("\n")
        );
        found.into_iter().next().unwrap()
    }
}

/// Forwards the lines of one of baresip's pipes, without colour escapes, echoed to the
/// test's stderr (shown when a test fails).
fn read_lines(tag: &str, pipe: impl Read + Send + 'static, tx: mpsc::Sender<String>) {
    let tag = tag.to_owned();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = strip_escapes(&String::from_utf8_lossy(&raw));
            let line = line.trim_end();
            eprintln!("[baresip {tag}] {line}");
            if tx.send(line.to_owned()).is_err() {
                break;
            }
        }
    });
}

/// `text` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for e in chars.by_ref() {
                if e.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
