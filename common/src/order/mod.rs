//! Order per subject (docs/operations.md, "Order per subject"). Jira and Confluence do not
//! deliver events in order, and workers run them concurrently, so an action that *sets* state
//! on an issue or page (a property, a label) could be taken for an older event after a newer
//! one and leave a stale value. The `subject_order` table keeps, per tenant, subject and
//! [target](target_of) (what the action sets: one property key, one label), the position of
//! the newest event applied there and the event acting on it now:
//!
//! - [`OrderStore::claim`] before acting: stale if a newer event was already applied, busy if
//!   another event is acting on the target, else granted (the target is held for a lease).
//! - [`OrderStore::advance`] after the product's 2xx: records the event as the newest applied
//!   ("advance if newer", one statement) and lets go of the target.
//! - [`OrderStore::release`] after a failure: lets go of the target without advancing, so an
//!   older event may still apply until this one succeeds on a retry.
//!
//! An event's [`Position`] is its `timestamp`, then its changelog id between equal timestamps.
//! Comments are not ordered: every event's comment is posted.
mod position;
mod store;

pub use position::{target_of, Position};
pub use store::{Advance, Applied, Claim, Claimant, OrderKey, OrderStore};
