//! The rules API of the rules page: list (any user of the site), create, enable/disable and
//! delete (site admins only). Every store call takes the user's clientKey, so a rule id of
//! another tenant is simply not found. The core functions take a [`PageUser`]: the Connect
//! routes here and the Forge routes (`super::forge`) share them.
use std::sync::Arc;

use common::connect::QshRule;
use common::rules::{FieldError, Rule, RuleSpec, RuleStoreError};
use common::tenant::ProductType;
use serde::Deserialize;
use warp::filters::BoxedFilter;
use warp::http::header::{HeaderValue, LOCATION};
use warp::http::StatusCode;
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::view::RuleView;
use super::{json, PageUser, API_BODY_LIMIT};
use crate::caller;
use crate::errors::ApiError;
use crate::routes::with_state;
use crate::state::AppState;

/// Most rules one site may have (each event is checked against every rule of its site).
pub const MAX_RULES_PER_TENANT: usize = 100;

/// The body of `PATCH /api/rules/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    enabled: bool,
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let limits = state.body_limits.with_limit(API_BODY_LIMIT);
    let authenticated = {
        let state = state.clone();
        move || {
            caller::connect(state.clone(), QshRule::RequestOrContext)
                .map(PageUser::Connect)
                .and(with_state(state.clone()))
        }
    };
    let body = move || crate::body::read(limits.clone());
    let list = warp::path!("api" / "rules")
        .and(warp::get())
        .and(authenticated())
        .then(|user, state| async move { answer(list(&user, &state).await.map(|r| listed(&r))) });
    let create = warp::path!("api" / "rules")
        .and(warp::post())
        .and(authenticated())
        .and(body())
        .then(|user, state, body: Bytes| async move {
            let rule = create(&user, &state, &body).await;
            answer(rule.map(|rule| created(&rule, &format!("/api/rules/{}", rule.id))))
        });
    let change = warp::path!("api" / "rules" / i64)
        .and(warp::patch())
        .and(authenticated())
        .and(body())
        .then(|id, user, state, body: Bytes| async move {
            answer(
                change(&user, &state, id, &body)
                    .await
                    .map(|rule| shown(&rule)),
            )
        });
    let remove = warp::path!("api" / "rules" / i64)
        .and(warp::delete())
        .and(authenticated())
        .then(|id, user, state| async move {
            let removed = remove(&user, &state, id).await;
            answer(removed.map(|()| {
                warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response()
            }))
        });
    list.or(create)
        .unify()
        .or(change)
        .unify()
        .or(remove)
        .unify()
        .boxed()
}

pub(crate) fn answer(result: Result<Response, impl Reply>) -> Response {
    result.unwrap_or_else(Reply::into_response)
}

/// 200 `{"rules": [...]}`.
pub(crate) fn listed(rules: &[Rule]) -> Response {
    let views: Vec<RuleView<'_>> = rules.iter().map(RuleView::from).collect();
    json(StatusCode::OK, &serde_json::json!({ "rules": views }))
}

/// 200 with the rule.
pub(crate) fn shown(rule: &Rule) -> Response {
    json(StatusCode::OK, &RuleView::from(rule))
}

