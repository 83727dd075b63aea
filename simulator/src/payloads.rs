//! Webhook payloads shaped like the real captures in `fixtures/payloads/` (docs/protocol.md §4)
//! and, where no capture is at hand, like Atlassian's documented payloads
//! (`fixtures/payloads/documented/`): each builder starts from one and substitutes the fields a
//! test cares about, leaving everything else exactly as Jira or Confluence sends it.
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

const JIRA_ISSUE_CREATED: &str = "jira_issue_created__sirajju_skill-sync.json";
const JIRA_ISSUE_UPDATED: &str = "jira_issue_updated__sirajju_skill-sync.json";
const JIRA_COMMENT_CREATED: &str = "jira_comment_created__laravel_BotController.json";
const CONFLUENCE_PAGE_CREATED: &str = "confluence_page_created__wyona_katie.json";
const CONFLUENCE_PAGE_UPDATED: &str = "confluence_page_updated__wyona_katie.json";
const CONFLUENCE_COMMENT_CREATED: &str = "documented/confluence_comment_created.json";
const CONFLUENCE_COMMENT_ON_BLOG: &str = "documented/confluence_comment_created_on_blogpost.json";
const CONFLUENCE_BLOG_CREATED: &str = "documented/confluence_blog_created.json";
const JIRA_ISSUE_DELETED: &str = "documented/jira_issue_deleted.json";
const JIRA_COMMENT_UPDATED: &str = "documented/jira_comment_updated.json";

/// Every captured payload: `(file name, product, event)`. The Jira event is the payload's
/// `webhookEvent`, the Confluence one its `eventType`.
pub const FIXTURES: &[(&str, &str, &str)] = &[
    (JIRA_ISSUE_CREATED, "jira", "jira:issue_created"),
    (JIRA_ISSUE_UPDATED, "jira", "jira:issue_updated"),
    (JIRA_COMMENT_CREATED, "jira", "comment_created"),
    (CONFLUENCE_PAGE_CREATED, "confluence", "page_created"),
    (CONFLUENCE_PAGE_UPDATED, "confluence", "page_updated"),
];

/// Every payload written in a documented shape (`fixtures/payloads/documented/`), for events
/// no capture is at hand for: `(file name, product, event)`.
pub const DOCUMENTED: &[(&str, &str, &str)] = &[
    (JIRA_ISSUE_DELETED, "jira", "jira:issue_deleted"),
    (JIRA_COMMENT_UPDATED, "jira", "comment_updated"),
    (CONFLUENCE_COMMENT_CREATED, "confluence", "comment_created"),
    (CONFLUENCE_COMMENT_ON_BLOG, "confluence", "comment_created"),
    (CONFLUENCE_BLOG_CREATED, "confluence", "blog_created"),
];

/// The text of each payload, embedded at build time.
const TEXTS: &[(&str, &str)] = &[
    (
        JIRA_ISSUE_CREATED,
        include_str!("../../fixtures/payloads/jira_issue_created__sirajju_skill-sync.json"),
    ),
    (
        JIRA_ISSUE_UPDATED,
        include_str!("../../fixtures/payloads/jira_issue_updated__sirajju_skill-sync.json"),
    ),
    (
        JIRA_COMMENT_CREATED,
        include_str!("../../fixtures/payloads/jira_comment_created__laravel_BotController.json"),
    ),
    (
        CONFLUENCE_PAGE_CREATED,
        include_str!("../../fixtures/payloads/confluence_page_created__wyona_katie.json"),
    ),
    (
        CONFLUENCE_PAGE_UPDATED,
        include_str!("../../fixtures/payloads/confluence_page_updated__wyona_katie.json"),
    ),
    (
        JIRA_ISSUE_DELETED,
        include_str!("../../fixtures/payloads/documented/jira_issue_deleted.json"),
    ),
    (
        JIRA_COMMENT_UPDATED,
        include_str!("../../fixtures/payloads/documented/jira_comment_updated.json"),
    ),
    (
        CONFLUENCE_COMMENT_CREATED,
        include_str!("../../fixtures/payloads/documented/confluence_comment_created.json"),
    ),
    (
        CONFLUENCE_COMMENT_ON_BLOG,
        include_str!(
            "../../fixtures/payloads/documented/confluence_comment_created_on_blogpost.json"
        ),
    ),
    (
        CONFLUENCE_BLOG_CREATED,
        include_str!("../../fixtures/payloads/documented/confluence_blog_created.json"),
    ),
];

/// Ids of comments built by [`jira_comment_created`], distinct within a test run.
static NEXT_COMMENT_ID: AtomicU64 = AtomicU64::new(20_000);

/// The captured payload in the file `name` (with or without `.json`), exactly as captured.
pub fn fixture(name: &str) -> Option<Value> {
    let file = if name.ends_with(".json") {
        name.to_owned()
    } else {
        format!("{name}.json")
    };
    let (_, text) = TEXTS.iter().find(|(known, _)| *known == file)?;
    Some(serde_json::from_str(text).expect("the embedded fixtures are valid JSON"))
}

