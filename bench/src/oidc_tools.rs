//! Tools for the OpenID Connect benchmark (bench/oidc.sh).
//!
//! `oidc-tools logins URL --accounts FILE --client-id ID --redirect-uri URI [--seconds S]
//!  [--warmup S] [--connections C]`: password logins as a browser makes them, each on a fresh
//! cookie jar: GET the authorization request (the login form and its CSRF cookie), then POST
//! the PID, the password and the account's current TOTP code (RFC 6238, SHA-1, 6 digits,
//! 30 s). FILE has one account a line, `PID PASSWORD TOTP_SECRET`; each is used once (a TOTP
//! code is accepted once per step). C connections, each a thread with a blocking keep-alive
//! socket. A login succeeded when the POST answers 200 with the consent form, or 303. Prints
//! `RESULT logins_per_s=… p50_ms=… p99_ms=… logins=… failed=… busy=… accounts_left=…` for the
//! logins finished after the warm-up (latency: the POST alone).
//!
//! `oidc-tools argon2 [--memory-kib M] [--iterations T] [--parallelism P] [--seconds S]`: the
//! bare Argon2id verification rate on one thread, as motcua verifies (the `argon2` crate's
//! `verify_password` on a PHC string made with those parameters). Prints `RESULT
//! verifies_per_s=… ms_each=…`.
//!
//! `oidc-tools es256 [--seconds S]`: the bare ES256 signature rate on one thread (the `p256`
//! crate, as motcua signs), on a token-sized signing input. Prints `RESULT signs_per_s=…
//! us_each=…`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

type Failure = String;

fn flags(args: &[String]) -> Result<std::collections::HashMap<String, String>, Failure> {
    let mut out = std::collections::HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(name) = flag.strip_prefix("--") else {
            return Err(format!("unexpected argument {flag:?}"));
        };
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        out.insert(name.to_owned(), value.clone());
    }
    Ok(out)
}

fn number<T: std::str::FromStr>(
    f: &std::collections::HashMap<String, String>,
    name: &str,
    default: T,
) -> Result<T, Failure> {
    match f.get(name) {
        Some(v) => v
            .parse()
            .map_err(|_| format!("--{name}: {v:?} is not a number")),
        None => Ok(default),
    }
}

// ---- TOTP ----

fn base32_decode(text: &str) -> Result<Vec<u8>, Failure> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let i = ALPHABET
            .iter()
            .position(|&a| a == c.to_ascii_uppercase())
            .ok_or_else(|| format!("not base32: {text:?}"))?;
        value = (value << 5) | i as u32;
        bits += 5;
        if bits >= 8 {
            out.push((value >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    Ok(out)
}

fn totp(key: &[u8], step: u64) -> Result<String, Failure> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).map_err(|e| e.to_string())?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let n = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]) % 1_000_000;
    Ok(format!("{n:06}"))
}

// ---- A minimal HTTP/1.1 client ----

struct Response {
    status: u16,
    set_cookies: Vec<String>,
    body: String,
}

