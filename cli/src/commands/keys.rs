//! `hookline keys rotate`: re-encrypt every tenant secret under a new key, then retire the
//! old keys. Each step is safe to interrupt; running the command again finishes the rotation.
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use common::config::Settings;
use common::crypto::Keyring;
use common::entities::tenants;
use common::tenant::TenantStore;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sea_orm::{DatabaseConnection, EntityTrait};

use super::admin::connect_database;

pub async fn rotate(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    match &settings.security.encryption_keys {
        Some(spec) => rotate_inline(&settings, spec).await,
        None => rotate_key_file(&settings).await,
    }
}

async fn rotate_key_file(settings: &Settings) -> anyhow::Result<ExitCode> {
    let path = settings.key_file();
    if !path.is_file() {
        bail!(
            "no key file at {}: there is nothing to rotate",
            path.display()
        );
    }
    let db = connect_database(settings).await?;
    let keyring = step_one(&path)?;
    let active = keyring.active_key_id().to_owned();
    reencrypt_and_verify(&db, &keyring).await?;
    keyring
        .retire_all_but_active()
        .write_key_file(&path)
        .context("writing the key file with only the new key")?;
    let old: Vec<&str> = keyring.key_ids().into_iter().skip(1).collect();
    println!(
        "4/4 key file {} now holds only key {active} (retired: {})",
        path.display(),
        old.join(", ")
    );
    println!(
        "rotation done. Restart every running hookline process: each keeps the keys it loaded."
    );
    Ok(ExitCode::SUCCESS)
}

/// Inline keys live where hookline cannot write (a config file, a secret store), so the
/// operator moves the keys and the command re-encrypts: with one key it prints a new one to
/// put first and stops; with several it re-encrypts under the first and says which to drop.
async fn rotate_inline(settings: &Settings, spec: &str) -> anyhow::Result<ExitCode> {
    let keyring = Keyring::from_spec(spec).context("security.encryption_keys")?;
    let ids = keyring.key_ids();
    if ids.len() == 1 {
        println!(
            "security.encryption_keys holds one key ({}); hookline cannot rewrite it. To rotate:",
            ids[0]
        );
        println!(
            "  1. put this new key first in security.encryption_keys, keeping {} after it:",
            ids[0]
        );
        println!("     {}", Keyring::new_key_spec());
        println!("  2. restart every hookline process, then run `hookline keys rotate` again");
        println!("     (it re-encrypts every secret under the new key);");
        println!(
            "  3. remove {} from security.encryption_keys and restart again.",
            ids[0]
        );
        bail!("nothing was rotated: security.encryption_keys needs a new first key (see above)");
    }
    let db = connect_database(settings).await?;
    println!(
        "1/4 security.encryption_keys holds {} keys: rotating to its first, {}",
        ids.len(),
        ids[0]
    );
    reencrypt_and_verify(&db, &keyring).await?;
    println!(
        "4/4 remove {} from security.encryption_keys (where it is stored), then restart every \
         hookline process",
        ids[1..].join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// Step 1 for a key file: the keyring to rotate to. A key file holding several keys is a
/// rotation in progress (an interrupted run, or a key added by hand as the file's header
/// suggests): it is finished with its active key. Otherwise a new key is written first, as
/// the active key, before any secret is encrypted with it, so an interruption never loses it.
fn step_one(path: &Path) -> anyhow::Result<Keyring> {
    let current = Keyring::load_key_file(path)?;
    let ids = current.key_ids();
    if ids.len() > 1 {
        println!(
            "1/4 resuming a rotation to key {} (the key file also holds {})",
            ids[0],
            ids[1..].join(", ")
        );
        return Ok(current);
    }
    let next = current.with_new_active_key();
    next.write_key_file(path)
        .context("writing the new key to the key file")?;
    println!(
        "1/4 wrote new key {} to {} as the active key (key {} kept until the end)",
        next.active_key_id(),
        path.display(),
        current.active_key_id()
    );
    Ok(next)
}

/// Steps 2 and 3: re-encrypt every secret under the active key, then check each decrypts
/// with the active key alone.
async fn reencrypt_and_verify(db: &DatabaseConnection, keyring: &Keyring) -> anyhow::Result<()> {
    let active = keyring.active_key_id();
    let store = TenantStore::new(db.clone(), Arc::new(keyring.clone()), Duration::ZERO);
    let bar = progress_bar("re-encrypting");
    let changed = store
        .reencrypt_all_with_progress(|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .await
        .with_context(|| format!("re-encrypting tenant secrets under key {active}"))?;
    bar.finish_and_clear();
    println!("2/4 re-encrypted {changed} tenant secret(s) under key {active}");
    let checked = verify(db, &keyring.retire_all_but_active()).await?;
    println!("3/4 all {checked} tenant secret(s) decrypt with key {active} alone");
    Ok(())
}

/// Every tenant's secret decrypts with `keyring` (the new key alone); the error names the
/// tenants that do not, and the old keys are kept.
async fn verify(db: &DatabaseConnection, keyring: &Keyring) -> anyhow::Result<usize> {
    let rows = tenants::Entity::find()
        .all(db)
        .await
        .context("reading the tenants")?;
    let bar = progress_bar("verifying");
    bar.set_length(rows.len() as u64);
    let mut failed = Vec::new();
    for row in &rows {
        if let Err(error) = keyring.decrypt(&row.shared_secret, row.client_key.as_bytes()) {
            failed.push(format!("{} ({error})", row.client_key));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if !failed.is_empty() {
        bail!(
            "{} tenant secret(s) do not decrypt with key {} alone, so the old keys are kept \
             (was a site re-installed by a process still on the old keys? run `hookline keys \
             rotate` again): {}",
            failed.len(),
            keyring.active_key_id(),
            failed.join(", ")
        );
    }
    Ok(rows.len())
}

/// A bar over tenants, drawn only when standard output is a terminal.
fn progress_bar(what: &str) -> ProgressBar {
    let target = if std::io::stdout().is_terminal() {
        ProgressDrawTarget::stdout()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    let style = ProgressStyle::with_template("{msg:>14} [{bar:30}] {pos}/{len} tenants")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}
