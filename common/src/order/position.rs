//! An event's position among the events of its subject, and what an ordered action sets.
use std::cmp::Ordering;

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use crate::rules::Action;

/// Where an event stands among the events of its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The event's `timestamp`, epoch milliseconds.
    pub event_at: i64,
    /// Its changelog id (Jira's `changelog.id`), when it has one.
    pub changelog_id: Option<i64>,
}

impl Position {
    /// The position of a Connect-shaped payload (Forge events are put in that shape first):
    /// its `timestamp` (a number or a numeric string, epoch milliseconds) and `changelog.id`
    /// (a numeric string in Jira). `None` without a usable `timestamp`: such an event is never
    /// stale, and does not move the order of its subject.
    pub fn of(payload: &Value) -> Option<Self> {
        Some(Self {
            event_at: integer(payload.get("timestamp")?)?,
            changelog_id: payload.pointer("/changelog/id").and_then(integer),
        })
    }

    /// Whether `self` comes before `other`: an earlier timestamp, or the same timestamp and a
    /// lower changelog id when both have one. Equal positions (the same event again, or two
    /// events that cannot be told apart) are not older.
    pub fn is_older_than(&self, other: &Position) -> bool {
        match self.event_at.cmp(&other.event_at) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => {
                matches!((self.changelog_id, other.changelog_id), (Some(a), Some(b)) if a < b)
            }
        }
    }

    /// For people: `2026-01-20T15:58:12.797Z`, with `, changelog 10026` when it has one.
    pub fn describe(&self) -> String {
        let at = Utc
            .timestamp_millis_opt(self.event_at)
            .single()
            .map_or_else(
                || format!("{} ms", self.event_at),
                |at| at.to_rfc3339_opts(SecondsFormat::Millis, true),
            );
        match self.changelog_id {
            Some(id) => format!("{at}, changelog {id}"),
            None => at,
        }
    }
}

/// An integer given as a JSON number or a numeric string.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// What an ordered action sets on its subject, as the order table names it: `property:{key}`
/// or `label:{name}`. `None` for an action that is not ordered: a comment adds something new
/// for every event, so every event's comment is posted.
pub fn target_of(action: &Action) -> Option<String> {
    match action {
        Action::JiraProperty { key, .. } | Action::ConfluenceProperty { key, .. } => {
            Some(format!("property:{key}"))
        }
        Action::JiraLabel { label } | Action::ConfluenceLabel { label } => {
            Some(format!("label:{label}"))
        }
        Action::JiraComment { .. } | Action::ConfluenceComment { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(event_at: i64, changelog_id: Option<i64>) -> Position {
        Position {
            event_at,
            changelog_id,
        }
    }

    #[test]
    fn the_position_is_the_timestamp_and_the_changelog_id_as_numbers_or_strings() {
        let jira = json!({"timestamp": 1735442025214_i64, "changelog": {"id": "10026"}});
        assert_eq!(Position::of(&jira), Some(at(1735442025214, Some(10026))));
        let forge = json!({"timestamp": "1700000000000", "changelog": {"id": 7}});
        assert_eq!(Position::of(&forge), Some(at(1700000000000, Some(7))));
        let confluence = json!({"timestamp": 1681829304645_i64, "page": {"id": 1}});
        assert_eq!(Position::of(&confluence), Some(at(1681829304645, None)));
        let odd_changelog = json!({"timestamp": 5, "changelog": {"id": "x"}});
        assert_eq!(Position::of(&odd_changelog), Some(at(5, None)));
        for no_time in [
            json!({}),
            json!({"timestamp": "soon"}),
            json!({"timestamp": 1.5}),
        ] {
            assert_eq!(Position::of(&no_time), None, "{no_time}");
        }
    }

    #[test]
    fn the_timestamp_decides_first_and_the_changelog_id_only_between_equal_ones() {
        assert!(at(1, Some(9)).is_older_than(&at(2, Some(1))));
        assert!(!at(2, Some(1)).is_older_than(&at(1, Some(9))));
        assert!(at(2, Some(1)).is_older_than(&at(2, Some(3))));
        assert!(!at(2, Some(3)).is_older_than(&at(2, Some(3))), "equal");
        assert!(
            !at(2, None).is_older_than(&at(2, Some(3))),
            "not comparable"
        );
        assert!(
            !at(2, Some(1)).is_older_than(&at(2, None)),
            "not comparable"
        );
        assert_eq!(
            at(1_700_000_000_000, Some(4)).describe(),
            "2023-11-14T22:13:20.000Z, changelog 4"
        );
    }

    #[test]
    fn properties_and_labels_are_ordered_and_comments_are_not() {
        let action = |value| serde_json::from_value::<Action>(value).unwrap();
        let property = action(json!({"type": "jira_property", "key": "k", "value": 1}));
        assert_eq!(target_of(&property).as_deref(), Some("property:k"));
        let label = action(json!({"type": "confluence_label", "label": "seen"}));
        assert_eq!(target_of(&label).as_deref(), Some("label:seen"));
        for comment in [
            json!({"type": "jira_comment", "template": "t"}),
            json!({"type": "confluence_comment", "template": "t"}),
        ] {
            assert_eq!(target_of(&action(comment)), None);
        }
    }
}
