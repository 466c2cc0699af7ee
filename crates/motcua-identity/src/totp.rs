//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), as authenticator apps
//! compute them: HMAC-SHA1, 30-second steps, 6 digits, the secret shared as base32 (RFC 4648)
//! in an `otpauth://` URI. A code is accepted for the current step and one step either side
//! (clock drift), and never twice: the caller stores the step of the last accepted code and
//! refuses any step at or before it.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Seconds per step (RFC 6238 §4, the default every authenticator app uses).
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret: 160 bits, the length of an HMAC-SHA1 key (RFC 4226 §4 R6).
pub const SECRET_BYTES: usize = 20;
/// Steps accepted on either side of the current one.
const DRIFT_STEPS: i64 = 1;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new random secret, as base32 without padding.
pub fn new_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    if getrandom::getrandom(&mut key).is_err() {
        tracing::error!("the operating system's random source failed; aborting");
        std::process::abort();
    }
    base32_encode(&key)
}

/// RFC 4648 base32, upper case, without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Decodes base32 as people type it: case, spaces and padding ignored; `None` on any other
/// character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = match c.to_ascii_uppercase() {
            c @ b'A'..=b'Z' => c - b'A',
            c @ b'2'..=b'7' => c - b'2' + 26,
            b' ' | b'=' | b'-' => continue,
            _ => return None,
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    Some(out)
}

/// The HOTP value of `key` at `counter` with `digits` digits (RFC 4226 §5.3).
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts a key of any length.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[hash.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The step a Unix time (seconds) falls in.
pub fn step_at(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The code for `secret` (base32) at a Unix time, zero-padded, or `None` for a secret that
/// is not base32.
pub fn code_at(secret: &str, unix_secs: i64) -> Option<String> {
    let key = base32_decode(secret)?;
    let step = u64::try_from(step_at(unix_secs)).ok()?;
    Some(format!(
        "{:0width$}",
        hotp(&key, step, DIGITS),
        width = DIGITS as usize
    ))
}

/// The step whose code `code` is, within the drift allowed around `unix_secs` and after
/// `last_step` (the step of the last code accepted, if any); `None` if it is no such code.
pub fn accept(secret: &str, code: &str, unix_secs: i64, last_step: Option<i64>) -> Option<i64> {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let key = base32_decode(secret)?;
    let now = step_at(unix_secs);
    let mut found = None;
    // Every candidate is computed, so the time taken does not tell which one matched.
    for step in now - DRIFT_STEPS..=now + DRIFT_STEPS {
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        let expected = format!(
            "{:0width$}",
            hotp(&key, counter, DIGITS),
            width = DIGITS as usize
        );
        let fresh = last_step.is_none_or(|last| step > last);
        if crate::token::constant_time_eq(&expected, code) && fresh && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The URI an authenticator app reads from a QR code (Key Uri Format, the de facto standard).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows: the 8-digit values at the given times.
    #[test]
    fn rfc_6238_test_vectors() {
        let key = b"12345678901234567890";
        for (time, expected) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(key, time / 30, 8), expected, "T = {time}");
        }
        // The same key as base32, and 6 digits: the last six of the 8-digit value.
        let secret = base32_encode(key);
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(code_at(&secret, 59).as_deref(), Some("287082"));
        assert_eq!(code_at(&secret, 1111111109).as_deref(), Some("081804"));
    }

    /// RFC 4226 Appendix D: HOTP values of the first counters.
    #[test]
    fn rfc_4226_test_vectors() {
        let key = b"12345678901234567890";
        let expected = [755224, 287082, 359152, 969429, 338314];
        for (counter, value) in expected.iter().enumerate() {
            assert_eq!(hotp(key, counter as u64, 6), *value);
        }
    }

    #[test]
    fn base32_round_trips_and_reads_what_people_type() {
        for len in 0..=21 {
            let bytes: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
            assert_eq!(base32_decode(&base32_encode(&bytes)), Some(bytes));
        }
        assert_eq!(
            base32_decode("gezd gnbv gy3t qojq gezd gnbv gy3t qojq"),
            Some(b"12345678901234567890".to_vec())
        );
        assert_eq!(base32_decode("GEZ1"), None);
        assert_eq!(new_secret().len(), 32);
    }

    #[test]
    fn codes_are_accepted_within_one_step_and_once() {
        let secret = base32_encode(b"12345678901234567890");
        let t = 1111111109;
        let code = code_at(&secret, t).unwrap();
        assert_eq!(accept(&secret, &code, t, None), Some(step_at(t)));
        // One step late or early still passes; two do not.
        assert_eq!(accept(&secret, &code, t + 30, None), Some(step_at(t)));
        assert_eq!(accept(&secret, &code, t - 30, None), Some(step_at(t)));
        assert_eq!(accept(&secret, &code, t + 60, None), None);
        // Used once, the same code (or an older one) is refused.
        assert_eq!(accept(&secret, &code, t, Some(step_at(t))), None);
        let earlier = code_at(&secret, t - 30).unwrap();
        assert_eq!(accept(&secret, &earlier, t, Some(step_at(t))), None);
        assert_eq!(accept(&secret, "12345", t, None), None);
        assert_eq!(accept(&secret, "abcdef", t, None), None);
        assert!(otpauth_uri("motcua", "001095012345", &secret).starts_with(
            "otpauth://totp/motcua:001095012345?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=motcua"
        ));
    }
}
