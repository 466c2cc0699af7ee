//! Argon2id password hashing. Hashing is deliberately slow and memory-hungry, so it runs on the
//! blocking pool on at most half the cores, and only a bounded number of callers may wait for
//! a turn: past that a burst of logins is refused at once ([`IdentityError::Busy`]) instead of
//! piling up memory and time, and the other half of the machine keeps serving requests.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

/// How much hashing may run at once and how many callers may wait for it (configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLimits {
    /// Hashes computed at the same time; by default half the cores, at least one.
    pub workers: usize,
    /// Callers that may wait for a worker; one more is refused with [`IdentityError::Busy`].
    pub queue: usize,
}

impl Default for HashingLimits {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        HashingLimits {
            workers: (cpus / 2).max(1),
            queue: 32,
        }
    }
}

/// Seconds a caller refused for a full queue is asked to wait (`Retry-After`).
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

#[derive(Clone)]
pub struct PasswordService {
    params: ArgonParams,
    /// One permit per hash that may run.
    workers: Arc<Semaphore>,
    /// One permit per caller that may be running or waiting; taken without waiting.
    admitted: Arc<Semaphore>,
    /// A hash of a random password, verified against when the account does not exist so that
    /// response time does not reveal which usernames exist.
    dummy_hash: Arc<str>,
}

impl PasswordService {
    pub fn new(params: ArgonParams) -> Result<PasswordService> {
        Self::with_limits(params, HashingLimits::default())
    }

    pub fn with_limits(params: ArgonParams, limits: HashingLimits) -> Result<PasswordService> {
        if limits.workers == 0 {
            return Err(invalid("workers", "must be at least 1"));
        }
        let dummy = hash_now(params, &crate::token::random_token(24))?;
        Ok(PasswordService {
            params,
            workers: Arc::new(Semaphore::new(limits.workers)),
            admitted: Arc::new(Semaphore::new(limits.workers + limits.queue)),
            dummy_hash: Arc::from(dummy),
        })
    }

    /// A turn at hashing: admission without waiting (or [`IdentityError::Busy`]), then a worker.
    async fn turn(&self) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| IdentityError::Busy {
                retry_after_secs: BUSY_RETRY_AFTER_SECS,
            })?;
        let worker = Arc::clone(&self.workers)
            .acquire_owned()
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        Ok((admitted, worker))
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
        let turn = self.turn().await?;
        let params = self.params;
        let password = password.to_owned();
        // The permits move into the blocking task: a caller that gives up (a closed
        // connection) does not free a worker whose hash is still running.
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            hash_now(params, &password)
        })
        .await
        .map_err(|e| IdentityError::Internal(e.to_string()))?
    }

    /// Verifies `password` against `stored`, or against a dummy hash when there is no account.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool> {
        if password.chars().count() > MAX_PASSWORD_CHARS {
            return Ok(false);
        }
        let turn = self.turn().await?;
        let exists = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            let _turn = turn;
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

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_frees_up() {
        let s = PasswordService::with_limits(
            fast(),
            HashingLimits {
                workers: 1,
                queue: 1,
            },
        )
        .unwrap();
        let h = s.hash("correct horse battery").await.unwrap();
        // One caller holds the worker, a second waits for it: the queue is full.
        let running = s.turn().await.unwrap();
        let s2 = s.clone();
        let waiting = tokio::spawn(async move { s2.hash("another passphrase").await });
        while s.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        for attempt in [
            s.verify("correct horse battery", Some(&h)).await,
            s.hash("a third passphrase").await.map(|_| true),
        ] {
            match attempt {
                Err(IdentityError::Busy { retry_after_secs }) => {
                    assert_eq!(retry_after_secs, BUSY_RETRY_AFTER_SECS)
                }
                other => panic!("expected Busy, got {other:?}"),
            }
        }
        drop(running);
        assert!(waiting.await.unwrap().unwrap().starts_with("$argon2id$"));
        assert!(s.verify("correct horse battery", Some(&h)).await.unwrap());
    }

    #[test]
    fn default_limits_use_half_the_cores() {
        let cpus = std::thread::available_parallelism().unwrap().get();
        let limits = HashingLimits::default();
        assert_eq!(limits.workers, (cpus / 2).max(1));
        assert!(limits.queue > 0);
        assert!(
            PasswordService::with_limits(
                fast(),
                HashingLimits {
                    workers: 0,
                    queue: 1
                }
            )
            .is_err()
        );
    }

    #[test]
    fn policy_names_the_field() {
        let e = PasswordService::check_policy("short", "bob").unwrap_err();
        assert!(e.to_string().starts_with("password:"));
        assert!(PasswordService::check_policy("averyverylongname", "AVERYVERYLONGNAME").is_err());
        assert!(PasswordService::check_policy("a reasonable passphrase", "bob").is_ok());
    }
}
