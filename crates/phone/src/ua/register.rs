//! Registration (RFC 3261 §10.2): REGISTER with our Contact, refreshed before it expires,
//! retried after failures, removed with `Expires: 0`.
//!
//! One Call-ID and From tag for every REGISTER of this user agent, with an increasing CSeq
//! (§10.2: "a UA SHOULD use the same Call-ID for all registrations during a single boot
//! cycle").

use std::time::{Duration, Instant};

use sip::{HeaderName, Message, Method};

use super::request::{Addressing, Plan, Purpose};
use super::{Event, Timer, UaConfig, UserAgent};

/// How long to wait before registering again after a failure.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// The registration's state.
#[derive(Debug)]
pub(crate) struct Registration {
    call_id: String,
    from_tag: String,
    cseq: u32,
    registered: bool,
}

impl Registration {
    pub(crate) fn new(config: &UaConfig, rng: &mut fastrand::Rng) -> Registration {
        let call_id = format!(
            "{:016x}{:08x}@{}",
            rng.u64(..),
            rng.u32(..),
            config.account.domain
        );
        Registration {
            call_id,
            from_tag: format!("{:010x}", rng.u64(..) & 0xff_ffff_ffff),
            cseq: 0,
            registered: false,
        }
    }

    pub(crate) fn is_registered(&self) -> bool {
        self.registered
    }
}

/// When to refresh a binding granted for `expires` seconds: a minute early for long ones,
/// half-way for short ones.
pub(crate) fn refresh_after(expires: u32) -> Duration {
    let secs = if expires > 120 {
        expires - 60
    } else {
        (expires / 2).max(1)
    };
    Duration::from_secs(u64::from(secs))
}

impl UserAgent {
    pub(super) fn send_register(&mut self, now: Instant, expires: u32) {
        let account = &self.config.account;
        let aor = account.aor();
        let addr = account.name_addr();
        let reg = &mut self.registration;
        let plan = Plan::new(
            Method::Register,
            Addressing::Free {
                uri: format!("sip:{}", account.domain),
                to: addr.clone(),
                from: format!("{addr};tag={}", reg.from_tag),
                call_id: reg.call_id.clone(),
                cseq: reg.cseq,
            },
            Purpose::Register { expires },
        )
        .header(HeaderName::Expires, expires.to_string())
        .header(HeaderName::Allow, super::ALLOW);
        tracing::debug!(%aor, expires, "REGISTER");
        self.events.push_back(Event::Registering);
        self.send_register_plan(now, plan);
    }

    /// Sends a REGISTER plan, keeping the registration's CSeq in step.
    pub(super) fn send_register_plan(&mut self, now: Instant, plan: Plan) {
        let result = self.send_plan(now, plan);
        // The plan's CSeq moved on; remember it for the next REGISTER.
        self.registration.cseq = self.registration.cseq.saturating_add(1);
        if let Err(e) = result {
            tracing::warn!(error = %e, "REGISTER not sent");
        }
    }

    /// A final response (or a timeout, as 408) to a REGISTER asking for `expires`.
    pub(super) fn on_register_response(
        &mut self,
        now: Instant,
        mut plan: Plan,
        response: Option<&Message>,
        expires: u32,
    ) {
        let code = response.and_then(Message::status).unwrap_or(408);
        match code {
            200..=299 => {
                if expires == 0 {
                    self.registration.registered = false;
                    self.events.push_back(Event::Unregistered);
                    return;
                }
                let granted = response.map(|r| self.granted_expires(r)).unwrap_or(expires);
                self.registration.registered = true;
                self.events
                    .push_back(Event::Registered { expires: granted });
                self.cancel_timers(|t| *t == Timer::Register);
                self.schedule(now + refresh_after(granted), Timer::Register);
            }
            401 | 407 => {
                if let Some(r) = response {
                    if plan.take_challenge(r) {
                        self.sync_cseq(&mut plan);
                        self.send_register_plan(now, plan);
                        return;
                    }
                }
                self.register_failed(now, code, response, expires);
            }
            423 => {
                // §10.2.8: ask again with at least the registrar's Min-Expires.
                let min = response.and_then(|r| r.min_expires().ok().flatten());
                match min {
                    Some(min) if min > expires => {
                        plan.headers.retain(|(n, _)| *n != HeaderName::Expires);
                        plan.headers.push((HeaderName::Expires, min.to_string()));
                        plan.purpose = Purpose::Register { expires: min };
                        self.sync_cseq(&mut plan);
                        self.send_register_plan(now, plan);
                    }
                    _ => self.register_failed(now, code, response, expires),
                }
            }
            _ => self.register_failed(now, code, response, expires),
        }
    }

    fn sync_cseq(&self, plan: &mut Plan) {
        if let Addressing::Free { cseq, .. } = &mut plan.addressing {
            *cseq = self.registration.cseq;
        }
    }

    fn register_failed(
        &mut self,
        now: Instant,
        code: u16,
        response: Option<&Message>,
        expires: u32,
    ) {
        let reason = response
            .and_then(Message::reason)
            .unwrap_or(if code == 408 { "Request Timeout" } else { "" })
            .to_owned();
        self.registration.registered = false;
        self.events
            .push_back(Event::RegistrationFailed { code, reason });
        if expires > 0 {
            self.cancel_timers(|t| *t == Timer::Register);
            self.schedule(now + RETRY_AFTER_FAILURE, Timer::Register);
        }
    }

    /// The lifetime the registrar granted our Contact (§10.2.4): the `expires` parameter
    /// of our Contact in the 200, else its Expires header.
    fn granted_expires(&self, response: &Message) -> u32 {
        let ours = format!("@{}", self.config.contact_host);
        let from_contact = response.contacts().flatten().find_map(|c| {
            let addr = c.addr()?;
            addr.uri.contains(&ours).then(|| c.expires()).flatten()
        });
        from_contact
            .or_else(|| response.expires().ok().flatten())
            .unwrap_or(self.config.register_expires)
    }
}
