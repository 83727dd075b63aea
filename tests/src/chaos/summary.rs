//! What the chaos run's deliveries became, from the simulator's records: the promise is that
//! every delivery answered 2xx has exactly one comment.
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use simulator::ProductSim;

use super::stream::Sent;

/// The counts the test asserts on and prints.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Deliveries made (each possibly with several attempts).
    pub sent: usize,
    /// Deliveries answered 2xx in the end.
    pub accepted: usize,
    /// Comments the simulated Jira received.
    pub effects: usize,
    /// Comments beyond the first for the same (site, issue).
    pub duplicates: usize,
    /// Accepted deliveries without a comment.
    pub lost: usize,
    /// Comments for deliveries never answered 2xx (the ingress took them, then died or timed
    /// out before answering): allowed, they are not duplicates.
    pub unanswered_effects: usize,
    /// Deliveries that needed more than one attempt (the disruptions showed at the ingress).
    pub retried: usize,
    /// Attempts answered 503 (broker or database down).
    pub refused_503: usize,
    /// Attempts without an answer (the ingress was dead).
    pub unanswered_attempts: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sent={} accepted={} effects={} duplicates={} lost={} (retried deliveries {}, attempts answered 503 {}, unanswered attempts {}, effects of unanswered deliveries {})",
            self.sent,
            self.accepted,
            self.effects,
            self.duplicates,
            self.lost,
            self.retried,
            self.refused_503,
            self.unanswered_attempts,
            self.unanswered_effects
        )
    }
}

/// When each (site, issue) got its comments.
pub struct Effects(HashMap<(String, String), Vec<Instant>>);

impl Effects {
    /// Reads the comments of `sites` from the simulator; the rule comments `Seen {issue}`.
    /// Each entry is a site's key and a key the simulator records its effects under
    /// (`Site::effect_keys`).
    pub fn read(product: &ProductSim, sites: &[(String, String)]) -> Self {
        let mut effects: HashMap<(String, String), Vec<Instant>> = HashMap::new();
        for (site, recorded_as) in sites {
            for comment in product.comments(recorded_as) {
                let text = comment.body["body"].as_str().unwrap_or_default();
                let issue = text.strip_prefix("Seen ").unwrap_or(text).to_owned();
                effects
                    .entry((site.clone(), issue))
                    .or_default()
                    .push(comment.at);
            }
        }
        Self(effects)
    }

    /// Waits until every accepted delivery of `sent` has its comment (or `patience` ran
    /// out), then 3 s longer so that late duplicates would show; the comments as they are
    /// then.
    pub async fn settle(
        product: &ProductSim,
        sites: &[(String, String)],
        sent: &[Sent],
        patience: Duration,
    ) -> Self {
        let deadline = Instant::now() + patience;
        while Self::read(product, sites).summarise(sent).lost > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        Self::read(product, sites)
    }

    /// When `sent`'s first comment came, if it did.
    pub fn first(&self, sent: &Sent) -> Option<Instant> {
        self.0
            .get(&(sent.client_key.clone(), sent.issue_key.clone()))
            .and_then(|at| at.iter().min().copied())
    }

    /// Counts everything against `sent`.
    pub fn summarise(&self, sent: &[Sent]) -> Summary {
        // Only the effects of the sites `sent` is about.
        let sites: std::collections::HashSet<&str> =
            sent.iter().map(|s| s.client_key.as_str()).collect();
        let ours = || {
            self.0
                .iter()
                .filter(|((site, _), _)| sites.contains(site.as_str()))
                .map(|(_, at)| at)
        };
        let effects: usize = ours().map(Vec::len).sum();
        let duplicates = ours().map(|at| at.len().saturating_sub(1)).sum();
        let accepted: Vec<&Sent> = sent.iter().filter(|s| s.accepted).collect();
        let lost = accepted.iter().filter(|s| self.first(s).is_none()).count();
        let unanswered_effects = sent
            .iter()
            .filter(|s| !s.accepted && self.first(s).is_some())
            .count();
        let attempts = || sent.iter().flat_map(|s| s.attempts.iter().copied());
        Summary {
            retried: sent
                .iter()
                .filter(|s| s.attempts.len() > s.deliveries)
                .count(),
            refused_503: attempts().filter(|status| *status == 503).count(),
            unanswered_attempts: attempts().filter(|status| *status == 0).count(),
            sent: sent.len(),
            accepted: accepted.len(),
            effects,
            duplicates,
            lost,
            unanswered_effects,
        }
    }

    /// Receipt-to-comment latencies of the accepted deliveries that `select` picks, sorted.
    pub fn latencies(&self, sent: &[Sent], select: impl Fn(&Sent) -> bool) -> Vec<Duration> {
        let mut latencies: Vec<Duration> = sent
            .iter()
            .filter(|s| s.accepted && select(s))
            .filter_map(|s| Some(self.first(s)?.saturating_duration_since(s.at)))
            .collect();
        latencies.sort();
        latencies
    }
}

/// When each disruption of a run happened, for the printed report.
#[derive(Default)]
pub struct Timeline {
    start: Option<Instant>,
    marks: Vec<(Duration, String)>,
}

impl Timeline {
    /// Notes `what` now (the first note starts the clock).
    pub fn mark(&mut self, what: &str) {
        self.note(what.to_owned());
    }

    /// [`Timeline::mark`] for a formatted note.
    pub fn note(&mut self, what: String) {
        let start = *self.start.get_or_insert_with(Instant::now);
        self.marks.push((start.elapsed(), what));
    }

    /// One line per note: seconds since the first, and the note.
    pub fn render(&self) -> String {
        self.marks
            .iter()
            .map(|(at, what)| format!("  {:>6.1}s {what}", at.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(
                "
",
            )
    }
}

/// The `q`-quantile (0..=1) of sorted `values`, zero when empty.
pub fn quantile(values: &[Duration], q: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank; the index is within bounds by construction.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile(&values, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&values, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&values, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&[], 0.99), Duration::ZERO);
    }
}
