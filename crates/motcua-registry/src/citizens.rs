//! Reading and writing citizens, households, residence and ID cards.

use chrono::NaiveDate;
use motcua_db::events::{self, NewEvent};
use motcua_db::{Db, Tx};
use motcua_domain::Pid;
use serde::Serialize;
use serde_json::json;

use crate::error::{RegistryError, Result};
use crate::int_map::IntMap;
pub use crate::record::HouseholdRow;
use crate::record::{Citizen, CitizenRecord, pid_text};
use crate::store;
pub use crate::store::id_cards::IdCard;
use crate::store::residences::NewResidence;
pub use crate::store::residences::Residence;

/// The event-log aggregate of a citizen is `citizen/<12-digit PID>`.
pub const AGGREGATE: &str = "citizen";

/// Who changes the registry, why, and when (microseconds since the Unix epoch): recorded on
/// the event every change appends.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub actor: &'a str,
    pub reason: &'a str,
    pub at: i64,
}

pub async fn get(db: &Db, pid: Pid) -> Result<Option<Citizen>> {
    Ok(store::citizens::get(db, pid).await?.map(Citizen::from))
}

/// The citizen as seen inside a write transaction (for services that change it).
pub async fn get_in(tx: &mut Tx, pid: Pid) -> Result<Option<Citizen>> {
    Ok(store::citizens::get_in(tx, pid).await?.map(Citizen::from))
}

/// The citizen, who must exist and be alive, as seen inside a write transaction.
pub async fn living_in(tx: &mut Tx, pid: Pid) -> Result<Citizen> {
    let citizen = get_in(tx, pid)
        .await?
        .ok_or_else(|| RegistryError::NotFound(format!("citizen {pid}")))?;
    if citizen.status != "alive" {
        return Err(RegistryError::field(
            "pid",
            "citizen.deceased",
            "the citizen is deceased",
        ));
    }
    Ok(citizen)
}

pub async fn count(db: &Db) -> Result<i64> {
    store::citizens::count(db).await
}

/// Inserts one citizen and its `citizen.registered` event. Fails with a conflict when the
/// PID is already registered.
pub async fn insert(
    tx: &mut Tx,
    r: &CitizenRecord,
    actor: &str,
    reason: &str,
    now: i64,
) -> Result<()> {
    let inserted = store::citizens::insert(tx, std::slice::from_ref(r), None, now).await?;
    if inserted.is_empty() {
        return Err(RegistryError::Conflict(format!(
            "pid {} is already registered",
            r.pid
        )));
    }
    ensure_households(tx, std::slice::from_ref(r), now).await?;
    events::append(
        tx,
        &NewEvent {
            aggregate_type: AGGREGATE,
            aggregate_id: &r.pid.to_string(),
            event_type: "citizen.registered",
            actor,
            reason,
            payload: record_payload(r),
            occurred_at: now,
        },
    )
    .await?;
    Ok(())
}

pub(crate) fn record_payload(r: &CitizenRecord) -> serde_json::Value {
    json!({
        "full_name": r.full_name,
        "gender": r.gender.as_code(),
        "date_of_birth": r.date_of_birth.to_string(),
        "birth_province": r.birth_province,
        "residence_province": r.residence_province,
        "household_id": r.household_id,
        "ethnicity_code": r.ethnicity_code,
        "nationality": r.nationality,
        "father_pid": r.father_pid.map(|p| p.to_string()),
        "mother_pid": r.mother_pid.map(|p| p.to_string()),
    })
}

/// The households a set of rows belongs to, once each, as rows are added in any order. The
/// member on the earliest line gives the province and address; the head is the last member on
/// a later line whose relation is `head` (as if the rows were read in file order).
#[derive(Default)]
pub(crate) struct Households {
    drafts: IntMap<HouseholdDraft>,
}

struct HouseholdDraft {
    first_line: u64,
    province_code: i32,
    address: String,
    head: Option<(u64, i64)>,
}

impl Households {
    /// Room for `households` without growing: growing the map rehashes every draft in it
    /// (3 % of a bulk import's CPU before it was sized up front).
    pub fn with_capacity(households: usize) -> Households {
        Households {
            drafts: IntMap::with_capacity_and_hasher(households, Default::default()),
        }
    }

