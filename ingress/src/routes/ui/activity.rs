//! `GET /api/activity?issueKey=KAN-1` (or `?pageId=123`): what hookline did about one issue
//! or page of the caller's site, newest first, from the event ledger; without either, the
//! site's latest activity, whatever it was about (events that named nothing to act on
//! included, with their reason), and whether the site is paused (`"pause"`: see
//! [`super::pause`]).
use chrono::{DateTime, Utc};
use common::connect::QshRule;
use common::ledger::{LedgerEntry, NO_RULE};
use common::tenant::Tenant;
use serde::Serialize;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Reply};

use super::json;
use crate::auth::{request_target, RequestTarget};
use crate::caller::{self, Caller};
use crate::errors::ApiError;
use crate::routes::with_state;
use crate::state::AppState;

/// Rows shown at most.
pub const ACTIVITY_LIMIT: u64 = 50;
/// Longest accepted issue key or page id.
const MAX_SUBJECT_LEN: usize = 255;

/// The issue or page a panel is about (`issueKey` or `pageId` in the query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A Jira issue key.
    Issue(String),
    /// A Confluence page id.
    Page(String),
}

impl Subject {
    /// Reads at most one of `issueKey` and `pageId` from a raw query (none: the whole site);
    /// 400 for two, or for an empty or unusable one.
    pub fn from_query(query: &str) -> Result<Option<Self>, ApiError> {
        let mut found = Vec::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "issueKey" => found.push(Self::Issue(value.into_owned())),
                "pageId" => found.push(Self::Page(value.into_owned())),
                _ => {}
            }
        }
        match found.as_slice() {
            [] => Ok(None),
            [subject] if subject.is_valid() => Ok(Some(subject.clone())),
            _ => Err(ApiError::bad_request(
                "invalid_subject",
                "name one issue (issueKey) or one page (pageId), or neither for the whole site",
            )),
        }
    }

    fn is_valid(&self) -> bool {
        let value = self.value();
        !value.is_empty() && value.len() <= MAX_SUBJECT_LEN && !value.chars().any(char::is_control)
    }

    /// The query parameter naming it.
    pub fn param(&self) -> &'static str {
        match self {
            Self::Issue(_) => "issueKey",
            Self::Page(_) => "pageId",
        }
    }

    /// The issue key or page id (the ledger's `subject`).
    pub fn value(&self) -> &str {
        match self {
            Self::Issue(value) | Self::Page(value) => value,
        }
    }

    /// For people: `issue KAN-1`, `page 123`.
    pub fn label(&self) -> String {
        match self {
            Self::Issue(key) => format!("issue {key}"),
            Self::Page(id) => format!("page {id}"),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryView<'a> {
    /// 0 when no rule matched.
    rule_id: i64,
    /// The issue key, page id or blog post id (site-wide lists show it).
    subject: Option<&'a str>,
    /// The rule's name, if it still exists.
    rule_name: Option<&'a str>,
    event: &'a str,
    status: &'static str,
    attempts: i32,
    error: Option<&'a str>,
    result_id: Option<&'a str>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub fn route(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("api" / "activity")
        .and(warp::get())
        .and(caller::connect(state.clone(), QshRule::RequestOrContext))
        .and(request_target())
        .and(with_state(state))
        .then(
            |caller: Caller, request: RequestTarget, state: AppState| async move {
                answer(&state, &caller.tenant, request.query()).await
            },
        )
        .boxed()
}

/// 200 with the activity `query` asks for (see [`Subject::from_query`]), or the error.
pub(crate) async fn answer(state: &AppState, tenant: &Tenant, query: &str) -> Response {
    let activity = match Subject::from_query(query) {
        Ok(subject) => activity(state, tenant, subject.as_ref()).await,
        Err(error) => Err(error),
    };
    activity
        .map(|body| json(StatusCode::OK, &body))
        .unwrap_or_else(Reply::into_response)
}

/// The tenant's latest activity about `subject` (the whole site without one), newest first.
#[tracing::instrument(name = "activity", skip_all)]
pub(crate) async fn activity(
    state: &AppState,
    tenant: &Tenant,
    subject: Option<&Subject>,
) -> Result<serde_json::Value, ApiError> {
    let client_key = &tenant.client_key;
    let entries = state
        .stores
        .ledger
        .activity(client_key, subject.map(Subject::value), ACTIVITY_LIMIT)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "the ledger failed");
            ApiError::unavailable(
                "activity_unavailable",
                "the activity cannot be read; retry later",
            )
        })?;
    // Names are a nicety: without the rules, rows still show.
    let rules = state.stores.rules.list(client_key).await.ok();
    let name_of = |id: i64| {
        let rules = rules.as_deref()?;
        rules
            .iter()
            .find(|rule| rule.id == id && id != NO_RULE)
            .map(|rule| rule.spec.name.as_str())
    };
    let views: Vec<EntryView<'_>> = entries
        .iter()
        .map(|entry: &LedgerEntry| EntryView {
            rule_id: entry.rule_id,
            subject: entry.subject.as_deref(),
            rule_name: name_of(entry.rule_id),
            event: &entry.event,
            status: entry.status.as_str(),
            attempts: entry.attempts,
            error: entry.error.as_deref(),
            result_id: entry.result_id.as_deref(),
            created_at: entry.created_at,
            updated_at: entry.updated_at,
        })
        .collect();
    let mut body = serde_json::json!({ "entries": views });
    match subject {
        Some(subject) => body[subject.param()] = subject.value().into(),
        None => {
            let pause = super::pause::status(state, tenant).await?;
            body["pause"] = serde_json::to_value(pause).map_err(|error| {
                ApiError::internal("the pause status could not be encoded", &error)
            })?;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_subject_is_read_from_the_query() {
        assert_eq!(
            Subject::from_query("issueKey=KAN-1&xdm_e=x").expect("one"),
            Some(Subject::Issue("KAN-1".into()))
        );
        assert_eq!(
            Subject::from_query("pageId=123").expect("one"),
            Some(Subject::Page("123".into()))
        );
        assert_eq!(Subject::from_query("xdm_e=x").expect("none"), None);
        assert_eq!(Subject::from_query("").expect("none"), None);
        for bad in [
            "issueKey=",
            "issueKey=A&pageId=1",
            "issueKey=A&issueKey=B",
            "pageId=%0A",
        ] {
            assert!(Subject::from_query(bad).is_err(), "{bad}");
        }
    }
}
