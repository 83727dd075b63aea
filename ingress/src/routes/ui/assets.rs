//! `GET /static/{file}`: the pages' own stylesheet and scripts, embedded in the binary.
//!
//! Pages link them as `../static/{file}?v={hash}` (relative, so a base path in front of the
//! app keeps working); a request naming the current hash may be cached for good.
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;

use warp::filters::BoxedFilter;
use warp::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::errors::ApiError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 5] = [
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../../static/app.css"),
    },
    Asset {
        name: "page.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../../static/page.js"),
    },
    Asset {
        name: "connect.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../../static/connect.js"),
    },
    Asset {
        name: "rules.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../../static/rules.js"),
    },
    Asset {
        name: "activity.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../../static/activity.js"),
    },
];

fn find(name: &str) -> Option<(&'static Asset, &'static str)> {
    static VERSIONS: OnceLock<Vec<String>> = OnceLock::new();
    let versions = VERSIONS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let mut hasher = DefaultHasher::new();
                asset.body.hash(&mut hasher);
                format!("{:012x}", hasher.finish() >> 16)
            })
            .collect()
    });
    let index = ASSETS.iter().position(|asset| asset.name == name)?;
    Some((&ASSETS[index], versions[index].as_str()))
}

/// The URL a page links `name` with, relative to `/pages/...`.
pub fn url(name: &str) -> String {
    match find(name) {
        Some((asset, version)) => format!("../static/{}?v={version}", asset.name),
        None => format!("../static/{name}"),
    }
}

pub fn route() -> BoxedFilter<(Response,)> {
    let version = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::path!("static" / String)
        .and(warp::get())
        .and(version)
        .map(|name: String, query: String| serve(&name, &query))
        .boxed()
}

fn serve(name: &str, query: &str) -> Response {
    let Some((asset, version)) = find(name) else {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file").into_response();
    };
    let current = url::form_urlencoded::parse(query.as_bytes())
        .any(|(key, value)| key == "v" && value == version);
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = Response::new(asset.body.into());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_versioned_url() {
        for asset in &ASSETS {
            let url = url(asset.name);
            assert!(
                url.starts_with(&format!("../static/{}?v=", asset.name)),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn assets_are_served_with_their_type_and_unknown_names_are_404() {
        let response = warp::test::request()
            .path("/static/app.css")
            .reply(&route())
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-cache");
        let missing = warp::test::request()
            .path("/static/..%2Fsecret")
            .reply(&route())
            .await;
        assert_eq!(missing.status(), 404);
    }
}
