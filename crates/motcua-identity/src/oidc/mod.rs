//! The OpenID Connect provider: citizens' single sign-on sessions ([`sessions`]), the
//! authorization request and its decision ([`authorize`]), consents ([`consents`]), client
//! authentication at the back-channel endpoints ([`client_auth`]), the token endpoint's grants
//! with refresh-token rotation ([`tokens`]), access tokens as signed JWTs ([`access_tokens`]),
//! DPoP proofs ([`dpop`]) and pushed authorization requests ([`par`]).
//!
//! The endpoints answer in the protocol's own error vocabulary (RFC 6749 §4.1.2.1 and §5.2,
//! OpenID Connect Core §3.1.2.6, RFC 6750 §3.1, RFC 9449 §7.1), [`OAuthErrorCode`]; everything
//! else on the platform answers with the web layer's problem codes.

pub mod access_tokens;
pub mod authorize;
pub mod backchannel;
pub mod client_auth;
pub mod consents;
pub mod dpop;
pub mod keys;
pub mod par;
pub mod sessions;
pub mod tokens;

use crate::IdentityError;

/// How long each artefact of the provider lives (configuration), in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Authorization codes: short, and used once (RFC 6749 §4.1.2 recommends at most 10 min).
    pub code_us: i64,
    pub access_token_us: i64,
    pub id_token_us: i64,
    /// Access tokens of agency systems (`client_credentials`).
    pub client_credentials_us: i64,
    /// A grant without `offline_access` ends with the session's maximum lifetime; one with it
    /// lives this long, its refresh tokens rotating.
    pub offline_us: i64,
    /// A single sign-on session unused this long ends.
    pub session_idle_us: i64,
    /// A single sign-on session ends this long after login, whatever the activity.
    pub session_max_us: i64,
    /// Pushed authorization requests (RFC 9126 §2.2: short, a minute or so).
    pub pushed_request_us: i64,
}

const SEC: i64 = 1_000_000;

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            code_us: 60 * SEC,
            access_token_us: 5 * 60 * SEC,
            id_token_us: 5 * 60 * SEC,
            client_credentials_us: 10 * 60 * SEC,
            offline_us: 30 * 24 * 3600 * SEC,
            session_idle_us: 30 * 60 * SEC,
            session_max_us: 12 * 3600 * SEC,
            pushed_request_us: 90 * SEC,
        }
    }
}

/// The error codes of the OAuth 2.0 and OpenID Connect endpoints, as the specifications name
/// them on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnsupportedTokenType,
    InvalidScope,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    /// OpenID Connect Core Unmet Authentication Requirements 1.0: `acr_values` above what the
    /// account can reach.
    UnmetAuthenticationRequirements,
    InvalidRequestUri,
    InvalidToken,
    InsufficientScope,
    InvalidDpopProof,
    ServerError,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        use OAuthErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            UnsupportedResponseType => "unsupported_response_type",
            UnsupportedTokenType => "unsupported_token_type",
            InvalidScope => "invalid_scope",
            AccessDenied => "access_denied",
            LoginRequired => "login_required",
            ConsentRequired => "consent_required",
            InteractionRequired => "interaction_required",
            UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            InvalidRequestUri => "invalid_request_uri",
            InvalidToken => "invalid_token",
            InsufficientScope => "insufficient_scope",
            InvalidDpopProof => "invalid_dpop_proof",
            ServerError => "server_error",
        }
    }

    /// The HTTP status of a direct (back-channel) answer with this error.
    pub fn status(self) -> u16 {
        use OAuthErrorCode::*;
        match self {
            InvalidClient | InvalidToken => 401,
            InsufficientScope => 403,
            ServerError => 500,
            _ => 400,
        }
    }
}

/// An error the protocol reports to the client, with a human-readable description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: OAuthErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError {
            code,
            description: description.into(),
        }
    }
}

/// Either the client's fault, told in the protocol's terms, or the server's.
#[derive(Debug, thiserror::Error)]
pub enum OAuthFailure {
    #[error("{}: {}", .0.code.as_str(), .0.description)]
    Protocol(OAuthError),
    #[error(transparent)]
    Server(#[from] IdentityError),
}

impl From<OAuthError> for OAuthFailure {
    fn from(e: OAuthError) -> Self {
        OAuthFailure::Protocol(e)
    }
}

impl From<motcua_db::DbError> for OAuthFailure {
    fn from(e: motcua_db::DbError) -> Self {
        OAuthFailure::Server(IdentityError::Db(e))
    }
}

pub type OAuthResult<T> = std::result::Result<T, OAuthFailure>;

/// Shorthand for a protocol error.
pub fn refuse<T>(code: OAuthErrorCode, description: impl Into<String>) -> OAuthResult<T> {
    Err(OAuthFailure::Protocol(OAuthError::new(code, description)))
}

/// Space-separated OAuth words (scopes, `amr`, `acr_values`, `prompt`).
pub fn words(s: &str) -> Vec<String> {
    let mut w: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
    w.dedup();
    w
}

/// Seconds since the epoch, as JWT claims count time.
pub fn secs(us: i64) -> i64 {
    us.div_euclid(SEC)
}

/// The job that deletes the provider's spent rows, hourly across all nodes.
pub const SWEEP_JOB: &str = "oidc.sweep";
/// How long an ended grant is kept, so a late replay of its tokens is still told apart from an
/// unknown token (and logged as a replay).
pub const KEEP_ENDED_GRANTS_US: i64 = 7 * 24 * 3600 * SEC;

/// Registers [`SWEEP_JOB`] with the job worker.
pub fn register_sweeping(registry: &mut motcua_db::jobs::worker::Registry, db: &motcua_db::Db) {
    let db = db.clone();
    registry.register(SWEEP_JOB, move |_run| {
        let db = db.clone();
        async move {
            let now = motcua_db::clock::now_us();
            let swept = async {
                let mut tx = db.begin().await?;
                let swept =
                    crate::store::oidc::sweep(&mut tx, now, now - KEEP_ENDED_GRANTS_US).await?;
                tx.commit().await?;
                Ok::<_, IdentityError>(swept)
            };
            match swept.await {
                Ok(s) => {
                    tracing::info!(
                        grants = s.grants,
                        refresh_tokens = s.refresh_tokens,
                        codes = s.codes,
                        revoked = s.revoked_tokens,
                        jtis = s.seen_jtis,
                        "OpenID Connect rows swept"
                    );
                    Ok(())
                }
                Err(e) => Err(motcua_db::jobs::worker::JobError::Retryable(e.to_string())),
            }
        }
    });
    registry.every(SWEEP_JOB, std::time::Duration::from_secs(3600), 5);
}

/// Runs the sweep once at `now`; the grants it deleted (for tests and operators).
pub async fn sweep_now(db: &motcua_db::Db, now: i64) -> crate::Result<u64> {
    let mut tx = db.begin().await?;
    let swept = crate::store::oidc::sweep(&mut tx, now, now - KEEP_ENDED_GRANTS_US).await?;
    tx.commit().await?;
    Ok(swept.grants)
}
