//! Forge event payloads in the documented shapes (docs/forge.md §4; Atlassian's events
//! reference): the event itself, as a trigger hands it over, before [`ForgeSim::send_event`]
//! wraps it or adds `retryContext`.
//!
//! Jira events carry `timestamp` (epoch milliseconds, a string) and an `issue{id, key,
//! fields}`; Confluence events carry `eventCreatedDate` (ISO 8601, milliseconds, `Z`) and a
//! `content` object, whose `container` is the page or blog post of a comment.
//!
//! [`ForgeSim::send_event`]: super::ForgeSim::send_event
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

/// The accountId events name as their actor.
pub const ACTOR_ACCOUNT_ID: &str = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077";

fn epoch_ms() -> String {
    Utc::now().timestamp_millis().to_string()
}

/// Jira's own timestamp format, e.g. `2026-01-20T15:58:12.797+0000`.
fn jira_time() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

fn iso_ms() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn actor() -> Value {
    json!({ "accountId": ACTOR_ACCOUNT_ID, "accountType": "atlassian" })
}

/// A numeric id derived from `text`, stable across calls (issue and space ids).
fn numeric_id(text: &str, base: u64) -> u64 {
    let hash = text.bytes().fold(0_u64, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u64::from(byte))
    });
    base + hash % 100_000
}

/// The project key of an issue key (`KAN-1` → `KAN`).
fn project_of(issue_key: &str) -> &str {
    issue_key
        .split_once('-')
        .map_or(issue_key, |(project, _)| project)
}

fn issue(issue_key: &str, summary: &str, project_key: &str) -> Value {
    let created = jira_time();
    json!({
        "id": numeric_id(issue_key, 10_000).to_string(),
        "key": issue_key,
        "fields": {
            "summary": summary,
            "issuetype": { "id": "10001", "name": "Task", "subtask": false },
            "creator": actor(),
            "reporter": actor(),
            "assignee": null,
            "created": created,
            "updated": created,
            "status": { "id": "10000", "name": "To Do" },
            "project": {
                "id": numeric_id(project_key, 10_000).to_string(),
                "key": project_key,
                "name": format!("Project {project_key}"),
                "projectTypeKey": "software",
            },
        },
    })
}

fn jira_event(event_type: &str, issue: Value) -> Value {
    json!({
        "eventType": event_type,
        "selfGenerated": false,
        "atlassianId": ACTOR_ACCOUNT_ID,
        "timestamp": epoch_ms(),
        "issue": issue,
    })
}

/// `avi:jira:created:issue` of `issue_key` with `summary` in project `project_key`.
pub fn jira_issue_created(issue_key: &str, summary: &str, project_key: &str) -> Value {
    jira_event(
        "avi:jira:created:issue",
        issue(issue_key, summary, project_key),
    )
}

/// `avi:jira:updated:issue` of `issue_key` whose changelog `{id, items}` has one item:
/// `field` went from `from` to `to` (`fromString`/`toString`; a `summary` change also shows in
/// the issue).
pub fn jira_issue_updated(
    issue_key: &str,
    changelog_id: &str,
    field: &str,
    from: &str,
    to: &str,
) -> Value {
    let summary = if field == "summary" { to } else { "An issue" };
    let mut event = jira_event(
        "avi:jira:updated:issue",
        issue(issue_key, summary, project_of(issue_key)),
    );
    event["changelog"] = json!({
        "id": changelog_id,
        "items": [{
            "field": field,
            "fieldtype": "jira",
            "fieldId": field,
            "from": null,
            "fromString": from,
            "to": null,
            "toString": to,
        }],
    });
    event
}

/// `avi:jira:commented:issue` (sent when a comment is created or edited) on `issue_key`:
/// comment `comment_id` with `body` (ADF); `edited`: its `updated` is later than its
/// `created`.
pub fn jira_commented(issue_key: &str, comment_id: &str, body: &str, edited: bool) -> Value {
    let created = Utc::now() - chrono::Duration::minutes(if edited { 5 } else { 0 });
    let created = created.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string();
    let updated = if edited { jira_time() } else { created.clone() };
    let mut event = jira_event(
        "avi:jira:commented:issue",
        issue(issue_key, "An issue", project_of(issue_key)),
    );
    event["comment"] = json!({
        "id": comment_id,
        "author": actor(),
        "updateAuthor": actor(),
        "body": {
            "type": "doc",
            "version": 1,
            "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": body }] }],
        },
        "created": created,
        "updated": updated,
        "jsdPublic": true,
    });
    event
}

/// `avi:jira:deleted:issue` of `issue_key`.
pub fn jira_issue_deleted(issue_key: &str) -> Value {
    jira_event(
        "avi:jira:deleted:issue",
        issue(issue_key, "An issue", project_of(issue_key)),
    )
}

fn space(space_key: &str) -> Value {
    json!({
        "id": numeric_id(space_key, 800_000_000),
        "key": space_key,
        "name": format!("Space {space_key}"),
        "type": "global",
        "status": "current",
    })
}

