//! Every SQL statement of identity (staff and citizen accounts, sessions, API clients), one module per table. Services
//! keep the rules and call these functions; a test of the workspace
//! (`sql_appears_only_in_store_modules`) fails when SQL appears outside a `store` module or
//! `motcua-db`.

pub mod citizen_accounts;
pub mod clients;
pub mod lockout;
pub mod oidc;
pub mod organisations;
pub mod passkeys;
pub mod registrations;
pub mod relying_parties;
pub mod sessions;
pub mod signing_keys;
pub mod staff;
