//! RFC 4733 telephone events (DTMF digits carried in RTP): the 4-octet payload
//! ([`TelephoneEvent`]), a sender that turns digits into packets ([`EventSender`]) and a
//! receiver that turns packets back into digits ([`EventReceiver`]).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |     event     |E|R| volume    |          duration             |
//! ```

mod receiver;
mod sender;

pub use receiver::{EventReceiver, ReceivedEvent, ReceiverCounters};
pub use sender::{EventPacket, EventSender, EventSenderConfig};

use crate::error::Error;

/// Octets of one event in a payload (RFC 4733 §2.3).
pub const EVENT_LEN: usize = 4;
/// The event code of the hook flash (RFC 4733 §3.2).
pub const EVENT_FLASH: u8 = 16;

/// The DTMF digits by event code 0-15 (RFC 4733 §3.2, Table 3).
const DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// One telephone event as carried in an RTP payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TelephoneEvent {
    /// The event code (0-15 the DTMF digits, 16 flash, ...).
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level of the tone in -dBm0, 0-63 (larger is quieter); 0 for non-tone events.
    pub volume: u8,
    /// Duration so far, in RTP timestamp units, from the event's timestamp.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Decodes the first event of a payload (RFC 4733 §2.3). Octets after the first 4 are
    /// ignored; the reserved R bit is ignored as §2.3.3 asks.
    pub fn decode(payload: &[u8]) -> Result<Self, Error> {
        let b = payload
            .get(..EVENT_LEN)
            .ok_or(Error::EventTooShort(payload.len()))?;
        Ok(TelephoneEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4-octet payload; the volume is cut to its 6 bits, the R bit is zero.
    pub fn encode(&self) -> [u8; EVENT_LEN] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3f),
            d0,
            d1,
        ]
    }

    /// The DTMF digit of this event, if it is one.
    pub fn digit(&self) -> Option<char> {
        event_to_digit(self.event)
    }
}

/// The event code of a DTMF digit: `0`-`9`, `*`, `#`, `A`-`D` (lower case accepted)
/// (RFC 4733 §3.2).
pub fn digit_to_event(digit: char) -> Result<u8, Error> {
    let upper = digit.to_ascii_uppercase();
    DIGITS
        .iter()
        .position(|&d| d == upper)
        .map(|i| i as u8)
        .ok_or(Error::NotADigit(digit))
}

/// The DTMF digit of an event code 0-15 (RFC 4733 §3.2).
pub fn event_to_digit(event: u8) -> Option<char> {
    DIGITS.get(usize::from(event)).copied()
}

/// Whether RTP timestamp `a` comes after `b`, modulo 2^32 (serial number arithmetic).
fn timestamp_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_matches_the_rfc_layout() {
        let e = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 800,
        };
        let bytes = e.encode();
        assert_eq!(bytes, [11, 0x8a, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::decode(&bytes), Ok(e));
        assert_eq!(e.digit(), Some('#'));
    }

    #[test]
    fn reserved_bit_is_ignored_and_short_payloads_rejected() {
        let e = TelephoneEvent::decode(&[5, 0x40 | 7, 0, 160, 99]).unwrap();
        assert_eq!((e.event, e.end, e.volume, e.duration), (5, false, 7, 160));
        assert_eq!(
            TelephoneEvent::decode(&[1, 2, 3]),
            Err(Error::EventTooShort(3))
        );
    }

    #[test]
    fn digits_map_to_event_codes_both_ways() {
        for (code, digit) in "0123456789*#ABCD".chars().enumerate() {
            assert_eq!(digit_to_event(digit), Ok(code as u8));
            assert_eq!(event_to_digit(code as u8), Some(digit));
        }
        assert_eq!(digit_to_event('b'), Ok(13));
        assert_eq!(digit_to_event('E'), Err(Error::NotADigit('E')));
        assert_eq!(event_to_digit(EVENT_FLASH), None);
    }

    #[test]
    fn timestamp_order_wraps() {
        assert!(timestamp_after(5, u32::MAX - 5));
        assert!(!timestamp_after(u32::MAX - 5, 5));
        assert!(!timestamp_after(7, 7));
    }
}
