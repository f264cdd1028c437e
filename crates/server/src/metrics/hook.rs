//! [`MetricsHook`]: the tap ([`Hook::on_tap`]) that counts every SIP message in and out
//! by method and code, and the dialog phase ([`Hook::on_dialog`]) that counts calls
//! started, answered, failed, refused and ended, into the [`SipCounts`] a scrape reads.

use std::sync::Arc;

use crate::engine::io::Now;
use crate::policy::hook::{DialogEvent, Hook, HookCx, Tapped};

use super::sip_counts::{DialogCount, SipCounts};

/// Counts messages and dialog events (see the module docs).
pub(crate) struct MetricsHook {
    counts: Arc<SipCounts>,
}

impl MetricsHook {
    /// A hook that counts into `counts`.
    pub(crate) fn new(counts: Arc<SipCounts>) -> MetricsHook {
        MetricsHook { counts }
    }
}

impl Hook for MetricsHook {
    fn taps(&self) -> bool {
        true
    }

    fn on_tap(&mut self, _now: Now, tapped: &Tapped<'_>) {
        self.counts.count(tapped.direction, tapped.bytes);
    }

    fn on_dialog(&mut self, _cx: &mut HookCx<'_>, event: DialogEvent<'_>) {
        let counted = match event {
            DialogEvent::Started { .. } => DialogCount::Started,
            DialogEvent::Settled { code, .. } if (200..300).contains(&code) => {
                DialogCount::Answered
            }
            DialogEvent::Settled { .. } => DialogCount::Failed,
            DialogEvent::Refused { .. } => DialogCount::Refused,
            DialogEvent::Ended { .. } | DialogEvent::EndedHere { .. } => DialogCount::Ended,
        };
        self.counts.dialog(counted);
    }
}
