//! What a rule is, as stored (JSON) and as validated.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tenant::{ClientKey, ProductType};

/// A rule as its author writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// A name for people.
    pub name: String,
    /// The event it reacts to, e.g. `jira:issue_created` or `page_created`.
    pub event: String,
    /// All must hold for the rule to apply.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// What to do.
    pub action: Action,
    /// Disabled rules are kept but not applied.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

/// A stored rule of one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule's id (unique across tenants; never 0).
    pub id: i64,
    /// The tenant it belongs to.
    pub client_key: ClientKey,
    /// The rule itself.
    pub spec: RuleSpec,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A condition on the webhook payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The value at a JSON pointer equals `value`.
    Equals {
        /// A JSON pointer such as `/issue/fields/priority/name`.
        pointer: String,
        /// The expected value.
        value: Value,
    },
    /// The string (or array) at a JSON pointer contains `value`.
    Contains {
        /// A JSON pointer.
        pointer: String,
        /// The text or element looked for.
        value: String,
    },
    /// The Jira changelog of an update changed `field` (e.g. `status`).
    Changed {
        /// The changelog item's `field`.
        field: String,
    },
    /// The Jira issue is in project `key`.
    ProjectKey {
        /// The project key, e.g. `KAN`.
        key: String,
    },
    /// The Confluence page is in space `key`.
    SpaceKey {
        /// The space key.
        key: String,
    },
}

/// How a Jira comment body is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentFormat {
    /// REST v2, plain text (wiki markup).
    #[default]
    Text,
    /// REST v3, Atlassian Document Format.
    Adf,
}

/// One action against the tenant's product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Add a comment to the issue.
    JiraComment {
        /// The comment text (a template rendered with the event).
        template: String,
        /// v2 text or v3 ADF.
        #[serde(default)]
        format: CommentFormat,
    },
    /// Add a label to the issue.
    JiraLabel {
        /// The label.
        label: String,
    },
    /// Set an issue property.
    JiraProperty {
        /// The property key.
        key: String,
        /// The JSON value.
        value: Value,
    },
    /// Add a footer comment to the page (storage format; values are HTML-escaped).
    ConfluenceComment {
        /// The comment (a template rendered with the event).
        template: String,
    },
    /// Add a label to the page.
    ConfluenceLabel {
        /// The label.
        label: String,
    },
    /// Set a content property on the page.
    ConfluenceProperty {
        /// The property key.
        key: String,
        /// The JSON value.
        value: Value,
    },
}

impl Action {
    /// The product the action calls.
    pub fn product(&self) -> ProductType {
        match self {
            Self::JiraComment { .. } | Self::JiraLabel { .. } | Self::JiraProperty { .. } => {
                ProductType::Jira
            }
            _ => ProductType::Confluence,
        }
    }

    /// Whether the action creates something new each time (so a repeat would duplicate it).
    pub fn creates(&self) -> bool {
        matches!(
            self,
            Self::JiraComment { .. } | Self::ConfluenceComment { .. }
        )
    }
}

/// A validation problem, named by the field it concerns (for forms and CLI messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field, e.g. `action.template` or `conditions[1].pointer`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn error(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Events whose subject no longer exists when they arrive: every action on it answers 404.
/// (`comment_deleted` and Confluence's `comment_removed` leave their issue or page in place.)
const DELETES_ITS_SUBJECT: &[&str] = &["jira:issue_deleted", "page_removed", "blog_removed"];

/// Largest template, bytes.
pub const MAX_TEMPLATE_BYTES: usize = 10 * 1024;

