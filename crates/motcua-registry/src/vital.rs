//! Vital events. Registering a birth (Law on Civil Status 2014; Decree 63/2024/NĐ-CP for the
//! interconnected procedure) issues a new personal identification number; registering a death
//! closes the record. Both run inside the caller's transaction.

use chrono::NaiveDate;
use motcua_db::Tx;
use motcua_domain::generator::Relation;
use motcua_domain::{BirthDate, Gender, Pid, fold, text_limits};
use serde::Deserialize;
use serde_json::json;

use crate::citizens::{self, Change, append};
use crate::error::{FieldError, RegistryError, Result};
use crate::record::{self, CitizenRecord, DEFAULT_NATIONALITY};
use crate::store;

/// What a birth registration states about the child.
#[derive(Debug, Clone, Deserialize)]
pub struct BirthRegistration {
    pub full_name: String,
    pub gender: Gender,
    pub date_of_birth: NaiveDate,
    /// Province where the birth is registered: the PID's first three digits.
    pub registration_province: u16,
    pub father_pid: Option<Pid>,
    pub mother_pid: Option<Pid>,
    /// One of the 54 ethnic-group codes; `None` leaves it unrecorded.
    pub ethnicity_code: Option<u8>,
    /// Two-letter ISO 3166 code; `None` is [`DEFAULT_NATIONALITY`].
    pub nationality: Option<String>,
    /// Join this household as a child of its head (usually the mother's or father's).
    pub household_id: Option<i64>,
}

/// Registers a birth and returns the new PID. The serial is random; a collision with an
/// existing PID draws again (the insert never overwrites).
pub async fn register_birth(
    tx: &mut Tx,
    b: &BirthRegistration,
    today: NaiveDate,
    change: &Change<'_>,
) -> Result<Pid> {
    let Change {
        actor,
        reason,
        at: now,
    } = *change;
    let mut errors = Vec::new();
    if let Err(e) = text_limits::check_name(&b.full_name) {
        errors.push(FieldError::new("full_name", e.code(), e.to_string()));
    }
    if b.date_of_birth > today {
        errors.push(FieldError::new(
            "date_of_birth",
            "date.future",
            "must not be in the future",
        ));
    }
    if motcua_domain::provinces::province(b.registration_province).is_none() {
        errors.push(FieldError::new(
            "registration_province",
            "province.unknown",
            "is not a province code",
        ));
    }
    // The same rules as an imported record, so a birth stores nothing an import would refuse.
    if let Some(Err(e)) = b.ethnicity_code.map(record::check_ethnicity_code) {
        errors.push(e);
    }
    if let Some(Err(e)) = b.nationality.as_deref().map(record::check_nationality) {
        errors.push(e);
    }
    let mut residence = None;
    for (field, parent) in [("father_pid", b.father_pid), ("mother_pid", b.mother_pid)] {
        let Some(p) = parent else { continue };
        match citizens::get_in(tx, p).await? {
            None => errors.push(FieldError::new(
                field,
                "citizen.unknown",
                "no citizen has this PID",
            )),
            Some(c) => {
                if c.birth_year > chrono::Datelike::year(&b.date_of_birth) {
                    errors.push(FieldError::new(
                        field,
                        "parent.younger",
                        "is younger than the child",
                    ));
                }
                if residence.is_none() {
                    residence = c
                        .residence_province
                        .map(|r| (r, c.residence_address.clone()));
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(RegistryError::Invalid(errors));
    }
    let full_name = b.full_name.split_whitespace().collect::<Vec<_>>().join(" ");
    let year = chrono::Datelike::year(&b.date_of_birth);
    for _ in 0..20 {
        let pid = Pid::compose(b.registration_province, b.gender, year, random_serial())
            .map_err(|e| RegistryError::field("date_of_birth", e.code(), e.to_string()))?;
        let record = CitizenRecord {
            pid,
            name_folded: fold(&full_name),
            full_name: full_name.clone(),
            gender: b.gender,
            date_of_birth: BirthDate::Full(b.date_of_birth),
            residence_province: residence.as_ref().and_then(|r| u16::try_from(r.0).ok()),
            household_id: b.household_id,
            relation_to_head: b.household_id.map(|_| Relation::Child),
            birth_province: b.registration_province,
            hometown_province: None,
            ethnicity_code: b.ethnicity_code,
            religion: None,
            nationality: b
                .nationality
                .clone()
                .unwrap_or_else(|| DEFAULT_NATIONALITY.into()),
            father_pid: b.father_pid,
            mother_pid: b.mother_pid,
            spouse_pid: None,
            address: residence.as_ref().and_then(|r| r.1.clone()),
            phone: None,
            email: None,
            tax_code: None,
            social_insurance_code: None,
            deceased: false,
            date_of_death: None,
        };
        let inserted =
            store::citizens::insert(tx, std::slice::from_ref(&record), None, now).await?;
        if inserted.is_empty() {
            continue; // PID already taken: draw another serial.
        }
        let mut payload = citizens::record_payload(&record);
        payload["vital_event"] = json!("birth");
        append(
            tx,
            pid,
            "citizen.birth_registered",
            actor,
            reason,
            now,
            payload,
        )
        .await?;
        return Ok(pid);
    }
    Err(RegistryError::Conflict(
        "could not find a free PID serial; the year and province are nearly full".into(),
    ))
}

fn random_serial() -> u32 {
    let mut b = [0u8; 4];
    if getrandom::getrandom(&mut b).is_err() {
        // Fall back to the clock; uniqueness is still enforced by the primary key.
        return (motcua_db::clock::now_us() % 1_000_000) as u32;
    }
    u32::from_le_bytes(b) % 1_000_000
}

/// Registers a death: the record is closed (status deceased, date of death). Permanent
/// residence is removed by its own procedure (Decree 63/2024: death + removal of permanent
/// residence is an interconnected group), so it stays until then.
pub async fn register_death(
    tx: &mut Tx,
    pid: Pid,
    date_of_death: NaiveDate,
    today: NaiveDate,
    change: &Change<'_>,
) -> Result<()> {
    let Change {
        actor,
        reason,
        at: now,
    } = *change;
    let c = citizens::get_in(tx, pid)
        .await?
        .ok_or_else(|| RegistryError::NotFound(format!("citizen {pid}")))?;
    if c.status == "deceased" {
        return Err(RegistryError::field(
            "pid",
            "citizen.deceased",
            "a death is already registered",
        ));
    }
    if date_of_death > today {
        return Err(RegistryError::field(
            "date_of_death",
            "date.future",
            "must not be in the future",
        ));
    }
    if BirthDate::parse(&c.date_of_birth)
        .ok()
        .and_then(|d| d.earliest())
        .is_some_and(|b| date_of_death < b)
    {
        return Err(RegistryError::field(
            "date_of_death",
            "death.before_birth",
            "is before the date of birth",
        ));
    }
    let n =
        store::citizens::mark_deceased(tx, pid, &date_of_death.to_string(), c.version, now).await?;
    if n != 1 {
        return Err(RegistryError::Conflict(format!(
            "citizen {pid} changed concurrently"
        )));
    }
    store::id_cards::end_active(tx, pid, "revoked").await?;
    append(
        tx,
        pid,
        "citizen.death_registered",
        actor,
        reason,
        now,
        json!({ "date_of_death": date_of_death.to_string() }),
    )
    .await
}
