//! Cost of rendering a comment template against the real 11 KB `jira:issue_created` payload:
//! the lazy context (`template::context`, reads only the fields a template uses) against the
//! eager one it replaced (the payload copied twice into a JSON context that minijinja then
//! converts whole), measured in the same run. Run with `cargo bench -p common --bench template`.
use std::sync::Arc;

use common::rules::template::{context, render, Escape};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

const TEMPLATE: &str = "Thanks! {{ issue.key }} ({{ issue.fields.summary }}) is queued for triage.";

/// The context as built before: the payload's fields, `event` and `payload`, all copied.
fn eager(event: &str, payload: &Value) -> Value {
    let mut context = payload.clone();
    context["event"] = json!(event);
    context["payload"] = payload.clone();
    context
}

fn template(c: &mut Criterion) {
    let text = include_str!("../../fixtures/payloads/jira_issue_created__sirajju_skill-sync.json");
    let payload: Value = serde_json::from_str(text).expect("the fixture is JSON");
    let shared = Arc::new(payload.clone());
    let mut group = c.benchmark_group("render a comment");
    group.bench_function("lazy context (shared payload)", |b| {
        b.iter(|| {
            let variables = context("jira:issue_created", shared.clone());
            render(black_box(TEMPLATE), &variables, Escape::None).expect("renders")
        });
    });
    group.bench_function("eager context (baseline)", |b| {
        b.iter(|| {
            let variables = eager("jira:issue_created", &payload);
            render(black_box(TEMPLATE), &variables, Escape::None).expect("renders")
        });
    });
    group.bench_function("parse the payload (for scale)", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(text)).expect("parses"));
    });
    group.finish();
}

criterion_group!(benches, template);
criterion_main!(benches);
