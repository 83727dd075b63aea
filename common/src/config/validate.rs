//! Refusing unsafe or contradictory settings with a message that names the setting.
use std::path::PathBuf;

use thiserror::Error;
use url::Url;

use super::Settings;

/// Why the settings could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The named settings file does not exist.
    #[error("the settings file {0} does not exist")]
    MissingFile(PathBuf),
    /// A value could not be read (bad TOML, wrong type, unknown key).
    #[error("the settings could not be read: {0}")]
    Invalid(String),
    /// A value or combination is refused.
    #[error("unsafe settings: {setting}: {reason}")]
    Unsafe {
        /// The setting at fault, e.g. `app.base_url`.
        setting: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

fn unsafe_setting(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Unsafe {
        setting,
        reason: reason.into(),
    }
}

/// Whether a URL points at this machine (where plain HTTP and test hosts are acceptable).
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost" || domain.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn https_unless_loopback(setting: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value)
        .map_err(|e| unsafe_setting(setting, format!("{value:?} is not an absolute URL ({e})")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(unsafe_setting(
            setting,
            format!("{value} must use https (plain http is only allowed for localhost)"),
        )),
        other => Err(unsafe_setting(
            setting,
            format!("scheme {other} is not http(s)"),
        )),
    }
}

impl Settings {
    /// Checks every rule; the first violation is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let base_url = https_unless_loopback("app.base_url", &self.app.base_url)?;
        https_unless_loopback("app.install_keys_url", &self.app.install_keys_url)?;
        https_unless_loopback("app.all_js_url", &self.app.all_js_url)?;
        let unsafe_source = |source: &String| {
            source.is_empty()
                || source.contains(|c: char| c.is_whitespace() || c == ';' || c == ',')
        };
        if self.app.frame_ancestors.iter().any(unsafe_source) {
            return Err(unsafe_setting(
                "app.frame_ancestors",
                "each entry must be one CSP source such as https://*.atlassian.net",
            ));
        }
        let valid_key = |key: &str| {
            !key.is_empty()
                && key.len() <= 64
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        };
        if !valid_key(&self.app.key) {
            return Err(unsafe_setting(
                "app.key",
                "must be 1 to 64 characters of A-Z a-z 0-9 - . _",
            ));
        }
        if !self.app.jira.key.as_deref().is_none_or(valid_key) {
            return Err(unsafe_setting(
                "app.jira.key",
                "must be 1 to 64 characters of A-Z a-z 0-9 - . _",
            ));
        }
        if !self.app.confluence.key.as_deref().is_none_or(valid_key) {
            return Err(unsafe_setting(
                "app.confluence.key",
                "must be 1 to 64 characters of A-Z a-z 0-9 - . _",
            ));
        }
        if self.app.allowed_base_url_hosts.is_empty() {
            return Err(unsafe_setting(
                "app.allowed_base_url_hosts",
                "is empty, so no tenant could ever install",
            ));
        }
        let allows_any = self.app.allowed_base_url_hosts.iter().any(|h| h == "*");
        if allows_any && !is_loopback(&base_url) {
            return Err(unsafe_setting(
                "app.allowed_base_url_hosts",
                "\"*\" lets a forged install aim signed requests at any host; it is only \
                 allowed while app.base_url is localhost",
            ));
        }
        for webhook in &self.app.webhooks {
            match webhook.split_once(':') {
                Some(("jira" | "confluence", event)) if !event.is_empty() => {}
                _ => {
                    return Err(unsafe_setting(
                        "app.webhooks",
                        format!("{webhook:?} is not product:event with product jira or confluence"),
                    ))
                }
            }
        }
        if self.security.key_file.is_some() && self.security.encryption_keys.is_some() {
            return Err(unsafe_setting(
                "security.encryption_keys",
                "set either security.key_file or security.encryption_keys, not both",
            ));
        }
        if self.security.jwt_leeway_secs > 300 {
            return Err(unsafe_setting(
                "security.jwt_leeway_secs",
                "more than 300 s would accept long-expired tokens",
            ));
        }
        let body_limit = self.server.body_limit_bytes;
        if body_limit == 0 || body_limit > 64 * 1024 * 1024 {
            return Err(unsafe_setting(
                "server.body_limit_bytes",
                "must be 1 byte to 64 MiB",
            ));
        }
        if self.server.large_body_bytes == 0 {
            return Err(unsafe_setting(
                "server.large_body_bytes",
                "must be at least 1 byte",
            ));
        }
        if self.server.large_bodies_at_once == 0 || self.server.large_bodies_at_once > 1024 {
            return Err(unsafe_setting(
                "server.large_bodies_at_once",
                "must be 1 to 1024 (0 would refuse every large webhook)",
            ));
        }
        if self.server.read_timeout_secs == 0 || self.server.read_timeout_secs > 300 {
            return Err(unsafe_setting(
                "server.read_timeout_secs",
                "must be 1 to 300 s (0 would refuse every body; more lets stalled clients pile up)",
            ));
        }
        self.validate_database()?;
        self.validate_outbound()?;
        self.validate_forge()?;
        if self.worker.prefetch == 0 {
            return Err(unsafe_setting("worker.prefetch", "must be at least 1"));
        }
        if self.worker.max_attempts == 0 {
            return Err(unsafe_setting("worker.max_attempts", "must be at least 1"));
        }
        self.validate_broker_urls()?;
        if self.amqp.retry_delays_secs.is_empty() {
            return Err(unsafe_setting(
                "amqp.retry_delays_secs",
                "needs at least one delay",
            ));
        }
        let prefix_ok = !self.amqp.prefix.is_empty()
            && self.amqp.prefix.len() <= 64
            && self
                .amqp
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !prefix_ok {
            return Err(unsafe_setting(
                "amqp.prefix",
                "must be 1 to 64 characters of A-Z a-z 0-9 - _ .",
            ));
        }
        Ok(())
    }
}

