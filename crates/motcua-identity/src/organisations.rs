//! Organisations (enterprises, associations, agencies acting as applicants), keyed by their
//! tax code with its check digit validated, registered by an administrator; their
//! representatives are citizens' accounts acting on their behalf (the legal representative,
//! or a person authorised by it).

use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use motcua_domain::Pid;
use motcua_domain::tax_code::TaxCode;
use serde::Serialize;
use serde_json::json;

use crate::store::organisations as store;
use crate::{IdentityError, Result, citizen_accounts, invalid};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub tax_code: String,
    pub name: String,
    pub created_at: i64,
}

/// An organisation an account represents, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Representation {
    pub tax_code: String,
    pub name: String,
    pub role: String,
}

fn checked_tax_code(text: &str) -> Result<TaxCode> {
    // An organisation's code is 10 digits or a dependent unit's 13 characters, never a PID.
    TaxCode::parse(text.trim()).map_err(|e| invalid("tax_code", e.to_string()))
}

/// Registers an organisation. `actor` is the administrator.
pub async fn register(
    db: &Db,
    tax_code: &str,
    name: &str,
    actor: &str,
    now: i64,
) -> Result<Organisation> {
    let code = checked_tax_code(tax_code)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 300 {
        return Err(invalid("name", "must be 1–300 characters"));
    }
    let mut tx = db.begin().await?;
    if !store::insert(&mut tx, code.as_str(), name, actor, now).await? {
        return Err(IdentityError::Conflict(
            "tax_code: this organisation is already registered".into(),
        ));
    }
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "organisation",
            aggregate_id: code.as_str(),
            event_type: "organisation.registered",
            actor,
            reason: "organisation registered",
            payload: json!({ "name": name }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Organisation {
        tax_code: code.as_str().to_owned(),
        name: name.to_owned(),
        created_at: now,
    })
}

/// Makes the account of `pid` a representative of the organisation.
pub async fn add_representative(
    db: &Db,
    tax_code: &str,
    pid: &str,
    role: &str,
    actor: &str,
    now: i64,
) -> Result<()> {
    let code = checked_tax_code(tax_code)?;
    if !matches!(role, "legal_representative" | "authorised") {
        return Err(invalid(
            "role",
            "must be legal_representative or authorised",
        ));
    }
    let pid = Pid::parse(pid.trim()).map_err(|e| invalid("pid", e.to_string()))?;
    if store::get(db, code.as_str()).await?.is_none() {
        return Err(invalid(
            "tax_code",
            "no organisation is registered with this tax code",
        ));
    }
    let Some(account) = citizen_accounts::by_pid(db, pid).await? else {
        return Err(invalid(
            "pid",
            "this citizen has no electronic-identity account",
        ));
    };
    if account.closed {
        return Err(invalid("pid", "this citizen's account is closed"));
    }
    let mut tx = db.begin().await?;
    if !store::add_representative(&mut tx, code.as_str(), &account.id, role, actor, now).await? {
        return Err(IdentityError::Conflict(
            "pid: already a representative of this organisation".into(),
        ));
    }
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "organisation",
            aggregate_id: code.as_str(),
            event_type: "organisation.representative_added",
            actor,
            reason: "representative added",
            payload: json!({ "account_id": account.id, "role": role }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list(db: &Db) -> Result<Vec<Organisation>> {
    Ok(store::list(db, 500)
        .await?
        .into_iter()
        .map(|r| Organisation {
            tax_code: r.tax_code,
            name: r.name,
            created_at: r.created_at,
        })
        .collect())
}

/// The organisations an account acts for.
pub async fn represented_by(db: &Db, account_id: &str) -> Result<Vec<Representation>> {
    Ok(store::represented_by(db, account_id)
        .await?
        .into_iter()
        .map(|r| Representation {
            tax_code: r.tax_code,
            name: r.name,
            role: r.role,
        })
        .collect())
}

/// The representatives of an organisation: (account id, PID, role).
pub async fn representatives(db: &Db, tax_code: &str) -> Result<Vec<(String, String, String)>> {
    Ok(store::representatives(db, tax_code)
        .await?
        .into_iter()
        .map(|(id, pid, role)| (id, format!("{pid:012}"), role))
        .collect())
}
