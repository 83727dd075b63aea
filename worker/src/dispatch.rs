//! Deciding what to do with one event, knowing nothing of the broker: load the tenant and its
//! rules, apply the matching ones through the ledger, and answer with an [`Outcome`] that the
//! consumer (RabbitMQ or the in-process queue) turns into ack, delay or dead letter.
use std::sync::Arc;
use std::time::Duration;

use common::base_url::BaseUrlPolicy;
use common::envelope::EventEnvelope;
use common::held::HeldEvents;
use common::ledger::{LedgerKey, LedgerStatus, LedgerStore, Receipt, NO_RULE};
use common::order::OrderStore;
use common::rules::conditions::all_hold;
use common::rules::{Rule, RuleStore};
use common::subject::subject_of;
use common::tenant::{ClientKey, TenantStore};

use crate::budget::CallBudget;
use crate::client::ProductClient;
use crate::effect::Delivery;
use crate::event_view::view_of;
use crate::metrics::Metrics;
use crate::paused::PausedTenants;
use crate::throttle::Throttle;

/// Why a matched event was not acted on when it names nothing to act on (ledger, activity).
const NO_SUBJECT: &str =
    "the event names no issue, page or blog post to act on (no issue, page, blog or comment.parent)";

/// How long to wait before retrying when our own database is unavailable.
const STORE_RETRY: Duration = Duration::from_secs(5);

/// What should happen to the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every matching rule's effect is done (or none matched): acknowledge.
    Done,
    /// Nothing to do for a reason that is not a failure (inactive tenant): acknowledge.
    Skipped(&'static str),
    /// Try again after `delay`; this attempt counts towards the event's attempts.
    RetryAfter {
        /// At least this long.
        delay: Duration,
        /// Why (for metrics and logs).
        reason: String,
    },
    /// Try again after `delay` without counting an attempt: nothing was tried, because the
    /// tenant is paused by its product's `Retry-After`, a crashed copy's lease still holds the
    /// effect, or our own database is unavailable. None of these is the event's fault, so a
    /// worker crash, a rate-limit storm or a database outage never dead-letters an event that
    /// the ingress accepted.
    Defer {
        /// At least this long.
        delay: Duration,
        /// Why (for metrics and logs).
        reason: String,
    },
    /// The tenant's call budget is used up for `wait`: nothing was tried. A worker moves the
    /// event out of the main lane into its tenant's overflow lane, where it waits for the
    /// budget (worker/src/settle.rs).
    OverBudget {
        /// How long until the budget allows the next call.
        wait: Duration,
    },
    /// The tenant is paused: nothing was tried. The event is stored among the tenant's held
    /// events and only then acknowledged ([`crate::settle::handle`]); resuming the tenant
    /// releases it into the queue again.
    Held {
        /// The tenant record's key (whichever identity named it in the event).
        client_key: ClientKey,
    },
    /// Give up: move to the dead-letter queue with the reason.
    DeadLetter {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Skipped(_) => "skipped",
            Self::RetryAfter { .. } => "retry",
            Self::Defer { .. } => "deferred",
            Self::OverBudget { .. } => "over_budget",
            Self::Held { .. } => "held",
            Self::DeadLetter { .. } => "dead_letter",
        }
    }

    /// The attempt number a retried copy carries: one more after a [`Outcome::RetryAfter`],
    /// the same after a [`Outcome::Defer`].
    pub fn next_attempt(&self, attempt: u32) -> u32 {
        match self {
            Self::Defer { .. } | Self::OverBudget { .. } => attempt,
            _ => attempt.saturating_add(1),
        }
    }
}

/// Everything dispatching needs; cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    /// Tenants (cached).
    pub tenants: TenantStore,
    /// Rules (cached per tenant).
    pub rules: RuleStore,
    /// The event ledger.
    pub ledger: LedgerStore,
    /// The order of each subject's properties and labels (an older event never overwrites).
    pub order: OrderStore,
    /// Signed calls to the products.
    pub client: ProductClient,
    /// Per-tenant pauses.
    pub throttle: Throttle,
    /// The tenants an operator or a site admin paused (their events are held).
    pub paused: PausedTenants,
    /// Where the events of paused tenants are held until they are resumed.
    pub held: HeldEvents,
    /// Each tenant's budget of calls to its product.
    pub budget: CallBudget,
    /// Where Connect calls may go (tenants' baseUrls).
    pub base_urls: BaseUrlPolicy,
    /// Where Forge calls may go (installations' apiBaseUrls).
    pub forge_api_base_urls: BaseUrlPolicy,
    /// How long a new Forge installation's 401/403 answers are retried.
    pub permission_grace: Duration,
    /// How long an event waits for a Forge installation's usable system token.
    pub token_wait: Duration,
    /// Whether Connect events are recorded by their event key (hookline is a Forge remote
    /// too, so one event may come both ways): `forge.app_id` is set.
    pub event_keys: bool,
    /// Metrics.
    pub metrics: Metrics,
    /// Attempts before an event is dead-lettered.
    pub max_attempts: u32,
    /// How long one attempt holds a (delivery, rule) pair in the ledger: longer than the
    /// slowest action, so a concurrent copy of the delivery waits instead of acting.
    pub action_lease: Duration,
}

