//! [`Random`]: the engine's source of unpredictable numbers (nonce seeds, branch IDs), a
//! splitmix64 sequence over a seed the shell draws from the operating system, so the
//! engine reads no entropy itself and its tests are repeatable.

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Random {
    seed: u64,
    counter: u64,
}

impl Random {
    /// A sequence from `seed`.
    pub(crate) fn new(seed: u64) -> Random {
        Random { seed, counter: 0 }
    }

    /// The next number: differs on every call, unpredictable without the seed.
    pub(crate) fn next(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        let mut z = self
            .seed
            .wrapping_add(self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
