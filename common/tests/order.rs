//! The order of subjects on both backends: the conditional upserts behind
//! `OrderStore::claim` and `OrderStore::advance` in PostgreSQL's and SQLite's SQL.
#[allow(dead_code)] // the tenant store helpers are for the other files
mod support;

use std::time::Duration;

use common::order::{Advance, Claim, Claimant, OrderKey, OrderStore, Position};
use common::tenant::ClientKey;
use support::{Backend, TestDb};

on_both_backends!(
    an_older_event_is_stale_one_event_acts_at_a_time_and_a_late_advance_changes_nothing
);

const LEASE: Duration = Duration::from_secs(60);

fn event(delivery_id: &str, event_at: i64, changelog_id: Option<i64>) -> Claimant<'_> {
    Claimant {
        position: Position {
            event_at,
            changelog_id,
        },
        delivery_id,
        rule_id: 3,
    }
}

async fn an_older_event_is_stale_one_event_acts_at_a_time_and_a_late_advance_changes_nothing(
    backend: Backend,
) {
    let test = TestDb::new(backend).await;
    let store = OrderStore::new(test.db.clone());
    let key = OrderKey {
        client_key: ClientKey::parse("site").unwrap(),
        subject: "KAN-1".into(),
        target: "property:workflow".into(),
    };
    let (first, second, third) = (
        event("d1", 100, Some(1)),
        event("d2", 100, Some(2)),
        event("d3", 200, None),
    );

    assert_eq!(
        store.claim(&key, &second, LEASE).await.unwrap(),
        Claim::Granted
    );
    assert_eq!(store.claim(&key, &first, LEASE).await.unwrap(), Claim::Busy);
    assert_eq!(
        store.advance(&key, &second).await.unwrap(),
        Advance::Current
    );
    let Claim::Stale(newer) = store.claim(&key, &first, LEASE).await.unwrap() else {
        panic!("the changelog id breaks the tie");
    };
    assert_eq!(newer.delivery_id, "d2");

    assert_eq!(
        store.claim(&key, &third, LEASE).await.unwrap(),
        Claim::Granted
    );
    store.release(&key, &third).await.unwrap();
    // A late advance of an older event records nothing and holds nothing.
    assert!(matches!(
        store.advance(&key, &first).await.unwrap(),
        Advance::Stale(_)
    ));
    assert_eq!(
        store.claim(&key, &third, LEASE).await.unwrap(),
        Claim::Granted
    );
    assert_eq!(store.advance(&key, &third).await.unwrap(), Advance::Current);
    let applied = store.applied(&key).await.unwrap().unwrap();
    assert_eq!(
        (applied.delivery_id.as_str(), applied.position),
        ("d3", third.position)
    );
    // Nobody holds it after the advance.
    assert_eq!(
        store
            .claim(&key, &event("d4", 300, None), LEASE)
            .await
            .unwrap(),
        Claim::Granted
    );
}
