//! E-mail. A context enqueues a [`Message`] as a `mail.send` job inside its own transaction
//! ([`enqueue`]); the job worker hands it to the [`Mailer`], which sends it over SMTP when an
//! SMTP URL is configured, or else keeps it in the development mailbox (`dev_mailbox`), which
//! administrators read at `/admin/mailbox`.
//!
//! Message bodies are never logged: one-time codes travel this way.

mod store;

pub use store::dev_mailbox;
mod smtp;

use motcua_db::jobs::worker::{JobError, JobRun, Registry};
use motcua_db::jobs::{self, NewJob};
use motcua_db::{Db, Tx};
use serde::{Deserialize, Serialize};

/// The job kind of an e-mail to send.
pub const KIND: &str = "mail.send";

/// The sender address used unless `--mail-from` says otherwise.
pub const DEFAULT_FROM: &str = "motcua <no-reply@motcua.invalid>";

/// Attempts before a message is dead: with the worker's default backoff (10 s doubling,
/// at most an hour) the last is about 21 minutes after the first.
pub const MAX_ATTEMPTS: i32 = 8;

/// Longest subject and body accepted (characters); larger messages are refused on enqueue.
const MAX_SUBJECT_CHARS: usize = 500;
const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(transparent)]
    Db(#[from] motcua_db::DbError),
    #[error("smtp_url: {0}")]
    Config(String),
}

/// An e-mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl Message {
    /// Every problem with the message, each naming its field.
    pub fn problems(&self) -> Vec<MailError> {
        let mut out = Vec::new();
        let invalid = |field, reason: &str| MailError::Invalid {
            field,
            reason: reason.to_owned(),
        };
        if self.to.parse::<lettre::Address>().is_err() {
            out.push(invalid(
                "to",
                "must be one e-mail address, like name@example.vn",
            ));
        }
        if self.subject.trim().is_empty() {
            out.push(invalid("subject", "must not be empty"));
        } else if self.subject.chars().count() > MAX_SUBJECT_CHARS {
            out.push(invalid("subject", "must be at most 500 characters"));
        } else if self.subject.contains(['\r', '\n']) {
            out.push(invalid("subject", "must be one line"));
        }
        if self.text.trim().is_empty() {
            out.push(invalid("text", "must not be empty"));
        } else if self.text.len() > MAX_BODY_BYTES {
            out.push(invalid("text", "must be at most 256 KiB"));
        }
        if self.html.as_ref().is_some_and(|h| h.len() > MAX_BODY_BYTES) {
            out.push(invalid("html", "must be at most 256 KiB"));
        }
        out
    }
}

/// Enqueues `message` inside the caller's transaction; it is sent after the commit.
pub async fn enqueue(tx: &mut Tx, message: &Message) -> Result<String, MailError> {
    enqueue_once(tx, message, None)
        .await?
        .ok_or_else(|| MailError::Config("unreachable: no dedup key".into()))
}

/// As [`enqueue`], but a second call with the same `dedup_key` enqueues nothing and returns
/// `None` (a sender retrying after a timeout sends one message).
pub async fn enqueue_once(
    tx: &mut Tx,
    message: &Message,
    dedup_key: Option<&str>,
) -> Result<Option<String>, MailError> {
    if let Some(first) = message.problems().into_iter().next() {
        return Err(first);
    }
    let payload = serde_json::to_value(message).map_err(|e| MailError::Invalid {
        field: "message",
        reason: e.to_string(),
    })?;
    let id = jobs::enqueue_job(
        tx,
        &NewJob {
            kind: KIND,
            payload: &payload,
            run_at: motcua_db::clock::now_us(),
            max_attempts: MAX_ATTEMPTS,
            dedup_key,
        },
    )
    .await?;
    Ok(id)
}

/// Where messages go.
#[derive(Clone)]
enum Transport {
    Smtp(smtp::Smtp),
    DevMailbox,
}

/// The `mail.send` handler.
#[derive(Clone)]
pub struct Mailer {
    db: Db,
    from: lettre::message::Mailbox,
    transport: Transport,
}

impl Mailer {
    /// Sends over SMTP at `smtp_url` (`smtp://[user:password@]host[:port]`), or into the
    /// development mailbox when it is `None`.
    pub fn new(db: Db, smtp_url: Option<&str>, from: &str) -> Result<Mailer, MailError> {
        let from = from.parse().map_err(|_| MailError::Invalid {
            field: "mail_from",
            reason: format!(
                "{from:?} is not an e-mail address (like \"motcua <no-reply@example.vn>\")"
            ),
        })?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(smtp::Smtp::from_url(url)?),
            None => Transport::DevMailbox,
        };
        Ok(Mailer {
            db,
            from,
            transport,
        })
    }

    /// Where messages go, for the start-up log (no credentials).
    pub fn destination(&self) -> String {
        match &self.transport {
            Transport::Smtp(s) => format!("smtp://{}", s.server()),
            Transport::DevMailbox => "the development mailbox (/admin/mailbox)".into(),
        }
    }

    /// Registers the `mail.send` handler.
    pub fn register(self, registry: &mut Registry) {
        registry.register(KIND, move |run| {
            let mailer = self.clone();
            async move { mailer.send(run).await }
        });
    }

    async fn send(&self, run: JobRun) -> Result<(), JobError> {
        let message: Message = serde_json::from_str(&run.job.payload)
            .map_err(|e| JobError::Permanent(format!("the payload is not a message: {e}")))?;
        if let Some(first) = message.problems().into_iter().next() {
            return Err(JobError::Permanent(first.to_string()));
        }
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(&self.from, &message).await,
            Transport::DevMailbox => dev_mailbox::deliver(
                &self.db,
                &run.job.id,
                &run.worker,
                &self.from.to_string(),
                &message,
            )
            .await
            .map_err(|e| JobError::Retryable(e.to_string())),
        }
    }
}
