//! The `[forge]` section: hookline as the remote of a Forge app. Off until `app_id` is set:
//! then the Forge routes exist and their tokens are checked against that app only.
use std::time::Duration;

use serde::Deserialize;

/// Atlassian's production JWKS of Forge Invocation Tokens.
pub const PRODUCTION_JWKS_URL: &str =
    "https://forge.cdn.prod.atlassian-dev.net/.well-known/jwks.json";

/// The Forge remote.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ForgeSettings {
    /// The app's ARI (`ari:cloud:ecosystem::app/<uuid>`; a bare UUID is taken as that ARI):
    /// the only audience a Forge Invocation Token may have. Unset: no Forge route exists.
    pub app_id: Option<String>,
    /// Where the signing keys of Forge Invocation Tokens are (Atlassian's production JWKS).
    pub jwks_url: String,
    /// The JWKS of Isolated Cloud tokens, with `{icLabel}` where the token's label goes (given
    /// by Atlassian when the app is onboarded to Isolated Cloud); unset: such tokens are refused.
    pub isolated_cloud_jwks_url: Option<String>,
    /// Hosts an installation's `apiBaseUrl` may have (calls back go nowhere else).
    pub api_base_url_hosts: Vec<String>,
    /// How often, at most, an unknown `kid` makes the JWKS be fetched again, seconds.
    pub jwks_refetch_interval_secs: u64,
    /// How long after an installation first called its product calls answered 401/403 are
    /// retried (its permissions may not be granted yet), seconds.
    pub permission_grace_secs: u64,
    /// How long an event waits, without using up an attempt, when its installation has no
    /// usable system token (until the next call from Forge brings one), seconds.
    pub token_wait_secs: u64,
    /// The `app.webhooks` entries (`jira:comment_created`, ...) that `hookline forge manifest
    /// --connect` has Forge deliver by a trigger instead of a Connect webhook, or `all`: each
    /// event comes one way only. A list, or one comma-separated string. Empty (the default):
    /// every event stays a Connect webhook, the first step of the migration. Without
    /// `--connect` every event is a trigger and the entries are only checked.
    pub triggers: Vec<String>,
    /// Whether the manifest shows the pages (rules, activity) as Forge Custom UI modules, in
    /// place of their Connect modules. Unset (the default): yes without `--connect` (a Forge
    /// app has no other way to show them), no with it (the Connect pages stay).
    pub custom_ui: Option<bool>,
}

impl ForgeSettings {
    /// The app ARI, when the Forge remote is on.
    pub fn app_ari(&self) -> Option<String> {
        self.app_id.as_deref().and_then(crate::forge::ids::app_ari)
    }

    /// How often, at most, an unknown `kid` refetches the JWKS.
    pub fn jwks_refetch_interval(&self) -> Duration {
        Duration::from_secs(self.jwks_refetch_interval_secs)
    }

    /// How long an event waits for a usable system token.
    pub fn token_wait(&self) -> Duration {
        Duration::from_secs(self.token_wait_secs)
    }

    /// How long an installation's first 401/403 answers are retried.
    pub fn permission_grace(&self) -> Duration {
        Duration::from_secs(self.permission_grace_secs)
    }
}

impl Default for ForgeSettings {
    fn default() -> Self {
        Self {
            app_id: None,
            jwks_url: PRODUCTION_JWKS_URL.into(),
            isolated_cloud_jwks_url: None,
            api_base_url_hosts: vec!["api.atlassian.com".into(), "api.stg.atlassian.com".into()],
            jwks_refetch_interval_secs: 10,
            permission_grace_secs: 1800,
            token_wait_secs: 30,
            triggers: Vec::new(),
            custom_ui: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    fn load(vars: &[(&str, &str)], file: Option<&str>) -> Settings {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = file.map(|text| {
            let path = dir.path().join("hookline.toml");
            std::fs::write(&path, text).expect("writes the settings file");
            path
        });
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Settings::load_from(path.as_deref(), vars).expect("valid settings")
    }

    #[test]
    fn the_manifest_settings_default_to_no_trigger_moved_and_custom_ui_by_mode() {
        let settings = load(&[], None);
        assert!(settings.forge.triggers.is_empty());
        assert_eq!(settings.forge.custom_ui, None);
    }

    #[test]
    fn triggers_are_a_comma_separated_variable_or_a_list_in_the_file() {
        let from_env = load(
            &[
                (
                    "HOOKLINE_FORGE__TRIGGERS",
                    "jira:comment_created,jira:comment_updated",
                ),
                ("HOOKLINE_FORGE__CUSTOM_UI", "true"),
            ],
            None,
        );
        assert_eq!(
            from_env.forge.triggers,
            ["jira:comment_created", "jira:comment_updated"]
        );
        assert_eq!(from_env.forge.custom_ui, Some(true));
        let from_file = load(
            &[],
            Some("[forge]\ntriggers = [\"all\"]\ncustom_ui = false\n"),
        );
        assert_eq!(from_file.forge.triggers, ["all"]);
        assert_eq!(from_file.forge.custom_ui, Some(false));
    }
}
