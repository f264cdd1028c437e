//! `itsp trace`: the SIP messages a running `itsp serve` captured, asked over its control
//! socket (`server::control`), printed in full with a call-flow ladder, as JSON, or
//! written to a pcap file.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | `mod.rs` | the command line, the exchange with the server, the text and JSON output |
//! | `ladder` | the ASCII call-flow ladder (sngrep's) |

mod ladder;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use server::capture::{pcap, Filter};
use server::control::protocol::{Answer, Request, TraceRecord};

/// Examples shown by `itsp trace --help`.
pub(crate) const EXAMPLES: &str = "\
Examples:
  itsp trace                                   # every captured message, then the ladder
  itsp trace --call-id a84b4c76e66710@pc33     # one call: its messages and its ladder
  itsp trace --user alice --method INVITE      # alice's INVITEs and their responses
  itsp trace --follow --user alice             # new messages as they come, until Ctrl-C
  itsp trace --call-id a84b4c76e66710@pc33 --pcap call.pcap && tshark -r call.pcap -Y sip
  itsp trace --json | jq -r '.[] | .time + \" \" + .direction'
  itsp trace --data-dir /var/lib/itsp          # the server whose data is there";

/// Options of `itsp trace`.
#[derive(Debug, Args)]
pub(crate) struct TraceArgs {
    /// Only the messages of this Call-ID (compared exactly).
    #[arg(long, value_name = "ID")]
    call_id: Option<String>,
    /// Only messages naming this user in From, To or the Request-URI: `alice` (any
    /// domain) or `alice@example.com`.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Only messages whose CSeq method is this (`INVITE` also selects its responses).
    #[arg(long, value_name = "METHOD")]
    method: Option<String>,
    /// Keep printing new messages as they are captured, until Ctrl-C (no ladder).
    #[arg(long)]
    follow: bool,
    /// Print JSON: an array of messages (with --follow: one object per line), times in
    /// RFC 3339; errors as {"error": ...}.
    #[arg(long)]
    json: bool,
    /// Write the messages to this pcap file (Wireshark, tshark, sngrep -I) instead of
    /// printing them.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    #[command(flatten)]
    control: crate::control_client::ControlArgs,
}

/// Why the trace failed: a message and the exit status.
struct Failure {
    code: u8,
    message: String,
}

/// Runs `itsp trace`.
pub(crate) fn run(args: TraceArgs) -> anyhow::Result<ExitCode> {
    let json = args.json;
    let mut stdout = std::io::stdout().lock();
    match trace(&args, &mut stdout) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // `itsp trace | head`: the reader has what it wanted.
        Err(f) if f.code == 0 => Ok(ExitCode::SUCCESS),
        Err(f) => {
            if json {
                let _ = writeln!(stdout, "{}", serde_json::json!({ "error": f.message }));
            } else {
                let _ = writeln!(std::io::stderr(), "itsp: {}", f.message);
            }
            Ok(ExitCode::from(f.code))
        }
    }
}

/// Asks the server and writes what it answers.
fn trace(args: &TraceArgs, out: &mut impl Write) -> Result<(), Failure> {
    let path = args.control.path();
    let stream = connect(&path)?;
    let request = Request::Trace {
        filter: Filter {
            call_id: args.call_id.clone(),
            user: args.user.clone(),
            method: args.method.clone(),
        },
        follow: args.follow,
    };
    let mut line = serde_json::to_string(&request).map_err(|e| failure(2, e.to_string()))?;
    line.push('\n');
    (&stream).write_all(line.as_bytes()).map_err(|e| {
        failure(
            2,
            format!("cannot talk to itsp serve at {}: {e}", path.display()),
        )
    })?;

    let mut sink = Sink::new(args, out)?;
    let mut ended = false;
    for line in BufReader::new(&stream).lines() {
        let line = line.map_err(|e| failure(2, format!("reading from itsp serve: {e}")))?;
        let answer: Answer = serde_json::from_str(&line)
            .map_err(|e| failure(2, format!("itsp serve answered something unexpected ({e})")))?;
        match answer {
            Answer::Message(record) => sink.message(record)?,
            Answer::Missed { count } => sink.missed(count)?,
            Answer::End { .. } => {
                ended = true;
                break;
            }
            Answer::Error { error } => return Err(failure(1, error)),
            _ => {}
        }
    }
    if !ended && !args.follow {
        return Err(failure(
            2,
            "itsp serve closed the connection before the end of the trace".into(),
        ));
    }
    if !ended {
        let _ = writeln!(std::io::stderr(), "itsp: the server stopped");
    }
    sink.finish()
}

/// Connects to the control socket, or says plainly why not.
fn connect(path: &Path) -> Result<UnixStream, Failure> {
    crate::control_client::connect(path, || {
        format!(
            "no itsp serve listening on {}: start it, or pass --data-dir (or --socket)",
            path.display()
        )
    })
    .map_err(|message| failure(2, message))
}

fn failure(code: u8, message: String) -> Failure {
    Failure { code, message }
}

/// A write to standard output failed: a closed pipe ends the trace quietly (status 0).
fn output_failed(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return failure(0, String::new());
    }
    failure(2, format!("cannot write to standard output: {e}"))
}

/// Where the messages go.
struct Sink<'a, W: Write> {
    out: &'a mut W,
    json: bool,
    follow: bool,
    /// The pcap file and its encoder, for --pcap.
    pcap: Option<(std::io::BufWriter<std::fs::File>, pcap::Encoder, PathBuf)>,
    /// The messages kept for the end (not with --follow).
    kept: Vec<TraceRecord>,
    written: usize,
}

