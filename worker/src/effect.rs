//! Applying one rule to one delivery through the ledger: claim the (delivery, rule) pair,
//! skip it if done or held by a concurrent copy, act, and record the outcome.
use std::sync::Arc;
use std::time::Duration;

use common::ledger::{LedgerKey, LedgerStatus, Receipt};
use common::rules::Rule;
use common::subject::Subject;
use common::tenant::Tenant;
use serde_json::Value;

use crate::actions::{perform, ActionContext};
use crate::client::CallError;
use crate::dispatch::{store_unavailable, Dispatcher, Outcome};

/// How long a copy that found the pair held waits before looking again.
const HELD_ELSEWHERE: Duration = Duration::from_secs(5);
/// The shortest wait for a tenant's call budget (a bucket refills one call at a time).
const BUDGET_MIN_WAIT: Duration = Duration::from_millis(20);

/// After how long without a usable system token a Forge installation is taken as gone: Forge
/// calls at least hourly (the scheduled trigger), each call bringing a token.
const TOKEN_GONE: Duration = Duration::from_secs(24 * 3600);

/// Whether the tenant's last system token expired more than [`TOKEN_GONE`] ago (or, having
/// none, it was installed that long ago).
fn token_long_gone(tenant: &Tenant) -> bool {
    let Some(forge) = tenant.forge.as_ref() else {
        return false;
    };
    let since = forge
        .token
        .as_ref()
        .map_or(forge.installed_at, |token| token.expires_at());
    (chrono::Utc::now() - since)
        .to_std()
        .is_ok_and(|gone| gone > TOKEN_GONE)
}

/// One delivery of an event, as every rule it matches sees it.
pub(crate) struct Delivery<'a> {
    /// What the ledger records of it.
    pub receipt: Receipt<'a>,
    /// What it is about.
    pub subject: &'a Subject,
    /// The webhook payload.
    pub payload: &'a Arc<Value>,
    /// hookline's attempt (1 for the first delivery).
    pub attempt: u32,
}

impl Dispatcher {
    /// Applies `rule` for the delivery of `key`; see the module docs.
    pub(crate) async fn apply(
        &self,
        tenant: &Tenant,
        rule: &Rule,
        key: &LedgerKey,
        delivery: &Delivery<'_>,
    ) -> Outcome {
        let Delivery {
            receipt,
            subject,
            payload,
            attempt,
        } = *delivery;
        // Before the ledger claim: a deferred action neither holds the pair nor counts an
        // attempt.
        if let Err(wait) = self.budget.take(&key.client_key) {
            self.metrics.budget_waited(tenant.product_type.as_str());
            return Outcome::OverBudget {
                wait: wait.max(BUDGET_MIN_WAIT),
            };
        }
        let (entry, held) = match self.ledger.begin(key, receipt, self.action_lease).await {
            Ok(claim) => claim,
            Err(error) => return store_unavailable("ledger", &error),
        };
        match entry.status {
            LedgerStatus::Done => {
                self.metrics.duplicate_skipped(tenant.product_type.as_str());
                tracing::info!(rule_id = rule.id, "effect already done; not repeating it");
                return Outcome::Done;
            }
            LedgerStatus::Dead
            | LedgerStatus::NoMatch
            | LedgerStatus::Skipped
            | LedgerStatus::Stale => return Outcome::Done,
            LedgerStatus::Pending if !held => {
                tracing::info!(
                    rule_id = rule.id,
                    "a concurrent copy of this delivery is acting; looking again later"
                );
                return Outcome::Defer {
                    delay: HELD_ELSEWHERE,
                    reason: "held by a concurrent copy".into(),
                };
            }
            LedgerStatus::Pending => {}
        }
        // Properties and labels: not for an event older than one applied (docs/operations.md).
        let turn = match self.take_turn(rule, key, delivery).await {
            Ok(turn) => turn,
            Err(outcome) => return outcome,
        };
        let marker = format!("{}#{}", key.delivery_id, rule.id);
        let context = ActionContext {
            tenant,
            event: receipt.event,
            payload,
            subject,
            marker: &marker,
            // Attempts count in the ledger, so a crash after the product's answer shows up
            // here as a pending row with an earlier attempt.
            may_exist: entry.attempts > 1 || attempt > 1,
        };
        let mut result = perform(&self.client, &rule.spec.action, &context).await;
        if matches!(result, Err(CallError::Unauthorized(_))) {
            if let Some(fresh) = self.reloaded_with_new_credentials(tenant).await {
                tracing::info!(
                    "the product refused cached credentials; retrying with the stored ones"
                );
                let context = ActionContext {
                    tenant: &fresh,
                    may_exist: true,
                    ..context
                };
                result = perform(&self.client, &rule.spec.action, &context).await;
            }
        }
        if let Some(turn) = &turn {
            if let Err(outcome) = self.end_turn(turn, result.is_ok()).await {
                return outcome;
            }
        }
        self.record(tenant, key, result).await
    }

