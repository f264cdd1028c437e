//! [`Ring`]: the last messages in and out, in memory, bounded by count and by bytes. The
//! capture hook appends under the ring's lock (uncontended: the readers take it briefly,
//! a few times a second); readers ask for the records after the last sequence number they
//! saw ([`Ring::after`]) and learn how many they missed when they fell behind.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::Captured;

/// What one record costs beside its bytes (the record itself, the deque slot): counted
/// against the byte bound so that a flood of tiny datagrams is bounded too.
pub(crate) const RECORD_OVERHEAD: usize = 96;

/// The ring as the hook and the shell's readers share it.
pub(crate) type SharedRing = Arc<Mutex<Ring>>;

/// One captured message with its sequence number (1, 2, ... in capture order).
#[derive(Debug, Clone)]
pub struct Record {
    /// Its place in the capture, from 1; never reused.
    pub seq: u64,
    /// The message.
    pub message: Captured,
}

/// What [`Ring::after`] answers.
#[derive(Debug, Default)]
pub struct Batch {
    /// The records, oldest first.
    pub records: Vec<Record>,
    /// Records after the asked sequence number that were already dropped from the ring
    /// (the reader fell behind).
    pub missed: u64,
}

/// The bounded ring of captured messages.
#[derive(Debug)]
pub struct Ring {
    records: VecDeque<Record>,
    /// Bytes held: the messages' lengths plus [`RECORD_OVERHEAD`] each.
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
    /// The sequence number of the next record.
    next_seq: u64,
}

impl Ring {
    /// An empty ring that keeps at most `max_messages` records and `max_bytes` bytes.
    pub fn new(max_messages: usize, max_bytes: usize) -> Ring {
        Ring {
            records: VecDeque::new(),
            bytes: 0,
            max_messages,
            max_bytes,
            next_seq: 1,
        }
    }

    /// Appends a message (its bytes kept by reference count, not copied), dropping the
    /// oldest records past either bound. A message larger than the byte bound alone is
    /// not kept, but still takes a sequence number (readers count it as missed).
    pub fn push(&mut self, message: Captured) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let cost = message.bytes.len() + RECORD_OVERHEAD;
        if self.max_messages == 0 || cost > self.max_bytes {
            // Dropping what is held keeps the sequence numbers contiguous in the ring.
            self.records.clear();
            self.bytes = 0;
            return;
        }
        while self.records.len() >= self.max_messages || self.bytes + cost > self.max_bytes {
            match self.records.pop_front() {
                Some(old) => self.bytes -= old.message.bytes.len() + RECORD_OVERHEAD,
                None => break,
            }
        }
        self.bytes += cost;
        self.records.push_back(Record { seq, message });
    }

    /// New bounds (a configuration reload): the oldest records past them are dropped now.
    pub fn set_limits(&mut self, max_messages: usize, max_bytes: usize) {
        self.max_messages = max_messages;
        self.max_bytes = max_bytes;
        while self.records.len() > max_messages || self.bytes > max_bytes {
            match self.records.pop_front() {
                Some(old) => self.bytes -= old.message.bytes.len() + RECORD_OVERHEAD,
                None => break,
            }
        }
    }

    /// Up to `limit` records with a sequence number above `seq`, oldest first (clones:
    /// the bytes are shared).
    pub fn after(&self, seq: u64, limit: usize) -> Batch {
        let first = self.first_seq();
        let missed = first.saturating_sub(seq.saturating_add(1));
        let skip =
            usize::try_from(seq.saturating_add(1).saturating_sub(first)).unwrap_or(usize::MAX);
        let records = self
            .records
            .iter()
            .skip(skip)
            .take(limit)
            .cloned()
            .collect();
        Batch { records, missed }
    }

    /// The sequence number of the newest message captured (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// The sequence number of the oldest record held (`last_seq + 1` when empty).
    fn first_seq(&self) -> u64 {
        self.records.front().map_or(self.next_seq, |r| r.seq)
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Bytes held (messages plus per-record overhead).
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::capture::Direction;
    use bytes::Bytes;

    fn message(len: usize) -> Captured {
        Captured {
            unix_ms: 1,
            direction: Direction::In,
            protocol: transport::Protocol::Udp,
            local: None,
            remote: "192.0.2.1:5060".parse().unwrap(),
            bytes: Bytes::from(vec![b'x'; len]),
        }
    }

    #[test]
    fn keeps_the_newest_within_the_count() {
        let mut ring = Ring::new(3, 1 << 20);
        for _ in 0..5 {
            ring.push(message(10));
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.last_seq(), 5);
        let all = ring.after(0, 100);
        assert_eq!(
            all.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(all.missed, 2);
        let newer = ring.after(3, 100);
        assert_eq!(
            newer.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [4, 5]
        );
        assert_eq!(newer.missed, 0);
        assert!(ring.after(5, 100).records.is_empty());
        assert!(ring.after(99, 100).records.is_empty());
        assert_eq!(ring.after(0, 1).records.len(), 1);
    }

    #[test]
    fn keeps_the_newest_within_the_bytes() {
        let cost = 100 + RECORD_OVERHEAD;
        let mut ring = Ring::new(1000, 2 * cost + 10);
        for _ in 0..4 {
            ring.push(message(100));
        }
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.bytes(), 2 * cost);
        // A message larger than the bound is not kept and empties the ring.
        ring.push(message(5000));
        assert!(ring.is_empty());
        assert_eq!(ring.last_seq(), 5);
        assert_eq!(ring.after(2, 10).missed, 3);
        ring.push(message(1));
        assert_eq!(ring.after(5, 10).records[0].seq, 6);
        assert_eq!(ring.after(5, 10).records[0].message.bytes.len(), 1);
    }

    #[test]
    fn a_ring_of_zero_messages_keeps_nothing() {
        let mut ring = Ring::new(0, 1 << 20);
        ring.push(message(10));
        assert!(ring.is_empty());
        assert_eq!(ring.last_seq(), 1);
    }
}