fn content(id: &str, kind: &str, title: &str, space_key: &str, version: u64) -> Value {
    let when = iso_ms();
    json!({
        "id": id,
        "type": kind,
        "status": "current",
        "title": title,
        "space": space(space_key),
        "history": { "latest": true, "createdBy": actor(), "createdDate": when },
        "version": { "by": actor(), "when": when, "number": version },
    })
}

fn confluence_event(event_type: &str, content: Value) -> Value {
    json!({
        "eventType": event_type,
        "atlassianId": ACTOR_ACCOUNT_ID,
        "eventCreatedDate": iso_ms(),
        "suppressNotifications": false,
        "selfGenerated": false,
        "content": content,
    })
}

/// `avi:confluence:created:page` of page `page_id` titled `title` in space `space_key`.
pub fn confluence_page_created(page_id: &str, title: &str, space_key: &str) -> Value {
    let page = content(page_id, "page", title, space_key, 1);
    confluence_event("avi:confluence:created:page", page)
}

/// `avi:confluence:updated:page` of page `page_id`, now at `version`.
pub fn confluence_page_updated(page_id: &str, title: &str, space_key: &str, version: u64) -> Value {
    let page = content(page_id, "page", title, space_key, version);
    let mut event = confluence_event("avi:confluence:updated:page", page);
    event["updateTrigger"] = json!("edit_page");
    event
}

/// `avi:confluence:created:blogpost` of blog post `id`.
pub fn confluence_blogpost_created(id: &str, title: &str, space_key: &str) -> Value {
    let blog = content(id, "blogpost", title, space_key, 1);
    confluence_event("avi:confluence:created:blogpost", blog)
}

/// `avi:confluence:created:comment`: footer comment `comment_id` on the page or blog post
/// (`container_type` `"page"` or `"blogpost"`) `container_id` titled `container_title`.
pub fn confluence_comment_created(
    comment_id: &str,
    container_id: &str,
    container_type: &str,
    container_title: &str,
    space_key: &str,
) -> Value {
    let title = format!("Re: {container_title}");
    let mut comment = content(comment_id, "comment", &title, space_key, 1);
    comment["ancestors"] = json!([]);
    comment["container"] = content(container_id, container_type, container_title, space_key, 1);
    comment["extensions"] = json!({ "location": "footer" });
    confluence_event("avi:confluence:created:comment", comment)
}

/// `avi:forge:installed:app` as documented: `id` and `app.id` are bare UUIDs.
pub fn forge_installed(
    installation_uuid: &str,
    app_uuid: &str,
    version: &str,
    environment_uuid: &str,
    installer_account_id: &str,
) -> Value {
    json!({
        "eventType": "avi:forge:installed:app",
        "id": installation_uuid,
        "installerAccountId": installer_account_id,
        "app": { "id": app_uuid, "version": version },
        "environment": { "id": environment_uuid },
    })
}

/// `avi:forge:upgraded:app` (major upgrades only): like `installed`, with the upgrader.
pub fn forge_upgraded(
    installation_uuid: &str,
    app_uuid: &str,
    version: &str,
    environment_uuid: &str,
    upgrader_account_id: &str,
) -> Value {
    json!({
        "eventType": "avi:forge:upgraded:app",
        "id": installation_uuid,
        "upgraderAccountId": upgrader_account_id,
        "app": { "id": app_uuid, "version": version },
        "environment": { "id": environment_uuid },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_events_carry_an_epoch_ms_string_and_the_issue() {
        let event = jira_issue_updated("KAN-7", "10042", "status", "To Do", "Done");
        assert_eq!(event["eventType"], "avi:jira:updated:issue");
        let timestamp = event["timestamp"].as_str().unwrap();
        assert!(timestamp.len() >= 13 && timestamp.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(event["issue"]["key"], "KAN-7");
        assert_eq!(event["issue"]["fields"]["project"]["key"], "KAN");
        assert_eq!(event["changelog"]["id"], "10042");
        assert_eq!(event["changelog"]["items"][0]["toString"], "Done");
        let edited = jira_commented("KAN-7", "100", "hi", true);
        assert_ne!(edited["comment"]["created"], edited["comment"]["updated"]);
        let new = jira_commented("KAN-7", "101", "hi", false);
        assert_eq!(new["comment"]["created"], new["comment"]["updated"]);
    }

    #[test]
    fn confluence_comments_name_their_container() {
        let event = confluence_comment_created("900", "800", "blogpost", "News", "SP");
        let created = event["eventCreatedDate"].as_str().unwrap();
        assert!(created.ends_with('Z') && created.contains('.'), "{created}");
        assert_eq!(event["content"]["type"], "comment");
        assert_eq!(event["content"]["container"]["id"], "800");
        assert_eq!(event["content"]["container"]["type"], "blogpost");
        assert_eq!(event["content"]["space"]["key"], "SP");
        let page = confluence_page_updated("800", "Title", "SP", 3);
        assert_eq!(page["content"]["version"]["number"], 3);
        assert!(page.get("timestamp").is_none());
    }
}
