//! Small, fast, reproducible pseudo-random generator: xoshiro256** seeded through
//! splitmix64 (Blackman & Vigna). In-crate so the synthetic population is byte-identical
//! for a seed across platforms and dependency upgrades. Not for secrets.

/// One splitmix64 step: advances `state` and returns a well-mixed output.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** state.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seeds the four state words from splitmix64, as the authors recommend (never all 0).
    pub(crate) fn new(seed: u64) -> Rng {
        let mut sm = seed;
        Rng {
            s: [
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
            ],
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (multiply-shift; the bias of at most n/2^32 is irrelevant here).
    /// Returns 0 for `n == 0`.
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }

    /// Uniform index into a slice of length `len`.
    pub(crate) fn index(&mut self, len: usize) -> usize {
        self.below(u32::try_from(len).unwrap_or(u32::MAX)) as usize
    }

    /// Uniform in `lo..=hi`; `lo` when `hi < lo`.
    pub(crate) fn between(&mut self, lo: i32, hi: i32) -> i32 {
        if hi <= lo {
            return lo;
        }
        let span = u32::try_from(i64::from(hi) - i64::from(lo) + 1).unwrap_or(u32::MAX);
        lo + i32::try_from(self.below(span)).unwrap_or(0)
    }

    /// True with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille
    }

    /// A uniformly chosen element; `slice` must not be empty.
    pub(crate) fn pick<T: Copy>(&mut self, slice: &[T]) -> Option<T> {
        slice.get(self.index(slice.len())).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_value() {
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn xoshiro256starstar_reference_values() {
        let mut rng = Rng { s: [1, 2, 3, 4] };
        assert_eq!(rng.next_u64(), 11520);
        assert_eq!(rng.next_u64(), 0);
        assert_eq!(rng.next_u64(), 1_509_978_240);
        assert_eq!(rng.next_u64(), 1_215_971_899_390_074_240);
    }

    #[test]
    fn helpers_stay_in_range_and_are_reproducible() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..10_000 {
            let x = a.between(-3, 5);
            assert!((-3..=5).contains(&x));
            assert_eq!(x, b.between(-3, 5));
            assert!(a.below(10) < 10);
            b.below(10);
        }
        assert_eq!(a.below(0), 0);
        assert_eq!(a.between(4, 4), 4);
        assert_eq!(a.pick::<u8>(&[]), None);
        let hits = (0..10_000).filter(|_| a.chance(250)).count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
    }
}