/// `jira:issue_created` for `issue_key` with `summary` in project `project_key`.
pub fn jira_issue_created(issue_key: &str, summary: &str, project_key: &str) -> Value {
    let mut payload = capture(JIRA_ISSUE_CREATED);
    set_issue(&mut payload, issue_key, project_key);
    payload["issue"]["fields"]["summary"] = json!(summary);
    payload
}

/// `jira:issue_updated` of `issue_key` whose changelog has one item: `changed_field` went
/// from `from` to `to` (`fromString`/`toString`). A text field of the same name in the issue
/// takes the new value, as in Jira's payloads.
pub fn jira_issue_updated(issue_key: &str, changed_field: &str, from: &str, to: &str) -> Value {
    let mut payload = capture(JIRA_ISSUE_UPDATED);
    set_issue(&mut payload, issue_key, project_of(issue_key));
    let field = &mut payload["issue"]["fields"][changed_field];
    if field.is_string() || field.is_null() {
        *field = json!(to);
    }
    payload["changelog"]["items"] = json!([{
        "field": changed_field,
        "fieldtype": "jira",
        "fieldId": changed_field,
        "from": null,
        "fromString": from,
        "to": null,
        "toString": to,
    }]);
    payload
}

/// `comment_created` on `issue_key` with a new comment whose body is `comment_body`.
pub fn jira_comment_created(issue_key: &str, comment_body: &str) -> Value {
    let mut payload = capture(JIRA_COMMENT_CREATED);
    set_issue(&mut payload, issue_key, project_of(issue_key));
    let issue_id = payload["issue"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let comment_id = NEXT_COMMENT_ID.fetch_add(1, Ordering::Relaxed).to_string();
    let comment = &mut payload["comment"];
    comment["id"] = json!(comment_id);
    comment["body"] = json!(comment_body);
    comment["self"] = json!(format!(
        "https://klienti.atlassian.net/rest/api/2/issue/{issue_id}/comment/{comment_id}"
    ));
    payload
}

/// `page_created` of page `page_id` titled `title` in space `space_key`.
pub fn confluence_page_created(page_id: u64, title: &str, space_key: &str) -> Value {
    page_payload(CONFLUENCE_PAGE_CREATED, page_id, title, space_key)
}

/// `page_updated` of page `page_id` titled `title` in space `space_key`.
pub fn confluence_page_updated(page_id: u64, title: &str, space_key: &str) -> Value {
    page_payload(CONFLUENCE_PAGE_UPDATED, page_id, title, space_key)
}

/// `blog_created` of blog post `blog_id` titled `title` in space `space_key`.
pub fn confluence_blog_created(blog_id: u64, title: &str, space_key: &str) -> Value {
    let mut payload = capture(CONFLUENCE_BLOG_CREATED);
    payload["timestamp"] = json!(now_millis());
    set_content(&mut payload["blog"], blog_id, title, space_key, "blog");
    payload
}

/// What a Confluence comment is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentedOn {
    /// A page.
    Page,
    /// A blog post.
    BlogPost,
}

/// `comment_created`: comment `comment_id` on the page or blog post `parent_id` titled
/// `title` in space `space_key` (the parent is `comment.parent`, as Confluence sends it).
pub fn confluence_comment_created(
    comment_id: u64,
    on: CommentedOn,
    parent_id: u64,
    title: &str,
    space_key: &str,
) -> Value {
    let (file, kind) = match on {
        CommentedOn::Page => (CONFLUENCE_COMMENT_CREATED, "pages"),
        CommentedOn::BlogPost => (CONFLUENCE_COMMENT_ON_BLOG, "blog"),
    };
    let mut payload = capture(file);
    payload["timestamp"] = json!(now_millis());
    let comment = &mut payload["comment"];
    comment["id"] = json!(comment_id);
    comment["idAsString"] = json!(comment_id.to_string());
    comment["spaceKey"] = json!(space_key);
    set_content(&mut comment["parent"], parent_id, title, space_key, kind);
    payload
}

/// Sets the id (a number and a string, as Confluence sends both), title, space and `self`.
fn set_content(content: &mut Value, id: u64, title: &str, space_key: &str, kind: &str) {
    content["id"] = json!(id);
    content["idAsString"] = json!(id.to_string());
    content["title"] = json!(title);
    content["spaceKey"] = json!(space_key);
    let slug: String = form_urlencoded::byte_serialize(title.as_bytes()).collect();
    content["self"] = json!(format!(
        "https://example.atlassian.net/wiki/spaces/{space_key}/{kind}/{id}/{slug}"
    ));
}