impl Dispatcher {
    /// Processes `event` on its `attempt`-th delivery (1 for the first).
    #[tracing::instrument(name = "dispatch", skip_all, fields(event_id = %event.event_id, tenant = %event.tenant, event = %event.event, attempt))]
    pub async fn dispatch(&self, event: &EventEnvelope, attempt: u32) -> Outcome {
        let outcome = self.dispatch_inner(event, attempt).await;
        match &outcome {
            Outcome::RetryAfter { reason, delay } if attempt >= self.max_attempts => {
                tracing::warn!(%reason, ?delay, "giving up after the last attempt");
                let reason = format!("gave up after {attempt} attempts: {reason}");
                self.give_up(event, &reason).await;
                Outcome::DeadLetter { reason }
            }
            _ => outcome,
        }
    }

    async fn dispatch_inner(&self, event: &EventEnvelope, attempt: u32) -> Outcome {
        let tenant = match self.tenants.find(&event.tenant, event.product).await {
            Ok(Some(tenant)) => tenant,
            Ok(None) => return Outcome::Skipped("unknown tenant"),
            Err(error) => return store_unavailable("tenant store", &error),
        };
        let tenant = match self.adopted_meanwhile(event, tenant).await {
            Ok(tenant) => tenant,
            Err(outcome) => return outcome,
        };
        // Rules, ledger rows and pauses belong to the tenant record, whichever identity named it.
        let client_key = tenant.client_key.clone();
        if !tenant.is_active() {
            return Outcome::Skipped("inactive tenant");
        }
        // Paused (by `hookline tenants pause` or a site admin): held, not acted on. Read from
        // a set refreshed once a second (crate::paused), not from the cached tenant.
        match self.paused.contains(&client_key).await {
            Ok(true) => return Outcome::Held { client_key },
            Ok(false) => {}
            Err(error) => return store_unavailable("tenant store", &error),
        }
        // Every address the tenant may be called at must be allowed, whichever is used.
        let connect_allowed = match tenant.has_connect() {
            true => self.base_urls.check(&tenant.base_url).map(drop),
            false => Ok(()),
        };
        let forge_allowed = match &tenant.forge {
            Some(forge) => self
                .forge_api_base_urls
                .check(&forge.api_base_url)
                .map(drop),
            None => Ok(()),
        };
        if let Err(error) = connect_allowed.and(forge_allowed) {
            return Outcome::DeadLetter {
                reason: format!("tenant baseUrl refused: {error}"),
            };
        }
        if let Some(remaining) = self.throttle.remaining(&client_key) {
            return Outcome::Defer {
                delay: remaining,
                reason: "tenant throttled".into(),
            };
        }
        let Some(payload) = view_of(event) else {
            return Outcome::DeadLetter {
                reason: "the payload is not JSON".into(),
            };
        };
        let payload = Arc::new(payload);
        let rules = match self.rules.for_event(&client_key, &event.event).await {
            Ok(rules) => rules,
            Err(error) => return store_unavailable("rule store", &error),
        };
        let matching: Vec<&Rule> = rules
            .iter()
            .filter(|rule| all_hold(&rule.spec.conditions, &payload))
            .collect();
        let subject = subject_of(event.product, &payload);
        let event_id = event.event_id.to_string();
        let receipt = Receipt {
            event_id: &event_id,
            event: &event.event,
            product: event.product,
            subject: subject.as_ref().map(|subject| subject.id.as_str()),
        };
        let delivery_id = match self.delivery_id(event, &client_key, &payload).await {
            Ok(id) => id,
            Err(outcome) => return outcome,
        };
        if matching.is_empty() {
            let key = LedgerKey {
                client_key,
                delivery_id,
                rule_id: NO_RULE,
            };
            return match self.ledger.record_no_match(&key, receipt).await {
                Ok(()) => Outcome::Done,
                Err(error) => store_unavailable("ledger", &error),
            };
        }
        let keys: Vec<LedgerKey> = matching
            .iter()
            .map(|rule| LedgerKey {
                client_key: client_key.clone(),
                delivery_id: delivery_id.clone(),
                rule_id: rule.id,
            })
            .collect();
        let Some(subject) = &subject else {
            tracing::info!("the event names no issue, page or blog post; its rules are skipped");
            for key in &keys {
                if let Err(error) = self.ledger.record_skipped(key, receipt, NO_SUBJECT).await {
                    return store_unavailable("ledger", &error);
                }
            }
            return Outcome::Skipped("no subject");
        };
        let mut outcomes = Vec::with_capacity(matching.len());
        let delivery = Delivery {
            receipt,
            subject,
            payload: &payload,
            attempt,
        };
        for (rule, key) in matching.into_iter().zip(keys) {
            outcomes.push(self.apply(&tenant, rule, &key, &delivery).await);
        }
        combine(outcomes)
    }

