//! Voicemail routing, one hook (the seed's `failure_route` that sent failed calls to SEMS):
//! a call to a subscriber with voicemail on (`itsp user set bob@example.com voicemail=on`)
//! that fails — busy (486, 600), declined (603), not answered (408: Timer C, or the
//! subscriber's `no-answer-after`, [`crate::services::ServicesConfig::voicemail_after`]
//! by default), no phone registered or none reachable (480), a phone's server error (5xx)
//! — is forwarded again, on the same server transaction, to the media service's deposit
//! for that mailbox (`sip:voicemail@DOMAIN;mailbox=USER`). The caller sees no failure.
//!
//! The route marks which subscriber's voicemail may take the call
//! ([`crate::proxy::Forward::voicemail`]); this hook takes the mark, so a failing deposit
//! is not tried twice. Forwarding on busy / no answer to a subscriber's own targets comes
//! first (inside the proxy context).

use std::net::SocketAddr;

use sip::Message;

use crate::policy::hook::{Hook, HookCx};
use crate::proxy::Forward;

/// The voicemail hook: `on_failure` only.
pub(crate) struct VoicemailHook {
    media: SocketAddr,
}

impl VoicemailHook {
    /// Failed calls go to the media service at `media`.
    pub(crate) fn new(media: SocketAddr) -> VoicemailHook {
        VoicemailHook { media }
    }
}

/// Whether a failure with `code` goes to voicemail (see the module docs).
pub(crate) fn takes(code: u16) -> bool {
    matches!(code, 408 | 480 | 486 | 600 | 603) || (500..600).contains(&code)
}

impl Hook for VoicemailHook {
    fn on_failure(
        &mut self,
        _cx: &mut HookCx<'_>,
        invite: &Message,
        code: u16,
        forward: &mut Forward,
    ) -> bool {
        if !takes(code) {
            return false;
        }
        let Some(mailbox) = forward.voicemail.take() else {
            return false;
        };
        tracing::info!(
            %mailbox,
            code,
            call_id = invite.call_id().unwrap_or(""),
            "call failed: to voicemail"
        );
        forward
            .targets
            .push(crate::services::deposit_target(self.media, &mailbox));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_no_answer_offline_and_errors_go_to_voicemail() {
        for code in [408, 480, 486, 600, 603, 500, 503] {
            assert!(takes(code), "{code}");
        }
        for code in [401, 403, 404, 407, 484, 487, 488] {
            assert!(!takes(code), "{code}");
        }
    }
}
