//! The client half of NG, sans-IO: the commands sent to a remote relay node (an `itsp
//! relay` or a real rtpengine) and the reading of its answers.

use std::net::SocketAddr;

use crate::bencode::Bencode;
use crate::error::RelayError;
use crate::ng::split;
use crate::request::Rewritten;
use crate::stats::{CallCounters, PartyCounters, Totals};

/// A command without arguments but the call: `delete`, `query` (and `ping` with no call).
pub fn simple(command: &str, call_id: Option<&str>, from_tag: Option<&str>) -> Bencode {
    let mut d = Bencode::dict();
    d.insert("command", Bencode::str(command));
    if let Some(id) = call_id {
        d.insert("call-id", Bencode::str(id));
    }
    if let Some(tag) = from_tag {
        d.insert("from-tag", Bencode::str(tag));
    }
    d
}

/// Checks an answer: the cookie must be `cookie`; `result: error` becomes
/// [`RelayError::Refused`]. Answers the dictionary.
pub fn read_reply(datagram: &[u8], cookie: &[u8], node: SocketAddr) -> Result<Bencode, RelayError> {
    let (got, body) = split(datagram)?;
    if got != cookie {
        return Err(RelayError::MalformedMessage("answer to another cookie"));
    }
    match body.get("result").and_then(Bencode::as_str) {
        Some("error") => Err(RelayError::Refused {
            node,
            reason: body
                .get("error-reason")
                .and_then(Bencode::as_str)
                .unwrap_or("no reason given")
                .to_owned(),
        }),
        Some(_) => Ok(body),
        None => Err(RelayError::MissingKey("result")),
    }
}

/// The SDP (and warning) of an offer or answer reply.
pub fn read_rewritten(reply: &Bencode) -> Result<Rewritten, RelayError> {
    let sdp = reply
        .get("sdp")
        .and_then(Bencode::as_bytes)
        .ok_or(RelayError::MissingKey("sdp"))?
        .to_vec();
    let warnings = reply
        .get("warning")
        .and_then(Bencode::as_str)
        .map(|w| vec![w.to_owned()])
        .unwrap_or_default();
    Ok(Rewritten { sdp, warnings })
}

/// The counters of a `query` or `delete` answer (rtpengine's shape; missing parts are 0).
pub fn read_counters(reply: &Bencode) -> CallCounters {
    let totals = reply.get("totals");
    let mut counters = CallCounters {
        rtp: totals
            .and_then(|t| t.get("RTP"))
            .map(totals_of)
            .unwrap_or_default(),
        rtcp: totals
            .and_then(|t| t.get("RTCP"))
            .map(totals_of)
            .unwrap_or_default(),
        parties: Vec::new(),
    };
    let Some(tags) = reply.get("tags").and_then(Bencode::as_dict) else {
        return counters;
    };
    for (tag, party) in tags {
        let mut p = PartyCounters {
            tag: String::from_utf8_lossy(tag).into_owned(),
            ..PartyCounters::default()
        };
        let medias = party
            .get("medias")
            .and_then(Bencode::as_list)
            .unwrap_or(&[]);
        for media in medias {
            p.lost += media
                .get("lost")
                .and_then(Bencode::as_int)
                .and_then(|l| u64::try_from(l).ok())
                .unwrap_or(0);
            let streams = media
                .get("streams")
                .and_then(Bencode::as_list)
                .unwrap_or(&[]);
            for (i, stream) in streams.iter().enumerate() {
                let Some(t) = stream.get("stats").map(totals_of) else {
                    continue;
                };
                let target = if i % 2 == 0 { &mut p.rtp } else { &mut p.rtcp };
                target.packets += t.packets;
                target.bytes += t.bytes;
                target.errors += t.errors;
            }
        }
        counters.parties.push(p);
    }
    counters
}

fn totals_of(d: &Bencode) -> Totals {
    let n = |k| {
        d.get(k)
            .and_then(Bencode::as_int)
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0)
    };
    Totals {
        packets: n("packets"),
        bytes: n("bytes"),
        errors: n("errors"),
    }
}
