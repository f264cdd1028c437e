//! The SRTP protection of one call's media at an endpoint (the phone, the media
//! services), sans-IO: the `a=crypto` lines of an exchange
//! (RFC 4568) turned into `rtp::srtp` contexts, what goes out protected with our key, what
//! comes in unprotected with the peer's, and the counters of what was dropped.
//!
//! A packet that fails authentication (a wrong key, a tampered or forged packet) or replays
//! one already received (RFC 3711 §3.3.2) is dropped and counted, never played: the media
//! task hands the stream only what this returns.

use std::borrow::Cow;

use sdp::CryptoPair;

use super::sdes::session;
use super::{CryptoSuite, SrtpError, SrtpSession};

/// What the SRTP of a call did, for its report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SrtpCounters {
    /// The suite in use at the end (none: plain RTP).
    pub suite: Option<CryptoSuite>,
    /// SRTP and SRTCP packets received that passed authentication.
    pub authenticated: u64,
    /// Received RTP packets dropped because their authentication tag did not match.
    pub auth_failures: u64,
    /// Received RTP packets dropped as replays.
    pub replays: u64,
    /// Received RTP packets dropped for another fault (too short, a bad header).
    pub malformed: u64,
    /// Received RTCP packets dropped for any of those faults: some phones send a plain
    /// RTCP packet or two beside their SRTCP (baresip 1.0's APP at the start and BYE at
    /// the end), so these are counted apart from the audio's.
    pub rtcp_dropped: u64,
    /// Packets we could not protect (not sent).
    pub unsent: u64,
}

/// The protection of a call's media: none for plain RTP.
#[derive(Debug, Default)]
pub struct Protection {
    session: Option<SrtpSession>,
    pair: Option<CryptoPair>,
    counters: SrtpCounters,
}

impl Protection {
    /// The protection of a stream negotiated with `pair` (none: plain RTP).
    pub fn new(pair: Option<&CryptoPair>) -> Result<Protection, SrtpError> {
        let mut protection = Protection::default();
        protection.update(pair)?;
        Ok(protection)
    }

    /// A new exchange (re-INVITE, RFC 4568 §7.1.4): a new context for each direction whose
    /// key changed, the running one kept for a direction whose key did not — a new context
    /// under the same key would restart its SRTCP index, reusing keystream (RFC 3711 §9.1),
    /// and forget its replay window. On an error nothing changes.
    pub fn update(&mut self, pair: Option<&CryptoPair>) -> Result<(), SrtpError> {
        if pair == self.pair.as_ref() {
            return Ok(());
        }
        let Some(pair) = pair else {
            self.session = None;
            self.pair = None;
            self.counters.suite = None;
            return Ok(());
        };
        let fresh = session(pair)?;
        match (&mut self.session, &self.pair) {
            (Some(running), Some(old))
                if old.theirs.suite.eq_ignore_ascii_case(&pair.theirs.suite) =>
            {
                let SrtpSession { outbound, inbound } = fresh;
                if old.ours.key_params != pair.ours.key_params {
                    running.outbound = outbound;
                }
                if old.theirs.key_params != pair.theirs.key_params {
                    running.inbound = inbound;
                }
            }
            _ => self.session = Some(fresh),
        }
        self.pair = Some(pair.clone());
        self.counters.suite = self.session.as_ref().map(SrtpSession::suite);
        Ok(())
    }

