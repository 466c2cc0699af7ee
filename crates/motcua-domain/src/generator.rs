//! Deterministic synthetic population for demos, tests and load benchmarks.
//!
//! Households of 1–6 people (head, spouse, children, sometimes a parent of the head, a
//! grandchild, a sibling or an unrelated member) with coherent ages, Vietnamese names
//! drawn by real frequencies, residence weighted by province population, and valid,
//! run-unique personal identification numbers consistent with sex and year of birth
//! (Circular 07/2016/TT-BCA). Everything derives from one `u64` seed through an in-crate
//! PRNG, so the same seed always yields byte-identical people.
//!
//! Frequencies are REPORTED approximations (2019 census, published surname counts); the
//! generator is not a statistical model. Addresses use the pre-2025 province names, like
//! `residence_province`. Phones and e-mail addresses are unique within a run; e-mail uses
//! reserved example domains.

mod names;
mod permutation;
mod pid_allocator;
mod rng;
mod weighted;

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::birth_date::BirthDate;
use crate::ethnicity;
use crate::fold::fold;
use crate::gender::Gender;
use crate::pid::Pid;
use crate::provinces;

use names::Surname;
use permutation::{FeistelKeys, feistel_keys, permute_below};
use pid_allocator::PidAllocator;
use rng::Rng;
use weighted::Weighted;

/// Earliest year of birth generated.
pub const MIN_BIRTH_YEAR: i32 = 1930;
/// Latest year of birth generated; also the reference year for ages.
pub const MAX_BIRTH_YEAR: i32 = 2025;
/// Births in [`MAX_BIRTH_YEAR`] fall in months 1 to this (the data is "as of" mid-2025).
const LAST_MONTH_OF_MAX_YEAR: u32 = 6;
/// Province codes from Quảng Nam (049) southward use the southern surname spellings.
const FIRST_SOUTHERN_PROVINCE: u16 = 49;

/// A member's relation to the household head, as in the residence register (sổ hộ khẩu
/// practice; Law on Residence 2020 keeps household heads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// Chủ hộ.
    Head,
    /// Vợ or chồng of the head.
    Spouse,
    /// Con of the head.
    Child,
    /// Cha or mẹ of the head.
    Parent,
    /// Cháu (grandchild) of the head.
    Grandchild,
    /// Anh, chị or em of the head.
    Sibling,
    /// Any other member.
    Other,
}

/// Unknown relation text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("The relation to the household head \"{0}\" is not recognised.")]
pub struct RelationError(pub String);

impl Relation {
    /// All relations.
    pub const ALL: [Relation; 7] = [
        Relation::Head,
        Relation::Spouse,
        Relation::Child,
        Relation::Parent,
        Relation::Grandchild,
        Relation::Sibling,
        Relation::Other,
    ];

    /// Stable snake_case English code, e.g. `"grandchild"`.
    pub fn as_code(&self) -> &'static str {
        match self {
            Relation::Head => "head",
            Relation::Spouse => "spouse",
            Relation::Child => "child",
            Relation::Parent => "parent",
            Relation::Grandchild => "grandchild",
            Relation::Sibling => "sibling",
            Relation::Other => "other",
        }
    }

    /// Parses a code of [`Relation::as_code`] or a Vietnamese label, case- and
    /// diacritic-insensitively.
    pub fn parse(s: &str) -> Result<Relation, RelationError> {
        let folded = fold(s);
        Relation::ALL
            .into_iter()
            .find(|r| folded == r.as_code() || folded == fold(r.label_vi()))
            .ok_or_else(|| RelationError(s.to_owned()))
    }

    /// Vietnamese label used on residence forms.
    pub fn label_vi(&self) -> &'static str {
        match self {
            Relation::Head => "Chủ hộ",
            Relation::Spouse => "Vợ/chồng",
            Relation::Child => "Con",
            Relation::Parent => "Cha/mẹ",
            Relation::Grandchild => "Cháu",
            Relation::Sibling => "Anh/chị/em",
            Relation::Other => "Khác",
        }
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_code())
    }
}

impl FromStr for Relation {
    type Err = RelationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Relation::parse(s)
    }
}

