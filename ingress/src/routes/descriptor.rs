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
        "modules": page_modules(webhooks),
    })
}

/// The webhooks plus the pages shown inside the products: the rules page (Jira admin page,
/// Confluence configure page) and the activity of an issue (panel) or page (byline item).
fn page_modules(webhooks: Vec<Value>) -> Value {
    json!({
        "webhooks": webhooks,
        "adminPages": [{
            "key": "hookline-rules",
            "name": { "value": "hookline rules" },
            "url": "/pages/rules",
        }],
        "configurePage": {
            "key": "hookline-rules-configure",
            "name": { "value": "hookline rules" },
            "url": "/pages/rules",
        },
        "webPanels": [{
            "key": "hookline-activity-panel",
            "name": { "value": "hookline activity" },
            "url": "/pages/activity?issueKey={issue.key}",
            "location": "atl.jira.view.issue.right.context",
            "weight": 200,
        }],
        "contentBylineItems": [{
            "key": "hookline-activity-byline",
            "name": { "value": "hookline activity" },
            "tooltip": { "value": "What hookline's rules did on this page" },
            "url": "/pages/activity?pageId={page.id}",
            "target": { "type": "inlinedialog" },
        }],
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
    fn the_pages_are_declared_for_both_products_with_dashed_keys() {
        let modules = &render_descriptor(&AppSettings::default())["modules"];
        assert_eq!(modules["adminPages"][0]["url"], "/pages/rules");
        assert_eq!(modules["configurePage"]["url"], "/pages/rules");
        assert_eq!(
            modules["webPanels"][0]["location"],
            "atl.jira.view.issue.right.context"
        );
        assert_eq!(
            modules["webPanels"][0]["url"],
            "/pages/activity?issueKey={issue.key}"
        );
        assert_eq!(
            modules["contentBylineItems"][0]["url"],
            "/pages/activity?pageId={page.id}"
        );
        let keys = [
            &modules["adminPages"][0],
            &modules["configurePage"],
            &modules["webPanels"][0],
            &modules["contentBylineItems"][0],
        ];
        for module in keys {
            let key = module["key"].as_str().expect("a key");
            assert!(
                key.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{key}"
            );
            assert!(module["name"]["value"].is_string(), "{module}");
        }
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
