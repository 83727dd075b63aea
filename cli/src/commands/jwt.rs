//! `hookline jwt inspect` and `hookline jwt qsh`: the debugging tools Connect developers need
//! when Atlassian answers 401 and says nothing more.
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, Utc};
use common::connect::{CanonicalRequest, Qsh, Unverified};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::cli::{InspectArgs, RequestArgs};

pub fn qsh(args: &RequestArgs) -> ExitCode {
    let request = CanonicalRequest::new(&args.method, &args.url, &args.base_path);
    println!("canonical request: {request}");
    println!("qsh:               {}", request.qsh());
    ExitCode::SUCCESS
}

pub fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let token = token_of(args)?;
    let token = Unverified::decode(&token).map_err(|e| anyhow!("cannot decode the token: {e}"))?;
    println!("header: {}", serde_json::to_string(&token.header)?);
    println!("claims: {}", serde_json::to_string_pretty(&token.claims)?);
    let mut report = Report::default();
    report.times(&token, args.leeway);
    report.qsh(&token, args);
    report.signature(&token, args)?;
    Ok(if report.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn token_of(args: &InspectArgs) -> anyhow::Result<String> {
    if let Some(token) = &args.token {
        let token = token.trim();
        return Ok(token
            .strip_prefix("JWT ")
            .unwrap_or(token)
            .trim()
            .to_owned());
    }
    let query = args
        .url
        .as_deref()
        .and_then(|url| url.split_once('?'))
        .map(|(_, q)| q);
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "jwt")
        .map(|(_, value)| value.into_owned())
        .context("no token: pass TOKEN, or a --url with a jwt parameter")
}

#[derive(Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn line(&mut self, check: &str, ok: bool, detail: impl std::fmt::Display) {
        self.failed |= !ok;
        let verdict = if ok { "ok  " } else { "FAIL" };
        println!("{verdict} {check:<10} {detail}");
    }

    fn times(&mut self, token: &Unverified<'_>, leeway: u64) {
        let now = Utc::now().timestamp();
        let leeway = i64::try_from(leeway).unwrap_or(i64::MAX);
        match token.claims.exp {
            None => self.line("exp", false, "missing: Connect requires exp"),
            Some(exp) if now > exp.saturating_add(leeway) => self.line(
                "exp",
                false,
                format!("expired {} s ago ({})", now - exp, when(exp)),
            ),
            Some(exp) => self.line(
                "exp",
                true,
                format!("valid for {} s more ({})", exp - now, when(exp)),
            ),
        }
        if let Some(iat) = token.claims.iat {
            let future = iat > now.saturating_add(leeway);
            self.line(
                "iat",
                !future,
                format!("issued {} ({} s ago)", when(iat), now - iat),
            );
        }
    }

    fn qsh(&mut self, token: &Unverified<'_>, args: &InspectArgs) {
        let claimed = token.claims.qsh.as_deref();
        let Some(url) = &args.url else {
            println!("     qsh        {claimed:?}: not checked (pass --method and --url)");
            return;
        };
        let request = CanonicalRequest::new(&args.method, url, &args.base_path);
        println!("     canonical  {request}");
        println!("     expected   {}", request.qsh());
        match claimed {
            None => self.line("qsh", false, "missing: Connect requires qsh"),
            Some(Qsh::CONTEXT) => self.line(
                "qsh",
                false,
                "context-qsh: a front-end context token, not bound to this request",
            ),
            Some(claimed) if request.qsh().matches(claimed) => self.line("qsh", true, "matches"),
            Some(claimed) => self.line(
                "qsh",
                false,
                format!("token has {claimed}: signed for another method, path or query (check --base-path)"),
            ),
        }
    }

    fn signature(&mut self, token: &Unverified<'_>, args: &InspectArgs) -> anyhow::Result<()> {
        let (algorithm, key) = match token.header.alg.as_str() {
            "HS256" => match secret_of(args)? {
                Some(secret) => (
                    Algorithm::HS256,
                    DecodingKey::from_secret(secret.as_bytes()),
                ),
                None => {
                    println!("     signature  not checked (pass --secret or --secret-file)");
                    return Ok(());
                }
            },
            "RS256" => match &args.public_key {
                Some(path) => {
                    let pem = std::fs::read(path)
                        .with_context(|| format!("reading the public key {}", path.display()))?;
                    let key = DecodingKey::from_rsa_pem(&pem).with_context(|| {
                        format!("{} is not an RSA PEM public key", path.display())
                    })?;
                    (Algorithm::RS256, key)
                }
                None => {
                    println!("     signature  not checked (pass --public-key for RS256)");
                    return Ok(());
                }
            },
            other => {
                self.line(
                    "alg",
                    false,
                    format!("{other} is never accepted by Connect (HS256 or RS256 only)"),
                );
                return Ok(());
            }
        };
        match token.verify_signature(&key, algorithm) {
            Ok(()) => self.line("signature", true, "verifies"),
            Err(error) => self.line(
                "signature",
                false,
                format!("{error}: wrong secret or key, or the token was altered"),
            ),
        }
        Ok(())
    }
}

fn secret_of(args: &InspectArgs) -> anyhow::Result<Option<String>> {
    if let Some(path) = &args.secret_file {
        let secret = std::fs::read_to_string(path)
            .with_context(|| format!("reading the secret file {}", path.display()))?;
        let secret = secret.trim_end_matches(['\n', '\r']).to_owned();
        if secret.is_empty() {
            bail!("the secret file {} is empty", path.display());
        }
        return Ok(Some(secret));
    }
    Ok(args.secret.clone())
}

fn when(epoch: i64) -> String {
    DateTime::<Utc>::from_timestamp(epoch, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|| format!("epoch {epoch}"))
}
