//! What an event is about: a Jira issue, or a Confluence page or blog post. Rules act on it,
//! the ledger and the activity panels are keyed by its id.
use serde_json::Value;

use crate::tenant::ProductType;

/// The kind of thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// A Jira issue (its key, else its id).
    Issue,
    /// A Confluence page.
    Page,
    /// A Confluence blog post (acted on like a page, through its own REST paths).
    BlogPost,
}

/// The issue, page or blog post an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    /// What it is.
    pub kind: SubjectKind,
    /// The issue key (or id), page id or blog post id, as the payload gives it.
    pub id: String,
}

impl Subject {
    /// A subject of `kind` with `id`.
    pub fn new(kind: SubjectKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }
}

/// Where a Connect webhook names its subject, in order. A Confluence comment's page or blog
/// post is `comment.parent` (its `contentType` says which); `comment.container` is kept as a
/// fallback for payloads shaped like the REST content API.
const JIRA: &[&str] = &["/issue/key", "/issue/id"];
const CONFLUENCE_PAGE: &[&str] = &["/page/id", "/page/idAsString"];
const CONFLUENCE_BLOG: &[&str] = &["/blog/id", "/blog/idAsString"];
const COMMENT_PARENTS: &[&str] = &["/comment/parent", "/comment/container"];

/// The subject of a Connect webhook payload of `product`, if it names one.
pub fn subject_of(product: ProductType, payload: &Value) -> Option<Subject> {
    match product {
        ProductType::Jira => first_id(payload, JIRA).map(|id| Subject::new(SubjectKind::Issue, id)),
        ProductType::Confluence => confluence_subject(payload),
    }
}

fn confluence_subject(payload: &Value) -> Option<Subject> {
    if let Some(id) = first_id(payload, CONFLUENCE_PAGE) {
        return Some(Subject::new(SubjectKind::Page, id));
    }
    if let Some(id) = first_id(payload, CONFLUENCE_BLOG) {
        return Some(Subject::new(SubjectKind::BlogPost, id));
    }
    COMMENT_PARENTS.iter().find_map(|pointer| {
        let parent = payload.pointer(pointer)?;
        let id = first_id(parent, &["/id", "/idAsString"])?;
        Some(Subject::new(content_kind(parent)?, id))
    })
}

/// Page or blog post, from a content object's `contentType` (webhooks) or `type` (REST); a
/// content object that says neither is taken for a page, anything else is no subject.
pub fn content_kind(content: &Value) -> Option<SubjectKind> {
    let kind = content
        .get("contentType")
        .or_else(|| content.get("type"))
        .and_then(Value::as_str);
    match kind {
        None | Some("page") => Some(SubjectKind::Page),
        Some("blogpost") => Some(SubjectKind::BlogPost),
        Some(_) => None,
    }
}

/// The first of `pointers` that holds a non-empty string or a number, as text.
pub fn first_id(value: &Value, pointers: &[&str]) -> Option<String> {
    pointers
        .iter()
        .find_map(|pointer| match value.pointer(pointer)? {
            Value::String(text) if !text.is_empty() => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn confluence(payload: Value) -> Option<Subject> {
        subject_of(ProductType::Confluence, &payload)
    }

    #[test]
    fn jira_subjects_are_issue_keys_else_ids() {
        let subject = subject_of(
            ProductType::Jira,
            &json!({"issue": {"id": "10001", "key": "KAN-1"}, "comment": {"id": "7"}}),
        );
        assert_eq!(subject, Some(Subject::new(SubjectKind::Issue, "KAN-1")));
        let subject = subject_of(ProductType::Jira, &json!({"issue": {"id": 10001}}));
        assert_eq!(subject, Some(Subject::new(SubjectKind::Issue, "10001")));
        assert_eq!(subject_of(ProductType::Jira, &json!({})), None);
    }

    #[test]
    fn pages_and_blog_posts_are_found_by_number_or_string() {
        assert_eq!(
            confluence(json!({"page": {"id": 194347009, "idAsString": "194347009"}})),
            Some(Subject::new(SubjectKind::Page, "194347009"))
        );
        assert_eq!(
            confluence(json!({"blog": {"idAsString": "42", "contentType": "blogpost"}})),
            Some(Subject::new(SubjectKind::BlogPost, "42"))
        );
    }

    #[test]
    fn a_comments_subject_is_its_parent_page_or_blog_post() {
        let on_page = json!({"comment": {"id": 9, "parent": {"id": 123, "contentType": "page"}}});
        assert_eq!(
            confluence(on_page),
            Some(Subject::new(SubjectKind::Page, "123"))
        );
        let on_blog = json!({"comment": {"id": 9,
            "parent": {"idAsString": "77", "contentType": "blogpost"}}});
        assert_eq!(
            confluence(on_blog),
            Some(Subject::new(SubjectKind::BlogPost, "77"))
        );
        let rest_shaped = json!({"comment": {"container": {"id": "5", "type": "page"}}});
        assert_eq!(
            confluence(rest_shaped),
            Some(Subject::new(SubjectKind::Page, "5"))
        );
    }

    #[test]
    fn a_comment_on_something_else_or_nothing_has_no_subject() {
        let on_attachment = json!({"comment": {"parent": {"id": 1, "contentType": "attachment"}}});
        assert_eq!(confluence(on_attachment), None);
        assert_eq!(confluence(json!({"comment": {"id": 9}})), None);
        assert_eq!(confluence(json!({"page": {"id": ""}})), None);
    }
}
