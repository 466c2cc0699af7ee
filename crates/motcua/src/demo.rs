//! `motcua demo`: a ready-to-try platform on the embedded database. Creates (or reuses) demo
//! staff, 10,000 generated citizens plus a showcase household, demo API clients, two demo
//! citizens' accounts and a demo relying party, prints how to sign in, then serves.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use motcua_db::Db;
use motcua_db::events::{self, NewEvent};
use motcua_identity::clients;
use motcua_identity::password::PasswordService;
use motcua_identity::staff::{self, Role};
use motcua_registry::csv_io::{self, ImportOptions, NoProgress};
use serde_json::json;

use crate::cli::ServeArgs;
use crate::setup;

pub const DEMO_CITIZENS: usize = 10_000;
pub const DEMO_SEED: u64 = 2026;
const ADMIN: (&str, &str, &str) = ("admin", "Quản trị hệ thống", "motcua-admin-demo");
const OFFICER: (&str, &str, &str) = (
    "officer",
    "Nguyễn Thu Hà (cán bộ một cửa)",
    "motcua-officer-demo",
);
const CLIENTS_FILE: &str = "demo-clients.json";
const ACCOUNTS_FILE: &str = "demo-accounts.json";
/// Demo citizens' accounts, from the showcase household: (PID, level, password).
const CITIZENS: [(&str, &str, &str); 2] = [
    ("001095012345", "2", "motcua-citizen-demo"),
    ("001195012346", "1", "motcua-citizen-demo"),
];
/// The aggregate of the event the demo appends to a database it fills: its mark of ownership.
const MARK: (&str, &str) = ("demo", "motcua-demo");

/// A household shown in the README: search "nguyen van an" to find it. Its deceased member
/// still holds a permanent residence, so the data-quality report has a live example.
const SHOWCASE: &str = "\
pid,full_name,gender,date_of_birth,province_code,household_id,relation_to_head,hometown_province,ethnicity_code,religion,father_pid,mother_pid,spouse_pid,address,phone,email,status,date_of_death
001095012345,Nguyễn Văn An,M,1995-03-14,001,900000001,head,036,01,,036055000123,,001195012346,\"Số 8 Hàng Bông, phường Hàng Trống, quận Hoàn Kiếm\",0912345678,an.nguyen@example.com,alive,
001195012346,Trần Thị Bình,F,1995-07-02,001,900000001,spouse,001,01,Phật giáo,,,001095012345,\"Số 8 Hàng Bông, phường Hàng Trống, quận Hoàn Kiếm\",0987654321,,alive,
001220000001,Nguyễn Minh Khang,M,2020-01-05,001,900000001,child,036,01,,001095012345,001195012346,,\"Số 8 Hàng Bông, phường Hàng Trống, quận Hoàn Kiếm\",,,alive,
036055000123,Nguyễn Văn Hùng,M,1955-09-02,001,900000001,parent,036,01,,,,,\"Số 8 Hàng Bông, phường Hàng Trống, quận Hoàn Kiếm\",,,deceased,2024-05-10
001190004321,Lê Thị Cúc,F,1990-11-20,001,900000002,head,001,01,,,,,\"Số 12 Phố Huế, phường Hàng Bài, quận Hoàn Kiếm\",,cuc.le@example.com,alive,
";

pub async fn run(mut args: ServeArgs) -> anyhow::Result<ExitCode> {
    // The demo's mail stays on the machine: administrators read it at /admin/mailbox.
    args.jobs.smtp_url = None;
    let db = setup::open(&args.db).await?;
    claim(&db).await?;
    let passwords = PasswordService::new(Default::default())?;
    for (username, name, password, role) in [
        (ADMIN.0, ADMIN.1, ADMIN.2, Role::Admin),
        (OFFICER.0, OFFICER.1, OFFICER.2, Role::Officer),
    ] {
        if staff::by_username(&db, username).await?.is_none() {
            staff::create(&db, &passwords, username, name, role, password, "demo").await?;
        }
    }
    if motcua_registry::citizens::count(&db).await? == 0 {
        eprintln!(
            "loading demo population ({DEMO_CITIZENS} generated citizens and a showcase household)…"
        );
        let today = crate::registry_cmd::chrono_today();
        let opts = ImportOptions {
            actor: "demo".into(),
            source_name: "demo showcase".into(),
            ..ImportOptions::default()
        };
        csv_io::import(
            &db,
            std::io::Cursor::new(SHOWCASE.as_bytes().to_vec()),
            today,
            &opts,
            Box::new(NoProgress),
        )
        .await?;
        let mut generated = Vec::new();
        csv_io::write_generated(&mut generated, DEMO_SEED, DEMO_CITIZENS, &mut NoProgress)?;
        let opts = ImportOptions {
            source_name: format!("generated, seed {DEMO_SEED}"),
            ..opts
        };
        let report = csv_io::import(
            &db,
            std::io::Cursor::new(generated),
            today,
            &opts,
            Box::new(NoProgress),
        )
        .await?;
        eprintln!("imported {} generated citizens", report.rows_imported);
    }
    let clients_path = args.db.data_dir.join(CLIENTS_FILE);
    let demo_clients: serde_json::Value = if clients_path.exists() {
        keep_private(&clients_path)?;
        serde_json::from_str(&std::fs::read_to_string(&clients_path)?)?
    } else {
        let verify = clients::create(
            &db,
            "Cổng dịch vụ công tỉnh (demo)",
            &["registry.verify".into()],
            "demo",
        )
        .await?;
        let lookup = clients::create(
            &db,
            "Cơ quan thuế (demo)",
            &["registry.verify".into(), "registry.lookup".into()],
            "demo",
        )
        .await?;
        let v = json!({ "verify_only": verify, "verify_and_lookup": lookup });
        std::fs::create_dir_all(&args.db.data_dir)?;
        write_secret(&clients_path, &serde_json::to_string_pretty(&v)?)
            .with_context(|| format!("cannot write {}", clients_path.display()))?;
        v
    };
    let accounts_path = args.db.data_dir.join(ACCOUNTS_FILE);
    let demo_accounts: serde_json::Value = if accounts_path.exists() {
        keep_private(&accounts_path)?;
        serde_json::from_str(&std::fs::read_to_string(&accounts_path)?)?
    } else {
        let v = demo_accounts(&db, &passwords, &args.listen).await?;
        write_secret(&accounts_path, &serde_json::to_string_pretty(&v)?)
            .with_context(|| format!("cannot write {}", accounts_path.display()))?;
        v
    };
    if args.portal_client_id.is_none() {
        args.portal_client_id = demo_accounts["relying_party"]["client_id"]
            .as_str()
            .map(str::to_owned);
    }
    crate::stdout::line(format_args!("motcua demo — database {}", db.display_url()))?;
    crate::stdout::line(format_args!(
        "  staff sign-in at http://{}/login",
        args.listen
    ))?;
    crate::stdout::line(format_args!(
        "  citizens log in at http://{}/account",
        args.listen
    ))?;
    crate::stdout::line(format_args!("    admin:   {} / {}", ADMIN.0, ADMIN.2))?;
    crate::stdout::line(format_args!("    officer: {} / {}", OFFICER.0, OFFICER.2))?;
    crate::stdout::line(format_args!(
        "  try: search \"nguyen van an\" (PID 001095012345)"
    ))?;
    crate::stdout::line(format_args!(
        "  API clients (HTTP Basic client_id:client_secret), also in {}:",
        clients_path.display()
    ))?;
    crate::stdout::line(format_args!(
        "{}",
        serde_json::to_string_pretty(&demo_clients)?
    ))?;
    crate::stdout::line(format_args!(
        "  citizens' accounts (PID / password, TOTP secret) and the demo relying party, also in {}:",
        accounts_path.display()
    ))?;
    crate::stdout::line(format_args!(
        "{}",
        serde_json::to_string_pretty(&demo_accounts)?
    ))?;
    setup::serve(db, &args).await?;
    Ok(ExitCode::SUCCESS)
}

