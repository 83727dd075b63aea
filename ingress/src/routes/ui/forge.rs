//! The pages' API for the Forge Custom UI pages (`forge-ui/rules`, `forge-ui/activity`), behind
//! the resolver endpoint `hookline-ui` (`common::forge::UI`), present only with `forge.app_id`
//! set. A page's `invokeRemote({path, method, body})` reaches `{remote baseUrl}{path}` with a
//! Forge Invocation Token; the pages call these paths:
//!
//! | call | does |
//! |---|---|
//! | `GET /forge/ui/site` | the site's product, the events rules may name, and the actions and conditions they may have (the Connect page's own choices) |
//! | `GET /forge/ui/rules` | list |
//! | `POST /forge/ui/rules` | create (site admins) |
//! | `PATCH /forge/ui/rules/{id}` | `{"enabled": bool}` (site admins) |
//! | `DELETE /forge/ui/rules/{id}` | delete (site admins); 200 `{"deleted": id}` |
//! | `POST /forge/ui/rules/preview` | render a template against a sample payload |
//! | `GET /forge/ui/activity[?issueKey=…\|pageId=…]` | the ledger, site-wide (with whether the site is paused) or for one subject |
//! | `POST /forge/ui/pause`, `POST /forge/ui/resume` | hold the site's events, or act on them again and release the held ones (site admins) |
//!
//! Whether Forge also puts the endpoint's `route.path` in front of the page's path is not
//! documented (Atlassian's docs say the path is appended to the remote's `baseUrl`), so the
//! same routes answer under `/forge/ui/forge/ui/…` too. The tenant is the token's installation
//! and the user its `principal`, never anything in the body; the handlers are the Connect
//! API's own (`rules`, `preview`, `activity`, `pause`). Every answer, errors included, is
//! JSON: Forge hands a non-JSON body to the page as nothing.
use common::forge as protocol;
use serde_json::{json, Value};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::forge_user::ForgeUser;
use super::pause::{self, Change};
use super::rules::{answer, created, listed, shown};
use super::{activity, json, preview, rules, PageUser, API_BODY_LIMIT};
use crate::caller::forge::forge;
use crate::caller::Refused;
use crate::routes::with_state;
use crate::state::AppState;

/// The header that brings the user's own token (when the endpoint enables `appUserToken`).
const USER_TOKEN: &str = "x-forge-oauth-user";

/// The Forge UI routes.
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let limits = state.body_limits.with_limit(API_BODY_LIMIT);
    let user = {
        let state = state.clone();
        move || user(state.clone())
    };
    let body = move || crate::body::read(limits.clone()).map(unwrap_json_string);
    let site = prefix()
        .and(warp::path!("site"))
        .and(warp::get())
        .and(user())
        .map(|user: PageUser, state: AppState| site(&user, &state));
    let list =
        prefix()
            .and(warp::path!("rules"))
            .and(warp::get())
            .and(user())
            .then(|user, state| async move {
                answer(rules::list(&user, &state).await.map(|r| listed(&r)))
            });
    let create =
        prefix()
            .and(warp::path!("rules"))
            .and(warp::post())
            .and(user())
            .and(body())
            .then(|user, state, body: Bytes| async move {
                let rule = rules::create(&user, &state, &body).await;
                answer(rule.map(|rule| {
                    created(&rule, &format!("{}/rules/{}", protocol::UI.path, rule.id))
                }))
            });
    let preview = prefix()
        .and(warp::path!("rules" / "preview"))
        .and(warp::post())
        .and(user())
        .and(body())
        .map(|user: PageUser, _state, body: Bytes| {
            preview::answer(user.tenant().product_type, &body)
        });
    let change = prefix()
        .and(warp::path!("rules" / i64))
        .and(warp::patch())
        .and(user())
        .and(body())
        .then(|id, user, state, body: Bytes| async move {
            answer(
                rules::change(&user, &state, id, &body)
                    .await
                    .map(|rule| shown(&rule)),
            )
        });
    let remove = prefix()
        .and(warp::path!("rules" / i64))
        .and(warp::delete())
        .and(user())
        .then(|id: i64, user, state| async move {
            let removed = rules::remove(&user, &state, id).await;
            answer(removed.map(|()| json(StatusCode::OK, &json!({ "deleted": id }))))
        });
    let activity = prefix()
        .and(warp::path!("activity"))
        .and(warp::get())
        .and(user())
        .and(raw_query())
        .then(
            |user: PageUser, state: AppState, query: String| async move {
                activity::answer(&state, user.tenant(), &query).await
            },
        );
    let set = move |name: &'static str, change: Change| {
        prefix()
            .and(warp::path(name))
            .and(warp::path::end())
            .and(warp::post())
            .and(user())
            .then(move |user: PageUser, state: AppState| async move {
                pause::answer(pause::set(&user, &state, change).await)
            })
    };
    site.or(list)
        .unify()
        .or(create)
        .unify()
        .or(preview)
        .unify()
        .or(change)
        .unify()
        .or(remove)
        .unify()
        .or(activity)
        .unify()
        .or(set("pause", Change::Pause))
        .unify()
        .or(set("resume", Change::Resume))
        .unify()
        .boxed()
}

