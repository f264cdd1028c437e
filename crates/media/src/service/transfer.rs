//! Transfers by REFER (RFC 3515), sans-IO: the IVR ([`super::ivr`]) hands a caller over to
//! another address by asking the caller's phone to call it.
//!
//! - **REFER** in the call's dialog (RFC 3515 §2.4.1, RFC 3261 §12.2.1.1), through the
//!   proxy's route set, with `Refer-To: <TARGET>` (§2.1) and `Referred-By` (RFC 3892 §3)
//!   naming the address the caller called.
//! - Its answer (§2.4.2): `202` (or another 2xx) accepts it; a failure (RFC 3515 §2.4.2:
//!   `4xx`-`6xx`, or no answer, Timer F) is a failed transfer.
//! - **NOTIFY** of the implicit `refer` subscription (§2.4.4, §2.4.5) in the same dialog,
//!   its `message/sipfrag` body (RFC 3420) the status line of the new call: `200` to each
//!   NOTIFY; a `1xx` fragment is progress; a `2xx` fragment means the caller now talks to
//!   the target, and we leave the call (BYE, §2.4.7 style: the transferor hangs up); a
//!   failure fragment is a failed transfer. A NOTIFY with another event gets `489` (RFC
//!   6665 §8.2.2), one in a call with no transfer `481` (no such subscription).
//! - A transfer without an outcome within [`TRANSFER_TIMEOUT`] (longer than a proxy's Timer
//!   C, so a target that rings out has been told) is a failed transfer too.
//!
//! A failed transfer goes back to the IVR ("the transfer failed", the menu).
//! The caller hanging up during a transfer ends our call as at any time.

use std::time::{Duration, Instant};

use sip::transaction::TransactionKey;
use sip::{HeaderName, Message, Method};

use super::{first_hop, CallNumber, ServiceUa};

/// How long a transfer may take to report its outcome.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(200);

/// A call's transfer in progress.
#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    /// The `Refer-To` URI.
    pub(crate) target: String,
    /// The REFER's client transaction, until its final answer.
    pub(crate) refer: Option<TransactionKey>,
    /// When it fails for want of an outcome.
    pub(crate) deadline: Instant,
}

/// The status code of a `message/sipfrag` body's status line (RFC 3420 §2:
/// `SIP/2.0 200 OK`).
pub(crate) fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?.trim();
    let rest = line.strip_prefix("SIP/2.0")?.trim_start();
    let code: u16 = rest.split(' ').next()?.parse().ok()?;
    (100..700).contains(&code).then_some(code)
}