/// One synthetic citizen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GeneratedCitizen {
    /// Unique within the run; consistent with `gender` and the year of birth.
    pub pid: Pid,
    /// "Surname Middle Given", e.g. "Nguyễn Văn An".
    pub full_name: String,
    pub gender: Gender,
    pub date_of_birth: BirthDate,
    /// Province of birth registration; always equals `pid.province_code()`.
    pub birth_province: u16,
    /// Quê quán (paternal home province), a pre-2025 province code.
    pub hometown_province: u16,
    /// Code of [`crate::ethnicity`].
    pub ethnicity_code: u8,
    /// Declared religion, `None` for no religion.
    pub religion: Option<&'static str>,
    /// Household number, increasing from 1 in generation order.
    pub household_id: u64,
    pub relation_to_head: Relation,
    pub father_pid: Option<Pid>,
    pub mother_pid: Option<Pid>,
    pub spouse_pid: Option<Pid>,
    /// Pre-2025 province code of permanent residence.
    pub residence_province: u16,
    pub address: String,
    /// 10-digit mobile number such as "0912345678".
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// A household: its members share residence, address and household id; the head comes
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Household {
    pub id: u64,
    pub residence_province: u16,
    pub address: String,
    pub members: Vec<GeneratedCitizen>,
}

/// A member before identifiers are assigned; relations are indexes into the household.
#[derive(Debug, Clone)]
struct Draft {
    relation: Relation,
    gender: Gender,
    year: i32,
    surname: &'static str,
    birth_province: u16,
    hometown: u16,
    ethnicity: u8,
    religion: Option<&'static str>,
    father: Option<usize>,
    mother: Option<usize>,
    spouse: Option<usize>,
}

/// Deterministic generator of households; see the module documentation.
#[derive(Debug, Clone)]
pub struct PopulationGenerator {
    rng: Rng,
    pids: PidAllocator,
    next_household_id: u64,
    /// Numbers issued so far per entry of `names::MOBILE_PREFIXES`.
    phones_issued: Vec<u32>,
    emails_issued: u64,
    phone_keys: FeistelKeys,
    provinces: Weighted<u16>,
    ethnicities: Weighted<u8>,
    surnames: Weighted<Surname>,
    religions: Weighted<Option<&'static str>>,
    household_sizes: Weighted<usize>,
    /// Age of a head living with others, by decade from 20.
    head_age_decades: Weighted<i32>,
}

impl PopulationGenerator {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> PopulationGenerator {
        let provinces = provinces::provinces()
            .iter()
            .map(|p| (p.code, p.population));
        let ethnicities = ethnicity::ethnicities().iter().map(|e| {
            (
                e.code,
                ethnicity::population_share_per_100k(e.code).unwrap_or(0),
            )
        });
        PopulationGenerator {
            rng: Rng::new(seed),
            pids: PidAllocator::new(seed),
            next_household_id: 1,
            phones_issued: vec![0; names::MOBILE_PREFIXES.len()],
            emails_issued: 0,
            phone_keys: feistel_keys(seed, 0x5048_4F4E_4553_0000), // "PHONES"
            provinces: Weighted::new(provinces),
            ethnicities: Weighted::new(ethnicities),
            surnames: Weighted::new(names::SURNAMES.iter().copied()),
            religions: Weighted::new(names::RELIGIONS.iter().copied()),
            // Approximates the 2019 census household-size distribution (mean ≈ 3.5).
            household_sizes: Weighted::new([(1, 12), (2, 20), (3, 22), (4, 26), (5, 12), (6, 8)]),
            head_age_decades: Weighted::new([
                (20, 14),
                (30, 28),
                (40, 23),
                (50, 18),
                (60, 12),
                (70, 4),
                (80, 1),
            ]),
        }
    }

    /// The next household; ids increase from 1.
    pub fn next_household(&mut self) -> Household {
        let id = self.next_household_id;
        self.next_household_id += 1;
        let residence = self.provinces.sample(&mut self.rng).unwrap_or(1);
        let address = self.address(residence);
        let drafts = self.compose_household(residence);
        let members = self.finish_members(id, residence, &address, drafts);
        Household {
            id,
            residence_province: residence,
            address,
            members,
        }
    }

    fn random_province(&mut self) -> u16 {
        self.provinces.sample(&mut self.rng).unwrap_or(1)
    }

