//! Broker and database outages cause waiting and retries, never lost events or restarts.
mod support;

use std::time::Duration;

use common::tenant::ProductType;
use common::testing::{broker_connections_named, close_broker_connection, Proxy, TestDatabase};
use support::{comment_rule, eventually, spawn_worker, spawn_worker_with};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn the_worker_recovers_by_itself_when_the_broker_closes_its_connection() {
    let worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    worker.add_rule("tenant-a", &comment_rule("hi")).await;
    let name = worker.connection_name();
    let mut pids = Vec::new();
    for _ in 0..100 {
        pids = broker_connections_named(&name).await;
        if pids.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pids.len(), 1, "the broker lists the worker's connection");

    close_broker_connection(&pids[0]).await;
    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;

    assert!(
        eventually(WAIT, || worker.sim.comments("tenant-a").len() == 1).await,
        "processed after reconnecting"
    );
    let after = broker_connections_named(&name).await;
    assert!(
        after.len() == 1 && after != pids,
        "a new connection replaced the closed one"
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_database_outage_delays_an_event_without_losing_it() {
    // The worker reaches its database through a proxy the test can cut.
    let placeholder = TestDatabase::postgres().await;
    let (proxy, url) = Proxy::in_front_of(&placeholder.url, 5432).await;
    let worker = spawn_worker_with(Some(url)).await;
    // The worker migrated the proxied (placeholder) database; tenants and rules go there.
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    worker
        .add_rule("tenant-a", &comment_rule("after the outage"))
        .await;

    proxy.cut();
    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();

    assert!(
        eventually(WAIT, || worker.sim.comments("tenant-a").len() == 1).await,
        "processed once the database is back"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(worker.sim.comments("tenant-a").len(), 1);
    assert!(
        worker
            .metric_reaches(
                "hookline_event_retries_total{reason=\"tenant\"}",
                Duration::from_secs(5)
            )
            .await,
        "the outage was met and the event retried through a delay queue"
    );
    worker.stop().await;
    drop(placeholder);
}

#[tokio::test]
async fn shutdown_finishes_the_event_in_flight_and_acknowledges_it() {
    let mut worker = spawn_worker().await;
    worker
        .add_tenant("tenant-a", "secret-a", ProductType::Jira)
        .await;
    worker
        .add_rule("tenant-a", &comment_rule("finished before stopping"))
        .await;
    worker.sim.set_latency(Duration::from_millis(1500));
    worker
        .publish_issue_created("tenant-a", "wh-1", "KAN-1")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    worker.halt().await;

    assert_eq!(
        worker.sim.comments("tenant-a").len(),
        1,
        "the in-flight event finished"
    );
    let topology = worker.topology.clone();
    let connection = common::amqp::connect(&common::testing::amqp_url(), "hookline-test-reader")
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    let passive = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let queue = channel
        .queue_declare(&topology.work_queue(), passive, Default::default())
        .await
        .expect("queue exists");
    assert_eq!(
        queue.message_count(),
        0,
        "and was acknowledged, not left for redelivery"
    );
    let _ = connection.close(200, "done").await;
    worker.stop().await;
}
