//! [`PrefixTable`]: longest-prefix match of dialled numbers, and number normalisation.
//!
//! A sorted-prefix structure rather than a trie: every prefix (at most
//! [`MAX_PREFIX_DIGITS`] digits) is packed into a `u64`, four bits per digit (digit + 1, so
//! a shorter prefix pads with zeros and sorts before its extensions), and the keys are kept
//! sorted with, for each, the index of its longest proper prefix in the table (its parent).
//! Sorted this way the table is the trie's pre-order walk, and the longest prefix of a number
//! is on the parent chain of the number's predecessor: one binary search over a dense `u64`
//! array, then a walk of at most a few parents, each a mask-and-compare. 13 bytes per
//! prefix plus the value (17 with a plan's `u32` destination index), against tens for a
//! pointer trie; 10,000 prefixes fit in L2.
//!
//! Why the predecessor's chain holds the answer: let `q` be the longest prefix of number `n`
//! in the table and `p` the greatest key `≤ n`. Then `q ≤ p ≤ n`, and every string between
//! `q` and an extension of `q` extends `q`, so `q` is a prefix of `p`, hence on `p`'s parent
//! chain; any longer entry on that chain that were a prefix of `n` would contradict `q`.

use crate::error::Error;

/// The longest prefix a table holds: E.164 numbers have at most 15 digits.
pub const MAX_PREFIX_DIGITS: usize = 16;

const NO_PARENT: u32 = u32::MAX;

/// Prefixes to values, longest match first.
#[derive(Debug, Clone)]
pub struct PrefixTable<V> {
    keys: Vec<u64>,
    /// Digits in each key.
    lens: Vec<u8>,
    parents: Vec<u32>,
    values: Vec<V>,
}

/// Two entries of a table's input with the same prefix: their indices in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicatePrefix {
    /// The earlier entry.
    pub first: usize,
    /// The later one.
    pub second: usize,
}

impl<V> Default for PrefixTable<V> {
    fn default() -> Self {
        PrefixTable {
            keys: Vec::new(),
            lens: Vec::new(),
            parents: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl<V> PrefixTable<V> {
    /// Builds a table from normalised prefixes (digits only, at most
    /// [`MAX_PREFIX_DIGITS`]; the empty prefix matches every number). Use
    /// [`normalize_prefix`] first. A prefix given twice is an error naming both entries.
    pub fn build(entries: Vec<(&str, V)>) -> Result<PrefixTable<V>, DuplicatePrefix> {
        let mut keyed: Vec<(u64, u8, usize, V)> = entries
            .into_iter()
            .enumerate()
            .map(|(i, (p, v))| (pack(p), p.len().min(MAX_PREFIX_DIGITS) as u8, i, v))
            .collect();
        keyed.sort_by_key(|e| (e.0, e.2));
        for w in keyed.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(DuplicatePrefix {
                    first: w[0].2,
                    second: w[1].2,
                });
            }
        }
        let n = keyed.len();
        let mut t = PrefixTable {
            keys: Vec::with_capacity(n),
            lens: Vec::with_capacity(n),
            parents: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
        };
        // The trie's ancestors of the current key, innermost last.
        let mut stack: Vec<u32> = Vec::new();
        for (i, (key, len, _, v)) in keyed.into_iter().enumerate() {
            while let Some(&top) = stack.last() {
                let top = top as usize;
                if is_prefix(t.keys[top], t.lens[top], key) {
                    break;
                }
                stack.pop();
            }
            t.parents.push(stack.last().copied().unwrap_or(NO_PARENT));
            t.keys.push(key);
            t.lens.push(len);
            t.values.push(v);
            stack.push(i as u32);
        }
        Ok(t)
    }

    /// The value of the longest prefix of `digits` (a normalised number: ASCII digits) and
    /// that prefix's length, or `None`.
    #[inline]
    pub fn lookup(&self, digits: &str) -> Option<(usize, &V)> {
        let key = pack(digits);
        let after = self.keys.partition_point(|&k| k <= key);
        let mut i = after.checked_sub(1)? as u32;
        while i != NO_PARENT {
            let at = i as usize;
            let len = *self.lens.get(at)?;
            if is_prefix(self.keys[at], len, key) {
                return Some((usize::from(len), &self.values[at]));
            }
            i = self.parents[at];
        }
        None
    }

    /// Prefixes held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// No prefix held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every (prefix, value), in prefix order.
    pub fn iter(&self) -> impl Iterator<Item = (String, &V)> + '_ {
        self.keys
            .iter()
            .zip(&self.lens)
            .zip(&self.values)
            .map(|((&k, &l), v)| (unpack(k, l), v))
    }

    /// Heap bytes held by the table itself (not by what its values point to).
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * 8
            + self.lens.capacity()
            + self.parents.capacity() * 4
            + self.values.capacity() * std::mem::size_of::<V>()
    }
}

/// Four bits per digit, digit + 1, first digit in the top nibble; digits past
/// [`MAX_PREFIX_DIGITS`] are ignored (no prefix is longer). Non-digits pack as 0 and never
/// reach here: numbers and prefixes are normalised first.
#[inline]
fn pack(digits: &str) -> u64 {
    let mut key = 0u64;
    let mut shift = 60i32;
    for b in digits.bytes().take(MAX_PREFIX_DIGITS) {
        key |= u64::from(b.wrapping_sub(b'0').wrapping_add(1) & 0xf) << shift;
        shift -= 4;
    }
    key
}