/// The showcase household's adults get accounts (Nguyễn Văn An at level 2, as if seen at a
/// counter; Trần Thị Bình at level 1), and the portal a relying-party registration.
async fn demo_accounts(
    db: &Db,
    passwords: &PasswordService,
    listen: &str,
) -> anyhow::Result<serde_json::Value> {
    use motcua_identity::citizen_accounts::{self, Level};
    use motcua_identity::relying_parties::{self, Registration};
    let now = motcua_db::clock::now_us();
    let mut accounts = Vec::new();
    for (pid, level, password) in CITIZENS {
        let pid = motcua_domain::Pid::parse(pid)?;
        if citizen_accounts::by_pid(db, pid).await?.is_some() {
            continue;
        }
        let level = Level::parse(level)?;
        let created =
            citizen_accounts::create(db, passwords, pid, level, password, "demo", now).await?;
        accounts.push(json!({
            "pid": pid.to_string(),
            "level": level,
            "password": password,
            "account_id": created.account_id,
            "totp_secret": created.totp_secret,
        }));
    }
    // On the loopback the portal is also reached as `localhost`, the only loopback name a
    // browser accepts as a passkey's relying party.
    let mut origins = vec![format!("http://{listen}")];
    if let Some(port) = listen.strip_prefix("127.0.0.1:") {
        origins.push(format!("http://localhost:{port}"));
    }
    let registration = Registration {
        name: "Cổng dịch vụ công (demo)".into(),
        redirect_uris: origins
            .iter()
            .map(|o| format!("{o}/auth/callback"))
            .collect(),
        post_logout_redirect_uris: origins.iter().map(|o| format!("{o}/")).collect(),
        scopes: relying_parties::CITIZEN_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        ..Registration::default()
    };
    let portal = match relying_parties::create(db, &registration, "demo").await {
        Ok(issued) => serde_json::to_value(issued)?,
        Err(errors) => {
            let named: Vec<String> = errors.iter().map(ToString::to_string).collect();
            anyhow::bail!("the demo relying party: {}", named.join("; "));
        }
    };
    Ok(json!({ "citizens": accounts, "relying_party": portal }))
}

/// The demo fills only a database that is empty or that it filled before. Pointed at one with
/// other data (a real registry, a test system), it stops before writing anything of its own,
/// so demo accounts with published passwords never land beside real data.
async fn claim(db: &Db) -> anyhow::Result<()> {
    if !events::for_aggregate(db, MARK.0, MARK.1).await?.is_empty() {
        return Ok(());
    }
    let holds_data = motcua_registry::citizens::count(db).await? > 0
        || !staff::list(db, 0).await?.is_empty()
        || !clients::list(db).await?.is_empty();
    if holds_data {
        anyhow::bail!(
            "refusing to load demo data into {}: it already holds citizens, staff or API clients \
             that motcua demo did not create; use an empty database or another --data-dir",
            db.display_url()
        );
    }
    // Two demos starting on one empty database cannot both claim it: the event's version is
    // unique per aggregate.
    let mut tx = db.begin().await?;
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: MARK.0,
            aggregate_id: MARK.1,
            event_type: "demo.database_claimed",
            actor: "demo",
            reason: "motcua demo fills this database with demo data",
            payload: json!({}),
            occurred_at: motcua_db::clock::now_us(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Writes a new file only its owner can read: created with mode 0600, so the secrets are
/// never readable by others, not even between creation and a later change of mode.
fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// A secrets file left readable by others (by an older version) is made private again.
fn keep_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
