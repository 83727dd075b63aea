//! Pausing a tenant and its held events against real databases: every scenario runs on
//! PostgreSQL and on SQLite.
mod support;

use std::collections::HashSet;
use std::time::Duration;

use common::envelope::EventEnvelope;
use common::held::HeldEvents;
use common::tenant::{ClientKey, ProductType, TenantId};
use serde_json::value::RawValue;
use support::{install_payload, keyring, Backend, TestDb};

on_both_backends!(
    a_paused_tenants_events_are_held_then_released_in_order_once_resumed,
    concurrent_releasers_never_claim_the_same_event,
);

const LEASE: Duration = Duration::from_secs(60);

fn ck(raw: &str) -> ClientKey {
    ClientKey::parse(raw).unwrap()
}

fn event(client_key: &str, webhook_id: &str) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::new_v4(),
        tenant: TenantId::Connect(ck(client_key)),
        product: ProductType::Jira,
        event: "jira:issue_created".into(),
        webhook_id: Some(webhook_id.to_owned()),
        retry: 0,
        flow: None,
        received_at: chrono::Utc::now(),
        payload: RawValue::from_string(r#"{"issue": {"key": "KAN-1"}}"#.into()).unwrap(),
    }
}

fn webhook_ids(events: &[common::held::HeldEvent]) -> Vec<String> {
    events
        .iter()
        .map(|held| {
            let event = held.event.as_ref().expect("a readable held event");
            event.webhook_id.clone().unwrap_or_default()
        })
        .collect()
}

async fn a_paused_tenants_events_are_held_then_released_in_order_once_resumed(backend: Backend) {
    let test = TestDb::new(backend).await;
    let store = test.store(keyring(&[("k1", 1)]));
    let held = HeldEvents::new(test.db.clone());
    store
        .save_install(&install_payload("site-a", "s"))
        .await
        .unwrap();
    let a = ck("site-a");
    let paused = store.pause(&a).await.unwrap().expect("a known tenant");
    assert!(paused.is_paused());
    assert_eq!(
        store.paused_client_keys().await.unwrap(),
        HashSet::from([a.clone()])
    );
    for n in 1..=5 {
        held.hold(&a, &event("site-a", &format!("wh-{n}")))
            .await
            .unwrap();
    }
    assert_eq!(held.count(&a).await.unwrap(), 5);
    assert!(
        held.releasable().await.unwrap().is_empty(),
        "nothing is released while paused"
    );

    let resumed = store.resume(&a).await.unwrap().expect("a known tenant");
    assert_eq!(resumed.held, 5);
    assert_eq!(held.releasable().await.unwrap(), vec![a.clone()]);
    let claim = held.take_batch(&a, 3, LEASE).await.unwrap();
    assert_eq!(webhook_ids(&claim.events), ["wh-1", "wh-2", "wh-3"]);
    let ids: Vec<i64> = claim.events.iter().map(|held| held.id).collect();
    assert_eq!(held.released(&claim, &ids).await.unwrap(), 3);
    let claim = held.take_batch(&a, 3, LEASE).await.unwrap();
    assert_eq!(webhook_ids(&claim.events), ["wh-4", "wh-5"]);
    let ids: Vec<i64> = claim.events.iter().map(|held| held.id).collect();
    held.released(&claim, &ids).await.unwrap();
    assert_eq!(held.total().await.unwrap(), 0);
    assert!(held.releasable().await.unwrap().is_empty());
}

async fn concurrent_releasers_never_claim_the_same_event(backend: Backend) {
    let test = TestDb::new(backend).await;
    let held = HeldEvents::new(test.db.clone());
    let a = ck("site-a");
    for n in 0..40 {
        held.hold(&a, &event("site-a", &format!("wh-{n}")))
            .await
            .unwrap();
    }
    let releasers = (0..4).map(|_| {
        let held = held.clone();
        let a = a.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            for _ in 0..10 {
                let claim = held.take_batch(&a, 5, LEASE).await.unwrap();
                let ids: Vec<i64> = claim.events.iter().map(|held| held.id).collect();
                held.released(&claim, &ids).await.unwrap();
                mine.extend(ids);
            }
            mine
        })
    });
    let mut seen = Vec::new();
    for releaser in releasers {
        seen.extend(releaser.await.unwrap());
    }
    let unique: HashSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event claimed twice: {seen:?}");
    assert_eq!(seen.len() as u64 + held.total().await.unwrap(), 40);
}
