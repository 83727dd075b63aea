//! `GET /atlassian-connect.json`: the app descriptor, generated from the settings.
use common::config::AppSettings;
use serde_json::{json, Value};
use warp::{Filter, Rejection, Reply};

use crate::state::AppState;

pub fn route(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("atlassian-connect.json")
        .and(warp::get())
        .map(move || warp::reply::json(state.descriptor.as_ref()))
}

/// The descriptor for `app`: identity, lifecycle, API migrations, scopes and one webhook
/// module per configured event, each at `/webhooks/{product}/{event}`.
pub fn render_descriptor(app: &AppSettings) -> Value {
    // One descriptor serves both products; each product ignores the events it never sends.
    let webhooks: Vec<Value> = app
        .webhooks
        .iter()
        .filter_map(|webhook| webhook.split_once(':'))
        .map(|(product, event)| json!({ "event": event, "url": format!("/webhooks/{product}/{event}") }))
        .collect();
    json!({
        "key": app.key,
        "name": app.name,
        "description": app.description,
        "vendor": { "name": app.vendor_name, "url": app.vendor_url },
        "baseUrl": app.base_url.trim_end_matches('/'),
        "authentication": { "type": "jwt" },
        "lifecycle": {
            "installed": "/installed",
            "uninstalled": "/uninstalled",
            "enabled": "/enabled",
            "disabled": "/disabled"
        },
        "apiMigrations": { "signed-install": app.signed_install, "context-qsh": true },
        "scopes": app.scopes,
        "modules": { "webhooks": webhooks },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_descriptor_has_every_required_field() {
        let descriptor = render_descriptor(&AppSettings::default());
        assert_eq!(descriptor["authentication"]["type"], "jwt");
        assert_eq!(descriptor["apiMigrations"]["signed-install"], true);
        assert_eq!(descriptor["apiMigrations"]["context-qsh"], true);
        assert_eq!(descriptor["scopes"], json!(["READ", "WRITE"]));
        assert_eq!(descriptor["lifecycle"]["installed"], "/installed");
        let webhooks = descriptor["modules"]["webhooks"]
            .as_array()
            .expect("webhooks");
        assert!(webhooks.contains(
            &json!({"event": "jira:issue_created", "url": "/webhooks/jira/jira:issue_created"})
        ));
        assert!(webhooks.contains(
            &json!({"event": "page_created", "url": "/webhooks/confluence/page_created"})
        ));
    }

    #[test]
    fn legacy_mode_turns_signed_install_off() {
        let app = AppSettings {
            signed_install: false,
            ..AppSettings::default()
        };
        assert_eq!(
            render_descriptor(&app)["apiMigrations"]["signed-install"],
            false
        );
    }
}
