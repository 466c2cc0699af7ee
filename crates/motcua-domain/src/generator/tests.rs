use std::collections::{HashMap, HashSet};

use super::*;
use crate::pid::check_consistency;
use crate::text_limits::{MAX_ADDRESS_CHARS, check_email, check_name, check_phone, check_text};

#[test]
fn same_seed_gives_identical_output_and_other_seeds_differ() {
    let a: Vec<_> = citizens(42, 3_000).collect();
    let b: Vec<_> = citizens(42, 3_000).collect();
    assert_eq!(a, b);
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    let c: Vec<_> = citizens(43, 3_000).collect();
    assert_ne!(a, c);
    // A longer run starts with the same people (truncation aside).
    let longer: Vec<_> = citizens(42, 4_000).collect();
    assert_eq!(a[..2_900], longer[..2_900]);
}

#[test]
fn yields_exactly_count_and_keeps_references_inside_the_output() {
    assert_eq!(citizens(1, 0).count(), 0);
    for count in [1, 2, 3, 7, 50, 101] {
        let people: Vec<_> = citizens(9, count).collect();
        assert_eq!(people.len(), count);
        let pids: HashSet<Pid> = people.iter().map(|p| p.pid).collect();
        for p in &people {
            for link in [p.father_pid, p.mother_pid, p.spouse_pid]
                .into_iter()
                .flatten()
            {
                assert!(
                    pids.contains(&link),
                    "dangling reference in a run of {count}"
                );
            }
        }
    }
    assert_eq!(citizens(1, 12).size_hint(), (12, Some(12)));
}

#[test]
fn households_are_numbered_from_one_and_led_by_their_head() {
    let mut generator = PopulationGenerator::new(5);
    for expected_id in 1..=2_000u64 {
        let household = generator.next_household();
        assert_eq!(household.id, expected_id);
        assert!((1..=6).contains(&household.members.len()));
        assert_eq!(household.members[0].relation_to_head, Relation::Head);
        assert_eq!(
            household
                .members
                .iter()
                .filter(|m| m.relation_to_head == Relation::Head)
                .count(),
            1
        );
        for m in &household.members {
            assert_eq!(m.household_id, household.id);
            assert_eq!(m.residence_province, household.residence_province);
            assert_eq!(m.address, household.address);
        }
    }
}

struct Seen {
    year: i32,
    surname: String,
    gender: Gender,
    household: u64,
    spouse: Option<Pid>,
}

