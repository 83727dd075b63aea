//! `GET /pages/rules` (Jira admin page, Confluence configure page) and `GET /pages/activity`
//! (Jira issue panel, Confluence byline item): server-rendered, authorised by the page-load
//! JWT, which must be bound to this very request (`QshRule::Request`; a context token is not
//! a page load). The HTML embeds no token: the scripts ask `AP.context.getToken()`.
use common::connect::QshRule;
use common::tenant::{ProductType, Tenant};
use minijinja::context;
use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Filter;

use super::activity::Subject;
use super::templates::{self, Layout};
use super::view::RuleView;
use crate::auth::{request_target, RequestTarget};
use crate::caller::{self, Caller};
use crate::errors::ApiError;
use crate::routes::with_state;
use crate::state::AppState;

#[derive(Serialize)]
pub(super) struct Choice {
    value: &'static str,
    label: &'static str,
}

const fn choice(value: &'static str, label: &'static str) -> Choice {
    Choice { value, label }
}

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    // A page load's token is bound to this very request; a refusal is an error page.
    let page = |name: &'static str| {
        warp::path("pages")
            .and(warp::path(name))
            .and(warp::path::end())
            .and(warp::get())
            .and(caller::try_connect(state.clone(), QshRule::Request))
            .and(request_target())
            .and(with_state(state.clone()))
    };
    let rules = page("rules").then(|caller: Result<Caller, ApiError>, _, state| async move {
        let page = match caller {
            Ok(caller) => rules_page(&state, caller.tenant).await,
            Err(error) => Err(error),
        };
        respond(&state, page)
    });
    let activity = page("activity").then(
        |caller: Result<Caller, ApiError>, request: RequestTarget, state| async move {
            let page = caller.and_then(|caller| activity_page(&state, caller.tenant, &request));
            respond(&state, page)
        },
    );
    rules.or(activity).unify().boxed()
}

#[tracing::instrument(name = "rules_page", skip_all)]
async fn rules_page(state: &AppState, tenant: Tenant) -> Result<String, ApiError> {
    let product = tenant.product_type;
    let events: Vec<minijinja::Value> = state
        .settings
        .app
        .events(product)
        .map(|event| context! { value => event, label => event_label(event) })
        .collect();
    let (actions, conditions) = choices(product);
    // Fresh from the database: another replica may have changed them within the cache's TTL.
    state.stores.rules.invalidate(&tenant.client_key).await;
    let rules = state
        .stores
        .rules
        .list(&tenant.client_key)
        .await
        .map_err(|error| ApiError::internal("the rules could not be read", &error))?;
    let rules: Vec<RuleView<'_>> = rules.iter().map(RuleView::from).collect();
    let page = context! {
        product => product.as_str(),
        product_name => product_name(product),
        events => events,
        actions => actions,
        conditions => conditions,
        rules => rules,
    };
    render(state, "rules.html", "Rules", "rules.js", page)
}

fn activity_page(
    state: &AppState,
    tenant: Tenant,
    request: &RequestTarget,
) -> Result<String, ApiError> {
    let subject = Subject::from_query(request.query())?;
    let page = context! {
        product => tenant.product_type.as_str(),
        subject_param => subject.as_ref().map(Subject::param),
        subject => subject.as_ref().map(Subject::value),
        subject_label => subject.as_ref().map_or_else(|| "this site".to_owned(), Subject::label),
    };
    render(state, "activity.html", "Activity", "activity.js", page)
}

fn render(
    state: &AppState,
    template: &str,
    title: &str,
    script: &str,
    page: minijinja::Value,
) -> Result<String, ApiError> {
    let layout = Layout {
        title,
        all_js_url: &state.settings.app.all_js_url,
        scripts: &["page.js", "connect.js", script],
    };
    templates::render(template, page, &layout)
        .map_err(|error| ApiError::internal("the page could not be rendered", &error))
}

/// The page, or an error page with the error's status (all.js still loads, so the product's
/// frame finishes loading and shows the message).
fn respond(state: &AppState, page: Result<String, ApiError>) -> Response {
    let (status, html) = match page {
        Ok(html) => (StatusCode::OK, html),
        Err(error) => {
            let page = context! { code => error.code, message => error.message };
            let layout = Layout {
                title: "hookline",
                all_js_url: &state.settings.app.all_js_url,
                scripts: &[],
            };
            let html = templates::render("error.html", page, &layout)
                .unwrap_or_else(|_| "hookline could not show this page.".to_owned());
            (error.status, html)
        }
    };
    let mut response = Response::new(html.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// `jira:issue_created` → `Issue created`.
fn event_label(event: &str) -> String {
    let name = event.rsplit(':').next().unwrap_or(event).replace('_', " ");
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn product_name(product: ProductType) -> &'static str {
    match product {
        ProductType::Jira => "Jira",
        ProductType::Confluence => "Confluence",
    }
}

/// The action and condition types a tenant of `product` can use (what `RuleSpec::validate`
/// accepts for it).
/// The actions and conditions a rule of `product` may have (what `RuleSpec::validate`
/// accepts), with their labels: the Connect rules page renders them, the Custom UI page gets
/// them from `GET /forge/ui/site`.
pub(super) fn choices(product: ProductType) -> ([Choice; 3], Vec<Choice>) {
    match product {
        ProductType::Jira => (
            [
                choice("jira_comment", "Add a comment"),
                choice("jira_label", "Add a label"),
                choice("jira_property", "Set an issue property"),
            ],
            vec![
                choice("project_key", "Project is"),
                choice("changed", "Field changed"),
                choice("equals", "Value equals"),
                choice("contains", "Value contains"),
            ],
        ),
        ProductType::Confluence => (
            [
                choice("confluence_comment", "Add a footer comment"),
                choice("confluence_label", "Add a label"),
                choice("confluence_property", "Set a content property"),
            ],
            vec![
                choice("space_key", "Space is"),
                choice("equals", "Value equals"),
                choice("contains", "Value contains"),
            ],
        ),
    }
}
