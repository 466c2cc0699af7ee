//! Hands out personal identification numbers that are unique for a whole run.
//!
//! Every 9-digit prefix `PPP G YY` owns the 1,000,000 serials `RRRRRR`. A counter per
//! prefix is pushed through a keyed bijection of `0..1_000_000` (a 20-bit Feistel network
//! with cycle walking), so serials look random yet never repeat, and the memory used is
//! one `u32` per prefix (63 × 10 × 100 counters ≈ 250 KB) however many people are made.

use crate::gender::Gender;
use crate::pid::{Pid, SERIAL_LIMIT};
use crate::provinces;

use super::permutation::{FeistelKeys, feistel_keys, permute_below};

/// 2 × 10 bits cover the 1,000,000 serials.
const HALF_BITS: u32 = 10;

/// Per-run allocator of unique PIDs.
#[derive(Debug, Clone)]
pub(crate) struct PidAllocator {
    /// Province code → slot in `counters`, `u8::MAX` for unknown codes.
    slot_of_code: [u8; 1000],
    counters: Vec<u32>,
    keys: FeistelKeys,
}

impl PidAllocator {
    pub(crate) fn new(seed: u64) -> PidAllocator {
        let mut slot_of_code = [u8::MAX; 1000];
        for (slot, province) in provinces::provinces().iter().enumerate() {
            if let (Some(entry), Ok(slot)) = (
                slot_of_code.get_mut(usize::from(province.code)),
                u8::try_from(slot),
            ) {
                *entry = slot;
            }
        }
        PidAllocator {
            slot_of_code,
            counters: vec![0; provinces::provinces().len() * 10 * 100],
            keys: feistel_keys(seed, 0x5049_445F_414C_4C4F), // "PID_ALLO"
        }
    }

    /// A fresh PID for someone born in `birth_year` whose birth was registered in
    /// `province_code`; `None` if the code is unknown, the year unencodable or all
    /// 1,000,000 serials of that prefix are used.
    pub(crate) fn allocate(
        &mut self,
        province_code: u16,
        gender: Gender,
        birth_year: i32,
    ) -> Option<Pid> {
        let probe = Pid::compose(province_code, gender, birth_year, 0).ok()?;
        let slot = usize::from(*self.slot_of_code.get(usize::from(province_code))?);
        let digit = usize::from(probe.gender_century_digit());
        let yy = usize::try_from(birth_year.rem_euclid(100)).ok()?;
        let counter = self.counters.get_mut((slot * 10 + digit) * 100 + yy)?;
        if *counter >= SERIAL_LIMIT {
            return None;
        }
        let index = *counter;
        *counter += 1;
        let tweak = probe.as_i64().unsigned_abs();
        let serial = permute_below(&self.keys, tweak, index, HALF_BITS, SERIAL_LIMIT);
        Pid::compose(province_code, gender, birth_year, serial).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_unique_valid_and_exhaust_cleanly() {
        let mut allocator = PidAllocator::new(3);
        let mut seen = std::collections::HashSet::new();
        for i in 0..50_000 {
            let year = 1990 + (i % 3);
            let pid = allocator.allocate(1, Gender::Female, year).unwrap();
            assert_eq!(
                crate::pid::check_consistency(pid, Gender::Female, year),
                Ok(())
            );
            assert_eq!(pid.province_code(), 1);
            assert!(seen.insert(pid));
        }
        assert!(
            allocator.allocate(3, Gender::Male, 1990).is_none(),
            "unknown province"
        );
        assert!(
            allocator.allocate(1, Gender::Male, 1850).is_none(),
            "unencodable year"
        );
        // Exhaust one prefix by jumping its counter.
        let slot = usize::from(allocator.slot_of_code[96]);
        allocator.counters[(slot * 10) * 100 + 80] = SERIAL_LIMIT - 1;
        assert!(allocator.allocate(96, Gender::Male, 1980).is_some());
        assert!(allocator.allocate(96, Gender::Male, 1980).is_none());
    }
}
