//! Argon2id password hashing. Hashing is deliberately slow and memory-hungry, so it runs on the
//! blocking pool behind a semaphore: a burst of logins cannot exhaust memory or starve requests.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::{IdentityError, Result, invalid};

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Argon2id cost parameters (configuration; defaults follow the OWASP recommendation of
/// 19 MiB, 2 iterations, 1 lane).
#[derive(Debug, Clone, Copy)]
pub struct ArgonParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for ArgonParams {
    fn default() -> Self {
        ArgonParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

#[derive(Clone)]
pub struct PasswordService {
    params: ArgonParams,
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when the account does not exist so that
    /// response time does not reveal which usernames exist.
    dummy_hash: Arc<str>,
}

impl PasswordService {
    pub fn new(params: ArgonParams) -> Result<PasswordService> {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let dummy = hash_now(params, &crate::token::random_token(24))?;
        Ok(PasswordService {
            params,
            permits: Arc::new(Semaphore::new(cpus)),
            dummy_hash: Arc::from(dummy),
        })
    }

    /// Checks the policy for a new password.
    pub fn check_policy(password: &str, username: &str) -> Result<()> {
        let n = password.chars().count();
        if n < MIN_PASSWORD_CHARS {
            return Err(invalid(
                "password",
                format!("must be at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        if n > MAX_PASSWORD_CHARS {
            return Err(invalid(
                "password",
                format!("must be at most {MAX_PASSWORD_CHARS} characters"),
            ));
        }
        if password.eq_ignore_ascii_case(username) {
            return Err(invalid("password", "must not be the username"));
        }
        Ok(())
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let params = self.params;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_now(params, &password))
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no account.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool> {
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Ok(false);
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let exists = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored)
                .map(|h| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .map_err(|e| IdentityError::Internal(e.to_string()))?;
        Ok(ok && exists)
    }
}

fn hash_now(p: ArgonParams, password: &str) -> Result<String> {
    let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
        .map_err(|e| IdentityError::Internal(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| IdentityError::Internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| IdentityError::Internal(e.to_string()))?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> ArgonParams {
        ArgonParams {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let s = PasswordService::new(fast()).unwrap();
        let h = s.hash("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(s.verify("correct horse battery", Some(&h)).await.unwrap());
        assert!(!s.verify("wrong horse battery", Some(&h)).await.unwrap());
        assert!(!s.verify("correct horse battery", None).await.unwrap());
    }

    #[test]
    fn policy_names_the_field() {
        let e = PasswordService::check_policy("short", "bob").unwrap_err();
        assert!(e.to_string().starts_with("password:"));
        assert!(PasswordService::check_policy("averyverylongname", "AVERYVERYLONGNAME").is_err());
        assert!(PasswordService::check_policy("a reasonable passphrase", "bob").is_ok());
    }
}
