//! Random tokens and their stored form.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the operating system, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS random source failing is unrecoverable for a server issuing secrets.
    if getrandom::getrandom(&mut buf).is_err() {
        panic_free_fallback(&mut buf);
    }
    URL_SAFE_NO_PAD.encode(buf)
}

// getrandom only fails on platforms without an entropy source; refuse to continue there rather
// than hand out predictable tokens.
fn panic_free_fallback(_buf: &mut [u8]) {
    tracing::error!("the operating system's random source failed; aborting");
    std::process::abort();
}

/// SHA-256 hex of a high-entropy secret. Appropriate only for random secrets (session tokens,
/// client secrets), never for passwords.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two strings.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token(32);
        let b = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
