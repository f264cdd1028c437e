//! `itsp phone` as a child process: its `--json` event lines read on a thread, its stdin
//! open for the commands a person would type during a call.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::DOMAIN;

/// A running `itsp phone`.
pub struct Softphone {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<serde_json::Value>,
    /// Every event read so far.
    pub events: Vec<serde_json::Value>,
}

impl Drop for Softphone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Softphone {
    /// Starts `itsp phone --json --user USER --password PASSWORD --server SERVER --domain
    /// DOMAIN ARGS...`.
    pub fn start(server: SocketAddr, user: &str, password: &str, args: &[&str]) -> Softphone {
        let server = server.to_string();
        let mut all = vec![
            "phone",
            "--json",
            "--user",
            user,
            "--password",
            password,
            "--server",
            &server,
            "--domain",
            DOMAIN,
        ];
        all.extend_from_slice(args);
        Softphone::start_raw(user, &all)
    }

    /// Starts `itsp` with exactly these arguments.
    pub fn start_raw(name: &str, args: &[&str]) -> Softphone {
        Softphone::start_with(Command::new(env!("CARGO_BIN_EXE_itsp")), name, args)
    }

    /// Starts `cmd` (the binary, e.g. run in a network namespace of the NAT lab:
    /// `host.command(env!("CARGO_BIN_EXE_itsp"))`) with exactly these arguments.
    pub fn start_with(mut cmd: Command, name: &str, args: &[&str]) -> Softphone {
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("itsp phone starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        let tag = name.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{tag}] {line}");
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(v) => {
                        let _ = tx.send(v);
                    }
                    Err(_) => eprintln!("[{tag}] (not JSON) {line}"),
                }
            }
        });
        Softphone {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            events: Vec::new(),
        }
    }

    /// Waits for the event `name`; panics with what came instead.
    pub fn wait_event(&mut self, name: &str, within: Duration) -> serde_json::Value {
        self.wait_any(&[name], within)
    }

    /// Waits for the first of the events `names`; panics with what came instead.
    pub fn wait_any(&mut self, names: &[&str], within: Duration) -> serde_json::Value {
        let is_one = |v: &serde_json::Value| names.iter().any(|n| v["event"] == *n);
        if let Some(v) = self.events.iter().find(|v| is_one(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.events.push(v.clone());
                    if is_one(&v) {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "{}: no {names:?} event within {within:?}; got {:?}",
                    self.name, self.events
                ),
            }
        }
    }

    /// Types a line at the phone's prompt.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for the phone to exit, then reads the rest of its events.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                panic!("{}: did not exit; events {:?}", self.name, self.events);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(v) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.events.push(v);
        }
        status
    }

    /// Reads the events that come within `within` (none is fine), to look at with
    /// [`Softphone::all`].
    pub fn listen_for(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while let Ok(v) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.events.push(v);
        }
    }

    /// Every event named `name` so far.
    pub fn all(&self, name: &str) -> Vec<serde_json::Value> {
        self.events
            .iter()
            .filter(|v| v["event"] == name)
            .cloned()
            .collect()
    }
}

/// The strength of `hz` in a recording, relative to its whole energy (0..1): Goertzel's
/// amplitude of the tone against the recording's rms, skipping the first half second (call
/// set-up, jitter buffer priming). Panics when the file is no 8 kHz WAV, is shorter than
/// 1.5 s or is silent.
pub fn tone_share(path: &Path, hz: f64) -> f64 {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("reading the recording {}: {e}", path.display()));
    let wav = rtp::audio::wav::parse(&bytes)
        .unwrap_or_else(|e| panic!("{} is no WAV file: {e}", path.display()));
    assert_eq!(wav.sample_rate, 8000, "{}", path.display());
    let samples = &wav.samples[wav.samples.len().min(4000)..];
    assert!(
        samples.len() > 8000,
        "{}: {} s recorded",
        path.display(),
        samples.len() as f64 / 8000.0
    );
    let rms = rtp::audio::goertzel::rms(samples);
    assert!(rms > 100.0, "{} is silent (rms {rms})", path.display());
    let amplitude = rtp::audio::goertzel::tone_amplitude(samples, hz, 8000);
    // A pure sine of amplitude A has rms A/sqrt(2).
    (amplitude / std::f64::consts::SQRT_2 / rms).min(1.0)
}

