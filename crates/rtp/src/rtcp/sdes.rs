//! Source descriptions, RFC 3550 §6.5: chunks of an SSRC and its items (CNAME, NAME, ...),
//! each chunk ended by null octets up to a 32-bit boundary.

use super::{be_u32, PT_SDES};
use crate::error::Error;

/// SDES item type CNAME, the canonical name (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;
/// SDES item type NAME (RFC 3550 §6.5.2).
pub const SDES_NAME: u8 = 2;
/// SDES item type TOOL (RFC 3550 §6.5.6).
pub const SDES_TOOL: u8 = 6;

/// A source description packet (RFC 3550 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDescription<'a> {
    count: u8,
    body: &'a [u8],
}

impl<'a> SourceDescription<'a> {
    pub(super) fn parse(count: u8, body: &'a [u8]) -> Result<Self, Error> {
        let mut offset = 0;
        for _ in 0..count {
            offset = chunk_end(body, offset).ok_or(Error::RtcpMalformed {
                packet_type: PT_SDES,
                reason: "chunk truncated or not terminated by a null octet",
            })?;
        }
        Ok(SourceDescription { count, body })
    }

    /// The chunks, one per source described.
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            body: self.body,
            offset: 0,
            left: self.count,
        }
    }

    /// The CNAME given for `ssrc`, if any.
    pub fn cname_of(&self, ssrc: u32) -> Option<&'a [u8]> {
        self.chunks()
            .filter(|c| c.ssrc == ssrc)
            .find_map(|c| c.cname())
    }
}

/// Where the chunk at `offset` ends (the offset of the next one), or `None` if it is
/// truncated.
fn chunk_end(body: &[u8], offset: usize) -> Option<usize> {
    let mut at = offset.checked_add(4)?;
    body.get(offset..at)?;
    loop {
        let kind = *body.get(at)?;
        if kind == 0 {
            // The null item, then null octets up to the next 32-bit boundary.
            let end = (at + 4) & !3;
            body.get(at..end)?;
            return Some(end);
        }
        let len = usize::from(*body.get(at + 1)?);
        at += 2 + len;
        body.get(..at)?;
    }
}

/// Iterator over the chunks of a [`SourceDescription`].
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    body: &'a [u8],
    offset: usize,
    left: u8,
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;
    fn next(&mut self) -> Option<SdesChunk<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let start = self.offset;
        let end = chunk_end(self.body, start)?;
        self.offset = end;
        Some(SdesChunk {
            ssrc: be_u32(self.body, start),
            items: self.body.get(start + 4..end).unwrap_or_default(),
        })
    }
}

/// One chunk: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The SSRC or CSRC described.
    pub ssrc: u32,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The items, up to the terminating null item.
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems {
            items: self.items,
            offset: 0,
        }
    }

    /// The CNAME item's value, if present.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items().find(|i| i.kind == SDES_CNAME).map(|i| i.value)
    }
}

/// One SDES item (RFC 3550 §6.5): a type and up to 255 octets of UTF-8 text (not checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// The item type ([`SDES_CNAME`], ...).
    pub kind: u8,
    /// The item's text.
    pub value: &'a [u8],
}

/// Iterator over the items of an [`SdesChunk`].
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    items: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;
    fn next(&mut self) -> Option<SdesItem<'a>> {
        let kind = *self.items.get(self.offset)?;
        if kind == 0 {
            return None;
        }
        let len = usize::from(*self.items.get(self.offset + 1)?);
        let value = self.items.get(self.offset + 2..self.offset + 2 + len)?;
        self.offset += 2 + len;
        Some(SdesItem { kind, value })
    }
}