impl Settings {
    /// Every broker URL is `amqp://` or `amqps://` with a host; the error never repeats the
    /// URL, which holds a password.
    fn validate_broker_urls(&self) -> Result<(), ConfigError> {
        let named = self.amqp.url.iter().map(|url| ("amqp.url", 1, url));
        let listed = (self.amqp.urls.iter().enumerate()).map(|(i, url)| ("amqp.urls", i + 1, url));
        for (setting, position, url) in named.chain(listed) {
            let usable = Url::parse(url)
                .is_ok_and(|url| matches!(url.scheme(), "amqp" | "amqps") && url.has_host());
            if !usable {
                let which = if setting == "amqp.urls" {
                    format!("entry {position} ")
                } else {
                    String::new()
                };
                return Err(unsafe_setting(
                    setting,
                    format!("{which}must be an amqp:// or amqps:// URL with a host (amqp://user:password@host:5672/vhost)"),
                ));
            }
        }
        Ok(())
    }

    fn validate_database(&self) -> Result<(), ConfigError> {
        if !(1..=4096).contains(&self.database.group_commit_rows) {
            return Err(unsafe_setting(
                "database.group_commit_rows",
                "must be 1 to 4096 (1: every write its own transaction)",
            ));
        }
        if self.database.group_commit_wait_us > 100_000 {
            return Err(unsafe_setting(
                "database.group_commit_wait_us",
                "must be at most 100000 (0.1 s): every webhook in a batch waits for it",
            ));
        }
        Ok(())
    }

    fn validate_outbound(&self) -> Result<(), ConfigError> {
        let outbound = &self.outbound;
        if !outbound.tenant_calls_per_second.is_finite() || outbound.tenant_calls_per_second < 0.0 {
            return Err(unsafe_setting(
                "outbound.tenant_calls_per_second",
                "must be a number of calls a second, 0 or more (0: no limit)",
            ));
        }
        if outbound.tenant_calls_per_second > 0.0 && outbound.tenant_call_burst == 0 {
            return Err(unsafe_setting(
                "outbound.tenant_call_burst",
                "must be at least 1 while outbound.tenant_calls_per_second is set",
            ));
        }
        let fairness = &self.fairness;
        if !fairness.tenant_events_per_second.is_finite() || fairness.tenant_events_per_second < 0.0
        {
            return Err(unsafe_setting(
                "fairness.tenant_events_per_second",
                "must be a number of events a second, 0 or more (0: no lanes)",
            ));
        }
        if fairness.tenant_events_per_second > 0.0 && fairness.tenant_event_burst == 0 {
            return Err(unsafe_setting(
                "fairness.tenant_event_burst",
                "must be at least 1 while fairness.tenant_events_per_second is set",
            ));
        }
        Ok(())
    }

