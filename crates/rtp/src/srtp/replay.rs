//! The replay list of received SRTP and SRTCP packets (RFC 3711 §3.3.2): per SSRC, a window
//! of the last [`super::REPLAY_WINDOW`] indices behind the highest authenticated one.
//!
//! Only authenticated packets move it: a check before authentication changes nothing, and
//! [`ReplayWindow::accept`] is called once the tag matched. (webrtc-srtp's own detector
//! starts its window at the first packet it is shown, forged or not, so one forged packet
//! could make the genuine stream look too old; it is switched off.)

use std::collections::HashMap;

// The window is the bits of a u128.
const _: () = assert!(super::REPLAY_WINDOW == u128::BITS as usize);

/// Indices of one kind of packet (RTP sequence numbers modulo 2^16, SRTCP indices modulo
/// 2^31) per SSRC.
#[derive(Debug)]
pub(super) struct ReplayWindow {
    modulus: u64,
    windows: HashMap<u32, Window>,
}

/// One SSRC's window: the highest index accepted, and bit `i` set when `latest - i` was.
#[derive(Debug, Clone, Copy)]
struct Window {
    latest: u64,
    mask: u128,
}

impl ReplayWindow {
    /// A window over indices modulo `modulus` (a power of two).
    pub(super) fn new(modulus: u64) -> ReplayWindow {
        ReplayWindow {
            modulus,
            windows: HashMap::new(),
        }
    }

    /// How far `index` is behind the latest accepted one: negative when it is ahead, the
    /// wrap taken the nearer way.
    fn behind(&self, window: &Window, index: u64) -> i64 {
        let m = self.modulus;
        let d = (window.latest + m - index % m) % m;
        if d > m / 2 {
            d as i64 - m as i64
        } else {
            d as i64
        }
    }

    /// Whether `index` of `ssrc` may be new: ahead of the window, or inside it and not seen.
    pub(super) fn check(&self, ssrc: u32, index: u64) -> bool {
        let Some(window) = self.windows.get(&ssrc) else {
            return true;
        };
        let behind = self.behind(window, index);
        if behind < 0 {
            return true;
        }
        match u32::try_from(behind) {
            Ok(b) if b < u128::BITS => window.mask & (1u128 << b) == 0,
            _ => false,
        }
    }

    /// Records an authenticated packet.
    pub(super) fn accept(&mut self, ssrc: u32, index: u64) {
        let index = index % self.modulus;
        let Some(window) = self.windows.get(&ssrc).copied() else {
            self.windows.insert(
                ssrc,
                Window {
                    latest: index,
                    mask: 1,
                },
            );
            return;
        };
        let behind = self.behind(&window, index);
        let updated = if behind < 0 {
            let ahead = behind.unsigned_abs();
            let mask = u32::try_from(ahead)
                .ok()
                .and_then(|a| window.mask.checked_shl(a))
                .unwrap_or(0);
            Window {
                latest: index,
                mask: mask | 1,
            }
        } else {
            let bit = u32::try_from(behind)
                .ok()
                .and_then(|b| 1u128.checked_shl(b))
                .unwrap_or(0);
            Window {
                latest: window.latest,
                mask: window.mask | bit,
            }
        };
        self.windows.insert(ssrc, updated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_over_sequence_numbers() {
        let mut w = ReplayWindow::new(1 << 16);
        assert!(w.check(1, 1000));
        w.accept(1, 1000);
        assert!(!w.check(1, 1000), "a replay");
        assert!(w.check(1, 999), "late, not seen");
        assert!(w.check(2, 1000), "another SSRC");
        w.accept(1, 1001);
        w.accept(1, 999);
        assert!(!w.check(1, 999));
        assert!(w.check(1, 1001 - 127), "the oldest in the window");
        assert!(!w.check(1, 1001 - 128), "too old");
        // Far ahead: the window moves, what it held falls out.
        w.accept(1, 5000);
        assert!(!w.check(1, 1001), "now too old");
        // The wrap: 65535 → 0 is ahead.
        w.accept(3, 65_535);
        assert!(w.check(3, 0));
        w.accept(3, 0);
        assert!(!w.check(3, 65_535));
        assert!(!w.check(3, 0));
    }

    #[test]
    fn window_over_srtcp_indices() {
        let mut w = ReplayWindow::new(1 << 31);
        w.accept(9, (1 << 31) - 1);
        assert!(w.check(9, 0), "wraps");
        assert!(!w.check(9, (1 << 31) - 1));
    }
}