    /// What to send for an RTP packet: itself, or its SRTP form; `None` when it cannot be
    /// protected (then it is not sent).
    pub fn outgoing_rtp<'a>(&mut self, packet: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        let Some(session) = &mut self.session else {
            return Some(Cow::Borrowed(packet));
        };
        let result = session.outbound.protect_rtp(packet);
        self.counted_out(result)
    }

    /// What to send for an RTCP packet: itself, or its SRTCP form.
    pub fn outgoing_rtcp<'a>(&mut self, packet: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        let Some(session) = &mut self.session else {
            return Some(Cow::Borrowed(packet));
        };
        let result = session.outbound.protect_rtcp(packet);
        self.counted_out(result)
    }

    /// The RTP packet in a received one: itself for plain RTP, else unprotected; `None`
    /// (counted) when it fails.
    pub fn incoming_rtp<'a>(&mut self, packet: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        let Some(session) = &mut self.session else {
            return Some(Cow::Borrowed(packet));
        };
        let result = session.inbound.unprotect_rtp(packet);
        self.counted_in(result, false, packet)
    }

    /// The RTCP packet in a received one.
    pub fn incoming_rtcp<'a>(&mut self, packet: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        let Some(session) = &mut self.session else {
            return Some(Cow::Borrowed(packet));
        };
        let result = session.inbound.unprotect_rtcp(packet);
        self.counted_in(result, true, packet)
    }

    /// The `a=crypto` pair in use (none: plain RTP).
    pub fn pair(&self) -> Option<&CryptoPair> {
        self.pair.as_ref()
    }

    /// The counters so far.
    pub fn counters(&self) -> &SrtpCounters {
        &self.counters
    }

    fn counted_out<'a>(&mut self, result: Result<Vec<u8>, SrtpError>) -> Option<Cow<'a, [u8]>> {
        match result {
            Ok(bytes) => Some(Cow::Owned(bytes)),
            Err(e) => {
                self.counters.unsent += 1;
                tracing::debug!(error = %e, "packet not protected, not sent");
                None
            }
        }
    }

    fn counted_in<'a>(
        &mut self,
        result: Result<Vec<u8>, SrtpError>,
        rtcp: bool,
        packet: &[u8],
    ) -> Option<Cow<'a, [u8]>> {
        match result {
            Ok(bytes) => {
                self.counters.authenticated += 1;
                Some(Cow::Owned(bytes))
            }
            Err(e) => {
                match e {
                    _ if rtcp => self.counters.rtcp_dropped += 1,
                    SrtpError::Authentication => self.counters.auth_failures += 1,
                    SrtpError::Replay { .. } => self.counters.replays += 1,
                    _ => self.counters.malformed += 1,
                }
                tracing::debug!(
                    error = %e,
                    len = packet.len(),
                    rtcp,
                    "SRTP packet dropped"
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::sdes::{answer_crypto, offered_crypto};

    fn rtp_packet(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 0x00];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 160, 0, 0, 0, 7]);
        p.extend_from_slice(&[0xff; 160]);
        p
    }

    /// Alice's offer answered by Bob: the pair each side holds.
    fn pairs(suite_of_answer: usize) -> (CryptoPair, CryptoPair) {
        let offer = offered_crypto().unwrap();
        let theirs = offer[suite_of_answer].clone();
        let answer = answer_crypto(&theirs).unwrap();
        (
            CryptoPair {
                ours: theirs.clone(),
                theirs: answer.clone(),
            },
            CryptoPair {
                ours: answer,
                theirs,
            },
        )
    }

    #[test]
    fn both_sides_hear_each_other_and_count_what_fails() {
        for which in [0, 1] {
            let (alice_pair, bob_pair) = pairs(which);
            let mut alice = Protection::new(Some(&alice_pair)).unwrap();
            let mut bob = Protection::new(Some(&bob_pair)).unwrap();
            let plain = rtp_packet(1);
            let sent = alice.outgoing_rtp(&plain).unwrap().into_owned();
            assert_ne!(sent, plain);
            assert_eq!(bob.incoming_rtp(&sent).as_deref(), Some(&plain[..]));
            // The same packet again is a replay; a plain packet fails authentication.
            assert_eq!(bob.incoming_rtp(&sent), None);
            assert_eq!(bob.incoming_rtp(&rtp_packet(2)), None);
            assert_eq!(bob.incoming_rtcp(&[0x80, 201, 0, 1]), None);
            assert_eq!(bob.incoming_rtp(&[0x80; 12]), None);
            assert_eq!(bob.counters().malformed, 1);
            let rr = [0x80, 201, 0, 1, 0, 0, 0, 9];
            let report = bob.outgoing_rtcp(&rr).unwrap().into_owned();
            assert_eq!(alice.incoming_rtcp(&report).as_deref(), Some(&rr[..]));
            let c = bob.counters();
            assert_eq!(
                (
                    c.authenticated,
                    c.replays,
                    c.auth_failures,
                    c.malformed,
                    c.rtcp_dropped
                ),
                (1, 1, 1, 1, 1)
            );
            assert_eq!(c.suite, Some(CryptoSuite::ALL[which]));
        }
    }

    #[test]
    fn plain_rtp_passes_untouched_and_keys_change_only_when_the_lines_do() {
        let mut plain = Protection::new(None).unwrap();
        let packet = rtp_packet(3);
        assert!(matches!(
            plain.outgoing_rtp(&packet),
            Some(Cow::Borrowed(_))
        ));
        assert_eq!(plain.incoming_rtp(&packet).as_deref(), Some(&packet[..]));
        assert_eq!(plain.counters(), &SrtpCounters::default());

        let (alice_pair, bob_pair) = pairs(0);
        let mut alice = Protection::new(Some(&alice_pair)).unwrap();
        let mut bob = Protection::new(Some(&bob_pair)).unwrap();
        let first = alice.outgoing_rtp(&rtp_packet(10)).unwrap().into_owned();
        assert!(bob.incoming_rtp(&first).is_some());
        // The same lines again (a re-INVITE for hold): the contexts go on, so the replay
        // window still knows the packet.
        bob.update(Some(&bob_pair)).unwrap();
        assert!(bob.incoming_rtp(&first).is_none());
        assert_eq!(bob.counters().replays, 1);
        // New keys: Alice's old key no longer authenticates.
        let (_, other) = pairs(0);
        bob.update(Some(&other)).unwrap();
        let second = alice.outgoing_rtp(&rtp_packet(11)).unwrap().into_owned();
        assert!(bob.incoming_rtp(&second).is_none());
        assert_eq!(bob.counters().auth_failures, 1);
        // Back to plain RTP.
        bob.update(None).unwrap();
        assert_eq!(bob.counters().suite, None);
    }

    #[test]
    fn a_direction_whose_key_stays_keeps_its_context() {
        let (alice_pair, bob_pair) = pairs(0);
        let mut alice = Protection::new(Some(&alice_pair)).unwrap();
        let mut bob = Protection::new(Some(&bob_pair)).unwrap();
        let rr = [0x80, 201, 0, 1, 0, 0, 0, 9];
        let mut first = Vec::new();
        for _ in 0..2 {
            let report = alice.outgoing_rtcp(&rr).unwrap().into_owned();
            assert!(bob.incoming_rtcp(&report).is_some());
            if first.is_empty() {
                first = report;
            }
        }
        // Bob answers a re-offer with a new key of his: Alice's own key is the same, so her
        // outbound context goes on (SRTCP index 3, not 1 again, which Bob would take for a
        // replay), and her inbound one takes Bob's new key.
        let mut new_bob = bob_pair.clone();
        new_bob.ours = answer_crypto(&bob_pair.theirs).unwrap();
        let new_alice = CryptoPair {
            ours: alice_pair.ours.clone(),
            theirs: new_bob.ours.clone(),
        };
        alice.update(Some(&new_alice)).unwrap();
        bob.update(Some(&new_bob)).unwrap();
        let report = alice.outgoing_rtcp(&rr).unwrap().into_owned();
        let index = &report[rr.len()..rr.len() + 4];
        assert_eq!(index, [0x80, 0, 0, 3], "E flag and SRTCP index 3");
        assert_eq!(bob.incoming_rtcp(&report).as_deref(), Some(&rr[..]));
        // Bob's inbound context went on too: Alice's first report is still a replay.
        assert_eq!(bob.incoming_rtcp(&first), None);
        assert_eq!(bob.counters().rtcp_dropped, 1);
        let from_bob = bob.outgoing_rtp(&rtp_packet(5)).unwrap().into_owned();
        assert!(alice.incoming_rtp(&from_bob).is_some());
        assert_eq!(alice.counters().auth_failures, 0);
    }
}