    async fn give_up(&self, event: &EventEnvelope, reason: &str) {
        let Ok(Some(tenant)) = self.tenants.find(&event.tenant, event.product).await else {
            return;
        };
        let Some(view) = view_of(event) else { return };
        let client_key = tenant.client_key;
        let Ok(delivery_id) = self.delivery_id(event, &client_key, &view).await else {
            return;
        };
        let Ok(rules) = self.rules.for_event(&client_key, &event.event).await else {
            return;
        };
        for rule in rules.iter() {
            let key = LedgerKey {
                client_key: client_key.clone(),
                delivery_id: delivery_id.clone(),
                rule_id: rule.id,
            };
            if let Ok(Some(entry)) = self.ledger.find(&key).await {
                if entry.status == LedgerStatus::Pending {
                    let _ = self.ledger.record_failure(&key, reason, true).await;
                }
            }
        }
    }
}

pub(crate) fn store_unavailable(what: &str, error: &dyn std::error::Error) -> Outcome {
    tracing::warn!(%error, "{what} unavailable");
    Outcome::Defer {
        delay: STORE_RETRY,
        reason: format!("{what} unavailable"),
    }
}

/// One outcome for the event: retry if any rule must be retried (done rules are skipped next
/// time), else defer if any rule must wait, else over budget if any rule is, else dead-letter
/// if any failed permanently, else done. A retry or deferral waits as long as the longest
/// wanted delay.
fn combine(outcomes: Vec<Outcome>) -> Outcome {
    let over_budget = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::OverBudget { wait } => Some(*wait),
            _ => None,
        })
        .max();
    let waiting = outcomes
        .iter()
        .any(|o| matches!(o, Outcome::RetryAfter { .. } | Outcome::Defer { .. }));
    if let (Some(wait), false) = (over_budget, waiting) {
        return Outcome::OverBudget { wait };
    }
    let delay = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::RetryAfter { delay, .. } | Outcome::Defer { delay, .. } => Some(*delay),
            _ => None,
        })
        .max();
    let Some(delay) = delay else {
        return outcomes
            .into_iter()
            .find(|o| matches!(o, Outcome::DeadLetter { .. }))
            .unwrap_or(Outcome::Done);
    };
    let retry = outcomes.iter().find_map(|o| match o {
        Outcome::RetryAfter { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    if let Some(reason) = retry {
        return Outcome::RetryAfter { delay, reason };
    }
    let reason = outcomes.iter().find_map(|o| match o {
        Outcome::Defer { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    Outcome::Defer {
        delay,
        reason: reason.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_wins_over_a_dead_letter_and_both_over_done() {
        let retry = Outcome::RetryAfter {
            delay: Duration::from_secs(2),
            reason: "503".into(),
        };
        let dead = Outcome::DeadLetter {
            reason: "403".into(),
        };
        assert_eq!(
            combine(vec![Outcome::Done, dead.clone(), retry.clone()]),
            retry
        );
        assert_eq!(combine(vec![Outcome::Done, dead.clone()]), dead);
        assert_eq!(combine(vec![Outcome::Done, Outcome::Done]), Outcome::Done);
    }

    #[test]
    fn a_deferral_waits_longest_and_counts_only_without_a_retry() {
        let defer = Outcome::Defer {
            delay: Duration::from_secs(5),
            reason: "held by a concurrent copy".into(),
        };
        let retry = Outcome::RetryAfter {
            delay: Duration::from_secs(1),
            reason: "503".into(),
        };
        let dead = Outcome::DeadLetter {
            reason: "403".into(),
        };
        assert_eq!(combine(vec![Outcome::Done, defer.clone()]), defer);
        assert_eq!(combine(vec![dead, defer.clone()]), defer);
        let over = Outcome::OverBudget {
            wait: Duration::from_millis(300),
        };
        assert_eq!(
            combine(vec![Outcome::Done, over.clone(), over.clone()]),
            over
        );
        assert_eq!(combine(vec![over, defer.clone()]), defer);
        assert_eq!(
            combine(vec![defer, retry]),
            Outcome::RetryAfter {
                delay: Duration::from_secs(5),
                reason: "503".into(),
            }
        );
    }
}