fn read_response(conn: &mut BufReader<TcpStream>) -> std::io::Result<Response> {
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let (mut length, mut chunked, mut set_cookies) = (0usize, false, Vec::new());
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value
                    .parse()
                    .map_err(|_| std::io::Error::other("bad content-length"))?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("set-cookie") {
                set_cookies.push(value.to_owned());
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            let mut chunk = vec![0u8; size + 2];
            conn.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        conn.read_exact(&mut body)?;
    }
    Ok(Response {
        status,
        set_cookies,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn unescape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn hidden_field<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

// ---- Logins ----

struct Account {
    pid: String,
    password: String,
    key: Vec<u8>,
}

struct LoginSetup {
    host: String,
    authorize_query: String,
    accounts: Vec<Account>,
    next: AtomicUsize,
    start: Instant,
    warmup: Duration,
    end: Duration,
}

#[derive(Default)]
struct LoginTally {
    /// Milliseconds from the POST to its answer, logins finished in the measured window.
    latencies: Vec<f64>,
    failed: u64,
    busy: u64,
}

enum Outcome {
    Ok,
    Busy,
    Failed,
}

fn login_once(
    s: &LoginSetup,
    conn: &mut Option<BufReader<TcpStream>>,
    account: &Account,
) -> std::io::Result<(Outcome, Instant)> {
    if conn.is_none() {
        let stream = TcpStream::connect(&s.host)?;
        stream.set_nodelay(true)?;
        *conn = Some(BufReader::new(stream));
    }
    let c = conn.as_mut().ok_or(std::io::ErrorKind::NotConnected)?;
    let get = format!(
        "GET /oidc/authorize?{} HTTP/1.1\r\nHost: {}\r\nUser-Agent: oidc-tools\r\n\r\n",
        s.authorize_query, s.host
    );
    c.get_mut().write_all(get.as_bytes())?;
    let form = read_response(c)?;
    let csrf = form
        .set_cookies
        .iter()
        .find_map(|h| h.strip_prefix("motcua_login_csrf="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let authz = hidden_field(&form.body, "authz").map(unescape_html);
    let (Some(csrf), Some(authz), 200) = (csrf, authz, form.status) else {
        return Ok((Outcome::Failed, Instant::now()));
    };
    let step = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / 30;
    let code = totp(&account.key, step).map_err(std::io::Error::other)?;
    let body = format!(
        "csrf={}&authz={}&pid={}&password={}&totp={code}",
        url_encode(&csrf),
        url_encode(&authz),
        url_encode(&account.pid),
        url_encode(&account.password)
    );
    let post = format!(
        "POST /oidc/authorize/login HTTP/1.1\r\nHost: {}\r\nUser-Agent: oidc-tools\r\nCookie: motcua_login_csrf={csrf}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        s.host,
        body.len()
    );
    let sent = Instant::now();
    c.get_mut().write_all(post.as_bytes())?;
    let answer = read_response(c)?;
    let outcome = match answer.status {
        303 => Outcome::Ok,
        200 if answer.body.contains("/oidc/authorize/consent") => Outcome::Ok,
        503 => Outcome::Busy,
        _ => Outcome::Failed,
    };
    Ok((outcome, sent))
}

fn login_worker(s: &LoginSetup) -> LoginTally {
    let mut tally = LoginTally::default();
    let mut conn = None;
    loop {
        if s.start.elapsed() >= s.end {
            break;
        }
        let i = s.next.fetch_add(1, Ordering::Relaxed);
        let Some(account) = s.accounts.get(i) else {
            break;
        };
        let outcome = login_once(s, &mut conn, account);
        let now = Instant::now();
        let measured =
            now.duration_since(s.start) >= s.warmup && now.duration_since(s.start) <= s.end;
        match outcome {
            Ok((Outcome::Ok, sent)) => {
                if measured {
                    tally
                        .latencies
                        .push(now.duration_since(sent).as_secs_f64() * 1000.0);
                }
            }
            Ok((Outcome::Busy, _)) => tally.busy += u64::from(measured),
            Ok((Outcome::Failed, _)) => tally.failed += u64::from(measured),
            Err(_) => {
                tally.failed += u64::from(measured);
                conn = None;
            }
        }
    }
    tally
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn logins(args: &[String]) -> Result<(), Failure> {
    let url = args.first().ok_or("logins needs a URL")?;
    let host = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs")?
        .trim_end_matches('/')
        .to_owned();
    let f = flags(&args[1..])?;
    let file = f.get("accounts").ok_or("--accounts is required")?;
    let client_id = f.get("client-id").ok_or("--client-id is required")?;
    let redirect_uri = f.get("redirect-uri").ok_or("--redirect-uri is required")?;
    let seconds: f64 = number(&f, "seconds", 20.0)?;
    let warmup: f64 = number(&f, "warmup", 3.0)?;
    let connections: usize = number(&f, "connections", 8)?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let mut accounts = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut words = line.split_whitespace();
        let (Some(pid), Some(password), Some(secret)) = (words.next(), words.next(), words.next())
        else {
            return Err(format!(
                "{file}: expected `PID PASSWORD TOTP_SECRET`, got {line:?}"
            ));
        };
        accounts.push(Account {
            pid: pid.to_owned(),
            password: password.to_owned(),
            key: base32_decode(secret)?,
        });
    }
    // A fixed, well-formed S256 challenge: the codes are never redeemed.
    let authorize_query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile&state=bench&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        url_encode(client_id),
        url_encode(redirect_uri)
    );
    let setup = Arc::new(LoginSetup {
        host,
        authorize_query,
        accounts,
        next: AtomicUsize::new(0),
        start: Instant::now(),
        warmup: Duration::from_secs_f64(warmup),
        end: Duration::from_secs_f64(warmup + seconds),
    });
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let s = Arc::clone(&setup);
            std::thread::spawn(move || login_worker(&s))
        })
        .collect();
    let mut all = LoginTally::default();
    for w in workers {
        let t = w.join().map_err(|_| "a worker panicked")?;
        all.latencies.extend(t.latencies);
        all.failed += t.failed;
        all.busy += t.busy;
    }
    let elapsed = setup.start.elapsed().as_secs_f64();
    let window = (elapsed.min(warmup + seconds) - warmup).max(1e-9);
    let left = setup
        .accounts
        .len()
        .saturating_sub(setup.next.load(Ordering::Relaxed));
    if left == 0 {
        eprintln!("warning: the accounts ran out before the end of the run");
    }
    all.latencies.sort_by(f64::total_cmp);
    println!(
        "RESULT logins_per_s={:.1} p50_ms={:.1} p99_ms={:.1} logins={} failed={} busy={} accounts_left={left}",
        all.latencies.len() as f64 / window,
        percentile(&all.latencies, 50.0),
        percentile(&all.latencies, 99.0),
        all.latencies.len(),
        all.failed,
        all.busy
    );
    Ok(())
}

// ---- Bare primitives ----

fn argon2_rate(args: &[String]) -> Result<(), Failure> {
    use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};
    let f = flags(args)?;
    let params = Params::new(
        number(&f, "memory-kib", 7168)?,
        number(&f, "iterations", 5)?,
        number(&f, "parallelism", 1)?,
        None,
    )
    .map_err(|e| e.to_string())?;
    let seconds: f64 = number(&f, "seconds", 5.0)?;
    let salt = SaltString::encode_b64(b"bench-salt-16byt").map_err(|e| e.to_string())?;
    let password = b"correct horse battery staple";
    let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password, &salt)
        .map_err(|e| e.to_string())?
        .to_string();
    let hash = PasswordHash::new(&phc).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        Argon2::default()
            .verify_password(password, &hash)
            .map_err(|e| e.to_string())?;
        n += 1;
    }
    let took = start.elapsed().as_secs_f64();
    println!(
        "RESULT verifies_per_s={:.1} ms_each={:.2} verifies={n}",
        n as f64 / took,
        took * 1000.0 / n as f64
    );
    Ok(())
}

fn es256_rate(args: &[String]) -> Result<(), Failure> {
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    let f = flags(args)?;
    let seconds: f64 = number(&f, "seconds", 3.0)?;
    let key = SigningKey::from_slice(&[0x42; 32]).map_err(|e| e.to_string())?;
    // About the size of a client-credentials access token's header and claims, base64url.
    let input = "e".repeat(330);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        let signature: Signature = key.sign(input.as_bytes());
        std::hint::black_box(signature);
        n += 1;
    }
    let took = start.elapsed().as_secs_f64();
    println!(
        "RESULT signs_per_s={:.0} us_each={:.1} signs={n}",
        n as f64 / took,
        took * 1e6 / n as f64
    );
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("logins") => logins(&args[1..]),
        Some("argon2") => argon2_rate(&args[1..]),
        Some("es256") => es256_rate(&args[1..]),
        _ => Err("usage: oidc-tools logins|argon2|es256 … (see the source's header)".to_owned()),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::from(2)
        }
    }
}