impl RuleSpec {
    /// Checks the rule for a tenant of `product`; every problem is returned.
    pub fn validate(&self, product: ProductType) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.len() > 200 {
            errors.push(error("name", "must be 1 to 200 characters"));
        }
        let event_ok = !self.event.is_empty()
            && self.event.len() <= 100
            && self
                .event
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.' | b'-'));
        if !event_ok {
            errors.push(error(
                "event",
                "must be an event name such as jira:issue_created or page_created",
            ));
        }
        for (index, condition) in self.conditions.iter().enumerate() {
            if let Condition::Equals { pointer, .. } | Condition::Contains { pointer, .. } =
                condition
            {
                if !pointer.starts_with('/') {
                    errors.push(error(
                        format!("conditions[{index}].pointer"),
                        "must be a JSON pointer starting with /",
                    ));
                }
            }
        }
        if self.action.product() != product {
            errors.push(error(
                "action.type",
                format!(
                    "this site runs {}; choose a {} action",
                    product.as_str(),
                    product.as_str()
                ),
            ));
        }
        if DELETES_ITS_SUBJECT.contains(&self.event.as_str()) && self.action.product() == product {
            errors.push(error(
                "event",
                format!(
                    "{} arrives after its subject was deleted, so every action on it would fail (404); react to another event",
                    self.event
                ),
            ));
        }
        errors.extend(self.action.validate());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

impl Action {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match self {
            Self::JiraComment { template, .. } | Self::ConfluenceComment { template } => {
                if template.trim().is_empty() || template.len() > MAX_TEMPLATE_BYTES {
                    errors.push(error(
                        "action.template",
                        format!("must be 1 to {MAX_TEMPLATE_BYTES} bytes"),
                    ));
                } else if let Err(problem) = super::template::check(template) {
                    errors.push(error("action.template", problem.to_string()));
                }
            }
            Self::JiraLabel { label } | Self::ConfluenceLabel { label } => {
                if label.is_empty() || label.len() > 255 || label.chars().any(char::is_whitespace) {
                    errors.push(error(
                        "action.label",
                        "must be 1 to 255 characters without spaces",
                    ));
                }
            }
            Self::JiraProperty { key, .. } | Self::ConfluenceProperty { key, .. } => {
                let ok = !key.is_empty()
                    && key.len() <= 255
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
                if !ok {
                    errors.push(error(
                        "action.key",
                        "must be 1 to 255 characters of A-Z a-z 0-9 . _ -",
                    ));
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(action: Value) -> Result<RuleSpec, serde_json::Error> {
        serde_json::from_value(
            json!({"name": "r", "event": "jira:issue_created", "action": action}),
        )
    }

    #[test]
    fn a_rule_reads_from_json_with_defaults() {
        let rule = spec(json!({"type": "jira_comment", "template": "Hello {{ issue.key }}"}))
            .expect("parses");
        assert!(rule.enabled && rule.conditions.is_empty());
        assert_eq!(
            rule.action,
            Action::JiraComment {
                template: "Hello {{ issue.key }}".into(),
                format: CommentFormat::Text
            }
        );
        assert!(rule.validate(ProductType::Jira).is_ok());
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let mut rule =
            spec(json!({"type": "confluence_label", "label": "has space"})).expect("parses");
        rule.name = String::new();
        rule.conditions.push(Condition::Equals {
            pointer: "issue".into(),
            value: json!(1),
        });
        let errors = rule.validate(ProductType::Jira).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "conditions[0].pointer",
                "action.type",
                "action.label"
            ]
        );
    }

    #[test]
    fn a_template_that_does_not_compile_is_refused() {
        let rule =
            spec(json!({"type": "jira_comment", "template": "{{ unclosed"})).expect("parses");
        let errors = rule.validate(ProductType::Jira).unwrap_err();
        assert_eq!(errors[0].field, "action.template");
    }

    #[test]
    fn a_rule_acting_on_a_deleted_issue_is_refused() {
        let mut rule = spec(json!({"type": "jira_label", "label": "gone"})).expect("parses");
        rule.event = "jira:issue_deleted".into();
        let errors = rule.validate(ProductType::Jira).unwrap_err();
        assert_eq!(errors[0].field, "event");
        assert!(errors[0].message.contains("404"), "{errors:?}");
        rule.event = "comment_deleted".into();
        assert!(rule.validate(ProductType::Jira).is_ok());
    }

    #[test]
    fn unknown_fields_and_actions_are_refused() {
        assert!(spec(json!({"type": "jira_delete_everything"})).is_err());
        assert!(spec(json!({"type": "jira_label", "label": "x", "extra": 1})).is_err());
    }
}
