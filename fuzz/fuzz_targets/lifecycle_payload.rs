//! Arbitrary bytes as a lifecycle callback body (`installed`, `uninstalled`, ...), parsed as
//! the ingress does (`InstallPayload`), then its `baseUrl` through the default allow-list and
//! into the URL of a signed call, as the worker and the admin check build it.
//!
//! Invariants: a parsed clientKey is a valid `ClientKey`; the secret never shows in `Debug`;
//! an allowed `baseUrl` is https, without credentials, on an allowed host; and every call
//! built from it goes to that same scheme, host and port, at the call's path under the base
//! path, with the qsh of the relative request.
#![no_main]

use chrono::{DateTime, Utc};
use common::base_url::BaseUrlPolicy;
use common::connect::{CanonicalRequest, SharedSecret};
use common::tenant::{ClientKey, InstallPayload, ProductType, Tenant, TenantState};
use libfuzzer_sys::fuzz_target;

const ALLOWED: [&str; 3] = ["*.atlassian.net", "*.jira.com", "*.jira-dev.com"];
const CALL: &str = "/rest/api/3/issue/KAN-1/comment?expand=names";

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<InstallPayload>(data) else {
        return;
    };
    let key = payload.client_key.as_str();
    assert_eq!(ClientKey::parse(key).as_ref(), Ok(&payload.client_key));
    assert!(!key.is_empty() && key.len() <= 255 && !key.chars().any(char::is_control));
    assert_eq!(
        ProductType::parse(payload.product_type.as_str()),
        Ok(payload.product_type)
    );
    let debug = format!("{payload:?}");
    if let Some(secret) = &payload.shared_secret {
        assert_eq!(format!("{secret:?}"), "SharedSecret(<redacted>)");
        assert!(debug.contains("SharedSecret(<redacted>)"));
    }
    let policy = BaseUrlPolicy::new(&ALLOWED.map(String::from));
    if let Ok(checked) = policy.check(&payload.base_url) {
        assert_eq!(checked.scheme(), "https");
        assert!(checked.username().is_empty() && checked.password().is_none());
        let host = checked.host_str().expect("a host");
        let allowed = ALLOWED.iter().any(|p| {
            host.strip_suffix(&p[1..])
                .is_some_and(|sub| !sub.is_empty())
        });
        assert!(allowed, "host {host:?} of {:?}", payload.base_url);
        calls_stay_on(&checked, tenant(&payload));
    }
});

/// A call built for this tenant goes to the checked origin and base path, bound to the
/// relative request.
fn calls_stay_on(checked: &url::Url, tenant: Tenant) {
    let call = tenant
        .signed_call("GET", CALL, 1_700_000_000)
        .expect("signs with a non-empty secret");
    let url = url::Url::parse(&call.url)
        .unwrap_or_else(|e| panic!("call URL {:?} unparsable: {e}", call.url));
    assert_eq!(
        (url.scheme(), url.host_str(), url.port_or_known_default()),
        (
            checked.scheme(),
            checked.host_str(),
            checked.port_or_known_default()
        ),
        "{:?} leaves the checked origin of {:?}",
        call.url,
        tenant.base_url
    );
    assert!(url.username().is_empty() && url.password().is_none());
    let base_path = tenant.base_path();
    let (call_path, call_query) = CALL.split_once('?').unwrap_or((CALL, ""));
    assert_eq!(
        (url.path(), url.query(), url.fragment()),
        (
            format!("{base_path}{call_path}").as_str(),
            Some(call_query),
            None
        ),
        "{:?} is not the call under the base path {base_path:?} of {:?}",
        call.url,
        tenant.base_url
    );
    assert_eq!(
        CanonicalRequest::new("GET", &format!("{base_path}{CALL}"), &base_path),
        CanonicalRequest::new("GET", CALL, ""),
        "the qsh of a call under {base_path:?} is not the relative one"
    );
}

fn tenant(payload: &InstallPayload) -> Tenant {
    let epoch = DateTime::<Utc>::from_timestamp(0, 0).expect("epoch");
    Tenant {
        client_key: payload.client_key.clone(),
        app_key: payload.key.clone(),
        shared_secret: Some(SharedSecret::new("fuzz-secret")),
        base_url: payload.base_url.clone(),
        display_url: None,
        product_type: payload.product_type,
        description: None,
        oauth_client_id: None,
        installation_id: None,
        service_entitlement_number: None,
        server_version: None,
        plugins_version: None,
        state: TenantState::Enabled,
        installed_at: epoch,
        enabled_at: None,
        disabled_at: None,
        uninstalled_at: None,
        paused_at: None,
        updated_at: epoch,
        forge: None,
        calls_with: None,
    }
}
