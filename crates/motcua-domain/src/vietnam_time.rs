//! Vietnam's civil time: UTC+7 all year (Indochina Time, no daylight saving). Times are
//! stored in UTC; dates that the law counts (ages, days, deadlines) are dates in Vietnam.

use chrono::NaiveDate;

/// Seconds east of UTC.
pub const OFFSET_SECS: i64 = 7 * 3600;

/// The date in Vietnam at a time in microseconds since the Unix epoch (UTC).
pub fn date_at(unix_us: i64) -> NaiveDate {
    let local_secs = unix_us.div_euclid(1_000_000) + OFFSET_SECS;
    chrono::DateTime::from_timestamp(local_secs, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_changes_at_17_00_utc() {
        // 2026-12-03 16:59:59 UTC is 23:59:59 in Hà Nội; a second later it is the 4th.
        let before = 1_796_317_199_000_000;
        assert_eq!(date_at(before).to_string(), "2026-12-03");
        assert_eq!(date_at(before + 1_000_000).to_string(), "2026-12-04");
    }
}
