//! The app descriptors, generated from the settings: one per product, since a Connect
//! descriptor is installed into one product and registers every one of its `webhooks` entries
//! whose event that product knows (one descriptor for both would have Confluence deliver
//! `comment_created` twice, once to the Jira route). [`lifecycle`], [`webhook_modules`] and
//! [`pages`] (which [`product_modules`] joins) are also where the Forge manifest's
//! `connectModules` come from (`hookline forge manifest --connect`).
use common::config::AppSettings;
use common::tenant::ProductType;
use serde_json::{json, Value};

/// The descriptor `product` installs: its own key and name, lifecycle URLs that only accept
/// that product (`/{product}/installed`, ...), API migrations, scopes and its modules.
pub fn render_descriptor(app: &AppSettings, product: ProductType) -> Value {
    json!({
        "key": app.key_for(product),
        "name": app.name_for(product),
        "description": app.description,
        "vendor": { "name": app.vendor_name, "url": app.vendor_url },
        "baseUrl": app.base_url.trim_end_matches('/'),
        "authentication": { "type": "jwt" },
        "lifecycle": lifecycle(product),
        "apiMigrations": { "signed-install": app.signed_install, "context-qsh": true },
        "scopes": app.scopes,
        "modules": product_modules(app, product),
    })
}

/// The lifecycle URLs of `product`'s descriptor: `/{product}/installed`, ... (they refuse a
/// body of another product).
pub fn lifecycle(product: ProductType) -> Value {
    let url = |event: &str| format!("/{}/{event}", product.as_str());
    json!({
        "installed": url("installed"),
        "uninstalled": url("uninstalled"),
        "enabled": url("enabled"),
        "disabled": url("disabled"),
    })
}

/// `product`'s modules: its webhooks ([`webhook_modules`]) and the pages shown inside it.
pub fn product_modules(app: &AppSettings, product: ProductType) -> Value {
    let mut modules = pages(product);
    modules["webhooks"] = Value::Array(webhook_modules(app, product));
    modules
}

/// One webhook module per subscribed event of `product`, at `/webhooks/{product}/{event}`.
pub fn webhook_modules(app: &AppSettings, product: ProductType) -> Vec<Value> {
    app.events(product)
        .map(|event| {
            json!({ "event": event, "url": format!("/webhooks/{}/{event}", product.as_str()) })
        })
        .collect()
}

/// The rules page (Jira admin page, Confluence configure page), the site's activity (an admin
/// page in both) and the activity of one issue (panel) or page or blog post (byline item):
/// module type to a list of modules, or to one module (`configurePage`).
pub fn pages(product: ProductType) -> Value {
    let activity_admin = json!({
        "key": "hookline-activity",
        "name": { "value": "hookline activity" },
        "url": "/pages/activity",
    });
    match product {
        ProductType::Jira => json!({
            "adminPages": [{
                "key": "hookline-rules",
                "name": { "value": "hookline rules" },
                "url": "/pages/rules",
            }, activity_admin],
            "webPanels": [{
                "key": "hookline-activity-panel",
                "name": { "value": "hookline activity" },
                "url": "/pages/activity?issueKey={issue.key}",
                "location": "atl.jira.view.issue.right.context",
                "weight": 200,
            }],
        }),
        ProductType::Confluence => json!({
            "configurePage": {
                "key": "hookline-rules-configure",
                "name": { "value": "hookline rules" },
                "url": "/pages/rules",
            },
            "adminPages": [activity_admin],
            "contentBylineItems": [{
                "key": "hookline-activity-byline",
                "name": { "value": "hookline activity" },
                "tooltip": { "value": "What hookline's rules did on this page" },
                "url": "/pages/activity?pageId={content.id}",
                "target": { "type": "inlinedialog" },
            }],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jira_and_confluence() -> AppSettings {
        AppSettings::default()
    }

    #[test]
    fn each_products_descriptor_has_every_required_field() {
        for product in [ProductType::Jira, ProductType::Confluence] {
            let descriptor = render_descriptor(&jira_and_confluence(), product);
            assert_eq!(descriptor["authentication"]["type"], "jwt");
            assert_eq!(descriptor["apiMigrations"]["signed-install"], true);
            assert_eq!(descriptor["apiMigrations"]["context-qsh"], true);
            assert_eq!(descriptor["scopes"], json!(["READ", "WRITE"]));
            let installed = format!("/{}/installed", product.as_str());
            assert_eq!(descriptor["lifecycle"]["installed"], installed);
        }
    }

    #[test]
    fn each_descriptor_has_only_its_own_products_webhooks_and_modules() {
        let jira = render_descriptor(&jira_and_confluence(), ProductType::Jira);
        let confluence = render_descriptor(&jira_and_confluence(), ProductType::Confluence);
        let urls = |descriptor: &Value| -> Vec<String> {
            descriptor["modules"]["webhooks"]
                .as_array()
                .expect("webhooks")
                .iter()
                .map(|w| w["url"].as_str().expect("a url").to_owned())
                .collect()
        };
        assert!(urls(&jira).contains(&"/webhooks/jira/jira:issue_created".to_owned()));
        assert!(urls(&jira).iter().all(|u| u.starts_with("/webhooks/jira/")));
        assert!(urls(&confluence).contains(&"/webhooks/confluence/comment_created".to_owned()));
        assert!(urls(&confluence)
            .iter()
            .all(|u| u.starts_with("/webhooks/confluence/")));
        assert!(jira["modules"].get("contentBylineItems").is_none());
        assert!(jira["modules"].get("configurePage").is_none());
        assert!(confluence["modules"].get("webPanels").is_none());
        assert_eq!(
            jira["modules"]["webPanels"][0]["location"],
            "atl.jira.view.issue.right.context"
        );
        assert_eq!(
            confluence["modules"]["contentBylineItems"][0]["url"],
            "/pages/activity?pageId={content.id}"
        );
    }

    #[test]
    fn module_keys_are_dashed_and_named() {
        for product in [ProductType::Jira, ProductType::Confluence] {
            let modules = product_modules(&jira_and_confluence(), product);
            for (kind, entries) in modules.as_object().expect("modules") {
                let entries = match entries {
                    Value::Array(entries) => entries.clone(),
                    single => vec![single.clone()],
                };
                for module in entries.iter().filter(|_| kind != "webhooks") {
                    let key = module["key"].as_str().expect("a key");
                    assert!(
                        key.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                        "{key}"
                    );
                    assert!(module["name"]["value"].is_string(), "{module}");
                }
            }
        }
    }

    #[test]
    fn keys_and_names_are_set_per_product() {
        let mut app = jira_and_confluence();
        app.jira.key = Some("com.example.hookline.jira".into());
        app.confluence.name = Some("hookline for Confluence".into());
        let jira = render_descriptor(&app, ProductType::Jira);
        let confluence = render_descriptor(&app, ProductType::Confluence);
        assert_eq!(jira["key"], "com.example.hookline.jira");
        assert_eq!(jira["name"], app.name);
        assert_eq!(confluence["key"], app.key);
        assert_eq!(confluence["name"], "hookline for Confluence");
    }

    #[test]
    fn legacy_mode_turns_signed_install_off() {
        let app = AppSettings {
            signed_install: false,
            ..AppSettings::default()
        };
        let descriptor = render_descriptor(&app, ProductType::Jira);
        assert_eq!(descriptor["apiMigrations"]["signed-install"], false);
    }
}
