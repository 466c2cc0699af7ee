//! Sending over SMTP with lettre. This build speaks plain SMTP (`smtp://`), as to a relay on
//! the same host or network; TLS (`smtps://`, STARTTLS) needs lettre's TLS features, left out
//! to keep the build small, and such URLs are refused at start rather than sent in clear.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use motcua_db::jobs::worker::JobError;

use crate::{MailError, Message};

/// An SMTP conversation that stalls longer than this fails the attempt (it is retried).
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
}

impl Smtp {
    /// `smtp://[user[:password]@]host[:port]`; the port defaults to 25.
    pub fn from_url(url: &str) -> Result<Smtp, MailError> {
        let config = |reason: &str| {
            MailError::Config(format!(
                "{reason} (got a URL starting {:?})",
                scheme_of(url)
            ))
        };
        let Some(rest) = url.strip_prefix("smtp://") else {
            return Err(if url.starts_with("smtps://") || url.contains("tls=") {
                config("TLS is not built into this motcua; use smtp:// to a relay")
            } else {
                config("must be smtp://[user:password@]host[:port]")
            });
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains(['/', '?', '#']) {
            return Err(config(
                "must be smtp://[user:password@]host[:port] with no path or options",
            ));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| config("the port must be a number from 1 to 65535"))?,
            ),
            None => (hostport, 25),
        };
        if host.is_empty() || port == 0 {
            return Err(config("must name a host and a port from 1 to 65535"));
        }
        // Plain SMTP, as the URL says: no opportunistic STARTTLS without a TLS library.
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(TIMEOUT));
        if let Some(userinfo) = userinfo {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            builder = builder.credentials(Credentials::new(
                percent_decode(user),
                percent_decode(password),
            ));
        }
        Ok(Smtp {
            transport: builder.build(),
            server: format!("{host}:{port}"),
        })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    pub async fn send(&self, from: &Mailbox, message: &Message) -> Result<(), JobError> {
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|e| JobError::Permanent(format!("to: {e}")))?;
        let builder = lettre::Message::builder()
            .from(from.clone())
            .to(to)
            .subject(message.subject.clone());
        let email = match &message.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                html.clone(),
            )),
            None => builder.singlepart(SinglePart::plain(message.text.clone())),
        }
        .map_err(|e| JobError::Permanent(format!("the message cannot be built: {e}")))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            // 5xx: the server refuses this message for good (unknown recipient, policy).
            Err(e) if e.is_permanent() => {
                Err(JobError::Permanent(format!("SMTP {}: {e}", self.server)))
            }
            Err(e) => Err(JobError::Retryable(format!("SMTP {}: {e}", self.server))),
        }
    }
}

fn scheme_of(url: &str) -> &str {
    url.split_once("://").map(|(s, _)| s).unwrap_or("")
}

/// `%XX` escapes in a URL's user and password (an `@` or `:` in a password).
fn percent_decode(s: &str) -> String {
    motcua_db::percent_decode(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_are_parsed_or_refused_with_the_reason() {
        assert_eq!(
            Smtp::from_url("smtp://127.0.0.1:2525").unwrap().server(),
            "127.0.0.1:2525"
        );
        assert_eq!(
            Smtp::from_url("smtp://relay.local").unwrap().server(),
            "relay.local:25"
        );
        assert_eq!(
            Smtp::from_url("smtp://u:p%40ss@relay.local:587/")
                .unwrap()
                .server(),
            "relay.local:587"
        );
        for bad in [
            "smtps://relay.local",
            "http://x",
            "smtp://:25",
            "smtp://h:99999",
            "smtp://h:25/path",
        ] {
            let e = Smtp::from_url(bad).err().unwrap().to_string();
            assert!(e.starts_with("smtp_url: "), "{bad}: {e}");
        }
        assert!(
            Smtp::from_url("smtps://relay.local")
                .err()
                .unwrap()
                .to_string()
                .contains("TLS")
        );
        assert_eq!(percent_decode("p%40ss%3a"), "p@ss:");
    }
}
