//! Every SQL statement of the registry, one module per table group. Services keep the rules
//! and call these functions; a test of the workspace (`sql_appears_only_in_store_modules`)
//! fails when SQL appears outside a `store` module or `motcua-db`.
//!
//! Functions take the `Db` for reads, the caller's `Tx` for writes, or a raw `rusqlite`
//! connection on the bulk-import path, and return rows.

pub mod admin_units;
pub mod bulk;
pub mod citizens;
pub mod households;
pub mod id_cards;
pub mod imports;
pub mod quality;
pub mod residences;
pub mod search;
pub mod throttle;

use crate::error::RegistryError;

pub(crate) fn raw_err(e: rusqlite::Error) -> RegistryError {
    RegistryError::Db(e.into())
}
