//! Matching the simulated Jira's comments to the webhooks that caused them. The worker stores
//! a marker `{webhook id}#{rule id}` with every comment (worker/src/effect.rs) and the
//! benchmark's webhook ids are `{run}-{index}` (`signed`), so each comment names its webhook:
//! hence the time from a webhook's send to its comment, the webhooks without a comment and the
//! duplicated comments.
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use simulator::{ProductSim, RecordedComment};

use crate::signed::BenchTenant;

/// How often the simulator's records are read while waiting for comments (each read copies
/// them all, so not too often).
const POLL: Duration = Duration::from_millis(500);
/// Send-to-comment latencies are recorded in microseconds, up to ten minutes.
const MAX_LATENCY_US: u64 = 600_000_000;

/// The comments of one run's webhooks.
#[derive(Debug, Clone, Default)]
pub struct Comments {
    /// Webhooks with a comment.
    pub distinct: u64,
    /// Comments beyond the first for the same webhook.
    pub duplicates: u64,
    /// From each webhook's send (when it was due) to its comment, microseconds; open loop
    /// only, since the closed loop's send times are not recorded.
    pub latency_us: Option<Histogram<u64>>,
    /// When the last first comment was recorded.
    pub last: Option<Instant>,
}

/// Waits until `expected` of the run's `events` webhooks have a comment; false once `patience`
/// passed without a new one.
pub async fn wait_for_comments(
    jira: &ProductSim,
    tenants: &[BenchTenant],
    run_id: &str,
    (events, expected): (usize, usize),
    patience: Duration,
) -> bool {
    let (mut seen, mut progress) = (0, Instant::now());
    loop {
        let now_seen = tally(&recorded(jira, tenants), run_id, events, |_| None).distinct;
        if now_seen >= expected as u64 {
            return true;
        }
        if now_seen > seen {
            (seen, progress) = (now_seen, Instant::now());
        } else if progress.elapsed() >= patience {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Every comment the simulated Jira recorded for the tenants.
pub fn recorded(jira: &ProductSim, tenants: &[BenchTenant]) -> Vec<RecordedComment> {
    tenants
        .iter()
        .flat_map(|tenant| jira.comments(&tenant.client_key))
        .collect()
}

/// Matches comments to the run's webhooks `0..events`; `due` gives a webhook's send time
/// when it is known.
pub fn tally(
    comments: &[RecordedComment],
    run_id: &str,
    events: usize,
    due: impl Fn(usize) -> Option<Instant>,
) -> Comments {
    let mut seen = vec![false; events];
    let mut tally = Comments::default();
    for comment in comments {
        let index = marker(comment).and_then(|marker| webhook_index(marker, run_id));
        let Some((index, seen)) = index.and_then(|i| Some((i, seen.get_mut(i)?))) else {
            continue;
        };
        if *seen {
            tally.duplicates += 1;
            continue;
        }
        *seen = true;
        tally.distinct += 1;
        tally.last = tally.last.max(Some(comment.at));
        if let Some(due) = due(index) {
            let micros = comment.at.saturating_duration_since(due).as_micros();
            let histogram = tally.latency_us.get_or_insert_with(|| {
                Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
            });
            histogram.saturating_record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
        }
    }
    tally
}

/// The marker the worker stores in the comment's `hookline` property.
fn marker(comment: &RecordedComment) -> Option<&str> {
    comment
        .properties
        .as_array()?
        .iter()
        .find_map(|property| property["value"]["marker"].as_str())
}

/// The index of the webhook `{run_id}-{index}` a marker `{webhook id}#{rule id}` names.
fn webhook_index(marker: &str, run_id: &str) -> Option<usize> {
    let (webhook_id, _rule) = marker.rsplit_once('#')?;
    webhook_id
        .strip_prefix(run_id)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn comment(marker: &str, at: Instant) -> RecordedComment {
        RecordedComment {
            client_key: "tenant-0".into(),
            target: "KAN-22".into(),
            body: json!({"body": "Seen KAN-22"}),
            id: "1".into(),
            properties: json!([{"key": "hookline", "value": {"marker": marker}}]),
            at,
        }
    }

    #[test]
    fn a_marker_names_its_webhook_by_run_and_index() {
        assert_eq!(webhook_index("abc-17#3", "abc"), Some(17));
        assert_eq!(webhook_index("wabc-17#3", "abc"), None);
        assert_eq!(webhook_index("abcd-17#3", "abc"), None);
        assert_eq!(webhook_index("abc-17", "abc"), None);
    }

    #[test]
    fn comments_are_matched_once_each_and_repeats_count_as_duplicates() {
        let start = Instant::now();
        let later = |ms| start + Duration::from_millis(ms);
        let comments = [
            comment("run-0#1", later(30)),
            comment("run-1#1", later(50)),
            comment("run-1#1", later(90)),
            comment("wrun-0#1", later(10)),
            comment("run-9#1", later(10)),
        ];
        let due = |index: usize| Some(start + Duration::from_millis(10 * index as u64));
        let tally = tally(&comments, "run", 3, due);
        assert_eq!((tally.distinct, tally.duplicates), (2, 1));
        assert_eq!(tally.last, Some(later(50)));
        let latency = tally.latency_us.unwrap();
        assert_eq!(latency.len(), 2);
        assert!((39_000..=41_000).contains(&latency.max()));
    }

    #[test]
    fn without_send_times_there_is_no_latency() {
        let comments = [comment("run-0#1", Instant::now())];
        let tally = tally(&comments, "run", 1, |_| None);
        assert_eq!(tally.distinct, 1);
        assert!(tally.latency_us.is_none());
    }
}
