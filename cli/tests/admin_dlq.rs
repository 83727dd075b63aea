//! `hookline dlq ...` on RabbitMQ (`{prefix}.dead`) and on the local queue.
mod admin_support;

use std::time::Duration;

use admin_support::{event, AdminEnv};
use common::amqp::headers;
use common::envelope::QueueMessage;
use common::queue::lane::Lane;
use common::queue::local::LocalQueue;
use common::tenant::ProductType;
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::AMQPValue;

const CREATED: &str = "jira:issue_created";

#[tokio::test(flavor = "multi_thread")]
async fn on_rabbitmq_list_and_show_browse_without_taking_anything() {
    let env = AdminEnv::postgres().await.with_broker().await;
    let broker = env.broker();
    let dead = broker.topology.dead_letter_queue();
    for (client_key, id) in [
        ("site-a", "wh-a1"),
        ("site-a", "wh-a2"),
        ("site-b", "wh-b1"),
    ] {
        let event = event(client_key, ProductType::Jira, CREATED, id);
        broker
            .publish_dead(id, &event, "HTTP 404 from the product")
            .await;
    }
    assert_eq!(broker.wait_depth(&dead, 3).await, 3);

    let out = env.ok(&["dlq", "list"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    for id in ["wh-a1", "wh-a2", "wh-b1"] {
        assert!(out.contains(id), "{id} in {out}");
    }
    assert!(
        out.contains("HTTP 404 from the product") && out.contains(CREATED),
        "{out}"
    );
    let out = env.ok(&["dlq", "list", "--client-key", "site-b"]);
    assert!(out.lines().count() == 2 && out.contains("wh-b1"), "{out}");
    assert_eq!(
        broker.wait_depth(&dead, 3).await,
        3,
        "listing takes nothing"
    );

    let out = env.ok(&["dlq", "show", "wh-a2"]);
    for expected in [
        "wh-a2", "site-a", "jira", "attempt ", "6", "HTTP 404", "bytes",
    ] {
        assert!(out.contains(expected), "{expected:?} in {out}");
    }
    assert!(
        !out.contains("a private summary"),
        "the payload only with --payload"
    );
    let out = env.ok(&["dlq", "show", "wh-a2", "--payload"]);
    assert!(out.contains("a private summary"), "{out}");
    let (_, err) = env.fails(&["dlq", "show", "wh-nope"]);
    assert!(err.contains("no dead letter with id \"wh-nope\""), "{err}");
    assert_eq!(broker.wait_depth(&dead, 3).await, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_rabbitmq_replay_moves_exactly_the_selected_dead_letters_as_first_attempts() {
    let env = AdminEnv::postgres().await.with_broker().await;
    let broker = env.broker();
    let (dead, work) = (
        broker.topology.dead_letter_queue(),
        broker.topology.work_queue(),
    );
    let mut events = Vec::new();
    for (client_key, id) in [
        ("site-a", "wh-a1"),
        ("site-a", "wh-a2"),
        ("site-b", "wh-b1"),
    ] {
        let event = event(client_key, ProductType::Jira, CREATED, id);
        broker
            .publish_dead(id, &event, "gave up after 6 attempts")
            .await;
        events.push(event);
    }
    assert_eq!(broker.wait_depth(&dead, 3).await, 3);

    let out = env.ok(&["dlq", "replay", "--client-key", "site-a", "--dry-run"]);
    assert!(out.contains("would replay 2 dead letter(s)"), "{out}");
    assert!(out.contains("wh-a1") && out.contains("wh-a2") && !out.contains("wh-b1"));
    assert_eq!(
        broker.wait_depth(&dead, 3).await,
        3,
        "a dry run moves nothing"
    );
    assert_eq!(broker.depth(&work).await, 0);

    let out = env.ok(&["dlq", "replay", "--client-key", "site-a"]);
    assert!(out.contains("replayed 2 dead letter(s)"), "{out}");
    assert_eq!(broker.wait_depth(&work, 2).await, 2);
    assert_eq!(broker.wait_depth(&dead, 1).await, 1);

    let mut replayed = Vec::new();
    for _ in 0..2 {
        let message = broker
            .channel
            .basic_get(&work, BasicGetOptions { no_ack: false })
            .await
            .unwrap()
            .expect("a replayed message");
        let delivery = message.delivery;
        let table = delivery.properties.headers().clone().unwrap_or_default();
        assert!(matches!(
            table.inner().get(headers::ATTEMPT),
            Some(AMQPValue::LongUInt(1))
        ));
        assert!(!table.inner().contains_key(headers::DEAD_REASON));
        assert!(table.inner().contains_key(headers::CLIENT_KEY));
        assert_eq!(delivery.properties.delivery_mode(), &Some(2));
        assert_eq!(delivery.routing_key.as_str(), "jira.jira:issue_created");
        assert_eq!(
            delivery.exchange.as_str(),
            broker.topology.events_exchange()
        );
        let QueueMessage::EventV1(body) = QueueMessage::from_bytes(&delivery.data).unwrap();
        assert_eq!(body.tenant.to_string(), "site-a");
        let id = delivery
            .properties
            .message_id()
            .clone()
            .unwrap()
            .to_string();
        replayed.push(id);
        delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .unwrap();
    }
    replayed.sort();
    assert_eq!(replayed, ["wh-a1", "wh-a2"]);

    let out = env.ok(&["dlq", "replay", "--id", "wh-b1"]);
    assert!(out.contains("replayed 1 dead letter(s)"), "{out}");
    assert_eq!(broker.wait_depth(&dead, 0).await, 0);
    assert_eq!(broker.wait_depth(&work, 1).await, 1);
    let (_, err) = env.fails(&["dlq", "replay", "--id", "wh-b1"]);
    assert!(err.contains("no dead letter with id \"wh-b1\""), "{err}");
    // Exactly one selector.
    assert_eq!(env.run(&["dlq", "replay"]).status.code(), Some(2));
    assert_eq!(
        env.run(&["dlq", "replay", "--all", "--id", "x"])
            .status
            .code(),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_rabbitmq_purge_needs_yes_and_deletes_only_the_selection() {
    let env = AdminEnv::postgres().await.with_broker().await;
    let broker = env.broker();
    let dead = broker.topology.dead_letter_queue();
    for (client_key, id) in [
        ("site-a", "wh-a1"),
        ("site-b", "wh-b1"),
        ("site-b", "wh-b2"),
    ] {
        let event = event(client_key, ProductType::Jira, CREATED, id);
        broker.publish_dead(id, &event, "HTTP 403").await;
    }
    assert_eq!(broker.wait_depth(&dead, 3).await, 3);

    let (out, err) = env.fails(&["dlq", "purge", "--all"]);
    assert!(out.contains("would delete 3 dead letter(s)"), "{out}");
    assert!(err.contains("without --yes"), "{err}");
    assert_eq!(broker.wait_depth(&dead, 3).await, 3);

    let out = env.ok(&["dlq", "purge", "--id", "wh-a1", "--yes"]);
    assert!(out.contains("deleted 1 dead letter(s)"), "{out}");
    assert_eq!(broker.wait_depth(&dead, 2).await, 2);
    let out = env.ok(&["dlq", "list"]);
    assert!(!out.contains("wh-a1") && out.contains("wh-b2"), "{out}");
    env.ok(&["dlq", "purge", "--client-key", "site-b", "--yes"]);
    assert_eq!(broker.wait_depth(&dead, 0).await, 0);
    assert!(env.ok(&["dlq", "list"]).contains("no dead letters"));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_rabbitmq_a_missing_dead_letter_queue_is_named() {
    let mut env = AdminEnv::postgres().await.with_broker().await;
    env.set_var("HOOKLINE_AMQP__PREFIX", "tnosuchprefix");
    let (_, err) = env.fails(&["dlq", "list"]);
    assert!(
        err.contains("dead-letter queue tnosuchprefix.dead does not exist"),
        "{err}"
    );
}

/// Three dead letters in the local queue (site-a twice, site-b once); returns their row ids.
async fn local_dead_letters(queue: &LocalQueue) -> Vec<i64> {
    let mut ids = Vec::new();
    for (client_key, id) in [
        ("site-a", "wh-a1"),
        ("site-a", "wh-a2"),
        ("site-b", "wh-b1"),
    ] {
        queue
            .push(
                &event(client_key, ProductType::Jira, CREATED, id),
                Lane::Main,
            )
            .await
            .unwrap();
        let claimed = queue
            .claim(Lane::Main, 1, Duration::from_secs(60))
            .await
            .unwrap();
        queue.dead_letter(claimed[0].id, "HTTP 404").await.unwrap();
        ids.push(claimed[0].id);
    }
    ids
}

async fn on_the_local_queue_list_replay_and_purge_act_on_the_selection(env: AdminEnv) {
    let queue = LocalQueue::new(env.db.clone());
    let ids = local_dead_letters(&queue).await;
    let out = env.ok(&["dlq", "list"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.contains("site-a") && out.contains("HTTP 404"), "{out}");
    let out = env.ok(&["dlq", "list", "--client-key", "site-b"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = env.ok(&["dlq", "show", &ids[1].to_string()]);
    assert!(out.contains("wh-a2") && out.contains("site-a"), "{out}");

    let out = env.ok(&["dlq", "replay", "--client-key", "site-a", "--dry-run"]);
    assert!(out.contains("would replay 2 dead letter(s)"), "{out}");
    assert_eq!(queue.dead_letters().await.unwrap().len(), 3);
    assert_eq!(queue.depth().await.unwrap(), 0);

    let out = env.ok(&["dlq", "replay", "--id", &ids[0].to_string()]);
    assert!(out.contains("replayed 1 dead letter(s)"), "{out}");
    let dead: Vec<i64> = queue
        .dead_letters()
        .await
        .unwrap()
        .iter()
        .map(|d| d.0)
        .collect();
    assert_eq!(dead, ids[1..]);
    let ready = queue
        .claim(Lane::Main, 10, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((ready.len(), ready[0].id, ready[0].attempt), (1, ids[0], 1));

    let (out, _) = env.fails(&["dlq", "purge", "--client-key", "site-b"]);
    assert!(out.contains("would delete 1 dead letter(s)"), "{out}");
    assert_eq!(queue.dead_letters().await.unwrap().len(), 2);
    env.ok(&["dlq", "purge", "--client-key", "site-b", "--yes"]);
    let dead: Vec<i64> = queue
        .dead_letters()
        .await
        .unwrap()
        .iter()
        .map(|d| d.0)
        .collect();
    assert_eq!(dead, [ids[1]]);
    env.ok(&["dlq", "replay", "--all"]);
    assert!(queue.dead_letters().await.unwrap().is_empty());
    assert!(env.ok(&["dlq", "list"]).contains("no dead letters"));
    let (_, err) = env.fails(&["dlq", "show", "12345"]);
    assert!(err.contains("no dead letter with id \"12345\""), "{err}");
}

#[tokio::test]
async fn on_the_embedded_sqlite_queue_list_replay_and_purge_act_on_the_selection() {
    on_the_local_queue_list_replay_and_purge_act_on_the_selection(AdminEnv::sqlite().await).await
}

#[tokio::test]
async fn on_a_postgres_local_queue_list_replay_and_purge_act_on_the_selection() {
    on_the_local_queue_list_replay_and_purge_act_on_the_selection(AdminEnv::postgres().await).await
}
