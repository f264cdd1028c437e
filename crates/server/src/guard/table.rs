//! [`Table`]: a map with a bound on its entries. When full, the oldest entry (first
//! inserted) makes room, so a flood from many sources (random, spoofed) costs a fixed
//! amount of memory; what it evicts is counting state, and losing it only lets a source
//! start counting again.

use std::collections::VecDeque;
use std::hash::Hash;

use ahash::HashMap;

/// A bounded map (see the module docs).
#[derive(Debug)]
pub(crate) struct Table<K, V> {
    capacity: usize,
    entries: HashMap<K, (V, u64)>,
    /// Keys in insertion order with the sequence number of their insertion: a key removed
    /// and inserted again has a newer number, and its old place is skipped.
    order: VecDeque<(K, u64)>,
    next: u64,
}

impl<K: Hash + Eq + Clone, V> Table<K, V> {
    /// A table of at most `capacity` entries (at least 1).
    pub(crate) fn new(capacity: usize) -> Table<K, V> {
        Table {
            capacity: capacity.max(1),
            entries: HashMap::default(),
            order: VecDeque::new(),
            next: 0,
        }
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry of `key`.
    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(v, _)| v)
    }

    /// The entry of `key`, to change.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(v, _)| v)
    }

    /// The entry of `key`, made by `make` when missing (evicting the oldest when full).
    pub(crate) fn entry(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.entries.contains_key(&key) {
            while self.entries.len() >= self.capacity {
                self.evict_oldest();
            }
        }
        let order = &mut self.order;
        let next = &mut self.next;
        let (v, _) = self.entries.entry(key.clone()).or_insert_with(|| {
            let seq = *next;
            *next += 1;
            order.push_back((key, seq));
            (make(), seq)
        });
        v
    }

    /// Removes the entry of `key`.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let removed = self.entries.remove(key).map(|(v, _)| v);
        self.compact();
        removed
    }

    fn evict_oldest(&mut self) {
        while let Some((key, seq)) = self.order.pop_front() {
            if self.entries.get(&key).is_some_and(|(_, s)| *s == seq) {
                self.entries.remove(&key);
                return;
            }
        }
    }

    /// Keeps the entries for which `keep` is true.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain(|k, (v, _)| keep(k, v));
        self.compact();
    }

    /// Drops the places of removed keys once they outnumber the entries.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.entries.len() + 16 {
            let entries = &self.entries;
            self.order
                .retain(|(k, seq)| entries.get(k).is_some_and(|(_, s)| s == seq));
        }
    }

    #[cfg(test)]
    /// The entries.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, (v, _))| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_oldest_first() {
        let mut t: Table<u32, u32> = Table::new(3);
        for k in 0..3 {
            *t.entry(k, || 0) += 1;
        }
        *t.entry(0, || 0) += 1;
        assert_eq!(t.get(&0), Some(&2));
        t.entry(3, || 9);
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(&0), None, "the oldest went");
        t.remove(&1);
        t.entry(1, || 5);
        t.entry(4, || 5);
        // 2 is now the oldest; 1 was inserted again after 3.
        assert_eq!(t.get(&2), None);
        assert_eq!(t.get(&1), Some(&5));
        for k in 100..100_000 {
            t.entry(k, || 0);
        }
        assert_eq!(t.len(), 3);
        assert!(t.order.len() <= 3 * 2 + 16);
    }
}
