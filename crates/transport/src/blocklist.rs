//! [`Blocklist`]: sources whose traffic is dropped as it arrives, before any parsing — a
//! banned password guesser or flooder costs one table lookup per datagram, not a parse
//! (Kamailio's `pike` and `htable` bans drop in the script, after the parse; a drop here is
//! cheaper). The server decides who is banned and for how long; the transports only drop.
//!
//! Over UDP a blocked source's datagrams are read and dropped; over TCP its new
//! connections are closed at once.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;
use std::time::Instant;

use std::collections::HashMap;

use crate::limits::source_key;

/// The most sources kept; blocking past it first forgets the expired ones, then refuses
/// (the caller's own bounds keep it far below this).
pub const MAX_BLOCKED: usize = 100_000;

/// Blocked sources and until when. Cheap when empty: one atomic load per datagram.
#[derive(Debug, Default)]
pub(crate) struct Blocklist {
    /// Entries in `until` (expired ones included until they are pruned).
    entries: AtomicUsize,
    until: RwLock<HashMap<IpAddr, Instant>>,
}

impl Blocklist {
    /// Whether traffic from `ip` is dropped now.
    pub(crate) fn blocks(&self, ip: IpAddr) -> bool {
        if self.entries.load(Ordering::Acquire) == 0 {
            return false;
        }
        let Ok(until) = self.until.read() else {
            return false;
        };
        until
            .get(&source_key(ip))
            .is_some_and(|at| Instant::now() < *at)
    }

    /// Drops traffic from the source of `ip` ([`source_key`]: the address, or its IPv6
    /// /64) until `until` (a later call replaces it). Answers whether it was taken (false
    /// when the table is full of live entries).
    pub(crate) fn block(&self, ip: IpAddr, until: Instant) -> bool {
        let ip = source_key(ip);
        let Ok(mut map) = self.until.write() else {
            return false;
        };
        if map.len() >= MAX_BLOCKED && !map.contains_key(&ip) {
            let now = Instant::now();
            map.retain(|_, at| now < *at);
            if map.len() >= MAX_BLOCKED {
                return false;
            }
        }
        map.insert(ip, until);
        self.entries.store(map.len(), Ordering::Release);
        true
    }

    /// Lets traffic from the source of `ip` through again.
    pub(crate) fn unblock(&self, ip: IpAddr) {
        if let Ok(mut map) = self.until.write() {
            map.remove(&source_key(ip));
            self.entries.store(map.len(), Ordering::Release);
        }
    }

    /// The sources blocked now.
    pub(crate) fn blocked(&self) -> Vec<(IpAddr, Instant)> {
        let now = Instant::now();
        self.until
            .read()
            .map(|m| {
                m.iter()
                    .filter(|(_, at)| now < **at)
                    .map(|(ip, at)| (*ip, *at))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    #[test]
    fn blocked_until_the_time_given_or_unblocked() {
        let list = Blocklist::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(!list.blocks(ip));
        assert!(list.block(ip, Instant::now() + Duration::from_secs(60)));
        assert!(list.blocks(ip));
        assert!(!list.blocks(other));
        list.unblock(ip);
        assert!(!list.blocks(ip));
        assert!(list.block(ip, Instant::now()));
        assert!(!list.blocks(ip), "expired");
        assert!(list.blocked().is_empty());
    }
}
