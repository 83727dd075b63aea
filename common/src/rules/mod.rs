//! Tenant rules: on an event, when the conditions hold, perform one action against the
//! tenant's product. Stored per tenant (`rules` table), cached per tenant.
//!
//! - [`model`]: [`RuleSpec`], [`Condition`], [`Action`] and their validation.
//! - [`conditions`]: evaluating conditions against a payload.
//! - [`template`]: rendering comment templates (sandboxed: no file system, no network).
//! - [`store`]: [`RuleStore`], partitioned and cached by clientKey.

pub mod conditions;
pub mod json_view;
pub mod model;
pub mod store;
pub mod template;

pub use model::{Action, CommentFormat, Condition, FieldError, Rule, RuleSpec};
pub use store::{RuleStore, RuleStoreError};