    pub fn add(&mut self, line: u64, r: &CitizenRecord) {
        use motcua_domain::generator::Relation;
        let Some(id) = r.household_id else { return };
        let head = (r.relation_to_head == Some(Relation::Head)).then(|| (line, r.pid.as_i64()));
        let province_code = r
            .residence_province
            .map(i32::from)
            .unwrap_or(i32::from(r.birth_province));
        let draft = HouseholdDraft {
            first_line: line,
            province_code,
            address: String::new(),
            head,
        };
        match self.drafts.entry(id) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(HouseholdDraft {
                    address: r.address.clone().unwrap_or_default(),
                    ..draft
                });
            }
            std::collections::hash_map::Entry::Occupied(mut o) => {
                let d = o.get_mut();
                if line < d.first_line {
                    d.first_line = line;
                    d.province_code = province_code;
                    d.address = r.address.clone().unwrap_or_default();
                }
                d.take_head(head);
            }
        }
    }

    /// Adds the households gathered from other rows of the same file.
    pub fn merge(&mut self, other: Households) {
        for (id, theirs) in other.drafts {
            match self.drafts.entry(id) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(theirs);
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    let d = o.get_mut();
                    d.take_head(theirs.head);
                    if theirs.first_line < d.first_line {
                        d.first_line = theirs.first_line;
                        d.province_code = theirs.province_code;
                        d.address = theirs.address;
                    }
                }
            }
        }
    }

    /// The households in order of id (the order their table is keyed in).
    pub fn into_sorted(self) -> Vec<HouseholdRow> {
        let mut rows: Vec<HouseholdRow> = self
            .drafts
            .into_iter()
            .map(|(id, d)| HouseholdRow {
                id,
                head_pid: d.head.map(|(_, pid)| pid),
                province_code: d.province_code,
                address: d.address,
            })
            .collect();
        rows.sort_unstable_by_key(|h| h.id);
        rows
    }
}

impl HouseholdDraft {
    fn take_head(&mut self, head: Option<(u64, i64)>) {
        if let Some((line, pid)) = head
            && self.head.is_none_or(|(kept, _)| line > kept)
        {
            self.head = Some((line, pid));
        }
    }
}

/// The households the rows belong to, once each, in order of id; earlier rows come first.
pub(crate) fn household_rows<'a>(
    rows: impl IntoIterator<Item = &'a CitizenRecord>,
) -> Vec<HouseholdRow> {
    let mut households = Households::default();
    for (i, r) in rows.into_iter().enumerate() {
        households.add(i as u64, r);
    }
    households.into_sorted()
}

/// Creates the households the rows belong to (once each).
pub(crate) async fn ensure_households(tx: &mut Tx, rows: &[CitizenRecord], now: i64) -> Result<()> {
    store::households::insert(tx, &household_rows(rows), now).await
}

#[derive(Debug, Clone, Serialize)]
pub struct HouseholdView {
    pub id: i64,
    pub head_pid: Option<String>,
    pub province_code: i32,
    pub address: String,
    pub members: Vec<Citizen>,
}

pub async fn household(db: &Db, id: i64) -> Result<Option<HouseholdView>> {
    let Some(row) = store::households::get(db, id).await? else {
        return Ok(None);
    };
    let members = store::citizens::in_household(db, id).await?;
    let mut members: Vec<Citizen> = members.into_iter().map(Citizen::from).collect();
    // Head first, then by age.
    members.sort_by_key(|m| m.relation_to_head.as_deref() != Some("head"));
    Ok(Some(HouseholdView {
        id: row.id,
        head_pid: row.head_pid.map(pid_text),
        province_code: row.province_code,
        address: row.address,
        members,
    }))
}

/// Residence history (left permanent residences, temporary residences), newest first.
pub async fn residences(db: &Db, pid: Pid) -> Result<Vec<Residence>> {
    store::residences::of_citizen(db, pid).await
}

/// Registers a new permanent residence (đăng ký thường trú, Law on Residence 2020): the
/// current one moves to the history, closed on `from`.
pub async fn register_permanent_residence(
    tx: &mut Tx,
    pid: Pid,
    province_code: u16,
    address: &str,
    from: NaiveDate,
    change: &Change<'_>,
) -> Result<()> {
    let Change {
        actor,
        reason,
        at: now,
    } = *change;
    let citizen = living_in(tx, pid).await?;
    check_address(province_code, address)?;
    if let Some(p) = citizen.residence_province {
        let old_address = citizen.residence_address.as_deref().unwrap_or_default();
        let closed = NewResidence {
            pid,
            kind: "permanent",
            province_code: p,
            address: old_address,
            valid_from: None,
            valid_to: Some(&from.to_string()),
        };
        store::residences::insert(tx, &closed, now).await?;
    }
    let changed = store::citizens::set_permanent_residence(
        tx,
        pid,
        i32::from(province_code),
        address,
        citizen.version,
        now,
    )
    .await?;
    if changed != 1 {
        return Err(RegistryError::Conflict(format!(
            "citizen {pid} changed concurrently"
        )));
    }
    append(
        tx,
        pid,
        "citizen.permanent_residence_registered",
        actor,
        reason,
        now,
        json!({ "province_code": province_code, "address": address, "from": from.to_string() }),
    )
    .await
}