/// One pass over 200,000 people checking validity, uniqueness and coherence.
#[test]
fn large_sample_is_valid_unique_coherent_and_realistic() {
    const N: usize = 200_000;
    let people: Vec<_> = citizens(2025, N).collect();
    assert_eq!(people.len(), N);

    let mut by_pid: HashMap<Pid, Seen> = HashMap::with_capacity(N);
    let mut phones = HashSet::new();
    let mut emails = HashSet::new();
    let (mut nguyen, mut with_phone, mut year_only, mut year_month, mut nguyen_van_an) =
        (0, 0, 0, 0, 0);
    let today = NaiveDate::from_ymd_opt(2025, 6, 30).unwrap();

    for p in &people {
        let year = p.date_of_birth.year();
        assert!((MIN_BIRTH_YEAR..=MAX_BIRTH_YEAR).contains(&year), "{year}");
        assert!(!p.date_of_birth.is_in_future(today));
        assert_eq!(check_consistency(p.pid, p.gender, year), Ok(()));
        assert_eq!(Pid::parse(&p.pid.to_string()), Ok(p.pid));
        assert_eq!(p.birth_province, p.pid.province_code());
        for code in [p.birth_province, p.hometown_province, p.residence_province] {
            assert!(provinces::province(code).is_some(), "{code}");
        }
        assert!(ethnicity::ethnicity(p.ethnicity_code).is_some());
        assert_eq!(check_name(&p.full_name), Ok(()), "{}", p.full_name);
        assert_eq!(check_text(&p.address, MAX_ADDRESS_CHARS), Ok(()));
        if let Some(phone) = &p.phone {
            assert_eq!(phone.len(), 10);
            assert_eq!(check_phone(phone), Ok(()), "{phone}");
            assert!(phones.insert(phone.clone()), "duplicate phone {phone}");
            with_phone += 1;
        }
        if let Some(email) = &p.email {
            assert_eq!(check_email(email), Ok(()), "{email}");
            assert!(emails.insert(email.clone()), "duplicate e-mail {email}");
        }
        match p.date_of_birth {
            BirthDate::Year(_) => year_only += 1,
            BirthDate::YearMonth { .. } => year_month += 1,
            BirthDate::Full(_) => {}
        }
        let surname = p.full_name.split(' ').next().unwrap_or_default().to_owned();
        if surname == "Nguyễn" {
            nguyen += 1;
        }
        if p.full_name == "Nguyễn Văn An" {
            nguyen_van_an += 1;
        }
        let seen = Seen {
            year,
            surname,
            gender: p.gender,
            household: p.household_id,
            spouse: p.spouse_pid,
        };
        assert!(
            by_pid.insert(p.pid, seen).is_none(),
            "duplicate PID {}",
            p.pid
        );
    }

    for p in &people {
        let me = &by_pid[&p.pid];
        if let Some(father) = p.father_pid.map(|f| &by_pid[&f]) {
            assert_eq!(father.gender, Gender::Male);
            assert_eq!(
                father.surname, me.surname,
                "children take the father's surname"
            );
            assert!(
                (20..=45).contains(&(me.year - father.year)),
                "father gap {}",
                me.year - father.year
            );
            assert_eq!(father.household, me.household);
        }
        if let Some(mother) = p.mother_pid.map(|m| &by_pid[&m]) {
            assert_eq!(mother.gender, Gender::Female);
            assert!(
                (20..=45).contains(&(me.year - mother.year)),
                "mother gap {}",
                me.year - mother.year
            );
        }
        if let Some(spouse_pid) = p.spouse_pid {
            let spouse = &by_pid[&spouse_pid];
            assert_ne!(spouse.gender, me.gender);
            assert!((me.year - spouse.year).abs() <= 10);
            assert_eq!(spouse.spouse, Some(p.pid), "spouse links are mutual");
        }
    }

    let share = |n: usize| n as f64 / N as f64;
    assert!(
        (0.34..0.42).contains(&share(nguyen)),
        "Nguyễn share {}",
        share(nguyen)
    );
    assert!(
        (0.55..0.66).contains(&share(with_phone)),
        "phone share {}",
        share(with_phone)
    );
    assert!(
        (0.003..0.02).contains(&share(year_only)),
        "year-only share {}",
        share(year_only)
    );
    assert!(year_month > 0);
    assert!(
        nguyen_van_an > 0,
        "search tests rely on 'Nguyễn Văn An' occurring"
    );
    assert!(emails.len() > N / 20);
}

#[test]
fn relation_codes_labels_and_serde() {
    for r in Relation::ALL {
        assert_eq!(Relation::parse(r.as_code()), Ok(r));
        assert_eq!(Relation::parse(r.label_vi()), Ok(r));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            format!("\"{}\"", r.as_code())
        );
    }
    assert_eq!(Relation::parse("CHU HO"), Ok(Relation::Head));
    assert!(Relation::parse("cousin").is_err());
}

#[test]
fn citizen_serializes_with_string_identifiers() {
    let person = citizens(3, 1).next().unwrap();
    let json = serde_json::to_value(&person).unwrap();
    assert_eq!(
        json["pid"],
        serde_json::Value::String(person.pid.to_string())
    );
    assert_eq!(json["relation_to_head"], "head");
    assert_eq!(json["date_of_birth"], person.date_of_birth.to_string());
}

/// Throughput check for release builds: `cargo test --release -p motcua-domain --
/// --ignored one_million` (time it externally; tests never read the clock).
#[test]
#[ignore]
fn one_million_unique() {
    let mut pids = HashSet::with_capacity(1_000_000);
    assert!(citizens(1, 1_000_000).all(|p| pids.insert(p.pid)));
    assert_eq!(pids.len(), 1_000_000);
}
