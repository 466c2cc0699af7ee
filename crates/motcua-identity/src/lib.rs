//! Accounts and credentials. Staff accounts (admin, officer) with Argon2id passwords and
//! server-side sessions; citizens' accounts bound to a PID of the population registry, at
//! assurance level 1 or 2, with a TOTP second factor ([`citizen_accounts`], [`totp`]); agency
//! API clients with scopes and long random secrets.
//!
//! Everything a later citizen account needs lives here once: password hashing with bounded
//! concurrency ([`password`]), sessions with CSRF tokens ([`sessions`]), random tokens
//! ([`token`]), and one place that authenticates API clients ([`clients`]), so bearer tokens can
//! be added beside HTTP Basic without touching the handlers that use a client.

pub mod citizen_accounts;
pub mod clients;
pub mod jose;
pub mod login_codes;
pub mod oidc;
pub mod organisations;
pub mod passkeys;
pub mod password;
pub mod password_reset;
pub mod registration;
pub mod relying_parties;
pub mod sessions;
pub mod signing_keys;
pub mod staff;
mod store;
pub mod token;
pub mod totp;

use motcua_db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Input the caller must fix; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    /// Too many callers are already waiting for password hashing; try again later.
    #[error("busy: try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for IdentityError {
    fn from(e: sqlx::Error) -> Self {
        IdentityError::Db(DbError::Sqlx(e))
    }
}

pub type Result<T> = std::result::Result<T, IdentityError>;

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> IdentityError {
    IdentityError::Invalid {
        field,
        message: message.into(),
    }
}
