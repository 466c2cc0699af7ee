//! The development mailbox for administrators: the e-mail motcua would have sent, when no
//! SMTP server is configured (`motcua demo`, development). Newest first.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use motcua_identity::staff::Role;
use serde::Deserialize;

use crate::AppState;
use crate::auth::Staff;
use crate::pages::{Chrome, forbidden, local_time, render, server_error};

const PAGE: i64 = 20;

pub struct MailView {
    at: String,
    sender: String,
    recipient: String,
    subject: String,
    text: String,
    has_html: bool,
    deliveries: i32,
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct MailboxPage {
    c: Chrome,
    mail: Vec<MailView>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct ListParams {
    before: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    Staff(ctx, s): Staff,
    Query(p): Query<ListParams>,
) -> Response {
    if s.user.role != Role::Admin {
        return forbidden(&ctx);
    }
    let entries = match motcua_mail::dev_mailbox::list(&state.db, p.before.as_deref(), PAGE).await {
        Ok(e) => e,
        Err(e) => return server_error(ctx.lang, &e.to_string()),
    };
    let next = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|m| m.id.clone()))
        .flatten();
    render(
        StatusCode::OK,
        &MailboxPage {
            c: Chrome::new(&ctx, "mailbox.title"),
            mail: entries
                .into_iter()
                .map(|m| MailView {
                    at: local_time(m.created_at),
                    sender: m.sender,
                    recipient: m.recipient,
                    subject: m.subject,
                    text: m.text_body,
                    has_html: m.html_body.is_some(),
                    deliveries: m.deliveries,
                })
                .collect(),
            next,
        },
    )
}
