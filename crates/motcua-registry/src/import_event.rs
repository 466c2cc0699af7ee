//! The event each stored batch of an import appends, on either write path.

use motcua_db::events::NewEvent;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The batch event: how many rows, which lines, and a digest of the PIDs stored.
pub(crate) fn batch_event<'a>(
    import_id: &'a str,
    actor: &'a str,
    lines: (u64, u64),
    stored_pids: impl Iterator<Item = i64>,
    now: i64,
) -> NewEvent<'a> {
    let mut digest = Sha256::new();
    let mut rows = 0usize;
    for pid in stored_pids {
        digest.update(pid.to_le_bytes());
        rows += 1;
    }
    NewEvent {
        aggregate_type: "registry_import",
        aggregate_id: import_id,
        event_type: "registry_import.batch_stored",
        actor,
        reason: "bulk import of citizens",
        payload: json!({
            "rows": rows,
            "first_line": lines.0,
            "last_line": lines.1,
            "pids_sha256": hex::encode(digest.finalize()),
        }),
        occurred_at: now,
    }
}
