//! Editing a received message for forwarding (RFC 3261 §16.6 request forwarding, §16.7
//! response processing): push and pop Via, add Record-Route, pop Route, set the
//! Request-URI, decrement Max-Forwards, add/replace/remove any header, replace the body.
//!
//! An [`Editor`] records the edits as a list of header slots over the original message;
//! [`Editor::to_bytes`] then writes every untouched line exactly as it came (compact names,
//! folding and all) and only the edited lines anew, with Content-Length kept right.

use bytes::{BufMut, Bytes, BytesMut};

use crate::build::{check_header, IntoHeaderName, Writer};
use crate::error::ParseError;
use crate::header_name::HeaderName;
use crate::message::Message;
use crate::text::split_top_level;
use crate::uri::Uri;

#[derive(Debug, Clone)]
enum Slot {
    /// An original header line, copied as it came.
    Keep(usize),
    /// A line written anew (a new header, or an original one with a new value).
    Write { name: String, value: String },
}

/// Pending edits of a message. See the module docs.
#[derive(Debug, Clone)]
pub struct Editor<'m> {
    msg: &'m Message,
    start_line: Option<String>,
    slots: Vec<Slot>,
    body: Option<(Option<String>, Bytes)>,
}

impl Message {
    /// Starts editing a copy of this message; the message itself is not changed.
    pub fn edit(&self) -> Editor<'_> {
        Editor {
            msg: self,
            start_line: None,
            slots: (0..self.headers.len()).map(Slot::Keep).collect(),
            body: None,
        }
    }
}

impl<'m> Editor<'m> {
    fn slot_name(&self, slot: &Slot) -> HeaderName {
        match slot {
            Slot::Keep(i) => self.msg.headers[*i].name,
            Slot::Write { name, .. } => HeaderName::from_name(name),
        }
    }

    fn slot_matches(&self, slot: &Slot, name: &dyn IntoHeaderName) -> bool {
        let wanted = name.header_name();
        let have = self.slot_name(slot);
        if wanted == HeaderName::Other {
            have == HeaderName::Other
                && match slot {
                    Slot::Keep(i) => self
                        .msg
                        .text(self.msg.headers[*i].name_span)
                        .eq_ignore_ascii_case(name.header_text()),
                    Slot::Write { name: n, .. } => n.eq_ignore_ascii_case(name.header_text()),
                }
        } else {
            have == wanted
        }
    }

    fn slot_value<'s>(&'s self, slot: &'s Slot) -> &'s str {
        match slot {
            Slot::Keep(i) => self.msg.text(self.msg.headers[*i].value),
            Slot::Write { value, .. } => value,
        }
    }

    fn position(&self, name: &dyn IntoHeaderName) -> Option<usize> {
        self.slots.iter().position(|s| self.slot_matches(s, name))
    }

    fn new_slot(name: &dyn IntoHeaderName, value: &str) -> Result<Slot, ParseError> {
        check_header(name.header_text(), value)?;
        Ok(Slot::Write {
            name: name.header_text().to_owned(),
            value: value.to_owned(),
        })
    }

    /// Replaces the Request-URI (§16.6 step 6, §16.5 target); requests only.
    pub fn set_request_uri(&mut self, uri: &str) -> Result<&mut Self, ParseError> {
        let method = self
            .msg
            .method()
            .ok_or(ParseError::StartLine("a response has no Request-URI"))?;
        Uri::parse(uri).map_err(ParseError::RequestUri)?;
        self.start_line = Some(format!("{} {uri} SIP/2.0", method.as_str()));
        Ok(self)
    }

    /// Inserts a header line above all others of its name (or at the top when there are
    /// none): how a proxy adds its Via (§16.6 step 8) and Record-Route (§16.6 step 4).
    pub fn insert_first(
        &mut self,
        name: impl IntoHeaderName,
        value: &str,
    ) -> Result<&mut Self, ParseError> {
        let slot = Self::new_slot(&name, value)?;
        let at = self.position(&name).unwrap_or(0);
        self.slots.insert(at, slot);
        Ok(self)
    }

