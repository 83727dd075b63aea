//! Forge events for the ingress bench: the simulator's Forge (its JWKS is the one the ingress
//! trusts) installs the app on `tenants` Jira sites, and every request gets its own Forge
//! Invocation Token (RS256, a unique `jti`: the ingress takes each token once) with the site's
//! app system token, as Forge sends them. Tokens are signed before the clock starts, on every
//! core, and live an hour so that they outlast the run.
use anyhow::Context;
use bytes::Bytes;
use common::tenant::ProductType;
use hyper::header::HeaderValue;
use simulator::forge::FitOverrides;
use simulator::{ForgeApp, ForgeSim, ForgeSite, ProductSim};

use crate::signed::SignedWebhook;

/// The bench's Forge app.
const APP_ID: &str = "6e1a2c4b-0d3f-4a5b-9c8d-7e6f5a4b3c2d";
/// The route of product events.
pub const EVENTS_PATH: &str = "/forge/events";
/// How long a pre-signed token lives.
const TOKEN_LIFETIME_SECS: i64 = 3600;

/// Forge and its sites.
pub struct ForgeLoad {
    sim: ForgeSim,
    sites: Vec<ForgeSite>,
}

impl ForgeLoad {
    /// Starts the simulator's Forge (JWKS and product servers on this runtime) with `tenants`
    /// Jira sites installed (their `installed` events are not sent: the first event of each
    /// registers it, in the warm-up).
    pub async fn start(tenants: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(tenants > 0, "at least one tenant is needed");
        // The app's base URL is only used by the simulator's own deliveries, which the bench
        // does not make.
        let sim = ForgeSim::start(
            ForgeApp::new("http://127.0.0.1:1"),
            APP_ID,
            ProductSim::start().await,
        )
        .await;
        let sites = (0..tenants)
            .map(|n| sim.install_without_event(&format!("bench-{n}"), ProductType::Jira))
            .collect::<anyhow::Result<Vec<_>>>()
            .context("installing the Forge sites")?;
        Ok(Self { sim, sites })
    }

    /// The settings that turn the ingress's Forge remote on against this Forge.
    pub fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("HOOKLINE_FORGE__APP_ID".into(), APP_ID.into()),
            ("HOOKLINE_FORGE__JWKS_URL".into(), self.sim.jwks_url()),
            (
                "HOOKLINE_FORGE__API_BASE_URL_HOSTS".into(),
                "127.0.0.1".into(),
            ),
        ]
    }

    /// `count` requests from the sites in turn, each with its own token; `run` names the
    /// requests' (ignored) webhook ids.
    pub fn sign(&self, count: usize, run: &str) -> anyhow::Result<Vec<SignedWebhook>> {
        let overrides = FitOverrides {
            lifetime_secs: Some(TOKEN_LIFETIME_SECS),
            ..FitOverrides::default()
        };
        let key = self.sim.app().events_key.clone();
        let system_tokens: Vec<HeaderValue> = self
            .sites
            .iter()
            .map(|site| HeaderValue::try_from(self.sim.system_token(site)))
            .collect::<Result<_, _>>()?;
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let chunk = count.div_ceil(threads).max(1);
        let signed: Vec<anyhow::Result<Vec<SignedWebhook>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .step_by(chunk)
                .map(|start| {
                    let (key, overrides, tokens) = (&key, &overrides, &system_tokens);
                    scope.spawn(move || {
                        (start..(start + chunk).min(count))
                            .map(|index| {
                                let site = index % self.sites.len();
                                let fit = self.sim.mint_fit_with(&self.sites[site], key, overrides);
                                Ok(SignedWebhook {
                                    authorization: HeaderValue::try_from(format!("Bearer {fit}"))?,
                                    webhook_id: HeaderValue::try_from(format!("{run}-{index}"))?,
                                    system_token: Some(tokens[site].clone()),
                                })
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().expect("a signing thread does not panic"))
                .collect()
        });
        let mut all = Vec::with_capacity(count);
        for part in signed {
            all.extend(part?);
        }
        Ok(all)
    }
}

/// The body of every Forge request: the same issue as the Connect fixture's
/// (`fixture::JIRA_ISSUE_CREATED`, a real capture), as Forge's `avi:jira:created:issue`
/// wrapped in `payload`, so that both protocols carry the same load.
pub fn event_body() -> anyhow::Result<Bytes> {
    let webhook: serde_json::Value = serde_json::from_slice(crate::fixture::JIRA_ISSUE_CREATED)
        .context("the Connect fixture is JSON")?;
    let event = serde_json::json!({
        "eventType": "avi:jira:created:issue",
        "atlassianId": webhook.pointer("/user/accountId").cloned().unwrap_or_default(),
        "selfGenerated": false,
        "timestamp": webhook["timestamp"].to_string(),
        "issue": webhook["issue"],
    });
    Ok(Bytes::from(
        serde_json::json!({ "payload": event }).to_string(),
    ))
}
