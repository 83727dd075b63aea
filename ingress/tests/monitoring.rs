//! The ingress's real `/metrics`, after traffic of every kind, passes `promtool check metrics`
//! and holds every ingress metric the alerts, dashboard and runbook use; the dashboard is valid.
#[path = "../../monitoring/tests/support.rs"]
mod ops;
mod support;

use std::time::Duration;

use common::testing::Proxy;
use serde_json::Value;
use support::{assert_error, eventually, spawn_app_with, TestOptions};

const ISSUE_CREATED: &str = "/webhooks/jira/jira:issue_created";

/// An ingress that has accepted, refused and failed webhooks, with its broker link cut at the end.
async fn metrics_after_traffic() -> String {
    let proxy = Proxy::to_test_broker().await;
    let app = spawn_app_with(TestOptions {
        amqp_url: Some(proxy.amqp_url()),
        ..TestOptions::default()
    })
    .await;
    app.install_tenant("tenant-ops", "secret-ops").await;
    for id in ["wh-1", "wh-2"] {
        let response = app
            .post_webhook("tenant-ops", "secret-ops", ISSUE_CREATED, b"{}", Some(id))
            .await;
        assert_eq!(response.status(), 202);
    }
    let response = app
        .post_webhook("tenant-ops", "wrong", ISSUE_CREATED, b"{}", None)
        .await;
    assert_error(response, 401, "jwt_bad_signature").await;
    assert_eq!(app.get("/no-such-route").await.status(), 404);

    proxy.cut();
    eventually(
        "the webhook is refused with 503",
        Duration::from_secs(15),
        || async {
            let response = app
                .post_webhook(
                    "tenant-ops",
                    "secret-ops",
                    ISSUE_CREATED,
                    b"{}",
                    Some("wh-3"),
                )
                .await;
            (response.status() == 503).then_some(())
        },
    )
    .await;
    let metrics = app.metrics().await;
    app.stop().await;
    metrics
}

#[tokio::test]
async fn the_real_metrics_pass_promtool_and_cover_every_ingress_metric_the_monitoring_uses() {
    let metrics = metrics_after_traffic().await;
    for family in [
        "hookline_http_requests_total",
        "hookline_http_request_duration_seconds",
        "hookline_jwt_rejections_total",
        "hookline_publish_confirm_duration_seconds",
        "hookline_publish_failures_total",
        "hookline_broker_connected",
    ] {
        assert!(
            ops::exported_families(&metrics).contains(family),
            "{family} has samples after the traffic:\n{metrics}"
        );
    }
    ops::promtool_check_metrics("ingress", &metrics);
    ops::assert_monitoring_names_are_exported("ingress", &metrics);
}

#[test]
fn the_dashboard_is_valid_json_whose_panels_all_query_hookline_metrics() {
    let text = ops::read("monitoring/grafana/dashboards/hookline.json");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert!(dashboard["uid"].as_str().is_some_and(|u| !u.is_empty()));
    let panels = dashboard["panels"].as_array().expect("a panels array");
    let graphs: Vec<&Value> = panels.iter().filter(|p| p["type"] != "row").collect();
    assert!(graphs.len() >= 12, "{} panels", graphs.len());
    let mut ids = std::collections::BTreeSet::new();
    for panel in graphs {
        let title = panel["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "every panel has a title: {panel}");
        assert!(
            ids.insert(panel["id"].as_u64().expect("a numeric id")),
            "unique ids"
        );
        let targets = panel["targets"].as_array();
        let targets = targets.unwrap_or_else(|| panic!("panel {title:?} has targets"));
        assert!(!targets.is_empty(), "panel {title:?} has targets");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(
                !ops::hookline_names(expr).is_empty(),
                "panel {title:?} queries a hookline metric: {expr:?}"
            );
            assert_eq!(target["datasource"]["uid"], "prometheus", "panel {title:?}");
        }
    }
}

#[test]
fn metric_names_are_found_in_expressions_with_histogram_suffixes_stripped() {
    let names = ops::hookline_names(
        "histogram_quantile(0.99, sum by (le) (rate(hookline_publish_confirm_duration_seconds_bucket[5m]))) / hookline:recorded x_hookline_not",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["hookline_publish_confirm_duration_seconds"]
    );
}
