//! `motcua registry …`: generate, import and export citizens.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::process::ExitCode;

use anyhow::Context;
use motcua_registry::RegistryError;
use motcua_registry::csv_io::{self, ImportOptions};

use crate::cli::RegistryCommand;
use crate::progress::Bar;
use crate::setup;

pub async fn run(cmd: RegistryCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RegistryCommand::Generate { count, seed, out } => {
            let file =
                File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let n = csv_io::write_generated(
                BufWriter::new(file),
                seed,
                count,
                &mut Bar::new("generated", None),
            )?;
            eprintln!("wrote {n} citizens (seed {seed}) to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Import {
            db,
            file,
            dry_run,
            actor,
        } => {
            let f = File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let size = f.metadata().map(|m| m.len()).ok();
            let db = setup::open(&db).await?;
            let opts = ImportOptions {
                actor: format!("cli:{actor}"),
                source_name: file.display().to_string(),
                dry_run,
                ..ImportOptions::default()
            };
            let today = chrono_today();
            let report = match csv_io::import(
                &db,
                BufReader::with_capacity(1 << 20, f),
                today,
                &opts,
                Box::new(Bar::new("imported", size)),
            )
            .await
            {
                Ok(r) => r,
                Err(RegistryError::Invalid(errors)) => {
                    for e in errors {
                        eprintln!("{}: {e}", file.display());
                    }
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(e.into()),
            };
            for e in &report.errors {
                eprintln!("{}: {e}", file.display());
            }
            if report.rows_rejected as usize > report.errors.len() {
                eprintln!(
                    "… and {} more rejected rows",
                    report.rows_rejected as usize - report.errors.len()
                );
            }
            let rate = report.rows_imported as f64 / report.seconds.max(1e-9);
            crate::stdout::line(format_args!(
                "{}: {} rows read, {} imported, {} rejected in {:.2} s ({:.0} rows/s){}",
                file.display(),
                report.rows_read,
                report.rows_imported,
                report.rows_rejected,
                report.seconds,
                rate,
                if dry_run {
                    " — dry run, nothing stored"
                } else {
                    ""
                }
            ))?;
            db.close().await;
            Ok(if report.is_complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        RegistryCommand::Export {
            db,
            out,
            actor,
            purpose,
        } => {
            let audit = csv_io::ExportAudit {
                actor: actor.unwrap_or_else(os_user),
                purpose: match motcua_registry::verify::check_purpose(Some(&purpose)) {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("error: --{}: {}", e.field, e.message);
                        return Ok(ExitCode::from(2));
                    }
                },
                destination: out.display().to_string(),
            };
            if audit.actor.trim().is_empty() || audit.actor.chars().any(char::is_control) {
                eprintln!("error: --actor: must be a name without control characters");
                return Ok(ExitCode::from(2));
            }
            let db = setup::open(&db).await?;
            let file =
                File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let n = csv_io::audited_export(
                &db,
                BufWriter::new(file),
                &audit,
                Box::new(Bar::new("exported", None)),
            )
            .await?;
            eprintln!("exported {n} citizens to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The operating-system user running the command, for the record of who did it.
fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Today in Vietnam (UTC+7): dates of birth and death are checked against it.
pub fn chrono_today() -> chrono::NaiveDate {
    let now = chrono::Utc::now() + chrono::Duration::hours(7);
    now.date_naive()
}
