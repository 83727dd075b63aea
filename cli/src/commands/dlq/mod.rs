//! `hookline dlq list|show|replay|purge`: dead letters on RabbitMQ (`{prefix}.dead`) or in the
//! embedded local queue, whichever the settings use.
mod broker;
mod local;

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use common::config::Settings;
use common::envelope::{EventEnvelope, QueueMessage};
use common::tenant::TenantId;

use super::table::{self, or_dash};
use crate::cli::{DlqCommand, DlqSelect};

/// One dead letter, as read from either backend.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The local queue's row id, or the RabbitMQ message id (the delivery id).
    pub id: String,
    /// The tenant (message header, else the envelope).
    pub client_key: Option<String>,
    /// `jira` or `confluence`.
    pub product: Option<String>,
    /// The event name.
    pub event: Option<String>,
    /// Why it was dead-lettered.
    pub reason: String,
    /// hookline's attempt when it was given up, when known.
    pub attempt: Option<u32>,
    /// The message itself, or why it could not be read.
    pub envelope: Result<EventEnvelope, String>,
}

impl DeadLetter {
    /// Reads a message body; header values, where given, win over the envelope's.
    fn new(id: String, reason: String, attempt: Option<u32>, body: &[u8]) -> Self {
        let envelope = QueueMessage::from_bytes(body)
            .map(|QueueMessage::EventV1(event)| event)
            .map_err(|e| e.to_string());
        let from_envelope = |f: fn(&EventEnvelope) -> String| envelope.as_ref().ok().map(f);
        Self {
            id,
            client_key: from_envelope(|e| e.tenant.to_string()),
            product: from_envelope(|e| e.product.as_str().to_owned()),
            event: from_envelope(|e| e.event.clone()),
            reason,
            attempt,
            envelope,
        }
    }

    /// For a Forge installation's event, the key its tenant was first registered under
    /// (`forge:{cloudId}:{product}`, as `hookline tenants list` shows it); the letter's
    /// `client_key` is the installation's ARI.
    fn forge_tenant_key(&self) -> Option<String> {
        match &self.envelope.as_ref().ok()?.tenant {
            TenantId::Forge(forge) => Some(format!(
                "forge:{}:{}",
                forge.cloud_id.as_str(),
                self.product.as_ref()?
            )),
            TenantId::Connect(_) => None,
        }
    }

    /// The routing key it was first published with: `{product}.{event}`.
    fn routing_key(&self) -> Option<String> {
        Some(format!(
            "{}.{}",
            self.product.as_ref()?,
            self.event.as_ref()?
        ))
    }
}

/// Which dead letters to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One id.
    Id(String),
    /// One tenant's.
    ClientKey(String),
    /// Every one.
    All,
}

impl Selection {
    fn from_args(select: DlqSelect) -> Self {
        match (select.id, select.client_key) {
            (Some(id), _) => Self::Id(id),
            (None, Some(client_key)) => Self::ClientKey(client_key),
            (None, None) => Self::All,
        }
    }

    fn matches(&self, letter: &DeadLetter) -> bool {
        match self {
            Self::Id(id) => letter.id == *id,
            Self::ClientKey(key) => {
                letter.client_key.as_deref() == Some(key.as_str())
                    || letter.forge_tenant_key().as_deref() == Some(key.as_str())
            }
            Self::All => true,
        }
    }
}

/// What to do with the selected dead letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposal {
    /// Back to the work queue as a first attempt.
    Replay,
    /// Deleted.
    Delete,
}

/// The dead letters of the configured backend.
enum Dlq {
    Local(local::LocalDlq),
    Broker(broker::BrokerDlq),
}

impl Dlq {
    async fn open(settings: &Settings) -> anyhow::Result<Self> {
        Ok(match common::amqp::Brokers::from_settings(&settings.amqp) {
            Some(brokers) => Self::Broker(broker::BrokerDlq::open(&brokers, settings).await?),
            None => Self::Local(local::LocalDlq::open(settings).await?),
        })
    }

    async fn list(&self) -> anyhow::Result<Vec<DeadLetter>> {
        match self {
            Self::Local(dlq) => dlq.list().await,
            Self::Broker(dlq) => dlq.list().await,
        }
    }

    /// Replays or deletes the selected dead letters; returns those it acted on.
    async fn dispose(
        &self,
        selection: &Selection,
        disposal: Disposal,
    ) -> anyhow::Result<Vec<DeadLetter>> {
        match self {
            Self::Local(dlq) => dlq.dispose(selection, disposal).await,
            Self::Broker(dlq) => dlq.dispose(selection, disposal).await,
        }
    }

    async fn close(self) {
        if let Self::Broker(dlq) = self {
            dlq.close().await;
        }
    }
}