/// Like [`tone_share`], but in half-second windows: the median share over the windows that
/// are not silent. For a call with a gap (a NAT that changed its mapping): the silence and
/// the phase jump of the tone across the gap do not count, the audio on either side of it
/// does. Panics when fewer than four windows have sound.
pub fn tone_share_in_windows(path: &Path, hz: f64) -> f64 {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("reading the recording {}: {e}", path.display()));
    let wav = rtp::audio::wav::parse(&bytes)
        .unwrap_or_else(|e| panic!("{} is no WAV file: {e}", path.display()));
    assert_eq!(wav.sample_rate, 8000, "{}", path.display());
    let samples = &wav.samples[wav.samples.len().min(4000)..];
    let mut shares: Vec<f64> = samples
        .chunks_exact(4000)
        .filter_map(|w| {
            let rms = rtp::audio::goertzel::rms(w);
            (rms > 100.0).then(|| {
                let amplitude = rtp::audio::goertzel::tone_amplitude(w, hz, 8000);
                (amplitude / std::f64::consts::SQRT_2 / rms).min(1.0)
            })
        })
        .collect();
    assert!(
        shares.len() >= 4,
        "{}: {} half-seconds with sound",
        path.display(),
        shares.len()
    );
    shares.sort_by(f64::total_cmp);
    shares[shares.len() / 2]
}

/// One side of a [`tone_call`]: the phone after the call, its recording, and the tone the
/// other side sent.
pub struct CallSide {
    pub phone: Softphone,
    pub recording: std::path::PathBuf,
    pub hears: f64,
}

/// The call most media tests make: alice answers one call sending 1000 Hz, bob calls her
/// sending 440 Hz, both record what they hear into `dir`. `start(user, args)` starts a phone
/// (on loopback, or on a host of the NAT lab); `extra` goes to both. Bob hangs up after
/// `seconds`, or, with `None`, when `during` types `hangup`; `during` runs while the call is
/// up, given (alice, bob). Both phones must end well. Returns [alice, bob].
pub fn tone_call(
    start: impl Fn(&str, &[&str]) -> Softphone,
    dir: &Path,
    extra: &[&str],
    seconds: Option<u32>,
    during: impl FnOnce(&mut Softphone, &mut Softphone),
) -> [CallSide; 2] {
    const WAIT: Duration = Duration::from_secs(25);
    let alice_wav = dir.join("alice-heard.wav");
    let bob_wav = dir.join("bob-heard.wav");
    let mut args = vec!["--tone", "1000", "--record", alice_wav.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(["--calls", "1", "answer"]);
    let mut alice = start("alice", &args);
    alice.wait_event("waiting", WAIT);
    let duration = seconds.map(|s| s.to_string());
    let mut args = vec!["--tone", "440", "--record", bob_wav.to_str().unwrap()];
    if let Some(d) = &duration {
        args.extend(["--duration", d]);
    }
    args.extend_from_slice(extra);
    args.extend(["call", "alice"]);
    let mut bob = start("bob", &args);
    bob.wait_event("answered", WAIT);
    during(&mut alice, &mut bob);
    assert!(bob.wait_exit(WAIT).success(), "bob's call succeeded");
    assert!(alice.wait_exit(WAIT).success(), "alice's call succeeded");
    [
        CallSide {
            phone: alice,
            recording: alice_wav,
            hears: 440.0,
        },
        CallSide {
            phone: bob,
            recording: bob_wav,
            hears: 1000.0,
        },
    ]
}

/// Both sides of a [`tone_call`] received at least `min_received` packets and heard the
/// other's tone.
pub fn assert_two_way_audio(sides: &[CallSide; 2], min_received: u64) {
    for side in sides {
        let report = &side.phone.all("report")[0];
        let received = report["packets_received"].as_u64().unwrap();
        assert!(
            received >= min_received,
            "{} received {received} packets: {report}",
            side.phone.name
        );
        let share = tone_share(&side.recording, side.hears);
        assert!(
            share > 0.7,
            "{}: {} Hz is {share:.2} of what was heard",
            side.phone.name,
            side.hears
        );
    }
}
