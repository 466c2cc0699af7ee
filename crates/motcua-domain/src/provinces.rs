//! Provincial-level administrative units: the 63 used in personal identification numbers
//! and the 34 that replaced them on 1/7/2025.
//!
//! Digits 1–3 of a personal identification number are the code of the province where the
//! birth was registered (Circular 07/2016/TT-BCA); numbers issued before the 2025
//! rearrangement keep the 63 old codes, so the old table stays the validation table.
//! The 2025 units (National Assembly Resolution 202/2025/QH15) are mapped from the old
//! ones for addresses and statistics. Both tables are data files in `data/`; the codes of
//! the 34 new units are UNCONFIRMED configuration (see `data/provinces_2025.tsv`).

use std::collections::HashMap;
use std::sync::LazyLock;

/// A pre-2025 province or centrally-run city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Province {
    /// Code used in digits 1–3 of the personal identification number (1–96).
    pub code: u16,
    /// Official short name with diacritics, e.g. "Bà Rịa – Vũng Tàu".
    pub name: &'static str,
    /// Residents in thousands, approximately the 2019 census (REPORTED; a weight only).
    pub population: u32,
}

/// A provincial-level unit after the 2025 rearrangement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Province2025 {
    /// UNCONFIRMED code (configuration in `data/provinces_2025.tsv`).
    pub code: u16,
    /// Name of the unit, e.g. "Huế".
    pub name: &'static str,
}

struct Tables {
    old: Vec<Province>,
    new: Vec<Province2025>,
    /// Index into `new` for each old code.
    successor: HashMap<u16, usize>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| match load() {
    Ok(tables) => tables,
    // The tables are compiled in and checked by the unit tests; a malformed table is a
    // build defect, so failing loudly at first use is the right outcome.
    Err(message) => panic!("invalid compiled-in province table: {message}"),
});

fn parse_code(text: &str, line: usize) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .map_err(|_| format!("line {line}: bad code {text:?}"))
}

fn load() -> Result<Tables, String> {
    let mut old = Vec::new();
    for (line, fields) in crate::table::rows(include_str!("../data/provinces_63.tsv")) {
        let [code, name, population] = fields[..] else {
            return Err(format!("provinces_63 line {line}: expected 3 columns"));
        };
        let population = population
            .parse::<u32>()
            .map_err(|_| format!("provinces_63 line {line}: bad population"))?;
        old.push(Province {
            code: parse_code(code, line)?,
            name,
            population,
        });
    }
    if old.windows(2).any(|w| w[0].code >= w[1].code) {
        return Err("provinces_63: codes must be strictly increasing".into());
    }

    let mut new = Vec::new();
    let mut successor = HashMap::new();
    for (line, fields) in crate::table::rows(include_str!("../data/provinces_2025.tsv")) {
        let [code, name, predecessors] = fields[..] else {
            return Err(format!("provinces_2025 line {line}: expected 3 columns"));
        };
        let index = new.len();
        new.push(Province2025 {
            code: parse_code(code, line)?,
            name,
        });
        for predecessor in predecessors.split(',') {
            let old_code = parse_code(predecessor, line)?;
            if old.binary_search_by_key(&old_code, |p| p.code).is_err() {
                return Err(format!(
                    "provinces_2025 line {line}: unknown old code {old_code}"
                ));
            }
            if successor.insert(old_code, index).is_some() {
                return Err(format!(
                    "provinces_2025 line {line}: {old_code} mapped twice"
                ));
            }
        }
    }
    if successor.len() != old.len() {
        return Err("provinces_2025: not every old province has a successor".into());
    }
    Ok(Tables {
        old,
        new,
        successor,
    })
}

/// The 63 pre-2025 provinces, ordered by code.
pub fn provinces() -> &'static [Province] {
    &TABLES.old
}

