//! [`CaptureHook`]: the tap ([`Hook::on_tap`]) that puts every message in and out into
//! the shared [`Ring`](super::ring::Ring).

use crate::engine::io::Now;
use crate::policy::hook::{Hook, Tapped};
use crate::sync::lock;

use super::ring::SharedRing;
use super::Captured;

/// Captures every message the engine is shown or sends (retransmissions and malformed
/// datagrams included) into the ring the shell's readers share.
pub(crate) struct CaptureHook {
    ring: SharedRing,
}

impl CaptureHook {
    /// A hook that appends to `ring`.
    pub(crate) fn new(ring: SharedRing) -> CaptureHook {
        CaptureHook { ring }
    }
}

impl Hook for CaptureHook {
    fn taps(&self) -> bool {
        true
    }

    fn on_tap(&mut self, now: Now, tapped: &Tapped<'_>) {
        let message = Captured {
            unix_ms: now.unix_ms,
            direction: tapped.direction,
            protocol: tapped.protocol,
            local: tapped.local,
            remote: tapped.remote,
            bytes: tapped.bytes.clone(),
        };
        lock(&self.ring).push(message);
    }
}