/// 201 with the rule, and `Location` when it is a valid header value.
pub(crate) fn created(rule: &Rule, location: &str) -> Response {
    let mut response = json(StatusCode::CREATED, &RuleView::from(rule));
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// The rules of the user's site (any user of the site may list them).
#[tracing::instrument(name = "rules_list", skip_all)]
pub(crate) async fn list(user: &PageUser, state: &AppState) -> Result<Arc<Vec<Rule>>, ApiError> {
    let client_key = &user.tenant().client_key;
    // Fresh from the database: another replica may have changed them within the cache's TTL.
    state.stores.rules.invalidate(client_key).await;
    state
        .stores
        .rules
        .list(client_key)
        .await
        .map_err(store_error)
}

/// Creates the rule in `body` on the user's site: site admins only, every problem by field.
#[tracing::instrument(name = "rules_create", skip_all, fields(rule_id))]
pub(crate) async fn create(
    user: &PageUser,
    state: &AppState,
    body: &[u8],
) -> Result<Rule, Refusal> {
    user.require_admin(state).await?;
    let tenant = user.tenant();
    let client_key = &tenant.client_key;
    let spec: RuleSpec = serde_json::from_slice(body)
        .map_err(|error| Refusal::Invalid(vec![field_error("rule", error.to_string())]))?;
    check(state, &spec, tenant.product_type)?;
    let existing = state
        .stores
        .rules
        .list(client_key)
        .await
        .map_err(store_error)?;
    if existing.len() >= MAX_RULES_PER_TENANT {
        return Err(Refusal::Invalid(vec![field_error(
            "rule",
            format!("a site may have at most {MAX_RULES_PER_TENANT} rules; delete one first"),
        )]));
    }
    let rule = state
        .stores
        .rules
        .add(client_key, &spec)
        .await
        .map_err(store_error)?;
    tracing::Span::current().record("rule_id", rule.id);
    tracing::info!("rule created");
    Ok(rule)
}

/// Enables or disables (`{"enabled": bool}`) a rule of the user's site: site admins only.
#[tracing::instrument(name = "rules_change", skip_all, fields(rule_id = id))]
pub(crate) async fn change(
    user: &PageUser,
    state: &AppState,
    id: i64,
    body: &[u8],
) -> Result<Rule, ApiError> {
    user.require_admin(state).await?;
    let change: Change = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_request(
            "invalid_body",
            "send {\"enabled\": true} or {\"enabled\": false}",
        )
    })?;
    let client_key = &user.tenant().client_key;
    let found = state
        .stores
        .rules
        .set_enabled(client_key, id, change.enabled)
        .await
        .map_err(store_error)?;
    let rules = state
        .stores
        .rules
        .list(client_key)
        .await
        .map_err(store_error)?;
    let rule = rules
        .iter()
        .find(|rule| rule.id == id)
        .filter(|_| found)
        .cloned()
        .ok_or_else(not_found)?;
    tracing::info!(enabled = change.enabled, "rule changed");
    Ok(rule)
}

/// Deletes a rule of the user's site: site admins only; 404 for a rule it does not have.
#[tracing::instrument(name = "rules_delete", skip_all, fields(rule_id = id))]
pub(crate) async fn remove(user: &PageUser, state: &AppState, id: i64) -> Result<(), ApiError> {
    user.require_admin(state).await?;
    let removed = state
        .stores
        .rules
        .remove(&user.tenant().client_key, id)
        .await
        .map_err(store_error)?;
    if !removed {
        return Err(not_found());
    }
    tracing::info!("rule deleted");
    Ok(())
}

/// `RuleSpec::validate` for the tenant's product, plus: the app subscribes to the event.
fn check(state: &AppState, spec: &RuleSpec, product: ProductType) -> Result<(), Refusal> {
    let mut errors = spec.validate(product).err().unwrap_or_default();
    let subscribed = state
        .settings
        .app
        .events(product)
        .any(|event| event == spec.event);
    if !subscribed && !errors.iter().any(|error| error.field == "event") {
        errors.push(field_error(
            "event",
            format!(
                "this app receives no {} event of that name",
                product.as_str()
            ),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Invalid(errors))
    }
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Why a rule was not created: any API error, or 422 with every problem by field.
pub(crate) enum Refusal {
    Api(ApiError),
    Invalid(Vec<FieldError>),
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl Reply for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Api(error) => error.into_response(),
            Self::Invalid(errors) => json(
                StatusCode::UNPROCESSABLE_ENTITY,
                &serde_json::json!({
                    "code": "invalid_rule",
                    "message": "the rule is not valid",
                    "errors": errors,
                }),
            ),
        }
    }
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "rule_not_found",
        "this site has no such rule",
    )
}

fn store_error(error: RuleStoreError) -> ApiError {
    match error {
        RuleStoreError::Database(error) => {
            tracing::error!(error = %error, "the rule store failed");
            ApiError::unavailable(
                "rules_unavailable",
                "the rules cannot be reached; retry later",
            )
        }
        other => ApiError::internal("a stored rule is unreadable", &other),
    }
}
