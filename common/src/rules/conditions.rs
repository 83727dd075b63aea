//! Evaluating a rule's conditions against a webhook payload.
use serde_json::Value;

use super::Condition;

impl Condition {
    /// Whether the condition holds for `payload`.
    pub fn holds(&self, payload: &Value) -> bool {
        match self {
            Self::Equals { pointer, value } => payload.pointer(pointer) == Some(value),
            Self::Contains { pointer, value } => match payload.pointer(pointer) {
                Some(Value::String(text)) => text.contains(value.as_str()),
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|item| item.as_str() == Some(value.as_str())),
                _ => false,
            },
            Self::Changed { field } => payload
                .pointer("/changelog/items")
                .and_then(Value::as_array)
                .is_some_and(|items| {
                    items.iter().any(|item| {
                        item.get("field").and_then(Value::as_str) == Some(field.as_str())
                    })
                }),
            Self::ProjectKey { key } => {
                payload
                    .pointer("/issue/fields/project/key")
                    .and_then(Value::as_str)
                    == Some(key.as_str())
            }
            Self::SpaceKey { key } => [
                "/page/spaceKey",
                "/page/space/key",
                "/space/key",
                "/comment/space/key",
            ]
            .iter()
            .any(|pointer| payload.pointer(pointer).and_then(Value::as_str) == Some(key.as_str())),
        }
    }
}

/// Whether every condition holds (an empty list always does).
pub fn all_hold(conditions: &[Condition], payload: &Value) -> bool {
    conditions.iter().all(|condition| condition.holds(payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload() -> Value {
        json!({
            "issue": {"key": "KAN-1", "fields": {"project": {"key": "KAN"}, "labels": ["a", "b"], "summary": "Login fails"}},
            "changelog": {"items": [{"field": "status", "fromString": "To Do", "toString": "Done"}]},
            "page": {"id": 42, "spaceKey": "ENG"}
        })
    }

    #[test]
    fn each_kind_of_condition_reads_the_payload() {
        let p = payload();
        assert!(Condition::Equals {
            pointer: "/issue/key".into(),
            value: json!("KAN-1")
        }
        .holds(&p));
        assert!(!Condition::Equals {
            pointer: "/issue/key".into(),
            value: json!("KAN-2")
        }
        .holds(&p));
        assert!(Condition::Contains {
            pointer: "/issue/fields/summary".into(),
            value: "Login".into()
        }
        .holds(&p));
        assert!(Condition::Contains {
            pointer: "/issue/fields/labels".into(),
            value: "b".into()
        }
        .holds(&p));
        assert!(Condition::Changed {
            field: "status".into()
        }
        .holds(&p));
        assert!(!Condition::Changed {
            field: "assignee".into()
        }
        .holds(&p));
        assert!(Condition::ProjectKey { key: "KAN".into() }.holds(&p));
        assert!(Condition::SpaceKey { key: "ENG".into() }.holds(&p));
    }

    #[test]
    fn missing_paths_never_match_and_never_panic() {
        let p = json!({});
        assert!(!Condition::Contains {
            pointer: "/nope".into(),
            value: "x".into()
        }
        .holds(&p));
        assert!(!Condition::Changed {
            field: "status".into()
        }
        .holds(&p));
        assert!(all_hold(&[], &p));
    }
}