/// `/forge/ui`, once or (should Forge put the endpoint's route in front) twice.
fn prefix() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    let ui = || warp::path("forge").and(warp::path("ui"));
    ui().and(ui().or(warp::any()).unify())
}

/// The verified user of a call to the `hookline-ui` endpoint, and the state.
fn user(state: AppState) -> impl Filter<Extract = (PageUser, AppState), Error = Rejection> + Clone {
    forge(state.clone(), protocol::UI)
        .and(warp::header::optional::<String>(USER_TOKEN))
        .and(with_state(state))
        .and_then(|call, user_token, state: AppState| async move {
            match ForgeUser::resolve(&state, call, user_token).await {
                Ok(user) => Ok((PageUser::Forge(user), state)),
                Err(error) => Err(warp::reject::custom(Refused(error))),
            }
        })
        .untuple_one()
}

/// The query string, empty when there is none.
fn raw_query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// `GET /forge/ui/site`: what the rules form offers (the Connect page has it rendered in).
fn site(user: &PageUser, state: &AppState) -> Response {
    let product = user.tenant().product_type;
    let events: Vec<&str> = state.settings.app.events(product).collect();
    let (actions, conditions) = super::pages::choices(product);
    json(
        StatusCode::OK,
        &json!({
            "product": product.as_str(),
            "events": events,
            "actions": actions,
            "conditions": conditions,
        }),
    )
}

/// A body that is one JSON string holding JSON (a page that passed `JSON.stringify(…)` as the
/// `body`, which Forge would encode once more) is read as the JSON it holds.
fn unwrap_json_string(body: Bytes) -> Bytes {
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::String(inner)) if serde_json::from_str::<Value>(&inner).is_ok() => {
            Bytes::from(inner)
        }
        _ => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_string_holding_json_is_read_as_that_json() {
        let twice = Bytes::from_static(br#""{\"enabled\":true}""#);
        assert_eq!(
            unwrap_json_string(twice),
            Bytes::from_static(br#"{"enabled":true}"#)
        );
        for kept in [&br#"{"enabled":true}"#[..], br#""plain text""#, b"not json"] {
            let body = Bytes::copy_from_slice(kept);
            assert_eq!(unwrap_json_string(body.clone()), body);
        }
    }

    #[tokio::test]
    async fn the_prefix_is_taken_once_or_twice() {
        let route = prefix().and(warp::path!("rules")).map(|| "ok");
        for path in ["/forge/ui/rules", "/forge/ui/forge/ui/rules"] {
            assert!(
                warp::test::request().path(path).matches(&route).await,
                "{path}"
            );
        }
        for path in ["/forge/rules", "/forge/ui/forge/rules", "/ui/rules"] {
            assert!(
                !warp::test::request().path(path).matches(&route).await,
                "{path}"
            );
        }
    }
}
