//! How a rule is shown, the same on the server-rendered page and in the API's JSON: its
//! fields plus a summary for people, written once here.
use chrono::{DateTime, Utc};
use common::rules::{Action, Condition, Rule, RuleSpec};
use serde::Serialize;

/// Longest detail shown in the list (the whole rule is in the API answer).
const DETAIL_CHARS: usize = 80;

/// A rule as pages and the API show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleView<'a> {
    pub id: i64,
    #[serde(flatten)]
    pub spec: &'a RuleSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub summary: Summary,
}

/// The rule in words: one line per condition, the action's kind and detail.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub conditions: Vec<String>,
    pub action_kind: &'static str,
    pub action_detail: String,
}

impl<'a> From<&'a Rule> for RuleView<'a> {
    fn from(rule: &'a Rule) -> Self {
        Self {
            id: rule.id,
            spec: &rule.spec,
            created_at: rule.created_at,
            updated_at: rule.updated_at,
            summary: Summary {
                conditions: rule
                    .spec
                    .conditions
                    .iter()
                    .map(describe_condition)
                    .collect(),
                action_kind: action_kind(&rule.spec.action),
                action_detail: truncate(&action_detail(&rule.spec.action), DETAIL_CHARS),
            },
        }
    }
}

fn describe_condition(condition: &Condition) -> String {
    match condition {
        Condition::ProjectKey { key } => format!("project is {key}"),
        Condition::SpaceKey { key } => format!("space is {key}"),
        Condition::Changed { field } => format!("{field} changed"),
        Condition::Equals { pointer, value } => format!("{pointer} = {value}"),
        Condition::Contains { pointer, value } => format!("{pointer} contains {value:?}"),
    }
}

fn action_kind(action: &Action) -> &'static str {
    match action {
        Action::JiraComment { .. } => "Comment",
        Action::ConfluenceComment { .. } => "Footer comment",
        Action::JiraLabel { .. } | Action::ConfluenceLabel { .. } => "Label",
        Action::JiraProperty { .. } => "Issue property",
        Action::ConfluenceProperty { .. } => "Content property",
    }
}

fn action_detail(action: &Action) -> String {
    match action {
        Action::JiraComment { template, .. } | Action::ConfluenceComment { template } => {
            template.clone()
        }
        Action::JiraLabel { label } | Action::ConfluenceLabel { label } => label.clone(),
        Action::JiraProperty { key, value } | Action::ConfluenceProperty { key, value } => {
            format!("{key} = {value}")
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_and_actions_read_as_words() {
        let conditions: Vec<Condition> = serde_json::from_value(json!([
            {"type": "project_key", "key": "KAN"},
            {"type": "equals", "pointer": "/issue/fields/priority/name", "value": "High"},
            {"type": "contains", "pointer": "/issue/fields/summary", "value": "login"},
            {"type": "changed", "field": "status"}
        ]))
        .expect("conditions");
        let lines: Vec<String> = conditions.iter().map(describe_condition).collect();
        assert_eq!(
            lines,
            [
                "project is KAN",
                "/issue/fields/priority/name = \"High\"",
                "/issue/fields/summary contains \"login\"",
                "status changed"
            ]
        );
        let property = Action::JiraProperty {
            key: "triage".into(),
            value: json!({"done": true}),
        };
        assert_eq!(action_detail(&property), "triage = {\"done\":true}");
    }

    #[test]
    fn long_details_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("ééééé", 3), "ééé…");
        assert_eq!(truncate("short", 80), "short");
    }
}
