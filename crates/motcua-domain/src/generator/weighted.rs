//! Sampling from a fixed discrete distribution by cumulative weights and binary search.

use super::rng::Rng;

/// Items with integer weights, sampled in O(log n).
#[derive(Debug, Clone)]
pub(crate) struct Weighted<T> {
    items: Vec<T>,
    cumulative: Vec<u32>,
}

impl<T: Copy> Weighted<T> {
    /// Builds the table; items with weight 0 are never drawn.
    pub(crate) fn new(pairs: impl IntoIterator<Item = (T, u32)>) -> Weighted<T> {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0u32;
        for (item, weight) in pairs {
            if weight == 0 {
                continue;
            }
            total = total.saturating_add(weight);
            items.push(item);
            cumulative.push(total);
        }
        Weighted { items, cumulative }
    }

    /// Draws one item, or `None` if the table is empty.
    pub(crate) fn sample(&self, rng: &mut Rng) -> Option<T> {
        let total = *self.cumulative.last()?;
        let r = rng.below(total);
        let i = self.cumulative.partition_point(|&c| c <= r);
        self.items.get(i).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_follow_weights_and_zero_weights_are_skipped() {
        let table = Weighted::new([('a', 1), ('z', 0), ('b', 3)]);
        let mut rng = Rng::new(1);
        let mut counts = [0u32; 2];
        for _ in 0..40_000 {
            match table.sample(&mut rng) {
                Some('a') => counts[0] += 1,
                Some('b') => counts[1] += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!((9_000..11_000).contains(&counts[0]), "{counts:?}");
        assert!(Weighted::<u8>::new([]).sample(&mut rng).is_none());
    }
}
