//! Keyed bijections on `0..limit`, used to turn sequential counters into identifiers that
//! look random but can never collide (a Feistel network with cycle walking).

use super::rng::splitmix64;

/// Round keys of a 4-round Feistel network.
pub(crate) type FeistelKeys = [u64; 4];

/// Derives round keys from a seed and a purpose label, so each use gets its own cipher.
pub(crate) fn feistel_keys(seed: u64, purpose: u64) -> FeistelKeys {
    let mut state = seed ^ purpose;
    [(); 4].map(|()| splitmix64(&mut state))
}

/// Maps `value` (which must be below `limit`, and `limit <= 2^(2·half_bits)`) to a
/// distinct value below `limit`. For a fixed key, tweak and width this is a permutation:
/// each Feistel pass is a bijection on `2·half_bits` bits, and re-applying it while the
/// result is out of range (cycle walking) restricts it to `0..limit`.
pub(crate) fn permute_below(
    keys: &FeistelKeys,
    tweak: u64,
    value: u32,
    half_bits: u32,
    limit: u32,
) -> u32 {
    let mask = (1u32 << half_bits) - 1;
    let mut x = value;
    loop {
        let mut left = x >> half_bits;
        let mut right = x & mask;
        for key in keys {
            let mut state = key ^ tweak.rotate_left(17) ^ u64::from(right);
            let f = (splitmix64(&mut state) as u32) & mask;
            (left, right) = (right, left ^ f);
        }
        x = (left << half_bits) | right;
        if x < limit {
            return x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_bijection_on_the_range() {
        let keys = feistel_keys(1, 2);
        for (half_bits, limit) in [(10, 1_000_000), (6, 4_000), (3, 64)] {
            let mut seen = vec![false; limit as usize];
            for v in 0..limit {
                let p = permute_below(&keys, 99, v, half_bits, limit) as usize;
                assert!(!seen[p], "{v} collides for limit {limit}");
                seen[p] = true;
            }
        }
    }

    #[test]
    fn depends_on_key_and_tweak() {
        let a = feistel_keys(1, 2);
        let b = feistel_keys(2, 2);
        let differs =
            |f: &dyn Fn(u32) -> u32, g: &dyn Fn(u32) -> u32| (0..100).any(|v| f(v) != g(v));
        assert!(differs(&|v| permute_below(&a, 0, v, 10, 1_000_000), &|v| {
            permute_below(&b, 0, v, 10, 1_000_000)
        }));
        assert!(differs(&|v| permute_below(&a, 0, v, 10, 1_000_000), &|v| {
            permute_below(&a, 1, v, 10, 1_000_000)
        }));
    }
}
