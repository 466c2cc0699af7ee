//! Verifying every tamper-evident log at once: the event log's chains per aggregate
//! ([`crate::events::verify_all`]) and the access log's chains per day
//! ([`crate::access_log::verify`]). Read-only: sealing days is the job worker's.

use serde::Serialize;

use crate::access_log::{self, AccessLogReport};
use crate::events::{self, VerifyReport};
use crate::{Db, DbResult};

/// What `motcua audit verify` prints.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Events checked, and the aggregates (chains) they form.
    pub events: u64,
    pub aggregates: u64,
    pub access_log: AccessLogCounts,
    /// Every break in either log, each naming its log, the entry and the reason.
    pub breaks: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct AccessLogCounts {
    pub entries: u64,
    pub days: u64,
    /// Entries from before the chain existed: counted, not checked.
    pub unchained: u64,
    pub seals: u64,
}

impl AuditReport {
    pub fn intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// Recomputes every chain of both logs.
pub async fn verify(db: &Db) -> DbResult<AuditReport> {
    let VerifyReport {
        events,
        aggregates,
        breaks: mut all,
    } = events::verify_all(db).await?;
    let AccessLogReport {
        entries,
        days,
        unchained,
        seals,
        breaks,
    } = access_log::verify(db).await?;
    all.extend(breaks);
    Ok(AuditReport {
        events,
        aggregates,
        access_log: AccessLogCounts {
            entries,
            days,
            unchained,
            seals,
        },
        breaks: all,
    })
}