/// The event package of an `Event` value, without its parameters.
fn event_package(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

/// Whether the INVITE's `Allow` lets us send REFER: yes when it lists REFER, and when it
/// is absent (RFC 3261 §20.5: its absence says nothing about the methods supported).
pub(crate) fn allows_refer(invite: &Message) -> bool {
    let mut values = invite.header_values(HeaderName::Allow).peekable();
    if values.peek().is_none() {
        return true;
    }
    values
        .flat_map(|v| v.split(','))
        .any(|m| m.trim().eq_ignore_ascii_case("REFER"))
}

impl ServiceUa {
    /// Sends the REFER transferring call `number` to `target` (RFC 3515 §2.4.1: in the
    /// dialog, `Refer-To`; RFC 3892 §3: `Referred-By`).
    pub(super) fn send_refer(&mut self, now: Instant, number: CallNumber, target: String) {
        let via = self.via();
        let contact = self.contact(super::IVR);
        let user_agent = self.config.user_agent.clone();
        let Some(c) = self.calls.get_mut(&number) else {
            return;
        };
        let referred_by = c
            .invite
            .to()
            .ok()
            .map(|t| format!("<{}>", t.uri))
            .unwrap_or_default();
        let source = c.source;
        let Some(dialog) = c.dialog.as_mut() else {
            self.fail_transfer(number, 500);
            return;
        };
        let dest = first_hop(dialog).unwrap_or(source);
        let mut b = dialog
            .request(&Method::Refer, &via, Some(&contact))
            .header(HeaderName::from_name("Refer-To"), &format!("<{target}>"))
            .header(HeaderName::UserAgent, &user_agent);
        if !referred_by.is_empty() {
            b = b.header(HeaderName::from_name("Referred-By"), &referred_by);
        }
        let refer = match b.build() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(call = number, error = %e, "REFER not built");
                self.fail_transfer(number, 500);
                return;
            }
        };
        match self.layer.send_request(now, refer, false) {
            Ok(key) => {
                tracing::info!(call = number, %target, "REFER: transferring the caller");
                self.dests.insert(key.clone(), dest);
                self.refers.insert(key.clone(), number);
                if let Some(c) = self.calls.get_mut(&number) {
                    c.transfer = Some(Transfer {
                        target,
                        refer: Some(key),
                        deadline: now + TRANSFER_TIMEOUT,
                    });
                }
            }
            Err(e) => {
                tracing::warn!(call = number, error = %e, "REFER not sent");
                self.fail_transfer(number, 500);
            }
        }
        self.drain_layer();
    }

    /// A response to one of our REFERs (RFC 3515 §2.4.2): a 2xx accepts it, a failure
    /// fails the transfer.
    pub(super) fn on_refer_response(&mut self, key: &TransactionKey, response: &Message) {
        let Some(&number) = self.refers.get(key) else {
            return;
        };
        let code = response.status().unwrap_or(0);
        if code < 200 {
            return;
        }
        self.refers.remove(key);
        if let Some(t) = self
            .calls
            .get_mut(&number)
            .and_then(|c| c.transfer.as_mut())
        {
            t.refer = None;
        }
        if code >= 300 {
            tracing::info!(call = number, code, "REFER refused");
            self.fail_transfer(number, code);
        } else {
            tracing::debug!(call = number, code, "REFER accepted");
        }
    }

    /// A REFER got no answer (RFC 3261 §17.1.2.2, Timer F): the transfer failed.
    pub(super) fn on_refer_timeout(&mut self, key: &TransactionKey) {
        let Some(number) = self.refers.remove(key) else {
            return;
        };
        tracing::info!(call = number, "REFER unanswered");
        self.fail_transfer(number, 408);
    }

    /// A NOTIFY in call `number`: the progress of its transfer (RFC 3515 §2.4.4, §2.4.5;
    /// the body a `message/sipfrag`, RFC 3420).
    pub(super) fn on_transfer_notify(
        &mut self,
        now: Instant,
        number: CallNumber,
        key: TransactionKey,
        request: Message,
    ) {
        let event = request.header(HeaderName::Event).unwrap_or("");
        if !event_package(event).eq_ignore_ascii_case("refer") {
            let r = self
                .response(&request, 489, Some("Bad Event"))
                .header(HeaderName::AllowEvents, "refer");
            self.respond(now, &key, r);
            return;
        }
        let pending = self
            .calls
            .get(&number)
            .is_some_and(|c| c.transfer.is_some());
        if !pending {
            let r = self.response(&request, 481, Some("No Transfer In Progress"));
            self.respond(now, &key, r);
            return;
        }
        let r = self.response(&request, 200, None);
        self.respond(now, &key, r);
        let Some(code) = sipfrag_status(request.body()) else {
            tracing::debug!(call = number, "NOTIFY without a sipfrag status line");
            return;
        };
        match code {
            100..=199 => tracing::debug!(call = number, code, "transfer in progress"),
            200..=299 => {
                let target = self
                    .calls
                    .get_mut(&number)
                    .and_then(|c| c.transfer.take())
                    .map(|t| t.target)
                    .unwrap_or_default();
                tracing::info!(call = number, %target, code, "caller transferred: BYE");
                self.end_with_bye(now, number);
            }
            _ => self.fail_transfer(number, code),
        }
    }

    /// Transfers without an outcome in time fail.
    pub(super) fn transfers_timeout(&mut self, now: Instant) {
        let late: Vec<CallNumber> = self
            .calls
            .iter()
            .filter(|(_, c)| c.transfer.as_ref().is_some_and(|t| t.deadline <= now))
            .map(|(n, _)| *n)
            .collect();
        for number in late {
            tracing::info!(call = number, "transfer without an outcome in time");
            self.fail_transfer(number, 408);
        }
    }

    /// The transfer of call `number` failed with `code`: back to the IVR.
    fn fail_transfer(&mut self, number: CallNumber, code: u16) {
        let Some(c) = self.calls.get_mut(&number) else {
            return;
        };
        if let Some(key) = c.transfer.take().and_then(|t| t.refer) {
            self.refers.remove(&key);
        }
        if let Some(ivr) = c.session.ivr() {
            ivr.transfer_failed(code);
        }
    }
}

#[cfg(test)]
mod tests;