    fn surname(&mut self, residence: u16) -> &'static str {
        match self.surnames.sample(&mut self.rng) {
            Some(Surname::Plain(name)) => name,
            Some(Surname::Regional { north, south }) => {
                let southern_share = if residence >= FIRST_SOUTHERN_PROVINCE {
                    800
                } else {
                    30
                };
                if self.rng.chance(southern_share) {
                    south
                } else {
                    north
                }
            }
            None => "Nguyễn",
        }
    }

    fn random_gender(&mut self) -> Gender {
        // About 51% of births are boys.
        if self.rng.chance(512) {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// A person of the household's origin: born mostly where the household lives.
    fn draft(
        &mut self,
        relation: Relation,
        gender: Gender,
        year: i32,
        surname: &'static str,
        residence: u16,
        local_per_mille: u32,
    ) -> Draft {
        let birth_province = if self.rng.chance(local_per_mille) {
            residence
        } else {
            self.random_province()
        };
        let hometown = if self.rng.chance(800) {
            birth_province
        } else {
            self.random_province()
        };
        Draft {
            relation,
            gender,
            year,
            surname,
            birth_province,
            hometown,
            ethnicity: 1,
            religion: None,
            father: None,
            mother: None,
            spouse: None,
        }
    }

    fn compose_household(&mut self, residence: u16) -> Vec<Draft> {
        let size = self.household_sizes.sample(&mut self.rng).unwrap_or(1);
        let ethnicity = self.ethnicities.sample(&mut self.rng).unwrap_or(1);
        let religion = self.religions.sample(&mut self.rng).flatten();
        let mut members = Vec::with_capacity(size);

        if size == 1 {
            let gender = self.random_gender();
            let year = MAX_BIRTH_YEAR - self.rng.between(18, 88);
            let surname = self.surname(residence);
            members.push(self.draft(Relation::Head, gender, year, surname, residence, 880));
        } else {
            let single_parent = self.rng.chance(100);
            let head_gender = match (
                single_parent,
                self.rng.chance(if single_parent { 750 } else { 800 }),
            ) {
                (true, true) | (false, false) => Gender::Female,
                _ => Gender::Male,
            };
            let decade = self.head_age_decades.sample(&mut self.rng).unwrap_or(40);
            let head_age = (decade + self.rng.between(0, 9)).max(if size > 2 { 24 } else { 20 });
            let head_year = MAX_BIRTH_YEAR - head_age;
            let surname = self.surname(residence);
            members.push(self.draft(
                Relation::Head,
                head_gender,
                head_year,
                surname,
                residence,
                880,
            ));
            if !single_parent {
                self.add_spouse(&mut members, residence);
            }
            self.add_dependants(&mut members, size, residence);
        }

        self.assign_ethnicity_and_religion(&mut members, ethnicity, religion);
        members
    }

    fn add_spouse(&mut self, members: &mut Vec<Draft>, residence: u16) {
        let head_year = members[0].year;
        // Husbands are usually 0–7 years older than their wives.
        let gap = self.rng.between(-2, 7);
        let (gender, year) = match members[0].gender {
            Gender::Male => (Gender::Female, head_year + gap),
            Gender::Female => (Gender::Male, head_year - gap),
        };
        let year = year.clamp(MIN_BIRTH_YEAR, MAX_BIRTH_YEAR - 18);
        let surname = self.surname(residence);
        let mut spouse = self.draft(Relation::Spouse, gender, year, surname, residence, 750);
        spouse.spouse = Some(0);
        members.push(spouse);
        members[0].spouse = Some(1);
    }

    /// Fills the remaining places with a parent of the head, children, grandchildren and
    /// occasionally a sibling or an unrelated member, keeping every age coherent.
    fn add_dependants(&mut self, members: &mut Vec<Draft>, size: usize, residence: u16) {
        let head_year = members[0].year;
        let (father, mother) = parents_among(members);

        if members.len() < size && self.rng.chance(220) {
            let year = head_year - self.rng.between(22, 38);
            if year >= MIN_BIRTH_YEAR {
                let gender = if self.rng.chance(650) {
                    Gender::Female
                } else {
                    Gender::Male
                };
                // The head's father shares the head's surname (children take the father's).
                let surname = if gender == Gender::Male {
                    members[0].surname
                } else {
                    self.surname(residence)
                };
                let parent = self.draft(Relation::Parent, gender, year, surname, residence, 700);
                let index = members.len();
                if gender == Gender::Male {
                    members[0].hometown = parent.hometown;
                    members[0].father = Some(index);
                } else {
                    members[0].mother = Some(index);
                }
                members.push(parent);
            }
        }

        // Children: the mother is 20–38 at each birth, the father at most 45.
        let mother_year = mother
            .map(|m| members[m].year)
            .or(father.map(|f| members[f].year - 3))
            .unwrap_or(head_year);
        let father_year = father.map(|f| members[f].year).unwrap_or(mother_year);
        let oldest_parent = mother_year.min(father_year);
        let youngest_parent = mother_year.max(father_year);
        let mut child_year = youngest_parent + 20 + self.rng.between(0, 8);
        let absent_father_surname = self.surname(residence);
        while members.len() < size {
            if head_year <= 1965 && self.rng.chance(350) && self.add_grandchild(members, residence)
            {
                continue;
            }
            if self.rng.chance(20) {
                self.add_sibling_or_other(members, residence);
                continue;
            }
            if child_year > MAX_BIRTH_YEAR
                || child_year - mother_year > 38
                || child_year - oldest_parent > 45
            {
                break;
            }
            let gender = self.random_gender();
            let surname = match father {
                Some(f) => members[f].surname,
                None => absent_father_surname,
            };
            let mut child =
                self.draft(Relation::Child, gender, child_year, surname, residence, 900);
            child.hometown = match (father, mother) {
                (Some(f), _) => members[f].hometown,
                (None, Some(m)) => members[m].hometown,
                (None, None) => members[0].hometown,
            };
            child.father = father;
            child.mother = mother;
            members.push(child);
            child_year += self.rng.between(1, 5);
        }
    }

    /// Adds a son's child if some son is old enough; false otherwise.
    fn add_grandchild(&mut self, members: &mut Vec<Draft>, residence: u16) -> bool {
        let son = members.iter().position(|m| {
            m.relation == Relation::Child
                && m.gender == Gender::Male
                && m.year <= MAX_BIRTH_YEAR - 22
        });
        let Some(son) = son else { return false };
        let year = members[son].year + self.rng.between(22, 35);
        if year > MAX_BIRTH_YEAR {
            return false;
        }
        let gender = self.random_gender();
        let surname = members[son].surname;
        let mut grandchild =
            self.draft(Relation::Grandchild, gender, year, surname, residence, 900);
        grandchild.hometown = members[son].hometown;
        grandchild.father = Some(son);
        members.push(grandchild);
        true
    }

    fn add_sibling_or_other(&mut self, members: &mut Vec<Draft>, residence: u16) {
        let gender = self.random_gender();
        if self.rng.chance(600) {
            let head = &members[0];
            let (surname, hometown, father, mother) =
                (head.surname, head.hometown, head.father, head.mother);
            let mut year =
                (head.year + self.rng.between(-10, 10)).clamp(MIN_BIRTH_YEAR, MAX_BIRTH_YEAR - 16);
            // Keep 20–45 years between the sibling and a parent living in the household.
            if let Some(parent_year) = father.or(mother).map(|p| members[p].year) {
                year = year.clamp(parent_year + 20, parent_year + 45);
            }
            let mut sibling = self.draft(Relation::Sibling, gender, year, surname, residence, 850);
            sibling.hometown = hometown;
            sibling.father = father;
            sibling.mother = mother;
            members.push(sibling);
        } else {
            let year = MAX_BIRTH_YEAR - self.rng.between(16, 80);
            let surname = self.surname(residence);
            members.push(self.draft(Relation::Other, gender, year, surname, residence, 700));
        }
    }

    /// Ethnicity and religion mostly run in families: spouses and unrelated members may
    /// differ, children follow their father (or mother).
    fn assign_ethnicity_and_religion(
        &mut self,
        members: &mut [Draft],
        ethnicity: u8,
        religion: Option<&'static str>,
    ) {
        for i in 0..members.len() {
            let inherited = members[i].father.or(members[i].mother).filter(|&p| p < i);
            let (e, r) = match (members[i].relation, inherited) {
                (_, Some(p)) => (members[p].ethnicity, members[p].religion),
                (Relation::Spouse | Relation::Other, None) => {
                    let e = if self.rng.chance(900) {
                        ethnicity
                    } else {
                        self.ethnicities.sample(&mut self.rng).unwrap_or(1)
                    };
                    let r = if self.rng.chance(850) {
                        religion
                    } else {
                        self.religions.sample(&mut self.rng).flatten()
                    };
                    (e, r)
                }
                (_, None) => (ethnicity, religion),
            };
            members[i].ethnicity = e;
            members[i].religion = r;
        }
    }

    /// Assigns PIDs, names, dates, contacts and resolves relation indexes.
    fn finish_members(
        &mut self,
        household_id: u64,
        residence: u16,
        address: &str,
        drafts: Vec<Draft>,
    ) -> Vec<GeneratedCitizen> {
        let pids: Vec<Option<Pid>> = drafts.iter().map(|d| self.allocate_pid(d)).collect();
        let mut members = Vec::with_capacity(drafts.len());
        for (draft, pid) in drafts.iter().zip(&pids) {
            let Some(pid) = *pid else { continue };
            let resolve = |index: Option<usize>| index.and_then(|i| pids.get(i).copied().flatten());
            let (full_name, given) = self.full_name(draft);
            let age = MAX_BIRTH_YEAR - draft.year;
            let phone = if age >= 15 && self.rng.chance(710) {
                self.phone()
            } else {
                None
            };
            let email = if (15..=65).contains(&age) && self.rng.chance(300) {
                Some(self.email(given, draft.surname))
            } else {
                None
            };
            members.push(GeneratedCitizen {
                pid,
                full_name,
                gender: draft.gender,
                date_of_birth: self.birth_date(draft.year),
                birth_province: pid.province_code(),
                hometown_province: draft.hometown,
                ethnicity_code: draft.ethnicity,
                religion: draft.religion,
                household_id,
                relation_to_head: draft.relation,
                father_pid: resolve(draft.father),
                mother_pid: resolve(draft.mother),
                spouse_pid: resolve(draft.spouse),
                residence_province: residence,
                address: address.to_owned(),
                phone,
                email,
            });
        }
        members
    }

    /// A PID registered in the draft's birth province, or, in the practically impossible
    /// case that its 1,000,000 serials are used up, in the next province of the table.
    fn allocate_pid(&mut self, draft: &Draft) -> Option<Pid> {
        let all = provinces::provinces();
        let start = all
            .iter()
            .position(|p| p.code == draft.birth_province)
            .unwrap_or(0);
        (0..all.len()).find_map(|offset| {
            let code = all[(start + offset) % all.len()].code;
            self.pids.allocate(code, draft.gender, draft.year)
        })
    }

    /// Full name and the given name; younger cohorts use "Văn"/"Thị" less.
    fn full_name(&mut self, draft: &Draft) -> (String, &'static str) {
        let traditional_per_mille = match (draft.gender, draft.year) {
            (Gender::Male, ..=1974) => 550,
            (Gender::Male, 1975..=1989) => 350,
            (Gender::Male, 1990..=2004) => 150,
            (Gender::Male, _) => 70,
            (Gender::Female, ..=1974) => 750,
            (Gender::Female, 1975..=1989) => 550,
            (Gender::Female, 1990..=2004) => 250,
            (Gender::Female, _) => 100,
        };
        let (traditional, middles, givens) = match draft.gender {
            Gender::Male => (
                names::MALE_TRADITIONAL_MIDDLE,
                names::MALE_MIDDLE,
                names::MALE_GIVEN,
            ),
            Gender::Female => (
                names::FEMALE_TRADITIONAL_MIDDLE,
                names::FEMALE_MIDDLE,
                names::FEMALE_GIVEN,
            ),
        };
        let given = self.rng.pick(givens).unwrap_or("An");
        let middle = if self.rng.chance(traditional_per_mille) {
            traditional
        } else {
            let candidate = self.rng.pick(middles).unwrap_or(traditional);
            if candidate == given {
                traditional
            } else {
                candidate
            }
        };
        let mut name = String::with_capacity(draft.surname.len() + middle.len() + given.len() + 12);
        name.push_str(draft.surname);
        name.push(' ');
        name.push_str(middle);
        if middle == names::FEMALE_TRADITIONAL_MIDDLE && self.rng.chance(120) {
            let second = self.rng.pick(names::FEMALE_SECOND_MIDDLE).unwrap_or("Thu");
            if second != given {
                name.push(' ');
                name.push_str(second);
            }
        }
        name.push(' ');
        name.push_str(given);
        (name, given)
    }

    /// A date in `year`; older records sometimes keep only the year or the month.
    fn birth_date(&mut self, year: i32) -> BirthDate {
        let (year_only, year_month) = match year {
            ..=1949 => (120, 60),
            1950..=1964 => (30, 20),
            _ => (0, 1),
        };
        let roll = self.rng.below(1000);
        let last_month = if year == MAX_BIRTH_YEAR {
            LAST_MONTH_OF_MAX_YEAR
        } else {
            12
        };
        let month = u32::try_from(self.rng.between(1, i32::try_from(last_month).unwrap_or(12)))
            .unwrap_or(1);
        if roll < year_only {
            return BirthDate::Year(year);
        }
        if roll < year_only + year_month {
            return BirthDate::YearMonth { year, month };
        }
        let day = u32::try_from(self.rng.between(1, days_in_month(year, month))).unwrap_or(1);
        NaiveDate::from_ymd_opt(year, month, day).map_or(BirthDate::Year(year), BirthDate::Full)
    }

    /// A run-unique 10-digit mobile number: a random prefix, then a 7-digit body from a
    /// keyed permutation of that prefix's counter, so no two people share a number;
    /// `None` once a prefix has used all 10^7 bodies.
    fn phone(&mut self) -> Option<String> {
        let slot = self.rng.index(names::MOBILE_PREFIXES.len());
        let prefix = names::MOBILE_PREFIXES.get(slot)?;
        let counter = self.phones_issued.get_mut(slot)?;
        if *counter >= 10_000_000 {
            return None;
        }
        let body = permute_below(&self.phone_keys, slot as u64, *counter, 12, 10_000_000);
        *counter += 1;
        Some(format!("{prefix}{body:07}"))
    }

    /// A run-unique address at a reserved example domain, e.g. "an.nguyen17@example.com".
    fn email(&mut self, given: &str, surname: &str) -> String {
        self.emails_issued += 1;
        let domain = self.rng.pick(names::EMAIL_DOMAINS).unwrap_or("example.com");
        let compact = |s: &str| fold(s).replace(' ', "");
        format!(
            "{}.{}{}@{domain}",
            compact(given),
            compact(surname),
            self.emails_issued
        )
    }

    fn address(&mut self, residence: u16) -> String {
        let province = provinces::province(residence).map_or("", |p| p.name);
        let locality = self.rng.pick(names::LOCALITIES).unwrap_or("Tân Lập");
        if self.rng.chance(450) {
            let number = self.rng.between(1, 350);
            let street = self.rng.pick(names::STREETS).unwrap_or("Lê Lợi");
            format!("Số {number} {street}, Phường {locality}, {province}")
        } else {
            let hamlet = if residence >= FIRST_SOUTHERN_PROVINCE {
                "Ấp"
            } else {
                "Thôn"
            };
            let number = self.rng.between(1, 15);
            format!("{hamlet} {number}, Xã {locality}, {province}")
        }
    }
}

/// Indexes of the male and female parent among the head and spouse.
fn parents_among(members: &[Draft]) -> (Option<usize>, Option<usize>) {
    let mut father = None;
    let mut mother = None;
    for (i, m) in members.iter().enumerate().take(2) {
        match m.gender {
            Gender::Male => father = father.or(Some(i)),
            Gender::Female => mother = mother.or(Some(i)),
        }
    }
    (father, mother)
}

fn days_in_month(year: i32, month: u32) -> i32 {
    match month {
        2 if NaiveDate::from_ymd_opt(year, 2, 29).is_some() => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Exactly `count` citizens from [`PopulationGenerator::new`]`(seed)`, household by
/// household; the last household is cut short if needed, and references (father, mother,
/// spouse) to members cut off are cleared so that every PID referred to is also yielded.
pub fn citizens(seed: u64, count: usize) -> impl Iterator<Item = GeneratedCitizen> {
    Citizens {
        generator: PopulationGenerator::new(seed),
        pending: Vec::new().into_iter(),
        remaining: count,
    }
}

struct Citizens {
    generator: PopulationGenerator,
    pending: std::vec::IntoIter<GeneratedCitizen>,
    remaining: usize,
}

impl Iterator for Citizens {
    type Item = GeneratedCitizen;

    fn next(&mut self) -> Option<GeneratedCitizen> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if let Some(citizen) = self.pending.next() {
                self.remaining -= 1;
                return Some(citizen);
            }
            let mut members = self.generator.next_household().members;
            if members.len() > self.remaining {
                members.truncate(self.remaining);
                let kept: Vec<Pid> = members.iter().map(|m| m.pid).collect();
                for m in &mut members {
                    for link in [&mut m.father_pid, &mut m.mother_pid, &mut m.spouse_pid] {
                        if link.is_some_and(|pid| !kept.contains(&pid)) {
                            *link = None;
                        }
                    }
                }
            }
            self.pending = members.into_iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

#[cfg(test)]
mod tests;
