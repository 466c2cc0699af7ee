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
        "MOTCUA_SMTP_URL",
        "MOTCUA_MAIL_FROM",
        "MOTCUA_WORKERS",
        "MOTCUA_JOB_LEASE_SECS",
        "MOTCUA_JOB_POLL_MS",
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

fn wait_healthy(server: &mut Server, addr: SocketAddr, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
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
                "motcua serve not healthy on {addr} within 20 s:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn spawn_server(env: &Env, configure: impl FnOnce(&mut Command, &str)) -> (Server, SocketAddr) {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log_path = env.path("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = motcua(env.work.path());
    cmd.stdout(log.try_clone().unwrap()).stderr(log);
    configure(&mut cmd, &addr.to_string());
    let mut server = Server(cmd.spawn().unwrap());
    wait_healthy(&mut server, addr, &log_path);
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
    wait_healthy(&mut server, addr, &log_path);
    (server, addr)
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
        async move {
            motcua_db::jobs::counts(&db).await.unwrap()
                == vec![("mail.send".into(), "done".into(), 3)]
        }
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
            motcua_db::jobs::counts(&db).await.unwrap()
                == vec![("mail.send".into(), "done".into(), 1_000)]
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
