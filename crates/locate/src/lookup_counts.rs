//! [`LookupCounts`]: how many DNS lookups a [`crate::Locator`] made and how many failed,
//! by record type, for the server's metrics (`itsp_dns_lookups_total`,
//! `itsp_dns_failed_request_total`). Atomics shared by the locator's clones, so counting
//! takes no lock.

use std::sync::atomic::{AtomicU64, Ordering};

/// The kind of a lookup, as the metrics label it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// NAPTR (RFC 3403).
    Naptr,
    /// SRV (RFC 2782).
    Srv,
    /// A and AAAA together, for one name.
    Address,
}

impl LookupKind {
    /// Every kind, in the order [`LookupCounts::snapshot`] answers them.
    pub const ALL: [LookupKind; 3] = [LookupKind::Naptr, LookupKind::Srv, LookupKind::Address];

    /// The label value: `naptr`, `srv`, `a_aaaa`.
    pub fn as_str(self) -> &'static str {
        match self {
            LookupKind::Naptr => "naptr",
            LookupKind::Srv => "srv",
            LookupKind::Address => "a_aaaa",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Lookups made (the resolver's cache answers count too: they are the proxy's questions)
/// and lookups failed (time-out, SERVFAIL, REFUSED; an empty answer or NXDOMAIN is an
/// answer, not a failure), by kind.
#[derive(Debug, Default)]
pub struct LookupCounts {
    made: [AtomicU64; 3],
    failed: [AtomicU64; 3],
}

/// A reading of [`LookupCounts`]: (kind, made, failed) for each kind.
pub type LookupSnapshot = [(LookupKind, u64, u64); 3];

impl LookupCounts {
    pub(crate) fn made(&self, kind: LookupKind) {
        if let Some(c) = self.made.get(kind.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn failed(&self, kind: LookupKind) {
        if let Some(c) = self.failed.get(kind.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts now.
    pub fn snapshot(&self) -> LookupSnapshot {
        LookupKind::ALL.map(|kind| {
            let read = |c: &[AtomicU64; 3]| c[kind.index()].load(Ordering::Relaxed);
            (kind, read(&self.made), read(&self.failed))
        })
    }
}