/// Registers a temporary residence (đăng ký tạm trú) from `from` until `to` (if known).
pub async fn register_temporary_residence(
    tx: &mut Tx,
    pid: Pid,
    province_code: u16,
    address: &str,
    from: NaiveDate,
    to: Option<NaiveDate>,
    change: &Change<'_>,
) -> Result<()> {
    let Change {
        actor,
        reason,
        at: now,
    } = *change;
    living_in(tx, pid).await?;
    check_address(province_code, address)?;
    if to.is_some_and(|t| t < from) {
        return Err(RegistryError::field(
            "valid_to",
            "date.order",
            "must not be before valid_from",
        ));
    }
    let (from_text, to_text) = (from.to_string(), to.map(|d| d.to_string()));
    let temporary = NewResidence {
        pid,
        kind: "temporary",
        province_code: i32::from(province_code),
        address,
        valid_from: Some(&from_text),
        valid_to: to_text.as_deref(),
    };
    store::residences::insert(tx, &temporary, now).await?;
    append(
        tx,
        pid,
        "citizen.temporary_residence_registered",
        actor,
        reason,
        now,
        json!({ "province_code": province_code, "address": address, "from": from.to_string(),
                "to": to.map(|d| d.to_string()) }),
    )
    .await
}

fn check_address(province_code: u16, address: &str) -> Result<()> {
    if motcua_domain::provinces::province(province_code).is_none() {
        return Err(RegistryError::field(
            "province_code",
            "province.unknown",
            "is not a province code",
        ));
    }
    if let Err(e) = motcua_domain::text_limits::check_text(
        address,
        motcua_domain::text_limits::MAX_ADDRESS_CHARS,
    )
    .and_then(|_| {
        if address.trim().is_empty() {
            Err(motcua_domain::text_limits::TextError::Empty)
        } else {
            Ok(())
        }
    }) {
        return Err(RegistryError::field("address", e.code(), e.to_string()));
    }
    Ok(())
}

pub(crate) async fn append(
    tx: &mut Tx,
    pid: Pid,
    event_type: &str,
    actor: &str,
    reason: &str,
    now: i64,
    payload: serde_json::Value,
) -> Result<()> {
    events::append(
        tx,
        &NewEvent {
            aggregate_type: AGGREGATE,
            aggregate_id: &pid.to_string(),
            event_type,
            actor,
            reason,
            payload,
            occurred_at: now,
        },
    )
    .await?;
    Ok(())
}

pub async fn id_cards(db: &Db, pid: Pid) -> Result<Vec<IdCard>> {
    store::id_cards::of_citizen(db, pid).await
}

/// Issues a chip ID card (thẻ căn cước; its number is the PID). The previous active card is
/// marked replaced. Expiry follows the renewal ages (Law on Citizen Identification 2014,
/// Art. 21) as computed by `motcua_domain::id_card`.
pub async fn issue_id_card(
    tx: &mut Tx,
    pid: Pid,
    issued_on: NaiveDate,
    change: &Change<'_>,
) -> Result<IdCard> {
    let Change {
        actor,
        reason,
        at: now,
    } = *change;
    let citizen = living_in(tx, pid).await?;
    let dob = motcua_domain::BirthDate::parse(&citizen.date_of_birth)
        .ok()
        .and_then(|d| d.earliest())
        .ok_or_else(|| {
            RegistryError::field(
                "date_of_birth",
                "date.invalid",
                "stored date of birth is unreadable",
            )
        })?;
    if issued_on < dob {
        return Err(RegistryError::field(
            "issued_on",
            "date.order",
            "must not be before the date of birth",
        ));
    }
    let expires_on = motcua_domain::id_card::id_card_expiry(dob, issued_on);
    store::id_cards::end_active(tx, pid, "replaced").await?;
    let card = IdCard {
        id: motcua_db::new_id(),
        issued_on: issued_on.to_string(),
        expires_on: expires_on.map(|d| d.to_string()),
        status: "active".into(),
    };
    store::id_cards::insert(tx, pid, &card, now).await?;
    append(
        tx,
        pid,
        "citizen.id_card_issued",
        actor,
        reason,
        now,
        json!({ "issued_on": card.issued_on, "expires_on": card.expires_on }),
    )
    .await?;
    Ok(card)
}
