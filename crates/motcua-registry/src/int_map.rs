//! Maps keyed by PIDs and household ids, hashed with one multiply instead of SipHash.

use std::collections::HashMap;

/// A hasher for PIDs and other integer keys: one multiply instead of SipHash.
#[derive(Default)]
pub(crate) struct PidHasher(u64);

impl std::hash::Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.0 = (v as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

/// A map keyed by integers, hashed with [`PidHasher`].
pub(crate) type IntMap<V> = HashMap<i64, V, std::hash::BuildHasherDefault<PidHasher>>;
