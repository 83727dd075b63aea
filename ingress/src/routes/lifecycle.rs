//! `POST /{product}/installed`, `/uninstalled`, `/enabled`, `/disabled` (and the same without
//! the product): exactly the rules of
//! docs/protocol.md §1, in signed-install mode (RS256, the default) and in the legacy mode.
use common::connect::install::{key_id, verify_install, InstallExpectations};
use common::connect::{JwtError, QshRule, Unverified};
use common::tenant::{InstallPayload, ProductType, Protocol, TenantState};
use warp::http::{HeaderMap, StatusCode};
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::with_state;
use crate::auth::{authenticate, authorization, request_target, token_of, RequestTarget};
use crate::errors::ApiError;
use crate::install_keys::InstallKeyError;
use crate::state::AppState;

/// The prefix of the keys of tenants known only through Forge (common::tenant).
const FORGE_KEY_PREFIX: &str = "forge:";

/// The four lifecycle callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Installed,
    Uninstalled,
    Enabled,
    Disabled,
}

impl Lifecycle {
    fn parse(segment: &str) -> Option<Self> {
        match segment {
            "installed" => Some(Self::Installed),
            "uninstalled" => Some(Self::Uninstalled),
            "enabled" => Some(Self::Enabled),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Installed => "installed",
            Self::Uninstalled => "uninstalled",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

/// Every lifecycle route: `/{product}/{event}` (what the product descriptors register, which
/// only that product may call) and `/{event}` (any product: sites installed through an earlier
/// single descriptor call these).
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let event = |segment: String| async move {
        Lifecycle::parse(&segment).ok_or_else(warp::reject::not_found)
    };
    let scoped = warp::path::param::<String>()
        .and_then(|segment: String| async move {
            ProductType::parse(&segment)
                .map(Some)
                .map_err(|_| warp::reject::not_found())
        })
        .and(warp::path::param::<String>().and_then(event));
    let any_product = warp::any()
        .map(|| None)
        .and(warp::path::param::<String>().and_then(event));
    scoped
        .or(any_product)
        .unify()
        .and(warp::path::end())
        .and(warp::post())
        .and(request_target())
        .and(warp::header::headers_cloned())
        .and(crate::body::read(state.body_limits.clone()))
        .and(with_state(state))
        .then(handle)
}

#[tracing::instrument(name = "lifecycle", skip_all, fields(event = event.as_str(), client_key))]
async fn handle(
    product: Option<ProductType>,
    event: Lifecycle,
    request: RequestTarget,
    headers: HeaderMap,
    body: Bytes,
    state: AppState,
) -> Response {
    let result = match serde_json::from_slice::<InstallPayload>(&body) {
        Err(_) => Err(ApiError::bad_request(
            "invalid_payload",
            "the body is not a lifecycle payload (key, clientKey, baseUrl, productType and eventType are required)",
        )),
        Ok(payload) if product.is_some_and(|product| product != payload.product_type) => {
            Err(ApiError::forbidden(
                "product_mismatch",
                "this lifecycle URL belongs to another product's descriptor",
            ))
        }
        Ok(payload) => {
            tracing::Span::current().record("client_key", payload.client_key.as_str());
            let token = token_of(authorization(&headers), &request);
            match event {
                Lifecycle::Installed => installed(&state, &request, token.as_deref(), &payload).await,
                Lifecycle::Uninstalled => uninstalled(&state, &request, token.as_deref(), &payload).await,
                Lifecycle::Enabled | Lifecycle::Disabled => toggled(&state, event, &request, token.as_deref(), &payload).await,
            }
        }
    };
    let outcome = match &result {
        Ok(()) => "ok",
        Err(error) => error.code,
    };
    state.metrics.lifecycle(event.as_str(), outcome);
    match result {
        Ok(()) => {
            tracing::info!("lifecycle event stored");
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => {
            tracing::warn!(
                code = error.code,
                status = error.status.as_u16(),
                "lifecycle event refused"
            );
            error.into_response()
        }
    }
}

async fn installed(
    state: &AppState,
    request: &RequestTarget,
    token: Option<&str>,
    payload: &InstallPayload,
) -> Result<(), ApiError> {
    // The product's own key; or the app's base key, which sites installed through an earlier
    // single descriptor carry.
    let app = &state.settings.app;
    if payload.key != app.key_for(payload.product_type) && payload.key != app.key {
        return Err(ApiError::bad_request(
            "wrong_app_key",
            "the payload is for another app key",
        ));
    }
    if payload.client_key.as_str().starts_with(FORGE_KEY_PREFIX) {
        return Err(ApiError::bad_request(
            "invalid_client_key",
            "clientKeys starting with forge: are reserved for Forge installations",
        ));
    }
    if payload
        .shared_secret
        .as_ref()
        .is_none_or(|s| s.expose().is_empty())
    {
        return Err(ApiError::bad_request(
            "missing_shared_secret",
            "installed must carry a sharedSecret",
        ));
    }
    state
        .stores
        .base_urls
        .check(&payload.base_url)
        .map_err(|error| ApiError::forbidden("base_url_not_allowed", error.to_string()))?;
    if state.settings.app.signed_install {
        verify_signed(state, request, token, payload).await?;
    } else {
        legacy_install_check(state, request, token, payload).await?;
    }
    state
        .stores
        .tenants
        .save_install(payload)
        .await
        .map_err(|error| ApiError::internal("storing the install failed", &error))?;
    Ok(())
}

/// The legacy rules: no token → only a new clientKey may install; a token → it must verify
/// with the *stored* secret of its issuer (unknown issuers install as new).
async fn legacy_install_check(
    state: &AppState,
    request: &RequestTarget,
    token: Option<&str>,
    payload: &InstallPayload,
) -> Result<(), ApiError> {
    let takeover = || {
        ApiError::forbidden("install_takeover", "this clientKey is already installed; a re-install must be signed with its current sharedSecret")
    };
    let Some(token) = token else {
        return match find(state, payload.client_key.as_str()).await? {
            Some(_) => Err(takeover()),
            None => Ok(()),
        };
    };
    let issuer = Unverified::decode(token)
        .map_err(ApiError::from)?
        .claims
        .iss
        .ok_or_else(|| ApiError::from(JwtError::MissingIssuer))?;
    if issuer != payload.client_key.as_str() {
        return Err(ApiError::forbidden(
            "install_issuer_mismatch",
            "the token's iss is not the payload's clientKey",
        ));
    }
    let Some(existing) = find(state, &issuer).await? else {
        return Ok(());
    };
    // A site known only through Forge has no secret to sign a re-install with.
    let secret = existing.shared_secret.as_ref().ok_or_else(takeover)?;
    state
        .verifier
        .verify_with_secret(token, secret, &request.canonical(), QshRule::Request)
        .map(drop)
        .map_err(|error| {
            state.metrics.jwt_rejected(error.code());
            takeover()
        })
}

async fn uninstalled(
    state: &AppState,
    request: &RequestTarget,
    token: Option<&str>,
    payload: &InstallPayload,
) -> Result<(), ApiError> {
    if state.settings.app.signed_install {
        verify_signed(state, request, token, payload).await?;
    } else {
        let verified = authenticate(state, token, request, QshRule::Request).await?;
        same_tenant(verified.tenant.client_key.as_str(), payload)?;
    }
    // A Connect app on Forge mid-migration loses only its Connect side: its Forge
    // installation keeps the tenant, its rules and its events.
    state
        .stores
        .tenants
        .uninstall_side(&payload.client_key, Protocol::Connect)
        .await
        .map(drop)
        .map_err(|error| ApiError::internal("storing the lifecycle state failed", &error))
}

async fn toggled(
    state: &AppState,
    event: Lifecycle,
    request: &RequestTarget,
    token: Option<&str>,
    payload: &InstallPayload,
) -> Result<(), ApiError> {
    if token.is_none() && event == Lifecycle::Disabled {
        // Atlassian sometimes sends `disabled` without a JWT after `uninstalled`: accept and
        // ignore it, but only for a tenant that is already gone.
        let tenant = find(state, payload.client_key.as_str()).await?;
        if tenant
            .as_ref()
            .is_none_or(|t| t.state == TenantState::Uninstalled)
        {
            tracing::info!("unsigned disabled after uninstall ignored");
            return Ok(());
        }
    }
    let verified = authenticate(state, token, request, QshRule::Request).await?;
    same_tenant(verified.tenant.client_key.as_str(), payload)?;
    if verified.tenant.state == TenantState::Uninstalled {
        // Only `installed` (with a new secret) brings a site back: a late `disabled` must not
        // hide the uninstall, and the retired secret must not re-enable the site.
        return match event {
            Lifecycle::Disabled => Ok(()),
            _ => Err(ApiError::forbidden(
                "tenant_uninstalled",
                "the app is uninstalled from this site; install it again",
            )),
        };
    }
    let target = if event == Lifecycle::Enabled {
        TenantState::Enabled
    } else {
        TenantState::Disabled
    };
    set_state(state, payload, target).await
}

/// Verifies a signed-install (RS256) token: key by `kid`, then `aud`, `iss`, `qsh`, `exp`.
async fn verify_signed(
    state: &AppState,
    request: &RequestTarget,
    token: Option<&str>,
    payload: &InstallPayload,
) -> Result<(), ApiError> {
    let rejected = |error: JwtError| {
        state.metrics.jwt_rejected(error.code());
        ApiError::from(error)
    };
    let token = token.ok_or(JwtError::Missing).map_err(rejected)?;
    let kid = key_id(token).map_err(rejected)?;
    let key = state
        .install_keys
        .get(&kid)
        .await
        .map_err(|error| match error {
            InstallKeyError::Unknown => {
                state.metrics.jwt_rejected("install_key_unknown");
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "install_key_unknown",
                    "the install token's key id is unknown to the key server",
                )
            }
            InstallKeyError::Unavailable(reason) => {
                tracing::warn!(%reason, "install key server unavailable");
                ApiError::unavailable(
                    "install_key_unavailable",
                    "the install key server is unavailable; retry later",
                )
            }
        })?;
    let canonical = request.canonical();
    let expected = InstallExpectations {
        app_base_url: &state.settings.app.base_url,
        client_key: payload.client_key.as_str(),
        request: &canonical,
        now: chrono::Utc::now().timestamp(),
        leeway_secs: i64::try_from(state.settings.security.jwt_leeway_secs).unwrap_or(0),
    };
    verify_install(token, &key, &expected)
        .map(drop)
        .map_err(rejected)
}

fn same_tenant(verified: &str, payload: &InstallPayload) -> Result<(), ApiError> {
    if verified == payload.client_key.as_str() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "tenant_mismatch",
            "the token's tenant is not the payload's clientKey",
        ))
    }
}

async fn find(
    state: &AppState,
    client_key: &str,
) -> Result<Option<common::tenant::Tenant>, ApiError> {
    let key = common::tenant::ClientKey::parse(client_key)
        .map_err(|_| ApiError::bad_request("invalid_client_key", "the clientKey is not valid"))?;
    state
        .stores
        .tenants
        .find_by_client_key(&key)
        .await
        .map_err(|_| {
            ApiError::unavailable(
                "tenant_store_unavailable",
                "the tenant store is unavailable; retry later",
            )
        })
}

async fn set_state(
    state: &AppState,
    payload: &InstallPayload,
    target: TenantState,
) -> Result<(), ApiError> {
    state
        .stores
        .tenants
        .set_state(&payload.client_key, target)
        .await
        .map(drop)
        .map_err(|error| ApiError::internal("storing the lifecycle state failed", &error))
}
