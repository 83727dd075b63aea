//! Dead letters of the embedded mode: rows of the local queue table marked dead.
use anyhow::Context;
use common::config::Settings;
use common::queue::local::LocalQueue;

use super::{DeadLetter, Disposal, Selection};
use crate::commands::admin::connect_database;

pub struct LocalDlq {
    queue: LocalQueue,
}

impl LocalDlq {
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let db = connect_database(settings).await?;
        Ok(Self {
            queue: LocalQueue::new(db),
        })
    }

    pub async fn list(&self) -> anyhow::Result<Vec<DeadLetter>> {
        let rows = self
            .queue
            .dead_letters()
            .await
            .context("reading the local queue's dead letters")?;
        Ok(rows
            .into_iter()
            .map(|(id, reason, message)| {
                DeadLetter::new(id.to_string(), reason, None, message.as_bytes())
            })
            .collect())
    }

    pub async fn dispose(
        &self,
        selection: &Selection,
        disposal: Disposal,
    ) -> anyhow::Result<Vec<DeadLetter>> {
        let mut done = Vec::new();
        for letter in self.list().await? {
            if !selection.matches(&letter) {
                continue;
            }
            let id: i64 = letter.id.parse().context("a local queue row id")?;
            let changed = match disposal {
                Disposal::Replay => self.queue.revive_dead(id).await,
                Disposal::Delete => self.queue.delete_dead(id).await,
            }
            .with_context(|| format!("updating dead letter {id}"))?;
            // A row another process changed meanwhile is not reported as ours.
            if changed {
                done.push(letter);
            }
        }
        Ok(done)
    }
}
