//! The NG server, sans-IO: [`handle`] takes a datagram and answers it from an [`Engine`].
//!
//! Commands: `ping` (→ `pong`), `offer`, `answer`, `delete`, `query`, `list`. Answers are
//! `result: ok` (with `sdp`, `warning` when an option was ignored), or `result: error` with
//! `error-reason`. `query` and `delete` answer rtpengine's shape: `created`, `last signal`,
//! `totals` (`RTP`/`RTCP` × `packets`/`bytes`/`errors`) and `tags`, a dictionary per party
//! with its `medias`, each with its `streams` (RTP then RTCP: `local port`, `endpoint`,
//! `advertised endpoint`, `last packet`, `stats`).

use std::net::SocketAddr;
use std::time::Instant;

use crate::bencode::Bencode;
use crate::engine::Engine;
use crate::error::RelayError;
use crate::ng::{command, frame, split, MAX_COOKIE};
use crate::stats::{CallStats, Counters, SideStats};

/// The clock of an NG answer: `now` for the engine, `unix_now` (seconds) to turn the
/// engine's instants into the Unix times rtpengine reports.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The monotonic time given to the engine.
    pub now: Instant,
    /// The wall-clock time at `now`, in Unix seconds.
    pub unix_now: u64,
}

impl Clock {
    fn unix(&self, at: Instant) -> i64 {
        let ago = self.now.saturating_duration_since(at).as_secs();
        self.unix_now.saturating_sub(ago) as i64
    }
}

/// Answers one NG datagram. `None` when there is no cookie to answer to (none, empty, or
/// longer than [`MAX_COOKIE`]).
pub fn handle(
    engine: &mut Engine,
    clock: Clock,
    datagram: &[u8],
    open: &mut dyn FnMut(u16) -> bool,
) -> Option<Vec<u8>> {
    let cookie_end = datagram.iter().position(|&b| b == b' ')?;
    let cookie = &datagram[..cookie_end];
    if cookie.is_empty() || cookie.len() > MAX_COOKIE {
        return None;
    }
    let body = match split(datagram) {
        Ok((_, body)) => execute(engine, clock, &body, open).unwrap_or_else(|e| error(&e)),
        Err(e) => error(&e),
    };
    Some(frame(cookie, &body))
}

/// The answer to an `result: error`.
fn error(e: &RelayError) -> Bencode {
    let mut d = Bencode::dict();
    d.insert("result", Bencode::str("error"))
        .insert("error-reason", Bencode::str(&e.to_string()));
    d
}

fn ok() -> Bencode {
    let mut d = Bencode::dict();
    d.insert("result", Bencode::str("ok"));
    d
}

fn execute(
    engine: &mut Engine,
    clock: Clock,
    body: &Bencode,
    open: &mut dyn FnMut(u16) -> bool,
) -> Result<Bencode, RelayError> {
    let command = body
        .get("command")
        .and_then(Bencode::as_str)
        .ok_or(RelayError::MissingKey("command"))?;
    let call_id = || {
        body.get("call-id")
            .and_then(Bencode::as_str)
            .ok_or(RelayError::MissingKey("call-id"))
    };
    match command {
        "ping" => {
            let mut d = Bencode::dict();
            d.insert("result", Bencode::str("pong"));
            Ok(d)
        }
        "offer" | "answer" => {
            let (request, mut warnings) = command::read_request(body)?;
            let rewritten = if command == "offer" {
                engine.offer(clock.now, &request, open)?
            } else {
                engine.answer(clock.now, &request, open)?
            };
            warnings.extend(rewritten.warnings);
            let mut d = ok();
            d.insert("sdp", Bencode::Bytes(rewritten.sdp));
            if !warnings.is_empty() {
                d.insert("warning", Bencode::str(&warnings.join("; ")));
            }
            Ok(d)
        }
        "delete" => {
            let stats = engine.delete(call_id()?)?;
            Ok(call_report(&stats, clock))
        }
        "query" => {
            let stats = engine.query(call_id()?)?;
            Ok(call_report(&stats, clock))
        }
        "list" => {
            let limit = body
                .get("limit")
                .and_then(Bencode::as_int)
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(usize::MAX);
            let mut ids = engine.list();
            ids.sort();
            let calls = ids.iter().take(limit).map(|id| Bencode::str(id)).collect();
            let mut d = ok();
            d.insert("calls", Bencode::List(calls));
            Ok(d)
        }
        other => Err(RelayError::UnknownCommand(other.to_owned())),
    }
}

/// rtpengine's query shape for `stats`.
pub fn call_report(stats: &CallStats, clock: Clock) -> Bencode {
    let mut d = ok();
    d.insert("created", Bencode::Int(clock.unix(stats.created)))
        .insert("last signal", Bencode::Int(clock.unix(stats.last_signal)));
    let (rtp, rtcp) = stats.totals();
    let mut totals = Bencode::dict();
    totals
        .insert("RTP", counters(&rtp))
        .insert("RTCP", counters(&rtcp));
    d.insert("totals", totals);
    let mut tags = Bencode::dict();
    for (i, party) in stats.parties.iter().enumerate() {
        let Some(tag) = &party.tag else { continue };
        let mut t = Bencode::dict();
        t.insert("tag", Bencode::str(tag))
            .insert("created", Bencode::Int(clock.unix(stats.created)));
        if let Some(other) = stats.parties.get(1 - i).and_then(|p| p.tag.as_ref()) {
            t.insert("in dialogue with", Bencode::str(other));
        }
        let medias = party.streams.iter().map(|s| media(s, clock)).collect();
        t.insert("medias", Bencode::List(medias));
        tags.insert(tag, t);
    }
    d.insert("tags", tags);
    d
}

fn media(side: &SideStats, clock: Clock) -> Bencode {
    let mut m = Bencode::dict();
    m.insert("index", Bencode::Int(side.media_index as i64 + 1))
        .insert("type", Bencode::str(&side.media_type))
        .insert("protocol", Bencode::str(&side.protocol))
        .insert("lost", Bencode::Int(side.lost as i64));
    let rtcp_announced = side
        .announced
        .map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1)));
    let streams = [
        (side.local_port, side.latched[0], side.announced, &side.rtp),
        (
            side.local_port + 1,
            side.latched[1],
            rtcp_announced,
            &side.rtcp,
        ),
    ]
    .into_iter()
    .map(|(port, latched, announced, c)| {
        let mut s = Bencode::dict();
        s.insert("local port", Bencode::Int(i64::from(port)))
            .insert("stats", counters(c));
        if let Some(a) = latched.or(announced) {
            s.insert("endpoint", endpoint(a));
        }
        if let Some(a) = announced {
            s.insert("advertised endpoint", endpoint(a));
        }
        if let Some(t) = c.last_packet {
            s.insert("last packet", Bencode::Int(clock.unix(t)));
        }
        s
    })
    .collect();
    m.insert("streams", Bencode::List(streams));
    m
}

fn endpoint(a: SocketAddr) -> Bencode {
    let mut e = Bencode::dict();
    e.insert(
        "family",
        Bencode::str(if a.is_ipv4() { "IPv4" } else { "IPv6" }),
    )
    .insert("address", Bencode::str(&a.ip().to_string()))
    .insert("port", Bencode::Int(i64::from(a.port())));
    e
}

fn counters(c: &Counters) -> Bencode {
    let mut d = Bencode::dict();
    d.insert("packets", Bencode::Int(c.packets as i64))
        .insert("bytes", Bencode::Int(c.bytes as i64))
        .insert("errors", Bencode::Int(c.errors as i64));
    d
}
