//! The 54 ethnic groups of Vietnam (dân tộc), recorded for every citizen in the national
//! population database (Law on Identification 2023).
//!
//! Codes and order follow the General Statistics Office list (Decision 121-TCTK/PPCĐ,
//! 1979): REPORTED, kept as data in `data/ethnicities.tsv` together with approximate
//! 2019-census population shares used only by the synthetic population generator.

use std::sync::LazyLock;

use crate::fold::fold;

/// The code of the Kinh, the majority group.
pub const KINH: u8 = 1;

/// One of the 54 ethnic groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ethnicity {
    /// Official 2-digit code, 1–54 (01 = Kinh).
    pub code: u8,
    /// Vietnamese name, e.g. "Gia Rai".
    pub name: &'static str,
}

struct Entry {
    ethnicity: Ethnicity,
    /// Share per 100,000 people (REPORTED, approximate 2019 census).
    share_per_100k: u32,
    /// Matching keys: folded name and aliases without spaces, hyphens or apostrophes.
    keys: Vec<String>,
}

struct Table {
    entries: Vec<Entry>,
    list: Vec<Ethnicity>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| match load() {
    Ok(table) => table,
    // Compiled-in data checked by the unit tests; malformed data is a build defect.
    Err(message) => panic!("invalid compiled-in ethnicity table: {message}"),
});

/// Matching key: folded, with spaces, hyphens and apostrophes removed ("H'Mông" → "hmong").
fn key(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '\'' | '’' | '‘' | '–'))
        .collect()
}

fn load() -> Result<Table, String> {
    let mut entries: Vec<Entry> = Vec::new();
    for (line, fields) in crate::table::rows(include_str!("../data/ethnicities.tsv")) {
        let [code, name, share, aliases] = fields[..] else {
            return Err(format!("line {line}: expected 4 columns"));
        };
        let code = code
            .parse::<u8>()
            .map_err(|_| format!("line {line}: bad code"))?;
        if usize::from(code) != entries.len() + 1 {
            return Err(format!(
                "line {line}: codes must run 01, 02, … without gaps"
            ));
        }
        let share_per_100k = share
            .parse::<u32>()
            .map_err(|_| format!("line {line}: bad share"))?;
        let mut keys = vec![key(name)];
        keys.extend(aliases.split(',').filter(|a| !a.trim().is_empty()).map(key));
        entries.push(Entry {
            ethnicity: Ethnicity { code, name },
            share_per_100k,
            keys,
        });
    }
    if entries.len() != 54 {
        return Err(format!("expected 54 groups, found {}", entries.len()));
    }
    let list = entries.iter().map(|e| e.ethnicity.clone()).collect();
    Ok(Table { entries, list })
}

/// All 54 groups in official code order.
pub fn ethnicities() -> &'static [Ethnicity] {
    &TABLE.list
}

/// The group with this code (1–54).
pub fn ethnicity(code: u8) -> Option<&'static Ethnicity> {
    TABLE.list.get(usize::from(code).checked_sub(1)?)
}

/// Looks a group up by name or a common alternative spelling, ignoring case, diacritics,
/// spaces, hyphens and apostrophes: "hmong", "H'Mông" and "Mông" all give code 08.
pub fn ethnicity_by_name(name: &str) -> Option<&'static Ethnicity> {
    let wanted = key(name);
    if wanted.is_empty() {
        return None;
    }
    TABLE
        .entries
        .iter()
        .find(|e| e.keys.contains(&wanted))
        .map(|e| &e.ethnicity)
}

/// Approximate share of the population per 100,000 people (REPORTED, 2019 census), for
/// weighting synthetic data; `None` for an unknown code.
pub fn population_share_per_100k(code: u8) -> Option<u32> {
    TABLE
        .entries
        .get(usize::from(code).checked_sub(1)?)
        .map(|e| e.share_per_100k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_with_54_groups() {
        assert!(load().is_ok(), "{:?}", load().err());
        assert_eq!(ethnicities().len(), 54);
    }

    #[test]
    fn official_codes_at_known_positions() {
        let name = |code| ethnicity(code).map(|e| e.name);
        assert_eq!(name(KINH), Some("Kinh"));
        assert_eq!(name(2), Some("Tày"));
        assert_eq!(name(4), Some("Hoa"));
        assert_eq!(name(5), Some("Khmer"));
        assert_eq!(name(8), Some("Mông"));
        assert_eq!(name(10), Some("Gia Rai"));
        assert_eq!(name(54), Some("Rơ Măm"));
        assert_eq!(ethnicity(0), None);
        assert_eq!(ethnicity(55), None);
    }

    #[test]
    fn lookup_by_name_ignores_diacritics_case_and_punctuation() {
        let code = |s| ethnicity_by_name(s).map(|e| e.code);
        assert_eq!(code("kinh"), Some(1));
        assert_eq!(code("TAY"), Some(2));
        assert_eq!(code("thai"), Some(3));
        assert_eq!(code("H'Mông"), Some(8));
        assert_eq!(code("hmong"), Some(8));
        assert_eq!(code("Khơ-me"), Some(5));
        assert_eq!(code("ede"), Some(12));
        assert_eq!(code("Bru - Vân Kiều"), Some(23));
        assert_eq!(code("Xinh Mun"), Some(34));
        assert_eq!(code("Klingon"), None);
        assert_eq!(code(""), None);
    }

    #[test]
    fn keys_are_unambiguous() {
        let mut seen = std::collections::HashMap::new();
        for entry in &TABLE.entries {
            for k in &entry.keys {
                if let Some(other) = seen.insert(k.clone(), entry.ethnicity.code) {
                    assert_eq!(other, entry.ethnicity.code, "key {k} is ambiguous");
                }
            }
        }
    }

    #[test]
    fn shares_follow_the_2019_census_roughly() {
        let total: u32 = (1..=54).filter_map(population_share_per_100k).sum();
        assert!((99_000..=101_000).contains(&total), "shares sum to {total}");
        assert_eq!(population_share_per_100k(1), Some(85_320));
        assert!(population_share_per_100k(2) > population_share_per_100k(4));
    }
}
