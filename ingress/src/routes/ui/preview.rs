//! `POST /api/rules/preview`: renders a template against a sample payload of the tenant's
//! product (real captures from `fixtures/payloads/`, documented shapes where there is none), as
//! the worker would render it.
use std::sync::{Arc, OnceLock};

use common::connect::QshRule;
use common::rules::model::MAX_TEMPLATE_BYTES;
use common::rules::template::{self, Escape};
use common::tenant::ProductType;
use serde::Deserialize;
use serde_json::{json, Value};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::{json, API_BODY_LIMIT};
use crate::caller::{self, Caller};
use crate::errors::ApiError;
use crate::state::AppState;

/// A sample payload: its product, the event it is a payload of, and the payload.
struct Sample {
    product: ProductType,
    event: &'static str,
    source: &'static str,
}

/// Real captures, and documented shapes where no capture is at hand (`documented/`).
const SAMPLES: [Sample; 8] = [
    Sample {
        product: ProductType::Jira,
        event: "jira:issue_created",
        source: include_str!(
            "../../../../fixtures/payloads/jira_issue_created__sirajju_skill-sync.json"
        ),
    },
    Sample {
        product: ProductType::Jira,
        event: "jira:issue_updated",
        source: include_str!(
            "../../../../fixtures/payloads/jira_issue_updated__sirajju_skill-sync.json"
        ),
    },
    Sample {
        product: ProductType::Jira,
        event: "comment_created",
        source: include_str!(
            "../../../../fixtures/payloads/jira_comment_created__laravel_BotController.json"
        ),
    },
    Sample {
        product: ProductType::Jira,
        event: "comment_updated",
        source: include_str!("../../../../fixtures/payloads/documented/jira_comment_updated.json"),
    },
    Sample {
        product: ProductType::Confluence,
        event: "page_created",
        source: include_str!(
            "../../../../fixtures/payloads/confluence_page_created__wyona_katie.json"
        ),
    },
    Sample {
        product: ProductType::Confluence,
        event: "page_updated",
        source: include_str!(
            "../../../../fixtures/payloads/confluence_page_updated__wyona_katie.json"
        ),
    },
    Sample {
        product: ProductType::Confluence,
        event: "blog_created",
        source: include_str!(
            "../../../../fixtures/payloads/documented/confluence_blog_created.json"
        ),
    },
    Sample {
        product: ProductType::Confluence,
        event: "comment_created",
        source: include_str!(
            "../../../../fixtures/payloads/documented/confluence_comment_created.json"
        ),
    },
];

/// The body of a preview request.
#[derive(Deserialize)]
struct PreviewRequest {
    template: String,
    /// The rule's event (picks the sample); the product's first sample when absent or unknown.
    #[serde(default)]
    event: Option<String>,
    /// The action type: `confluence_comment` renders with HTML escaping, as the worker does.
    #[serde(default)]
    action: Option<String>,
}

pub fn route(state: AppState) -> BoxedFilter<(Response,)> {
    let limits = state.body_limits.with_limit(API_BODY_LIMIT);
    warp::path!("api" / "rules" / "preview")
        .and(warp::post())
        .and(caller::connect(state, QshRule::RequestOrContext))
        .and(crate::body::read(limits))
        .map(|caller: Caller, body: Bytes| answer(caller.tenant.product_type, &body))
        .boxed()
}

/// 200 with the preview, or the request's error.
pub(crate) fn answer(product: ProductType, body: &[u8]) -> Response {
    preview(product, body)
        .map(|preview| json(StatusCode::OK, &preview))
        .unwrap_or_else(Reply::into_response)
}

/// Renders the template of `body` against `product`'s sample for its event. Any user of the
/// site may preview: it reads only the built-in samples.
#[tracing::instrument(name = "rules_preview", skip_all)]
pub(crate) fn preview(product: ProductType, body: &[u8]) -> Result<Value, ApiError> {
    let preview: PreviewRequest = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_request(
            "invalid_body",
            "send {\"template\": \"...\", \"event\": \"...\"}",
        )
    })?;
    let (event, payload) = sample(product, preview.event.as_deref());
    let escape = match preview.action.as_deref() {
        Some("confluence_comment") => Escape::Html,
        _ => Escape::None,
    };
    let rendered = if preview.template.len() > MAX_TEMPLATE_BYTES {
        Err(format!(
            "the template is longer than {MAX_TEMPLATE_BYTES} bytes"
        ))
    } else {
        template::render(
            &preview.template,
            &template::context(event, payload),
            escape,
        )
        .map_err(|error| error.to_string())
    };
    Ok(match rendered {
        Ok(text) => json!({ "sampleEvent": event, "text": text }),
        Err(error) => json!({ "sampleEvent": event, "error": error }),
    })
}

/// The sample for `event` if there is one for the product, else the product's first.
fn sample(product: ProductType, event: Option<&str>) -> (&'static str, Arc<Value>) {
    static PARSED: OnceLock<Vec<Arc<Value>>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        SAMPLES
            .iter()
            .map(|sample| Arc::new(serde_json::from_str(sample.source).unwrap_or(Value::Null)))
            .collect()
    });
    let of_product = |sample: &Sample| sample.product == product;
    let index = SAMPLES
        .iter()
        .position(|sample| of_product(sample) && Some(sample.event) == event)
        .or_else(|| SAMPLES.iter().position(of_product))
        .unwrap_or(0);
    (SAMPLES[index].event, parsed[index].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_parses_and_each_product_has_its_own() {
        for sample in &SAMPLES {
            let value: Value = serde_json::from_str(sample.source).expect(sample.event);
            assert!(value.is_object(), "{}", sample.event);
        }
        let (event, payload) = sample(ProductType::Jira, Some("comment_created"));
        assert_eq!(event, "comment_created");
        assert!(payload.get("comment").is_some());
        let (event, payload) = sample(ProductType::Confluence, Some("jira:issue_created"));
        assert_eq!(event, "page_created");
        assert!(payload.get("page").is_some());
        let (event, payload) = sample(ProductType::Confluence, Some("comment_created"));
        assert_eq!(event, "comment_created");
        assert!(payload.pointer("/comment/parent/title").is_some());
        assert_eq!(sample(ProductType::Jira, None).0, "jira:issue_created");
    }
}
