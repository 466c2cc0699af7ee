//! The `motcua` binary as an operator runs it, against a fresh database per test (SQLite, or
//! PostgreSQL with `TEST_DATABASE_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use motcua_db::Db;
use motcua_db::testing::{self, TestDb};
use motcua_domain::Pid;
use motcua_registry::citizens;

const HEADER: &str = "pid,full_name,gender,date_of_birth,province_code,household_id,relation_to_head,hometown_province,ethnicity_code\n";

/// The binary with a clean environment: no database or listen address inherited from the
/// developer's shell, and a data directory that is not the working directory.
fn motcua(work: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_motcua"));
    for var in [
        "MOTCUA_DATABASE_URL",
        "MOTCUA_LISTEN",
        "MOTCUA_SECURE_COOKIES",
        "MOTCUA_PASSWORD",
        "MOTCUA_HSTS",
        "MOTCUA_HSTS_MAX_AGE_SECS",
        "MOTCUA_METRICS_LISTEN",
        "MOTCUA_HEADER_READ_TIMEOUT_SECS",
        "MOTCUA_IDLE_TIMEOUT_SECS",
        "MOTCUA_MAX_CONNECTIONS",
        "MOTCUA_DRAIN_TIMEOUT_SECS",
        "MOTCUA_SMTP_URL",
        "MOTCUA_MAIL_FROM",
        "MOTCUA_WORKERS",
        "MOTCUA_JOB_LEASE_SECS",
        "MOTCUA_JOB_POLL_MS",
        "MOTCUA_PORTAL_CLIENT_ID",
        "MOTCUA_ARGON2_MEMORY_KIB",
        "MOTCUA_ARGON2_ITERATIONS",
        "MOTCUA_ARGON2_PARALLELISM",
        "MOTCUA_PASSWORD_HASH_WORKERS",
        "MOTCUA_LOGIN_ATTEMPTS_PER_MINUTE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("MOTCUA_DATA_DIR", work.join("data"))
        .env("MOTCUA_LOG", "warn")
        .current_dir(work)
        .stdin(Stdio::null());
    cmd
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn run(work: &Path, args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = motcua(work)
        .args(args)
        .output()
        .expect("the motcua binary runs");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A fresh database (kept alive for the test: its SQLite directory must outlive every child)
/// and a working directory for files.
struct Env {
    db: TestDb,
    work: tempfile::TempDir,
}

impl Env {
    async fn new() -> Env {
        Env {
            db: testing::fresh().await.unwrap(),
            work: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    fn path_str(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    /// Runs `motcua <args…> --database URL` (the flag goes after the subcommand path given).
    fn run_db(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database", self.db.url.as_str()]);
        run(self.work.path(), &all)
    }

    fn run(&self, args: &[&str]) -> Run {
        run(self.work.path(), args)
    }

    /// A new connection to the same database the binary used.
    async fn connect(&self) -> Db {
        Db::connect(&self.db.url).await.unwrap()
    }

    fn generate(&self, name: &str, count: usize, seed: u64) -> PathBuf {
        let out = self.path_str(name);
        let r = self.run(&[
            "registry",
            "generate",
            "--count",
            &count.to_string(),
            "--seed",
            &seed.to_string(),
            "--out",
            &out,
        ]);
        assert!(r.ok(), "{r:?}");
        self.path(name)
    }
}

fn pids_of_csv(text: &str) -> BTreeSet<String> {
    text.lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn migrate_applies_every_migration() {
    let (db, url, _dir) = testing::fresh_unmigrated().await.unwrap();
    assert!(!motcua_db::migrate::is_current(&db).await);
    let work = tempfile::tempdir().unwrap();
    let r = run(work.path(), &["migrate", "--database", &url]);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("migrations applied"), "{r:?}");
    let again = Db::connect(&url).await.unwrap();
    assert!(motcua_db::migrate::is_current(&again).await);
    // Running it again changes nothing and still succeeds.
    let r = run(work.path(), &["migrate", "--database", &url]);
    assert!(r.ok(), "{r:?}");
    // Nothing was written to the default data directory.
    assert!(!work.path().join("data").exists());
}

#[tokio::test]
async fn generate_is_deterministic_for_a_seed() {
    let env = Env::new().await;
    let a = std::fs::read_to_string(env.generate("a.csv", 500, 42)).unwrap();
    let header = a.lines().next().unwrap();
    assert!(
        header.starts_with("pid,full_name,gender,date_of_birth,province_code,household_id"),
        "{header}"
    );
    assert_eq!(a.lines().count(), 501);
    assert_eq!(pids_of_csv(&a).len(), 500, "PIDs are unique");
    for pid in pids_of_csv(&a) {
        Pid::parse(&pid).unwrap_or_else(|e| panic!("{pid}: {e}"));
    }
    let again = std::fs::read_to_string(env.generate("b.csv", 500, 42)).unwrap();
    assert_eq!(a, again, "same seed, same file");
    let other = std::fs::read_to_string(env.generate("c.csv", 500, 43)).unwrap();
    assert_ne!(a, other, "another seed, another population");
    assert_eq!(other.lines().count(), 501);
}

#[tokio::test]
async fn import_stores_every_generated_citizen() {
    let env = Env::new().await;
    let file = env.generate("people.csv", 500, 42);
    let r = env.run_db(&["registry", "import", file.to_str().unwrap()]);
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout.contains("500 rows read, 500 imported, 0 rejected"),
        "{r:?}"
    );
    let db = env.connect().await;
    assert_eq!(citizens::count(&db).await.unwrap(), 500);
    let text = std::fs::read_to_string(&file).unwrap();
    let first = text.lines().nth(1).unwrap();
    let mut cols = first.split(',');
    let pid = Pid::parse(cols.next().unwrap()).unwrap();
    let stored = citizens::get(&db, pid).await.unwrap().expect("stored");
    assert_eq!(stored.full_name, cols.next().unwrap());

    // Importing the same file again stores nothing twice.
    let r = env.run_db(&["registry", "import", file.to_str().unwrap()]);
    assert!(!r.ok(), "{r:?}");
    assert_eq!(citizens::count(&db).await.unwrap(), 500);
}

#[tokio::test]
async fn import_dry_run_stores_nothing() {
    let env = Env::new().await;
    let file = env.generate("people.csv", 50, 7);
    let r = env.run_db(&["registry", "import", "--dry-run", file.to_str().unwrap()]);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains("dry run"), "{r:?}");
    assert_eq!(citizens::count(&env.connect().await).await.unwrap(), 0);
}

#[tokio::test]
async fn import_reports_bad_rows_by_line_and_stores_only_good_ones() {
    let env = Env::new().await;
    let mut csv = HEADER.as_bytes().to_vec();
    csv.extend_from_slice(
        "001095012345,Nguyễn Văn An,M,1995-03-14,001,1,head,036,01\n\
         001195012346,Trần Thị Bình,F,1995-07-02,001,1,spouse,001,01\n\
         0010950123,Phạm Văn Em,M,1995-02-01,001,3,head,001,01\n\
         001095012399,Phạm Văn Cường,F,1995-01-01,001,3,head,001,01\n\
         001095012398,Phạm Văn Dũng,M,1995-02-30,001,3,head,001,01\n\
         001095012397,Phạm Văn Giang,M,1995-02-01,001\n"
            .as_bytes(),
    );
    csv.extend_from_slice(b"001095012395,Ph\xff\xfem,M,1995-02-01,001,3,head,001,01\n");
    csv.extend_from_slice(
        "001095012345,Nguyễn Văn An,M,1995-03-14,001,1,head,036,01\n\
         079085000777,Lê Văn Ánh,M,1985,079,2,head,079,\n"
            .as_bytes(),
    );
    let file = env.path("bad.csv");
    std::fs::write(&file, csv).unwrap();

    let r = env.run_db(&["registry", "import", file.to_str().unwrap()]);
    assert!(!r.ok(), "{r:?}");
    assert_eq!(r.code, Some(1), "{r:?}");
    let expect = [
        (4, "pid"),           // malformed PID
        (5, "pid"),           // gender digit says male, the row says F
        (6, "date_of_birth"), // 30 February
        (7, "columns"),       // wrong column count
        (8, "UTF-8"),         // invalid bytes in the name
        (9, "line 2"),        // duplicates the PID on line 2
    ];
    for (line, reason) in expect {
        let msg = r
            .stderr
            .lines()
            .find(|l| l.contains(&format!("line {line}:")))
            .unwrap_or_else(|| panic!("line {line} not reported: {r:?}"));
        assert!(msg.contains(reason), "line {line} lacks {reason:?}: {msg}");
    }
    for good in [2, 3, 10] {
        assert!(
            !r.stderr.contains(&format!("line {good}:")),
            "good line {good} reported: {r:?}"
        );
    }
    assert!(
        r.stdout.contains("9 rows read, 3 imported, 6 rejected"),
        "{r:?}"
    );

    let db = env.connect().await;
    assert_eq!(citizens::count(&db).await.unwrap(), 3);
    for good in ["001095012345", "001195012346", "079085000777"] {
        assert!(
            citizens::get(&db, Pid::parse(good).unwrap())
                .await
                .unwrap()
                .is_some(),
            "{good}"
        );
    }
    for bad in [
        "001095012399",
        "001095012398",
        "001095012397",
        "001095012395",
    ] {
        assert!(
            citizens::get(&db, Pid::parse(bad).unwrap())
                .await
                .unwrap()
                .is_none(),
            "{bad} stored"
        );
    }
    // The first An was stored, not the duplicate (same data here, so check the version).
    let an = citizens::get(&db, Pid::parse("001095012345").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(an.version, 1);
}

#[tokio::test]
async fn import_refuses_a_header_without_a_required_column() {
    let env = Env::new().await;
    let file = env.path("no-dob.csv");
    std::fs::write(
        &file,
        "pid,full_name,gender,province_code,household_id\n\
         001095012345,Nguyễn Văn An,M,001,1\n",
    )
    .unwrap();
    let r = env.run_db(&["registry", "import", file.to_str().unwrap()]);
    assert!(!r.ok(), "{r:?}");
    assert!(r.stderr.contains("date_of_birth"), "{r:?}");
    assert!(r.stderr.contains("missing"), "{r:?}");
    assert_eq!(citizens::count(&env.connect().await).await.unwrap(), 0);

    // An unknown column is named too.
    std::fs::write(
        &file,
        format!(
            "{},nickname\n001095012345,Nguyễn Văn An,M,1995-03-14,001,1,head,036,01,An\n",
            HEADER.trim_end()
        ),
    )
    .unwrap();
    let r = env.run_db(&["registry", "import", file.to_str().unwrap()]);
    assert!(!r.ok(), "{r:?}");
    assert!(r.stderr.contains("nickname"), "{r:?}");
    assert_eq!(citizens::count(&env.connect().await).await.unwrap(), 0);

    // A missing file.
    let r = env.run_db(&["registry", "import", env.path_str("nope.csv").as_str()]);
    assert!(!r.ok(), "{r:?}");
    assert!(r.stderr.contains("nope.csv"), "{r:?}");
}

#[tokio::test]
async fn client_create_prints_working_credentials() {
    let env = Env::new().await;
    let r = env.run_db(&[
        "client",
        "create",
        "--name",
        "Sở Tư pháp",
        "--scope",
        "registry.verify",
        "--scope",
        "registry.lookup",
    ]);
    assert!(r.ok(), "{r:?}");
    let issued: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("JSON on stdout");
    let id = issued["client_id"].as_str().unwrap();
    let secret = issued["client_secret"].as_str().unwrap();
    assert!(id.starts_with("mc_"), "{id}");
    assert!(secret.len() >= 32, "{secret}");

    let db = env.connect().await;
    let client = motcua_identity::clients::ClientCache::default()
        .authenticate(&db, id, secret)
        .await
        .unwrap()
        .expect("the printed secret authenticates");
    assert_eq!(client.name, "Sở Tư pháp");
    assert!(client.has_scope("registry.verify") && client.has_scope("registry.lookup"));

    let r = env.run_db(&["client", "list"]);
    assert!(r.ok(), "{r:?}");
    assert!(r.stdout.contains(id));
    assert!(!r.stdout.contains(secret), "secrets are never listed");

    let r = env.run_db(&[
        "client",
        "create",
        "--name",
        "Sở Y tế",
        "--scope",
        "registry.delete",
    ]);
    assert!(!r.ok(), "{r:?}");
    assert!(r.stderr.contains("scope"), "{r:?}");
    assert!(r.stderr.contains("registry.delete"), "{r:?}");
    assert!(r.stdout.trim().is_empty(), "{r:?}");
    assert_eq!(
        motcua_identity::clients::list(&db).await.unwrap().len(),
        1,
        "the refused client was not created"
    );
}

/// `motcua <args…> --database URL` with `input` on standard input.
fn run_db_with_stdin(env: &Env, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--database", env.db.url.as_str()]);
    let mut child = motcua(env.work.path())
        .args(&all)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the motcua binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

#[tokio::test]
async fn account_create_binds_an_account_to_a_registered_adult() {
    use motcua_identity::citizen_accounts::{self, InPersonCheck, Level};
    let env = Env::new().await;
    let file = env.generate("people.csv", 300, 7);
    assert!(
        env.run_db(&["registry", "import", file.to_str().unwrap()])
            .ok()
    );
    let text = std::fs::read_to_string(&file).unwrap();
    // (pid, year of birth, status) of every generated citizen.
    let people: Vec<(String, i32, String)> = text
        .lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            let year = cols[3][..4].parse().unwrap();
            (cols[0].to_owned(), year, cols[cols.len() - 2].to_owned())
        })
        .collect();
    let adult = &people
        .iter()
        .find(|p| p.1 <= 2000 && p.2 == "alive")
        .unwrap()
        .0;
    let child = &people
        .iter()
        .find(|p| p.1 >= 2016 && p.2 == "alive")
        .unwrap()
        .0;
    let create = |pid: &str, level: &str, password: &str| {
        run_db_with_stdin(
            &env,
            &[
                "account",
                "create",
                "--pid",
                pid,
                "--level",
                level,
                "--password-stdin",
            ],
            &format!("{password}\n"),
        )
    };
    let password = "một mật khẩu đủ dài";

    let r = create(adult, "1", password);
    assert!(r.ok(), "{r:?}");
    let created: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let account_id = created["account_id"].as_str().unwrap();
    let secret = created["totp_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    let now = motcua_db::clock::now_us() / 1_000_000;
    let code = motcua_identity::totp::code_at(secret, now).unwrap();
    assert!(motcua_identity::totp::accept(secret, &code, now, None).is_some());

    let db = env.connect().await;
    let pid = Pid::parse(adult).unwrap();
    let account = citizen_accounts::by_pid(&db, pid).await.unwrap().unwrap();
    assert_eq!(
        (account.id.as_str(), account.level, account.has_totp),
        (account_id, Level::One, true)
    );

    // Login: password and TOTP code; a code is used once; failures lock, and a lock refuses
    // even the right credentials.
    use motcua_identity::staff::{LockoutPolicy, LoginFailure};
    let passwords = motcua_identity::password::PasswordService::new(Default::default()).unwrap();
    let policy = LockoutPolicy {
        threshold: 3,
        lock_us: 60_000_000,
    };
    let at = now * 1_000_000;
    let login = |password: &'static str, code: String, at: i64| {
        let (db, passwords) = (&db, &passwords);
        async move {
            citizen_accounts::authenticate(db, passwords, policy, adult, password, &code, at)
                .await
                .unwrap()
        }
    };
    let ok = login("một mật khẩu đủ dài", code.clone(), at).await;
    assert_eq!(ok.map(|a| a.id), Ok(account_id.to_owned()));
    assert_eq!(
        login("một mật khẩu đủ dài", code.clone(), at).await,
        Err(LoginFailure::BadCredentials),
        "a code is used once"
    );
    let next = motcua_identity::totp::code_at(secret, now + 30).unwrap();
    // The replayed code was the first failure; the third locks.
    assert_eq!(
        login("sai mật khẩu rồi", next.clone(), at + 30_000_000).await,
        Err(LoginFailure::BadCredentials)
    );
    assert_eq!(
        login("sai mật khẩu rồi", next.clone(), at + 30_000_000).await,
        Err(LoginFailure::Locked)
    );
    assert_eq!(
        login("một mật khẩu đủ dài", next.clone(), at + 30_000_000).await,
        Err(LoginFailure::Locked)
    );
    // The lock expires.
    let later = motcua_identity::totp::code_at(secret, now + 120).unwrap();
    assert!(
        login("một mật khẩu đủ dài", later, at + 120_000_000)
            .await
            .is_ok()
    );

    // One account per PID; a PID absent from the registry, a child, bad input: refused, named.
    let r = create(adult, "1", password);
    assert!(
        !r.ok()
            && r.stderr
                .contains("pid: this citizen already has an account"),
        "{r:?}"
    );
    let absent = (0..1000)
        .map(|n| format!("{}{n:03}", &adult[..9]))
        .find(|p| !people.iter().any(|q| &q.0 == p))
        .unwrap();
    let r = create(&absent, "1", password);
    assert!(
        !r.ok() && r.stderr.contains("pid: no citizen with this PID"),
        "{r:?}"
    );
    let r = create(child, "1", password);
    assert!(!r.ok() && r.stderr.contains("under 14"), "{r:?}");
    let r = create("12345", "3", password);
    assert!(
        !r.ok() && r.stderr.contains("pid:") && r.stderr.contains("level:"),
        "{r:?}"
    );
    let other = &people
        .iter()
        .filter(|p| p.1 <= 2000 && p.2 == "alive")
        .nth(1)
        .unwrap()
        .0;
    let r = create(other, "1", "short");
    assert!(!r.ok() && r.stderr.contains("password:"), "{r:?}");
    assert!(r.stdout.trim().is_empty(), "{r:?}");
    assert!(
        citizen_accounts::by_pid(&db, Pid::parse(other).unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // `account raise-level`: names an unknown officer or PID; raises after the check.
    let r = create(other, "1", password);
    assert!(r.ok(), "{r:?}");
    let staff = motcua(env.work.path())
        .args([
            "staff",
            "create",
            "--username",
            "officer1",
            "--display-name",
            "Cán bộ Một",
        ])
        .args(["--role", "officer", "--database", &env.db.url])
        .env("MOTCUA_PASSWORD", "mật khẩu cán bộ đủ dài")
        .output()
        .unwrap();
    assert!(staff.status.success(), "{staff:?}");
    let raise = |officer: &str| {
        env.run_db(&[
            "account",
            "raise-level",
            "--pid",
            other,
            "--officer",
            officer,
            "--place",
            "Bộ phận một cửa UBND phường Bến Nghé",
            "--document-seen",
            "căn cước",
        ])
    };
    let r = raise("nobody");
    assert!(!r.ok() && r.stderr.contains("officer:"), "{r:?}");
    let r = raise("officer1");
    assert!(r.ok() && r.stdout.contains("\"level\":\"2\""), "{r:?}");
    let raised = citizen_accounts::by_pid(&db, Pid::parse(other).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raised.level, Level::Two);

    // Level 2 only after an in-person check, recorded; once.
    let check = InPersonCheck {
        officer: "staff:officer1",
        place: "Bộ phận một cửa UBND phường Bến Nghé",
        document_seen: "căn cước",
    };
    citizen_accounts::raise_to_level_2(&db, account_id, &check, 1)
        .await
        .unwrap();
    assert_eq!(
        citizen_accounts::by_id(&db, account_id)
            .await
            .unwrap()
            .unwrap()
            .level,
        Level::Two
    );
    let again = citizen_accounts::raise_to_level_2(&db, account_id, &check, 2).await;
    assert!(
        again
            .unwrap_err()
            .to_string()
            .contains("already at level 2")
    );
    let blank = InPersonCheck {
        place: " ",
        ..check
    };
    let e = citizen_accounts::raise_to_level_2(&db, account_id, &blank, 3)
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("place:"), "{e}");
    let r = env.run_db(&["audit", "verify"]);
    assert!(r.ok(), "{r:?}");
}

#[tokio::test]
async fn export_writes_every_imported_citizen() {
    let env = Env::new().await;
    let file = env.generate("people.csv", 500, 42);
    let r = env.run_db(&["registry", "import", file.to_str().unwrap()]);
    assert!(r.ok(), "{r:?}");
    let out = env.path_str("export.csv");
    let r = env.run_db(&["registry", "export", "--out", &out]);
    assert!(r.ok(), "{r:?}");
    let exported = std::fs::read_to_string(&out).unwrap();
    assert_eq!(exported.lines().count(), 501);
    assert!(exported.starts_with("pid,full_name,gender,date_of_birth"));
    let generated = std::fs::read_to_string(&file).unwrap();
    assert_eq!(pids_of_csv(&exported), pids_of_csv(&generated));

    // The export imports cleanly into another database.
    let other = testing::fresh().await.unwrap();
    let r = run(
        env.work.path(),
        &["registry", "import", &out, "--database", &other.url],
    );
    assert!(r.ok(), "{r:?}");
    assert_eq!(citizens::count(&other).await.unwrap(), 500);
}

#[tokio::test]
async fn export_is_recorded_and_safe_to_open_in_a_spreadsheet() {
    let env = Env::new().await;
    let csv = env.path("formula.csv");
    std::fs::write(
        &csv,
        "pid,full_name,gender,date_of_birth,province_code,household_id,address,phone\n\
         001095012345,Nguyễn Văn An,M,1995-03-14,001,1,\"=HYPERLINK(\"\"http://x.example\"\",\"\"bấm\"\")\",+84912345678\n\
         001195012346,Trần Thị Bình,F,1995-07-02,001,1,@SUM(A1:A9),0912345678\n",
    )
    .unwrap();
    let r = env.run_db(&["registry", "import", csv.to_str().unwrap()]);
    assert!(r.ok(), "{r:?}");
    let out = env.path_str("export.csv");
    let r = env.run_db(&[
        "registry",
        "export",
        "--out",
        &out,
        "--actor",
        "thanh.tra",
        "--purpose",
        "annual data-quality audit",
    ]);
    assert!(r.ok(), "{r:?}");
    let exported = std::fs::read_to_string(&out).unwrap();
    assert!(
        exported.contains("\"'=HYPERLINK(\"\"http://x.example\"\",\"\"bấm\"\")\""),
        "{exported}"
    );
    assert!(exported.contains(",'@SUM(A1:A9),"), "{exported}");
    assert!(
        exported.contains(",+84912345678,"),
        "a phone number stays a number: {exported}"
    );
    assert!(
        !exported.contains(",=") && !exported.contains(",@"),
        "{exported}"
    );

    let db = env.connect().await;
    let finished = motcua_db::events::by_type(&db, "registry_export.finished", 0, i64::MAX, 0, 10)
        .await
        .unwrap();
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0].actor, "cli:thanh.tra");
    assert_eq!(finished[0].reason, "annual data-quality audit");
    let payload: serde_json::Value = serde_json::from_str(&finished[0].payload).unwrap();
    assert_eq!(payload["rows"], 2);
    let started = motcua_db::events::by_type(&db, "registry_export.started", 0, i64::MAX, 0, 10)
        .await
        .unwrap();
    assert_eq!(started.len(), 1);
    assert!(started[0].occurred_at <= finished[0].occurred_at);
    assert_eq!(motcua_db::access_log::stored_count(&db).await.unwrap(), 2);

    // The actor defaults to the operating-system user; a purpose with control characters is
    // refused before anything is written.
    let r = motcua(env.work.path())
        .env("USER", "operator1")
        .args([
            "registry",
            "export",
            "--out",
            &out,
            "--database",
            env.db.url.as_str(),
        ])
        .output()
        .unwrap();
    assert!(r.status.success());
    let all = motcua_db::events::by_type(&db, "registry_export.finished", 0, i64::MAX, 0, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].actor, "cli:operator1");
    let refused = env.path_str("refused.csv");
    let r = env.run_db(&["registry", "export", "--out", &refused, "--purpose", "a\tb"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("--purpose"), "{r:?}");
    assert!(!std::path::Path::new(&refused).exists());
}

#[tokio::test]
async fn event_log_verifies_after_imports() {
    let env = Env::new().await;
    let a = env.generate("a.csv", 300, 1);
    let r = env.run_db(&["registry", "import", a.to_str().unwrap()]);
    assert!(r.ok(), "{r:?}");
    let b = env.generate("b.csv", 200, 2);
    let r = env.run_db(&["registry", "import", b.to_str().unwrap()]);
    // Two seeds may draw the same PID; what matters is the event log afterwards.
    assert!(r.code == Some(0) || r.code == Some(1), "{r:?}");
    let r = env.run_db(&[
        "client",
        "create",
        "--name",
        "Kho bạc",
        "--scope",
        "registry.verify",
    ]);
    assert!(r.ok(), "{r:?}");

    let r = env.run_db(&["events", "verify"]);
    assert!(r.ok(), "{r:?}");
    let report: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON report");
    assert!(report["events"].as_u64().unwrap() >= 3, "{report}");
    assert_eq!(report["breaks"], serde_json::json!([]));
}

// ---------------------------------------------------------------------------------------
// motcua serve
// ---------------------------------------------------------------------------------------

/// Kills the server however the test ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `GET path` over plain HTTP/1.1: the status and the body.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    let body = raw.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

fn wait_healthy(server: &mut Server, addr: SocketAddr, log: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if let Some((200, body)) = http_get(addr, "/healthz") {
            assert!(body.contains("ok"), "{body}");
            return;
        }
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!(
                "motcua serve exited with {status}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if Instant::now() > deadline {
            panic!(
                "motcua serve not healthy on {addr} within {within:?}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn spawn_server(env: &Env, configure: impl FnOnce(&mut Command, &str)) -> (Server, SocketAddr) {
    spawn_server_within(env, Duration::from_secs(20), configure)
}

fn spawn_server_within(
    env: &Env,
    within: Duration,
    configure: impl FnOnce(&mut Command, &str),
) -> (Server, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log_path = env.path("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = motcua(env.work.path());
    cmd.stdout(log.try_clone().unwrap()).stderr(log);
    configure(&mut cmd, &addr.to_string());
    let mut server = Server(cmd.spawn().unwrap());
    wait_healthy(&mut server, addr, &log_path, within);
    (server, addr)
}

fn assert_serving(addr: SocketAddr) {
    let (status, body) = http_get(addr, "/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"migrations_current\":true"), "{body}");
    let (status, body) = http_get(addr, "/api/v1/openapi.json").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("\"openapi\":\"3.1"), "{body}");
    let (status, _) = http_get(addr, "/login").unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn serve_answers_health_checks() {
    let env = Env::new().await;
    let url = env.db.url.clone();
    let (server, addr) = spawn_server(&env, |cmd, listen| {
        cmd.args(["serve", "--database", &url, "--listen", listen]);
    });
    assert_serving(addr);
    drop(server);
    // The default data directory was never used.
    assert!(!env.path("data").exists());
}

#[tokio::test]
async fn serve_reads_its_settings_from_the_environment() {
    let env = Env::new().await;
    let url = env.db.url.clone();
    let (server, addr) = spawn_server(&env, |cmd, listen| {
        cmd.arg("serve")
            .env("MOTCUA_DATABASE_URL", &url)
            .env("MOTCUA_LISTEN", listen);
    });
    assert_serving(addr);
    drop(server);
    assert!(!env.path("data").exists());
}

// ---------------------------------------------------------------------------------------
// motcua audit verify

/// Standard base64, for a Basic authorization header.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `POST path` with a JSON body and Basic credentials: the status and the body.
fn http_post_json(addr: SocketAddr, path: &str, user: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Basic {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        base64(user.as_bytes()),
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, raw.split_once("\r\n\r\n").unwrap().1.to_owned())
}

/// Drops a trigger, as an attacker with database access must first, then runs `edit`; the
/// number of rows edited.
async fn tamper(db: &Db, drop_trigger: &str, edit: &str) -> u64 {
    let mut edited = 0;
    for sql in [drop_trigger, edit] {
        let done: Result<u64, motcua_db::sqlx::Error> = motcua_db::on_write!(db, c => {
            motcua_db::sqlx::query(motcua_db::sqlx::AssertSqlSafe(sql))
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        });
        edited = done.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    edited
}

fn audit_report(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("JSON report ({e}): {r:?}"))
}

/// The tamper check as an attacker with database access meets it: accesses are made through
/// the API of a running server; once it has stopped, an untouched database verifies, and one
/// whose access-log entry (or event) was edited, after dropping the trigger that refuses it,
/// fails naming the log and the entry.
#[tokio::test]
async fn audit_verify_names_a_tampered_access_log_entry() {
    let env = Env::new().await;
    let csv = env.path("one.csv");
    std::fs::write(
        &csv,
        format!("{HEADER}001095012345,Nguyễn Văn An,M,1995-03-14,001,1,head,036,01\n"),
    )
    .unwrap();
    let r = env.run_db(&["registry", "import", csv.to_str().unwrap()]);
    assert!(r.ok(), "{r:?}");
    let r = env.run_db(&[
        "client",
        "create",
        "--name",
        "Cục Thuế",
        "--scope",
        "registry.verify",
    ]);
    assert!(r.ok(), "{r:?}");
    let issued: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let user = format!(
        "{}:{}",
        issued["client_id"].as_str().unwrap(),
        issued["client_secret"].as_str().unwrap()
    );

    let url = env.db.url.clone();
    let (server, addr) = spawn_server(&env, |cmd, listen| {
        cmd.args(["serve", "--database", &url, "--listen", listen]);
    });
    const ACCESSES: i64 = 5;
    for i in 0..ACCESSES {
        let body = format!(
            r#"{{"pid":"001095012345","full_name":"Nguyễn Văn An","date_of_birth":"1995-03-14","purpose":"tax registration {i}"}}"#
        );
        let (status, answer) = http_post_json(addr, "/api/v1/registry/verifications", &user, &body);
        assert_eq!(status, 200, "{answer}");
    }
    // On SQLite the entries are journaled and copied by the server within about a second.
    let db = env.connect().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while motcua_db::access_log::stored_count(&db).await.unwrap() < ACCESSES {
        assert!(
            Instant::now() < deadline,
            "the accesses never reached the database"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(server);

    let r = env.run_db(&["audit", "verify"]);
    assert!(r.ok(), "{r:?}");
    let report = audit_report(&r);
    assert_eq!(report["access_log"]["entries"], ACCESSES, "{report}");
    assert_eq!(report["breaks"], serde_json::json!([]));
    // `events verify` is the same check.
    let alias = env.run_db(&["events", "verify"]);
    assert!(alias.ok(), "{alias:?}");
    assert_eq!(audit_report(&alias), report);

    let ids: Vec<i64> = motcua_db::on_read!(&db, c => {
        motcua_db::sqlx::query_scalar("SELECT id FROM audit.access_log ORDER BY id")
            .fetch_all(c)
            .await
    })
    .unwrap();
    let victim = ids[2];
    let (drop_trigger, drop_events_trigger) = match db.engine() {
        motcua_db::Engine::Sqlite => (
            "DROP TRIGGER audit.access_log_no_update",
            "DROP TRIGGER events_no_update",
        ),
        motcua_db::Engine::Postgres => (
            "DROP TRIGGER access_log_no_update ON audit.access_log",
            "DROP TRIGGER events_no_update ON events",
        ),
    };
    let edit = format!("UPDATE audit.access_log SET purpose = 'curiosity' WHERE id = {victim}");
    assert_eq!(tamper(&db, drop_trigger, &edit).await, 1);
    let r = env.run_db(&["audit", "verify"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    let breaks = audit_report(&r)["breaks"].clone();
    let named = format!("access log entry {victim} ");
    assert_eq!(breaks.as_array().unwrap().len(), 1, "{breaks}");
    let only = breaks[0].as_str().unwrap();
    assert!(only.contains(&named) && only.contains("edited"), "{breaks}");
    assert!(r.stderr.contains(&named), "each break on stderr too: {r:?}");

    // An edited event is named as well, in its own log.
    let edit_event = "UPDATE events SET reason = 'nothing happened'
        WHERE aggregate_type = 'api_client' AND version = 1";
    assert_eq!(tamper(&db, drop_events_trigger, edit_event).await, 1);
    let r = env.run_db(&["events", "verify"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    let breaks = audit_report(&r)["breaks"].clone();
    assert_eq!(breaks.as_array().unwrap().len(), 2, "{breaks}");
    assert!(
        breaks[0]
            .as_str()
            .unwrap()
            .starts_with("event log: api_client "),
        "{breaks}"
    );
    assert!(breaks[1].as_str().unwrap().contains(&named), "{breaks}");
}

// ---------------------------------------------------------------------------------------
// motcua serve: limits against guessing
// ---------------------------------------------------------------------------------------

/// The value of the hidden `csrf` field of the login page.
fn csrf_field(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_owned()
}

/// Signs in from a fresh browser (its own cookies and CSRF token): the status, whether a
/// session cookie was set, and the page.
async fn sign_in(addr: SocketAddr, username: &str, password: &str) -> (u16, bool, String) {
    let b = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = b
        .get(format!("http://{addr}/login?lang=en"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_field(&page.text().await.unwrap());
    let resp = b
        .post(format!("http://{addr}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let session = resp
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("motcua_session="));
    (status, session, resp.text().await.unwrap())
}

#[tokio::test]
async fn fifteen_simultaneous_wrong_passwords_lock_the_account() {
    let env = Env::new().await;
    let password = "officer-password-123";
    let r = motcua(env.work.path())
        .args([
            "staff",
            "create",
            "--username",
            "officer",
            "--display-name",
            "Cán bộ Thử",
            "--role",
            "officer",
            "--database",
            &env.db.url,
        ])
        .env("MOTCUA_PASSWORD", password)
        .output()
        .unwrap();
    assert!(r.status.success(), "{r:?}");
    let url = env.db.url.clone();
    let (_server, addr) = spawn_server(&env, |cmd, listen| {
        cmd.args([
            "serve",
            "--database",
            &url,
            "--listen",
            listen,
            "--lockout-threshold",
            "10",
        ]);
    });
    let attempts: Vec<_> = (0..15)
        .map(|i| tokio::spawn(async move { sign_in(addr, "officer", &format!("wrong-{i}")).await }))
        .collect();
    let mut wrong_page = None;
    for a in attempts {
        let (status, session, html) = a.await.unwrap();
        assert_eq!((status, session), (401, false), "{html}");
        wrong_page.get_or_insert(html);
    }
    // The right password is refused now, with the same message as a wrong one.
    let (status, session, html) = sign_in(addr, "officer", password).await;
    assert_eq!((status, session), (401, false), "{html}");
    let message = "The username or password is not correct.";
    assert!(html.contains(message), "{html}");
    assert!(wrong_page.unwrap().contains(message));

    let db = env.connect().await;
    let user = motcua_identity::staff::by_username(&db, "officer")
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<String> = motcua_db::events::for_aggregate(&db, "staff_user", &user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
    assert_eq!(count("staff_user.login_failed"), 16, "{kinds:?}");
    assert_eq!(count("staff_user.locked"), 1, "{kinds:?}");
    assert_eq!(count("staff_user.logged_in"), 0, "{kinds:?}");
    let accounts = motcua_identity::staff::list(&db, motcua_db::clock::now_us())
        .await
        .unwrap();
    assert!(accounts[0].locked);
}

#[tokio::test]
async fn verification_throttle_holds_across_two_nodes() {
    let env = Env::new().await;
    let csv = env.path("people.csv");
    std::fs::write(
        &csv,
        format!(
            "{HEADER}001095012345,Nguyễn Văn An,M,1995-03-14,001,1,head,036,01\n\
             079085000777,Lê Văn Ánh,M,1985,079,2,head,079,\n"
        ),
    )
    .unwrap();
    let r = env.run_db(&["registry", "import", csv.to_str().unwrap()]);
    assert!(r.ok(), "{r:?}");
    let r = env.run_db(&[
        "client",
        "create",
        "--name",
        "Cổng dịch vụ công",
        "--scope",
        "registry.verify",
    ]);
    assert!(r.ok(), "{r:?}");
    let issued: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let (id, secret) = (
        issued["client_id"].as_str().unwrap().to_owned(),
        issued["client_secret"].as_str().unwrap().to_owned(),
    );
    let url = env.db.url.clone();
    let node = |listen: &str, cmd: &mut Command| {
        cmd.args(["serve", "--database", &url, "--listen", listen])
            .args([
                "--verify-failures-per-pid",
                "3",
                "--verify-daily-quota",
                "100",
            ]);
    };
    let (_a, node_a) = spawn_server(&env, |cmd, listen| node(listen, cmd));
    let (_b, node_b) = spawn_server(&env, |cmd, listen| node(listen, cmd));
    let verify = |addr: SocketAddr, pid: &str, name: &str, dob: &str| {
        let (id, secret) = (id.clone(), secret.clone());
        let body = serde_json::json!({
            "pid": pid, "full_name": name, "date_of_birth": dob, "purpose": "hồ sơ HS-7",
        });
        async move {
            reqwest::Client::new()
                .post(format!("http://{addr}/api/v1/registry/verifications"))
                .basic_auth(id, Some(secret))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // Three wrong dates of birth on the first node are answered.
    for dob in ["1990-01-01", "1991-01-01", "1992-01-01"] {
        let resp = verify(node_a, "001095012345", "Nguyễn Văn An", dob).await;
        assert_eq!(resp.status(), 200, "{dob}");
        let answer: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(answer["match"], false);
    }
    // The second node refuses the next guess, and the right date too.
    for dob in ["1993-01-01", "1995-03-14"] {
        let resp = verify(node_b, "001095012345", "Nguyễn Văn An", dob).await;
        assert_eq!(resp.status(), 429, "{dob}");
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "application/problem+json"
        );
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry > 86_000 && retry <= 86_400, "{retry}");
        let problem: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(problem["code"], "verification.throttled");
    }
    // Another PID is answered on either node.
    for addr in [node_a, node_b] {
        let resp = verify(addr, "079085000777", "Lê Văn Ánh", "1985").await;
        assert_eq!(resp.status(), 200);
        let answer: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(answer["match"], true);
    }
}

// ---------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------

const KEEP_ALIVE_HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: motcua\r\n\r\n";

/// One answer (head and `Content-Length` body) read from a connection that stays open.
fn read_answer(s: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                return Ok(String::from_utf8_lossy(&buf[..end + 4 + len]).into_owned());
            }
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A connection that has been served one request and is kept alive.
fn served_connection(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(KEEP_ALIVE_HEALTHZ).unwrap();
    let answer = read_answer(&mut s).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    s
}

/// Waits until the server closes `s`: true if it did within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

#[tokio::test]
async fn serve_closes_a_connection_that_never_finishes_its_headers() {
    let env = Env::new().await;
    let url = env.db.url.clone();
    let (_server, addr) = spawn_server(&env, |cmd, listen| {
        cmd.args(["serve", "--database", &url, "--listen", listen])
            .args(["--header-read-timeout-secs", "1"]);
    });
    let mut unfinished = TcpStream::connect(addr).unwrap();
    // The blank line that ends the head never comes.
    unfinished
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: motcua\r\n")
        .unwrap();
    let started = Instant::now();
    // Meanwhile a complete request on another connection is answered.
    let (status, _) = http_get(addr, "/healthz").unwrap();
    assert_eq!(status, 200);
    assert!(
        closed_within(&mut unfinished, Duration::from_secs(5)),
        "the unfinished connection is still open after {:?}",
        started.elapsed()
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(4),
        "closed after {waited:?}, the limit is 1 s"
    );

    // The same limit closes a kept-alive connection that sends no next request.
    let mut kept = served_connection(addr);
    let started = Instant::now();
    assert!(closed_within(&mut kept, Duration::from_secs(5)));
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn serve_closes_a_connection_on_which_nothing_moves() {
    let env = Env::new().await;
    let url = env.db.url.clone();
    let (_server, addr) = spawn_server(&env, |cmd, listen| {
        cmd.args(["serve", "--database", &url, "--listen", listen])
            .args([
                "--header-read-timeout-secs",
                "30",
                "--idle-timeout-secs",
                "1",
            ]);
    });
    // Long before the header read timeout, the idle timeout ends a silent connection.
    let mut silent = TcpStream::connect(addr).unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(10)));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(5),
        "closed after {waited:?}, the idle limit is 1 s"
    );
}

#[tokio::test]
async fn serve_holds_connections_beyond_the_cap_until_one_closes() {
    let env = Env::new().await;
    let url = env.db.url.clone();
    let (_server, addr) = spawn_server(&env, |cmd, listen| {
        cmd.args(["serve", "--database", &url, "--listen", listen])
            .args(["--max-connections", "2"]);
    });
    let first = served_connection(addr);
    let _second = served_connection(addr);
    // The kernel completes the third handshake; motcua does not accept it yet.
    let mut third = TcpStream::connect(addr).unwrap();
    third.write_all(KEEP_ALIVE_HEALTHZ).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut byte = [0u8; 1];
    let waiting = third.read(&mut byte);
    assert!(
        matches!(&waiting, Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)),
        "a third connection was served beyond a cap of two: {waiting:?}"
    );
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let answer = read_answer(&mut third).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn serve_finishes_a_request_in_flight_after_sigterm() {
    let env = Env::new().await;
    let url = env.db.url.clone();
    let (mut server, addr) = spawn_server(&env, |cmd, listen| {
        cmd.args(["serve", "--database", &url, "--listen", listen]);
    });
    // A sign-in whose body arrives in two parts: the handler waits for the second.
    let body = "csrf=wrong&username=officer&password=not-the-password";
    let (now, later) = body.split_at(10);
    let mut in_flight = TcpStream::connect(addr).unwrap();
    in_flight
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        in_flight,
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{now}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // The listener closes: new connections are refused while the request is finishing.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    in_flight.write_all(later.as_bytes()).unwrap();
    let answer = read_answer(&mut in_flight).unwrap();
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    assert!(answer.contains("<html"), "the sign-in page again: {answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "motcua serve did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn serve_keeps_metrics_on_their_own_address_when_asked() {
    let env = Env::new().await;
    let url = env.db.url.clone();
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let metrics_arg = metrics.to_string();
    let (_server, addr) = spawn_server(&env, |cmd, listen| {
        cmd.args(["serve", "--database", &url, "--listen", listen])
            .env("MOTCUA_METRICS_LISTEN", &metrics_arg);
    });
    let (status, _) = http_get(addr, "/metrics").unwrap();
    assert_eq!(status, 404, "the main address hides the metrics");
    let (status, body) = http_get(metrics, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("route=\"/healthz\",status=\"200\""), "{body}");
    let (status, _) = http_get(metrics, "/healthz").unwrap();
    assert_eq!(status, 404, "only the metrics on the metrics address");
}

// ---------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn database_passwords_never_appear_in_messages() {
    let work = tempfile::tempdir().unwrap();
    // URLs refused before any connection is tried, so the test does not wait out a timeout.
    let mut urls = vec![
        "postgresql://motcua:s3cret-pw@db.invalid:notaport/motcua".to_owned(),
        "postgres://motcua@db.invalid:notaport/motcua?sslmode=disable&password=s3cret-pw"
            .to_owned(),
        "postgres://motcua:s3cret%40pw@db.invalid/motcua?sslmode=nonsense".to_owned(),
        "mysql://motcua:s3cret-pw@127.0.0.1/motcua".to_owned(),
    ];
    // And a server that answers with an error of its own.
    if let Some(server) = testing::postgres_url() {
        let (scheme, rest) = server.split_once("://").unwrap();
        let (user, host) = rest.rsplit_once('@').unwrap();
        let user = user.split(':').next().unwrap();
        let host = host.split(['/', '?']).next().unwrap();
        urls.push(format!(
            "{scheme}://{user}:s3cret-pw@{host}/no_such_database"
        ));
    }
    for url in &urls {
        let r = run(work.path(), &["migrate", "--database", url]);
        assert!(!r.ok(), "{r:?}");
        assert!(
            r.stderr.contains("database") && r.stderr.contains("***"),
            "{r:?}"
        );
        assert!(
            !r.stderr.contains("s3cret") && !r.stdout.contains("s3cret"),
            "{url}: {r:?}"
        );
    }
}

/// A CSV with one citizen nobody but its importer knows.
fn someone_elses_registry(env: &Env) {
    let csv = env.path("registry.csv");
    std::fs::write(
        &csv,
        format!("{HEADER}079085000777,Lê Văn Ánh,M,1985,079,2,head,079,\n"),
    )
    .unwrap();
    let r = env.run_db(&["registry", "import", csv.to_str().unwrap()]);
    assert!(r.ok(), "{r:?}");
}

#[tokio::test]
async fn demo_refuses_a_database_holding_other_data() {
    let env = Env::new().await;
    someone_elses_registry(&env);
    // Held, so that a demo that did not refuse fails to serve instead of running on.
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let r = env.run_db(&["demo", "--listen", &busy_addr]);
    assert!(!r.ok(), "{r:?}");
    assert!(r.stderr.contains("refusing to load demo data"), "{r:?}");
    assert!(!env.path("data").join("demo-clients.json").exists());
    let db = env.connect().await;
    assert_eq!(citizens::count(&db).await.unwrap(), 1, "no demo citizens");
    assert!(
        motcua_identity::staff::by_username(&db, "admin")
            .await
            .unwrap()
            .is_none(),
        "no demo staff"
    );
    assert!(
        motcua_identity::clients::list(&db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn demo_reuses_its_own_database_and_keeps_its_secrets_private() {
    use std::os::unix::fs::PermissionsExt;

    let env = Env::new().await;
    let url = env.db.url.clone();
    let (server, _) = spawn_server_within(&env, Duration::from_secs(120), |cmd, listen| {
        cmd.args(["demo", "--database", &url, "--listen", listen]);
    });
    drop(server);
    let secrets = env.path("data").join("demo-clients.json");
    let mode = std::fs::metadata(&secrets).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    // Demo citizens' accounts and the demo relying party, their secrets private too.
    let accounts = env.path("data").join("demo-accounts.json");
    let mode = std::fs::metadata(&accounts).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let demo: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&accounts).unwrap()).unwrap();
    let db = env.connect().await;
    let mut levels = Vec::new();
    for citizen in demo["citizens"].as_array().unwrap() {
        let pid = Pid::parse(citizen["pid"].as_str().unwrap()).unwrap();
        let account = motcua_identity::citizen_accounts::by_pid(&db, pid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(citizen["account_id"], account.id.as_str());
        assert_eq!(citizen["totp_secret"].as_str().unwrap().len(), 32);
        levels.push(account.level);
    }
    use motcua_identity::citizen_accounts::Level;
    assert_eq!(levels, [Level::Two, Level::One]);
    let rp = demo["relying_party"]["client_id"].as_str().unwrap();
    let rp = motcua_identity::relying_parties::by_id(&db, rp)
        .await
        .unwrap()
        .unwrap();
    assert!(rp.scopes.iter().any(|s| s == "openid"), "{rp:?}");

    // A second start accepts the database it filled (and then finds the address taken).
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let r = env.run_db(&["demo", "--listen", &busy_addr]);
    assert!(!r.ok(), "{r:?}");
    assert!(!r.stderr.contains("refusing"), "{r:?}");
    assert!(r.stderr.contains("cannot listen on"), "{r:?}");
}

// ---- SQL boundary: SQL only in motcua-db and in the context crates' store modules ----

/// Files that still hold SQL outside a store module while they are being moved into one.
const SQL_ALLOWED_OUTSIDE_STORE: &[&str] = &[];

/// Calls that run SQL (sqlx, or a raw rusqlite connection), looked for in code outside strings.
const SQL_CALLS: &[&str] = &[
    "sqlx::query",
    "query_as(",
    "query_as::<",
    "query_scalar(",
    "query_scalar::<",
    "QueryBuilder",
    "raw_sql(",
    "AssertSqlSafe",
    ".execute(",
    ".execute_batch(",
    ".query_row(",
    "prepare(",
    "prepare_cached(",
];

/// Keywords that make a string literal SQL: each pair must appear in this order, as whole
/// upper-case words (an empty second word: the first alone).
const SQL_KEYWORDS: &[(&str, &str)] = &[
    ("SELECT", "FROM"),
    ("INSERT", "INTO"),
    ("UPDATE", "SET"),
    ("DELETE", "FROM"),
    ("CREATE", "TABLE"),
    ("CREATE", "INDEX"),
    ("DROP", ""),
    ("PRAGMA", ""),
    ("BEGIN", "IMMEDIATE"),
    ("ON", "CONFLICT"),
];

/// Where a Rust source holds SQL: (line, what was found). Comments (line, doc and block)
/// are not SQL; neither are `#[cfg(test)]` modules, which read storage to check what a
/// store wrote.
fn sql_findings(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut code_lines: Vec<(usize, String)> = vec![(1, String::new())];
    let chars: Vec<char> = source.chars().collect();
    let mut line = 1;
    let mut i = 0;
    // Brace depth at which a `#[cfg(test)]` module was opened, while inside one.
    let mut depth = 0usize;
    let mut test_module_at: Option<usize> = None;
    let mut cfg_test_pending = false;
    let push_code = |lines: &mut Vec<(usize, String)>, line: usize, c: char| {
        if lines.last().map(|l| l.0) != Some(line) {
            lines.push((line, String::new()));
        }
        if let Some(l) = lines.last_mut() {
            l.1.push(c);
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let in_test = test_module_at.is_some();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut nesting = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    nesting += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    nesting -= 1;
                    i += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            continue;
        }
        let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        // Raw strings: r"…", r#"…"#, br#"…"#.
        if c == 'r' && !ident_before || (c == 'b' && next == Some('r') && !ident_before) {
            let start = if c == 'b' { i + 2 } else { i + 1 };
            let mut j = start;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                let hashes = j - start;
                let (first_line, mut text) = (line, String::new());
                j += 1;
                while j < chars.len() {
                    if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    if chars[j] == '\n' {
                        line += 1;
                    }
                    text.push(chars[j]);
                    j += 1;
                }
                if !in_test {
                    sql_in_literal(&text, first_line, &mut found);
                }
                i = j;
                push_code(&mut code_lines, line, '"');
                continue;
            }
        }
        if c == '"' {
            let (first_line, mut text) = (line, String::new());
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                    // A line continuation (`\` then newline) joins words with no space.
                    text.push(' ');
                }
                if chars.get(i) == Some(&'\n') {
                    line += 1;
                }
                if let Some(&ch) = chars.get(i) {
                    text.push(ch);
                }
                i += 1;
            }
            i += 1;
            if !in_test {
                sql_in_literal(&text, first_line, &mut found);
            }
            push_code(&mut code_lines, line, '"');
            continue;
        }
        // Character literals ('"', '\'', '{'), told apart from lifetimes ('a).
        if c == '\'' {
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
                continue;
            }
            if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                continue;
            }
        }
        match c {
            '\n' => line += 1,
            '{' => {
                depth += 1;
                if cfg_test_pending {
                    cfg_test_pending = false;
                    test_module_at.get_or_insert(depth);
                }
            }
            '}' => {
                if test_module_at == Some(depth) {
                    test_module_at = None;
                }
                depth = depth.saturating_sub(1);
            }
            ';' => cfg_test_pending = false,
            _ => {}
        }
        if !in_test && c != '\n' {
            push_code(&mut code_lines, line, c);
            let so_far = &code_lines.last().map(|l| l.1.as_str()).unwrap_or_default();
            if so_far.ends_with("#[cfg(test)]") {
                cfg_test_pending = true;
            }
        }
        i += 1;
    }
    for (n, text) in code_lines {
        for call in SQL_CALLS {
            if text.contains(call) {
                found.push((n, format!("call `{call}`")));
            }
        }
    }
    found.sort();
    found
}

fn sql_in_literal(text: &str, line: usize, found: &mut Vec<(usize, String)>) {
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    for (first, second) in SQL_KEYWORDS {
        let Some(at) = words.iter().position(|w| w == first) else {
            continue;
        };
        if second.is_empty() || words[at + 1..].contains(second) {
            let shown: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let shown: String = shown.chars().take(60).collect();
            found.push((line, format!("SQL `{first} {second}` in \"{shown}\"")));
        }
    }
}

/// Every `.rs` file under `crates/*/src` outside the storage layer and the store modules.
fn sources_outside_store(workspace: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "store") {
                    continue;
                }
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for krate in std::fs::read_dir(workspace.join("crates")).unwrap() {
        let krate = krate.unwrap().path();
        let src = krate.join("src");
        if krate.file_name().is_some_and(|n| n == "motcua-db") || !src.is_dir() {
            continue;
        }
        walk(&src, &mut files);
    }
    files.sort();
    files
}

#[test]
fn sql_appears_only_in_store_modules() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let files = sources_outside_store(&workspace);
    assert!(
        files.iter().any(|f| f.ends_with("motcua-web/src/lib.rs"))
            && files
                .iter()
                .any(|f| f.ends_with("motcua-registry/src/lib.rs")),
        "the scan reads the workspace: {files:?}"
    );
    let mut problems = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(&workspace)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if SQL_ALLOWED_OUTSIDE_STORE.contains(&relative.as_str()) {
            assert!(
                !relative.starts_with("crates/motcua-web/"),
                "the web crate never holds SQL"
            );
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        for (line, what) in sql_findings(&source) {
            problems.push(format!("{relative}:{line}: {what}"));
        }
    }
    assert!(
        problems.is_empty(),
        "SQL outside motcua-db and the crates' store modules (move it into src/store/):\n{}",
        problems.join("\n")
    );
}

#[test]
fn sql_detector_finds_sql_and_ignores_comments_and_prose() {
    let sample = r##"
// SELECT pid FROM citizens in a comment is prose.
/// INSERT INTO citizens in a doc comment too.
/* UPDATE citizens SET x = 1 in a block comment */
fn prose() -> &'static str { "select a province from the list" }
fn quote() -> char { '"' }
fn code() {
    let a = "SELECT pid, full_name
             FROM citizens WHERE pid = $1";
    let b = sqlx::query(a);
    conn.prepare_cached(INSERT).unwrap();
    let c = r#"DELETE FROM sessions WHERE id = $1"#;
    conn.execute_batch("BEGIN IMMEDIATE");
    let d = "CREATE INDEX IF NOT EXISTS x ON citizens (pid)";
    let e = "UPDATE \
             citizens SET status = 'deceased'";
}
#[cfg(test)]
mod tests {
    fn count() { conn.query_row("SELECT COUNT(*) FROM citizens", [], |r| r.get(0)); }
}
fn after_tests() { let qb = sqlx::QueryBuilder::new("INSERT INTO households (id) "); }
"##;
    let found = sql_findings(sample);
    let lines: Vec<usize> = found.iter().map(|f| f.0).collect();
    assert_eq!(
        lines,
        vec![8, 10, 11, 12, 13, 13, 14, 15, 22, 22],
        "{found:#?}"
    );
    assert!(found[0].1.contains("SELECT FROM"), "{found:#?}");
    assert!(sql_findings("fn ok() { let x = \"pid\"; }").is_empty());
}

// ---------------------------------------------------------------------------------------
// motcua jobs and the job worker of motcua serve
// ---------------------------------------------------------------------------------------

fn mail_payload(to: &str, subject: &str) -> String {
    serde_json::json!({ "to": to, "subject": subject, "text": "Mã xác thực của bạn: 246810" })
        .to_string()
}

/// `motcua serve` on a free port with its own log file, `extra` arguments after the defaults.
fn spawn_node(env: &Env, name: &str, extra: &[&str]) -> (Server, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log_path = env.path(&format!("{name}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = motcua(env.work.path());
    cmd.stdout(log.try_clone().unwrap()).stderr(log);
    cmd.args([
        "serve",
        "--database",
        &env.db.url,
        "--listen",
        &addr.to_string(),
    ]);
    cmd.args(extra);
    let mut server = Server(cmd.spawn().unwrap());
    wait_healthy(&mut server, addr, &log_path, Duration::from_secs(20));
    (server, addr)
}

/// Job counts by status of the mail kind only: a serving node also runs its own recurring
/// jobs (sealing the access log's days).
async fn mail_job_counts(db: &Db) -> Vec<(String, String, i64)> {
    let mut counts = motcua_db::jobs::counts(db).await.unwrap();
    counts.retain(|(kind, _, _)| kind == "mail.send");
    counts
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn enqueue_mail(env: &Env, to: &str, subject: &str, count: u32) -> Vec<String> {
    let payload = mail_payload(to, subject);
    let r = env.run_db(&[
        "jobs",
        "enqueue",
        "--kind",
        "mail.send",
        "--payload",
        &payload,
        "--count",
        &count.to_string(),
    ]);
    assert!(r.ok(), "{r:?}");
    serde_json::from_str(&r.stdout).unwrap()
}

#[tokio::test]
async fn jobs_enqueue_refuses_what_no_handler_can_run_naming_the_field() {
    let env = Env::new().await;
    for (kind, payload, expected) in [
        (
            "system.nothing",
            "{}",
            "kind: \"system.nothing\" has no handler",
        ),
        ("mail.send", "not json", "payload: not JSON"),
        (
            "mail.send",
            r#"{"to":"nobody","subject":"s","text":"t"}"#,
            "payload.to: must be one e-mail address",
        ),
        (
            "mail.send",
            r#"{"to":"a@example.vn","subject":"","text":"t"}"#,
            "payload.subject: must not be empty",
        ),
    ] {
        let r = env.run_db(&["jobs", "enqueue", "--kind", kind, "--payload", payload]);
        assert_eq!(r.code, Some(2), "{kind} {payload}: {r:?}");
        assert!(r.stderr.contains(expected), "{expected}: {r:?}");
    }
    let db = env.connect().await;
    assert!(motcua_db::jobs::counts(&db).await.unwrap().is_empty());
    // A good one is listed, and can be cancelled once.
    let ids = enqueue_mail(&env, "dan@example.vn", "Biên nhận", 1);
    let r = env.run_db(&["jobs", "list", "--status", "queued"]);
    assert!(r.ok() && r.stdout.contains(&ids[0]), "{r:?}");
    assert!(env.run_db(&["jobs", "cancel", &ids[0]]).ok());
    let again = env.run_db(&["jobs", "cancel", &ids[0]]);
    assert_eq!(again.code, Some(2), "{again:?}");
    assert!(again.stderr.contains("is not queued"), "{again:?}");
    let r = env.run_db(&["jobs", "list", "--status", "cancelled"]);
    assert!(r.stdout.contains(&ids[0]), "{r:?}");
}

/// `motcua jobs list | grep -q ID`: the reader may close the pipe before the list is printed;
/// the command still succeeds (a panic there failed scripts that used `set -o pipefail`).
#[tokio::test]
async fn a_reader_that_stops_early_does_not_fail_the_command() {
    let env = Env::new().await;
    enqueue_mail(&env, "dan@example.vn", "Biên nhận", 3);
    let mut child = motcua(env.work.path())
        .args([
            "jobs",
            "list",
            "--status",
            "queued",
            "--database",
            &env.db.url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the command has opened the database, so its answer meets a broken pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn serve_without_smtp_keeps_mail_in_the_dev_mailbox() {
    let env = Env::new().await;
    let (_node, _) = spawn_node(&env, "node", &["--workers", "2"]);
    let ids = enqueue_mail(&env, "binh@example.vn", "Mã xác thực", 3);
    let db = env.connect().await;
    wait_for(
        "three messages in the mailbox",
        Duration::from_secs(30),
        || {
            let db = db.clone();
            async move {
                motcua_mail::dev_mailbox::delivery_summary(&db)
                    .await
                    .unwrap()
                    == (3, 0)
            }
        },
    )
    .await;
    let mail = motcua_mail::dev_mailbox::list(&db, None, 10).await.unwrap();
    let mut job_ids: Vec<String> = mail.iter().map(|m| m.job_id.clone()).collect();
    job_ids.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(job_ids, expected);
    assert!(mail.iter().all(|m| m.recipient == "binh@example.vn"
        && m.subject == "Mã xác thực"
        && m.text_body.contains("246810")
        && m.sender.contains("no-reply@")));
    wait_for("the jobs done", Duration::from_secs(10), || {
        let db = db.clone();
        async move { mail_job_counts(&db).await == vec![("mail.send".into(), "done".into(), 3)] }
    })
    .await;
    // The code in the message never reaches the log.
    let log = std::fs::read_to_string(env.path("node.log")).unwrap();
    assert!(!log.contains("246810"), "{log}");
}

#[tokio::test]
async fn two_serve_processes_run_a_thousand_jobs_each_exactly_once() {
    if !testing::on_postgres() {
        println!("SKIPPED (sqlite): needs PostgreSQL for two nodes");
        return;
    }
    let env = Env::new().await;
    // Both nodes look for work every 50 ms at most, so neither can finish the batch alone
    // before the other's first look.
    let fast = ["--workers", "4", "--job-poll-ms", "50"];
    let (_a, _) = spawn_node(&env, "node-a", &fast);
    let (_b, _) = spawn_node(&env, "node-b", &fast);
    let ids = enqueue_mail(&env, "chi@example.vn", "Biên nhận hồ sơ", 1_000);
    assert_eq!(ids.len(), 1_000);
    let db = env.connect().await;
    wait_for("a thousand jobs done", Duration::from_secs(120), || {
        let db = db.clone();
        async move {
            mail_job_counts(&db).await == vec![("mail.send".into(), "done".into(), 1_000)]
        }
    })
    .await;
    // One message per job, none delivered twice (a second run would have counted 2).
    assert_eq!(
        motcua_mail::dev_mailbox::delivery_summary(&db)
            .await
            .unwrap(),
        (1_000, 0)
    );
    let mail = motcua_mail::dev_mailbox::list(&db, None, 1_000)
        .await
        .unwrap();
    let delivered: BTreeSet<String> = mail.iter().map(|m| m.job_id.clone()).collect();
    assert_eq!(delivered, ids.iter().cloned().collect::<BTreeSet<_>>());
    let nodes: BTreeSet<&str> = mail.iter().map(|m| m.delivered_by.as_str()).collect();
    assert_eq!(nodes.len(), 2, "both nodes ran jobs: {nodes:?}");
    let done = motcua_db::jobs::list(&db, motcua_db::jobs::View::Done, None, 1_000)
        .await
        .unwrap();
    assert!(
        done.iter().all(|j| j.attempts == 1),
        "a job was claimed twice"
    );
}

/// A tiny SMTP server: answers every command, keeps each message's envelope and data.
struct SmtpSink {
    addr: SocketAddr,
    received: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = received.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let store = store.clone();
                std::thread::spawn(move || smtp_session(conn, &store));
            }
        });
        SmtpSink { addr, received }
    }
}

fn smtp_session(conn: TcpStream, store: &std::sync::Mutex<Vec<(String, String)>>) {
    use std::io::BufRead;
    let mut out = conn.try_clone().unwrap();
    let mut lines = std::io::BufReader::new(conn);
    let _ = out.write_all(b"220 sink ESMTP\r\n");
    let mut rcpt = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 sink\r\n"
        } else if upper.starts_with("RCPT TO:") {
            rcpt = line[8..].trim().to_owned();
            b"250 ok\r\n"
        } else if upper.starts_with("DATA") {
            let _ = out.write_all(b"354 go on\r\n");
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).unwrap_or(0) == 0 || line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            store.lock().unwrap().push((rcpt.clone(), data));
            b"250 queued\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = out.write_all(b"221 bye\r\n");
            return;
        } else {
            b"250 ok\r\n"
        };
        let _ = out.write_all(reply);
    }
}

#[tokio::test]
async fn a_job_whose_node_is_killed_mid_send_runs_again_after_its_lease() {
    let env = Env::new().await;
    // An SMTP server that accepts the connection and never greets: node A stalls mid-send.
    let stall = TcpListener::bind("127.0.0.1:0").unwrap();
    let stall_url = format!("smtp://{}", stall.local_addr().unwrap());
    let (mut a, _) = spawn_node(
        &env,
        "node-a",
        &["--smtp-url", &stall_url, "--job-lease-secs", "2"],
    );
    // An ASCII body travels as 7bit, so the sink sees it as written.
    let payload = serde_json::json!({
        "to": "dung@example.vn", "subject": "Kết quả hồ sơ", "text": "Your code: 246810",
    });
    let r = env.run_db(&[
        "jobs",
        "enqueue",
        "--kind",
        "mail.send",
        "--payload",
        &payload.to_string(),
    ]);
    assert!(r.ok(), "{r:?}");
    let ids: Vec<String> = serde_json::from_str(&r.stdout).unwrap();
    stall.set_nonblocking(false).unwrap();
    let (_held, _) = stall.accept().unwrap();
    let db = env.connect().await;
    let row = motcua_db::jobs::get(&db, &ids[0]).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("running", 1));
    a.0.kill().unwrap();
    a.0.wait().unwrap();
    // Node B's SMTP works; it takes the job over once A's lease has expired.
    let sink = SmtpSink::start();
    let sink_url = format!("smtp://{}", sink.addr);
    let (_b, _) = spawn_node(
        &env,
        "node-b",
        &["--smtp-url", &sink_url, "--job-lease-secs", "2"],
    );
    let id = ids[0].clone();
    wait_for("the job done by node B", Duration::from_secs(30), || {
        let db = db.clone();
        let id = id.clone();
        async move {
            motcua_db::jobs::get(&db, &id)
                .await
                .unwrap()
                .unwrap()
                .status
                == "done"
        }
    })
    .await;
    let row = motcua_db::jobs::get(&db, &ids[0]).await.unwrap().unwrap();
    assert_eq!(row.attempts, 2);
    let received = sink.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    let (rcpt, data) = &received[0];
    assert_eq!(rcpt, "<dung@example.vn>");
    assert!(data.contains("To: dung@example.vn"), "{data}");
    assert!(
        data.contains("Subject: =?utf-8?"),
        "a Vietnamese subject is encoded: {data}"
    );
    assert!(data.contains("Your code: 246810"), "{data}");
    // Nothing went to the development mailbox.
    assert_eq!(
        motcua_mail::dev_mailbox::delivery_summary(&db)
            .await
            .unwrap(),
        (0, 0)
    );
}

/// A running server seals the ended days of the access log through its recurring job, so
/// `audit verify` can later tell a truncated day from an intact one.
#[tokio::test]
async fn serve_seals_ended_days_of_the_access_log() {
    use motcua_db::access_log::{AccessEntry, ActorKind, SEAL_EVENT};
    let env = Env::new().await;
    let db = env.connect().await;
    let two_days_ago = motcua_db::clock::now_us() - 2 * 86_400_000_000;
    let entry = AccessEntry {
        at: two_days_ago,
        actor_kind: ActorKind::System,
        actor_id: "cli:test".into(),
        actor_name: "test".into(),
        action: "export".into(),
        purpose: "annual audit".into(),
        reference: None,
        subject_pid: None,
        outcome: "finished".into(),
        request_id: None,
    };
    motcua_db::access_log::insert_batch(&db, &[&entry])
        .await
        .unwrap();
    let sealed = || async {
        motcua_db::events::by_type(&db, SEAL_EVENT, 0, i64::MAX, 0, 10)
            .await
            .unwrap()
    };
    assert!(sealed().await.is_empty());
    let url = env.db.url.clone();
    let (server, _addr) = spawn_server(&env, |cmd, listen| {
        cmd.args(["serve", "--database", &url, "--listen", listen]);
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let seals = loop {
        let seals = sealed().await;
        if !seals.is_empty() || Instant::now() > deadline {
            break seals;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(server);
    assert_eq!(seals.len(), 1, "the ended day is sealed once: {seals:?}");
    assert_eq!(seals[0].actor, "system");
    let r = env.run_db(&["audit", "verify"]);
    assert!(r.ok(), "{r:?}");
}

#[tokio::test]
async fn oidc_keys_rotate_publishes_a_second_key() {
    let env = Env::new().await;
    let r = env.run_db(&["oidc", "keys", "list"]);
    assert!(r.ok(), "{r:?}");
    let before: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        before["keys"].as_array().unwrap().len(),
        0,
        "no key before first use"
    );
    for _ in 0..2 {
        let r = env.run_db(&["oidc", "keys", "rotate", "--publish-ahead-secs", "0"]);
        assert!(r.ok(), "{r:?}");
    }
    let r = env.run_db(&["oidc", "keys", "list"]);
    let after: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let keys = after["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{after}");
    assert!(
        keys.iter()
            .all(|k| k.get("d").is_none() && k["alg"] == "ES256")
    );
    let r = env.run_db(&["oidc", "keys", "rotate", "--overlap-secs", "x"]);
    assert!(!r.ok() && r.stderr.contains("overlap-secs"), "{r:?}");
}

#[tokio::test]
async fn oidc_client_create_registers_portals_and_agency_systems() {
    let env = Env::new().await;
    let create = |args: &[&str]| {
        let mut all = vec!["oidc", "client", "create"];
        all.extend_from_slice(args);
        env.run_db(&all)
    };
    let json = |r: &Run| -> serde_json::Value { serde_json::from_str(r.stdout.trim()).unwrap() };

    let r = create(&[
        "--name",
        "Cổng DVC tỉnh",
        "--redirect-uri",
        "https://dvc.example.vn/cb",
        "--scope",
        "openid",
        "profile",
        "pid",
    ]);
    assert!(r.ok(), "{r:?}");
    let portal = json(&r);
    assert!(portal["client_id"].as_str().unwrap().starts_with("rp_"));
    assert!(portal["client_secret"].as_str().unwrap().len() >= 40);

    let r = create(&[
        "--name",
        "Ứng dụng di động",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:9000/cb",
        "--scope",
        "openid",
    ]);
    assert!(r.ok(), "{r:?}");
    assert!(
        json(&r).get("client_secret").is_none(),
        "a public client has no secret"
    );

    let jwks = env.path("rp-jwks.json");
    let key = motcua_identity::jose::KeyPair::generate();
    std::fs::write(
        &jwks,
        serde_json::json!({ "keys": [key.public_jwk()] }).to_string(),
    )
    .unwrap();
    let r = create(&[
        "--name",
        "Hệ thống BHXH",
        "--grant",
        "client_credentials",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        jwks.to_str().unwrap(),
        "--scope",
        "registry.verify",
    ]);
    assert!(r.ok(), "{r:?}");
    let agency = json(&r);
    assert!(agency.get("client_secret").is_none(), "{agency}");
    let db = env.connect().await;
    let stored =
        motcua_identity::relying_parties::by_id(&db, agency["client_id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.grants, ["client_credentials"]);
    assert_eq!(
        (stored.auth_method.as_str(), stored.has_jwks),
        ("private_key_jwt", true)
    );

    // Every problem is named, and nothing is stored.
    let r = create(&[
        "--name",
        "x",
        "--redirect-uri",
        "http://dvc.example.vn/cb",
        "--scope",
        "profile",
        "registry.lookup",
    ]);
    assert_eq!(r.code, Some(2), "{r:?}");
    for field in [
        "redirect_uri:",
        "scope: \"registry.lookup\"",
        "needs openid",
    ] {
        assert!(r.stderr.contains(field), "{field}: {r:?}");
    }
    assert!(r.stdout.trim().is_empty());
    let r = env.run_db(&["audit", "verify"]);
    assert!(r.ok(), "{r:?}");
}
