//! A paused tenant's events on a real worker (RabbitMQ, PostgreSQL): held, not acted on, not
//! refused, not dead-lettered; a pause made while the worker runs is seen within a second;
//! other tenants go on.
mod support;

use std::time::Duration;

use common::tenant::{ClientKey, ProductType};
use support::{comment_rule, eventually, spawn_worker};
use worker::paused::REFRESH;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_paused_tenants_events_are_held_and_acknowledged_while_others_go_on() {
    let worker = spawn_worker().await;
    for tenant in ["tenant-a", "tenant-b"] {
        worker.add_tenant(tenant, "secret", ProductType::Jira).await;
        worker.add_rule(tenant, &comment_rule("hi")).await;
    }
    let a = ClientKey::parse("tenant-a").expect("key");

    // The worker knows tenant-a as not paused before the pause.
    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;
    assert!(eventually(WAIT, || worker.sim.comments("tenant-a").len() == 1).await);
    worker.dispatcher.tenants.pause(&a).await.expect("paused");
    tokio::time::sleep(REFRESH + Duration::from_millis(200)).await;

    for (webhook_id, issue) in [("wh-2", "KAN-2"), ("wh-3", "KAN-3")] {
        worker
            .publish_issue_created("tenant-a", webhook_id, issue)
            .await;
    }
    worker
        .publish_issue_created("tenant-b", "wh-9", "KAN-9")
        .await;
    let held = worker
        .metric_reaches("hookline_events_held_total{product=\"jira\"} 2", WAIT)
        .await;
    assert!(held, "both events of the paused tenant are held");
    assert!(
        worker
            .metric_reaches("hookline_events_processed_total{outcome=\"held\"} 2", WAIT)
            .await
    );
    assert_eq!(worker.dispatcher.held.count(&a).await.expect("counts"), 2);
    assert!(eventually(WAIT, || worker.sim.comments("tenant-b").len() == 1).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        worker.sim.comments("tenant-a").len(),
        1,
        "nothing is done for a paused tenant"
    );
    assert!(worker.dead_letters().await.is_empty(), "nothing is refused");
    assert_eq!(
        worker.dispatcher.held.count(&a).await.expect("counts"),
        2,
        "acknowledged once held: not delivered and held again"
    );
    worker.stop().await;
}
