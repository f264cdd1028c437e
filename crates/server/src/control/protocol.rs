//! What goes over the control socket: one JSON object per line each way. A client sends
//! one [`Request`]; the server answers with [`Answer`] lines (for a trace: a line per
//! message, then `end`; with `follow`, messages until the client hangs up). Made to grow:
//! a new command is a new [`Request`] variant with its own answers.
//!
//! ```text
//! → {"command":"trace","filter":{"call_id":"a84b4c76e66710"},"follow":false}
//! ← {"kind":"message","seq":7,"time":"2024-05-01T10:00:00.123Z","unix_ms":1714557600123,
//!    "direction":"in","protocol":"udp","local":"192.0.2.1:5060","remote":"198.51.100.7:5060",
//!    "text":"INVITE sip:bob@example.com SIP/2.0\r\n..."}
//! ← {"kind":"end","last_seq":9}
//! → {"command":"hang_up","call_id":"a84b4c76e66710"}
//! ← {"kind":"hung_up","call_id":"a84b4c76e66710"}
//! → {"command":"conference","action":{"action":"mute","room":"sales","domain":"example.com","participant":3,"muted":true}}
//! ← {"kind":"conference_done","message":"participant 3 of sales@example.com muted"}
//! → {"command":"status"}
//! ← {"kind":"status","version":"0.1.0","node":"sip1","started":"2024-05-01T09:00:00.000Z",
//!    "uptime_secs":3600,"listeners":["udp:0.0.0.0:5060"],"domains":1,"registered_aors":2,...}
//! ```

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::capture::{Captured, Direction, Filter};

/// A request of a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Request {
    /// The captured messages that pass `filter`, oldest first; with `follow`, then each
    /// new one as it is captured, until the client closes the connection.
    Trace {
        /// Which messages.
        #[serde(default)]
        filter: Filter,
        /// Keep sending new messages.
        #[serde(default)]
        follow: bool,
    },
    /// What the server is doing now: one [`Answer::Status`] line (`itsp status`).
    Status,
    /// End an answered call: the server sends BYE to both parties (`itsp hangup`); one
    /// [`Answer::HungUp`] line, or an error when this server has no such call.
    HangUp {
        /// The call's Call-ID.
        call_id: String,
    },
    /// The media services' conference rooms: who is in which (`itsp conf list`), or a
    /// participant removed or muted (`itsp conf kick|mute`); one [`Answer::Rooms`] or
    /// [`Answer::ConferenceDone`] line, or an error.
    Conference {
        /// What to do.
        action: ConferenceAction,
    },
    /// The registrations of an address-of-record changed in the store (`itsp ul rm`):
    /// the server reads them again; one [`Answer::Reloading`] line.
    BindingsChanged {
        /// The address-of-record (`user@domain`).
        aor: String,
    },
    /// A subscriber was disabled in the store (`itsp user disable`): the server forgets
    /// its cached credentials at once; one [`Answer::CredentialsForgotten`] line.
    SubscriberDisabled {
        /// The subscriber (`user@domain`).
        aor: String,
    },
}

/// One line of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Answer {
    /// A captured message.
    Message(TraceRecord),
    /// Messages were dropped from the ring before they could be sent (a follow that fell
    /// behind).
    Missed {
        /// How many.
        count: u64,
    },
    /// The trace is complete: the messages up to this sequence number were looked at.
    End {
        /// The newest message's sequence number.
        last_seq: u64,
    },
    /// The server's state, the answer to [`Request::Status`].
    Status(Status),
    /// The bindings are being read again, the answer to [`Request::BindingsChanged`].
    Reloading {
        /// The address-of-record.
        aor: String,
    },
    /// The cached credentials are forgotten, the answer to
    /// [`Request::SubscriberDisabled`].
    CredentialsForgotten {
        /// The subscriber.
        aor: String,
    },
    /// The call was ended (BYE sent to both parties), the answer to [`Request::HangUp`].
    HungUp {
        /// Its Call-ID.
        call_id: String,
    },
    /// The conference rooms in use, the answer to a [`ConferenceAction::List`].
    Rooms {
        /// By domain and name.
        rooms: Vec<LiveRoom>,
    },
    /// A [`ConferenceAction::Kick`] or [`ConferenceAction::Mute`] was carried out.
    ConferenceDone {
        /// What was done, for a person.
        message: String,
    },
    /// The request failed.
    Error {
        /// Why, for a person.
        error: String,
    },
}

/// What `itsp conf` asks of the rooms in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConferenceAction {
    /// Who is in which room.
    List,
    /// End a participant's call (a BYE).
    Kick {
        /// The room's name.
        room: String,
        /// Its domain.
        domain: String,
        /// The participant, as listed.
        participant: u64,
    },
    /// Mute a participant (the others stop hearing it), or unmute it.
    Mute {
        /// The room's name.
        room: String,
        /// Its domain.
        domain: String,
        /// The participant, as listed.
        participant: u64,
        /// Mute (`false`: unmute).
        muted: bool,
    },
}

/// A conference room in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveRoom {
    /// Its name.
    pub room: String,
    /// Its domain.
    pub domain: String,
    /// Who is in it, in the order they joined.
    pub participants: Vec<LiveParticipant>,
}

/// A participant of a conference room in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveParticipant {
    /// What `kick` and `mute` name.
    pub participant: u64,
    /// Who called (the From URI).
    pub caller: String,
    /// Whether the others do not hear it.
    pub muted: bool,
    /// Seconds in the room.
    pub in_room_secs: u64,
}

