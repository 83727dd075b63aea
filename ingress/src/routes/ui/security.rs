//! The headers of every UI answer: a Content-Security-Policy that lets only Atlassian frame
//! the pages and only `all.js` and our own files run, plus the usual hardening.
use common::config::AppSettings;
use warp::http::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use warp::reply::Response;

/// The policy for pages whose one foreign script is `all_js_url`, framed by `frame_ancestors`.
pub fn content_security_policy(all_js_url: &str, frame_ancestors: &[String]) -> String {
    let script_origin = url::Url::parse(all_js_url)
        .ok()
        .map(|url| url.origin())
        .filter(url::Origin::is_tuple)
        .map(|origin| format!("{} ", origin.ascii_serialization()))
        .unwrap_or_default();
    let ancestors = if frame_ancestors.is_empty() {
        "'none'".to_owned()
    } else {
        frame_ancestors.join(" ")
    };
    format!(
        "default-src 'none'; script-src {script_origin}'self'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors {ancestors}; \
         base-uri 'none'; form-action 'self'"
    )
}

/// The headers, computed once from the settings.
#[derive(Debug)]
pub struct SecurityHeaders {
    csp: HeaderValue,
}

impl SecurityHeaders {
    /// The headers for `app`'s `all_js_url` and `frame_ancestors`.
    pub fn new(app: &AppSettings) -> Self {
        let policy = content_security_policy(&app.all_js_url, &app.frame_ancestors);
        // Settings validation refuses sources that could break the header; if one slipped
        // through, the strictest policy is the safe fallback.
        let csp = HeaderValue::from_str(&policy).unwrap_or_else(|_| {
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")
        });
        Self { csp }
    }

    /// Adds the headers to `response` (an asset keeps its own `Cache-Control`).
    pub fn apply(&self, response: &mut Response) {
        let headers = response.headers_mut();
        headers.insert(CONTENT_SECURITY_POLICY, self.csp.clone());
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        // Page URLs carry the page token in their query: never send them anywhere.
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers
            .entry(CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_allows_the_atlassian_cdn_and_frames_only() {
        let policy = content_security_policy(
            &AppSettings::default().all_js_url,
            &AppSettings::default().frame_ancestors,
        );
        assert_eq!(
            policy,
            "default-src 'none'; script-src https://connect-cdn.atl-paas.net 'self'; \
             style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             frame-ancestors https://*.atlassian.net https://*.jira.com https://*.jira-dev.com; \
             base-uri 'none'; form-action 'self'"
        );
    }

    #[test]
    fn a_local_all_js_keeps_its_port_and_no_ancestors_means_none() {
        let policy = content_security_policy("http://127.0.0.1:4000/stub/all.js", &[]);
        assert!(
            policy.contains("script-src http://127.0.0.1:4000 'self';"),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none';"), "{policy}");
    }
}