    fn validate_forge(&self) -> Result<(), ConfigError> {
        let forge = &self.forge;
        if forge.app_id.is_some() && forge.app_ari().is_none() {
            return Err(unsafe_setting(
                "forge.app_id",
                "must be the app's ARI (ari:cloud:ecosystem::app/<uuid>) or its UUID",
            ));
        }
        https_unless_loopback("forge.jwks_url", &forge.jwks_url)?;
        if let Some(template) = &forge.isolated_cloud_jwks_url {
            if !template.contains("{icLabel}") {
                return Err(unsafe_setting(
                    "forge.isolated_cloud_jwks_url",
                    "must contain {icLabel}, where a token's Isolated Cloud label goes",
                ));
            }
            https_unless_loopback(
                "forge.isolated_cloud_jwks_url",
                &template.replace("{icLabel}", "label"),
            )?;
        }
        if forge.api_base_url_hosts.is_empty() || forge.api_base_url_hosts.iter().any(|h| h == "*")
        {
            return Err(unsafe_setting(
                "forge.api_base_url_hosts",
                "name the hosts installations' apiBaseUrl may have (api.atlassian.com)",
            ));
        }
        if forge.jwks_refetch_interval_secs == 0 {
            return Err(unsafe_setting(
                "forge.jwks_refetch_interval_secs",
                "must be at least 1 s (0 would refetch the JWKS for every forged kid)",
            ));
        }
        if forge.token_wait_secs == 0 {
            return Err(unsafe_setting(
                "forge.token_wait_secs",
                "must be at least 1 s (an event without a usable token would spin)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load_from(
            None,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn the_defaults_need_no_file_and_pass_validation() {
        let settings = load(&[]).expect("defaults are valid");
        assert_eq!(settings.app.scopes, ["READ", "WRITE"]);
        assert!(settings.database_url().starts_with("sqlite://"));
        assert!(settings.amqp.url.is_none());
    }

    #[test]
    fn broker_urls_come_as_a_list_and_are_checked_without_being_repeated() {
        let settings = load(&[(
            "HOOKLINE_AMQP__URLS",
            "amqp://u:pw@rabbit-1:5672/%2f,amqp://u:pw@rabbit-2:5672/%2f",
        )])
        .expect("two nodes");
        assert_eq!(settings.amqp.urls.len(), 2);
        assert!(settings.amqp.uses_broker());
        assert!(!load(&[]).expect("defaults").amqp.uses_broker());
        for (var, value, named) in [
            (
                "HOOKLINE_AMQP__URLS",
                "amqp://u:pw@rabbit-1/%2f,secret-pw",
                "amqp.urls",
            ),
            (
                "HOOKLINE_AMQP__URL",
                "http://u:secret-pw@rabbit-1/",
                "amqp.url",
            ),
        ] {
            let error = load(&[(var, value)]).expect_err("refused").to_string();
            assert!(error.contains(named), "{error}");
            assert!(
                !error.contains("secret-pw"),
                "the URL is not repeated: {error}"
            );
        }
    }

    #[test]
    fn environment_variables_override_nested_settings_and_lists() {
        let settings = load(&[
            ("HOOKLINE_DATABASE__URL", "postgres://db/hookline"),
            ("HOOKLINE_SERVER__PORT", "9000"),
            ("HOOKLINE_APP__SCOPES", "READ,WRITE,DELETE"),
            ("HOOKLINE_TEST_DATABASE_URL", "ignored: configures tests"),
        ])
        .expect("valid");
        assert_eq!(settings.database_url(), "postgres://db/hookline");
        assert_eq!(settings.server.port, 9000);
        assert_eq!(settings.app.scopes, ["READ", "WRITE", "DELETE"]);
    }

    #[test]
    fn group_commit_limits_out_of_range_are_refused_by_name() {
        for (var, value, named) in [
            (
                "HOOKLINE_DATABASE__GROUP_COMMIT_ROWS",
                "0",
                "database.group_commit_rows",
            ),
            (
                "HOOKLINE_DATABASE__GROUP_COMMIT_ROWS",
                "5000",
                "database.group_commit_rows",
            ),
            (
                "HOOKLINE_DATABASE__GROUP_COMMIT_WAIT_US",
                "200000",
                "database.group_commit_wait_us",
            ),
        ] {
            let error = load(&[(var, value)]).unwrap_err().to_string();
            assert!(error.contains(named), "{var}={value}: {error}");
        }
        let settings = load(&[
            ("HOOKLINE_DATABASE__GROUP_COMMIT_ROWS", "1"),
            ("HOOKLINE_DATABASE__GROUP_COMMIT_WAIT_US", "500"),
        ])
        .unwrap();
        let limits = settings.database.group_commit();
        assert_eq!(
            (limits.max_rows, limits.wait),
            (1, std::time::Duration::from_micros(500))
        );
    }

    #[test]
    fn a_public_http_base_url_is_refused() {
        let error = load(&[("HOOKLINE_APP__BASE_URL", "http://hookline.example.com")]).unwrap_err();
        assert!(error.to_string().contains("app.base_url"), "{error}");
    }

    #[test]
    fn allowing_every_host_is_refused_outside_localhost() {
        let error = load(&[
            ("HOOKLINE_APP__BASE_URL", "https://hookline.example.com"),
            ("HOOKLINE_APP__ALLOWED_BASE_URL_HOSTS", "*"),
        ])
        .unwrap_err();
        assert!(
            error.to_string().contains("allowed_base_url_hosts"),
            "{error}"
        );
    }

    #[test]
    fn both_key_sources_at_once_are_refused() {
        let error = load(&[
            ("HOOKLINE_SECURITY__KEY_FILE", "/tmp/k"),
            ("HOOKLINE_SECURITY__ENCRYPTION_KEYS", "k1=AAAA"),
        ])
        .unwrap_err();
        assert!(error.to_string().contains("security"), "{error}");
    }

    #[test]
    fn the_pages_settings_read_from_the_environment_and_are_checked() {
        let settings = load(&[(
            "HOOKLINE_APP__FRAME_ANCESTORS",
            "https://*.atlassian.net,https://example.com",
        )])
        .expect("valid");
        assert_eq!(
            settings.app.frame_ancestors,
            ["https://*.atlassian.net", "https://example.com"]
        );
        let error =
            load(&[("HOOKLINE_APP__ALL_JS_URL", "http://cdn.example.com/all.js")]).unwrap_err();
        assert!(error.to_string().contains("app.all_js_url"), "{error}");
        let error = load(&[(
            "HOOKLINE_APP__FRAME_ANCESTORS",
            "https://a.example; script-src *",
        )])
        .unwrap_err();
        assert!(error.to_string().contains("app.frame_ancestors"), "{error}");
    }

    #[test]
    fn an_unknown_setting_is_a_clear_error() {
        let error = load(&[("HOOKLINE_SERVER__PROT", "9000")]).unwrap_err();
        assert!(error.to_string().contains("prot"), "{error}");
    }

    #[test]
    fn a_missing_settings_file_is_named() {
        let error =
            Settings::load_from(Some("/nonexistent/hookline.toml".as_ref()), []).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/hookline.toml"),
            "{error}"
        );
    }

    #[test]
    fn the_encryption_keys_never_appear_in_debug_output() {
        let settings =
            load(&[("HOOKLINE_SECURITY__ENCRYPTION_KEYS", "k1=c2VjcmV0LWtleQ==")]).expect("valid");
        assert!(!format!("{settings:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn moved_keys_are_still_read_for_one_release_and_noted() {
        let settings = load(&[
            ("HOOKLINE_WORKER__HTTP_TIMEOUT_SECS", "7"),
            ("HOOKLINE_WORKER__RULES_CACHE_TTL_SECS", "3"),
        ])
        .expect("valid");
        assert_eq!(
            settings.outbound.timeout(),
            std::time::Duration::from_secs(7)
        );
        assert_eq!(settings.database.rules_cache_ttl_secs, 3);
        assert_eq!(settings.deprecated.len(), 2);
        assert!(settings.deprecated[0].contains("outbound.timeout_secs"));
        let new_wins = load(&[
            ("HOOKLINE_WORKER__HTTP_TIMEOUT_SECS", "7"),
            ("HOOKLINE_OUTBOUND__TIMEOUT_SECS", "9"),
        ])
        .expect("valid");
        assert_eq!(new_wins.outbound.timeout_secs, 9);
        assert!(load(&[]).expect("valid").deprecated.is_empty());
    }

    #[test]
    fn the_forge_remote_is_off_until_its_app_id_is_set_and_that_must_be_an_app() {
        let off = load(&[]).expect("valid");
        assert_eq!(off.forge.app_ari(), None);
        let on = load(&[(
            "HOOKLINE_FORGE__APP_ID",
            "6e1a2c4b-0000-4000-8000-000000000000",
        )])
        .expect("valid");
        assert_eq!(
            on.forge.app_ari().as_deref(),
            Some("ari:cloud:ecosystem::app/6e1a2c4b-0000-4000-8000-000000000000")
        );
        let error = load(&[("HOOKLINE_FORGE__APP_ID", "not an app/")]).unwrap_err();
        assert!(error.to_string().contains("forge.app_id"), "{error}");
        let error = load(&[(
            "HOOKLINE_FORGE__ISOLATED_CLOUD_JWKS_URL",
            "https://keys.example.com/jwks.json",
        )])
        .unwrap_err();
        assert!(error.to_string().contains("{icLabel}"), "{error}");
    }
}