pub async fn run(config: Option<&Path>, command: DlqCommand) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let dlq = Dlq::open(&settings).await?;
    let outcome = match command {
        DlqCommand::List { client_key } => {
            let selection = client_key.map_or(Selection::All, Selection::ClientKey);
            list(&dlq, &selection).await
        }
        DlqCommand::Show { id, payload } => show(&dlq, &id, payload).await,
        DlqCommand::Replay { select, dry_run } => {
            let selection = Selection::from_args(select);
            if dry_run {
                preview(&dlq, &selection, "would replay").await
            } else {
                dispose(&dlq, &selection, Disposal::Replay).await
            }
        }
        DlqCommand::Purge { select, yes } => {
            let selection = Selection::from_args(select);
            if yes {
                dispose(&dlq, &selection, Disposal::Delete).await
            } else {
                preview(&dlq, &selection, "would delete")
                    .await
                    .and_then(|_| bail!("refusing to purge dead letters without --yes"))
            }
        }
    };
    dlq.close().await;
    outcome
}

async fn selected(dlq: &Dlq, selection: &Selection) -> anyhow::Result<Vec<DeadLetter>> {
    let letters: Vec<DeadLetter> = dlq
        .list()
        .await?
        .into_iter()
        .filter(|l| selection.matches(l))
        .collect();
    if let (Selection::Id(id), true) = (selection, letters.is_empty()) {
        bail!("no dead letter with id {id:?}");
    }
    Ok(letters)
}

async fn list(dlq: &Dlq, selection: &Selection) -> anyhow::Result<ExitCode> {
    let letters = selected(dlq, selection).await?;
    if letters.is_empty() {
        println!("no dead letters");
    } else {
        print_table(&letters);
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(dlq: &Dlq, id: &str, payload: bool) -> anyhow::Result<ExitCode> {
    let letters = selected(dlq, &Selection::Id(id.to_owned())).await?;
    for letter in &letters {
        let event = letter.envelope.as_ref().ok();
        table::fields(&[
            ("id", letter.id.clone()),
            ("clientKey", or_dash(letter.client_key.as_ref())),
            ("product", or_dash(letter.product.as_ref())),
            ("event", or_dash(letter.event.as_ref())),
            ("reason", letter.reason.clone()),
            ("attempt", or_dash(letter.attempt)),
            ("eventId", or_dash(event.map(|e| e.event_id))),
            (
                "webhookId",
                or_dash(event.and_then(|e| e.webhook_id.as_ref())),
            ),
            ("jiraRetry", or_dash(event.map(|e| e.retry))),
            (
                "receivedAt",
                or_dash(event.map(|e| table::time(&e.received_at))),
            ),
            (
                "payload",
                match &letter.envelope {
                    Ok(e) => format!("{} bytes", e.payload.get().len()),
                    Err(error) => format!("unreadable message: {error}"),
                },
            ),
        ]);
        if let (true, Some(event)) = (payload, event) {
            println!("{}", event.payload.get());
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn preview(dlq: &Dlq, selection: &Selection, verb: &str) -> anyhow::Result<ExitCode> {
    let letters = selected(dlq, selection).await?;
    println!("{verb} {} dead letter(s)", letters.len());
    if !letters.is_empty() {
        print_table(&letters);
    }
    Ok(ExitCode::SUCCESS)
}

async fn dispose(dlq: &Dlq, selection: &Selection, disposal: Disposal) -> anyhow::Result<ExitCode> {
    let letters = dlq.dispose(selection, disposal).await?;
    if let (Selection::Id(id), true) = (selection, letters.is_empty()) {
        bail!("no dead letter with id {id:?}");
    }
    let verb = match disposal {
        Disposal::Replay => "replayed",
        Disposal::Delete => "deleted",
    };
    println!("{verb} {} dead letter(s)", letters.len());
    if !letters.is_empty() {
        print_table(&letters);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(letters: &[DeadLetter]) {
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|l| {
            vec![
                l.id.clone(),
                or_dash(l.client_key.as_ref()),
                or_dash(l.event.as_ref()),
                or_dash(l.attempt),
                l.reason.clone(),
            ]
        })
        .collect();
    table::print(&["ID", "CLIENT KEY", "EVENT", "ATTEMPT", "REASON"], &rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORGE_LETTER: &str = r#"{"event.v1":{"event_id":"00000000-0000-0000-0000-000000000000","forge":{"installation_id":"ari:cloud:ecosystem::installation/0a3a7799-aaaa","cloud_id":"d0d52620"},"product":"jira","event":"jira:issue_created","webhook_id":"event:abc","retry":0,"flow":null,"received_at":"1970-01-01T00:00:00Z","payload":{}}}"#;

    #[test]
    fn a_forge_letter_is_selected_by_its_tenant_key_or_its_installation() {
        let letter = DeadLetter::new("1".into(), "gave up".into(), None, FORGE_LETTER.as_bytes());
        assert!(letter.envelope.is_ok(), "{:?}", letter.envelope);
        for key in [
            "forge:d0d52620:jira",
            "ari:cloud:ecosystem::installation/0a3a7799-aaaa",
        ] {
            assert!(Selection::ClientKey(key.into()).matches(&letter), "{key}");
        }
        assert!(!Selection::ClientKey("forge:d0d52620:confluence".into()).matches(&letter));
    }
}