    /// After a 401: the tenant as stored now, if its credentials changed since it was cached
    /// (another process handled a re-install, or stored a fresher system token).
    async fn reloaded_with_new_credentials(&self, tenant: &Tenant) -> Option<Tenant> {
        self.tenants.invalidate(&tenant.client_key).await;
        let fresh = self
            .tenants
            .find_by_client_key(&tenant.client_key)
            .await
            .ok()??;
        let token = |t: &Tenant| t.forge.as_ref().and_then(|f| f.token.clone());
        let changed = fresh.shared_secret != tenant.shared_secret || token(&fresh) != token(tenant);
        changed.then_some(fresh)
    }

    /// Whether the tenant's Forge installation is new enough that the product may not have
    /// granted the app its permissions yet (Forge may send `installed` before): its 401 and
    /// 403 are retried for `forge.permission_grace_secs`. This holds for a site moving from
    /// Connect too, whose calls may go by Forge the moment its installation arrives.
    fn awaiting_permissions(&self, tenant: &Tenant) -> bool {
        let Some(forge) = tenant.forge.as_ref() else {
            return false;
        };
        let age = chrono::Utc::now() - forge.installed_at;
        age.to_std().is_ok_and(|age| age < self.permission_grace)
    }

    async fn record(
        &self,
        tenant: &Tenant,
        key: &LedgerKey,
        result: Result<Option<String>, CallError>,
    ) -> Outcome {
        let (outcome, recorded) = match result {
            Ok(created) => (
                Outcome::Done,
                self.ledger.complete(key, created.as_deref()).await,
            ),
            Err(CallError::Throttled {
                retry_after,
                status,
            }) => {
                self.throttle.pause(&key.client_key, retry_after);
                self.metrics.tenant_throttled(tenant.product_type.as_str());
                tracing::warn!(status, ?retry_after, "tenant throttled by the product");
                let reason = CallError::Throttled {
                    retry_after,
                    status,
                }
                .reason();
                (
                    Outcome::RetryAfter {
                        delay: retry_after,
                        reason: reason.clone(),
                    },
                    self.ledger.record_failure(key, &reason, false).await,
                )
            }
            Err(CallError::Transient(reason)) => (
                Outcome::RetryAfter {
                    delay: Duration::ZERO,
                    reason: reason.clone(),
                },
                self.ledger.record_failure(key, &reason, false).await,
            ),
            Err(CallError::NoToken) if token_long_gone(tenant) => {
                let reason = format!(
                    "no usable app system token for {} h: the app was likely uninstalled without preUninstall",
                    TOKEN_GONE.as_secs() / 3600
                );
                (
                    Outcome::DeadLetter {
                        reason: reason.clone(),
                    },
                    self.ledger.record_failure(key, &reason, true).await,
                )
            }
            Err(CallError::NoToken) => {
                // The next try reads the tenant again, with whatever token arrived meanwhile.
                self.tenants.invalidate(&tenant.client_key).await;
                let reason = CallError::NoToken.reason();
                (
                    // Every event, lifecycle call and the hourly scheduled trigger brings one.
                    Outcome::Defer {
                        delay: self.token_wait,
                        reason: reason.clone(),
                    },
                    self.ledger.record_failure(key, &reason, false).await,
                )
            }
            Err(CallError::Unauthorized(reason) | CallError::Forbidden(reason))
                if self.awaiting_permissions(tenant) =>
            {
                let reason = format!(
                    "{reason} (a new installation: its permissions may not be granted yet)"
                );
                (
                    Outcome::RetryAfter {
                        delay: Duration::ZERO,
                        reason: reason.clone(),
                    },
                    self.ledger.record_failure(key, &reason, false).await,
                )
            }
            Err(
                CallError::Permanent(reason)
                | CallError::Unauthorized(reason)
                | CallError::Forbidden(reason),
            ) => (
                Outcome::DeadLetter {
                    reason: reason.clone(),
                },
                self.ledger.record_failure(key, &reason, true).await,
            ),
        };
        match recorded {
            Ok(()) => outcome,
            // The effect may have happened: retrying is safe, since the next attempt looks
            // for it before acting again.
            Err(error) => store_unavailable("ledger", &error),
        }
    }
}