    /// Appends a header line after all others.
    pub fn append(
        &mut self,
        name: impl IntoHeaderName,
        value: &str,
    ) -> Result<&mut Self, ParseError> {
        let slot = Self::new_slot(&name, value)?;
        self.slots.push(slot);
        Ok(self)
    }

    /// Sets a header to one value: replaces the first line of that name in place, removes
    /// the others, or appends when there is none.
    pub fn set(&mut self, name: impl IntoHeaderName, value: &str) -> Result<&mut Self, ParseError> {
        let slot = Self::new_slot(&name, value)?;
        match self.position(&name) {
            Some(at) => {
                self.slots[at] = slot;
                let mut i = at + 1;
                while i < self.slots.len() {
                    if self.slot_matches(&self.slots[i], &name) {
                        self.slots.remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            None => self.slots.push(slot),
        }
        Ok(self)
    }

    /// Removes every line of a header; returns how many were removed.
    pub fn remove(&mut self, name: impl IntoHeaderName) -> usize {
        let before = self.slots.len();
        let slots = std::mem::take(&mut self.slots);
        self.slots = slots
            .into_iter()
            .filter(|s| !self.slot_matches(s, &name))
            .collect();
        before - self.slots.len()
    }

    /// Removes the first value of a list header (the top Via of a response, §16.7 step 3;
    /// the top Route, §16.4) and returns it. A line holding several comma-separated values
    /// keeps the others.
    pub fn pop_first_value(&mut self, name: impl IntoHeaderName) -> Option<String> {
        let at = self.position(&name)?;
        let value = self.slot_value(&self.slots[at]).to_owned();
        let mut parts = split_top_level(&value);
        let first = parts.next()?.ok()?.to_owned();
        let rest_start = value.len() - parts.rest_len();
        let rest = value[rest_start..].trim_matches([' ', '\t', '\r', '\n', ',']);
        if rest.is_empty() {
            self.slots.remove(at);
        } else {
            self.slots[at] = Slot::Write {
                name: name.header_text().to_owned(),
                value: rest.replace(['\r', '\n'], " "),
            };
        }
        Some(first)
    }

    /// Records where the request really came from in its top Via, as a server does on
    /// receipt: `received` when the sent-by host is not the source IP (RFC 3261 §18.2.1),
    /// and, when the client asked with a bare `rport`, `rport=PORT` plus `received` always
    /// (RFC 3581 §4). Returns whether the Via changed; `Ok(false)` means nothing to record.
    pub fn stamp_received(&mut self, source: std::net::SocketAddr) -> Result<bool, ParseError> {
        let top = self.msg.top_via()?;
        let Some(value) = crate::headers::stamped(&top, source) else {
            return Ok(false);
        };
        self.pop_first_value(HeaderName::Via);
        self.insert_first(HeaderName::Via, &value)?;
        Ok(true)
    }

    /// Pushes a Via on top (§16.6 step 8).
    pub fn push_via(&mut self, value: &str) -> Result<&mut Self, ParseError> {
        self.insert_first(HeaderName::Via, value)
    }

    /// Pops the top Via (§16.7 step 3) and returns it.
    pub fn pop_via(&mut self) -> Option<String> {
        self.pop_first_value(HeaderName::Via)
    }

    /// Adds a Record-Route above the existing ones (§16.6 step 4).
    pub fn push_record_route(&mut self, value: &str) -> Result<&mut Self, ParseError> {
        self.insert_first(HeaderName::RecordRoute, value)
    }

    /// Pops the top Route (§16.4, loose routing) and returns it.
    pub fn pop_route(&mut self) -> Option<String> {
        self.pop_first_value(HeaderName::Route)
    }

    /// Decrements Max-Forwards, adding `Max-Forwards: 70` when it is missing (§16.6 step 3).
    /// Fails when it is already zero (the proxy answers 483, §16.3 step 3).
    pub fn decrement_max_forwards(&mut self) -> Result<&mut Self, ParseError> {
        match self.msg.max_forwards()? {
            Some(0) => Err(ParseError::header(HeaderName::MaxForwards, "zero")),
            Some(n) => {
                let mut text = [0u8; 3];
                let len = write_decimal(&mut text, n - 1);
                let value = std::str::from_utf8(&text[..len]).unwrap_or("0");
                self.set(HeaderName::MaxForwards, value)
            }
            None => self.set(HeaderName::MaxForwards, "70"),
        }
    }

    /// Replaces the body; `content_type` `None` keeps the present Content-Type (and removes
    /// it when the new body is empty).
    pub fn set_body(&mut self, content_type: Option<&str>, body: impl Into<Bytes>) -> &mut Self {
        self.body = Some((content_type.map(str::to_owned), body.into()));
        self
    }

    /// Writes the edited message.
    pub fn to_bytes(&self) -> Result<Bytes, ParseError> {
        let msg = self.msg;
        let mut out = BytesMut::with_capacity(msg.buf.len() + 256);
        match &self.start_line {
            Some(line) => out.put_slice(line.as_bytes()),
            None => out.put_slice(&msg.buf[msg.start_line.range()]),
        }
        out.put_slice(b"\r\n");
        let (body, new_type): (Bytes, Option<&str>) = match &self.body {
            Some((ct, b)) => (b.clone(), ct.as_deref()),
            None => (msg.body_bytes(), None),
        };
        let body_replaced = self.body.is_some();
        for slot in &self.slots {
            let name = self.slot_name(slot);
            if name == HeaderName::ContentLength {
                continue; // written once, below
            }
            if name == HeaderName::ContentType
                && body_replaced
                && (new_type.is_some() || body.is_empty())
            {
                continue;
            }
            match slot {
                Slot::Keep(i) => out.put_slice(&msg.buf[msg.headers[*i].line.range()]),
                Slot::Write { name, value } => {
                    out.put_slice(name.as_bytes());
                    out.put_slice(b": ");
                    out.put_slice(value.as_bytes());
                    out.put_slice(b"\r\n");
                }
            }
        }
        if let Some(ct) = new_type {
            if !body.is_empty() {
                check_header("Content-Type", ct)?;
                out.put_slice(b"Content-Type: ");
                out.put_slice(ct.as_bytes());
                out.put_slice(b"\r\n");
            }
        }
        std::fmt::Write::write_fmt(
            &mut Writer(&mut out),
            format_args!("Content-Length: {}\r\n\r\n", body.len()),
        )
        .ok();
        out.put_slice(&body);
        Ok(out.freeze())
    }

    /// Writes the edited message and parses it back.
    pub fn finish(&self) -> Result<Message, ParseError> {
        Message::parse(self.to_bytes()?)
    }
}

fn write_decimal(buf: &mut [u8; 3], n: u8) -> usize {
    let digits = [n / 100, n / 10 % 10, n % 10];
    let skip = if n >= 100 {
        0
    } else if n >= 10 {
        1
    } else {
        2
    };
    for (o, d) in buf.iter_mut().zip(&digits[skip..]) {
        *o = b'0' + d;
    }
    3 - skip
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n\
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
Max-Forwards: 70\r\n\
t: Bob <sip:bob@example.com>\r\n\
f: Alice <sip:alice@example.com>;tag=1928301774\r\n\
i: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
X-Folded: one\r\n two\r\n\
c: application/sdp\r\n\
l: 5\r\n\r\nv=0\r\n";

    #[test]
    fn stamp_received_rewrites_only_the_top_via() {
        let msg = Message::parse(
            &b"OPTIONS sip:x@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1;rport;branch=z9hG4bK1, SIP/2.0/UDP h2;branch=z9hG4bK2\r\n\
From: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: c\r\n\
CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let mut e = msg.edit();
        assert!(e.stamp_received("192.0.2.1:4000".parse().unwrap()).unwrap());
        let out = e.finish().unwrap();
        let vias: Vec<_> = out.vias().map(|v| v.unwrap().sent_by).collect();
        assert_eq!(vias, ["10.0.0.1", "h2"]);
        let top = out.top_via().unwrap();
        assert_eq!(top.rport(), Some(Some(4000)));
        assert_eq!(top.received(), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(top.branch(), Some("z9hG4bK1"));
        let mut e = out.edit();
        assert!(!e.stamp_received("192.0.2.1:4000".parse().unwrap()).unwrap());
    }

    #[test]
    fn proxy_edits_keep_untouched_bytes() {
        let msg = Message::parse(REQ).unwrap();
        let mut e = msg.edit();
        e.push_via("SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1")
            .unwrap()
            .push_record_route("<sip:proxy.example.com;lr>")
            .unwrap()
            .decrement_max_forwards()
            .unwrap()
            .set_request_uri("sip:bob@192.0.2.4:5060")
            .unwrap();
        assert_eq!(e.pop_route().as_deref(), Some("<sip:p1.example.com;lr>"));
        let out = e.finish().unwrap();
        let text = std::str::from_utf8(out.as_bytes()).unwrap();
        assert!(text.starts_with("INVITE sip:bob@192.0.2.4:5060 SIP/2.0\r\n"));
        assert!(text.contains("Record-Route: <sip:proxy.example.com;lr>\r\nVia: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1\r\nv: SIP/2.0/UDP pc33"));
        assert!(text.contains("X-Folded: one\r\n two\r\n"), "folding kept");
        assert!(
            text.contains("\r\nt: Bob <sip:bob@example.com>\r\n"),
            "compact kept"
        );
        assert_eq!(out.max_forwards().unwrap(), Some(69));
        assert_eq!(out.vias().count(), 2);
        assert_eq!(out.top_via().unwrap().branch(), Some("z9hG4bKp1"));
        let routes: Vec<_> = out.routes().map(|r| r.unwrap().uri).collect();
        assert_eq!(routes, vec!["sip:p2.example.com;lr"]);
        assert_eq!(out.body(), b"v=0\r\n");
    }

    #[test]
    fn response_pops_top_via_of_a_combined_line() {
        let resp = Message::parse(
            &b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1, SIP/2.0/UDP c;branch=z9hG4bK2\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        let mut e = resp.edit();
        assert_eq!(
            e.pop_via().as_deref(),
            Some("SIP/2.0/UDP p1;branch=z9hG4bK1")
        );
        let out = e.finish().unwrap();
        assert_eq!(out.top_via().unwrap().branch(), Some("z9hG4bK2"));
        assert_eq!(out.vias().count(), 1);
    }

    #[test]
    fn body_replacement_fixes_length_and_type() {
        let msg = Message::parse(REQ).unwrap();
        let out = msg
            .edit()
            .set_body(Some("text/plain"), &b"hello world"[..])
            .finish()
            .unwrap();
        assert_eq!(out.content_length(), Some(11));
        assert_eq!(out.header(HeaderName::ContentType), Some("text/plain"));
        assert_eq!(out.header_values(HeaderName::ContentType).count(), 1);
        let empty = msg.edit().set_body(None, Bytes::new()).finish().unwrap();
        assert_eq!(empty.content_length(), Some(0));
        assert!(empty.header(HeaderName::ContentType).is_none());
    }

    #[test]
    fn set_remove_and_zero_max_forwards() {
        let msg = Message::parse(REQ).unwrap();
        let mut e = msg.edit();
        e.set("X-Folded", "single").unwrap();
        assert_eq!(e.remove(HeaderName::Route), 1);
        let out = e.finish().unwrap();
        assert_eq!(out.header_by_name("x-folded"), Some("single"));
        assert!(out.header(HeaderName::Route).is_none());
        let zero = Message::parse(
            &b"OPTIONS sip:a@b SIP/2.0\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .unwrap();
        assert!(zero.edit().decrement_max_forwards().is_err());
        let none =
            Message::parse(&b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n"[..]).unwrap();
        let out = none
            .edit()
            .decrement_max_forwards()
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(out.max_forwards().unwrap(), Some(70));
        assert!(msg.edit().set("Bad", "a\r\nb").is_err());
    }
}
