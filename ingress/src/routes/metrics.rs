//! `GET /metrics`: Prometheus text format.
use warp::{Filter, Rejection, Reply};

use crate::state::AppState;

pub fn route(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("metrics").and(warp::get()).map(move || {
        warp::reply::with_header(
            state.metrics.render(),
            "content-type",
            "text/plain; version=0.0.4; charset=utf-8",
        )
    })
}
