//! Order per subject in the worker (docs/operations.md, "Order per subject"): an action that
//! sets state on its subject (a property, a label) takes its event's turn on what it sets
//! before acting. A stale event (a newer one was applied there) is recorded `stale` and not
//! acted on; while another event acts on the same target, this one waits.
//!
//! The event is recorded as applied only after the product's 2xx, so an older event may
//! still apply while a newer one is failing and being retried; the newer one then applies
//! over it. One event acts on a target at a time, so an older event's call can never land
//! after a newer one's.
use std::time::Duration;

use common::ledger::LedgerKey;
use common::order::{target_of, Advance, Claim, Claimant, OrderKey, Position};
use common::rules::Rule;

use crate::dispatch::{store_unavailable, Dispatcher, Outcome};
use crate::effect::Delivery;

/// How long an event waits while another event acts on the same target (about one call).
const TARGET_BUSY: Duration = Duration::from_secs(2);

/// An event's turn on a target: held from [`Dispatcher::take_turn`] to
/// [`Dispatcher::end_turn`].
pub(crate) struct Turn {
    key: OrderKey,
    position: Position,
    delivery_id: String,
    rule_id: i64,
}

impl Turn {
    fn claimant(&self) -> Claimant<'_> {
        Claimant {
            position: self.position,
            delivery_id: &self.delivery_id,
            rule_id: self.rule_id,
        }
    }
}

impl Dispatcher {
    /// Takes the event's turn on what `rule` sets on its subject. `Ok(None)`: the action is
    /// not ordered (a comment), or the event has no `timestamp`; act at once. `Ok(Some(_))`:
    /// act, then [`Dispatcher::end_turn`]. `Err(outcome)`: do not act now; a stale event is
    /// recorded `stale` in the ledger (final), and one waiting for another event's action
    /// hands its ledger pair back uncounted.
    pub(crate) async fn take_turn(
        &self,
        rule: &Rule,
        key: &LedgerKey,
        delivery: &Delivery<'_>,
    ) -> Result<Option<Turn>, Outcome> {
        let Some(target) = target_of(&rule.spec.action) else {
            return Ok(None);
        };
        let Some(position) = Position::of(delivery.payload) else {
            return Ok(None);
        };
        let turn = Turn {
            key: OrderKey {
                client_key: key.client_key.clone(),
                subject: delivery.subject.id.clone(),
                target,
            },
            position,
            delivery_id: key.delivery_id.clone(),
            rule_id: rule.id,
        };
        let claim = self
            .order
            .claim(&turn.key, &turn.claimant(), self.action_lease)
            .await;
        match claim {
            Ok(Claim::Granted) => Ok(Some(turn)),
            Ok(Claim::Stale(newer)) => {
                tracing::info!(
                    rule_id = rule.id,
                    newer_delivery = %newer.delivery_id,
                    "a newer event was already applied to the subject; this one is stale"
                );
                let reason = newer.stale_reason(&turn.key);
                Err(match self.ledger.record_stale(key, &reason).await {
                    Ok(()) => Outcome::Done,
                    Err(error) => store_unavailable("ledger", &error),
                })
            }
            Ok(Claim::Busy) => {
                tracing::info!(
                    rule_id = rule.id,
                    "another event is acting on the subject; looking again later"
                );
                if let Err(error) = self.ledger.hand_back(key).await {
                    // Its lease runs out instead.
                    tracing::warn!(%error, "could not hand the ledger pair back");
                }
                Err(Outcome::Defer {
                    delay: TARGET_BUSY,
                    reason: "subject busy: another event is acting on it".into(),
                })
            }
            Err(error) => Err(store_unavailable("subject order", &error)),
        }
    }

    /// Ends the turn after the action: records the event as applied if it `succeeded`, and
    /// lets go of the target either way. An error is the outcome to return instead of the
    /// action's: the effect happened but is not recorded, and retrying is safe (properties
    /// and labels are idempotent).
    pub(crate) async fn end_turn(&self, turn: &Turn, succeeded: bool) -> Result<(), Outcome> {
        if !succeeded {
            if let Err(error) = self.order.release(&turn.key, &turn.claimant()).await {
                // Its lease runs out instead.
                tracing::warn!(%error, "could not release the subject's order");
            }
            return Ok(());
        }
        match self.order.advance(&turn.key, &turn.claimant()).await {
            Ok(Advance::Current) => Ok(()),
            Ok(Advance::Stale(newer)) => {
                // Only after the action outlived its lease and a newer event acted meanwhile.
                tracing::warn!(
                    rule_id = turn.rule_id,
                    newer_delivery = %newer.delivery_id,
                    "a newer event was applied while this action ran past its lease"
                );
                Ok(())
            }
            Err(error) => Err(store_unavailable("subject order", &error)),
        }
    }
}
