//! `GET /healthz` (the process is up) and `GET /readyz` (database and broker reachable).
use serde_json::json;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use super::with_state;
use crate::state::AppState;

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .map(|| warp::reply::json(&json!({ "status": "ok" })));
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_state(state))
        .then(ready);
    healthz.or(readyz)
}

async fn ready(state: AppState) -> impl Reply {
    let database = state.stores.db.ping().await.is_ok();
    let broker = state.publisher.is_ready();
    let status = if database && broker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "not_ready" },
        "database": if database { "up" } else { "down" },
        "broker": if broker { "up" } else { "down" },
    });
    warp::reply::with_status(warp::reply::json(&body), status)
}