/// A running server's state, read when asked (`itsp status`). Counts are of this
/// node's memory: the registrations it holds, its transactions and calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The server's version (`itsp --version`).
    pub version: String,
    /// The node's name (the host name; call records carry it).
    pub node: String,
    /// When the server started, RFC 3339 (UTC, milliseconds).
    pub started: String,
    /// Seconds since the start.
    pub uptime_secs: u64,
    /// The SIP sockets, `udp:ADDR:PORT` / `tcp:ADDR:PORT`.
    pub listeners: Vec<String>,
    /// Domains served.
    pub domains: usize,
    /// Addresses-of-record with at least one binding.
    pub registered_aors: usize,
    /// Bindings (contacts) in all, expired ones not yet purged included.
    pub registered_contacts: usize,
    /// Live SIP transactions (client and server).
    pub transactions: usize,
    /// Requests being proxied (response contexts).
    pub proxied: usize,
    /// Requests waiting for the store, DNS or the relay.
    pub waiting_for_io: usize,
    /// Calls in progress (record-routed INVITE dialogs).
    pub live_calls: usize,
    /// The RTP relay: `in-process`, `nodes` (NG) or `off`.
    pub relay: String,
    /// Sessions of the in-process relay; `None` when the relay is elsewhere or off.
    pub relay_sessions: Option<usize>,
    /// The store's backend: `sqlite` or `postgres`.
    pub store: String,
    /// Whether the SIP capture (`itsp trace`) is on.
    pub capture: bool,
    /// Bindings queued for the location writer and not committed yet (absent from an
    /// older server's answer: 0).
    #[serde(default)]
    pub queued_bindings: u64,
    /// Call records and ledger entries queued for the calls writer and not committed yet.
    #[serde(default)]
    pub queued_call_records: u64,
}

/// A captured message on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Its sequence number in the capture.
    pub seq: u64,
    /// When, RFC 3339 (UTC, milliseconds).
    pub time: String,
    /// When, Unix milliseconds.
    pub unix_ms: u64,
    /// `in` (received) or `out` (sent).
    pub direction: String,
    /// `udp` or `tcp`.
    pub protocol: String,
    /// Our address, when known.
    pub local: Option<SocketAddr>,
    /// The peer's address.
    pub remote: SocketAddr,
    /// The message as text (invalid UTF-8 replaced: see `hex`).
    pub text: String,
    /// The exact bytes in hexadecimal, only when they are not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
}

impl TraceRecord {
    /// The record of a captured message.
    pub fn new(seq: u64, message: &Captured) -> TraceRecord {
        let (text, hex) = match std::str::from_utf8(&message.bytes) {
            Ok(text) => (text.to_owned(), None),
            Err(_) => (
                String::from_utf8_lossy(&message.bytes).into_owned(),
                Some(message.bytes.iter().map(|b| format!("{b:02x}")).collect()),
            ),
        };
        TraceRecord {
            seq,
            time: crate::capture::time::rfc3339_ms(message.unix_ms),
            unix_ms: message.unix_ms,
            direction: match message.direction {
                Direction::In => "in",
                Direction::Out => "out",
            }
            .into(),
            protocol: message.protocol.to_string(),
            local: message.local,
            remote: message.remote,
            text,
            hex,
        }
    }

    /// The captured message back (for a pcap file), or what is wrong with the record.
    pub fn captured(&self) -> Result<Captured, String> {
        let direction = match self.direction.as_str() {
            "in" => Direction::In,
            "out" => Direction::Out,
            other => return Err(format!("unknown direction {other:?}")),
        };
        let protocol = self.protocol.parse()?;
        let bytes = match &self.hex {
            None => bytes::Bytes::copy_from_slice(self.text.as_bytes()),
            Some(hex) => {
                bytes::Bytes::from(from_hex(hex).ok_or("the hex bytes are not hexadecimal")?)
            }
        };
        Ok(Captured {
            unix_ms: self.unix_ms,
            direction,
            protocol,
            local: self.local,
            remote: self.remote,
            bytes,
        })
    }
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn requests_and_answers_as_json_lines() {
        let request: Request =
            serde_json::from_str(r#"{"command":"trace","filter":{"call_id":"x"},"follow":true}"#)
                .unwrap();
        assert_eq!(
            request,
            Request::Trace {
                filter: Filter {
                    call_id: Some("x".into()),
                    ..Filter::default()
                },
                follow: true
            }
        );
        let bare: Request = serde_json::from_str(r#"{"command":"trace"}"#).unwrap();
        assert_eq!(
            bare,
            Request::Trace {
                filter: Filter::default(),
                follow: false
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"command":"reboot"}"#).is_err());
        assert_eq!(
            serde_json::to_string(&Answer::End { last_seq: 9 }).unwrap(),
            r#"{"kind":"end","last_seq":9}"#
        );
    }

    #[test]
    fn records_keep_the_bytes_exactly() {
        for bytes in [
            &b"OPTIONS sip:a SIP/2.0\r\n\r\n"[..],
            &[b'S', 0xff, 0x00, b'\n'],
        ] {
            let message = Captured {
                unix_ms: 1_709_251_199_007,
                direction: Direction::Out,
                protocol: transport::Protocol::Tcp,
                local: Some("127.0.0.1:5060".parse().unwrap()),
                remote: "[::1]:5062".parse().unwrap(),
                bytes: bytes::Bytes::copy_from_slice(bytes),
            };
            let record = TraceRecord::new(3, &message);
            assert_eq!(record.time, "2024-02-29T23:59:59.007Z");
            let line = serde_json::to_string(&Answer::Message(record)).unwrap();
            let Answer::Message(back) = serde_json::from_str(&line).unwrap() else {
                panic!("{line}");
            };
            assert_eq!(back.captured().unwrap(), message);
        }
    }
}
