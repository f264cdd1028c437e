//! Writing RTCP packets (RFC 3550 §6.4–§6.6) and the compound an endpoint sends at each
//! report interval (§6.1: SR or RR first, then SDES with CNAME, then BYE when leaving).

use super::sdes::SDES_CNAME;
use super::{
    write_header, ReportBlock, SdesItem, SenderInfo, MAX_COUNT, PT_BYE, PT_RR, PT_SDES, PT_SR,
};
use crate::error::Error;

fn check_count(n: usize) -> Result<(), Error> {
    if n > MAX_COUNT {
        return Err(Error::RtcpTooManyItems(n));
    }
    Ok(())
}

/// Appends a sender report (RFC 3550 §6.4.1) with up to 31 report blocks.
pub fn write_sender_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    info: &SenderInfo,
    blocks: &[ReportBlock],
) -> Result<(), Error> {
    check_count(blocks.len())?;
    write_header(out, blocks.len(), PT_SR, 28 + 24 * blocks.len());
    out.extend_from_slice(&ssrc.to_be_bytes());
    info.encode(out);
    for b in blocks {
        b.encode(out);
    }
    Ok(())
}

/// Appends a receiver report (RFC 3550 §6.4.2) with up to 31 report blocks.
pub fn write_receiver_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    blocks: &[ReportBlock],
) -> Result<(), Error> {
    check_count(blocks.len())?;
    write_header(out, blocks.len(), PT_RR, 8 + 24 * blocks.len());
    out.extend_from_slice(&ssrc.to_be_bytes());
    for b in blocks {
        b.encode(out);
    }
    Ok(())
}

/// Appends a source description (RFC 3550 §6.5) with one chunk per `(ssrc, items)`.
pub fn write_sdes(out: &mut Vec<u8>, chunks: &[(u32, &[SdesItem<'_>])]) -> Result<(), Error> {
    check_count(chunks.len())?;
    let mut len = 4;
    for (_, items) in chunks {
        let mut chunk = 4;
        for item in *items {
            if item.value.len() > 255 {
                return Err(Error::RtcpTextTooLong(item.value.len()));
            }
            chunk += 2 + item.value.len();
        }
        len += (chunk + 4) & !3;
    }
    write_header(out, chunks.len(), PT_SDES, len);
    for (ssrc, items) in chunks {
        let start = out.len();
        out.extend_from_slice(&ssrc.to_be_bytes());
        for item in *items {
            out.push(item.kind);
            out.push(item.value.len() as u8);
            out.extend_from_slice(item.value);
        }
        // The null item, then null octets to the next 32-bit boundary.
        let chunk = out.len() - start;
        out.resize(start + ((chunk + 4) & !3), 0);
    }
    Ok(())
}

/// Appends a BYE (RFC 3550 §6.6) for `sources`, with an optional reason.
pub fn write_bye(out: &mut Vec<u8>, sources: &[u32], reason: Option<&str>) -> Result<(), Error> {
    check_count(sources.len())?;
    let reason = reason.unwrap_or_default().as_bytes();
    if reason.len() > 255 {
        return Err(Error::RtcpTextTooLong(reason.len()));
    }
    let reason_len = if reason.is_empty() {
        0
    } else {
        (1 + reason.len() + 3) & !3
    };
    let len = 4 + 4 * sources.len() + reason_len;
    write_header(out, sources.len(), PT_BYE, len);
    let start = out.len();
    for s in sources {
        out.extend_from_slice(&s.to_be_bytes());
    }
    if !reason.is_empty() {
        out.push(reason.len() as u8);
        out.extend_from_slice(reason);
        out.resize(start + len - 4, 0);
    }
    Ok(())
}

/// The compound packet an endpoint sends at each report interval (RFC 3550 §6.1): an SR
/// (when `sender_info` is given) or an RR first, further RRs when there are more than 31
/// report blocks, an SDES with the CNAME, and a BYE when leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompoundReport<'a> {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// Sender information: present when the reporter sent RTP since the last reports.
    pub sender_info: Option<SenderInfo>,
    /// Report blocks about the sources heard.
    pub report_blocks: &'a [ReportBlock],
    /// The canonical name (RFC 3550 §6.5.1), e.g. `user@host`; at most 255 octets.
    pub cname: &'a str,
    /// Whether to end with a BYE for `ssrc`.
    pub bye: bool,
    /// The BYE's reason for leaving.
    pub bye_reason: Option<&'a str>,
}

impl CompoundReport<'_> {
    /// Appends the compound packet to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let mut chunks = self.report_blocks.chunks(MAX_COUNT);
        let first = chunks.next().unwrap_or_default();
        match &self.sender_info {
            Some(info) => write_sender_report(out, self.ssrc, info, first)?,
            None => write_receiver_report(out, self.ssrc, first)?,
        }
        for more in chunks {
            write_receiver_report(out, self.ssrc, more)?;
        }
        let cname = [SdesItem {
            kind: SDES_CNAME,
            value: self.cname.as_bytes(),
        }];
        write_sdes(out, &[(self.ssrc, &cname)])?;
        if self.bye {
            write_bye(out, &[self.ssrc], self.bye_reason)?;
        }
        Ok(())
    }

    /// The compound packet as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(128);
        self.write(&mut out)?;
        Ok(out)
    }
}
