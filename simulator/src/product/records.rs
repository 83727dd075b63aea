//! What the simulator remembers of each tenant's traffic, for tests to assert on.
use std::time::Instant;

use serde_json::Value;

/// A comment created on a Jira issue or a Confluence page.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedComment {
    /// The tenant it was created for.
    pub client_key: String,
    /// The Jira issue key or the Confluence page id.
    pub target: String,
    /// The request body as sent.
    pub body: Value,
    /// The id the simulator assigned (unique within the tenant).
    pub id: String,
    /// The Jira comment `properties` if sent, else `Null`.
    pub properties: Value,
    /// When it was recorded.
    pub at: Instant,
}

/// A label added to a Jira issue or a Confluence page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedLabel {
    /// The tenant it was added for.
    pub client_key: String,
    /// The Jira issue key or the Confluence page id.
    pub target: String,
    /// The label's name.
    pub label: String,
}

/// An entity property (Jira issue property, Confluence content property), current value.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedProperty {
    /// The tenant it was stored for.
    pub client_key: String,
    /// The Jira issue key or the Confluence page id.
    pub target: String,
    /// The property key.
    pub key: String,
    /// Its latest value (a later write of the same key replaces it).
    pub value: Value,
}

/// One request that reached a tenant, answered or refused.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    /// The HTTP method, upper case.
    pub method: String,
    /// The path as received on the wire (with `/t/{site}` or `/ex/{product}/{cloudId}`,
    /// without the query).
    pub path: String,
    /// The status answered; `0` when the connection was dropped without an answer.
    pub status: u16,
    /// The JWT verdict: `Ok` or the code of the failed check (e.g. `jwt_qsh_mismatch`; for a
    /// Forge site `bearer_missing`, `bearer_unknown`, `bearer_revoked` or `bearer_expired`).
    pub jwt: Result<(), String>,
    /// When the request was received.
    pub at: Instant,
}
