//! `motcua jobs`: operators enqueue, list, retry and cancel background jobs.

use std::process::ExitCode;

use clap::Subcommand;
use motcua_db::events::{self, NewEvent};
use motcua_db::jobs::{self, AdminOutcome, NewJob, View};
use motcua_db::{Db, clock};

use crate::cli::DbArgs;
use crate::setup;

/// The kinds an operator may enqueue: those `motcua serve` has a handler for.
const ENQUEUEABLE: &[&str] = &[motcua_mail::KIND];

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Enqueue jobs; prints their ids as a JSON array.
    Enqueue {
        #[command(flatten)]
        db: DbArgs,
        /// The job kind, e.g. mail.send.
        #[arg(long)]
        kind: String,
        /// The job's payload as JSON; for mail.send {"to","subject","text","html"?}.
        #[arg(long)]
        payload: String,
        /// How many identical jobs to enqueue (one transaction).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        count: u32,
        /// Run no earlier than this many seconds from now.
        #[arg(long, default_value_t = 0)]
        delay_secs: u64,
        #[arg(long, default_value_t = jobs::DEFAULT_MAX_ATTEMPTS, value_parser = clap::value_parser!(i32).range(1..=100))]
        max_attempts: i32,
        /// Recorded as the actor of the enqueue event.
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// List jobs of one status as JSON, newest first.
    List {
        #[command(flatten)]
        db: DbArgs,
        /// queued, running, retrying, dead, cancelled or done.
        #[arg(long, default_value = "queued")]
        status: String,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Run a dead job again, or a job waiting for its retry at once.
    Retry {
        #[command(flatten)]
        db: DbArgs,
        id: String,
        #[arg(long, default_value = "cli")]
        actor: String,
    },
    /// Cancel a queued job.
    Cancel {
        #[command(flatten)]
        db: DbArgs,
        id: String,
        #[arg(long, default_value = "cli")]
        actor: String,
    },
}

pub async fn run(cmd: JobsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        JobsCommand::Enqueue {
            db,
            kind,
            payload,
            count,
            delay_secs,
            max_attempts,
            actor,
        } => {
            let payload = match check_payload(&kind, &payload) {
                Ok(p) => p,
                Err(problem) => {
                    eprintln!("error: {problem}");
                    return Ok(ExitCode::from(2));
                }
            };
            let db = setup::open(&db).await?;
            let ids = enqueue(
                &db,
                &kind,
                &payload,
                count,
                delay_secs,
                max_attempts,
                &actor,
            )
            .await?;
            crate::stdout::line(format_args!("{}", serde_json::to_string(&ids)?))?;
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::List { db, status, limit } => {
            let Some(view) = View::parse(&status) else {
                eprintln!("error: status: must be one of {}", view_names());
                return Ok(ExitCode::from(2));
            };
            let db = setup::open(&db).await?;
            let rows = jobs::list(&db, view, None, limit).await?;
            crate::stdout::line(format_args!("{}", serde_json::to_string_pretty(&rows)?))?;
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Retry { db, id, actor } => {
            let db = setup::open(&db).await?;
            let outcome = jobs::retry(&db, &id, &actor, clock::now_us()).await?;
            Ok(report(outcome, &id, "dead or waiting for a retry")?)
        }
        JobsCommand::Cancel { db, id, actor } => {
            let db = setup::open(&db).await?;
            let outcome = jobs::cancel(&db, &id, &actor, clock::now_us()).await?;
            Ok(report(outcome, &id, "queued")?)
        }
    }
}

fn view_names() -> String {
    View::ALL.map(View::as_str).join(", ")
}

fn report(outcome: AdminOutcome, id: &str, needed: &str) -> std::io::Result<ExitCode> {
    Ok(match outcome {
        AdminOutcome::Done => {
            crate::stdout::line(id)?;
            ExitCode::SUCCESS
        }
        AdminOutcome::NotFound => {
            eprintln!("error: id: no job {id}");
            ExitCode::from(2)
        }
        AdminOutcome::WrongStatus => {
            eprintln!("error: id: job {id} is not {needed}");
            ExitCode::from(2)
        }
    })
}

/// The payload parsed and checked for its kind, or the problem naming the field.
fn check_payload(kind: &str, payload: &str) -> Result<serde_json::Value, String> {
    if !ENQUEUEABLE.contains(&kind) {
        return Err(format!(
            "kind: {kind:?} has no handler; known kinds: {}",
            ENQUEUEABLE.join(", ")
        ));
    }
    let value: serde_json::Value =
        serde_json::from_str(payload).map_err(|e| format!("payload: not JSON: {e}"))?;
    if kind == motcua_mail::KIND {
        let message: motcua_mail::Message = serde_json::from_value(value.clone()).map_err(|e| {
            format!("payload: not a message {{\"to\",\"subject\",\"text\",\"html\"?}}: {e}")
        })?;
        if let Some(problem) = message.problems().into_iter().next() {
            return Err(format!("payload.{problem}"));
        }
    }
    Ok(value)
}

async fn enqueue(
    db: &Db,
    kind: &str,
    payload: &serde_json::Value,
    count: u32,
    delay_secs: u64,
    max_attempts: i32,
    actor: &str,
) -> anyhow::Result<Vec<String>> {
    let now = clock::now_us();
    let run_at = now.saturating_add((delay_secs as i64).saturating_mul(clock::SECOND_US));
    let mut tx = db.begin().await?;
    let mut ids = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let job = NewJob {
            kind,
            payload,
            run_at,
            max_attempts,
            dedup_key: None,
        };
        if let Some(id) = jobs::enqueue_job(&mut tx, &job).await? {
            ids.push(id);
        }
    }
    // One event for the batch: who enqueued what, and how many.
    let batch = motcua_db::new_id();
    events::append(
        &mut tx,
        &NewEvent {
            aggregate_type: "job_batch",
            aggregate_id: &batch,
            event_type: "jobs.enqueued",
            actor,
            reason: "operator command",
            payload: serde_json::json!({
                "kind": kind,
                "count": ids.len(),
                "first": ids.first(),
                "last": ids.last(),
                "run_at": run_at,
            }),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ids)
}
