//! Losing the broker: webhooks answer 503 with `Retry-After` (Jira retries them) and readiness
//! fails, then the ingress reconnects by itself, and exactly the accepted events are queued.
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use common::testing::Proxy;
use support::{eventually, spawn_app, spawn_app_with, TestApp, TestOptions};

const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";
const RECOVERY: Duration = Duration::from_secs(15);

/// Sends webhooks, each with a fresh identifier, and remembers which were accepted.
struct Sender<'a> {
    app: &'a TestApp,
    sent: usize,
    accepted: BTreeSet<String>,
}

/// One answer: its status, and for a refusal the code and whether `Retry-After` was set.
struct Answer {
    status: u16,
    code: String,
    retry_after: bool,
}

impl<'a> Sender<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            sent: 0,
            accepted: BTreeSet::new(),
        }
    }

    async fn send(&mut self) -> Answer {
        self.sent += 1;
        let id = format!("wh-{}", self.sent);
        let response = self
            .app
            .post_webhook("tenant-a", "secret-a", ISSUE_CREATED, b"{}", Some(&id))
            .await;
        let status = response.status().as_u16();
        let retry_after = response.headers().contains_key("retry-after");
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        if status == 202 {
            self.accepted.insert(id);
        }
        Answer {
            status,
            code: body["code"].as_str().unwrap_or_default().to_owned(),
            retry_after,
        }
    }

    /// Sends until one is accepted, failing after [`RECOVERY`].
    async fn until_accepted(&mut self, what: &str) {
        let deadline = tokio::time::Instant::now() + RECOVERY;
        loop {
            let answer = self.send().await;
            if answer.status == 202 {
                return;
            }
            assert_eq!(
                answer.status, 503,
                "while waiting until {what}: {}",
                answer.code
            );
            assert!(answer.retry_after, "every 503 carries Retry-After");
            assert!(
                tokio::time::Instant::now() < deadline,
                "no webhook was accepted within {RECOVERY:?} after {what}; last code {}",
                answer.code
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asserts the work queue holds exactly the accepted webhooks.
    async fn assert_queue_holds_exactly_the_accepted(&self) {
        let messages = self.app.drain_work_queue(Duration::from_secs(5)).await;
        let queued: Vec<String> = messages
            .iter()
            .map(|m| {
                m.properties
                    .message_id()
                    .as_ref()
                    .expect("a message id")
                    .to_string()
            })
            .collect();
        assert_eq!(
            queued.len(),
            queued.iter().collect::<BTreeSet<_>>().len(),
            "no event is queued twice: {queued:?}"
        );
        let queued: BTreeSet<String> = queued.into_iter().collect();
        assert_eq!(
            queued, self.accepted,
            "queued vs accepted (of {} sent)",
            self.sent
        );
    }
}

async fn readiness(app: &TestApp) -> u16 {
    app.get("/readyz").await.status().as_u16()
}

async fn broker_gauge(app: &TestApp) -> String {
    app.metrics()
        .await
        .lines()
        .find(|line| line.starts_with("hookline_broker_connected "))
        .expect("the broker gauge")
        .to_owned()
}

#[tokio::test]
async fn a_network_cut_to_the_broker_answers_503_until_it_heals_then_recovers_by_itself() {
    let proxy = Proxy::to_test_broker().await;
    let app = spawn_app_with(TestOptions {
        amqp_url: Some(proxy.amqp_url()),
        ..TestOptions::default()
    })
    .await;
    app.install_tenant("tenant-a", "secret-a").await;
    let mut sender = Sender::new(&app);
    assert_eq!(sender.send().await.status, 202);

    proxy.cut();
    // The first answers may still come from the dying channel (a confirm timeout or channel
    // error); once the link has noticed, the steady answer is broker_unavailable.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = sender.send().await;
        assert_eq!(answer.status, 503, "during the cut: {}", answer.code);
        assert!(answer.retry_after, "a 503 carries Retry-After");
        match answer.code.as_str() {
            "broker_unavailable" => break,
            "confirm_timeout" | "channel_error" => {}
            other => panic!("unexpected code {other} during the cut"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ingress did not notice the cut within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(readiness(&app).await, 503, "not ready without the broker");
    eventually(
        "the broker gauge drops to 0",
        Duration::from_secs(5),
        || async { (broker_gauge(&app).await == "hookline_broker_connected 0").then_some(()) },
    )
    .await;
    assert_eq!(sender.accepted.len(), 1, "nothing accepted during the cut");
    // Let the ingress fail to reconnect a few times, so recovery goes through its backoff.
    eventually(
        "the ingress has tried to reconnect through the cut twice",
        Duration::from_secs(10),
        || async { (proxy.turned_away() >= 2).then_some(()) },
    )
    .await;
    let answer = sender.send().await;
    assert_eq!(
        (answer.status, answer.code.as_str()),
        (503, "broker_unavailable")
    );

    proxy.restore();
    sender.until_accepted("the network healed").await;
    eventually("readiness is back", Duration::from_secs(5), || async {
        (readiness(&app).await == 200).then_some(())
    })
    .await;
    assert_eq!(broker_gauge(&app).await, "hookline_broker_connected 1");
    for _ in 0..3 {
        assert_eq!(sender.send().await.status, 202, "stays up");
    }
    sender.assert_queue_holds_exactly_the_accepted().await;
    app.stop().await;
}

#[tokio::test]
async fn the_broker_closing_our_connection_is_survived_without_a_restart() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let mut sender = Sender::new(&app);
    assert_eq!(sender.send().await.status, 202);

    let name = app.connection_name();
    let before = eventually(
        "the broker lists this ingress's connection",
        Duration::from_secs(15),
        || async {
            Some(common::testing::broker_connections_named(&name).await).filter(|c| c.len() == 1)
        },
    )
    .await;
    common::testing::close_broker_connection(&before[0]).await;
    // Right after the close either answer is fine, as long as a refusal is retryable.
    let answer = sender.send().await;
    match answer.status {
        202 => {}
        503 => assert!(answer.retry_after, "a 503 carries Retry-After"),
        other => panic!("answered {other} {} right after the close", answer.code),
    }

    let after = eventually(
        "the ingress has reconnected",
        Duration::from_secs(20),
        || async {
            Some(common::testing::broker_connections_named(&name).await)
                .filter(|c| c.len() == 1 && *c != before)
        },
    )
    .await;
    assert_ne!(after, before, "a new connection replaced the closed one");
    sender
        .until_accepted("the broker closed our connection")
        .await;
    assert_eq!(readiness(&app).await, 200);
    sender.assert_queue_holds_exactly_the_accepted().await;
    app.stop().await;
}

#[tokio::test]
async fn a_deleted_work_queue_is_refused_as_unroutable_then_declared_again() {
    let app = spawn_app().await;
    app.install_tenant("tenant-a", "secret-a").await;
    let mut sender = Sender::new(&app);
    assert_eq!(sender.send().await.status, 202);
    sender.assert_queue_holds_exactly_the_accepted().await;
    sender.accepted.clear();

    let connection = common::amqp::connect(&common::testing::amqp_url(), "hookline-test-admin")
        .await
        .expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_delete(&app.topology.work_queue(), Default::default())
        .await
        .expect("delete the work queue");
    let _ = connection.close(200, "done").await;

    // With no queue bound the event would be lost: it must be refused, never accepted.
    let answer = sender.send().await;
    assert_eq!(
        (answer.status, answer.code.as_str()),
        (503, "broker_rejected")
    );
    assert!(answer.retry_after);
    sender.until_accepted("the work queue was deleted").await;
    sender.assert_queue_holds_exactly_the_accepted().await;
    app.stop().await;
}