impl<'a, W: Write> Sink<'a, W> {
    fn new(args: &TraceArgs, out: &'a mut W) -> Result<Sink<'a, W>, Failure> {
        let pcap = match &args.pcap {
            None => None,
            Some(path) => {
                let file = std::fs::File::create(path)
                    .map_err(|e| failure(1, format!("cannot create {}: {e}", path.display())))?;
                let mut file = std::io::BufWriter::new(file);
                file.write_all(&pcap::file_header())
                    .map_err(|e| failure(2, format!("cannot write {}: {e}", path.display())))?;
                Some((file, pcap::Encoder::new(), path.clone()))
            }
        };
        Ok(Sink {
            out,
            json: args.json,
            follow: args.follow,
            pcap,
            kept: Vec::new(),
            written: 0,
        })
    }

    fn message(&mut self, record: TraceRecord) -> Result<(), Failure> {
        self.written += 1;
        if let Some((file, encoder, path)) = &mut self.pcap {
            let message = record.captured().map_err(|e| {
                failure(
                    2,
                    format!("itsp serve sent a message that cannot be written: {e}"),
                )
            })?;
            let write_failed =
                |e: std::io::Error| failure(2, format!("cannot write {}: {e}", path.display()));
            file.write_all(&encoder.record(&message))
                .map_err(write_failed)?;
            if self.follow {
                // Ctrl-C ends a follow: what was captured is on disk already.
                file.flush().map_err(write_failed)?;
            }
            return Ok(());
        }
        if !self.follow {
            self.kept.push(record);
            return Ok(());
        }
        if self.json {
            let line = serde_json::to_string(&record).map_err(|e| failure(2, e.to_string()))?;
            writeln!(self.out, "{line}").map_err(output_failed)?;
        } else {
            write!(self.out, "{}", message_text(&record)).map_err(output_failed)?;
        }
        self.out.flush().map_err(output_failed)
    }

    fn missed(&mut self, count: u64) -> Result<(), Failure> {
        if self.json {
            writeln!(self.out, "{}", serde_json::json!({ "missed": count })).map_err(output_failed)
        } else {
            writeln!(
                self.out,
                "({count} messages were dropped from the capture before they could be shown)\n"
            )
            .map_err(output_failed)
        }
    }

    fn finish(mut self) -> Result<(), Failure> {
        if let Some((mut file, _, path)) = self.pcap.take() {
            file.flush()
                .map_err(|e| failure(2, format!("cannot write {}: {e}", path.display())))?;
            let shown = path.display().to_string();
            let n = self.written;
            return if self.json {
                writeln!(
                    self.out,
                    "{}",
                    serde_json::json!({ "ok": true, "pcap": shown, "messages": n })
                )
            } else {
                writeln!(self.out, "{n} messages written to {shown}")
            }
            .map_err(output_failed);
        }
        if self.follow {
            return Ok(());
        }
        if self.json {
            let all = serde_json::to_string(&self.kept).map_err(|e| failure(2, e.to_string()))?;
            return writeln!(self.out, "{all}").map_err(output_failed);
        }
        if self.kept.is_empty() {
            return writeln!(self.out, "no captured message matches").map_err(output_failed);
        }
        for record in &self.kept {
            write!(self.out, "{}", message_text(record)).map_err(output_failed)?;
        }
        let arrows: Vec<ladder::Arrow> = self.kept.iter().filter_map(arrow).collect();
        write!(self.out, "{}", ladder::render(&arrows)).map_err(output_failed)
    }
}

/// A message for people: a line with its time, direction and addresses, then its text
/// (control characters escaped: a message may carry terminal escapes), then a blank line.
fn message_text(record: &TraceRecord) -> String {
    let Ok(message) = record.captured() else {
        return format!("{} (unreadable record)\n\n", record.time);
    };
    let (source, dest) = message.endpoints();
    let way = if record.direction == "in" {
        "received"
    } else {
        "sent"
    };
    let mut text = format!(
        "{} {way} {} {source} -> {dest} ({} bytes)\n",
        record.time,
        record.protocol.to_uppercase(),
        message.bytes.len()
    );
    let body = record.text.replace("\r\n", "\n");
    for c in body.trim_end_matches('\n').chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            text.extend(c.escape_default());
        } else {
            text.push(c);
        }
    }
    text.push_str("\n\n");
    text
}

/// The ladder arrow of a message: its time of day, addresses and label.
fn arrow(record: &TraceRecord) -> Option<ladder::Arrow> {
    let message = record.captured().ok()?;
    let (source, dest) = message.endpoints();
    let label = match sip::Message::parse(message.bytes.clone()) {
        Ok(m) => match m.status() {
            Some(code) => format!("{code} {}", m.reason().unwrap_or(""))
                .trim_end()
                .to_owned(),
            None => {
                let method = m.method().map_or("?", |x| x.as_str()).to_owned();
                if m.has_sdp() {
                    format!("{method} (SDP)")
                } else {
                    method
                }
            }
        },
        Err(_)
            if message
                .bytes
                .iter()
                .all(|b| b.is_ascii_whitespace() || *b == 0) =>
        {
            "keepalive".into()
        }
        Err(_) => "(malformed)".into(),
    };
    Some(ladder::Arrow {
        time: record.time.get(11..23).unwrap_or(&record.time).to_owned(),
        from: source.to_string(),
        to: dest.to_string(),
        label,
    })
}