/// The pre-2025 province with this code (the code in digits 1–3 of a PID), if any.
pub fn province(code: u16) -> Option<&'static Province> {
    let old = &TABLES.old;
    old.binary_search_by_key(&code, |p| p.code)
        .ok()
        .map(|i| &old[i])
}

/// The 34 provincial-level units in force since 1/7/2025 (Resolution 202/2025/QH15).
pub fn provinces_2025() -> &'static [Province2025] {
    &TABLES.new
}

/// The 2025 unit that absorbed the pre-2025 province `old_code`.
pub fn successor_2025(old_code: u16) -> Option<&'static Province2025> {
    let tables = &*TABLES;
    tables.successor.get(&old_code).map(|&i| &tables.new[i])
}

/// The pre-2025 provinces merged into the 2025 unit `new_code`, ordered by code; empty
/// for an unknown code.
pub fn predecessors_2025(new_code: u16) -> Vec<&'static Province> {
    let tables = &*TABLES;
    let Some(index) = tables.new.iter().position(|p| p.code == new_code) else {
        return Vec::new();
    };
    tables
        .old
        .iter()
        .filter(|p| tables.successor.get(&p.code) == Some(&index))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tables_parse() {
        assert!(load().is_ok(), "{:?}", load().err());
    }

    #[test]
    fn there_are_63_old_provinces_with_the_documented_codes() {
        assert_eq!(provinces().len(), 63);
        assert_eq!(province(1).map(|p| p.name), Some("Hà Nội"));
        assert_eq!(province(79).map(|p| p.name), Some("TP Hồ Chí Minh"));
        assert_eq!(province(77).map(|p| p.name), Some("Bà Rịa – Vũng Tàu"));
        assert_eq!(province(46).map(|p| p.name), Some("Thừa Thiên Huế"));
        assert_eq!(province(96).map(|p| p.name), Some("Cà Mau"));
        for missing in [0, 3, 5, 13, 97, 999] {
            assert!(province(missing).is_none(), "{missing}");
        }
        let total: u32 = provinces().iter().map(|p| p.population).sum();
        assert!(
            (90_000..100_000).contains(&total),
            "2019 census ≈ 96.2 million, got {total}k"
        );
    }

    #[test]
    fn sixty_three_map_onto_exactly_thirty_four() {
        assert_eq!(provinces_2025().len(), 34);
        let images: HashSet<u16> = provinces()
            .iter()
            .map(|p| successor_2025(p.code).map(|s| s.code))
            .collect::<Option<_>>()
            .unwrap_or_default();
        assert_eq!(images.len(), 34);
        let mut total = 0;
        for unit in provinces_2025() {
            let predecessors = predecessors_2025(unit.code);
            assert!(!predecessors.is_empty(), "{} has no predecessor", unit.name);
            assert!(predecessors.len() <= 3, "{}", unit.name);
            total += predecessors.len();
        }
        assert_eq!(total, 63);
        let unchanged = provinces_2025()
            .iter()
            .filter(|u| predecessors_2025(u.code).len() == 1);
        assert_eq!(unchanged.count(), 11);
    }

    #[test]
    fn known_merger_examples() {
        let names =
            |code| -> Vec<&str> { predecessors_2025(code).iter().map(|p| p.name).collect() };
        assert_eq!(
            names(79),
            ["Bình Dương", "Bà Rịa – Vũng Tàu", "TP Hồ Chí Minh"]
        );
        assert_eq!(names(37), ["Hà Nam", "Nam Định", "Ninh Bình"]);
        assert_eq!(successor_2025(15).map(|p| p.name), Some("Lào Cai"));
        assert_eq!(successor_2025(46).map(|p| p.name), Some("Huế"));
        assert_eq!(successor_2025(91).map(|p| p.name), Some("An Giang"));
        assert!(successor_2025(3).is_none());
        assert!(
            predecessors_2025(15).is_empty(),
            "Yên Bái's code is not a 2025 unit here"
        );
    }
}