fn page_payload(file: &str, page_id: u64, title: &str, space_key: &str) -> Value {
    let mut payload = capture(file);
    payload["timestamp"] = json!(now_millis());
    let page = &mut payload["page"];
    // Confluence sends the id as a number and again as a string; keep both shapes.
    page["id"] = json!(page_id);
    page["idAsString"] = json!(page_id.to_string());
    page["title"] = json!(title);
    page["spaceKey"] = json!(space_key);
    let slug: String = form_urlencoded::byte_serialize(title.as_bytes()).collect();
    page["self"] = json!(format!(
        "https://wyona.atlassian.net/wiki/spaces/{space_key}/pages/{page_id}/{slug}"
    ));
    payload
}

fn capture(file: &str) -> Value {
    fixture(file).expect("every builder names an embedded capture")
}

/// Sets the issue key (and a numeric id derived from it), the project key and the timestamp.
fn set_issue(payload: &mut Value, issue_key: &str, project_key: &str) {
    payload["timestamp"] = json!(now_millis());
    let issue = &mut payload["issue"];
    issue["key"] = json!(issue_key);
    if let Some(number) = issue_key
        .rsplit_once('-')
        .and_then(|(_, n)| n.parse::<u64>().ok())
    {
        issue["id"] = json!((10_000 + number).to_string());
    }
    issue["fields"]["project"]["key"] = json!(project_key);
}

/// `KAN` of `KAN-22` (the whole key when it has no `-`).
fn project_of(issue_key: &str) -> &str {
    issue_key.rsplit_once('-').map_or(issue_key, |(p, _)| p)
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_fixture_exists_and_names_its_own_event() {
        assert_eq!(FIXTURES.len() + DOCUMENTED.len(), TEXTS.len());
        for (file, product, event) in FIXTURES.iter().chain(DOCUMENTED) {
            let payload = fixture(file).expect(file);
            let named = match *product {
                "jira" => &payload["webhookEvent"],
                _ => &payload["eventType"],
            };
            assert_eq!(named, event, "{file}");
        }
        assert!(fixture("jira_issue_created__sirajju_skill-sync").is_some());
        assert!(fixture("missing.json").is_none());
    }

    #[test]
    fn jira_builders_substitute_the_issue_and_keep_the_captured_shape() {
        let created = jira_issue_created("OPS-7", "Disk full", "OPS");
        assert_eq!(created["webhookEvent"], "jira:issue_created");
        assert_eq!(created["issue"]["key"], "OPS-7");
        assert_eq!(created["issue"]["id"], "10007");
        assert_eq!(created["issue"]["fields"]["summary"], "Disk full");
        assert_eq!(created["issue"]["fields"]["project"]["key"], "OPS");
        assert!(created["user"]["accountId"].is_string());

        let updated = jira_issue_updated("OPS-7", "summary", "Disk full", "Disk fuller");
        assert_eq!(updated["changelog"]["items"][0]["field"], "summary");
        assert_eq!(updated["changelog"]["items"][0]["toString"], "Disk fuller");
        assert_eq!(updated["issue"]["fields"]["summary"], "Disk fuller");
        assert_eq!(updated["issue"]["fields"]["project"]["key"], "OPS");

        let (a, b) = (
            jira_comment_created("OPS-7", "hi"),
            jira_comment_created("OPS-7", "hi"),
        );
        assert_eq!(a["comment"]["body"], "hi");
        assert_ne!(a["comment"]["id"], b["comment"]["id"]);
    }

    #[test]
    fn confluence_builders_keep_both_id_shapes() {
        let page = confluence_page_updated(42, "Release notes", "DOC");
        assert_eq!(page["eventType"], "page_updated");
        assert_eq!(page["page"]["id"], 42);
        assert_eq!(page["page"]["idAsString"], "42");
        assert_eq!(page["page"]["spaceKey"], "DOC");
        assert_eq!(
            confluence_page_created(1, "T", "S")["eventType"],
            "page_created"
        );
        let blog = confluence_blog_created(7, "News", "DOC");
        assert_eq!(
            (&blog["blog"]["id"], &blog["blog"]["idAsString"]),
            (&json!(7), &json!("7"))
        );
    }

    #[test]
    fn a_confluence_comment_names_its_page_or_blog_post_as_its_parent() {
        let on_page = confluence_comment_created(9, CommentedOn::Page, 42, "Runbook", "OPS");
        assert_eq!(on_page["eventType"], "comment_created");
        assert_eq!(on_page["comment"]["parent"]["id"], 42);
        assert_eq!(on_page["comment"]["parent"]["contentType"], "page");
        assert!(on_page["comment"].get("container").is_none());
        let on_blog = confluence_comment_created(9, CommentedOn::BlogPost, 43, "News", "OPS");
        assert_eq!(on_blog["comment"]["parent"]["contentType"], "blogpost");
        assert_eq!(on_blog["comment"]["parent"]["idAsString"], "43");
    }
}