fn unpack(key: u64, len: u8) -> String {
    (0..u32::from(len))
        .map(|i| {
            let nib = (key >> (60 - 4 * i)) & 0xf;
            char::from(b'0' + (nib as u8).saturating_sub(1))
        })
        .collect()
}

#[inline]
fn is_prefix(prefix: u64, len: u8, key: u64) -> bool {
    if len == 0 {
        return true;
    }
    let mask = !0u64 << (64 - 4 * u32::from(len));
    key & mask == prefix
}

/// A dialled number as the table wants it: the digits, without one leading `+`.
///
/// `+46812345` and `46812345` are the same number; `0046…` is not rewritten (a dial plan's
/// business, before rating). Anything but digits (after the `+`) is an error.
pub fn normalize_number(number: &str) -> Result<&str, Error> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::BadNumber {
            number: number.to_owned(),
        });
    }
    Ok(digits)
}

/// A prefix as a table wants it: digits without one leading `+`, at most
/// [`MAX_PREFIX_DIGITS`]; the problem in words otherwise.
pub fn normalize_prefix(prefix: &str) -> Result<&str, String> {
    let digits = prefix.strip_prefix('+').unwrap_or(prefix);
    if digits.is_empty() {
        return Err("the prefix is empty".into());
    }
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(format!(
            "prefix {prefix:?} has {c:?}: digits with an optional leading '+' expected"
        ));
    }
    if digits.len() > MAX_PREFIX_DIGITS {
        return Err(format!(
            "prefix {prefix:?} has {} digits, at most {MAX_PREFIX_DIGITS} are allowed",
            digits.len()
        ));
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(prefixes: &[&str]) -> PrefixTable<usize> {
        let entries = prefixes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        PrefixTable::build(entries).unwrap_or_default()
    }

    fn best<'a>(t: &PrefixTable<usize>, prefixes: &[&'a str], n: &str) -> Option<&'a str> {
        t.lookup(n).map(|(_, &i)| prefixes[i])
    }

    #[test]
    fn longest_prefix_wins() {
        let p = ["46", "468", "4681", "1", "49151", "49"];
        let t = table(&p);
        assert_eq!(best(&t, &p, "46812345"), Some("4681"));
        assert_eq!(best(&t, &p, "46823456"), Some("468"));
        assert_eq!(best(&t, &p, "4670000"), Some("46"));
        assert_eq!(best(&t, &p, "4915112"), Some("49151"));
        assert_eq!(best(&t, &p, "4916"), Some("49"));
        assert_eq!(best(&t, &p, "46"), Some("46"));
        assert_eq!(best(&t, &p, "4"), None);
        assert_eq!(best(&t, &p, "999"), None);
        assert_eq!(best(&t, &p, "0"), None);
        assert_eq!(t.lookup("4681999").map(|(len, _)| len), Some(4));
    }

    #[test]
    fn catch_all_and_siblings() {
        let p = ["", "12", "123", "1234", "124", "13"];
        let t = table(&p);
        assert_eq!(best(&t, &p, "1239"), Some("123"));
        assert_eq!(best(&t, &p, "1249"), Some("124"));
        assert_eq!(best(&t, &p, "125"), Some("12"));
        assert_eq!(best(&t, &p, "1"), Some(""));
        assert_eq!(best(&t, &p, "9"), Some(""));
        assert_eq!(best(&t, &p, "12345678901234567890"), Some("1234"));
    }

    #[test]
    fn brute_force_agreement() {
        // A pseudo-random table against the obvious linear scan.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let prefixes: Vec<String> = (0..500)
            .map(|_| {
                let len = 1 + (next() % 6) as usize;
                (0..len)
                    .map(|_| char::from(b'0' + (next() % 4) as u8))
                    .collect()
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        let t = table(&refs);
        for _ in 0..5000 {
            let n: String = (0..8)
                .map(|_| char::from(b'0' + (next() % 4) as u8))
                .collect();
            let want = refs
                .iter()
                .filter(|p| n.starts_with(**p))
                .max_by_key(|p| p.len());
            assert_eq!(best(&t, &refs, &n), want.copied(), "{n}");
        }
        assert_eq!(t.iter().map(|(p, _)| p).collect::<Vec<_>>(), prefixes);
    }

    #[test]
    fn duplicates_and_normalisation() {
        let e = PrefixTable::build(vec![("46", 0), ("1", 1), ("46", 2)]).err();
        assert_eq!(
            e,
            Some(DuplicatePrefix {
                first: 0,
                second: 2
            })
        );
        assert_eq!(normalize_number("+46812345"), Ok("46812345"));
        assert!(normalize_number("+").is_err());
        assert!(normalize_number("46-81").is_err());
        assert!(normalize_number("++46").is_err());
        assert_eq!(normalize_prefix("+49151"), Ok("49151"));
        assert!(normalize_prefix("4x").is_err());
        assert!(normalize_prefix("12345678901234567").is_err());
    }
}
