//! A graceful stop (SIGTERM) of the ingress and of a worker on RabbitMQ exits 0 and logs no
//! ERROR line: operators alert on ERROR lines, so a clean shutdown must not look like a
//! failure (the broker channel is closed before its connection, and the process waits for
//! both to close before it exits).
use std::time::Duration;

use common::amqp::Topology;
use common::testing::{amqp_url, unique_prefix, BrokerCleanup, TestDatabase};
use tests::chaos::processes::{log_dir, Service};
use tests::settings::free_port;

const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_graceful_stop_of_the_ingress_and_a_worker_logs_no_error() {
    let database = TestDatabase::postgres().await;
    let prefix = unique_prefix();
    let _broker = BrokerCleanup {
        topology: Topology::new(&prefix, &[5, 30]),
    };
    let logs = log_dir("shutdown-logs").expect("a log directory");
    let (port, metrics) = (free_port(), free_port());
    let env: Vec<(String, String)> = [
        ("HOOKLINE_SERVER__PORT", port.to_string()),
        ("HOOKLINE_WORKER__METRICS_PORT", metrics.to_string()),
        ("HOOKLINE_DATABASE__URL", database.url.clone()),
        ("HOOKLINE_AMQP__URL", amqp_url()),
        ("HOOKLINE_AMQP__PREFIX", prefix.clone()),
        ("HOOKLINE_AMQP__RETRY_DELAYS_SECS", "5,30".to_owned()),
        (
            "HOOKLINE_SECURITY__ENCRYPTION_KEYS",
            "test=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        ),
        ("HOOKLINE_LOG__FORMAT", "json".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let ingress = Service::spawn(
        "ingress",
        "ingress",
        &[],
        &env,
        &logs,
        &format!("http://127.0.0.1:{port}/readyz"),
    )
    .await
    .expect("the ingress starts");
    let worker = Service::spawn(
        "worker",
        "worker",
        &[],
        &env,
        &logs,
        &format!("http://127.0.0.1:{metrics}/healthz"),
    )
    .await
    .expect("the worker starts");
    // Both hold their broker links (the worker also its queue poller's) when told to stop.
    tokio::time::sleep(Duration::from_millis(500)).await;

    for service in [worker, ingress] {
        let name = service.name().to_owned();
        let (status, log) = {
            let log_of = service.log_path();
            let status = service.terminate(PATIENCE).await.expect("it stops");
            (status, std::fs::read_to_string(log_of).unwrap_or_default())
        };
        assert!(status.success(), "{name} exited with {status}:\n{log}");
        let errors: Vec<&str> = log
            .lines()
            .filter(|line| line.contains(r#""level":"ERROR""#))
            .collect();
        assert!(
            errors.is_empty(),
            "{name} logged ERROR on a clean stop: {errors:#?}"
        );
        assert!(log.contains("stopped"), "{name} says it stopped:\n{log}");
    }
}
