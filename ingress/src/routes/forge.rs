//! The Forge remote's routes (present only with `forge.app_id` set), each behind a verified
//! Forge Invocation Token issued for it:
//! - `POST /forge/events`: product events (flat or wrapped in `payload`), queued with the
//!   installation as their tenant and answered 202 only once the queue confirmed them (Forge
//!   waits 5 s, then retries 4 times); and the app's lifecycle events (`installed`,
//!   `upgraded`), which register the installation. An event the app itself caused
//!   (`selfGenerated`, e.g. its own Confluence comment) is answered 200 and not queued;
//! - `POST /forge/refresh`: the hourly scheduled trigger, which brings a fresh system token;
//! - `POST /forge/uninstall`: the preUninstall module: the tenant's events are refused and
//!   nothing more is sent.
//!
//! Every call may bring the app system token; the freshest one is kept per installation.
use chrono::Utc;
use common::envelope::EventEnvelope;
use common::forge::events::{self, Delivery, ProductEvent};
use common::forge::{self as protocol, SystemToken, VerifiedFit};
use common::tenant::{ForgeInstallation, Protocol, Tenant, TenantId, Uninstalled};
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::webhooks::subscribed;
use crate::body::{BodyError, PendingBody};
use crate::caller::forge::{forge, ForgeCall};
use crate::errors::ApiError;
use crate::routes::with_state;
use crate::state::AppState;

/// The Forge routes.
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let events = warp::path!("forge" / "events")
        .and(warp::post())
        .and(forge(state.clone(), protocol::EVENTS))
        .and(crate::body::pending())
        .and(with_state(state.clone()))
        .then(|call, body, state| async move { answer(receive(call, body, state).await) });
    let refresh = warp::path!("forge" / "refresh")
        .and(warp::post())
        .and(forge(state.clone(), protocol::REFRESH))
        .and(crate::body::pending())
        .and(with_state(state.clone()))
        .then(|call, body, state| async move { answer(refresh(call, body, state).await) });
    let uninstall = warp::path!("forge" / "uninstall")
        .and(warp::post())
        .and(forge(state.clone(), protocol::UNINSTALL))
        .and(crate::body::pending())
        .and(with_state(state))
        .then(|call, body, state| async move { answer(uninstall(call, body, state).await) });
    events.or(refresh).unify().or(uninstall).unify().boxed()
}

fn answer(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(Reply::into_response)
}

#[tracing::instrument(name = "forge_event", skip_all, fields(event, event_id))]
async fn receive(
    call: ForgeCall,
    body: PendingBody,
    state: AppState,
) -> Result<Response, ApiError> {
    let body = read(&state, body, &call.fit).await?;
    let text = std::str::from_utf8(&body).map_err(|_| invalid_event())?;
    let event = match events::parse(text) {
        Ok(Delivery::Product(event)) => event,
        Ok(Delivery::Lifecycle { event_type }) => {
            let tenant = register(&state, &call).await?;
            tracing::info!(event = %event_type, tenant = %tenant.client_key, "Forge installation registered");
            state.metrics.lifecycle(&event_type, "ok");
            return Ok(ok("registered"));
        }
        Err(events::EventError::Unknown(event_type)) => {
            return Err(ApiError::bad_request(
                "unknown_event",
                format!("hookline handles no Forge event {event_type}"),
            ))
        }
        Err(_) => return Err(invalid_event()),
    };
    tracing::Span::current().record("event", event.event);
    if event.product != call.fit.product {
        return Err(ApiError::forbidden(
            "product_mismatch",
            "this installation cannot send events for that product",
        ));
    }
    subscribed(&state, event.product.as_str(), event.event)?;
    if event.self_generated {
        // hookline's own comment or label coming back: acting on it could loop.
        tracing::info!("self-generated event ignored");
        state
            .metrics
            .event_ignored(event.product.as_str(), "self_generated");
        return Ok(ignored("self_generated"));
    }
    let tenant = tenant_of(&state, &call).await?;
    crate::caller::require_active(&tenant)?;
    let retry = retry_count(text);
    let envelope = envelope(&call.fit, event, retry);
    tracing::Span::current().record("event_id", tracing::field::display(envelope.event_id));
    state.publisher.publish_confirmed(&envelope).await?;
    state
        .metrics
        .event_accepted(envelope.product.as_str(), "forge");
    tracing::info!(retry, "event accepted");
    let body = warp::reply::json(&json!({ "eventId": envelope.event_id }));
    Ok(warp::reply::with_status(body, StatusCode::ACCEPTED).into_response())
}

#[tracing::instrument(name = "forge_refresh", skip_all)]
async fn refresh(
    call: ForgeCall,
    body: PendingBody,
    state: AppState,
) -> Result<Response, ApiError> {
    read(&state, body, &call.fit).await?;
    register(&state, &call).await?;
    Ok(ok("refreshed"))
}

