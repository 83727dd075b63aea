//! A budget for each tenant's calls to its product: a steady rate with bursts per tenant
//! (`outbound.tenant_calls_per_second`, `outbound.tenant_call_burst`), so that the worker stays
//! inside the rate Jira and Confluence allow an app on one site instead of finding it through
//! 429s. Atlassian's rate-limiting guide counts an app's calls against a budget per site, its
//! worked example being 10 calls a second, and has enforced points-based quotas with a
//! per-second burst buffer since 2 March 2026 (docs/operations.md, "Fair share").
//!
//! Per worker process: N workers allow N times the rate, so divide the rate by the number of
//! workers that serve a busy tenant.
use common::rate::KeyedRate;
use common::tenant::ClientKey;

/// Each tenant's budget; no limit when the rate is 0. Clones share the buckets.
pub type CallBudget = KeyedRate<ClientKey>;
