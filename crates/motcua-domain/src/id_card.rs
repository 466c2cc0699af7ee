//! Validity of the chip citizen ID card (thẻ Căn cước công dân / thẻ căn cước).
//!
//! A card must be renewed when its holder reaches each milestone age; a card issued,
//! renewed or replaced within 2 years before a milestone stays valid until the next one
//! (Law on Citizen Identification 2014, Art. 21; the Law on Identification 2023, Art. 21
//! keeps the rule and adds the age of 14). The milestone ages are configuration: pass
//! your own list to [`id_card_expiry_with`].

use chrono::NaiveDate;

use crate::birth_date::anniversary;

/// Renewal ages of the Law on Citizen Identification 2014, Art. 21. Configuration: the
/// default used by [`id_card_expiry`].
pub const RENEWAL_AGES: &[u32] = &[25, 40, 60];

/// Renewal ages of the Law on Identification 2023, Art. 21 (adds 14). Configuration.
pub const RENEWAL_AGES_2023: &[u32] = &[14, 25, 40, 60];

/// A card issued this many years or less before a milestone skips that milestone.
pub const GRACE_YEARS: u32 = 2;

/// Expiry date of a card issued on `issued_on` to a holder born on `date_of_birth`, under
/// [`RENEWAL_AGES`]; `None` when the card never expires (issued at 58 or later).
///
/// The expiry date is the holder's birthday at the milestone age; for a 29 February
/// birth it is 28 February in a common year (see [`anniversary`]). A card issued exactly
/// 2 years before a milestone birthday already counts as "within 2 years".
pub fn id_card_expiry(date_of_birth: NaiveDate, issued_on: NaiveDate) -> Option<NaiveDate> {
    id_card_expiry_with(date_of_birth, issued_on, RENEWAL_AGES)
}

/// [`id_card_expiry`] with an explicit list of milestone ages (any order).
///
/// An `issued_on` before `date_of_birth` is treated like an issue at birth.
pub fn id_card_expiry_with(
    date_of_birth: NaiveDate,
    issued_on: NaiveDate,
    renewal_ages: &[u32],
) -> Option<NaiveDate> {
    let mut ages = renewal_ages.to_vec();
    ages.sort_unstable();
    ages.into_iter().find_map(|age| {
        let due = anniversary(date_of_birth, age)?;
        let grace_start = anniversary(date_of_birth, age.saturating_sub(GRACE_YEARS))?;
        (issued_on < grace_start).then_some(due)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    const BORN: (i32, u32, u32) = (1990, 5, 17);

    fn expiry(issued: NaiveDate) -> Option<NaiveDate> {
        id_card_expiry(date(BORN.0, BORN.1, BORN.2), issued)
    }

    #[test]
    fn expires_at_the_next_milestone_birthday() {
        assert_eq!(expiry(date(2008, 1, 1)), Some(date(2015, 5, 17)));
        assert_eq!(expiry(date(2020, 1, 1)), Some(date(2030, 5, 17)));
        assert_eq!(expiry(date(2031, 1, 1)), Some(date(2050, 5, 17)));
    }

    #[test]
    fn two_year_window_before_a_milestone_skips_it() {
        // Day before the 23rd birthday: still expires at 25.
        assert_eq!(expiry(date(2013, 5, 16)), Some(date(2015, 5, 17)));
        // On the 23rd birthday: within 2 years, valid until 40.
        assert_eq!(expiry(date(2013, 5, 17)), Some(date(2030, 5, 17)));
        // Issued on the 25th birthday itself: the milestone is reached, next is 40.
        assert_eq!(expiry(date(2015, 5, 17)), Some(date(2030, 5, 17)));
        assert_eq!(expiry(date(2028, 5, 16)), Some(date(2030, 5, 17)));
        assert_eq!(expiry(date(2028, 5, 17)), Some(date(2050, 5, 17)));
    }

    #[test]
    fn issued_at_58_or_later_never_expires() {
        assert_eq!(expiry(date(2048, 5, 16)), Some(date(2050, 5, 17)));
        assert_eq!(expiry(date(2048, 5, 17)), None);
        assert_eq!(expiry(date(2055, 1, 1)), None);
    }

    #[test]
    fn leap_day_birth_expires_on_28_february() {
        let born = date(2000, 2, 29);
        assert_eq!(
            id_card_expiry(born, date(2016, 3, 1)),
            Some(date(2025, 2, 28))
        );
        assert_eq!(
            id_card_expiry(born, date(2024, 1, 1)),
            Some(date(2040, 2, 29))
        );
    }

    #[test]
    fn milestones_are_configurable() {
        let born = date(2012, 8, 1);
        assert_eq!(
            id_card_expiry_with(born, date(2020, 1, 1), RENEWAL_AGES_2023),
            Some(date(2026, 8, 1))
        );
        assert_eq!(
            id_card_expiry_with(born, date(2020, 1, 1), &[60, 14, 40, 25]),
            Some(date(2026, 8, 1))
        );
        assert_eq!(
            id_card_expiry(born, date(2020, 1, 1)),
            Some(date(2037, 8, 1))
        );
        assert_eq!(id_card_expiry_with(born, date(2020, 1, 1), &[]), None);
    }
}