#[tracing::instrument(name = "forge_uninstall", skip_all)]
async fn uninstall(
    call: ForgeCall,
    body: PendingBody,
    state: AppState,
) -> Result<Response, ApiError> {
    read(&state, body, &call.fit).await?;
    let tenants = &state.stores.tenants;
    let fit = &call.fit;
    let tenant = tenants
        .find_forge(&fit.installation_id, fit.product)
        .await
        .map_err(store_unavailable)?;
    if let Some(tenant) = tenant {
        // A Connect app on Forge mid-migration loses only its Forge side: Connect keeps the
        // tenant, its rules and its events.
        let outcome = tenants
            .uninstall_side(&tenant.client_key, Protocol::Forge)
            .await
            .map_err(store_unavailable)?;
        match outcome {
            Some(Uninstalled::Side(_)) => {
                tracing::info!(tenant = %tenant.client_key, "Forge app uninstalled: the site stays a Connect tenant")
            }
            _ => {
                tracing::info!(tenant = %tenant.client_key, "Forge app uninstalled: its events are refused from now on")
            }
        }
    }
    state.metrics.lifecycle("preUninstall", "ok");
    Ok(ok("uninstalled"))
}

/// The tenant of the call's installation, registered on its first call (and when its API
/// base moved), with the call's system token kept when it is fresher.
async fn tenant_of(state: &AppState, call: &ForgeCall) -> Result<Tenant, ApiError> {
    let fit = &call.fit;
    let tenants = &state.stores.tenants;
    let known = tenants
        .find_forge(&fit.installation_id, fit.product)
        .await
        .map_err(store_unavailable)?;
    let tenant = match known {
        Some(tenant)
            if tenant
                .forge
                .as_ref()
                .is_some_and(|f| f.api_base_url == fit.api_base_url) =>
        {
            tenant
        }
        _ => return register(state, call).await,
    };
    if let Some(token) = fresher(&tenant, call.token.as_ref()) {
        tenants
            .store_forge_token(&tenant.client_key, token)
            .await
            .map_err(store_unavailable)?;
    }
    tracing::Span::current().record("client_key", tenant.client_key.as_str());
    Ok(tenant)
}

async fn register(state: &AppState, call: &ForgeCall) -> Result<Tenant, ApiError> {
    let tenant = state
        .stores
        .tenants
        .register_forge(&call.fit, &state.settings.app.key, call.token.as_ref())
        .await
        .map_err(store_unavailable)?;
    tracing::Span::current().record("client_key", tenant.client_key.as_str());
    Ok(tenant)
}

/// The call's token, if it outlives the one the tenant has.
fn fresher<'a>(tenant: &Tenant, token: Option<&'a SystemToken>) -> Option<&'a SystemToken> {
    let stored = tenant.forge.as_ref().and_then(|f| f.token.as_ref());
    token.filter(|token| stored.is_none_or(|stored| token.expires_at() > stored.expires_at()))
}

fn envelope(fit: &VerifiedFit, event: ProductEvent, retry: u32) -> EventEnvelope {
    EventEnvelope {
        event_id: uuid::Uuid::new_v4(),
        tenant: TenantId::Forge(ForgeInstallation {
            installation_id: fit.installation_id.clone(),
            cloud_id: fit.cloud_id.clone(),
        }),
        product: event.product,
        event: event.event.to_owned(),
        // Forge sends no delivery id: the event's own key stands for it, the same across
        // Forge's retries, so that they make one effect.
        webhook_id: Some(event.event_key),
        retry,
        flow: None,
        received_at: Utc::now(),
        payload: event.body,
    }
}

/// `retryContext.retryCount`, in the event or beside it (0 on a first delivery).
fn retry_count(body: &str) -> u32 {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    [
        "/retryContext/retryCount",
        "/payload/retryContext/retryCount",
    ]
    .iter()
    .find_map(|pointer| value.pointer(pointer)?.as_u64())
    .and_then(|count| u32::try_from(count).ok())
    .unwrap_or(0)
}

/// The body under the server's limits; a body over the limit is logged with its installation.
async fn read(
    state: &AppState,
    body: PendingBody,
    fit: &VerifiedFit,
) -> Result<bytes::Bytes, ApiError> {
    let announced = body.announced();
    match state.body_limits.read(body).await {
        Ok(body) => Ok(body.bytes().clone()),
        Err(error) => {
            if let BodyError::TooLarge { size } = error {
                tracing::warn!(
                    installation = %fit.installation_id,
                    size,
                    announced,
                    "Forge body over server.body_limit_bytes refused"
                );
            }
            Err(ApiError::from(error))
        }
    }
}

fn ok(status: &str) -> Response {
    warp::reply::json(&json!({ "status": status })).into_response()
}

fn ignored(reason: &str) -> Response {
    warp::reply::json(&json!({ "status": "ignored", "reason": reason })).into_response()
}

fn invalid_event() -> ApiError {
    ApiError::bad_request(
        "invalid_event",
        "the body is not a Forge event (one JSON object with eventType, or one wrapped in payload)",
    )
}

fn store_unavailable(error: common::tenant::StoreError) -> ApiError {
    tracing::error!(%error, "the tenant store failed");
    ApiError::unavailable(
        "tenant_store_unavailable",
        "the tenant store is unavailable; retry later",
    )
}
