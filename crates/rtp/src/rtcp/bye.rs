//! Goodbye, RFC 3550 §6.6: the sources leaving, and an optional reason.

use super::{be_u32, PT_BYE};
use crate::error::Error;

/// A BYE packet (RFC 3550 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> Bye<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, Error> {
        let sources_len = 4 * usize::from(count);
        if body.len() < sources_len {
            return Err(Error::RtcpMalformed {
                packet_type: PT_BYE,
                reason: "shorter than its list of sources",
            });
        }
        if let Some(&len) = body.get(sources_len) {
            if body.len() < sources_len + 1 + usize::from(len) {
                return Err(Error::RtcpMalformed {
                    packet_type: PT_BYE,
                    reason: "reason for leaving truncated",
                });
            }
        }
        Ok(Bye { count, body })
    }

    /// The sources leaving.
    pub fn sources(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        let body = self.body;
        (0..usize::from(self.count)).map(move |i| be_u32(body, 4 * i))
    }

    /// The reason for leaving, if given and not empty (UTF-8 text, not checked).
    pub fn reason(&self) -> Option<&'a [u8]> {
        let at = 4 * usize::from(self.count);
        let len = usize::from(*self.body.get(at)?);
        if len == 0 {
            return None;
        }
        self.body.get(at + 1..at + 1 + len)
    }
}
